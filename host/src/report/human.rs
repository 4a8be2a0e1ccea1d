//! The report people read in a terminal.

use std::fmt::Write;

use super::terminal::visible;
use super::{ExitStatus, RunReport};
use crate::outcome::{DeviceRun, RunStatus, Severity};

/// How much of each run the text shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Facts, and findings of warning or worse.
    Summary,
    /// Also every finding, the plugin's logs and its captured output (`-v`).
    Verbose,
}

/// Renders a run report as text, in `detail`.
pub fn render_run(report: &RunReport, detail: Detail) -> String {
    let verbose = detail == Detail::Verbose;
    let mut out = String::new();
    let p = &report.plugin;
    let short_digest = p.digest.get(..19).unwrap_or(&p.digest);
    let _ = writeln!(out, "{} {} ({}) {short_digest}", visible(&p.name), visible(&p.version), visible(&p.vendor));
    let g = &report.grant;
    let _ = writeln!(out, "{}; policy entry `{}`, {}", p.signature.describe(), g.policy_entry, g.entry_reason);
    out.push_str(&source_line(&report.source));

    for run in &report.runs {
        out.push('\n');
        render_device(&mut out, run, verbose);
    }

    out.push('\n');
    let count = |f: &dyn Fn(&DeviceRun) -> bool| report.runs.iter().filter(|r| f(r)).count();
    let failed = count(&|r| matches!(r.status, RunStatus::Failed { .. }));
    let skipped = count(&|r| matches!(r.status, RunStatus::NotApplicable { .. }));
    let flagged = count(&|r| {
        matches!(r.status, RunStatus::Completed) && r.output.worst().is_some_and(|s| s >= Severity::Warning)
    });
    let checked = report.runs.len() - failed - skipped;
    let verdict = match report.exit {
        ExitStatus::Done | ExitStatus::Healthy => "healthy",
        ExitStatus::Findings => "findings need attention",
        ExitStatus::CouldNotRun => "could not run everywhere",
    };
    let _ = writeln!(
        out,
        "summary: {checked} checked ({} healthy, {flagged} with findings), {failed} failed, {skipped} not applicable: {verdict} (exit {})",
        checked - flagged,
        report.exit.code()
    );
    out
}

/// Where the devices came from, saying plainly when they are simulated.
pub(super) fn source_line(source: &crate::source::SourceInfo) -> String {
    if source.simulated {
        format!(
            "devices: SIMULATED by fwctl-run, profile `{}` ({}); no real hardware is touched\n",
            source.profile.as_deref().unwrap_or("default"),
            source.reason
        )
    } else {
        format!("devices: kernel fwctl ({})\n", source.reason)
    }
}

fn render_device(out: &mut String, run: &DeviceRun, verbose: bool) {
    let d = &run.device;
    let parent = d
        .pci_address
        .as_deref()
        .filter(|p| *p != d.parent)
        .map_or(d.parent.clone(), |pci| format!("{} ({pci})", d.parent));
    let model = d.model.as_deref().map(|m| format!("  {m}")).unwrap_or_default();
    let state = match &run.status {
        RunStatus::Completed => match run.output.worst() {
            Some(s) if s >= Severity::Warning => format!("{s}"),
            _ => "healthy".to_string(),
        },
        RunStatus::NotApplicable { reason } => format!("not applicable: {reason}"),
        RunStatus::Failed { kind, .. } => format!("FAILED ({kind})"),
    };
    let timing = if matches!(run.status, RunStatus::NotApplicable { .. }) {
        String::new()
    } else {
        format!("  [{} RPCs, {:.1} ms]", run.rpcs, run.duration.as_secs_f64() * 1e3)
    };
    let _ = writeln!(out, "{}  {}  {parent}{model}  {state}{timing}", d.name, d.kind);

    if let RunStatus::Failed { cause, .. } = &run.status {
        let _ = writeln!(out, "    error: {}", visible(cause));
    }
    // Everything below came from the plugin: shown, never obeyed (see `terminal`).
    let width = run.output.facts.keys().map(|k| visible(k).len()).max().unwrap_or(0);
    for (key, value) in &run.output.facts {
        let _ = writeln!(out, "    {:<width$}  {}", visible(key), visible(&value.to_string()));
    }
    for finding in &run.output.findings {
        let severity = finding.severity.to_string().to_uppercase();
        let _ = writeln!(out, "    {severity:<8} {}  {}", visible(&finding.code), visible(&finding.summary));
        if verbose || finding.severity >= Severity::Warning {
            let detail: Vec<_> =
                finding.detail.iter().map(|(k, v)| format!("{}={}", visible(k), visible(&v.to_string()))).collect();
            if !detail.is_empty() {
                let _ = writeln!(out, "             {}", detail.join(" "));
            }
        }
    }
    for denial in &run.output.denials {
        let _ = writeln!(out, "    refused by host: {}", visible(denial));
    }
    if verbose {
        for line in &run.output.logs {
            let _ = writeln!(out, "    log {:?}: {}", line.level, visible(&line.message));
        }
        for (name, text) in [("stdout", &run.output.stdout), ("stderr", &run.output.stderr)] {
            for line in text.split_inclusive('\n') {
                let _ = writeln!(out, "    {name}: {}", visible(line.strip_suffix('\n').unwrap_or(line)));
            }
        }
    }
}
