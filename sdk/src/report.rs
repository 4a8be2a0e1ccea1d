//! Reporting: findings, facts and logs, attributed by the host to this run's device.

use crate::bindings::fwctl::plugin::{report as host, types};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing wrong; worth showing.
    Info,
    /// Worth a look; the device works.
    Warning,
    /// Something is wrong.
    Error,
    /// Failing or at risk of damage.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `error` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed value for facts and finding details; build one with `.into()` from text,
/// integers, floats or booleans.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// Signed integer.
    Integer(i64),
    /// Unsigned integer.
    Unsigned(u64),
    /// Real number.
    Real(f64),
    /// Yes/no.
    Boolean(bool),
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v as $as)
            }
        })*
    };
}
value_from!(u8 => Unsigned as u64, u16 => Unsigned as u64, u32 => Unsigned as u64, u64 => Unsigned as u64, usize => Unsigned as u64,
            i8 => Integer as i64, i16 => Integer as i64, i32 => Integer as i64, i64 => Integer as i64, isize => Integer as i64,
            f32 => Real as f64, f64 => Real as f64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl Value {
    fn into_wit(self) -> types::Value {
        match self {
            Value::Text(s) => types::Value::Text(s),
            Value::Integer(i) => types::Value::Integer(i),
            Value::Unsigned(u) => types::Value::Unsigned(u),
            Value::Real(r) => types::Value::Real(r),
            Value::Boolean(b) => types::Value::Boolean(b),
        }
    }
}

/// A finding under construction; [`Finding::report`] sends it. Nothing reaches the host
/// until then.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// Stable dotted code.
    pub code: String,
    /// One-line summary.
    pub summary: String,
    /// Structured detail.
    pub detail: Vec<(String, Value)>,
}

/// Starts a finding: `finding(Severity::Warning, "mlx5.link.down", "port 1 is down")`.
pub fn finding(severity: Severity, code: impl Into<String>, summary: impl Into<String>) -> Finding {
    Finding { severity, code: code.into(), summary: summary.into(), detail: Vec::new() }
}

impl Finding {
    /// Adds a detail field.
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.detail.push((key.into(), value.into()));
        self
    }

    /// Sends the finding to the host.
    pub fn report(self) {
        host::add_finding(&types::Finding {
            severity: match self.severity {
                Severity::Info => types::Severity::Info,
                Severity::Warning => types::Severity::Warning,
                Severity::Error => types::Severity::Error,
                Severity::Critical => types::Severity::Critical,
            },
            code: self.code,
            summary: self.summary,
            detail: self.detail.into_iter().map(|(key, value)| types::Field { key, value: value.into_wit() }).collect(),
        });
    }
}

/// Records a fact about the device (a later fact with the same key replaces it).
pub fn fact(key: impl Into<String>, value: impl Into<Value>) {
    host::set_fact(&types::Field { key: key.into(), value: value.into().into_wit() });
}

/// Log lines, shown with `fwctl-run --verbose`.
pub mod log {
    use crate::bindings::fwctl::plugin::{report as host, types::LogLevel};

    /// Tracing detail.
    pub fn debug(message: impl AsRef<str>) {
        host::log(LogLevel::Debug, message.as_ref());
    }
    /// Progress.
    pub fn info(message: impl AsRef<str>) {
        host::log(LogLevel::Info, message.as_ref());
    }
    /// A handled surprise.
    pub fn warn(message: impl AsRef<str>) {
        host::log(LogLevel::Warn, message.as_ref());
    }
    /// An unhandled problem.
    pub fn error(message: impl AsRef<str>) {
        host::log(LogLevel::Error, message.as_ref());
    }
}

/// How a metric's value behaves over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Goes up and down (a temperature, a link state).
    Gauge,
    /// Only grows while the device runs (error events); exported with `_total`.
    Counter,
}

/// A metric sample being built: see [`gauge`] and [`counter`].
///
/// The host exports it as `fwctl_<name>[_<unit>][_total]{device="...",<labels>}` in
/// Prometheus's textfile format and in OpenMetrics, and refuses (with the reason) names
/// that are not lower-case snake_case, units that are not base units, label names it
/// owns (`device`, `node`, `plugin`, `host`, `kind`), non-finite values and negative
/// counters.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    name: String,
    unit: String,
    kind: MetricKind,
    help: String,
    labels: Vec<(String, String)>,
}

/// A gauge: `name` without prefix or unit (`device_temperature`), `unit` a base unit
/// (`celsius`, `bytes`, `seconds`, ...) or `""`, `help` one line for people.
pub fn gauge(name: impl Into<String>, unit: impl Into<String>, help: impl Into<String>) -> Metric {
    Metric { name: name.into(), unit: unit.into(), kind: MetricKind::Gauge, help: help.into(), labels: Vec::new() }
}

/// A counter: as [`gauge`]; the host adds `_total`.
pub fn counter(name: impl Into<String>, unit: impl Into<String>, help: impl Into<String>) -> Metric {
    Metric { name: name.into(), unit: unit.into(), kind: MetricKind::Counter, help: help.into(), labels: Vec::new() }
}

impl Metric {
    /// Adds a label that tells this sample apart (`port`, `sensor`).
    pub fn label(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.labels.push((name.into(), value.to_string()));
        self
    }

    /// Reports the sample with `value`. `Err` is the host's reason for refusing it; the
    /// sample is then dropped and the run goes on.
    pub fn report(self, value: f64) -> Result<(), String> {
        host::add_metric(&types::Metric {
            name: self.name,
            unit: self.unit,
            kind: match self.kind {
                MetricKind::Gauge => types::MetricKind::Gauge,
                MetricKind::Counter => types::MetricKind::Counter,
            },
            help: self.help,
            labels: self.labels.into_iter().map(|(name, value)| types::Label { name, value }).collect(),
            value,
        })
    }
}
