//! The Debian package: built by `cargo xtask deb` (cargo-deb), installed with dpkg into a
//! fresh root, and run from there on a simulated fleet with its signed plugins, its
//! trust store and its default policy.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::workspace_root;

/// Builds the package in the suite's own target directory (the release build is shared
/// with the kernel VM test) and returns its path.
fn build_package() -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["xtask", "deb"])
        .env("CARGO_TARGET_DIR", workspace_root().join("target/e2e"))
        .env_remove("FWCTL_RUN_DEB_KEY")
        .output()
        .expect("running cargo xtask deb");
    assert!(output.status.success(), "cargo xtask deb failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).lines().last().unwrap().trim());
    assert!(path.extension().is_some_and(|e| e == "deb") && path.is_file(), "{}", path.display());
    path
}

fn dpkg(root: &Path, args: &[&str]) -> String {
    let output = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-not-root", "--force-depends", "--log=/dev/null"])
        .args(args)
        .output()
        .expect("running dpkg");
    assert!(output.status.success(), "dpkg {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_package_installs_into_a_fresh_root_and_checks_a_simulated_fleet() {
    let package = build_package();
    let fields = Command::new("dpkg-deb").arg("--field").arg(&package).output().unwrap();
    let fields = String::from_utf8_lossy(&fields.stdout);
    assert!(fields.contains("Package: fwctl-run") && fields.contains("Depends: libc6"), "{fields}");

    // A root with an empty dpkg database and nothing else.
    let root = tempfile::tempdir().unwrap();
    for dir in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    std::fs::write(root.path().join("var/lib/dpkg/status"), "").unwrap();
    dpkg(root.path(), &["--install", package.to_str().unwrap()]);
    assert!(dpkg(root.path(), &["--status", "fwctl-run"]).contains("Status: install ok installed"));
    let files = dpkg(root.path(), &["--listfiles", "fwctl-run"]);
    for file in [
        "/usr/bin/fwctl-run",
        "/usr/lib/fwctl-run/plugins/mlx5-diag.wasm",
        "/usr/lib/fwctl-run/plugins/cxl-features.wasm",
        "/usr/share/fwctl-run/trust/trust.toml",
        "/etc/fwctl-run/policy.toml",
        "/etc/fwctl-run/fleet.toml",
        "/usr/lib/systemd/system/fwctl-run-fleet.service",
        "/usr/lib/systemd/system/fwctl-run-fleet.timer",
        "/usr/lib/systemd/system/fwctl-run-serve.service",
        "/usr/share/fwctl-run/npd/fwctl-problem-monitor.json",
        "/usr/share/man/man1/fwctl-run.1.gz",
    ] {
        assert!(files.lines().any(|l| l == file), "{file} is not in the package:\n{files}");
    }
    let conffiles = std::fs::read_to_string(root.path().join("var/lib/dpkg/info/fwctl-run.conffiles")).unwrap();
    assert!(conffiles.contains("/etc/fwctl-run/policy.toml") && conffiles.contains("/etc/fwctl-run/fleet.toml"));

    // The installed binary, with the installed plugins, trust store and policy: the
    // plugins carry the packager's signature, so --require-signed lets them run.
    let installed = |path: &str| root.path().join(path.trim_start_matches('/'));
    let state = tempfile::tempdir().unwrap();
    let output = Command::new(installed("/usr/bin/fwctl-run"))
        .args(["fleet", "--sim-fleet", "4", "--require-signed", "--format", "json"])
        .arg("--trust")
        .arg(installed("/usr/share/fwctl-run/trust"))
        .arg("--policy")
        .arg(installed("/etc/fwctl-run/policy.toml"))
        // The fleet configuration as shipped, which the service passes.
        .arg("--config")
        .arg(installed("/etc/fwctl-run/fleet.toml"))
        .env("FWCTL_RUN_PLUGIN_PATH", installed("/usr/lib/fwctl-run/plugins"))
        .env("FWCTL_RUN_CACHE_DIR", state.path().join("cache"))
        .env("FWCTL_RUN_AUDIT", state.path().join("audit.jsonl"))
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["devices"], 4);
    assert_eq!(report["summary"]["failed"], 0);
    assert!(report["refused"].as_array().unwrap().is_empty(), "{}", report["refused"]);
    assert!(report["plugins"].as_array().unwrap().iter().any(|p| p["name"] == "mlx5-diag"));

    // The man page is the CLI's own.
    let page = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -dc {}", installed("/usr/share/man/man1/fwctl-run.1.gz").display()))
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(page.contains(".TH fwctl-run 1") && page.contains("fleet"), "{page}");
}
