//! cxl-features on the simulator, tested from its own crate with `fwctl_run::testing`:
//! the plugin is built for wasm32-wasip2 and run as `fwctl-run` would run it.

use std::path::PathBuf;
use std::sync::OnceLock;

use fwctl_run::outcome::RunStatus;
use fwctl_run::policy::Policy;
use fwctl_run::testing::{Simulation, build_plugin};

fn plugin() -> &'static PathBuf {
    static PLUGIN: OnceLock<PathBuf> = OnceLock::new();
    PLUGIN.get_or_init(|| build_plugin(env!("CARGO_MANIFEST_DIR")).expect("the plugin builds"))
}

#[test]
fn lists_every_feature_of_the_simulated_memdev() {
    let runs = Simulation::profile("cxl-type3").unwrap().run(plugin(), &["list"]).unwrap();
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.fact("feature-count").and_then(fwctl_run::outcome::Value::as_u64), Some(7));
    assert_eq!(run.finding_codes().iter().filter(|c| **c == "cxl.feature").count(), 7);
}

#[test]
fn provisioning_round_trips_under_a_policy_that_allows_it() {
    let policy = Policy::from_toml(
        "policy-version = 1\nallow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write\" }\nwrites = [\"cxl\"]",
        "test policy",
    )
    .unwrap();
    let sim = Simulation::profile("cxl-type3").unwrap().with_policy(policy).allow_taint();
    let runs = sim.run(plugin(), &["set", "cxl-test", "u32:0x12345678"]).unwrap();
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.fact("after").and_then(|v| v.as_str()), Some("78563412"));
    assert_eq!(run.finding_codes(), ["cxl.set.applied"]);
}

#[test]
fn without_the_grant_a_set_is_refused_by_the_host() {
    let runs = Simulation::profile("cxl-type3").unwrap().run(plugin(), &["set", "cxl-test", "u32:1"]).unwrap();
    let run = &runs[0];
    assert!(
        matches!(&run.status, RunStatus::Failed { cause, .. } if cause.contains("and a granted write, which this run does not have")),
        "{run:?}"
    );
    assert_eq!(run.output.denials.len(), 1);
}
