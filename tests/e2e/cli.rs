//! The command line as people use it, against the simulated default fleet.

use crate::common::{fwctl_run, json, stderr, stdout};

#[test]
fn without_fwctl_hardware_the_default_run_says_the_devices_are_simulated() {
    let has_hardware = std::fs::read_dir("/sys/class/fwctl").is_ok_and(|mut d| d.next().is_some());
    let output = fwctl_run(&["mlx5-diag.wasm", "--json"]);
    let report = json(&output);
    if has_hardware {
        assert_eq!(report["source"]["backend"], "kernel");
        assert_eq!(report["source"]["simulated"], false);
    } else {
        assert_eq!(report["source"]["backend"], "simulator", "{}", stderr(&output));
        assert_eq!(report["source"]["simulated"], true);
        assert_eq!(report["source"]["profile"], "default");
        let human = stdout(&fwctl_run(&["mlx5-diag.wasm"]));
        assert!(human.contains("devices: SIMULATED by fwctl-run"), "{human}");
    }
}

#[test]
fn list_shows_the_default_fleet_with_decoded_device_data() {
    let output = fwctl_run(&["list", "--sim", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = json(&output);
    let devices = doc["devices"].as_array().unwrap();
    let kinds: Vec<_> = devices.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["mlx5", "mlx5", "cxl"]);
    let names: Vec<_> = devices.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fwctl0", "fwctl1", "fwctl2"]);
    for mlx5 in &devices[..2] {
        assert_eq!(mlx5["driver"], "mlx5_core");
        assert_eq!(mlx5["device_data"].as_str().unwrap().len(), 16, "8 bytes of fwctl_info_mlx5");
        assert!(mlx5["decoded"]["uid"].as_u64().unwrap() > 0, "the driver binds a firmware uid: {mlx5:#}");
    }
    assert_eq!(devices[2]["driver"], "cxl_mem");
    assert_eq!(devices[2]["device_data"], "", "CXL has no device data");
    assert!(devices[2]["cxl_memdev"].as_str().unwrap().starts_with("mem"));

    let table = stdout(&fwctl_run(&["list", "--sim"]));
    assert!(table.starts_with("SIMULATED devices"), "{table}");
    assert!(table.contains("fwctl2   cxl"), "{table}");
}

#[test]
fn inspect_shows_manifest_world_and_grant_without_running() {
    let output = fwctl_run(&["inspect", "mlx5-diag.wasm", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["manifest"]["name"], "mlx5-diag");
    assert_eq!(doc["manifest"]["devices"]["mlx5"]["scope"], "debug-read-only");
    assert_eq!(doc["world"]["matches"], true);
    assert!(doc["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(doc["exports"].as_array().unwrap().iter().any(|e| e == "run"), "{doc:#}");
    assert!(doc["imports"].as_array().unwrap().iter().any(|i| i == "fwctl:plugin/device@0.1.2"), "{doc:#}");
    assert_eq!(doc["grant"]["devices"]["mlx5"]["scope"], "debug-read-only");
    assert_eq!(doc["grant"]["policy_entry"], "unsigned");

    let text = stdout(&fwctl_run(&["inspect", "mlx5-diag.wasm"]));
    assert!(text.contains("world:   fwctl:plugin/plugin@0.1.2 (matches)"), "{text}");
}

#[test]
fn raw_rpc_returns_the_firmware_answer_and_kernel_errnos() {
    // QUERY_ISSI (0x010a): allowed at debug-read-only; 112 bytes of response.
    let query_issi = "010a0000 00000000 00000000 00000000";
    let output =
        fwctl_run(&["rpc", "fwctl0", "--sim", "--json", "--out-len", "112", "--scope", "debug-read-only", query_issi]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["out_len"], 112);
    assert_eq!(&doc["response"].as_str().unwrap()[..2], "00", "firmware status OK");
    assert_eq!(doc["simulated"], true);

    // The same query at configuration scope is refused by the driver: EBADMSG.
    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "--scope", "configuration", query_issi]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("EBADMSG: the driver does not allow this command at this scope"),
        "{}",
        stderr(&output)
    );

    // A tainting scope needs a policy that allows tainting on this host (the built-in one
    // does not), as for plugins; nothing is sent.
    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "--allow-taint", "--scope", "debug-write", query_issi]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("policy built-in sets allow-taint = false"), "{}", stderr(&output));
    // And the operator's --allow-taint for this call.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "policy-version = 1\nallow-taint = true\n").unwrap();
    let p = policy.to_str().unwrap();
    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "--policy", p, "--scope", "debug-write", query_issi]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("scope debug-write taints the kernel; pass --allow-taint"), "{}", stderr(&output));
    let output =
        fwctl_run(&["rpc", "fwctl0", "--sim", "--policy", p, "--allow-taint", "--scope", "debug-write", query_issi]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // An out_len the kernel would refuse is refused before anything is allocated.
    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "--out-len", "4294967295", query_issi]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--out-len 4294967295 is above fwctl's 2097152-byte limit"),
        "{}",
        stderr(&output)
    );

    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "nothex"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not valid hex"), "{}", stderr(&output));
}

#[test]
fn device_selection_runs_only_the_named_devices_and_rejects_unknown_ones() {
    let report = json(&fwctl_run(&["mlx5-diag.wasm", "--sim", "--json", "--device", "fwctl1"]));
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["device"]["name"], "fwctl1");

    let output = fwctl_run(&["mlx5-diag.wasm", "--sim", "--device", "fwctl9"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no device `fwctl9`; present: fwctl0, fwctl1, fwctl2"), "{}", stderr(&output));
}

#[test]
fn an_unknown_plugin_name_lists_where_it_was_looked_for() {
    let output = fwctl_run(&["no-such-plugin.wasm", "--sim"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("plugin `no-such-plugin.wasm` not found; looked in:"), "{err}");
    assert!(err.contains("e2e/plugins/no-such-plugin.wasm"), "{err}");
}

#[test]
fn a_second_run_loads_the_compiled_component_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();
    let first = json(&fwctl_run(&["cxl-features.wasm", "--sim", "--json", "--cache-dir", cache]));
    assert_eq!(first["compile"]["cache"], "miss");
    let second = json(&fwctl_run(&["cxl-features.wasm", "--sim", "--json", "--cache-dir", cache]));
    assert_eq!(second["compile"]["cache"], "hit");
    let off = json(&fwctl_run(&["cxl-features.wasm", "--sim", "--json", "--no-cache"]));
    assert_eq!(off["compile"]["cache"], "disabled");
}

#[test]
fn help_documents_the_exit_status() {
    let help = stdout(&fwctl_run(&["--help"]));
    assert!(help.contains("Exit status:"), "{help}");
    assert!(help.contains("1  every device was checked and at least one finding"), "{help}");
}

#[test]
fn mlx5_diag_reports_what_the_profiles_describe() {
    let output = fwctl_run(&["mlx5-diag.wasm", "--sim", "--json"]);
    assert_eq!(output.status.code(), Some(0), "the default fleet is healthy: {}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["schema"], "fwctl-run.report/v1");
    assert_eq!(report["plugin"]["name"], "mlx5-diag");
    let expected = [
        ("fwctl0", "MT_0000000834", "28.39.1002", "0x1021", "400G (4 lanes)", 56.5, "Gen5 x16"),
        ("fwctl1", "MT_0000000359", "22.36.1010", "0x101d", "100G (4 lanes)", 61.0, "Gen4 x16"),
    ];
    for (node, psid, fw, device_id, speed, celsius, pcie) in expected {
        let run = crate::common::device_run(&report, node);
        assert_eq!(run["status"], "completed", "{run:#}");
        let facts = &run["facts"];
        assert_eq!(facts["psid"], psid);
        assert_eq!(facts["firmware-version"], fw);
        assert_eq!(facts["device-id"], device_id);
        assert_eq!(facts["port-count"], 2);
        assert_eq!(facts["port-type"], "Ethernet");
        for port in ["port1", "port2"] {
            assert_eq!(facts[format!("{port}-admin-state")], "up");
            assert_eq!(facts[format!("{port}-oper-state")], "up");
            assert_eq!(facts[format!("{port}-speed")], speed);
        }
        assert_eq!(facts["asic-temperature-celsius"], celsius);
        assert_eq!(facts["pcie-link"], pcie);
        let worrying: Vec<_> = run["findings"].as_array().unwrap().iter().filter(|f| f["severity"] != "info").collect();
        assert!(worrying.is_empty(), "healthy: nothing but the first run's baseline: {worrying:?}");
        assert_eq!(run["denials"], serde_json::json!([]), "the plugin stays inside its grant");
    }
    assert_eq!(crate::common::device_run(&report, "fwctl2")["status"], "not-applicable");
}

#[test]
fn an_unhealthy_card_raises_findings_and_exit_status_one() {
    let healthy =
        std::fs::read_to_string(crate::common::workspace_root().join("devices/profiles/connectx7-healthy.toml"))
            .unwrap();
    let sick = healthy
        .replacen("oper_up = true", "oper_up = false", 1) // port 1 link down, admin up
        .replace("celsius = 56.5", "celsius = 111.0") // ASIC above its 105 °C warning threshold
        .replace("width_active = 16", "width_active = 8"); // PCIe trained at half width
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sick.toml");
    std::fs::write(&path, sick).unwrap();
    let sim = format!("--sim={}", path.display());
    let output = fwctl_run(&["mlx5-diag.wasm", &sim, "--json"]);
    assert_eq!(output.status.code(), Some(1), "findings of warning or worse: {}", stderr(&output));
    let report = json(&output);
    let run = crate::common::device_run(&report, "fwctl0");
    let codes: Vec<(&str, &str)> = run["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .filter(|(_, severity)| *severity != "info")
        .collect();
    assert_eq!(
        codes,
        [("mlx5.link.down", "error"), ("mlx5.pcie.degraded", "warning"), ("mlx5.temperature.high", "warning")]
    );
    assert_eq!(run["facts"]["port1-oper-state"], "down");
    assert_eq!(report["exit"], "findings");

    // A threshold from the command line turns the same heat critical.
    let output = fwctl_run(&["mlx5-diag.wasm", &sim, "--json", "--", "--temp-critical-celsius", "110"]);
    let report = json(&output);
    let heat = crate::common::device_run(&report, "fwctl0")["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "mlx5.temperature.high")
        .cloned()
        .unwrap();
    assert_eq!(heat["severity"], "critical");
    assert_eq!(heat["detail"]["threshold-celsius"], 110.0);

    let human = stdout(&fwctl_run(&["mlx5-diag.wasm", &sim]));
    assert!(human.contains("ERROR    mlx5.link.down  port 1 is administratively up but its link is down"), "{human}");
}

#[test]
fn cxl_features_lists_every_feature_with_the_scope_a_set_needs() {
    let output = fwctl_run(&["cxl-features.wasm", "--sim", "--json", "--", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let run = crate::common::device_run(&report, "fwctl2");
    assert_eq!(run["facts"]["feature-count"], 7);
    assert_eq!(run["facts"]["settable-feature-count"], 4);
    let scopes: Vec<(&str, &str)> = run["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["detail"]["uuid"].as_str().unwrap(), f["detail"]["set-scope"].as_str().unwrap()))
        .collect();
    assert_eq!(
        scopes,
        [
            ("ffffffff-ffff-ffff-ffff-ffffffffffff", "debug-write"),
            ("96dad7d6-fde8-482b-a733-75774e06db8a", "kernel-owned"),
            ("e5b13f22-2328-4a14-b8ba-b9691e893386", "kernel-owned"),
            ("7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e", "debug-write-full"),
            ("1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d", "not-changeable"),
            ("3b9d2f64-0e71-4c85-a1f3-5d6e7f809a1b", "debug-write"),
            ("a4c3e1f0-5b2d-4e8a-9c7b-6d5e4f3a2b1c", "debug-write"),
        ]
    );
    let test_feature = &run["findings"][0]["detail"];
    assert_eq!((test_feature["get-size"].as_u64(), test_feature["set-size"].as_u64()), (Some(4), Some(4)));
    assert_eq!(test_feature["effects"], "0x0201");

    let output = fwctl_run(&["cxl-features.wasm", "--sim", "--json", "--", "frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    let run = crate::common::device_run(&json(&output), "fwctl2").clone();
    assert_eq!(run["kind"], "plugin-error");
    assert!(run["cause"].as_str().unwrap().contains("unknown command `frobnicate`"), "{run:#}");
}
