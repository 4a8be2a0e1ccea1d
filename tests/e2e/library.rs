//! The library API end to end: load → grant → discover → run, without the binary.

use std::sync::Arc;

use fwctl_run::admission::{Admission, Admitted};
use fwctl_run::audit::AuditLog;
use fwctl_run::devices::sim::{Fleet, SimBackend};
use fwctl_run::devices::{Backend, DeviceKind, Scope};
use fwctl_run::outcome::{FailureKind, RunStatus, Value};
use fwctl_run::policy::Policy;
use fwctl_run::runner::{Job, run_on_devices};
use fwctl_run::sandbox::{Sandbox, SandboxOptions};
use fwctl_run::signing::TrustStore;

use crate::common::{audit_log, cache_dir, plugin_dir};

/// `plugin_file` through admission as the binary does it: the built-in policy, no trust
/// store, refusals on the suite's audit log.
fn admitted(plugin_file: &str) -> Admitted {
    let (policy, trust) = (Policy::builtin(), TrustStore::empty());
    let audit = Arc::new(AuditLog::open(&audit_log()).unwrap());
    let name = plugin_dir().join(plugin_file);
    Admission::new(&policy, &trust).admit(name.to_str().unwrap(), &audit).expect("admitted")
}

fn run(plugin_file: &str, backend: Arc<dyn Backend>, args: &[&str]) -> Vec<fwctl_run::outcome::DeviceRun> {
    let Admitted { plugin, grant, .. } = admitted(plugin_file);
    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: Some(cache_dir()), ..Default::default() }).unwrap();
    let prepared = sandbox.prepare(&plugin).expect("prepares");
    let devices = backend.discover().unwrap();
    let args: Vec<String> = args.iter().map(std::string::ToString::to_string).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run_on_devices(
        &Job {
            plugin_name: &plugin.manifest.name,
            prepared: &prepared,
            grant: &grant,
            args: &args,
            audit: None,
            state: None,
        },
        backend,
        &devices,
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
        assert!(finding.summary.contains(&format!("granted on {}", run.device.name)), "{finding:?}");
        assert_eq!(run.rpcs, 1);
    }
}

#[test]
fn the_grant_follows_the_manifest_per_device_kind() {
    let Admitted { grant, .. } = admitted("mlx5-diag.wasm");
    assert_eq!(grant.scope_for(DeviceKind::Mlx5), Some(Scope::DebugReadOnly));
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
    let Admitted { plugin, grant, .. } = admitted("hostile.wasm");
    let sandbox = Sandbox::new(&SandboxOptions::default()).unwrap();
    let prepared = sandbox.prepare(&plugin).unwrap();
    let devices = backend.discover().unwrap();
    assert!(sim.remove("fwctl1"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = runtime.block_on(run_on_devices(
        &Job {
            plugin_name: "hostile",
            prepared: &prepared,
            grant: &grant,
            args: &["ambient".into()],
            audit: None,
            state: None,
        },
        backend,
        &devices,
    ));
    match &runs[1].status {
        RunStatus::Failed { kind, cause } => {
            assert_eq!(*kind, FailureKind::DeviceGone);
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
    let backend: Arc<dyn Backend> =
        Arc::new(SimBackend::new(&Fleet::builtin("connectx6dx-healthy").unwrap().unwrap()).unwrap());
    let runs = run("mlx5-diag.wasm", backend, &["--no-pcie"]);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let fact = |key: &str| {
        run.output.facts.get(key).cloned().unwrap_or_else(|| panic!("no fact {key}: {:?}", run.output.facts))
    };
    assert_eq!(fact("psid"), Value::Text("MT_0000000359".into()));
    assert_eq!(fact("firmware-version"), Value::Text("22.36.1010".into()));
    assert_eq!(fact("port-count"), Value::Unsigned(2));
    assert_eq!(fact("port2-speed"), Value::Text("100G (4 lanes)".into()));
    assert_eq!(fact("asic-temperature-celsius"), Value::Real(61.0));
    assert!(!run.output.facts.contains_key("pcie-link"), "--no-pcie skipped the section");
    // No state is kept here: the counters are a baseline that cannot be kept, and said so.
    let codes: Vec<&str> = run.output.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["mlx5.counters.baseline", "mlx5.counters.not-kept"]);
    // MGIR, QUERY_ADAPTER, QUERY_HCA_CAP, MCAM, PCAM, MSGI; per port PDDR, PAOS, PTYS, PMTU,
    // PPLM, an SLRG a lane (four), three PPCNT groups, MCIA and the module's MTMP, then its
    // diagnostics (identity, thresholds, and the monitors with the supply voltage: three
    // more MCIA reads) (17 × 2); then the ASIC's MTMP.
    assert_eq!(run.rpcs, 6 + 2 * 17 + 1);
    let run = &run_profile("mlx5-diag.wasm", "connectx6dx-healthy", &["--no-pcie", "--no-counters", "--no-modules"]);
    // The per-port sections shrink to PDDR, PAOS, PTYS, PMTU, PPLM and the lanes' SLRG.
    assert_eq!(run.rpcs, 6 + 2 * 9 + 1);
    let run = &run_profile(
        "mlx5-diag.wasm",
        "connectx6dx-healthy",
        &["--no-pcie", "--no-counters", "--no-modules", "--no-eye"],
    );
    assert_eq!(run.rpcs, 6 + 2 * 5 + 1, "--no-eye skips SLRG");
}

/// A backend with one bnxt and one pds device that counts every RPC it is handed.
struct CountingBackend {
    rpcs: Arc<std::sync::atomic::AtomicUsize>,
}

struct CountingHandle {
    kind: DeviceKind,
    rpcs: Arc<std::sync::atomic::AtomicUsize>,
}

impl Backend for CountingBackend {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn discover(
        &self,
    ) -> Result<Vec<fwctl_run::devices::DeviceDescriptor>, fwctl_run::devices::backend::DiscoveryError> {
        let device = |name: &str, kind: DeviceKind, driver: &str| fwctl_run::devices::DeviceDescriptor {
            name: name.into(),
            kind,
            parent: "0000:81:00.0".into(),
            pci_address: Some("0000:81:00.0".into()),
            cxl_memdev: None,
            driver: Some(driver.into()),
            rdma_device: None,
            node: format!("/dev/fwctl/{name}"),
            model: None,
            simulated: false,
            serial: None,
        };
        Ok(vec![device("fwctl0", DeviceKind::Bnxt, "bnxt_en"), device("fwctl1", DeviceKind::Pds, "pds_core")])
    }

    fn open(
        &self,
        device: &fwctl_run::devices::DeviceDescriptor,
    ) -> Result<Box<dyn fwctl_run::devices::DeviceHandle>, fwctl_run::devices::DeviceError> {
        // The node's kind now, whatever the caller discovered earlier.
        let now =
            self.discover().unwrap().into_iter().find(|d| d.name == device.name).ok_or(nix::errno::Errno::ENODEV)?;
        Ok(Box::new(CountingHandle { kind: now.kind, rpcs: self.rpcs.clone() }))
    }
}

impl fwctl_run::devices::DeviceHandle for CountingHandle {
    fn info(&mut self) -> Result<fwctl_run::devices::FwctlInfo, fwctl_run::devices::DeviceError> {
        Ok(fwctl_run::devices::FwctlInfo { device_type: self.kind.raw(), device_data: Vec::new() })
    }

    fn rpc(&mut self, _: u32, _: &[u8], _: &mut [u8]) -> Result<usize, fwctl_run::devices::DeviceError> {
        self.rpcs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(0)
    }

    fn may_block(&self) -> bool {
        false
    }
}

#[test]
fn no_plugin_bytes_reach_a_bnxt_or_pds_driver_whatever_the_grant() {
    // A pds request whose `in.payload` and `out.payload` point into the host process, and
    // a bnxt HWRM_PORT_QSTATS (0x0075) whose statistics address does the same.
    let mut pds = vec![0u8; 48];
    pds[0..4].copy_from_slice(&1u32.to_le_bytes());
    pds[12..16].copy_from_slice(&64u32.to_le_bytes());
    pds[16..24].copy_from_slice(&0x7fff_dead_b000u64.to_le_bytes());
    pds[40..48].copy_from_slice(&0x7fff_dead_c000u64.to_le_bytes());
    let mut bnxt = vec![0u8; 40];
    bnxt[0..2].copy_from_slice(&0x0075u16.to_le_bytes());
    bnxt[24..32].copy_from_slice(&0x7fff_dead_b000u64.to_le_bytes());

    // A grant no policy file can produce (bnxt and pds are refused at load): every kind
    // at the most powerful scope, every write granted.
    let Admitted { plugin, mut grant, .. } = admitted("hostile.wasm");
    let mut open = grant.devices[&DeviceKind::Mlx5].clone();
    open.scope = Scope::DebugWriteFull;
    open.opcodes = None;
    open.writes.any_feature = true;
    for kind in [DeviceKind::Bnxt, DeviceKind::Pds] {
        grant.devices.insert(kind, open.clone());
    }
    let rpcs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backend: Arc<dyn Backend> = Arc::new(CountingBackend { rpcs: rpcs.clone() });
    let devices = backend.discover().unwrap();
    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: Some(cache_dir()), ..Default::default() }).unwrap();
    let prepared = sandbox.prepare(&plugin).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (request, kind) in [(&pds, "pds"), (&bnxt, "bnxt")] {
        let args: Vec<String> = ["send", "debug-read-only", &hex::encode(request)].map(String::from).to_vec();
        let runs = runtime.block_on(run_on_devices(
            &Job { plugin_name: "hostile", prepared: &prepared, grant: &grant, args: &args, audit: None, state: None },
            backend.clone(),
            &devices,
        ));
        for run in &runs {
            assert_eq!(run.status, RunStatus::Completed, "{run:?}");
            let finding = &run.output.findings[0];
            assert_eq!(finding.code, "hostile.rpc.not-granted", "{kind} request on {}: {finding:?}", run.device.kind);
            assert!(
                finding.summary.contains(&format!("RPCs to {} devices are refused", run.device.kind))
                    && finding.summary.contains("fwctl-run's own memory"),
                "{finding:?}"
            );
        }
    }
    assert_eq!(rpcs.load(std::sync::atomic::Ordering::SeqCst), 0, "the backend saw no request");
}

#[test]
fn a_node_reused_by_another_kind_since_discovery_gets_no_rpc() {
    // Discovery saw an mlx5 device at fwctl1; by the time it is opened, the node is a pds
    // device's (node numbers are reused on hot plug). The mlx5 grant must not apply.
    let rpcs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backend: Arc<dyn Backend> = Arc::new(CountingBackend { rpcs: rpcs.clone() });
    let mut devices = backend.discover().unwrap();
    devices.retain(|d| d.kind == DeviceKind::Pds);
    devices[0].kind = DeviceKind::Mlx5;
    let Admitted { plugin, grant, .. } = admitted("hostile.wasm");
    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: Some(cache_dir()), ..Default::default() }).unwrap();
    let prepared = sandbox.prepare(&plugin).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let args: Vec<String> = vec!["short-buffer".into()];
    let runs = runtime.block_on(run_on_devices(
        &Job { plugin_name: "hostile", prepared: &prepared, grant: &grant, args: &args, audit: None, state: None },
        backend,
        &devices,
    ));
    match &runs[0].status {
        RunStatus::Failed { kind, cause } => {
            assert_eq!(*kind, FailureKind::DeviceChanged);
            assert!(cause.contains("discovered as a mlx5 device, but the node now answers as a pds device"), "{cause}");
        }
        other => panic!("expected a failed run, got {other:?}"),
    }
    assert_eq!(rpcs.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A backend that counts the devices opened: how far a fleet's checks have run.
struct CountingOpens {
    inner: Arc<dyn Backend>,
    opened: Arc<std::sync::atomic::AtomicUsize>,
}

impl Backend for CountingOpens {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn discover(
        &self,
    ) -> Result<Vec<fwctl_run::devices::DeviceDescriptor>, fwctl_run::devices::backend::DiscoveryError> {
        self.inner.discover()
    }

    fn open(
        &self,
        device: &fwctl_run::devices::DeviceDescriptor,
    ) -> Result<Box<dyn fwctl_run::devices::DeviceHandle>, fwctl_run::devices::DeviceError> {
        self.opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.open(device)
    }
}

#[test]
fn a_fleet_whose_caller_stops_taking_results_stops_checking_instead_of_piling_them_up() {
    use fwctl_run::fleet::{FleetOptions, FleetPlugin, PluginRef, RESULTS_IN_WAITING, Stop, run_fleet};
    use std::sync::atomic::Ordering;

    const DEVICES: usize = 2_000;
    const JOBS: usize = 2;
    let source = fwctl_run::source::DeviceSource::synthetic(&DEVICES.to_string().parse().unwrap(), 0).unwrap();
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backend: Arc<dyn Backend> = Arc::new(CountingOpens { inner: source.backend.clone(), opened: opened.clone() });
    let Admitted { plugin, grant, .. } = admitted("hostile.wasm");
    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: Some(cache_dir()), ..Default::default() }).unwrap();
    let fleet_plugin = FleetPlugin {
        plugin: PluginRef {
            name: plugin.manifest.name.clone(),
            version: plugin.manifest.version.clone(),
            digest: plugin.digest.clone(),
        },
        prepared: sandbox.prepare(&plugin).expect("prepares"),
        grant,
        audit: None,
        // Checks that end at once: they outrun any caller that pauses.
        args: vec!["only=none".into()],
        state: None,
    };
    let options = FleetOptions { jobs: JOBS, host: "test".into(), retain: false, gather: std::time::Duration::ZERO };
    let (_keep_running, stop) = tokio::sync::watch::channel(Stop::Running);
    let mut opened_while_paused = None;
    let outcome = tokio::runtime::Runtime::new().unwrap().block_on(run_fleet(
        vec![fleet_plugin].into(),
        backend,
        &source.devices,
        &options,
        stop,
        |result| {
            if result.plugin.is_none() || opened_while_paused.is_some() {
                return;
            }
            // The caller stops taking results (a stalled terminal, say) until the checks
            // stop too, or all have run.
            let mut seen = (opened.load(Ordering::SeqCst), 0);
            while seen.1 < 4 {
                std::thread::sleep(std::time::Duration::from_millis(25));
                let now = opened.load(Ordering::SeqCst);
                seen = if now == seen.0 { (now, seen.1 + 1) } else { (now, 0) };
            }
            opened_while_paused = Some(seen.0);
        },
    ));
    assert_eq!(outcome.summary.checks, DEVICES, "every check ran once the caller took results again");
    let opened_while_paused = opened_while_paused.expect("the caller saw a result");
    // What can exist while the caller holds one result: the rest of its batch, a full
    // channel, and one finished result per slot.
    let bound = 2 * RESULTS_IN_WAITING + JOBS;
    assert!(
        opened_while_paused <= bound,
        "{opened_while_paused} checks ran while the caller took no results (at most {bound} may wait)"
    );
}
