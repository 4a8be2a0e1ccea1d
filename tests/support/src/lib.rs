//! What the end-to-end suite (`tests/e2e`) and the benchmarks (`host/benches`) share: the
//! plugins built once per process, the suite's cache and audit log, running `fwctl-run`
//! with them, reading its output, and the Linux VM of the kernel test ([`vm`]).

pub mod vm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Plugins the suite builds: package name → file name under [`plugin_dir`].
const PLUGINS: &[(&str, &str)] = &[
    ("mlx5-diag", "mlx5-diag.wasm"),
    ("mlx5-config", "mlx5-config.wasm"),
    ("cxl-features", "cxl-features.wasm"),
    ("hostile-plugin", "hostile.wasm"),
    ("wit-0-1-0-plugin", "wit-0.1.0.wasm"),
];

/// The repository's top directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("tests/support is in the workspace")
}

/// Builds every plugin once per test process (its own target dir, so the build does not
/// wait on the cargo lock of the `cargo test` that started us) and returns the directory
/// holding `<name>.wasm`.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = workspace_root();
        let target = root.join("target/e2e");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(&root).env("CARGO_TARGET_DIR", &target).args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
        ]);
        for (package, _) in PLUGINS {
            cmd.args(["-p", package]);
        }
        let status = cmd.status().expect("running cargo to build the plugins");
        assert!(
            status.success(),
            "building the plugins for wasm32-wasip2 failed ({status}); is the target installed? \
             (`rustup target add wasm32-wasip2`, or run the suite with `cargo xtask test`)"
        );
        let dir = target.join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        for (package, file) in PLUGINS {
            let built = target.join("wasm32-wasip2/release").join(format!("{}.wasm", package.replace('-', "_")));
            std::fs::copy(&built, dir.join(file)).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
        }
        dir
    })
}

/// A compile cache shared by the suite's runs (so only the first run of each plugin compiles).
pub fn cache_dir() -> PathBuf {
    workspace_root().join("target/e2e/cache")
}

/// The audit log runs write to unless a test names its own.
pub fn audit_log() -> PathBuf {
    workspace_root().join("target/e2e/audit.jsonl")
}

/// Runs the `fwctl-run` at `binary` (the caller's `env!("CARGO_BIN_EXE_fwctl-run")`: only
/// the host crate's tests and benches know it) with the suite's plugin path, cache and
/// audit log.
pub fn run_binary(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env("FWCTL_RUN_PLUGIN_PATH", plugin_dir())
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_AUDIT", audit_log())
        // Every invocation a first run: outputs do not depend on what ran before.
        .env("FWCTL_RUN_STATE_DIR", fresh_state_dir())
        .output()
        .expect("running fwctl-run")
}

/// A state directory no run has used, under the suite's target directory.
pub fn fresh_state_dir() -> PathBuf {
    let parent = workspace_root().join("target/e2e/state");
    std::fs::create_dir_all(&parent).expect("creating the suite's state directory");
    tempfile::Builder::new().prefix("run-").tempdir_in(&parent).expect("a state directory").keep()
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON report of a run.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", stdout(output), stderr(output)))
}

/// The run entry of one device in a JSON report.
pub fn device_run<'a>(report: &'a serde_json::Value, node: &str) -> &'a serde_json::Value {
    report["runs"]
        .as_array()
        .expect("runs array")
        .iter()
        .find(|r| r["device"]["name"] == node)
        .unwrap_or_else(|| panic!("no run for {node} in {report:#}"))
}

/// Waits for `child` to exit, sampling its peak resident set (`VmHWM` in
/// `/proc/PID/status`) every 5 ms; returns its output and that peak in bytes. Piped output
/// is drained at the end, so it suits programs whose output fits a pipe meanwhile.
pub fn wait_measuring_peak_rss(mut child: std::process::Child) -> (Output, u64) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    while child.try_wait().expect("waiting for the child").is_none() {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib << 10);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (child.wait_with_output().expect("collecting the child's output"), peak)
}
