//! The resource limits of one plugin-and-device run: their defaults, which the manifest
//! may move within policy and the command line may override. The grant carries them; the
//! sandbox (`sandbox/limits.rs`) enforces them.

use std::time::Duration;

use serde::Serialize;

/// What one plugin-and-device run may consume. Every limit has a default here, may be
/// lowered or raised by the plugin's manifest within policy, and overridden by the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory and tables, in bytes, across the instance.
    pub memory_bytes: usize,
    /// Wall-clock time for the whole run, instantiation included.
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    /// Firmware RPCs the plugin may send (refused ones count too: a plugin that spins on
    /// denials is as stuck as one that spins on the device).
    pub rpc_budget: u64,
    /// Bytes of stdout and of stderr kept per run; the rest is dropped and marked.
    pub output_bytes: usize,
    /// Findings, facts and log lines the plugin may report.
    pub reports: usize,
    /// Bytes of reported text (finding codes, summaries and details, facts, metric names,
    /// help and labels, log lines) the host keeps for the run: what a plugin can make the
    /// host hold beyond its own memory.
    pub report_bytes: usize,
}

impl Limits {
    /// Cuts the per-run deadline so that, within an `overall` one (`npd --deadline`), a
    /// check that hangs times out, and is reported as such, before the whole run is
    /// abandoned at the overall deadline itself.
    pub fn fit_within(&mut self, overall: Duration) {
        self.timeout = self.timeout.min(overall.mul_f64(0.8));
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            rpc_budget: 10_000,
            output_bytes: 256 << 10,
            reports: 10_000,
            report_bytes: 4 << 20,
        }
    }
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
