//! `fwctl-run fleet`: every device of a simulated host, each check isolated, reported in
//! the formats operators' tools read.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{audit_log, cache_dir, fwctl_run, plugin_dir, stderr, stdout, workspace_root};

const STATUSES: &[&str] = &["ok", "findings", "error", "timeout", "unsupported", "gone"];

/// The lines of `--format jsonl` output, each parsed.
fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect()
}

/// A one-device profile: the healthy ConnectX-7 with `faults` appended.
fn faulty_profile(dir: &std::path::Path, name: &str, faults: &str) -> PathBuf {
    let healthy = std::fs::read_to_string(workspace_root().join("devices/profiles/connectx7-healthy.toml")).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("{healthy}\n[device.faults]\n{faults}\n")).unwrap();
    path
}

fn mlx5_diag() -> String {
    plugin_dir().join("mlx5-diag.wasm").display().to_string()
}

#[test]
fn a_simulated_fleet_streams_one_line_per_check_then_the_summary() {
    let output =
        fwctl_run(&["fleet", &mlx5_diag(), "--sim-fleet", "60", "--seed", "4", "--format", "jsonl", "--jobs", "3"]);
    assert_eq!(output.status.code(), Some(1), "the default mix has faulty devices\n{}", stderr(&output));
    let lines = jsonl(&stdout(&output));
    let (summary, results) = lines.split_last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!(summary["schema"], "fwctl-run.fleet/v1");
    assert_eq!(results.len(), 60, "one line per device (CXL ones unsupported by mlx5-diag)");
    for result in results {
        assert_eq!(result["record"], "result");
        assert!(STATUSES.contains(&result["status"].as_str().unwrap()), "{result}");
        assert!(result["host"].as_str().is_some_and(|h| !h.is_empty()));
        assert!(result["duration_ms"].is_number() && result["findings"].is_array() && result["values"].is_object());
        if result["device"]["kind"] == "mlx5" {
            let plugin = &result["plugin"];
            assert_eq!(plugin["name"], "mlx5-diag");
            assert!(plugin["digest"].as_str().unwrap().starts_with("sha256:"));
            assert!(result["device"]["rdma_device"].as_str().unwrap().starts_with("mlx5_"));
        } else {
            assert_eq!(result["status"], "unsupported");
        }
    }
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    assert!(count("findings") > 0 && count("ok") > 0, "a mixed fleet: {summary}");
    assert_eq!(summary["devices"], 60);
    assert_eq!(summary["with_findings"].as_u64().unwrap() as usize, count("findings"));
    assert_eq!(summary["healthy"].as_u64().unwrap() as usize, count("ok"));
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["exit"], "findings");
    assert!(stderr(&output).trim().is_empty(), "no progress or noise off a terminal: {}", stderr(&output));

    // The same seed draws the same fleet with the same verdicts.
    let again = fwctl_run(&["fleet", &mlx5_diag(), "--sim-fleet", "60", "--seed", "4", "--format", "json"]);
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    let verdicts = |results: &[Value]| {
        let mut v: Vec<(String, String)> = results
            .iter()
            .map(|r| (r["device"]["name"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(verdicts(report["results"].as_array().unwrap()), verdicts(results));
    assert_eq!(report["schema"], "fwctl-run.fleet/v1");
    assert_eq!(report["exit"], "findings");
}

#[test]
fn a_check_that_times_out_or_loses_its_device_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let gone = faulty_profile(dir.path(), "vanishing", "vanish_after_rpcs = 4");
    let slow = faulty_profile(dir.path(), "slow", "rpc_delay_ms = 150");
    let audit = dir.path().join("audit.jsonl");
    let mix = format!("12:connectx7-healthy=2,{}=1,{}=1", gone.display(), slow.display());
    let output = fwctl_run(&[
        "fleet",
        &mlx5_diag(),
        "--sim-fleet",
        &mix,
        "--timeout",
        "600",
        "--format",
        "json",
        "--audit",
        audit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "failed checks make the fleet's exit 2\n{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 12);
    for result in results {
        let model = result["device"]["model"].as_str().unwrap().to_string();
        let status = result["status"].as_str().unwrap();
        let rpcs = result["rpcs"].as_u64().unwrap();
        match status {
            "ok" => assert!(rpcs > 4, "a healthy device gets the whole check: {model}, {rpcs} RPCs"),
            "gone" => {
                assert!(result["error"].as_str().unwrap().contains("gone"), "{result}");
                assert_eq!(result["error_kind"], "device-gone");
            }
            "timeout" => {
                assert!(result["error"].as_str().unwrap().contains("deadline of 600 ms"), "{result}");
                assert!(result["duration_ms"].as_f64().unwrap() < 3000.0);
            }
            other => panic!("unexpected status {other}: {result}"),
        }
    }
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    assert!(count("ok") > 0 && count("gone") > 0 && count("timeout") > 0, "{:?}", report["summary"]);
    assert_eq!(report["summary"]["failed"].as_u64().unwrap() as usize, count("gone") + count("timeout"));

    // Every RPC of every device is on the record: `sent` before it reached the device,
    // then its outcome, the failed ones too; one still in the firmware when the deadline
    // struck ends as `abandoned`.
    let audit: Vec<Value> =
        std::fs::read_to_string(&audit).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for result in results {
        let device = result["device"]["name"].as_str().unwrap();
        let of_device: Vec<&Value> = audit.iter().filter(|l| l["device"] == device).collect();
        let outcomes = of_device.iter().filter(|l| l["outcome"] != "sent").count() as u64;
        assert_eq!(outcomes, result["rpcs"].as_u64().unwrap(), "audit lines of {device}: {result}");
        for sent in of_device.iter().filter(|l| l["outcome"] == "sent") {
            assert!(of_device.iter().any(|l| l["seq"] == sent["seq"] && l["outcome"] != "sent"), "{sent:#}");
        }
        if result["status"] == "timeout" {
            assert!(of_device.iter().any(|l| l["outcome"] == "abandoned"), "{of_device:#?}");
        }
    }
}

#[test]
fn a_trapping_plugin_fails_on_its_device_and_nowhere_else() {
    let hostile = plugin_dir().join("hostile.wasm").display().to_string();
    let output = fwctl_run(&[
        "fleet",
        &hostile,
        "--sim-fleet",
        "8:connectx7-healthy",
        "--format",
        "jsonl",
        "--",
        "trap",
        "only=fwctl5",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let lines = jsonl(&stdout(&output));
    let results: Vec<&Value> = lines.iter().filter(|l| l["record"] == "result").collect();
    assert_eq!(results.len(), 8);
    for result in results {
        if result["device"]["name"] == "fwctl5" {
            assert_eq!(result["status"], "error");
            assert_eq!(result["error_kind"], "trap");
        } else {
            assert_eq!(result["status"], "ok", "{result}");
            assert_eq!(result["values"]["behaved"], true);
        }
    }
    assert_eq!(lines.last().unwrap()["failed"], 1);
}

#[test]
fn installed_plugins_are_matched_to_the_devices_and_the_table_sums_up() {
    // Only the two vendor plugins installed: every device gets the one that handles it.
    let installed = tempfile::tempdir().unwrap();
    for plugin in ["mlx5-diag.wasm", "cxl-features.wasm"] {
        std::fs::copy(plugin_dir().join(plugin), installed.path().join(plugin)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(["fleet", "--sim"])
        .env("FWCTL_RUN_PLUGIN_PATH", installed.path())
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_AUDIT", audit_log())
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(text.starts_with("devices: SIMULATED"), "{text}");
    assert!(text.contains("DEVICE") && text.contains("STATUS"), "{text}");
    for (device, plugin) in [("fwctl0", "mlx5-diag"), ("fwctl1", "mlx5-diag"), ("fwctl2", "cxl-features")] {
        assert!(
            text.lines().any(|l| l.starts_with(device) && l.contains(plugin) && l.contains(" ok ")),
            "{device} checked by {plugin}:\n{text}"
        );
    }
    let summary = text.lines().rev().find(|l| !l.is_empty()).unwrap();
    assert!(summary.starts_with("3 devices: 3 healthy, 0 with findings, 0 failed in "), "{summary}");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // The suite's path also holds the hostile plugin, which fails without arguments (on
    // every device), the WIT 0.1.0 plugin (mlx5) and mlx5-config (its default, `query`,
    // reads): the other checks of the same devices stand.
    let output = fwctl_run(&["fleet", "--sim", "--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    for result in report["results"].as_array().unwrap() {
        let expected = if result["plugin"]["name"] == "hostile" { "error" } else { "ok" };
        assert_eq!(result["status"], expected, "{result}");
    }
    assert_eq!(report["results"].as_array().unwrap().len(), 10);
    assert_eq!(report["summary"]["failed"], 3);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_fleet_requests_are_refused_by_name() {
    for (args, says) in [
        (vec!["fleet", "--sim-fleet", "0"], "between 1 and"),
        (vec!["fleet", "--sim-fleet", "3:no-such-nic"], "`no-such-nic` is not a built-in profile"),
        (vec!["fleet", "/nonexistent/x.wasm", "--sim"], "no plugin could run"),
    ] {
        let output = fwctl_run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains(says), "{args:?}: {}", stderr(&output));
    }
    // A refused plugin is named; the others still run.
    let output = fwctl_run(&["fleet", &mlx5_diag(), "/nonexistent/x.wasm", "--sim", "--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["refused"][0]["plugin"], "/nonexistent/x.wasm");
    assert_eq!(report["summary"]["checks"], 2);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn ctrl_c_finishes_the_checks_in_flight_and_writes_what_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let slow = faulty_profile(dir.path(), "slow", "rpc_delay_ms = 10");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(["fleet", &mlx5_diag(), "--jobs", "2", "--format", "jsonl", "--sim-fleet"])
        .arg(format!("200:{}", slow.display()))
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_AUDIT", audit_log())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    // Two checks done (each is 24 RPCs of 10 ms): interrupt.
    while seen.len() < 2 {
        seen.push(lines.next().expect("a result line").unwrap());
    }
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    seen.extend(lines.map(Result::unwrap));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "an interrupted fleet did not check everything");
    let parsed = jsonl(&seen.join("\n"));
    let (summary, results) = parsed.split_last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!(summary["interrupted"], true);
    assert!(results.iter().all(|r| r["status"] == "ok"), "checks in flight finished, none was cut: {results:?}");
    let done = results.len() as u64;
    assert!((2..200).contains(&done), "{done} checks done");
    assert_eq!(summary["not_run"].as_u64().unwrap() + done, 200);
    assert_eq!(summary["checks"].as_u64().unwrap(), done);
}

#[test]
fn without_plugins_for_the_hosts_devices_the_fleet_says_where_it_looked() {
    // Only a CXL plugin installed, and a host of ConnectX adapters.
    let installed = tempfile::tempdir().unwrap();
    std::fs::copy(plugin_dir().join("cxl-features.wasm"), installed.path().join("cxl-features.wasm")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(["fleet", "--sim-fleet", "3:connectx7-healthy"])
        .env("FWCTL_RUN_PLUGIN_PATH", installed.path())
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_AUDIT", audit_log())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = stderr(&output);
    assert!(
        said.contains("none of the 1 installed in")
            && said.contains(installed.path().to_str().unwrap())
            && said.contains("(mlx5)"),
        "{said}"
    );
}

#[test]
fn without_sim_monitoring_never_reports_simulated_devices() {
    // This machine may have no fwctl devices at all: then the answer is "none", never
    // an invented fleet passed off as hardware.
    let output = fwctl_run(&["fleet", &mlx5_diag(), "--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    let results = report["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["device"]["simulated"] == false), "{report:#}");
    let npd = fwctl_run(&["npd", &mlx5_diag()]);
    let line = stdout(&npd);
    assert!(!line.contains("simulated"), "{line}");
    if results.is_empty() {
        assert!(line.contains("no-fwctl-devices-found"), "{line}");
        assert_eq!(npd.status.code(), Some(2), "NPD's Unknown: {line}");
    }
}

#[test]
fn two_plugins_with_one_name_are_both_refused_so_neither_passes_for_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.wasm"), dir.path().join("b.wasm"));
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), &first).unwrap();
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), &second).unwrap();
    let cxl = plugin_dir().join("cxl-features.wasm");
    let output = fwctl_run(&[
        "fleet",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        cxl.to_str().unwrap(),
        "--sim",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    let refused = report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{report:#}");
    assert!(
        refused.iter().all(|r| r["reason"].as_str().unwrap().contains("2 plugins are named `mlx5-diag`")),
        "{report:#}"
    );
    // The other plugin ran.
    assert!(report["results"].as_array().unwrap().iter().any(|r| r["plugin"]["name"] == "cxl-features"), "{report:#}");
}

#[test]
fn a_pooled_instance_slot_keeps_nothing_of_the_previous_devices_run() {
    // One job: every run takes the slot the previous one gave back (kept resident and
    // reset in place, not returned to the kernel). Each run marks a static and a grown
    // page, and counts what it found there.
    let hostile = plugin_dir().join("hostile.wasm").display().to_string();
    let output = fwctl_run(&[
        "fleet",
        &hostile,
        "--sim-fleet",
        "6:connectx7-healthy",
        "--jobs",
        "1",
        "--format",
        "jsonl",
        "--",
        "leftovers",
    ]);
    let lines = jsonl(&stdout(&output));
    let (summary, results) = lines.split_last().unwrap();
    assert_eq!(summary["failed"], 0, "{summary}\n{}", stderr(&output));
    assert_eq!(results.len(), 6);
    for result in results {
        assert_eq!(result["values"]["leftover-bytes"], 0, "{result}");
    }
}

#[test]
fn each_plugin_gets_its_own_arguments_and_the_rest_get_those_after_the_separator() {
    let (hostile, cxl) = (plugin_dir().join("hostile.wasm"), plugin_dir().join("cxl-features.wasm"));
    let (hostile, cxl) = (hostile.to_str().unwrap(), cxl.to_str().unwrap());
    let statuses = |extra: &[&str]| {
        let mut argv = vec!["fleet", hostile, cxl, "--sim", "--format", "json"];
        argv.extend_from_slice(extra);
        let output = fwctl_run(&argv);
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&output), stderr(&output)));
        let mut seen: Vec<(String, String)> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["plugin"]["name"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
            .collect();
        seen.sort();
        seen.dedup();
        seen
    };
    // The same arguments for both: `stdout` means something to hostile only.
    let shared = statuses(&["--", "stdout"]);
    assert!(shared.contains(&("cxl-features".into(), "error".into())), "{shared:?}");
    // Its own for cxl-features (quoted as a shell would), the rest for hostile.
    let own = statuses(&["--plugin-args", "cxl-features=get 'cxl-test'", "--", "stdout"]);
    assert!(own.contains(&("cxl-features".into(), "ok".into())), "{own:?}");
    assert!(own.contains(&("hostile".into(), "ok".into())), "{own:?}");
    // A name that is no plugin of the run is a mistake, not ignored.
    let typo = fwctl_run(&["fleet", hostile, "--sim", "--plugin-args", "hostle=stdout"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        stderr(&typo).contains("`hostle`, which is not a plugin of this run (they are: hostile)"),
        "{}",
        stderr(&typo)
    );

    // The same from a fleet configuration file, as the systemd unit and the DaemonSet
    // give it; --plugin-args replaces a plugin's entry.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fleet.toml");
    std::fs::write(&config, "[plugins.cxl-features]\nargs = [\"get\", \"cxl-test\"]\n").unwrap();
    let from_file = statuses(&["--config", config.to_str().unwrap(), "--", "stdout"]);
    assert!(from_file.contains(&("cxl-features".into(), "ok".into())), "{from_file:?}");
    let replaced = statuses(&["--config", config.to_str().unwrap(), "--plugin-args", "cxl-features=stdout"]);
    assert!(replaced.contains(&("cxl-features".into(), "error".into())), "{replaced:?}");
    // A typo in the file is refused and names the file; so is a key it does not know.
    std::fs::write(&config, "[plugins.hostle]\nargs = []\n").unwrap();
    let typo = fwctl_run(&["fleet", hostile, "--sim", "--config", config.to_str().unwrap()]);
    assert_eq!(typo.status.code(), Some(2));
    let said = stderr(&typo);
    assert!(said.contains(&format!("the fleet configuration {} names `hostle`", config.display())), "{said}");
    std::fs::write(&config, "[plugins.hostile]\narguments = []\n").unwrap();
    let unknown = fwctl_run(&["fleet", hostile, "--sim", "--config", config.to_str().unwrap()]);
    assert_eq!(unknown.status.code(), Some(2));
    let said = stderr(&unknown);
    assert!(said.contains("fleet configuration") && said.contains("unknown field `arguments`"), "{said}");
}
