//! One fleet result per plugin and device, and the fleet's summary: plain data that every
//! output format (table, JSON, JSON lines, metrics, NPD) renders.

use std::collections::BTreeMap;
use std::time::Duration;

use fwctl_devices::DeviceDescriptor;
use serde::Serialize;

use crate::outcome::{DeviceRun, FailureKind, Finding, Metric, RunStatus, Severity, Value};

/// The plugin behind a result, as machine output names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginRef {
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// `sha256:<hex>` of the component that ran.
    pub digest: String,
}

/// How one plugin-and-device check ended, in the words every output uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FleetStatus {
    /// The plugin finished and found nothing of warning or worse.
    Ok,
    /// The plugin finished and reported at least one warning, error or critical finding.
    Findings,
    /// No plugin handles this device.
    Unsupported,
    /// The device vanished (ENODEV) before or during the check.
    Gone,
    /// The check ran past its per-device deadline.
    Timeout,
    /// The check could not finish: a trap, a limit, a plugin error, a failed open.
    Error,
}

impl FleetStatus {
    /// The word used in tables and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Findings => "findings",
            Self::Unsupported => "unsupported",
            Self::Gone => "gone",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }

    /// Whether the check failed to produce a verdict on the device.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Gone | Self::Timeout | Self::Error)
    }
}

/// One plugin's check of one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FleetResult {
    /// The host the device is in (for results gathered across machines).
    pub host: String,
    /// The device, as discovery described it.
    pub device: DeviceDescriptor,
    /// The plugin that checked it; `null` when none handles it.
    pub plugin: Option<PluginRef>,
    /// How the check ended.
    pub status: FleetStatus,
    /// Why the check failed, naming plugin, device and cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A stable classification of the failure (`trap`, `timeout`, `memory-limit`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<FailureKind>,
    /// Wall time of the check, in milliseconds.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// RPCs the plugin sent.
    pub rpcs: u64,
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
    /// The facts the plugin reported, by key.
    pub values: BTreeMap<String, Value>,
    /// The metric samples the plugin reported (without the host's labels).
    pub metrics: Vec<Metric>,
}

impl FleetResult {
    /// The result of a run.
    pub fn from_run(host: &str, plugin: PluginRef, run: DeviceRun) -> Self {
        let DeviceRun { device, status, rpcs, device_gone, duration, output } = run;
        let worst = output.worst();
        let (status, error_kind, error) = match status {
            _ if device_gone => (
                FleetStatus::Gone,
                Some(FailureKind::DeviceGone),
                Some(format!("{}: the device is gone (ENODEV)", device.name)),
            ),
            RunStatus::NotApplicable { reason } => (FleetStatus::Unsupported, None, Some(reason)),
            RunStatus::Failed { kind, cause } => {
                let status = match kind {
                    FailureKind::Timeout => FleetStatus::Timeout,
                    FailureKind::DeviceGone => FleetStatus::Gone,
                    _ => FleetStatus::Error,
                };
                (status, Some(kind), Some(cause))
            }
            RunStatus::Completed if worst.is_some_and(|s| s >= Severity::Warning) => {
                (FleetStatus::Findings, None, None)
            }
            RunStatus::Completed => (FleetStatus::Ok, None, None),
        };
        let mut findings = output.findings;
        // Stable sort: equally severe findings keep the plugin's order.
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Self {
            host: host.to_string(),
            device,
            plugin: Some(plugin),
            status,
            error,
            error_kind,
            duration,
            rpcs,
            findings,
            values: output.facts,
            metrics: output.metrics,
        }
    }

    /// A device no plugin of this fleet run handles.
    pub fn unsupported(host: &str, device: DeviceDescriptor) -> Self {
        let error = Some(format!("no plugin of this run handles {} devices", device.kind));
        Self {
            host: host.to_string(),
            device,
            plugin: None,
            status: FleetStatus::Unsupported,
            error,
            error_kind: None,
            duration: Duration::ZERO,
            rpcs: 0,
            findings: Vec::new(),
            values: BTreeMap::new(),
            metrics: Vec::new(),
        }
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.first().map(|f| f.severity)
    }
}

/// The whole fleet at a glance. Devices are counted once, by their worst result: a
/// device one plugin could not check is `failed` even if another found it healthy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FleetSummary {
    /// The host.
    pub host: String,
    /// Devices discovered.
    pub devices: usize,
    /// Devices every plugin found healthy.
    pub healthy: usize,
    /// Devices with a finding of warning or worse (and no failed check).
    pub with_findings: usize,
    /// Devices at least one check failed on (timeout, trap, limit, gone).
    pub failed: usize,
    /// Devices no plugin handles.
    pub unsupported: usize,
    /// Checks planned but not run because the run was interrupted.
    pub not_run: usize,
    /// Whether the run was interrupted (Ctrl-C or SIGTERM).
    pub interrupted: bool,
    /// Plugin-and-device checks that ran.
    pub checks: usize,
    /// The most severe finding of the fleet.
    pub worst: Option<Severity>,
    /// Wall time of the whole fleet run, in milliseconds.
    #[serde(rename = "wall_ms", serialize_with = "as_millis")]
    pub wall: Duration,
    /// The process's peak resident memory so far (Linux `VmHWM`), in bytes, when known.
    pub peak_rss_bytes: Option<u64>,
}

/// Counts results as they arrive, so a summary needs no retained results: a device's
/// verdict is its worst result so far.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    verdicts: Vec<Option<FleetStatus>>,
    checks: usize,
    worst: Option<Severity>,
}

impl Tally {
    /// A tally over `devices` devices, none heard of yet.
    pub fn new(devices: usize) -> Self {
        Self { verdicts: vec![None; devices], checks: 0, worst: None }
    }

    /// Counts the result of device number `device`.
    pub fn add(&mut self, device: usize, result: &FleetResult) {
        let verdict = &mut self.verdicts[device];
        // Unsupported < ok < findings < failures, except that unsupported only stands
        // while nothing else has been heard about the device.
        *verdict = Some(match (*verdict, result.status) {
            (None | Some(FleetStatus::Unsupported), new) => new,
            (Some(old), FleetStatus::Unsupported) => old,
            (Some(old), new) => old.max(new),
        });
        self.checks += usize::from(result.plugin.is_some());
        self.worst = self.worst.max(result.worst());
    }

    /// The summary of what was counted.
    pub fn summary(&self, host: &str, not_run: usize, interrupted: bool, wall: Duration) -> FleetSummary {
        let count = |wanted: fn(FleetStatus) -> bool| self.verdicts.iter().flatten().filter(|s| wanted(**s)).count();
        FleetSummary {
            host: host.to_string(),
            devices: self.verdicts.len(),
            healthy: count(|s| s == FleetStatus::Ok),
            with_findings: count(|s| s == FleetStatus::Findings),
            failed: count(FleetStatus::is_failure),
            unsupported: count(|s| s == FleetStatus::Unsupported),
            not_run,
            interrupted,
            checks: self.checks,
            worst: self.worst,
            wall,
            peak_rss_bytes: peak_rss_bytes(),
        }
    }
}

impl FleetSummary {
    /// One line for people: `1000 devices: 880 healthy, 110 with findings, 10 failed in 1.2 s`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} devices: {} healthy, {} with findings, {} failed",
            self.devices, self.healthy, self.with_findings, self.failed
        );
        if self.unsupported > 0 {
            line.push_str(&format!(", {} unsupported", self.unsupported));
        }
        line.push_str(&format!(" in {:.2} s", self.wall.as_secs_f64()));
        if self.interrupted {
            line.push_str(&format!(" (interrupted: {} checks not run)", self.not_run));
        }
        line
    }
}

/// `VmHWM` of `/proc/self/status`: the most memory this process has held resident.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    Some(kib * 1024)
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(millis(*d))
}

/// A check's wall time as results show it: milliseconds, to the microsecond.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
