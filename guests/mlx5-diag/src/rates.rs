//! Error counters judged by their rate since the previous run on this device, not by a
//! total that never goes back to zero: a link that had one bad minute last month is
//! healthy today.
//!
//! The previous run's counters are kept with the host (`fwctl_sdk::state`). A first run
//! (or a replaced board: the host keys state by the board's serial) records a baseline
//! and says so. A counter that went down, or PPCNT's time-since-clear that went back,
//! means the counters were cleared (a driver reload, a firmware reset, someone's
//! `mlxlink --clear`): that run records a new baseline instead of a rate.

use std::collections::BTreeMap;

use fwctl_sdk::mlx5::registers::{PcieCounters, PhysicalLayer};
use fwctl_sdk::{Severity, fact, finding, state};
use serde::{Deserialize, Serialize};

use crate::options::Options;
use crate::port_key;
use crate::text::{joined, numbered};

/// What one port's physical-layer counters were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PortCounters {
    pub time_since_clear_ms: u64,
    pub symbol_errors: u64,
    pub fec_uncorrectable_blocks: u64,
    pub link_down_events: u64,
    pub recovery_events: u64,
}

impl From<&PhysicalLayer> for PortCounters {
    fn from(p: &PhysicalLayer) -> Self {
        Self {
            time_since_clear_ms: p.time_since_last_clear_ms,
            symbol_errors: p.symbol_errors,
            fec_uncorrectable_blocks: p.fec_uncorrectable_blocks,
            link_down_events: p.link_down_events.into(),
            recovery_events: p.successful_recovery_events.into(),
        }
    }
}

/// What the PCIe link's counters were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PcieKept {
    pub errors: u64,
    pub recoveries: u64,
}

/// What is kept between runs: each port's counters and the PCIe link's.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Kept {
    pub ports: BTreeMap<u8, PortCounters>,
    #[serde(default)]
    pub pcie: Option<PcieKept>,
}

/// The counters of this run, judged against the previous run's as ports are read, and
/// kept for the next at the end.
pub struct Rates {
    previous: Option<(Kept, f64)>,
    now: Kept,
    /// Whether the host keeps state for this run at all.
    baseline_said: bool,
}

/// What a rate is about, as facts and findings name it. Findings' words are made only
/// for a rate that is reported; the fact is written on every run.
struct Subject<'a> {
    /// The facts' prefix (`port1`, `pcie`).
    fact: &'a str,
    /// The finding codes' part after `mlx5.` (`link`, `pcie`).
    area: &'static str,
    /// The port; `None` for the PCIe link.
    port: Option<u8>,
}

impl Subject<'_> {
    /// In words: `port 1`, `the PCIe link`.
    fn name(&self) -> String {
        self.port.map_or_else(|| "the PCIe link".into(), |port| format!("port {port}"))
    }
}

/// The rate of one counter over `hours`: a `…-per-hour` fact, and a warning above
/// `threshold`.
fn judge_rate(s: &Subject, code: &str, what: &str, (before, now): (u64, u64), hours: f64, threshold: f64) {
    let rate = (now - before) as f64 / hours;
    fact(joined(&[s.fact, "-", code, "-per-hour"]), (rate * 100.0).round() / 100.0);
    if rate > threshold {
        let mut f = finding(
            Severity::Warning,
            format!("mlx5.{}.{code}-rate", s.area),
            format!(
                "{} had {} {what} in the last {hours:.1} h ({rate:.1} an hour, above {threshold})",
                s.name(),
                now - before
            ),
        );
        if let Some(port) = s.port {
            f = f.detail("port", u64::from(port));
        }
        f.detail("count", now - before).detail("per-hour", rate).report();
    }
}

/// Rates are per hour; runs closer together than this are judged as this far apart, so
/// that two runs a second apart do not turn one error into thousands an hour.
const MIN_HOURS: f64 = 1.0 / 60.0;

impl Rates {
    /// What the previous run on this device kept, if anything.
    pub fn load() -> Self {
        let previous = state::previous::<Kept>().map(|p| (p.value, p.age.as_secs_f64() / 3600.0));
        Self { previous, now: Kept::default(), baseline_said: false }
    }

    /// Judges `port`'s counters: rate findings, or a baseline.
    pub fn judge(&mut self, options: &Options, port: u8, counters: PortCounters) {
        self.now.ports.insert(port, counters);
        let Some((kept, hours)) = &self.previous else {
            self.say_baseline("no previous run on this device is known");
            return;
        };
        let Some(before) = kept.ports.get(&port) else {
            self.say_baseline("the previous run did not see this port");
            return;
        };
        let pairs = [
            (before.symbol_errors, counters.symbol_errors),
            (before.fec_uncorrectable_blocks, counters.fec_uncorrectable_blocks),
            (before.link_down_events, counters.link_down_events),
            (before.recovery_events, counters.recovery_events),
        ];
        if counters.time_since_clear_ms < before.time_since_clear_ms || pairs.iter().any(|(b, n)| n < b) {
            finding(
                Severity::Info,
                "mlx5.counters.reset",
                format!("port {port}'s counters were cleared since the previous run; this run is the new baseline"),
            )
            .detail("port", u64::from(port))
            .report();
            return;
        }
        let hours = hours.max(MIN_HOURS);
        let p = numbered("port", port);
        fact(port_key(&p, "hours-since-previous-run"), (hours * 100.0).round() / 100.0);
        let judged = [
            ("symbol-errors", "symbol errors", pairs[0], options.symbol_errors_per_hour),
            ("fec-uncorrectable", "FEC blocks it could not correct", pairs[1], options.fec_uncorrectable_per_hour),
            ("link-down", "link-down events", pairs[2], options.link_down_per_hour),
            ("link-recovery", "link-recovery events", pairs[3], options.link_recovery_per_hour),
        ];
        let subject = Subject { fact: &p, area: "link", port: Some(port) };
        for (code, what, counts, threshold) in judged {
            judge_rate(&subject, code, what, counts, hours, threshold);
        }
    }

    /// Judges the PCIe link's error counters, as [`Self::judge`] does a port's.
    pub fn judge_pcie(&mut self, options: &Options, counters: &PcieCounters) {
        let now = PcieKept { errors: counters.errors(), recoveries: counters.recoveries };
        self.now.pcie = Some(now);
        let Some((kept, hours)) = &self.previous else {
            self.say_baseline("no previous run on this device is known");
            return;
        };
        let Some(before) = kept.pcie else {
            self.say_baseline("the previous run did not read the PCIe counters");
            return;
        };
        if now.errors < before.errors || now.recoveries < before.recoveries {
            finding(
                Severity::Info,
                "mlx5.counters.reset",
                "the PCIe counters restarted since the previous run (a reset)",
            )
            .report();
            return;
        }
        let hours = hours.max(MIN_HOURS);
        for (code, what, counts, threshold) in [
            ("errors", "errors", (before.errors, now.errors), options.pcie_errors_per_hour),
            ("recovery", "recoveries", (before.recoveries, now.recoveries), options.pcie_recovery_per_hour),
        ] {
            judge_rate(&Subject { fact: "pcie", area: "pcie", port: None }, code, what, counts, hours, threshold);
        }
    }

    /// Says once that this run records the baseline rates are judged against next time.
    fn say_baseline(&mut self, why: &str) {
        if !self.baseline_said {
            self.baseline_said = true;
            finding(
                Severity::Info,
                "mlx5.counters.baseline",
                format!("{why}: this run's error counters are the baseline the next run's rates are judged by"),
            )
            .report();
        }
    }

    /// Keeps this run's counters for the next run; a host that keeps no state is said.
    pub fn keep(self) {
        if self.now.ports.is_empty() && self.now.pcie.is_none() {
            return;
        }
        if let Err(e) = state::save(&self.now) {
            finding(Severity::Info, "mlx5.counters.not-kept", format!("error rates cannot be judged next time: {e}"))
                .report();
        }
    }
}
