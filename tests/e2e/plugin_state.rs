//! What a plugin keeps between its runs on a device (WIT `state`, since 0.1.2), through
//! the binary: kept per plugin and device, bounded, optional, and a broken file never
//! fails a run.

use std::path::Path;

use serde_json::Value;

use crate::common::{device_run, fwctl_run, json, stderr};

/// hostile `BEHAVIOUR` on the healthy ConnectX-7 with `extra` options: its run.
fn run(state: &[&str], behaviour: &str) -> Value {
    let mut argv = vec!["hostile.wasm", "--sim=connectx7-healthy", "--json"];
    argv.extend_from_slice(state);
    argv.extend(["--", behaviour]);
    let output = fwctl_run(&argv);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    device_run(&json(&output), "fwctl0").clone()
}

/// The plugins' state files in `dir`.
fn state_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let files = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path());
    files.filter(|p| p.extension().is_some_and(|e| e == "state")).collect()
}

fn state_args(dir: &Path) -> [String; 2] {
    ["--state-dir".into(), dir.display().to_string()]
}

#[test]
fn a_plugin_reads_what_its_previous_run_on_the_device_saved() {
    let dir = tempfile::tempdir().unwrap();
    let args = state_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = run(&args, "remember");
    assert_eq!(first["facts"]["previous"], "none", "a first run: {first:#}");
    assert_eq!(first["facts"]["save"], "saved");
    let second = run(&args, "remember");
    assert_eq!(second["facts"]["previous"], "x");
    assert!(second["facts"]["age-seconds"].as_u64().unwrap() < 60);
    assert_eq!(run(&args, "remember")["facts"]["previous"], "xx");
    // One owner-only file for the plugin (and its lock), whatever the devices.
    use std::os::unix::fs::PermissionsExt;
    let files = state_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn without_state_nothing_is_read_or_kept_and_the_plugin_is_told_why() {
    let dir = tempfile::tempdir().unwrap();
    let args = state_args(dir.path());
    run(&args.iter().map(String::as_str).collect::<Vec<_>>(), "remember");
    let without = run(&["--no-state"], "remember");
    assert_eq!(without["facts"]["previous"], "none");
    assert!(without["facts"]["save"].as_str().unwrap().starts_with("unavailable: "), "{without:#}");
}

#[test]
fn a_state_over_the_bound_is_a_typed_error_and_a_broken_file_a_warning_and_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    let args = state_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&args, "hoard")["facts"]["save"], "too-large 65536");
    run(&args, "remember");
    // Garble every state file: the next run warns, starts afresh and completes.
    for file in state_files(dir.path()) {
        std::fs::write(file, b"not a state file").unwrap();
    }
    let after = run(&args, "remember");
    assert_eq!(after["facts"]["previous"], "none");
    let warned = after["logs"].as_array().unwrap().iter().any(|l| {
        l["message"].as_str().is_some_and(|m| m.contains("saved state was set aside") && m.contains("not a state file"))
    });
    assert!(warned, "{after:#}");
    assert_eq!(run(&args, "remember")["facts"]["previous"], "x", "the fresh start was kept");
}
