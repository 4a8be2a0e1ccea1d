//! What a plugin run produced: plain data, free of wasmtime types, handed from the
//! sandbox to the runner and from the runner to the renderers.

mod labels;
mod metric;

pub use self::labels::Labels;
pub use self::metric::{HOST_LABELS, Metric, MetricKind, UNITS};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use fwctl_devices::DeviceDescriptor;
use serde::Serialize;

/// How serious a finding is; ordered so that the worst one is the maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fact worth showing; nothing is wrong.
    Info,
    /// Worth an operator's look; the device works.
    Warning,
    /// Something is wrong and affects the device's function.
    Error,
    /// The device is failing or at risk of damage.
    Critical,
}

impl Severity {
    /// The word every output uses (`info`, `warning`, `error`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed value a plugin reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Free text.
    Text(String),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A real number.
    Real(f64),
    /// A yes/no value.
    Boolean(bool),
}

impl Value {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::Unsigned(u) => Some(u),
            Self::Integer(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }

    /// The value as text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Unsigned(u) => write!(f, "{u}"),
            Self::Real(r) => write!(f, "{r}"),
            Self::Boolean(b) => write!(f, "{}", if *b { "yes" } else { "no" }),
        }
    }
}

/// A diagnostic result about one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// A stable dotted code, e.g. `mlx5.link.down`.
    pub code: String,
    /// One line for people.
    pub summary: String,
    /// Structured detail, by key.
    pub detail: BTreeMap<String, Value>,
}

/// The level of a plugin log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Tracing detail.
    Debug,
    /// Progress.
    Info,
    /// Handled surprises.
    Warn,
    /// Unhandled problems.
    Error,
}

/// A log line from a plugin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogLine {
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// Everything one run reported, whether or not it finished.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunOutput {
    /// Findings, in report order.
    pub findings: Vec<Finding>,
    /// Facts by key (a later report of a key replaces the earlier one).
    pub facts: BTreeMap<String, Value>,
    /// Metric samples the host accepted, in report order.
    pub metrics: Vec<Metric>,
    /// Log lines, in order.
    pub logs: Vec<LogLine>,
    /// RPCs the host refused because they were outside the grant, with the reason.
    pub denials: Vec<String>,
    /// Captured standard output (possibly cut at the output limit).
    pub stdout: String,
    /// Captured standard error (possibly cut at the output limit).
    pub stderr: String,
}

impl RunOutput {
    /// The worst severity reported, if any finding was.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Why a run could not finish: one classification, produced where the failure happens,
/// from which every wire format derives (JSON `kind`, fleet `error_kind`, NPD, labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The wall-clock deadline passed.
    Timeout,
    /// The RPC budget was spent.
    RpcBudget,
    /// A report rule was broken (count, bytes, finding code).
    ReportLimit,
    /// Memories and tables would have grown past the memory limit.
    MemoryLimit,
    /// The plugin trapped (a Rust panic included).
    Trap,
    /// `run` returned an error.
    PluginError,
    /// The device vanished.
    DeviceGone,
    /// The node answers as another kind of device than discovery found.
    DeviceChanged,
    /// No permission to open the node.
    Permission,
    /// Opening the node failed otherwise.
    Open,
    /// A bug in fwctl-run.
    Internal,
}

impl FailureKind {
    /// The stable word for machine output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::RpcBudget => "rpc-budget",
            Self::ReportLimit => "report-limit",
            Self::MemoryLimit => "memory-limit",
            Self::Trap => "trap",
            Self::PluginError => "plugin-error",
            Self::DeviceGone => "device-gone",
            Self::DeviceChanged => "device-changed",
            Self::Permission => "permission",
            Self::Open => "open",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How one plugin-and-device run ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RunStatus {
    /// `run` returned `ok`.
    Completed,
    /// The plugin does not handle this kind of device (its manifest does not name it).
    NotApplicable {
        /// Why it was skipped.
        reason: String,
    },
    /// The run could not finish; `cause` names plugin, device and what happened.
    Failed {
        /// What kind of failure.
        kind: FailureKind,
        /// The full message.
        cause: String,
    },
}

/// One plugin run on one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRun {
    /// The device.
    pub device: DeviceDescriptor,
    /// How it ended.
    #[serde(flatten)]
    pub status: RunStatus,
    /// RPCs the plugin sent (including refused ones).
    pub rpcs: u64,
    /// Whether the device vanished (ENODEV) before or during the run.
    pub device_gone: bool,
    /// Wall time from open to the end of the run.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// What the plugin reported before it ended.
    #[serde(flatten)]
    pub output: RunOutput,
}

impl DeviceRun {
    /// A fact the plugin reported.
    pub fn fact(&self, key: &str) -> Option<&Value> {
        self.output.facts.get(key)
    }

    /// The codes of the findings, in report order.
    pub fn finding_codes(&self) -> Vec<&str> {
        self.output.findings.iter().map(|f| f.code.as_str()).collect()
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}
