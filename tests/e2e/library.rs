//! The library API end to end: load → grant → discover → run, without the binary.

use std::sync::Arc;

use fwctl_run::devices::sim::{Fleet, SimBackend};
use fwctl_run::devices::{Backend, DeviceKind, Scope};
use fwctl_run::outcome::{RunStatus, Value};
use fwctl_run::plugin::Plugin;
use fwctl_run::policy::{self, OperatorOptions, Policy};
use fwctl_run::runner::run_on_devices;
use fwctl_run::sandbox::{Sandbox, SandboxOptions};

use crate::common::{cache_dir, plugin_dir};

fn run(
    plugin_file: &str,
    backend: Arc<dyn Backend>,
    args: &[&str],
) -> Vec<fwctl_run::outcome::DeviceRun> {
    let plugin = Plugin::load(&plugin_dir().join(plugin_file)).expect("plugin loads");
    let grant = policy::grant(
        &plugin.manifest,
        &Policy::builtin(),
        &OperatorOptions::default(),
    )
    .expect("granted");
    let sandbox = Sandbox::new(&SandboxOptions {
        cache_dir: Some(cache_dir()),
        ..Default::default()
    })
    .unwrap();
    let prepared = sandbox.prepare(&plugin.bytes).expect("prepares");
    let devices = backend.discover().unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run_on_devices(
        &plugin.manifest.name,
        &prepared,
        &grant,
        backend,
        &devices,
        &args,
        None,
    ))
}

#[test]
fn every_device_gets_its_own_store_and_capability() {
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_fleet());
    let runs = run("hostile.wasm", backend, &["escalate"]);
    assert_eq!(runs.len(), 3);
    for run in &runs {
        assert_eq!(run.status, RunStatus::Completed, "{run:?}");
        // Each run saw exactly its own device in the refusal text.
        let finding = &run.output.findings[0];
        assert!(
            finding
                .summary
                .contains(&format!("granted on {}", run.device.name)),
            "{finding:?}"
        );
        assert_eq!(run.rpcs, 1);
    }
}

#[test]
fn the_grant_follows_the_manifest_per_device_kind() {
    let plugin = Plugin::load(&plugin_dir().join("mlx5-diag.wasm")).unwrap();
    let grant = policy::grant(
        &plugin.manifest,
        &Policy::builtin(),
        &OperatorOptions::default(),
    )
    .unwrap();
    assert_eq!(
        grant.scope_for(DeviceKind::Mlx5),
        Some(Scope::DebugReadOnly)
    );
    assert_eq!(grant.scope_for(DeviceKind::Cxl), None);

    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_fleet());
    let runs = run("mlx5-diag.wasm", backend, &[]);
    assert!(
        matches!(&runs[2].status, RunStatus::NotApplicable { reason } if reason == "mlx5-diag does not handle cxl devices")
    );
    assert_eq!(runs[2].rpcs, 0);
}

#[test]
fn a_device_removed_before_the_run_is_a_failed_run_not_a_crash() {
    let sim = Arc::new(SimBackend::new(&Fleet::builtin_default()).unwrap());
    let backend: Arc<dyn Backend> = sim.clone();
    let plugin = Plugin::load(&plugin_dir().join("hostile.wasm")).unwrap();
    let grant = policy::grant(
        &plugin.manifest,
        &Policy::builtin(),
        &OperatorOptions::default(),
    )
    .unwrap();
    let sandbox = Sandbox::new(&SandboxOptions::default()).unwrap();
    let prepared = sandbox.prepare(&plugin.bytes).unwrap();
    let devices = backend.discover().unwrap();
    assert!(sim.remove("fwctl1"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = runtime.block_on(run_on_devices(
        "hostile",
        &prepared,
        &grant,
        backend,
        &devices,
        &["ambient".into()],
        None,
    ));
    match &runs[1].status {
        RunStatus::Failed { kind, cause } => {
            assert_eq!(kind, "device-gone");
            assert_eq!(cause, "hostile on fwctl1: the device is gone");
        }
        other => panic!("expected a failed run, got {other:?}"),
    }
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[0].output.facts["network"], Value::Boolean(false));
}

/// Runs a plugin on one built-in profile's single device.
fn run_profile(plugin: &str, profile: &str, args: &[&str]) -> fwctl_run::outcome::DeviceRun {
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::new(&Fleet::builtin(profile).unwrap().unwrap()).unwrap());
    run(plugin, backend, args).remove(0)
}

#[test]
fn the_library_path_decodes_the_same_values_as_the_profile() {
    let backend: Arc<dyn Backend> = Arc::new(
        SimBackend::new(&Fleet::builtin("connectx6dx-healthy").unwrap().unwrap()).unwrap(),
    );
    let runs = run("mlx5-diag.wasm", backend, &["--no-pcie"]);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let fact = |key: &str| {
        run.output
            .facts
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no fact {key}: {:?}", run.output.facts))
    };
    assert_eq!(fact("psid"), Value::Text("MT_0000000359".into()));
    assert_eq!(fact("firmware-version"), Value::Text("22.36.1010".into()));
    assert_eq!(fact("port-count"), Value::Unsigned(2));
    assert_eq!(fact("port2-speed"), Value::Text("100G (4 lanes)".into()));
    assert_eq!(fact("asic-temperature-celsius"), Value::Real(61.0));
    assert!(
        !run.output.facts.contains_key("pcie-link"),
        "--no-pcie skipped the section"
    );
    assert!(run.output.findings.is_empty());
    // MGIR, QUERY_ADAPTER, QUERY_HCA_CAP, MCAM, PCAM; per port PDDR, PAOS, PTYS, PMTU,
    // three PPCNT groups, MCIA and the module's MTMP (9 × 2); then the ASIC's MTMP.
    assert_eq!(run.rpcs, 5 + 2 * 9 + 1);
    let run = &run_profile("mlx5-diag.wasm", "connectx6dx-healthy", &["--no-pcie", "--no-counters", "--no-modules"]);
    // The per-port sections shrink to PDDR, PAOS, PTYS and PMTU.
    assert_eq!(run.rpcs, 5 + 2 * 4 + 1);
}
