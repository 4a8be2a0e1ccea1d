//! Fleet reports: a table for people, one JSON document, or JSON lines as results end.

use std::fmt::Write;

use serde::Serialize;

use super::ExitStatus;
use super::terminal::visible;
use crate::fleet::{FleetResult, FleetStatus, FleetSummary, PluginRef};
use crate::outcome::Severity;
use crate::source::SourceInfo;

/// The version of the fleet JSON layout (document and lines); bumped on any
/// incompatible change.
pub const FLEET_SCHEMA: &str = "fwctl-run.fleet/v1";

/// A plugin the fleet run could not admit, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The name or path given.
    pub plugin: String,
    /// Why it was refused (not found, bad signature, grant refused, does not compile).
    pub reason: String,
}

/// Everything one `fwctl-run fleet` found.
#[derive(Clone, Debug, Serialize)]
pub struct FleetReport {
    /// [`FLEET_SCHEMA`].
    pub schema: &'static str,
    /// Where the devices came from.
    pub source: SourceInfo,
    /// The plugins that ran.
    pub plugins: Vec<PluginRef>,
    /// The plugins that were refused.
    pub refused: Vec<Refusal>,
    /// One entry per check and per unsupported device, in device order.
    pub results: Vec<FleetResult>,
    /// The counts.
    pub summary: FleetSummary,
    /// The exit status.
    pub exit: ExitStatus,
}

impl ExitStatus {
    /// A fleet's status: could not run when a plugin was refused, a check failed, the
    /// run was interrupted or nothing was checked; else findings or healthy.
    pub fn of_fleet(summary: &FleetSummary, refused: usize) -> Self {
        if refused > 0 || summary.failed > 0 || summary.interrupted || summary.checks == 0 {
            Self::CouldNotRun
        } else if summary.with_findings > 0 {
            Self::Findings
        } else {
            Self::Healthy
        }
    }
}

impl FleetReport {
    /// Assembles the report; the exit status follows from the summary and refusals.
    pub fn new(
        source: SourceInfo,
        plugins: Vec<PluginRef>,
        refused: Vec<Refusal>,
        results: Vec<FleetResult>,
        summary: FleetSummary,
    ) -> Self {
        let exit = ExitStatus::of_fleet(&summary, refused.len());
        Self { schema: FLEET_SCHEMA, source, plugins, refused, results, summary, exit }
    }

    /// The report as one pretty-printed JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("fleet reports serialize")
    }

    /// The closing line of `--format jsonl`.
    pub fn summary_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            record: &'static str,
            schema: &'static str,
            #[serde(flatten)]
            summary: &'a FleetSummary,
            refused: &'a [Refusal],
            exit: ExitStatus,
        }
        let line = Line {
            record: "summary",
            schema: FLEET_SCHEMA,
            summary: &self.summary,
            refused: &self.refused,
            exit: self.exit,
        };
        serde_json::to_string(&line).expect("summaries serialize")
    }
}

/// One result as a line of `--format jsonl`, written as soon as its check ends.
pub fn result_line(result: &FleetResult) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        record: &'static str,
        #[serde(flatten)]
        result: &'a FleetResult,
    }
    serde_json::to_string(&Line { record: "result", result }).expect("results serialize")
}

/// The table: one line per device and plugin, findings of warning or worse underneath,
/// then the summary line.
pub fn render_fleet(report: &FleetReport) -> String {
    let mut out = super::human::source_line(&report.source);
    for refusal in &report.refused {
        let _ = writeln!(out, "refused: {}: {}", visible(&refusal.plugin), visible(&refusal.reason));
    }
    let rows: Vec<[String; 6]> = report
        .results
        .iter()
        .map(|r| {
            [
                r.device.name.clone(),
                r.device.kind.to_string(),
                r.device
                    .rdma_device
                    .clone()
                    .map_or(r.device.parent.clone(), |rdma| format!("{} {rdma}", r.device.parent)),
                r.plugin.as_ref().map_or("-".into(), |p| format!("{} {}", visible(&p.name), visible(&p.version))),
                r.status.as_str().to_string(),
                match r.status {
                    FleetStatus::Unsupported => "-".into(),
                    _ => format!("{:.0} ms", r.duration.as_secs_f64() * 1e3),
                },
            ]
        })
        .collect();
    let header = ["DEVICE", "KIND", "PARENT", "PLUGIN", "STATUS", "TIME"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |out: &mut String, cells: &[String; 6]| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:width$}  ");
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    out.push('\n');
    if report.results.is_empty() {
        let _ = writeln!(out, "no fwctl devices found");
    } else {
        line(&mut out, &header);
    }
    for (row, result) in rows.iter().zip(&report.results) {
        line(&mut out, row);
        let indent = widths[0] + 2;
        for finding in result.findings.iter().filter(|f| f.severity >= Severity::Warning) {
            let severity = finding.severity.to_string();
            let _ =
                writeln!(out, "{:indent$}{severity:<8} {}: {}", "", visible(&finding.code), visible(&finding.summary));
        }
        if result.status.is_failure() {
            let _ = writeln!(out, "{:indent$}{}", "", visible(result.error.as_deref().unwrap_or("failed")));
        }
    }
    let _ = writeln!(out, "\n{} (exit {})", report.summary.line(), report.exit.code());
    out
}
