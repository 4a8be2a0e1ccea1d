//! The SDK guide followed literally, as a new vendor would: a crate in an empty directory
//! outside this repository, the SDK as a git dependency, then every command of the
//! guide's "whole path" section, in order, each with the exit status the guide gives it.

use std::path::Path;
use std::process::Command;

use crate::common::{cache_dir, workspace_root};

/// The `sh` block of the guide's section 9: its command lines, with the exit status each
/// one's comment announces (`# exit 1: ...`, else 0).
fn whole_path() -> Vec<(String, i32)> {
    let guide = std::fs::read_to_string(workspace_root().join("sdk/README.md")).unwrap();
    let section = &guide[guide.find("## 9. The whole path").expect("the guide's section 9")..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (command, comment) = line.split_once(" #").unwrap_or((line, ""));
            let exit =
                comment.trim().strip_prefix("exit ").and_then(|c| c.split(':').next()?.parse().ok()).unwrap_or(0);
            (command.trim().to_string(), exit)
        })
        .collect()
}

/// The `toml` block of the guide's section 4 ("Build and run") that starts with `first`.
fn build_setting(first: &str) -> String {
    let guide = std::fs::read_to_string(workspace_root().join("sdk/README.md")).unwrap();
    let section = &guide[guide.find("## 4. Build and run").expect("the guide's section 4")..];
    let opening = format!("```toml\n{first}");
    let block = &section[section.find(&opening).unwrap_or_else(|| panic!("a block starting `{first}`")) + 8..];
    block[..block.find("```").unwrap()].to_string()
}

/// The crate the guide describes, in `dir`, depending on the SDK through git: the SDK as
/// committed in this repository (commit SDK changes before running this test locally).
/// Built with the release profile and `.cargo/config.toml` the guide recommends.
fn write_crate(dir: &Path) {
    let root = workspace_root();
    let examples = root.join("sdk/examples");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"firmware-floor\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nfwctl-sdk = {{ git = \"file://{}\" }}\n\n{}",
            root.display(),
            build_setting("[profile.release]")
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(dir.join(".cargo/config.toml"), build_setting("[target.wasm32-wasip2]")).unwrap();
    let source = std::fs::read_to_string(examples.join("firmware-floor.rs")).unwrap();
    let source = source.replace("manifest = \"firmware-floor.toml\"", "manifest = \"../fwctl-plugin.toml\"");
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
    std::fs::copy(examples.join("firmware-floor.toml"), dir.join("fwctl-plugin.toml")).unwrap();
    std::fs::copy(examples.join("firmware-floor.expect.toml"), dir.join("expect.toml")).unwrap();
    // The repository's lock, so the vendor's build resolves the versions the suite tested.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    // A build directory kept between runs of the suite (the first build of wit-bindgen
    // is the slow part); the guide's paths under target/ are unchanged.
    let shared = root.join("target/e2e/vendor-guide");
    std::fs::create_dir_all(&shared).unwrap();
    std::os::unix::fs::symlink(&shared, dir.join("target")).unwrap();
}

#[test]
fn a_vendor_follows_the_guide_from_an_empty_directory_to_a_signed_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("firmware-floor");
    write_crate(&krate);
    let audit = dir.path().join("audit.jsonl");
    let steps = whole_path();
    assert!(steps.len() >= 10, "the guide's steps: {steps:?}");
    for (command, expected) in steps {
        let words: Vec<&str> = command.split_whitespace().collect();
        let mut process = match words[0] {
            "fwctl-run" => Command::new(env!("CARGO_BIN_EXE_fwctl-run")),
            "cargo" => Command::new(env!("CARGO")),
            other => panic!("the guide runs only cargo and fwctl-run, not `{other}`"),
        };
        let output = process
            .args(&words[1..])
            .current_dir(&krate)
            .env("FWCTL_RUN_CACHE_DIR", cache_dir())
            .env("FWCTL_RUN_AUDIT", &audit)
            // A vendor's machine has no system trust store or plugin path of ours.
            .env_remove("FWCTL_RUN_PLUGIN_PATH")
            .env("CARGO_NET_GIT_FETCH_WITH_CLI", "true")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(expected), "`{command}`\nstdout:\n{stdout}\nstderr:\n{stderr}");
        // What each step is for, checked where the guide promises something.
        if command.contains("--require-signed") {
            assert!(stdout.contains("signed by example-vendor (key "), "{stdout}");
        } else if command.ends_with("--sim=connectx7-healthy") {
            assert!(stdout.contains("signed only by keys this host does not trust"), "{stdout}");
        } else if command.starts_with("fwctl-run test") {
            assert!(stdout.contains("2 case(s): 2 passed, 0 failed"), "{stdout}");
        }
    }
}
