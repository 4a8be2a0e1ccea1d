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
    assert!(doc["imports"].as_array().unwrap().iter().any(|i| i == "fwctl:plugin/device@0.1.0"), "{doc:#}");
    assert_eq!(doc["grant"]["scopes"]["mlx5"], "debug-read-only");

    let text = stdout(&fwctl_run(&["inspect", "mlx5-diag.wasm"]));
    assert!(text.contains("world:   fwctl:plugin/plugin@0.1.0 (matches)"), "{text}");
}

#[test]
fn raw_rpc_returns_the_firmware_answer_and_kernel_errnos() {
    // QUERY_ISSI (0x010a): allowed at debug-read-only; 112 bytes of response.
    let query_issi = "010a0000 00000000 00000000 00000000";
    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "--json", "--out-len", "112", "--scope", "debug-read-only", query_issi]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["out_len"], 112);
    assert_eq!(&doc["response"].as_str().unwrap()[..2], "00", "firmware status OK");
    assert_eq!(doc["simulated"], true);

    // The same query at configuration scope is refused by the driver: EBADMSG.
    let output = fwctl_run(&["rpc", "fwctl0", "--sim", "--scope", "configuration", query_issi]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("EBADMSG"), "{}", stderr(&output));

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
