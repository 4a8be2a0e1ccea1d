//! `fwctl-run npd`: a Kubernetes node-problem-detector custom plugin over the fleet check.

use anyhow::Result;
use clap::Args;
use fwctl_run::outcome::Severity;
use fwctl_run::report::{ExitStatus, npd};

use fwctl_run::fleet::FleetResult;

use super::fleet::{Conduct, FleetCommon, Progress, Retention, Sink, check_fleet};

/// NPD answers from the finished report (results kept, `Retention::All`): nothing is
/// written as results arrive.
struct KeepForTheVerdict;

impl Sink for KeepForTheVerdict {
    fn result(&mut self, _: &FleetResult) {}
}

/// `fwctl-run npd`.
#[derive(Debug, Args)]
pub struct NpdCommand {
    #[command(flatten)]
    pub common: FleetCommon,

    /// Give up and answer Unknown after this long (e.g. `45s`); keep it below the NPD
    /// rule's `timeout`, past which NPD kills the plugin and learns nothing.
    #[arg(long, value_name = "DURATION", default_value = "45s", value_parser = humantime::parse_duration)]
    pub deadline: std::time::Duration,

    /// The most bytes of output NPD keeps (its `max_output_length`).
    #[arg(long, value_name = "BYTES", default_value_t = 80, value_parser = clap::value_parser!(u16).range(16..))]
    pub max_output: u16,

    /// The least severe finding that is a node problem.
    #[arg(long, value_enum, default_value_t = ProblemSeverity::Error)]
    pub min_severity: ProblemSeverity,
}

/// `--min-severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProblemSeverity {
    /// Warnings and worse.
    Warning,
    /// Errors and worse.
    Error,
    /// Critical findings only.
    Critical,
}

impl NpdCommand {
    /// Whatever happens, one line on stdout and NPD's exit status.
    pub fn execute(self) -> Result<ExitStatus> {
        let min_severity = match self.min_severity {
            ProblemSeverity::Warning => Severity::Warning,
            ProblemSeverity::Error => Severity::Error,
            ProblemSeverity::Critical => Severity::Critical,
        };
        let max = usize::from(self.max_output);
        let conduct = Conduct { deadline: Some(self.deadline), progress: Progress::Hidden, results: Retention::All };
        let verdict = match check_fleet(&self.common, &conduct, &mut KeepForTheVerdict) {
            Ok((_, Err(audit))) => npd::Verdict::unknown(&format!("fwctl-run: {audit}"), max),
            Ok((report, Ok(()))) => npd::verdict(&report.results, &report.summary, min_severity, max),
            Err(error) => npd::Verdict::unknown(&format!("fwctl-run: {error:#}"), max),
        };
        println!("{}", verdict.line);
        Ok(verdict.exit)
    }
}
