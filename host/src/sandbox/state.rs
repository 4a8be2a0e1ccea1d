//! The state of one store: one plugin instance bound to one device.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::fwctl::plugin::report::Host as ReportHost;
use super::bindings::types;
use super::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES, OverBudget, Usage};
use crate::outcome::{FailureKind, Finding, Labels, LogLevel, LogLine, Metric, MetricKind, RunOutput, Severity, Value};
use crate::policy::Limits;

/// Everything a store holds. Nothing in it is shared with another run.
pub struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: Limits,
    /// What the run holds against its limits (memories, tables, retained reports).
    pub(crate) usage: Usage,
    /// What it has reported and done so far.
    pub(crate) progress: Progress,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    /// The plugin's state on this device, when the host keeps state.
    pub(crate) saved_state: Option<crate::plugin_state::StateSlot>,
}

/// What a run has reported and done so far. Shared with the one watching the run from
/// outside its thread: when that thread is stuck in the kernel past the deadline, the
/// watchdog reports what the run had found until then.
#[derive(Clone, Default)]
pub struct Progress(Arc<Mutex<Reported>>);

/// The contents of [`Progress`].
#[derive(Default)]
pub struct Reported {
    /// Findings, facts, metrics, logs and denials so far.
    pub output: RunOutput,
    /// RPCs attempted, refused ones included.
    pub rpcs: u64,
    /// Whether the device answered ENODEV: it vanished mid-run.
    pub device_gone: bool,
    /// Where samples are in `output.metrics`, so that a new one is checked in constant
    /// time, not against every sample so far (quadratic in a plugin's report budget).
    pub metric_index: MetricIndex,
}

impl Progress {
    /// The run's record, for one update (uncontended: one run, one thread).
    pub fn lock(&self) -> MutexGuard<'_, Reported> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything recorded, leaving it empty.
    pub fn take(&self) -> Reported {
        std::mem::take(&mut *self.lock())
    }
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
    Timeout {
        /// The deadline.
        limit: Duration,
    },
    /// The plugin sent more RPCs than its budget.
    RpcBudget {
        /// The budget.
        limit: u64,
    },
    /// The plugin reported more findings, facts and log lines than allowed.
    ReportFlood {
        /// How many are allowed.
        limit: usize,
    },
    /// The plugin reported more bytes of text than the host keeps for a run.
    ReportBytes {
        /// How many bytes are kept.
        limit: usize,
        /// What the last report would have made it.
        detail: String,
    },
    /// A finding code that is not an identifier (`[a-z0-9._-]`, 1 to 128 bytes).
    BadFindingCode {
        /// The code as the plugin sent it.
        code: String,
    },
}

/// A linear memory or table would have grown past the run's memory limit (summed over
/// all of them); raised from the store's resource limiter as the trap's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimitHit(pub OverBudget);

impl fmt::Display for MemoryLimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.detail)
    }
}

impl std::error::Error for MemoryLimitHit {}

impl RunFailure {
    /// A short, stable classification for machine output.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Timeout { .. } => FailureKind::Timeout,
            Self::RpcBudget { .. } => FailureKind::RpcBudget,
            Self::ReportFlood { .. } | Self::ReportBytes { .. } | Self::BadFindingCode { .. } => {
                FailureKind::ReportLimit
            }
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
            Self::ReportBytes { limit, detail } => {
                write!(f, "reported more than the {limit} bytes of text the host keeps for a run ({detail})")
            }
            Self::BadFindingCode { code } => write!(
                f,
                "reported a finding code that is not an identifier of at most {MAX_FINDING_CODE} bytes of [a-z0-9._-]: {code:?}"
            ),
        }
    }
}

impl std::error::Error for RunFailure {}

impl RunState {
    /// Counts one report of `bytes` bytes of text against the limits; past either the
    /// run ends. Checked before the text is kept, so the host holds at most the budget
    /// (plus the one string being refused, which the plugin's own memory bounds).
    fn admit_report(&mut self, bytes: usize) -> wasmtime::Result<()> {
        let reported = {
            let progress = self.progress.lock();
            let output = &progress.output;
            output.findings.len() + output.facts.len() + output.logs.len() + output.metrics.len()
        };
        if reported >= self.limits.reports {
            return Err(RunFailure::ReportFlood { limit: self.limits.reports }.into());
        }
        self.usage
            .retain_report(bytes, &self.limits)
            .map_err(|over| RunFailure::ReportBytes { limit: over.limit, detail: over.detail })?;
        Ok(())
    }
}

/// Every memory and table of the run, summed, against the run's memory limit; and how
/// many instances, memories and tables it may create at all.
impl wasmtime::ResourceLimiter for RunState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.usage.grow_memory(current, desired, &self.limits).map_err(MemoryLimitHit)?;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.usage.grow_table(current, desired, &self.limits).map_err(MemoryLimitHit)?;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// The longest finding code: codes are identifiers that alerts and dashboards key on.
pub const MAX_FINDING_CODE: usize = 128;

/// Whether a finding code is an identifier: 1 to [`MAX_FINDING_CODE`] bytes of
/// `[a-z0-9._-]`, so it can neither forge output lines nor hide in them.
fn is_finding_code(code: &str) -> bool {
    (1..=MAX_FINDING_CODE).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn field_bytes(field: &types::Field) -> usize {
    field.key.len() + value_bytes(&field.value)
}

fn value_bytes(value: &types::Value) -> usize {
    match value {
        types::Value::Text(text) => text.len(),
        _ => 8,
    }
}

impl RunState {
    /// Keeps `metric` when it passes the rules ([`Metric::validate`]), agrees with this
    /// run's earlier samples of the same name (kind, unit, label names) and is not a
    /// second sample with the same labels.
    fn keep_consistent(&self, metric: Metric) -> Result<(), String> {
        let mut progress = self.progress.lock();
        let Reported { output, metric_index, .. } = &mut *progress;
        let samples = &mut output.metrics;
        let MetricIndex { first, series, hasher } = metric_index;
        let name = hasher.hash_one(&metric.name);
        let first_sample = first.find(name, |&(_, i)| samples[i].name == metric.name).map(|&(_, i)| &samples[i]);
        match first_sample {
            None => metric.validate()?,
            Some(first) => {
                let same_kind_and_unit = first.kind == metric.kind && first.unit == metric.unit;
                let same_label_names = first.labels.keys().eq(metric.labels.keys());
                if same_kind_and_unit && same_label_names {
                    // It passed the rules on those with its first sample (most of a
                    // sample's checks, per sample of a device's hundred).
                    metric.validate_own()?;
                } else {
                    metric.validate()?;
                    if !same_kind_and_unit {
                        return Err(format!(
                            "metric `{}` was first reported as a {} in `{}`; a later sample cannot change that",
                            metric.name,
                            first.kind.as_str(),
                            first.unit
                        ));
                    }
                    let names = |m: &Metric| m.labels.keys().cloned().collect::<Vec<_>>().join(",");
                    return Err(format!(
                        "metric `{}` has labels ({}) but its first sample had ({}); every sample needs the same label names",
                        metric.name,
                        names(&metric),
                        names(first)
                    ));
                }
            }
        }
        let is_first = first_sample.is_none();
        let same = |m: &Metric| m.name == metric.name && m.labels == metric.labels;
        let labelled = hasher.hash_one((name, &metric.labels));
        if series.find(labelled, |&(_, i)| same(&samples[i])).is_some() {
            return Err(format!("metric `{}` already has a sample with these labels", metric.name));
        }
        series.insert_unique(labelled, (labelled, samples.len()), |&(hash, _)| hash);
        if is_first {
            first.insert_unique(name, (name, samples.len()), |&(hash, _)| hash);
        }
        samples.push(metric);
        Ok(())
    }
}

/// Indexes into a run's samples, by keyed hashes (keyed per process, so a plugin cannot
/// aim collisions): the first sample of each metric by its name, and every sample by its
/// name and labels. Each hash is computed once, when its sample arrives, and kept beside
/// the sample's index for the tables to grow by.
#[derive(Default)]
pub struct MetricIndex {
    first: hashbrown::HashTable<(u64, usize)>,
    series: hashbrown::HashTable<(u64, usize)>,
    hasher: std::hash::RandomState,
}

impl ReportHost for RunState {
    fn add_finding(&mut self, finding: types::Finding) -> wasmtime::Result<()> {
        let bytes = finding.code.len() + finding.summary.len() + finding.detail.iter().map(field_bytes).sum::<usize>();
        self.admit_report(bytes)?;
        if !is_finding_code(&finding.code) {
            let mut shown = finding.code;
            shown.truncate(shown.floor_char_boundary(MAX_FINDING_CODE + 16));
            return Err(RunFailure::BadFindingCode { code: shown }.into());
        }
        self.progress.lock().output.findings.push(Finding {
            severity: severity(finding.severity),
            code: finding.code,
            summary: finding.summary,
            detail: finding.detail.into_iter().map(|f| (f.key, value(f.value))).collect(),
        });
        Ok(())
    }

    fn set_fact(&mut self, fact: types::Field) -> wasmtime::Result<()> {
        self.admit_report(field_bytes(&fact))?;
        self.progress.lock().output.facts.insert(fact.key, value(fact.value));
        Ok(())
    }

    fn add_metric(&mut self, metric: types::Metric) -> wasmtime::Result<Result<(), String>> {
        let labels: usize = metric.labels.iter().map(|l| l.name.len() + l.value.len()).sum();
        self.admit_report(metric.name.len() + metric.unit.len() + metric.help.len() + labels + 8)?;
        let metric = Metric {
            name: metric.name,
            unit: metric.unit,
            kind: match metric.kind {
                types::MetricKind::Gauge => MetricKind::Gauge,
                types::MetricKind::Counter => MetricKind::Counter,
            },
            help: metric.help,
            // The lifted list becomes the labels in place (same layout), sorted by name.
            labels: Labels::new(metric.labels.into_iter().map(|l| (l.name, l.value)).collect()),
            value: metric.value,
        };
        let checked = self.keep_consistent(metric);
        // Refused samples are visible to the operator too, not only to the plugin; the
        // line is the host's words around the plugin's, so it counts against the budget.
        if let Err(why) = &checked {
            let message = format!("metric refused: {why}");
            self.admit_report(message.len())?;
            self.progress.lock().output.logs.push(LogLine { level: LogLevel::Warn, message });
        }
        Ok(checked)
    }

    fn log(&mut self, level: types::LogLevel, message: String) -> wasmtime::Result<()> {
        self.admit_report(message.len())?;
        let level = match level {
            types::LogLevel::Debug => LogLevel::Debug,
            types::LogLevel::Info => LogLevel::Info,
            types::LogLevel::Warn => LogLevel::Warn,
            types::LogLevel::Error => LogLevel::Error,
        };
        self.progress.lock().output.logs.push(LogLine { level, message });
        Ok(())
    }
}

impl super::bindings::fwctl::plugin::types::Host for RunState {}

impl super::bindings::fwctl::plugin::state::Host for RunState {
    fn previous(&mut self) -> wasmtime::Result<Option<super::bindings::fwctl::plugin::state::Saved>> {
        let Some(slot) = &self.saved_state else { return Ok(None) };
        match slot.load() {
            Ok(saved) => Ok(saved
                .map(|s| super::bindings::fwctl::plugin::state::Saved { data: s.data, age_seconds: s.age.as_secs() })),
            Err(warning) => {
                // Never a failed run: say so and start afresh.
                self.progress.lock().output.logs.push(LogLine {
                    level: LogLevel::Warn,
                    message: format!("fwctl-run: the plugin's saved state was set aside ({warning}); starting afresh"),
                });
                Ok(None)
            }
        }
    }

    fn save(
        &mut self,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), super::bindings::fwctl::plugin::state::StateError>> {
        use super::bindings::fwctl::plugin::state::StateError;
        let Some(slot) = &self.saved_state else {
            return Ok(Err(StateError::Unavailable(
                "this run keeps no state (--no-state, or no state directory for this process)".into(),
            )));
        };
        Ok(slot.save(&data).map_err(|crate::plugin_state::SaveError::TooLarge { .. }| {
            StateError::TooLarge(crate::plugin_state::MAX_STATE_BYTES as u32)
        }))
    }
}

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
