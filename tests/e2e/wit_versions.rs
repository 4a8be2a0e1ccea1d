//! The WIT's compatibility promise: a plugin built against an earlier compatible version
//! of `fwctl:plugin` runs on this host unchanged.

use crate::common::{device_run, fwctl_run, json, stderr};

#[test]
fn a_plugin_built_against_wit_0_1_0_still_runs() {
    let output = fwctl_run(&["wit-0.1.0.wasm", "--sim=connectx7-healthy", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let run = device_run(&report, "fwctl0");
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(run["findings"][0]["code"], "wit-0.1.0.ran");
    assert_eq!(run["findings"][0]["detail"]["length"], 112);

    let inspect = fwctl_run(&["inspect", "wit-0.1.0.wasm", "--json"]);
    let doc = json(&inspect);
    assert!(doc["imports"].as_array().unwrap().iter().any(|i| i == "fwctl:plugin/device@0.1.0"), "{doc:#}");
    assert_eq!(doc["world"]["matches"], true, "{doc:#}");
}
