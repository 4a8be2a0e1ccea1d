//! The SDK guide's plugin (sdk/examples/feature-drift.rs, quoted in sdk/README.md) is
//! built like a vendor would build it and run on the simulated fleet.

use std::process::Command;

use crate::common::{device_run, fwctl_run, json, stderr, workspace_root};

/// Builds the SDK example `name` as the guide does; the path of its component.
fn build_example(name: &str) -> std::path::PathBuf {
    let root = workspace_root();
    let target = root.join("target/e2e");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", "fwctl-sdk", "--example", name])
        .status()
        .expect("running cargo");
    assert!(status.success(), "the guide's build command works");
    target.join(format!("wasm32-wasip2/release/examples/{}.wasm", name.replace('-', "_")))
}

#[test]
fn the_guides_plugin_builds_and_finds_the_drifted_feature() {
    let plugin = build_example("feature-drift");

    let output = fwctl_run(&[plugin.to_str().unwrap(), "--sim", "--json"]);
    assert_eq!(output.status.code(), Some(1), "a warning finding means exit 1: {}", stderr(&output));
    let report = json(&output);
    let run = device_run(&report, "fwctl2");
    assert_eq!(run["facts"]["drifted-features"], 1, "{run:#}");
    assert_eq!(run["findings"][0]["detail"]["uuid"], "7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e");
    // mlx5 devices are outside its manifest: not applicable, not failed.
    assert_eq!(device_run(&report, "fwctl0")["status"], "not-applicable");
}

#[test]
fn the_guides_mlx5_plugin_warns_about_old_firmware_only() {
    let plugin = build_example("firmware-floor");
    let plugin = plugin.to_str().unwrap();
    let old = fwctl_run(&[plugin, "--sim=connectx6dx-old-firmware", "--json"]);
    assert_eq!(old.status.code(), Some(1), "{}", stderr(&old));
    let report = json(&old);
    let run = device_run(&report, "fwctl0");
    assert_eq!(run["facts"]["firmware"], "22.28.2006", "{run:#}");
    assert_eq!(run["findings"][0]["code"], "firmware.old");
    let current = fwctl_run(&[plugin, "--sim=connectx7-healthy", "--json"]);
    assert_eq!(current.status.code(), Some(0), "{}", stderr(&current));
}

#[test]
fn the_guides_mlx5_code_is_the_example_the_suite_builds() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("sdk/README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("sdk/examples/firmware-floor.rs")).unwrap();
    let code = &example[example.find("use fwctl_sdk").unwrap()..];
    let as_a_crate = code.replace("manifest = \"firmware-floor.toml\"", "manifest = \"../fwctl-plugin.toml\"");
    assert!(guide.contains(&format!("```rust\n{as_a_crate}```")), "sdk/README.md section 6 shows the example's code");
}
