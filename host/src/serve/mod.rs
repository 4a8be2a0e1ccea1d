//! `fwctl-run serve`: a long-running exporter. The fleet runs on a schedule
//! ([`schedule`]); each completed run's metrics are rendered once and published to the
//! [`Exporter`]; scrapes ([`http`]) are answered from the last publication and never
//! reach a device, so no scrape rate can load the firmware.
//!
//! Who may scrape is decided by [`exposure`] (which addresses need protecting) and
//! [`web_config`] (TLS and users, in exporter-toolkit's format), checked by [`auth`].

pub mod auth;
pub mod exposure;
pub mod gzip;
pub mod http;
pub mod negotiate;
pub mod schedule;
pub mod web_config;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use bytes::Bytes;

use self::gzip::GzipPrefix;
use self::negotiate::Format;
use crate::fleet::{FleetResult, FleetStatus};
use crate::report::{Exposition, device_label};

/// How a fleet run ended, as `fwctl_run_runs_total{outcome}` counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every device was checked (findings or not).
    Success,
    /// The run could not be made (discovery failed) or a check failed on a device.
    Failure,
}

/// One completed run's metrics, rendered and deflated once for every scrape until the
/// next ([`gzip`]): kept compressed, they cost little memory, and a scrape sends them as
/// they are (Prometheus always takes gzip); a scraper that does not gets them inflated.
struct Publication {
    /// The classic text format.
    prometheus: GzipPrefix,
    /// OpenMetrics without its closing `# EOF` (the exporter's own families go after).
    openmetrics: GzipPrefix,
    /// When the run completed.
    completed: Instant,
    /// Each format's text, inflated at the first scrape that does not take gzip and kept
    /// for the next ones (curl and people, not Prometheus).
    inflated: [OnceLock<Bytes>; 2],
}

/// How a scrape's body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// As text.
    Identity,
    /// As one gzip member.
    Gzip,
}

/// What scrapes are answered from: the last completed run and the exporter's counts.
#[derive(Default)]
pub struct Exporter {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    latest: Option<Arc<Publication>>,
    successes: u64,
    failures: u64,
    skipped: u64,
    /// Whether the last SIGHUP reload loaded everything (true before any).
    reload_failed: bool,
}

impl Exporter {
    /// An exporter that has not completed a run yet (not ready).
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes a completed run's metrics; scrapes see them from now on.
    pub fn publish(&self, exposition: &Exposition, outcome: RunOutcome) {
        let mut prometheus = Vec::new();
        let mut openmetrics = Vec::new();
        exposition.write_prometheus(&mut prometheus).expect("writing to memory");
        exposition.write_openmetrics(&mut openmetrics).expect("writing to memory");
        let eof = openmetrics.len() - b"# EOF\n".len();
        openmetrics.truncate(eof);
        let publication = Publication {
            prometheus: GzipPrefix::new(&prometheus),
            openmetrics: GzipPrefix::new(&openmetrics),
            completed: Instant::now(),
            inflated: [OnceLock::new(), OnceLock::new()],
        };
        let mut state = self.lock();
        state.latest = Some(Arc::new(publication));
        state.count(outcome);
    }

    /// Counts a run that could not be made; the last publication stays.
    pub fn failed(&self) {
        self.lock().count(RunOutcome::Failure);
    }

    /// Counts grid points passed over while a run went on.
    pub fn skipped(&self, intervals: u64) {
        self.lock().skipped += intervals;
    }

    /// Records how the last reload went.
    pub fn reloaded(&self, ok: bool) {
        self.lock().reload_failed = !ok;
    }

    /// Whether a run has completed (`/ready`).
    pub fn ready(&self) -> bool {
        self.lock().latest.is_some()
    }

    /// A scrape's body in `format` and `encoding`: the last run's families (shared, not
    /// copied, when gzip is taken), then the exporter's own. `None` before the first run
    /// completes.
    pub fn scrape(&self, format: Format, encoding: Encoding) -> Option<Vec<Bytes>> {
        let (latest, counts) = {
            let state = self.lock();
            (state.latest.clone()?, [state.successes, state.failures, state.skipped, u64::from(!state.reload_failed)])
        };
        let age = latest.completed.elapsed().as_secs_f64();
        let own = own_families(format, age, counts);
        let (families, inflated) = match format {
            Format::Prometheus => (&latest.prometheus, &latest.inflated[0]),
            Format::OpenMetrics => (&latest.openmetrics, &latest.inflated[1]),
        };
        Some(match encoding {
            Encoding::Gzip => vec![families.prefix(), families.finish_with(own.as_bytes()).into()],
            Encoding::Identity => vec![inflated.get_or_init(|| families.text().into()).clone(), own.into()],
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn count(&mut self, outcome: RunOutcome) {
        match outcome {
            RunOutcome::Success => self.successes += 1,
            RunOutcome::Failure => self.failures += 1,
        }
    }
}

/// The exporter's own families, as of this scrape.
fn own_families(format: Format, age: f64, [successes, failures, skipped, reloaded]: [u64; 4]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, unit: &str, help: &str, samples: &[(&str, f64)]| {
        let (family, sample) = match (format, kind) {
            (Format::OpenMetrics, "counter") => (name.trim_end_matches("_total"), name),
            _ => (name, name),
        };
        match format {
            Format::Prometheus => {
                out.push_str(&format!("# HELP {family} {help}\n# TYPE {family} {kind}\n"));
            }
            Format::OpenMetrics => {
                out.push_str(&format!("# TYPE {family} {kind}\n"));
                if !unit.is_empty() {
                    out.push_str(&format!("# UNIT {family} {unit}\n"));
                }
                out.push_str(&format!("# HELP {family} {help}\n"));
            }
        }
        for (labels, value) in samples {
            out.push_str(&format!("{sample}{labels} {value}\n"));
        }
    };
    family(
        "fwctl_run_last_run_age_seconds",
        "gauge",
        "seconds",
        "Seconds since the fleet run being served completed.",
        &[("", age)],
    );
    family(
        "fwctl_run_runs_total",
        "counter",
        "",
        "Fleet runs since the exporter started, by outcome.",
        &[("{outcome=\"success\"}", successes as f64), ("{outcome=\"failure\"}", failures as f64)],
    );
    family(
        "fwctl_run_intervals_skipped_total",
        "counter",
        "",
        "Intervals that passed with no run of their own because the run before outlasted them.",
        &[("", skipped as f64)],
    );
    family(
        "fwctl_run_config_last_reload_successful",
        "gauge",
        "",
        "0 when the last SIGHUP could not load the web configuration, policy or trust store (no plugin runs then), else 1.",
        &[("", reloaded as f64)],
    );
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// Gathers one run's results into the families `serve` publishes: the textfile's, and
/// `fwctl_device_up` per device.
#[derive(Default)]
pub struct RunCollector {
    exposition: Exposition,
    /// Per device label: whether every check of it ran to the end.
    up: BTreeMap<String, bool>,
}

impl RunCollector {
    /// Adds one result as its check ends.
    pub fn add(&mut self, result: &FleetResult) {
        self.exposition.add_result(result);
        if result.plugin.is_some() {
            let up = matches!(result.status, FleetStatus::Ok | FleetStatus::Findings);
            let entry = self.up.entry(device_label(result)).or_insert(true);
            *entry &= up;
        }
    }

    /// The run's families; `last_success` as for the textfile.
    pub fn finish(mut self, last_success: Option<f64>) -> Exposition {
        for (device, up) in std::mem::take(&mut self.up) {
            self.exposition.add_host_gauge(
                "fwctl_device_up",
                "1 when every check of the device ran to the end in the last run, 0 when one failed.",
                &[("device", device)],
                if up { 1.0 } else { 0.0 },
            );
        }
        self.exposition.finish(last_success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_served_before_the_first_run_completes() {
        let exporter = Exporter::new();
        assert!(!exporter.ready() && exporter.scrape(Format::Prometheus, Encoding::Gzip).is_none());
        exporter.failed();
        assert!(!exporter.ready(), "a failed run publishes nothing");
    }

    #[test]
    fn a_scrape_serves_the_last_run_and_the_exporters_own_counts() {
        let exporter = Exporter::new();
        exporter.publish(&Exposition::default().finish(Some(1.0)), RunOutcome::Success);
        exporter.skipped(2);
        exporter.failed();
        let body: Vec<u8> = exporter.scrape(Format::Prometheus, Encoding::Identity).unwrap().concat();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("# HELP fwctl_run_last_success_timestamp_seconds"), "{text}");
        assert!(text.contains("fwctl_run_runs_total{outcome=\"success\"} 1\n"), "{text}");
        assert!(text.contains("fwctl_run_runs_total{outcome=\"failure\"} 1\n"), "{text}");
        assert!(text.contains("fwctl_run_intervals_skipped_total 2\n"), "{text}");
        exporter.reloaded(false);
        let text =
            String::from_utf8(exporter.scrape(Format::Prometheus, Encoding::Identity).unwrap().concat()).unwrap();
        assert!(text.contains("fwctl_run_config_last_reload_successful 0\n"), "{text}");
        assert!(
            text.contains("# TYPE fwctl_run_last_run_age_seconds gauge\nfwctl_run_last_run_age_seconds "),
            "{text}"
        );
    }

    #[test]
    fn the_gzip_body_is_one_member_of_the_same_text() {
        let exporter = Exporter::new();
        exporter.publish(&Exposition::default().finish(Some(1.0)), RunOutcome::Success);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let member = exporter.scrape(format, Encoding::Gzip).unwrap().concat();
            let mut inflated = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&member[..]), &mut inflated).unwrap();
            let text = String::from_utf8(exporter.scrape(format, Encoding::Identity).unwrap().concat()).unwrap();
            let age =
                |t: &str| t.lines().filter(|l| !l.starts_with("fwctl_run_last_run_age")).collect::<Vec<_>>().join("\n");
            assert_eq!(age(&inflated), age(&text));
        }
    }

    #[test]
    fn openmetrics_ends_once_after_the_exporters_own_families() {
        let exporter = Exporter::new();
        exporter.publish(&Exposition::default().finish(Some(1.0)), RunOutcome::Success);
        let text =
            String::from_utf8(exporter.scrape(Format::OpenMetrics, Encoding::Identity).unwrap().concat()).unwrap();
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(text.ends_with("fwctl_run_config_last_reload_successful 1\n# EOF\n"), "{text}");
        assert!(text.contains("# TYPE fwctl_run_runs counter\n"), "{text}");
        assert!(text.contains("# UNIT fwctl_run_last_run_age_seconds seconds\n"), "{text}");
    }
}
