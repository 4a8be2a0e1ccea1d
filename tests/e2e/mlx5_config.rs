//! mlx5-config: ConnectX non-volatile configuration queried, set and checked against a
//! baseline on simulated firmware, through the binary as an operator runs it. A write
//! needs a policy that grants it; every write is on the audit trail with its item.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{fwctl_run, json, plugin_dir, stderr, stdout, workspace_root};
use crate::golden::{assert_golden, check, check_with};

/// The provisioning policy of `deploy/`: writes on mlx5 for the signer `example-vendor`.
fn provisioning_policy() -> String {
    workspace_root().join("deploy/policy/mlx5-provisioning.toml").display().to_string()
}

/// mlx5-config signed with the TEST-ONLY vendor key, and a trust store naming that key
/// `example-vendor`, in `dir`.
fn signed_plugin_and_trust(dir: &Path) -> (PathBuf, PathBuf) {
    let plugin = dir.join("mlx5-config.wasm");
    let key = |ext: &str| workspace_root().join(format!("tests/keys/TEST-ONLY-vendor.{ext}"));
    let signed = fwctl_run(&[
        "sign",
        plugin_dir().join("mlx5-config.wasm").to_str().unwrap(),
        "--key",
        key("key").to_str().unwrap(),
        "-o",
        plugin.to_str().unwrap(),
    ]);
    assert_eq!(signed.status.code(), Some(0), "{}", stderr(&signed));
    let trust = dir.join("trust");
    std::fs::create_dir_all(&trust).unwrap();
    std::fs::copy(key("pub"), trust.join("example-vendor.pub")).unwrap();
    std::fs::write(
        trust.join("trust.toml"),
        "trust-version = 1\n[[signer]]\nname = \"example-vendor\"\n[[signer.key]]\nfile = \"example-vendor.pub\"\n",
    )
    .unwrap();
    (plugin, trust)
}

/// Runs `plugin` with `options` and `args` on `profile` with a fresh audit log: the
/// report and the audit lines.
fn run_audited(plugin: &str, profile: &str, options: &[&str], args: &[&str]) -> (Value, Vec<Value>, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let sim = format!("--sim={profile}");
    let mut argv = vec![plugin, sim.as_str(), "--json", "--audit", audit.to_str().unwrap()];
    argv.extend_from_slice(options);
    argv.push("--");
    argv.extend_from_slice(args);
    let output = fwctl_run(&argv);
    let lines =
        std::fs::read_to_string(&audit).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (json(&output), lines, output.status.code())
}

fn findings(report: &Value) -> Vec<(String, String)> {
    report["runs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap().to_string(), f["summary"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn query_shows_default_current_and_next_boot_values() {
    check("mlx5-config", "query-healthy", "mlx5-config.wasm", "connectx7-healthy", &["query"]);
    check("mlx5-config", "query-vpi-pending", "mlx5-config.wasm", "connectx7-vpi-pending", &[]);
    check(
        "mlx5-config",
        "query-some",
        "mlx5-config.wasm",
        "connectx7-vpi-pending",
        &["query", "link_type_p2", "NUM_OF_VFS"],
    );
}

#[test]
fn a_dry_run_lists_the_writes_and_sends_none() {
    check(
        "mlx5-config",
        "set-dry-run",
        "mlx5-config.wasm",
        "connectx7-healthy",
        &["set", "NUM_OF_VFS=16", "CQE_COMPRESSION=AGGRESSIVE", "--dry-run"],
    );
    let (_, audit, code) =
        run_audited("mlx5-config.wasm", "connectx7-healthy", &[], &["set", "NUM_OF_VFS=16", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(audit.iter().all(|l| l["effect"] == "read"), "nothing but reads: {audit:#?}");
}

#[test]
fn set_is_refused_under_the_default_policy_before_the_write_reaches_the_device() {
    let (report, audit, code) = run_audited("mlx5-config.wasm", "connectx7-healthy", &[], &["set", "NUM_OF_VFS=16"]);
    assert_eq!(code, Some(2), "{report:#}");
    let run = &report["runs"][0];
    assert!(run["cause"].as_str().unwrap().contains("writes = [\"mlx5\"]"), "{run:#}");
    assert!(run["denials"][0].as_str().unwrap().contains("grants no writes on mlx5 devices"), "{run:#}");
    let writes: Vec<&Value> = audit.iter().filter(|l| l["effect"] == "write").collect();
    assert_eq!(writes.len(), 1, "one write attempt: {audit:#?}");
    assert_eq!(writes[0]["outcome"], "denied");
    assert!(
        writes[0]["action"].as_str().unwrap().contains("MNVDA (0x9024), item nv_global_pci_conf (0x00000080)"),
        "{:#}",
        writes[0]
    );
}

#[test]
fn set_under_a_granting_policy_writes_reads_back_and_says_a_reset_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let (plugin, trust) = signed_plugin_and_trust(dir.path());
    let (plugin, trust, policy) = (plugin.display().to_string(), trust.display().to_string(), provisioning_policy());
    let options = ["--policy", &policy, "--trust", &trust];
    // Three items change; CQE compression goes back to what the device runs now.
    let args = ["set", "NUM_OF_VFS=32", "CQE_COMPRESSION=BALANCED", "LINK_TYPE_P1=IB", "LINK_TYPE_P2=IB"];
    check_with("mlx5-config", "set-granted", &plugin, "connectx7-vpi-pending", &options, &args);

    let (report, audit, code) = run_audited(&plugin, "connectx7-vpi-pending", &options, &args);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(findings(&report).iter().any(|(code, _)| code == "mlx5.config.reset-required"));
    // The audit lines of the writes, with what varies between runs taken out.
    let writes: Vec<String> = audit
        .iter()
        .filter(|l| l["effect"] == "write")
        .map(|l| {
            let mut l = l.clone();
            for varying in ["time", "seq", "duration_us"] {
                l[varying] = "<varies>".into();
            }
            l["plugin"]["sha256"] = "<digest>".into();
            serde_json::to_string(&l).unwrap()
        })
        .collect();
    assert_eq!(writes.len(), 6, "sent and its outcome, for each of the three items that change");
    assert_golden("mlx5-config/set-granted-audit.jsonl", &(writes.join("\n") + "\n"));
}

#[test]
fn read_back_catches_firmware_that_acknowledges_a_write_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (plugin, trust) = signed_plugin_and_trust(dir.path());
    let (plugin, trust, policy) = (plugin.display().to_string(), trust.display().to_string(), provisioning_policy());
    let (report, audit, code) = run_audited(
        &plugin,
        "connectx7-nv-writes-lost",
        &["--policy", &policy, "--trust", &trust],
        &["set", "SRIOV_EN=False"],
    );
    assert_eq!(code, Some(1), "findings: {report:#}");
    let found = findings(&report);
    assert!(
        found.iter().any(|(code, summary)| code == "mlx5.config.not-applied"
            && summary.contains("SRIOV_EN=False but the next-boot value reads back as True")),
        "{found:?}"
    );
    assert!(!found.iter().any(|(code, _)| code == "mlx5.config.reset-required"), "{found:?}");
    assert!(
        audit.iter().any(|l| l["effect"] == "write" && l["outcome"] == "ok"),
        "the write was sent and acknowledged"
    );
}

#[test]
fn firmware_limits_and_read_only_items_are_refused_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let (plugin, trust) = signed_plugin_and_trust(dir.path());
    let (plugin, trust, policy) = (plugin.display().to_string(), trust.display().to_string(), provisioning_policy());
    let options = ["--policy", policy.as_str(), "--trust", trust.as_str()];
    for (profile, args, why) in [
        (
            "connectx7-healthy",
            &["set", "NUM_OF_VFS=200"][..],
            "NUM_OF_VFS=200 is more than this device allows per PF (127)",
        ),
        ("connectx7-healthy", &["set", "LINK_TYPE_P1=IB"][..], "LINK_TYPE_P1 is not supported by this device"),
        ("connectx7-healthy", &["set", "LINK_TYPE_P1=VPI"][..], "LINK_TYPE_P1 takes one of IB, ETH, not `VPI`"),
    ] {
        let (report, audit, code) = run_audited(&plugin, profile, &options, args);
        assert_eq!(code, Some(2), "{report:#}");
        assert!(report["runs"][0]["cause"].as_str().unwrap().contains(why), "{why}: {report:#}");
        assert!(!audit.iter().any(|l| l["effect"] == "write"), "{why}: no write was attempted");
    }
}

#[test]
fn check_reports_each_deviation_from_the_baseline_and_counts_them() {
    let baseline = "[expect]\nSRIOV_EN = true\nNUM_OF_VFS = 16\nCQE_COMPRESSION = \"BALANCED\"\n\
                    [psid.MT_0000000838]\nCQE_COMPRESSION = \"AGGRESSIVE\"\nLINK_TYPE_P2 = \"ETH\"\n";
    check("mlx5-config", "check-drift", "mlx5-config.wasm", "connectx7-vpi-pending", &["check", "--expect", baseline]);
    check(
        "mlx5-config",
        "check-drift-healthy",
        "mlx5-config.wasm",
        "connectx7-healthy",
        &["check", "--expect", baseline],
    );

    // The drift is a metric an operator alerts on, per device, in the textfile too.
    let dir = tempfile::tempdir().unwrap();
    let output = fwctl_run(&[
        "fleet",
        "mlx5-config.wasm",
        "--sim=connectx7-vpi-pending",
        "--format",
        "openmetrics",
        "--textfile",
        dir.path().to_str().unwrap(),
        "--",
        "check",
        "--expect",
        baseline,
    ]);
    assert_eq!(output.status.code(), Some(1), "deviations are findings: {}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains(r#"fwctl_config_drift_parameters{device="mlx5_0",plugin="mlx5-config"} 2"#), "{text}");
    let textfile = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    assert!(std::fs::read_to_string(textfile).unwrap().contains("fwctl_config_drift_parameters{"));
}
