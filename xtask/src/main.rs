//! Project tasks that need more than one cargo command (`cargo xtask <task>`).
//!
//! - `run [FWCTL-RUN ARGS]`: build the host and the plugins, then run `fwctl-run` with the
//!   freshly built plugins on its plugin path (default arguments: `mlx5-diag.wasm`).
//! - `test`: install the wasm32-wasip2 target and the wasmsign2 tool if missing, build
//!   (or find cached) the Linux kernel of the VM test, check formatting (`cargo fmt
//!   --check`) and lints (`cargo clippy -D warnings`), then run the whole suite.
//! - `plugins`: build the plugins into `target/plugins/<name>.wasm`.
//! - `install`: `cargo install --path host`, and the plugins into
//!   `~/.local/share/fwctl-run/plugins`, where `fwctl-run NAME` finds them.
//! - `deb`: the Debian package (`cargo deb`): the binary, the plugins signed by the
//!   packager, the packager's public key as a trust store to adopt, the default policy,
//!   the systemd units, the NPD config and the man page generated from the CLI.
//!
//! Everything goes to `$CARGO_TARGET_DIR` (default `target/`).

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
        Some("deb") => deb().map(|path| println!("{}", path.display())),
        _ => {
            eprintln!("usage: cargo xtask <run [ARGS]|test [CARGO TEST ARGS]|plugins|install|deb>");
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

/// Where cargo builds: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).map_or_else(|| root().join("target"), |d| root().join(d))
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
    let built = target_dir().join(WASM_TARGET).join("release");
    let dir = target_dir().join("plugins");
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
    let code = Command::new(target_dir().join("release/fwctl-run"))
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
    ensure_cargo_deb()?;
    ensure_vm_kernel()?;
    // Style and lints are part of the suite: a change that breaks either does not pass.
    status(cargo().args(["fmt", "--all", "--check"])).context("the tree is not formatted; run `cargo fmt --all`")?;
    status(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))
        .context("clippy found warnings")?;
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

/// The Debian package test builds a package with `cargo deb`; install the tool when missing.
fn ensure_cargo_deb() -> Result<()> {
    if cargo().args(["deb", "--version"]).output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-deb for the Debian package test");
    status(cargo().args(["install", "--locked", "cargo-deb", "--version", CARGO_DEB_VERSION]))
        .context("the package test needs cargo-deb; install it with `cargo install cargo-deb`")
}

const CARGO_DEB_VERSION: &str = "3.8.0";

/// Builds the Debian package and returns its path.
///
/// The plugins are signed with `$FWCTL_RUN_DEB_KEY` (a secret key file, with the public
/// key beside it as `.pub` and the signer's name in `$FWCTL_RUN_DEB_SIGNER`); without one,
/// with a key made for this build alone, named `local-build`. The public key ships in
/// /usr/share/fwctl-run/trust as a trust store the operator may adopt; nothing is
/// trusted until they do.
fn deb() -> Result<PathBuf> {
    ensure_cargo_deb()?;
    let plugins = plugins()?;
    status(cargo().args(["build", "--release", "-p", "fwctl-run"]))?;
    let fwctl_run = target_dir().join("release/fwctl-run");
    let staging = target_dir().join("release/deb");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    for dir in ["plugins", "trust", "key"] {
        std::fs::create_dir_all(staging.join(dir))?;
    }

    let (key, signer) = match std::env::var_os("FWCTL_RUN_DEB_KEY") {
        Some(key) => (PathBuf::from(key), std::env::var("FWCTL_RUN_DEB_SIGNER").unwrap_or_else(|_| "packager".into())),
        None => {
            status(Command::new(&fwctl_run).arg("keygen").arg(staging.join("key/packager")))?;
            (staging.join("key/packager.key"), "local-build".to_string())
        }
    };
    let public = key.with_extension("pub");
    for plugin in PLUGINS {
        let file = format!("{plugin}.wasm");
        status(
            Command::new(&fwctl_run)
                .arg("sign")
                .arg(plugins.join(&file))
                .arg("--key")
                .arg(&key)
                .arg("--output")
                .arg(staging.join("plugins").join(&file)),
        )?;
    }
    std::fs::copy(&public, staging.join("trust/packager.pub"))
        .with_context(|| format!("copying {}", public.display()))?;
    std::fs::write(
        staging.join("trust/trust.toml"),
        format!(
            "# The key the packaged plugins were signed with. To trust it, copy this directory\n\
             # to /etc/fwctl-run/trust (or pass --trust /usr/share/fwctl-run/trust).\n\
             trust-version = 1\n\n[[signer]]\nname = \"{signer}\"\n[[signer.key]]\nfile = \"packager.pub\"\n"
        ),
    )?;

    let page = Command::new(&fwctl_run).arg("man").output().context("generating the man page")?;
    if !page.status.success() {
        bail!("fwctl-run man failed ({})", page.status);
    }
    let mut gzip = Command::new("gzip")
        .args(["-9", "-n"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(staging.join("fwctl-run.1.gz"))?)
        .spawn()
        .context("running gzip")?;
    std::io::Write::write_all(gzip.stdin.as_mut().expect("piped"), &page.stdout)?;
    drop(gzip.stdin.take());
    if !gzip.wait()?.success() {
        bail!("gzip failed on the man page");
    }

    let output = cargo()
        .args(["deb", "-p", "fwctl-run", "--no-build", "--no-strip"])
        .env("CARGO_TARGET_DIR", target_dir())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo deb")?;
    if !output.status.success() {
        bail!("cargo deb failed ({})", output.status);
    }
    let path = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_string();
    Ok(PathBuf::from(path))
}

fn install() -> Result<()> {
    let dir = plugins()?;
    status(cargo().args(["install", "--locked", "--path", "host"]))?;
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let data =
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| Path::new(&home).join(".local/share"));
    let dest = data.join("fwctl-run/plugins");
    std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    for plugin in PLUGINS {
        let file = format!("{plugin}.wasm");
        std::fs::copy(dir.join(&file), dest.join(&file)).with_context(|| format!("installing {file}"))?;
    }
    eprintln!("xtask: installed fwctl-run and {} plugins into {}", PLUGINS.len(), dest.display());
    Ok(())
}
