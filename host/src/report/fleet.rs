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

/// `--format json` written as results arrive, so a fleet keeps none of them: the header
/// (schema, source, plugins, refusals), each result as it ends, then the summary and exit
/// status. The document is the one [`FleetReport::to_json`] writes, with `results` in the
/// order the checks ended.
pub struct JsonDocument<W: std::io::Write> {
    out: W,
    results: usize,
}

impl<W: std::io::Write> JsonDocument<W> {
    /// Writes the header; results follow with [`Self::result`].
    pub fn begin(mut out: W, source: &SourceInfo, plugins: &[PluginRef], refused: &[Refusal]) -> std::io::Result<Self> {
        write!(
            out,
            "{{\n  \"schema\": \"{FLEET_SCHEMA}\",\n  \"source\": {},\n  \"plugins\": {},\n  \"refused\": {},\n  \"results\": [",
            indented(source, 2),
            indented(plugins, 2),
            indented(refused, 2)
        )?;
        Ok(Self { out, results: 0 })
    }

    /// Writes one result.
    pub fn result(&mut self, result: &FleetResult) -> std::io::Result<()> {
        let separator = if self.results == 0 { "\n    " } else { ",\n    " };
        self.results += 1;
        write!(self.out, "{separator}{}", indented(result, 4))?;
        self.out.flush()
    }

    /// Closes the document with the summary and the exit status.
    pub fn end(mut self, summary: &FleetSummary, exit: ExitStatus) -> std::io::Result<()> {
        let close = if self.results == 0 { "]" } else { "\n  ]" };
        writeln!(
            self.out,
            "{close},\n  \"summary\": {},\n  \"exit\": {}\n}}",
            indented(summary, 2),
            indented(&exit, 2)
        )?;
        self.out.flush()
    }
}

/// `value` pretty-printed, every line after the first indented by `by` spaces: a part of
/// a document, indented to where it sits.
fn indented<T: Serialize + ?Sized>(value: &T, by: usize) -> String {
    let text = serde_json::to_string_pretty(value).expect("reports serialize");
    text.replace('\n', &format!("\n{:by$}", ""))
}

/// One line of the fleet table, kept instead of the result it came from: what the
/// table shows is a few hundred bytes of a result's tens of kilobytes.
#[derive(Clone, Debug)]
struct Row {
    /// The device's place in discovery order (node number), then the plugin: the table's order.
    order: (u64, String),
    cells: [String; 6],
    /// Findings of warning or worse, and the error of a failed check.
    notes: Vec<String>,
}

/// The fleet table, built as results arrive.
#[derive(Clone, Debug, Default)]
pub struct FleetTable {
    rows: Vec<Row>,
}

impl FleetTable {
    /// Keeps what the table shows of `result`.
    pub fn push(&mut self, r: &FleetResult) {
        let node: u64 = r.device.name.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(u64::MAX);
        let plugin = r.plugin.as_ref().map_or("-".into(), |p| format!("{} {}", visible(&p.name), visible(&p.version)));
        let mut notes: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| format!("{:<8} {}: {}", f.severity.to_string(), visible(&f.code), visible(&f.summary)))
            .collect();
        if r.status.is_failure() {
            notes.push(visible(r.error.as_deref().unwrap_or("failed")).into_owned());
        }
        let cells = [
            r.device.name.clone(),
            r.device.kind.to_string(),
            r.device.rdma_device.clone().map_or(r.device.parent.clone(), |rdma| format!("{} {rdma}", r.device.parent)),
            plugin.clone(),
            r.status.as_str().to_string(),
            match r.status {
                FleetStatus::Unsupported => "-".into(),
                _ => format!("{:.0} ms", r.duration.as_secs_f64() * 1e3),
            },
        ];
        self.rows.push(Row { order: (node, plugin), cells, notes });
    }

    /// The table, in device order, between the source line and the summary line.
    pub fn render(
        mut self,
        source: &SourceInfo,
        refused: &[Refusal],
        summary: &FleetSummary,
        exit: ExitStatus,
    ) -> String {
        self.rows.sort_by(|a, b| a.order.cmp(&b.order));
        let mut out = super::human::source_line(source);
        for refusal in refused {
            let _ = writeln!(out, "refused: {}: {}", visible(&refusal.plugin), visible(&refusal.reason));
        }
        let header = ["DEVICE", "KIND", "PARENT", "PLUGIN", "STATUS", "TIME"].map(String::from);
        let mut widths = header.clone().map(|h| h.len());
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(&row.cells) {
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
        if self.rows.is_empty() {
            let _ = writeln!(out, "no fwctl devices found");
        } else {
            line(&mut out, &header);
        }
        let indent = widths[0] + 2;
        for row in &self.rows {
            line(&mut out, &row.cells);
            for note in &row.notes {
                let _ = writeln!(out, "{:indent$}{note}", "");
            }
        }
        let _ = writeln!(out, "\n{} (exit {})", summary.line(), exit.code());
        out
    }
}

/// The table: one line per device and plugin, findings of warning or worse underneath,
/// then the summary line.
pub fn render_fleet(report: &FleetReport) -> String {
    let mut table = FleetTable::default();
    for result in &report.results {
        table.push(result);
    }
    table.render(&report.source, &report.refused, &report.summary, report.exit)
}
