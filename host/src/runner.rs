//! Runs one plugin over many devices: one fresh sandboxed store per device, all at once.
//!
//! A run that traps, times out, hits a limit or loses its device ends alone; the other
//! runs and the process go on, and every result comes back in device order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fwctl_devices::{Backend, DeviceDescriptor, DeviceKind};
use nix::errno::Errno;
use tokio::task::JoinSet;

use crate::audit::AuditTrail;
use crate::outcome::{DeviceRun, FailureKind, RunOutput, RunStatus};
use crate::policy::Limits;
use crate::policy::{Grant, KindGrant};
use crate::sandbox::device::InFlightWatch;
use crate::sandbox::{GrantedDevice, PreparedPlugin, Progress, Reported, RunEnd, RunFailure, RunResult};

/// One admitted plugin, ready to run: what it is, what it may do, what it is told, and
/// where its RPC attempts are recorded.
#[derive(Clone)]
pub struct Job<'a> {
    /// The manifest name, as results and errors name it.
    pub plugin_name: &'a str,
    /// The compiled component.
    pub prepared: &'a PreparedPlugin,
    /// Its grant, limits included.
    pub grant: &'a Grant,
    /// The operator's arguments for it.
    pub args: &'a [String],
    /// Where every RPC attempt goes (`None` only in tests and benchmarks that measure
    /// the boundary without the record).
    pub audit: Option<AuditTrail>,
    /// Where the plugin's state between runs is kept (`None`: `--no-state`).
    pub state: Option<Arc<crate::plugin_state::PluginStates>>,
}

/// Runs `job` on every device in `devices` its grant covers, concurrently; devices it
/// does not cover are reported as not applicable.
pub async fn run_on_devices(job: &Job<'_>, backend: Arc<dyn Backend>, devices: &[DeviceDescriptor]) -> Vec<DeviceRun> {
    let Job { plugin_name, prepared, grant, args, audit, state } = job.clone();
    let mut runs: Vec<Option<DeviceRun>> = vec![None; devices.len()];
    let mut tasks = JoinSet::new();
    for (index, device) in devices.iter().enumerate() {
        let Some(kind_grant) = grant.for_kind(device.kind).cloned() else {
            runs[index] = Some(DeviceRun {
                device: device.clone(),
                status: RunStatus::NotApplicable {
                    reason: format!("{plugin_name} does not handle {} devices", device.kind),
                },
                rpcs: 0,
                device_gone: false,
                duration: Default::default(),
                output: RunOutput::default(),
            });
            continue;
        };
        let (prepared, backend, device) = (prepared.clone(), Arc::clone(&backend), device.clone());
        let (args, grant, plugin_name, audit) = (args.to_vec(), grant.clone(), plugin_name.to_string(), audit.clone());
        let state = state.clone();
        tasks.spawn(async move {
            let job = Job { plugin_name: &plugin_name, prepared: &prepared, grant: &grant, args: &args, audit, state };
            (index, run_one(&job, kind_grant, backend.as_ref(), device).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, run)) => runs[index] = Some(run),
            // A panic in host code is a bug in fwctl-run; it still must not take the other
            // runs down. The slot stays empty and is filled below.
            Err(error) => eprintln!("fwctl-run: internal error in a device run: {error}"),
        }
    }
    runs.into_iter()
        .zip(devices)
        .map(|(run, device)| {
            run.unwrap_or_else(|| DeviceRun {
                device: device.clone(),
                status: RunStatus::Failed {
                    kind: FailureKind::Internal,
                    cause: format!(
                        "{plugin_name} on {}: fwctl-run failed internally (a bug; please report it)",
                        device.name
                    ),
                },
                rpcs: 0,
                device_gone: false,
                duration: Default::default(),
                output: RunOutput::default(),
            })
        })
        .collect()
}

/// Runs `job` once on one device, under `kind_grant` (its grant for the device's kind):
/// opens the device, runs the plugin in a fresh store, and says how it ended.
pub async fn run_one(
    job: &Job<'_>,
    kind_grant: KindGrant,
    backend: &dyn Backend,
    device: DeviceDescriptor,
) -> DeviceRun {
    let Job { plugin_name, prepared, grant, args, audit, state } = job.clone();
    let limits = grant.limits;
    let started = Instant::now();
    let opened = backend.open(&device).and_then(|mut handle| Ok((handle.info()?, handle)));
    // Node numbers are reused: the node opened may not be the device discovered (a hot
    // plug in between). The grant was judged for the discovered kind, so a node that now
    // answers as another kind gets no RPC at all.
    let opened = opened.map(|(info, handle)| match DeviceKind::from_raw(info.device_type) {
        Some(kind) if kind == device.kind => {
            Ok(GrantedDevice::new(device.clone(), info.device_data, kind_grant, handle, audit)
                .with_state(state.as_ref().map(|s| s.slot(&device))))
        }
        other => Err(kind_changed(plugin_name, &device, other, info.device_type)),
    });
    let (status, output, rpcs, device_gone) = match opened {
        Ok(Err(changed)) => (changed, RunOutput::default(), 0, false),
        Ok(Ok(granted)) => {
            let result = if granted.may_block() {
                run_on_own_thread(prepared, granted, args, limits).await
            } else {
                prepared.run(granted, args, limits, &Progress::default()).await
            };
            (
                status_of(plugin_name, &device, &result.end, &result.output),
                result.output,
                result.rpcs,
                result.device_gone,
            )
        }
        Err(errno) => {
            let gone = matches!(errno, Errno::ENOENT | Errno::ENODEV | Errno::ENXIO);
            (open_failure(plugin_name, &device, errno), RunOutput::default(), 0, gone)
        }
    };
    DeviceRun { device, status, rpcs, device_gone, duration: started.elapsed(), output }
}

/// How long past its deadline a run on its own thread may take to end by itself before
/// the watchdog reports it: the run's own timer fires first unless the thread is stuck in
/// the kernel, where no timer can reach it.
const WATCHDOG_GRACE: Duration = Duration::from_millis(100);

/// Runs a plugin whose device may block on a thread of its own, so that its RPCs are
/// ioctls made in place (no hop to a blocking pool and back per RPC), while a watchdog
/// here keeps the deadline: a thread stuck in the kernel past it is reported as timed out
/// and left behind, its RPC in flight recorded as abandoned.
async fn run_on_own_thread(
    prepared: &PreparedPlugin,
    mut granted: GrantedDevice,
    args: &[String],
    limits: Limits,
) -> RunResult {
    let watch = granted.run_on_own_thread();
    let progress = Progress::default();
    let (sender, answer) = tokio::sync::oneshot::channel();
    let (prepared, args, shared) = (prepared.clone(), args.to_vec(), progress.clone());
    let spawned = std::thread::Builder::new().name("fwctl-run-device".into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build();
        if let Ok(runtime) = runtime {
            let _ = sender.send(runtime.block_on(prepared.run(granted, &args, limits, &shared)));
        }
    });
    let internal = |why: String| RunResult {
        end: RunEnd::Trap(format!("fwctl-run could not run the plugin: {why}")),
        output: RunOutput::default(),
        rpcs: 0,
        device_gone: false,
    };
    if let Err(error) = spawned {
        return internal(format!("no thread for the device ({error})"));
    }
    // Abandoned also when this future is dropped (a fleet run aborted mid-check).
    let mut guard = AbandonUnlessEnded { watch, ended: false };
    match tokio::time::timeout(limits.timeout + WATCHDOG_GRACE, answer).await {
        Ok(Ok(result)) => {
            guard.ended = true;
            result
        }
        Ok(Err(_)) => internal("the run's thread ended without an answer".into()),
        Err(_) => {
            // What it reported until the kernel held it is kept; its in-flight RPC goes
            // on the record as abandoned when the guard drops.
            let Reported { output, rpcs, device_gone, .. } = progress.take();
            RunResult { end: RunEnd::Stopped(RunFailure::Timeout { limit: limits.timeout }), output, rpcs, device_gone }
        }
    }
}

/// Declares the RPC in flight abandoned when a run on its own thread is given up on.
struct AbandonUnlessEnded {
    watch: InFlightWatch,
    ended: bool,
}

impl Drop for AbandonUnlessEnded {
    fn drop(&mut self) {
        if !self.ended {
            self.watch.abandon();
        }
    }
}

/// Maps how a run ended to the status people and machines see.
fn status_of(plugin: &str, device: &DeviceDescriptor, end: &RunEnd, output: &RunOutput) -> RunStatus {
    let mut cause = match end {
        RunEnd::Completed => return RunStatus::Completed,
        other => format!("{plugin} on {}: {other}", device.name),
    };
    // A Rust panic reaches the host as a bare `unreachable` trap; its message is on stderr.
    if matches!(end, RunEnd::Trap(_))
        && let Some(panic) = panic_message(&output.stderr)
    {
        cause.push_str(&format!(" [plugin panicked: {panic}]"));
    }
    RunStatus::Failed { kind: end.kind().unwrap_or(FailureKind::Internal), cause }
}

/// The message of a Rust panic printed on stderr (the lines from "panicked at" on,
/// without the runtime's `note:` hints).
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let lines: Vec<&str> =
        stderr[start..].lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("note:")).collect();
    Some(lines.join(" "))
}

/// The node answered `FWCTL_INFO` as another kind than discovery found.
fn kind_changed(plugin: &str, device: &DeviceDescriptor, now: Option<DeviceKind>, raw: u32) -> RunStatus {
    let now = now.map_or_else(|| format!("device type {raw}"), |k| format!("a {k} device"));
    RunStatus::Failed {
        kind: FailureKind::DeviceChanged,
        cause: format!(
            "{plugin} on {}: discovered as a {} device, but the node now answers as {now}; nothing was sent",
            device.name, device.kind
        ),
    }
}

fn open_failure(plugin: &str, device: &DeviceDescriptor, errno: Errno) -> RunStatus {
    let (kind, what) = match errno {
        Errno::ENOENT | Errno::ENODEV | Errno::ENXIO => (FailureKind::DeviceGone, "the device is gone".to_string()),
        Errno::EACCES | Errno::EPERM => (
            FailureKind::Permission,
            format!("no permission to open {} (run as root, or grant access to the node)", device.node),
        ),
        other => (FailureKind::Open, format!("opening {} failed: {} ({other:?})", device.node, other.desc())),
    };
    RunStatus::Failed { kind, cause: format!("{plugin} on {}: {what}", device.name) }
}
