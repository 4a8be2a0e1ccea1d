//! Fleet metrics: the textfile node_exporter reads (checked by Prometheus's own
//! `promtool`), OpenMetrics (checked by the reference client's strict parser), and the
//! host's rules for plugin metrics.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{fwctl_run, plugin_dir, stderr, stdout};

/// Runs a checker on `text` through stdin; panics with its output unless it accepts it.
fn must_accept(program: &str, args: &[&str], text: &str, what: &str) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program} to check {what} ({e}); it is installed by .ci/run (Debian's prometheus and python3-prometheus-client)"));
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "{program} rejects {what}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn promtool_check(text: &str) {
    must_accept("promtool", &["check", "metrics"], text, "the textfile");
}

/// The sample lines (not comments) of a text exposition.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect()
}

fn fleet(args: &[&str]) -> std::process::Output {
    let mlx5 = plugin_dir().join("mlx5-diag.wasm");
    let cxl = plugin_dir().join("cxl-features.wasm");
    let mut all = vec!["fleet", mlx5.to_str().unwrap(), cxl.to_str().unwrap()];
    all.extend_from_slice(args);
    fwctl_run(&all)
}

fn textfile(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("fwctl.prom")).unwrap()
}

#[test]
fn the_textfile_passes_promtool_and_names_every_documented_metric() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        fleet(&["--sim-fleet", "40", "--seed", "2", "--format", "json", "--textfile", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = textfile(dir.path());
    promtool_check(&text);

    for name in [
        "fwctl_device_info",
        "fwctl_device_temperature_celsius",
        "fwctl_device_temperature_max_celsius",
        "fwctl_device_temperature_crit_celsius",
        "fwctl_link_up",
        "fwctl_link_speed_bytes",
        "fwctl_link_down_total",
        "fwctl_link_error_recovery_total",
        "fwctl_port_symbol_errors_total",
        "fwctl_link_effective_ber",
        "fwctl_pcie_link_width",
        "fwctl_port_fec_mode",
        "fwctl_port_lane_raw_errors_total",
        "fwctl_module_rx_power_watts",
        "fwctl_module_tx_power_watts",
        "fwctl_module_tx_bias_amperes",
        "fwctl_module_rx_power_threshold_watts",
        "fwctl_finding",
        "fwctl_plugin_up",
        "fwctl_plugin_duration_seconds",
        "fwctl_run_last_success_timestamp_seconds",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing:\n{text}");
        assert!(
            samples(&text).iter().any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} has no sample"
        );
    }
    // No timestamps: every sample is `name{labels} value`, nothing after the value.
    for line in samples(&text) {
        let after_labels = line.rsplit_once('}').map_or(line, |(_, rest)| rest);
        assert_eq!(
            after_labels.split_whitespace().count(),
            if line.contains('}') { 1 } else { 2 },
            "a timestamp or junk: {line}"
        );
    }
    // mlx5 devices are labelled with their RDMA device, to join node_infiniband_*; CXL
    // devices with their fwctl node.
    assert!(text.contains(r#"fwctl_link_up{device="mlx5_0",plugin="mlx5-diag",port="1"} 1"#), "{text}");
    assert!(
        samples(&text).iter().any(|l| l.starts_with("fwctl_device_info{")
            && l.contains(r#"kind="cxl""#)
            && l.contains(r#"device="fwctl"#))
    );
    assert!(text.contains(r#"part_number="MCX75310AAS-NEAT""#) && text.contains(r#"firmware_version="28.39.1002""#));

    // The findings of the report are the fwctl_finding series, one per device and code.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut expected: Vec<(String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let device = r["device"]["rdma_device"].as_str().or(r["device"]["name"].as_str()).unwrap().to_string();
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] != "info")
                .map(move |f| (device.clone(), f["code"].as_str().unwrap().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    expected.dedup();
    let series = samples(&text).into_iter().filter(|l| l.starts_with("fwctl_finding{")).count();
    assert_eq!(series, expected.len(), "{expected:?}");
    assert!(series > 0);
}

#[test]
fn each_run_rewrites_the_file_whole_so_cleared_findings_disappear() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    fleet(&["--sim-fleet", "3:connectx7-link-down", "--textfile", at]);
    let first = textfile(dir.path());
    assert!(first.contains(r#"code="mlx5.link.down""#), "{first}");
    let success = |text: &str| {
        text.lines().find_map(|l| l.strip_prefix("fwctl_run_last_success_timestamp_seconds ")).map(str::to_string)
    };
    let stamped = success(&first).expect("a run that checked every device is a success");

    // The link came back: the finding is gone from the file.
    fleet(&["--sim-fleet", "3:connectx7-healthy", "--textfile", at]);
    let second = textfile(dir.path());
    assert!(!second.contains("fwctl_finding{"), "{second}");
    promtool_check(&second);

    // A run that could not check every device keeps the last success time it found.
    std::fs::write(dir.path().join("fwctl.prom"), format!("fwctl_run_last_success_timestamp_seconds {stamped}\n"))
        .unwrap();
    let slow = dir.path().join("slow.toml");
    let healthy =
        std::fs::read_to_string(crate::common::workspace_root().join("devices/profiles/connectx7-healthy.toml"))
            .unwrap();
    std::fs::write(&slow, format!("{healthy}\n[device.faults]\nrpc_delay_ms = 400\n")).unwrap();
    let failed = fleet(&["--sim-fleet", &format!("2:{}", slow.display()), "--timeout", "300", "--textfile", at]);
    assert_eq!(failed.status.code(), Some(2));
    let third = textfile(dir.path());
    assert_eq!(success(&third).as_deref(), Some(stamped.as_str()), "{third}");
    assert!(third.contains(r#"fwctl_plugin_up{device="mlx5_0",plugin="mlx5-diag"} 0"#), "{third}");
    promtool_check(&third);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn openmetrics_output_passes_the_strict_parser() {
    let output = fleet(&["--sim-fleet", "25", "--format", "openmetrics"]);
    let text = stdout(&output);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE fwctl_device info\n") && text.contains("# TYPE fwctl_link_down counter\n"));
    assert!(text.contains("# UNIT fwctl_device_temperature_celsius celsius\n"));
    let parse = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
                 families = list(parse(sys.stdin.read()))\nassert len(families) >= 15, len(families)\n";
    must_accept("/usr/bin/python3", &["-c", parse], &text, "the OpenMetrics output");
}

#[test]
fn plugin_metrics_that_break_the_rules_are_refused_with_the_reason() {
    let hostile = plugin_dir().join("hostile.wasm");
    let dir = tempfile::tempdir().unwrap();
    let output = fwctl_run(&[
        "fleet",
        hostile.to_str().unwrap(),
        "--sim-fleet",
        "2:connectx7-healthy",
        "--format",
        "json",
        "--textfile",
        dir.path().to_str().unwrap(),
        "--",
        "metrics",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let values = &report["results"][0]["values"];
    for (attempt, says) in [
        ("upper-case", "snake_case"),
        ("host-name", "belongs to the host"),
        ("total-suffix", "must not end in `_total`"),
        ("bad-unit", "not a base unit"),
        ("host-label", "label `device` belongs to the host"),
        ("nan", "not a finite number"),
        ("negative-counter", "cannot be negative"),
        ("duplicate", "already has a sample with these labels"),
        ("other-labels", "every sample needs the same label names"),
        ("other-kind", "was first reported as a gauge"),
        ("label-twice", "names label `lane` twice"),
    ] {
        let answer = values[format!("metric-{attempt}")].as_str().unwrap();
        assert!(answer.contains(says), "{attempt}: {answer}");
    }
    assert_eq!(values["metric-good"], "accepted");
    let text = textfile(dir.path());
    promtool_check(&text);
    assert!(text.contains(r#"fwctl_hostile_probe_seconds{device="mlx5_0",plugin="hostile",lane="0"} 0.25"#), "{text}");
    assert!(!text.contains("Temp") && !text.contains("gbps"), "{text}");
}

#[test]
fn an_unwritable_textfile_directory_is_named() {
    let output = fleet(&["--sim-fleet", "2", "--textfile", "/nonexistent/textfiles"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/textfiles"), "{}", stderr(&output));
}

#[test]
fn a_plugin_may_spend_its_report_budget_on_samples_of_one_metric_and_a_repeat_is_still_refused() {
    // 9,000 samples of one metric, one label value each, then the first again: each is
    // checked against all before it (an index, not a scan), and only the repeat is refused.
    let hostile = plugin_dir().join("hostile.wasm");
    let output =
        fwctl_run(&[hostile.to_str().unwrap(), "--sim", "--device", "fwctl0", "--json", "--", "metric-flood", "9000"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &report["runs"][0];
    let metrics = run["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 9000);
    let lanes: std::collections::BTreeSet<&str> =
        metrics.iter().map(|m| m["labels"]["lane"].as_str().unwrap()).collect();
    assert_eq!(lanes.len(), 9000, "every sample kept once");
    let repeat = run["facts"]["repeat"].as_str().unwrap();
    assert!(repeat.contains("already has a sample with these labels"), "{repeat}");
}
