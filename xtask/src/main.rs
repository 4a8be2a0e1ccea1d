//! Project tasks that need more than one cargo command (`cargo xtask <task>`).
//!
//! - `run [FWCTL-RUN ARGS]`: build the host and the plugins, then run `fwctl-run` with the
//!   freshly built plugins on its plugin path (default arguments: `mlx5-diag.wasm`).
//! - `test`: install the wasm32-wasip2 target and the wasmsign2 tool if missing, build
//!   (or find cached) the Linux kernel of the VM test, then run the whole suite.
//! - `plugins`: build the plugins into `target/plugins/<name>.wasm`.
//! - `install`: `cargo install --path host`, and the plugins into
//!   `~/.local/share/fwctl-run/plugins`, where `fwctl-run NAME` finds them.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// The plugins the project ships, by package name (the file becomes `<name>.wasm`).
const PLUGINS: &[&str] = &["mlx5-diag", "cxl-features"];
const WASM_TARGET: &str = "wasm32-wasip2";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("plugins") => plugins().map(|_| ()),
        Some("install") => install(),
        _ => {
            eprintln!("usage: cargo xtask <run [ARGS]|test [CARGO TEST ARGS]|plugins|install>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn status(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Adds the wasm32-wasip2 target through rustup when the toolchain lacks it.
fn ensure_wasm_target() -> Result<()> {
    let output = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).exists() {
        return Ok(());
    }
    eprintln!("xtask: installing the {WASM_TARGET} target with rustup");
    status(Command::new("rustup").args(["target", "add", WASM_TARGET]))
        .context("the plugins need the wasm32-wasip2 target; install rustup or add the target by hand")
}

/// Builds the plugins and copies them to `target/plugins/<name>.wasm`.
fn plugins() -> Result<PathBuf> {
    ensure_wasm_target()?;
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", WASM_TARGET]);
    for plugin in PLUGINS {
        cmd.args(["-p", plugin]);
    }
    status(&mut cmd)?;
    let built = root().join("target").join(WASM_TARGET).join("release");
    let dir = root().join("target/plugins");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for plugin in PLUGINS {
        let from = built.join(format!("{}.wasm", plugin.replace('-', "_")));
        let to = dir.join(format!("{plugin}.wasm"));
        std::fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(dir)
}

fn run(args: &[String]) -> Result<()> {
    let dir = plugins()?;
    status(cargo().args(["build", "--release", "-p", "fwctl-run"]))?;
    let args: Vec<String> = if args.is_empty() { vec!["mlx5-diag.wasm".into()] } else { args.to_vec() };
    let code = Command::new(root().join("target/release/fwctl-run"))
        .args(&args)
        .env("FWCTL_RUN_PLUGIN_PATH", &dir)
        .status()
        .context("starting fwctl-run")?
        .code()
        .unwrap_or(2);
    // fwctl-run's exit status is the answer (1 = findings); pass it through unchanged.
    std::process::exit(code);
}

fn test(extra: &[String]) -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasmsign2_tool()?;
    ensure_vm_kernel()?;
    status(cargo().args(["test", "--workspace"]).args(extra))
}

/// The kernel VM test boots Linux 7.3 built with fwctl; build it (once, cached outside the
/// work tree) before the suite, so its progress shows here rather than inside a test.
/// The script installs what it needs when run as root and otherwise says what is missing.
fn ensure_vm_kernel() -> Result<()> {
    if std::env::var_os("FWCTL_VM_KERNEL").is_some() {
        return Ok(());
    }
    let output = Command::new("bash")
        .arg(root().join("tests/vm/build.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running tests/vm/build.sh")?;
    if !output.status.success() {
        bail!("tests/vm/build.sh could not build the kernel for the VM test ({})", output.status);
    }
    Ok(())
}

/// The signing tests check interoperability with the `wasmsign2` tool; install the
/// version matching our `wasmsign2` crate when it is missing.
fn ensure_wasmsign2_tool() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    if home.join("bin/wasmsign2").is_file() {
        return Ok(());
    }
    eprintln!("xtask: installing the wasmsign2 tool (wasmsign2-cli) for the signing interoperability tests");
    status(cargo().args(["install", "--locked", "wasmsign2-cli", "--version", "0.2.8"]))
        .context("the signing tests need the wasmsign2 tool; install it with `cargo install wasmsign2-cli`")
}

fn install() -> Result<()> {
    let dir = plugins()?;
    status(cargo().args(["install", "--locked", "--path", "host"]))?;
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let data = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| Path::new(&home).join(".local/share"));
    let dest = data.join("fwctl-run/plugins");
    std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    for plugin in PLUGINS {
        let file = format!("{plugin}.wasm");
        std::fs::copy(dir.join(&file), dest.join(&file)).with_context(|| format!("installing {file}"))?;
    }
    eprintln!("xtask: installed fwctl-run and {} plugins into {}", PLUGINS.len(), dest.display());
    Ok(())
}
