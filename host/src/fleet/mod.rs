//! Fleet runs: every device of a host, checked by every plugin that handles it.
//!
//! Each plugin-and-device check gets its own store (from the engine's instance pool when
//! the sandbox has one), its grant's limits and deadline, and its own audit trail. At
//! most `jobs` checks run at once. A check that traps, times out, hits a limit or loses
//! its device is one failed result; the others and their audit lines are untouched.
//!
//! Results stream to the caller as each check ends (for JSON lines and progress), and
//! come back at the end in device order. A stop request first stops new checks from
//! starting and lets those in flight finish; a second one abandons those too. Either
//! way, what finished is returned.

mod result;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fwctl_devices::{Backend, DeviceDescriptor};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

pub use self::result::{FleetResult, FleetStatus, FleetSummary, PluginRef, Tally, millis};
use crate::audit::AuditTrail;
use crate::policy::Grant;
use crate::runner;
use crate::sandbox::PreparedPlugin;

/// One admitted plugin of a fleet run: verified, granted and compiled.
#[derive(Clone)]
pub struct FleetPlugin {
    /// How results name it.
    pub plugin: PluginRef,
    /// The compiled component.
    pub prepared: PreparedPlugin,
    /// What it may do, and its limits (the deadline is `grant.limits.timeout`).
    pub grant: Grant,
    /// Where its RPC attempts are recorded.
    pub audit: Option<AuditTrail>,
    /// Its arguments (each plugin has its own: an option one understands would make
    /// another fail).
    pub args: Vec<String>,
    /// Where its state between runs is kept (`None`: `--no-state`).
    pub state: Option<Arc<crate::plugin_state::PluginStates>>,
}

/// How a fleet run is carried out.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// Checks that may run at the same time (at least 1).
    pub jobs: usize,
    /// The host name results carry.
    pub host: String,
    /// Keep every result for the outcome. Without it only the summary is kept, so memory
    /// stays flat however many devices there are (results still reach `on_result`).
    pub retain: bool,
    /// How long results gather, once `on_result` has caught up, before it looks again
    /// (zero: it is woken for each one). The pause is a thread sleep, for a caller that
    /// drives [`run_fleet`] with `block_on` on a thread of its own: woken for every
    /// result, that thread switched context some 8,000 times in a 10,000-device fleet of a
    /// plugin that returns at once, a third of the fleet's time on a 2-CPU machine. (A
    /// tokio timer there fires only when a busy worker next looks at its clock, long
    /// after: results then piled up, 15-55 MiB of them.)
    pub gather: Duration,
}

/// What the command line's fleet and `serve` give [`FleetOptions::gather`]: a result is
/// shown at most this much later.
pub const GATHER: Duration = Duration::from_millis(2);

/// The most finished results that wait for `on_result` at once. A check that finishes
/// while they are all waiting keeps its slot until its result is taken, so when the
/// caller renders more slowly than checks end (a slow terminal, a busy machine), the
/// checks wait for it instead of their results piling up in memory: a fleet's memory is
/// bounded by `jobs` and this, whatever the timing. It holds more than a `GATHER` of
/// the quickest checks (a plugin that returns at once ends one about every 10 µs), so a
/// caller that keeps up never makes a check wait.
pub const RESULTS_IN_WAITING: usize = 256;

/// How far the caller wants the run stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Keep going.
    #[default]
    Running,
    /// Start no new check; let those in flight finish.
    Drain,
    /// Abandon the checks in flight too.
    Abort,
}

/// What a fleet run produced.
#[derive(Clone, Debug)]
pub struct FleetOutcome {
    /// With [`FleetOptions::retain`], every finished check and every unsupported device,
    /// in device order, then plugin order; else empty.
    pub results: Vec<FleetResult>,
    /// The counts, over every result whether retained or not.
    pub summary: FleetSummary,
}

/// One planned check: indices into the device and plugin lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Check {
    device: usize,
    plugin: usize,
}

/// The checks to run: every plugin on every device whose kind its grant covers, and the
/// devices that none covers.
fn plan(plugins: &[FleetPlugin], devices: &[DeviceDescriptor]) -> (Vec<Check>, Vec<usize>) {
    let mut checks = Vec::new();
    let mut uncovered = Vec::new();
    for (device, descriptor) in devices.iter().enumerate() {
        let before = checks.len();
        checks.extend(
            plugins
                .iter()
                .enumerate()
                .filter(|(_, p)| p.grant.for_kind(descriptor.kind).is_some())
                .map(|(plugin, _)| Check { device, plugin }),
        );
        if checks.len() == before {
            uncovered.push(device);
        }
    }
    (checks, uncovered)
}

/// Runs the fleet. `on_result` sees each result as its check ends (unsupported devices
/// first); `stop` may ask for a drain or an abort at any time.
pub async fn run_fleet(
    plugins: Arc<[FleetPlugin]>,
    backend: Arc<dyn Backend>,
    devices: &[DeviceDescriptor],
    options: &FleetOptions,
    mut stop: watch::Receiver<Stop>,
    mut on_result: impl FnMut(&FleetResult),
) -> FleetOutcome {
    let started = Instant::now();
    let (checks, uncovered) = plan(&plugins, devices);
    let mut tally = Tally::new(devices.len());
    let mut finished: Vec<(Check, FleetResult)> = Vec::new();
    let mut done = 0;
    for device in uncovered {
        let result = FleetResult::unsupported(&options.host, devices[device].clone());
        on_result(&result);
        tally.add(device, &result);
        if options.retain {
            finished.push((Check { device, plugin: usize::MAX }, result));
        }
    }

    let planned = checks.len();
    let (sender, mut receiver) = mpsc::channel(RESULTS_IN_WAITING);
    let permits = Arc::new(Semaphore::new(options.jobs.max(1)));
    let devices_owned: Arc<[DeviceDescriptor]> = devices.into();
    let host: Arc<str> = options.host.as_str().into();
    let mut feeder_stop = stop.clone();
    // The feeder starts checks as permits free up and owns the tasks; results come back
    // through the channel so they can be shown as they end.
    let feeder = tokio::spawn(async move {
        let mut tasks = JoinSet::new();
        for check in checks {
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = stop_reaches(&mut feeder_stop, Stop::Drain) => break,
            };
            let (plugins, backend, devices, host, sender) = (
                Arc::clone(&plugins),
                Arc::clone(&backend),
                Arc::clone(&devices_owned),
                Arc::clone(&host),
                sender.clone(),
            );
            tasks.spawn(async move {
                let plugin = &plugins[check.plugin];
                let device = devices[check.device].clone();
                let kind_grant = plugin.grant.for_kind(device.kind).cloned().expect("planned checks are granted");
                let job = runner::Job {
                    plugin_name: &plugin.plugin.name,
                    prepared: &plugin.prepared,
                    grant: &plugin.grant,
                    args: &plugin.args,
                    audit: plugin.audit.clone(),
                    state: plugin.state.clone(),
                };
                let run = runner::run_one(&job, kind_grant, backend.as_ref(), device).await;
                let result = FleetResult::from_run(&host, plugin.plugin.clone(), run);
                // The slot is given up once the result is taken in (see RESULTS_IN_WAITING).
                let _ = sender.send((check, result)).await;
                drop(permit);
            });
            // A finished task keeps its (large) future's slot until joined: reap as we go,
            // so memory does not grow with the number of checks.
            while let Some(joined) = tasks.try_join_next() {
                report_panic(joined);
            }
        }
        drop(sender);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(joined) => report_panic(joined),
                },
                _ = stop_reaches(&mut feeder_stop, Stop::Abort) => {
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
    });

    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, RESULTS_IN_WAITING).await > 0 {
        for (check, result) in batch.drain(..) {
            on_result(&result);
            tally.add(check.device, &result);
            done += 1;
            if options.retain {
                finished.push((check, result));
            }
        }
        // Behind: on at once, so that results do not wait in memory.
        if !options.gather.is_zero() && receiver.is_empty() {
            std::thread::sleep(options.gather);
        }
    }
    let _ = feeder.await;
    let interrupted = *stop.borrow_and_update() != Stop::Running;
    finished.sort_by_key(|(check, _)| *check);
    FleetOutcome {
        results: finished.into_iter().map(|(_, r)| r).collect(),
        summary: tally.summary(&options.host, planned - done, interrupted, started.elapsed()),
    }
}

/// Resolves once a stop at `level` or beyond is asked for; never, if the caller dropped
/// the sender (nobody can ask any more).
async fn stop_reaches(stop: &mut watch::Receiver<Stop>, level: Stop) {
    if stop.wait_for(|s| *s >= level).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A panic in host code is a bug in fwctl-run; it is said, and the other checks go on.
fn report_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        eprintln!("fwctl-run: internal error in a fleet check (a bug; please report it): {error}");
    }
}
