//! Rendering results for people (`human`) and machines (`json`), and the exit status.

mod devices;
pub mod exposition;
mod fleet;
mod human;
mod inspect;
pub mod npd;
mod result_line;
mod rpc;
mod signature;
pub mod terminal;
pub mod textfile;

use serde::Serialize;

pub use self::devices::{DeviceListing, render_device_list};
pub use self::exposition::{Exposition, device_label};
pub use self::fleet::{FLEET_SCHEMA, FleetReport, FleetTable, JsonDocument, Refusal, render_fleet};
pub use self::human::{Detail, render_run};
pub use self::inspect::{Inspection, grant_lines};
pub use self::result_line::result_line;
pub use self::rpc::RawAnswer;
pub use self::signature::Verification;
pub use self::textfile::{TEXTFILE_NAME, previous_last_success, write_textfile, write_textfile_with};
use crate::outcome::{DeviceRun, RunStatus, Severity};
use crate::policy::Grant;
use crate::source::SourceInfo;

/// The version of the JSON report layout; bumped on any incompatible change.
pub const REPORT_SCHEMA: &str = "fwctl-run.report/v1";

/// Everything one `fwctl-run PLUGIN` invocation found.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// The plugin that ran.
    pub plugin: PluginSummary,
    /// Where the devices came from (says plainly when they are simulated).
    pub source: SourceInfo,
    /// What the plugin was granted.
    pub grant: Grant,
    /// How the component was compiled for this run.
    pub compile: CompileInfo,
    /// One entry per device, in node order.
    pub runs: Vec<DeviceRun>,
    /// The exit status this report maps to.
    pub exit: ExitStatus,
}

/// The plugin, as reports name it.
#[derive(Clone, Debug, Serialize)]
pub struct PluginSummary {
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// Manifest vendor.
    pub vendor: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
    /// The file it was loaded from.
    pub path: String,
    /// Who signed it, as this host's trust store judges.
    pub signature: crate::signing::SignatureStatus,
}

impl PluginSummary {
    /// What a report says about `plugin`, signed as `signature` says.
    pub fn of(plugin: &crate::plugin::Plugin, signature: crate::signing::SignatureStatus) -> Self {
        Self {
            name: plugin.manifest.name.clone(),
            version: plugin.manifest.version.clone(),
            vendor: plugin.manifest.vendor.clone(),
            digest: plugin.digest.clone(),
            path: plugin.path.display().to_string(),
            signature,
        }
    }
}

/// How the plugin's component was obtained for this run.
#[derive(Clone, Debug, Serialize)]
pub struct CompileInfo {
    /// `hit` (loaded from the on-disk cache), `miss` (compiled and stored), or `disabled`.
    pub cache: &'static str,
    /// Time to compile or load it and check it against the plugin world.
    pub prepare_ms: f64,
}

impl CompileInfo {
    /// How `sandbox` came by the plugin, which took `took`.
    pub fn of(sandbox: &crate::sandbox::Sandbox, took: std::time::Duration) -> Self {
        let cache = match sandbox.cache_stats() {
            None => "disabled",
            Some((hits, _)) if hits > 0 => "hit",
            Some(_) => "miss",
        };
        Self { cache, prepare_ms: took.as_secs_f64() * 1e3 }
    }
}

/// What the process exit status says. Documented in `--help` and the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitStatus {
    /// 0 from a command that checks no device (`sign`, `pull`, `list`, …): it did what
    /// it was asked.
    Done,
    /// 0: every device checked, nothing of warning or worse.
    Healthy,
    /// 1: every device checked; at least one finding of warning or worse.
    Findings,
    /// 2: the plugin could not run (bad plugin, refused grant, or a run failed on a device,
    /// or no device matched the plugin).
    CouldNotRun,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Done | Self::Healthy => 0,
            Self::Findings => 1,
            Self::CouldNotRun => 2,
        }
    }

    /// Derives the status from the runs.
    pub fn of_runs(runs: &[DeviceRun]) -> Self {
        let ran: Vec<_> = runs.iter().filter(|r| !matches!(r.status, RunStatus::NotApplicable { .. })).collect();
        if ran.is_empty() || ran.iter().any(|r| matches!(r.status, RunStatus::Failed { .. })) {
            return Self::CouldNotRun;
        }
        let worst = ran.iter().filter_map(|r| r.output.worst()).max();
        if worst.is_some_and(|s| s >= Severity::Warning) { Self::Findings } else { Self::Healthy }
    }
}

impl RunReport {
    /// Assembles a report; the exit status follows from the runs.
    pub fn new(
        plugin: PluginSummary,
        source: SourceInfo,
        grant: Grant,
        compile: CompileInfo,
        runs: Vec<DeviceRun>,
    ) -> Self {
        let exit = ExitStatus::of_runs(&runs);
        Self { schema: REPORT_SCHEMA, plugin, source, grant, compile, runs, exit }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize")
    }
}

#[cfg(test)]
mod tests {
    /// Reports and JSON lines are read by scripts and diffed against goldens: their keys
    /// come out sorted. A dependency that turns on serde_json's `preserve_order` (one YAML
    /// crate does) would reorder every report; this says so at once.
    #[test]
    fn json_objects_keep_their_keys_sorted() {
        let value: serde_json::Value = serde_json::from_str(r#"{"zebra":1,"apple":2}"#).unwrap();
        assert_eq!(value.to_string(), r#"{"apple":2,"zebra":1}"#, "serde_json's preserve_order is on");
    }
}
