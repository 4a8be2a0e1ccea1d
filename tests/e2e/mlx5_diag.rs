//! mlx5-diag on every mlx5 profile: each fault fires exactly its finding, the healthy
//! profiles fire none, and every RPC it sends is one the kernel accepts at
//! debug-read-only, answered by the firmware with status 0.

use crate::common::{fwctl_run, json, stderr};
use crate::golden::MLX5_PROFILES;

/// The finding codes (with severity) a profile must produce, and nothing else.
fn expected(profile: &str) -> &'static [(&'static str, &'static str)] {
    match profile {
        "connectx7-healthy" | "connectx6dx-healthy" => &[],
        "connectx7-hot-module" => &[("warning", "mlx5.module.temperature.high")],
        "connectx7-pcie-degraded" => &[("warning", "mlx5.pcie.degraded")],
        "connectx7-link-down" => &[("error", "mlx5.link.down")],
        "connectx7-fec-errors" => &[("warning", "mlx5.link.fec-uncorrectable"), ("warning", "mlx5.link.ber-high")],
        "connectx6dx-old-firmware" => &[("info", "mlx5.register.unsupported"), ("info", "mlx5.register.unsupported")],
        other => panic!("no expectation for {other}"),
    }
}

#[test]
fn each_fault_fires_exactly_its_finding_and_every_rpc_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    for profile in MLX5_PROFILES {
        let audit = dir.path().join(format!("{profile}.jsonl"));
        let sim = format!("--sim={profile}");
        let output = fwctl_run(&["mlx5-diag.wasm", &sim, "--json", "--audit", audit.to_str().unwrap()]);
        let report = json(&output);
        let run = &report["runs"][0];
        assert_eq!(run["status"], "completed", "{profile}: {}", stderr(&output));
        let found: Vec<(&str, &str)> = run["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["severity"].as_str().unwrap(), f["code"].as_str().unwrap()))
            .collect();
        assert_eq!(found, expected(profile), "{profile}");
        let worst_is_info = expected(profile).iter().all(|(s, _)| *s == "info");
        assert_eq!(output.status.code(), Some(if worst_is_info { 0 } else { 1 }), "{profile}");
        assert!(run["denials"].as_array().unwrap().is_empty(), "{profile}: the manifest covers every call");

        let text = std::fs::read_to_string(&audit).unwrap();
        // Each RPC twice: `sent`, then its answer; every one a read.
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.iter().filter(|l| l["outcome"] == "sent").count() * 2, lines.len(), "{profile}");
        for line in lines.iter().filter(|l| l["outcome"] != "sent") {
            assert_eq!(line["scope"], "debug-read-only", "{profile}: {line:#}");
            assert_eq!(line["effect"], "read", "{profile}: mlx5-diag changes nothing: {line:#}");
            assert_eq!(
                (line["outcome"].as_str(), line["status"].as_u64()),
                (Some("ok"), Some(0)),
                "{profile}: {line:#}"
            );
            // Register reads only: a write would be op_mod 0.
            if line["opcode"] == "0x0805" {
                assert_eq!(line["op_mod"], 1, "{profile}: {line:#}");
            }
        }
    }
}

#[test]
fn the_link_down_finding_carries_the_firmwares_reason() {
    let report = json(&fwctl_run(&["mlx5-diag.wasm", "--sim=connectx7-link-down", "--json"]));
    let run = &report["runs"][0];
    assert_eq!(run["findings"][0]["detail"]["troubleshooting"], "Cable is unplugged");
    assert_eq!(run["facts"]["port2-module"], "absent");
    assert_eq!(run["facts"]["port1-module"], "OSFP");
}
