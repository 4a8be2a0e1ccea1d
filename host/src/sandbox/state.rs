//! The state of one store: one plugin instance bound to one device.

use std::fmt;
use std::time::Duration;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::fwctl::plugin::report::Host as ReportHost;
use super::bindings::types;
use super::limits::Limits;
use crate::metrics::{Metric, MetricKind};
use crate::outcome::{Finding, LogLevel, LogLine, RunOutput, Severity, Value};

/// Everything a store holds. Nothing in it is shared with another run.
pub struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) store_limits: StoreLimits,
    pub(crate) limits: Limits,
    pub(crate) rpcs_sent: u64,
    /// Set when the device answered ENODEV: it vanished mid-run.
    pub(crate) device_gone: bool,
    pub(crate) output: RunOutput,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Why the host ended a run early. Raised as a trap from a host call or the epoch
/// callback, and recognised again when the call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFailure {
    /// The wall-clock deadline passed.
    Timeout { limit: Duration },
    /// The plugin sent more RPCs than its budget.
    RpcBudget { limit: u64 },
    /// The plugin reported more findings, facts and log lines than allowed.
    ReportFlood { limit: usize },
}

impl RunFailure {
    /// A short, stable classification for machine output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::RpcBudget { .. } => "rpc-budget",
            Self::ReportFlood { .. } => "report-limit",
        }
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { limit } => {
                write!(f, "ran past its deadline of {} ms (raise it with --timeout)", limit.as_millis())
            }
            Self::RpcBudget { limit } => {
                write!(f, "used up its budget of {limit} RPCs (raise it with --rpc-budget)")
            }
            Self::ReportFlood { limit } => {
                write!(f, "reported more than {limit} findings, facts, metrics and log lines")
            }
        }
    }
}

impl std::error::Error for RunFailure {}

impl RunState {
    /// Counts one report against the limit; past it the run ends.
    fn admit_report(&mut self) -> wasmtime::Result<()> {
        let reported =
            self.output.findings.len() + self.output.facts.len() + self.output.logs.len() + self.output.metrics.len();
        if reported >= self.limits.reports {
            return Err(RunFailure::ReportFlood { limit: self.limits.reports }.into());
        }
        Ok(())
    }
}

impl RunState {
    /// A sample must agree with this run's earlier samples of the same name: the same
    /// kind, unit and label names, and not the same labels twice.
    fn consistent(&self, metric: &Metric) -> Result<(), String> {
        let Some(first) = self.output.metrics.iter().find(|m| m.name == metric.name) else { return Ok(()) };
        if first.kind != metric.kind || first.unit != metric.unit {
            return Err(format!(
                "metric `{}` was first reported as a {} in `{}`; a later sample cannot change that",
                metric.name,
                first.kind.as_str(),
                first.unit
            ));
        }
        if !first.labels.keys().eq(metric.labels.keys()) {
            let names = |m: &Metric| m.labels.keys().cloned().collect::<Vec<_>>().join(",");
            return Err(format!(
                "metric `{}` has labels ({}) but its first sample had ({}); every sample needs the same label names",
                metric.name,
                names(metric),
                names(first)
            ));
        }
        if self.output.metrics.iter().any(|m| m.name == metric.name && m.labels == metric.labels) {
            return Err(format!("metric `{}` already has a sample with these labels", metric.name));
        }
        Ok(())
    }
}

impl ReportHost for RunState {
    fn add_finding(&mut self, finding: types::Finding) -> wasmtime::Result<()> {
        self.admit_report()?;
        self.output.findings.push(Finding {
            severity: severity(finding.severity),
            code: finding.code,
            summary: finding.summary,
            detail: finding.detail.into_iter().map(|f| (f.key, value(f.value))).collect(),
        });
        Ok(())
    }

    fn set_fact(&mut self, fact: types::Field) -> wasmtime::Result<()> {
        self.admit_report()?;
        self.output.facts.insert(fact.key, value(fact.value));
        Ok(())
    }

    fn add_metric(&mut self, metric: types::Metric) -> wasmtime::Result<Result<(), String>> {
        self.admit_report()?;
        let metric = Metric {
            name: metric.name,
            unit: metric.unit,
            kind: match metric.kind {
                types::MetricKind::Gauge => MetricKind::Gauge,
                types::MetricKind::Counter => MetricKind::Counter,
            },
            help: metric.help,
            labels: metric.labels.into_iter().map(|l| (l.name, l.value)).collect(),
            value: metric.value,
        };
        let checked = metric.validate().and_then(|()| self.consistent(&metric));
        match checked {
            Ok(()) => self.output.metrics.push(metric),
            // Refused samples are visible to the operator too, not only to the plugin.
            Err(ref why) => self.output.logs.push(LogLine { level: LogLevel::Warn, message: format!("metric refused: {why}") }),
        }
        Ok(checked)
    }

    fn log(&mut self, level: types::LogLevel, message: String) -> wasmtime::Result<()> {
        self.admit_report()?;
        let level = match level {
            types::LogLevel::Debug => LogLevel::Debug,
            types::LogLevel::Info => LogLevel::Info,
            types::LogLevel::Warn => LogLevel::Warn,
            types::LogLevel::Error => LogLevel::Error,
        };
        self.output.logs.push(LogLine { level, message });
        Ok(())
    }
}

impl super::bindings::fwctl::plugin::types::Host for RunState {}

fn severity(severity: types::Severity) -> Severity {
    match severity {
        types::Severity::Info => Severity::Info,
        types::Severity::Warning => Severity::Warning,
        types::Severity::Error => Severity::Error,
        types::Severity::Critical => Severity::Critical,
    }
}

fn value(value: types::Value) -> Value {
    match value {
        types::Value::Text(s) => Value::Text(s),
        types::Value::Integer(i) => Value::Integer(i),
        types::Value::Unsigned(u) => Value::Unsigned(u),
        types::Value::Real(r) => Value::Real(r),
        types::Value::Boolean(b) => Value::Boolean(b),
    }
}
