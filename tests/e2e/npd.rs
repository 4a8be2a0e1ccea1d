//! `fwctl-run npd`: node-problem-detector's custom plugin protocol (exit 0 OK, 1 problem,
//! other Unknown; one line that fits max_output_length; an answer before the rule's
//! timeout).

use std::time::{Duration, Instant};

use crate::common::{fwctl_run, plugin_dir, stderr, stdout, workspace_root};

fn npd(args: &[&str]) -> (Option<i32>, String) {
    let mlx5 = plugin_dir().join("mlx5-diag.wasm");
    let cxl = plugin_dir().join("cxl-features.wasm");
    let mut all = vec!["npd", mlx5.to_str().unwrap(), cxl.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = fwctl_run(&all);
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "exactly one line: {text:?}\nstderr: {}", stderr(&output));
    let line = text.trim_end_matches('\n').to_string();
    assert!(line.len() <= 80, "{} bytes: {line}", line.len());
    (output.status.code(), line)
}

#[test]
fn a_healthy_host_is_ok() {
    let (code, line) = npd(&["--sim-fleet", "5:connectx7-healthy,cxl-type3"]);
    assert_eq!(code, Some(0));
    // Simulated devices are never passed off as hardware.
    assert_eq!(line, "OK: 5 simulated fwctl devices healthy");
}

#[test]
fn problems_come_most_severe_first_and_the_rest_is_counted() {
    // Link-down (error) on many adapters and a degraded PCIe link (a warning, below the
    // default --min-severity): only the errors are problems.
    let (code, line) = npd(&["--sim-fleet", "40:connectx7-link-down=3,connectx7-pcie-degraded=1"]);
    assert_eq!(code, Some(1));
    assert!(line.starts_with("mlx5_") && line.contains(":mlx5.link.down"), "{line}");
    assert!(!line.contains("pcie"), "warnings are not problems by default: {line}");
    assert!(line.ends_with(')') && line.contains("(+"), "the rest is counted: {line}");

    // With warnings counted, an error still comes before any warning.
    let (code, line) = npd(&[
        "--sim-fleet",
        "6:connectx7-pcie-degraded=1,connectx7-link-down=1",
        "--seed",
        "3",
        "--min-severity",
        "warning",
    ]);
    assert_eq!(code, Some(1));
    let first = line.split([' ', '(']).next().unwrap();
    assert!(first.ends_with(":mlx5.link.down"), "{line}");

    let (_, line) = npd(&["--sim-fleet", "40:connectx7-link-down", "--max-output", "40"]);
    assert!(line.len() <= 40, "{line}");
}

#[test]
fn a_vanished_device_is_a_problem_and_a_slow_one_is_unknown_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = std::fs::read_to_string(workspace_root().join("devices/profiles/connectx7-healthy.toml")).unwrap();
    let gone = dir.path().join("gone.toml");
    std::fs::write(&gone, format!("{healthy}\n[device.faults]\nvanish_after_rpcs = 3\n")).unwrap();
    let (code, line) = npd(&["--sim-fleet", &format!("2:{}", gone.display())]);
    assert_eq!(code, Some(1));
    assert_eq!(line, "mlx5_0:gone mlx5_1:gone (simulated)");

    let slow = dir.path().join("slow.toml");
    std::fs::write(&slow, format!("{healthy}\n[device.faults]\nrpc_delay_ms = 1000\n")).unwrap();
    let started = Instant::now();
    let (code, line) = npd(&["--sim-fleet", &format!("3:{}", slow.display()), "--deadline", "2s"]);
    assert!(started.elapsed() < Duration::from_secs(10), "answered within the deadline: {:?}", started.elapsed());
    assert_eq!(code, Some(2), "NPD reads any status but 0 and 1 as Unknown: {line}");
    assert!(line.contains(":timeout"), "{line}");
}

#[test]
fn what_cannot_run_is_unknown_on_one_line() {
    let output = fwctl_run(&["npd", "/nonexistent/plugin.wasm", "--sim"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.len() <= 81 && text.starts_with("fwctl-run: no plugin could run"), "{text}");
}
