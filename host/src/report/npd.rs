//! The answer for Kubernetes node-problem-detector's custom plugin protocol.
//!
//! NPD reads the exit status (0 OK, 1 a problem, anything else Unknown) and keeps at
//! most `max_output_length` bytes of stdout (80 by default) as the condition's message.
//! So the answer is one line that fits, most severe problem first:
//! `mlx5_0:mlx5.pcie.degraded mlx5_3:mlx5.link.down(+2)`.

use super::ExitStatus;
use super::exposition::device_label;
use crate::fleet::{FleetResult, FleetStatus, FleetSummary};
use crate::outcome::Severity;

/// What NPD is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// 0 OK, 1 problem, 2 Unknown.
    pub exit: ExitStatus,
    /// The one line, at most the byte limit long.
    pub line: String,
}

impl Verdict {
    /// Unknown, with `why` cut to fit.
    pub fn unknown(why: &str, max: usize) -> Self {
        let one_line = why.split_whitespace().collect::<Vec<_>>().join(" ");
        Self { exit: ExitStatus::CouldNotRun, line: cut(&one_line, max) }
    }
}

/// The verdict over a fleet's results: a problem when a device vanished or has a
/// finding of at least `min`; else Unknown when a check could not finish; else OK.
pub fn verdict(results: &[FleetResult], summary: &FleetSummary, min: Severity, max: usize) -> Verdict {
    // Simulated devices are never passed off as hardware: the answer says so.
    let simulated = results.iter().any(|r| r.device.simulated);
    let reserve = if simulated { SIMULATED.len() } else { 0 };
    let mut verdict = verdict_of(results, summary, min, max.saturating_sub(reserve));
    if simulated {
        verdict.line = match verdict.exit {
            ExitStatus::Healthy => cut(&verdict.line.replacen(" fwctl devices", " simulated fwctl devices", 1), max),
            _ => format!("{}{SIMULATED}", verdict.line),
        };
    }
    // One line, whatever a plugin put in a finding code: NPD keeps the first only.
    verdict.line = verdict.line.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    verdict
}

/// What a verdict over simulated devices ends with.
const SIMULATED: &str = " (simulated)";

fn verdict_of(results: &[FleetResult], summary: &FleetSummary, min: Severity, max: usize) -> Verdict {
    // (how bad, the order it was found in, the text).
    let mut problems: Vec<(Severity, usize, String)> = Vec::new();
    let mut note = |severity, text: String| {
        if !problems.iter().any(|(_, _, t)| *t == text) {
            let order = problems.len();
            problems.push((severity, order, text));
        }
    };
    for result in results {
        let device = device_label(result);
        // A vanished device outranks everything, and what its plugin reported on the way
        // out (failed RPCs) is a consequence, not news.
        if result.status == FleetStatus::Gone {
            note(Severity::Critical, format!("{device}:gone"));
            continue;
        }
        for finding in result.findings.iter().filter(|f| f.severity >= min) {
            note(finding.severity, format!("{device}:{}", finding.code));
        }
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let items: Vec<String> = problems.into_iter().map(|(_, _, text)| text).collect();
        return Verdict { exit: ExitStatus::Findings, line: fit(&items, max) };
    }
    let unfinished: Vec<String> = results
        .iter()
        .filter(|r| r.status.is_failure())
        .map(|r| format!("{}:{}", device_label(r), r.status.as_str()))
        .collect();
    if !unfinished.is_empty() || summary.interrupted || summary.checks == 0 {
        let mut items = unfinished;
        if summary.interrupted {
            items.push(format!("deadline:{}-not-run", summary.not_run));
        }
        if summary.devices == 0 {
            items.push("no-fwctl-devices-found".into());
        } else if summary.checks == 0 && !summary.interrupted {
            items.push("no-device-checked".into());
        }
        return Verdict { exit: ExitStatus::CouldNotRun, line: fit(&items, max) };
    }
    let checked = summary.devices - summary.unsupported;
    Verdict { exit: ExitStatus::Healthy, line: cut(&format!("OK: {checked} fwctl devices healthy"), max) }
}

/// As many items as fit in `max` bytes, space-separated, then `(+N)` for the rest; the
/// first item is cut short when even it does not fit.
fn fit(items: &[String], max: usize) -> String {
    let mut line = String::new();
    for (taken, item) in items.iter().enumerate() {
        let rest = items.len() - taken - 1;
        let suffix = if rest > 0 { format!("(+{rest})") } else { String::new() };
        let separator = if line.is_empty() { "" } else { " " };
        if line.len() + separator.len() + item.len() + suffix.len() <= max {
            line.push_str(separator);
            line.push_str(item);
            continue;
        }
        let left = items.len() - taken;
        let suffix = format!("(+{left})");
        if line.is_empty() {
            // Not even the first fits: cut it, and count the others.
            let others = if left > 1 { format!("(+{})", left - 1) } else { String::new() };
            return format!("{}{others}", cut(item, max.saturating_sub(others.len())));
        }
        line.push_str(&suffix);
        return line;
    }
    line
}

/// `text` cut to at most `max` bytes on a character boundary, `...` marking the cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[&str]) -> Vec<String> {
        list.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn a_host_without_devices_is_unknown_and_says_so() {
        let none = FleetSummary::default();
        let verdict = verdict(&[], &none, Severity::Error, 80);
        assert_eq!((verdict.exit, verdict.line.as_str()), (ExitStatus::CouldNotRun, "no-fwctl-devices-found"));
        assert_eq!(Verdict::unknown("a\n  b", 80).line, "a b");
    }

    #[test]
    fn items_that_fit_are_all_shown() {
        assert_eq!(fit(&items(&["a:x", "b:y"]), 80), "a:x b:y");
    }

    #[test]
    fn the_rest_is_counted_and_the_line_fits() {
        let many: Vec<String> = (0..20).map(|i| format!("mlx5_{i}:mlx5.pcie.degraded")).collect();
        let line = fit(&many, 80);
        assert!(line.len() <= 80, "{} bytes: {line}", line.len());
        assert!(line.starts_with("mlx5_0:mlx5.pcie.degraded mlx5_1:mlx5.pcie.degraded"), "{line}");
        assert!(line.ends_with("(+18)"), "{line}");
    }

    #[test]
    fn a_first_item_too_long_is_cut_on_a_character_boundary() {
        let long = format!("mlx5_0:{}", "é".repeat(60));
        let line = fit(&[long, "b:y".into()], 40);
        assert!(line.len() <= 40, "{} bytes: {line}", line.len());
        assert!(line.ends_with("...(+1)"), "{line}");
        assert_eq!(cut("short", 80), "short");
    }
}
