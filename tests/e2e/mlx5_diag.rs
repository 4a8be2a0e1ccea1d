//! mlx5-diag on every mlx5 profile: each fault fires exactly its finding, the healthy
//! profiles fire none, and every RPC it sends is one the kernel accepts at
//! debug-read-only, answered by the firmware with status 0.

use crate::common::{fwctl_run, json, stderr};
use crate::golden::MLX5_PROFILES;

/// The finding codes (with severity) a profile must produce on a first run, besides the
/// counters' baseline every first run records, and nothing else. (Error counters are
/// judged by their rate across runs: see `rates` below.)
fn expected(profile: &str) -> Vec<(&'static str, &'static str)> {
    let own: &[(&str, &str)] = match profile {
        "connectx7-healthy" | "connectx6dx-healthy" => &[],
        "connectx7-hot-module" => &[("warning", "mlx5.module.temperature.high")],
        "connectx7-weak-module-lane" => {
            &[("critical", "mlx5.module.rx-power.low"), ("warning", "mlx5.module.tx-bias.high")]
        }
        "connectx7-pcie-degraded" => &[("warning", "mlx5.pcie.degraded")],
        "connectx7-link-down" => &[("error", "mlx5.link.down")],
        "connectx7-fec-errors" => &[("warning", "mlx5.link.ber-high")],
        "connectx6dx-old-firmware" => &[("info", "mlx5.register.unsupported"), ("info", "mlx5.register.unsupported")],
        other => panic!("no expectation for {other}"),
    };
    let mut all = vec![("info", "mlx5.counters.baseline")];
    all.extend_from_slice(own);
    all.sort_unstable();
    all
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
        let mut found: Vec<(&str, &str)> = run["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["severity"].as_str().unwrap(), f["code"].as_str().unwrap()))
            .collect();
        found.sort_unstable();
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
    let down = run["findings"].as_array().unwrap().iter().find(|f| f["code"] == "mlx5.link.down").unwrap();
    assert_eq!(down["detail"]["troubleshooting"], "Cable is unplugged");
    assert_eq!(run["facts"]["port2-module"], "absent");
    assert_eq!(run["facts"]["port1-module"], "OSFP");
}

#[test]
fn the_boards_serial_number_and_product_are_facts_and_an_inventory_metric() {
    // The simulated board's serial is the device's (what its VPD says too).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate::common::workspace_root().join("devices/profiles/connectx7-healthy.toml"))
        .unwrap()
        .replacen("[[device]]\n", "[[device]]\nserial = \"MT2418X01234\"\n", 1);
    let file = dir.path().join("serial.toml");
    std::fs::write(&file, text).unwrap();
    let sim = format!("--sim={}", file.display());
    let report = json(&fwctl_run(&["mlx5-diag.wasm", &sim, "--json", "--no-state"]));
    let run = &report["runs"][0];
    assert_eq!(run["facts"]["serial-number"], "MT2418X01234");
    assert_eq!(run["facts"]["product-name"], "ConnectX-7");
    assert_eq!(run["facts"]["part-number"], "MCX75310AAS-NEAT", "QUERY_ADAPTER's VSD, kept");
    let identity = run["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "board_identity").unwrap();
    assert_eq!(identity["labels"]["serial_number"], "MT2418X01234");
    assert_eq!(identity["labels"]["part_number"], "MCX75310AAS-NEAT");
}

/// Each lane's receive eye (SLRG), judged only against a threshold the operator gives.
mod eye {
    use serde_json::Value;

    use crate::common::{fwctl_run, json, workspace_root};

    fn eye_findings(run: &Value) -> Vec<&Value> {
        run["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "mlx5.lane.eye-low").collect()
    }

    #[test]
    fn a_connectx7_lane_below_the_operators_figure_of_merit_is_named_and_none_is_without_one() {
        let args = ["mlx5-diag.wasm", "--sim=connectx7-fec-errors", "--json", "--no-state"];
        let report = json(&fwctl_run(&args));
        let run = &report["runs"][0];
        assert_eq!(run["facts"]["port1-eye-fom-mode"], "EYEC");
        assert_eq!(run["facts"]["port1-eye-fom"], "48, 46, 12, 43");
        assert!(eye_findings(run).is_empty(), "no published limit: no finding without --eye-fom-min");

        let report = json(&fwctl_run(&[&args[..], &["--", "--eye-fom-min", "30"]].concat()));
        let run = &report["runs"][0];
        let found = eye_findings(run);
        assert_eq!(found.len(), 1, "{found:#?}");
        let detail = &found[0]["detail"];
        assert_eq!(
            (&detail["port"], &detail["lane"], &detail["figure-of-merit"]),
            (&Value::from(1), &Value::from(2), &Value::from(12))
        );
        let eyes = run["metrics"].as_array().unwrap().iter().filter(|m| m["name"] == "port_lane_eye_fom").count();
        assert_eq!(eyes, 2 * 4, "two ports of four lanes");
    }

    #[test]
    fn a_connectx6dx_lane_is_graded_in_its_own_terms() {
        let dir = tempfile::tempdir().unwrap();
        let profile = std::fs::read_to_string(workspace_root().join("devices/profiles/connectx6dx-healthy.toml"))
            .unwrap()
            .replacen("lanes = 4\n", "lanes = 4\neye = [1.0, 0.5]\n", 1);
        let file = dir.path().join("weak-eye.toml");
        std::fs::write(&file, profile).unwrap();
        let sim = format!("--sim={}", file.display());
        let report =
            json(&fwctl_run(&["mlx5-diag.wasm", &sim, "--json", "--no-state", "--", "--eye-grade-min", "2000"]));
        let run = &report["runs"][0];
        assert_eq!(run["facts"]["port1-eye-grade"], "3400, 1700, 3400, 3400");
        assert_eq!(run["facts"]["port1-eye-height-mv"], "50, 25, 50, 50");
        let found = eye_findings(run);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((&found[0]["detail"]["lane"], &found[0]["detail"]["grade"]), (&Value::from(1), &Value::from(1700)));
        let height = run["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "port_lane_eye_height").unwrap();
        assert_eq!((&height["unit"], &height["value"]), (&Value::from("volts"), &Value::from(0.05)));
    }

    #[test]
    fn a_port_whose_link_is_down_has_no_eye_read() {
        let report = json(&fwctl_run(&["mlx5-diag.wasm", "--sim=connectx7-link-down", "--json", "--no-state"]));
        let facts = &report["runs"][0]["facts"];
        assert!(facts["port1-eye-fom"].is_string() && facts["port2-eye-fom"].is_null(), "{facts:#}");
    }
}

/// Error counters judged by rate across runs, through the library with a state
/// directory and simulated time between runs.
mod rates {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use fwctl_run::outcome::DeviceRun;
    use fwctl_run::testing::Simulation;

    use crate::common::{plugin_dir, workspace_root};

    /// The built-in `profile`, as a file whose device has the serial number `serial`.
    fn with_serial(dir: &Path, profile: &str, serial: &str) -> PathBuf {
        let text = std::fs::read_to_string(workspace_root().join(format!("devices/profiles/{profile}.toml"))).unwrap();
        let path = dir.join(format!("{profile}-{serial}.toml"));
        std::fs::write(&path, text.replacen("[[device]]\n", &format!("[[device]]\nserial = \"{serial}\"\n"), 1))
            .unwrap();
        path
    }

    /// One mlx5-diag run on `profile` with the state in `state`, `hours` after the last.
    fn run(state: &Path, profile: &Path, hours: u64) -> DeviceRun {
        let simulation = Simulation::profile(profile.to_str().unwrap())
            .unwrap()
            .with_state_dir(state)
            .later(Duration::from_secs(hours * 3600));
        simulation.run(&plugin_dir().join("mlx5-diag.wasm"), &[]).unwrap().remove(0)
    }

    fn rate_codes(run: &DeviceRun) -> Vec<&str> {
        run.finding_codes().into_iter().filter(|c| c.ends_with("-rate") || c.starts_with("mlx5.counters.")).collect()
    }

    #[test]
    fn a_first_run_records_a_baseline_and_a_steady_healthy_link_stays_quiet() {
        let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let healthy = with_serial(dir.path(), "connectx7-healthy", "MT-A");
        assert_eq!(rate_codes(&run(state.path(), &healthy, 0)), ["mlx5.counters.baseline"]);
        let later = run(state.path(), &healthy, 1);
        assert!(rate_codes(&later).is_empty(), "{:?}", later.finding_codes());
        assert_eq!(later.fact("port1-fec-uncorrectable-per-hour").unwrap().to_string(), "0");
    }

    #[test]
    fn a_burst_is_a_warning_once_and_clears_when_the_counters_stop_rising() {
        let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (healthy, degrading) = (
            with_serial(dir.path(), "connectx7-healthy", "MT-A"),
            with_serial(dir.path(), "connectx7-fec-errors", "MT-A"),
        );
        run(state.path(), &healthy, 0);
        let burst = run(state.path(), &degrading, 1);
        assert!(burst.finding_codes().contains(&"mlx5.link.fec-uncorrectable-rate"), "{:?}", burst.finding_codes());
        let per_hour: f64 = burst.fact("port1-fec-uncorrectable-per-hour").unwrap().to_string().parse().unwrap();
        assert!((11.5..=12.0).contains(&per_hour), "12 blocks in a little over an hour: {per_hour}");
        // An hour later the counters stand still: the warning is gone, whatever the total.
        let quiet = run(state.path(), &degrading, 2);
        assert!(!quiet.finding_codes().contains(&"mlx5.link.fec-uncorrectable-rate"), "{:?}", quiet.finding_codes());
        assert_eq!(quiet.fact("port1-fec-uncorrectable-blocks").unwrap().to_string(), "12");
    }

    #[test]
    fn cleared_counters_and_a_replaced_board_start_a_new_baseline_not_a_rate() {
        let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let degrading = with_serial(dir.path(), "connectx7-fec-errors", "MT-A");
        run(state.path(), &degrading, 0);
        // The same board with its counters cleared: port 1's went down (port 2's were 0).
        let cleared = run(state.path(), &with_serial(dir.path(), "connectx7-healthy", "MT-A"), 1);
        assert_eq!(rate_codes(&cleared), ["mlx5.counters.reset"]);
        // Another board in the same slot: no previous state of its own.
        let replaced = run(state.path(), &with_serial(dir.path(), "connectx7-fec-errors", "MT-B"), 2);
        assert_eq!(rate_codes(&replaced), ["mlx5.counters.baseline"]);
    }
}

/// PCIe errors (MPCNT, read without `clr`) are judged by rate as the ports' counters are.
#[test]
fn pcie_errors_that_appeared_since_the_previous_run_are_a_rate_finding() {
    use std::time::Duration;
    let state = tempfile::tempdir().unwrap();
    let run = |profile: &str, hours: u64| {
        fwctl_run::testing::Simulation::profile(profile)
            .unwrap()
            .with_state_dir(state.path())
            .later(Duration::from_secs(hours * 3600))
            .run(&crate::common::plugin_dir().join("mlx5-diag.wasm"), &[])
            .unwrap()
            .remove(0)
    };
    let first = run("connectx7-healthy", 0);
    assert_eq!(first.fact("pcie-rx-errors").unwrap().to_string(), "0");
    // The same slot an hour later, its link now erring: 52 errors and 6 recoveries.
    let later = run("connectx7-pcie-degraded", 1);
    assert!(later.finding_codes().contains(&"mlx5.pcie.errors-rate"), "{:?}", later.finding_codes());
    assert!(!later.finding_codes().contains(&"mlx5.pcie.recovery-rate"), "6 an hour is under 10");
    assert_eq!(later.fact("pcie-crc-errors").unwrap().to_string(), "12");
}
