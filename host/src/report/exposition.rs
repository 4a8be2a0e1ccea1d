//! Fleet results as metric families, written in the classic Prometheus text format (for
//! node_exporter's textfile collector) or in OpenMetrics.
//!
//! The host's own families describe every device and check (`fwctl_device_info`,
//! `fwctl_plugin_up`, `fwctl_plugin_duration_seconds`, `fwctl_finding`,
//! `fwctl_run_last_success_timestamp_seconds`); the plugins' samples follow under the
//! names they chose, each with the `device` label added. No sample carries a timestamp:
//! the textfile collector refuses files that have any.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher as _;
use std::io::Write;
use std::sync::Arc;

use crate::fleet::{FleetResult, FleetStatus};
use crate::outcome::{Metric, MetricKind};
use crate::outcome::{Severity, Value};

/// How a family is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FamilyKind {
    Gauge,
    Counter,
    /// Static facts as labels of a sample valued 1 (`_info`).
    Info,
}

/// One metric family: its samples share a type, a unit and label names.
#[derive(Clone, Debug)]
struct Family {
    /// The OpenMetrics family name (without `_total` / `_info`).
    name: String,
    kind: FamilyKind,
    unit: String,
    help: String,
    label_names: Vec<String>,
    /// Each sample's label values (in `label_names` order) as indexes into the
    /// exposition's strings, `label_names.len()` of them per sample, one after another:
    /// a textfile of 10,000 devices holds close to a million samples, whose values are
    /// mostly the same few strings (a device's label, a plugin's name, a lane).
    labels: Vec<u32>,
    /// Each sample's value.
    values: Vec<f64>,
    /// Hashes of the label values already present (keyed per process, so a plugin cannot
    /// aim for a collision), instead of a second copy of them.
    seen: HashSet<u64>,
}

impl Family {
    /// The name samples carry in both formats.
    fn sample_name(&self) -> String {
        match self.kind {
            FamilyKind::Counter => format!("{}_total", self.name),
            FamilyKind::Info => format!("{}_info", self.name),
            FamilyKind::Gauge => self.name.clone(),
        }
    }
}

/// The metric families of one fleet run.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    families: BTreeMap<String, Family>,
    /// Samples the host dropped while assembling (conflicting type, label set or
    /// duplicate, over the series bound), each a sentence naming plugin, device and metric.
    pub dropped: Vec<String>,
    /// Series each plugin has made for each device so far (findings and its own metrics).
    series: BTreeMap<(String, String), usize>,
    /// Bytes of names and label values all plugins' series hold so far.
    plugin_bytes: usize,
    /// Each device's identity as the plugins report it, in the order devices first came,
    /// until [`Exposition::finish`] writes `fwctl_device_info`.
    identities: Vec<(String, Identity)>,
    /// Where each device's entry is in `identities`.
    identity_of: BTreeMap<String, usize>,
    /// Hashes samples' label values for the duplicate check.
    hasher: std::collections::hash_map::RandomState,
    /// Every label value, once.
    strings: Vec<Arc<str>>,
    /// Where each label value is in `strings`.
    string_ids: HashMap<Arc<str>, u32>,
}

/// The facts that identify a device in `fwctl_device_info`.
const IDENTITY_FACTS: [&str; 3] = ["firmware-version", "psid", "part-number"];

/// A device's labels from discovery, and (fact, value, plugin) for what each plugin said.
#[derive(Clone, Debug, Default)]
struct Identity {
    labels: [String; 6],
    said: BTreeSet<(&'static str, String, String)>,
}

/// The most series one plugin may put in the exposition for one device: what keeps a
/// plugin from making the textfile (and every scrape of it) as large as it likes.
pub const MAX_SERIES_PER_PLUGIN_AND_DEVICE: usize = 256;

/// The most bytes (names and label values) all plugins' series may hold together: the
/// per-device bound times thousands of devices would still be gigabytes. A real host's
/// plugins write kilobytes per device, so this is reached only by a hostile plugin run
/// over a large fleet, whose extra series are then dropped and noted once.
pub const MAX_PLUGIN_SERIES_BYTES: usize = 32 << 20;

/// The `device` label of a device: its RDMA name where it has one (so that the samples
/// join node_exporter's `node_infiniband_*{device="mlx5_0"}`), else the fwctl node name.
pub fn device_label(result: &FleetResult) -> String {
    result.device.rdma_device.clone().unwrap_or_else(|| result.device.name.clone())
}

fn text_fact(result: &FleetResult, key: &str) -> Option<String> {
    result.values.get(key).map(|v| match v {
        Value::Text(s) => s.clone(),
        other => other.to_string(),
    })
}

impl Exposition {
    /// The families of `results`. `last_success` is the Unix time of the most recent
    /// successful run (this one, or one before it when this one failed), if any.
    pub fn of_fleet(results: &[FleetResult], last_success: Option<f64>) -> Self {
        let mut exposition = Self::default();
        for result in results {
            exposition.add_result(result);
        }
        exposition.finish(last_success)
    }

    /// Adds one result's samples as it arrives, so that a fleet need not keep its results
    /// for the textfile: only the samples, and each device's identity until
    /// [`Self::finish`].
    pub fn add_result(&mut self, result: &FleetResult) {
        let device = device_label(result);
        let known = self.identity_of.get(&result.device.name).copied();
        let identity = match known {
            Some(at) => &mut self.identities[at].1,
            None => {
                self.identity_of.insert(result.device.name.clone(), self.identities.len());
                let d = &result.device;
                self.identities.push((
                    d.name.clone(),
                    Identity {
                        labels: [
                            device.clone(),
                            d.name.clone(),
                            d.kind.to_string(),
                            d.parent.clone(),
                            d.driver.clone().unwrap_or_default(),
                            d.simulated.to_string(),
                        ],
                        said: BTreeSet::new(),
                    },
                ));
                &mut self.identities.last_mut().expect("just pushed").1
            }
        };
        // Every plugin that checked the device may report its identity; when they disagree,
        // the label says so and so does a warning, rather than the first plugin deciding
        // what operators see.
        if let Some(plugin) = &result.plugin {
            for key in IDENTITY_FACTS {
                if let Some(value) = text_fact(result, key) {
                    identity.said.insert((key, value, plugin.name.clone()));
                }
            }
        }
        let Some(plugin) = &result.plugin else { return };
        let up = matches!(result.status, FleetStatus::Ok | FleetStatus::Findings);
        let check = [("device", device.clone()), ("plugin", plugin.name.clone())];
        self.add(
            "fwctl_plugin_up",
            FamilyKind::Gauge,
            "",
            "1 when the plugin checked the device to the end, 0 when the check failed.",
            &check,
            if up { 1.0 } else { 0.0 },
            None,
        );
        self.add(
            "fwctl_plugin_duration_seconds",
            FamilyKind::Gauge,
            "seconds",
            "Wall time of the plugin's check of the device.",
            &check,
            result.duration.as_secs_f64(),
            None,
        );
        // One series per code and severity that needs attention; info findings are
        // facts, and a code reported twice (one per port, say) is one standing problem.
        let standing: BTreeSet<(String, String)> = result
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| (f.code.clone(), f.severity.to_string()))
            .collect();
        for (code, severity) in standing {
            self.add(
                "fwctl_finding",
                FamilyKind::Gauge,
                "",
                "A finding of warning or worse a plugin reported about a device (1 while it stands).",
                &[("device", device.clone()), ("plugin", plugin.name.clone()), ("code", code), ("severity", severity)],
                1.0,
                Some(&plugin.name),
            );
        }
        for metric in &result.metrics {
            self.add_plugin_metric(&device, &plugin.name, metric);
        }
    }

    /// Adds what needs every result first: each device's identity (`fwctl_device_info`),
    /// and the time of the last run that checked every device, if any.
    pub fn finish(mut self, last_success: Option<f64>) -> Self {
        self.identity_of.clear();
        for (_, identity) in std::mem::take(&mut self.identities) {
            let [device, node, kind, parent, driver, simulated] = identity.labels;
            let mut fact = |key: &'static str| {
                let said: Vec<&(&str, String, String)> = identity.said.iter().filter(|(k, _, _)| *k == key).collect();
                let values: BTreeSet<&String> = said.iter().map(|(_, v, _)| v).collect();
                match values.len() {
                    0 => String::new(),
                    1 => said[0].1.clone(),
                    _ => {
                        let who: Vec<String> = said.iter().map(|(_, v, p)| format!("{p} says {v:?}")).collect();
                        self.dropped.push(format!(
                            "fwctl_device_info `{key}` of {device}: plugins disagree ({})",
                            who.join(", ")
                        ));
                        "conflict".to_string()
                    }
                }
            };
            let (firmware, psid, part_number) = (fact("firmware-version"), fact("psid"), fact("part-number"));
            self.add(
                "fwctl_device",
                FamilyKind::Info,
                "",
                "A fwctl device: what discovery and the plugins learned about it.",
                &[
                    ("device", device),
                    ("node", node),
                    ("kind", kind),
                    ("parent", parent),
                    ("driver", driver),
                    ("firmware_version", firmware),
                    ("psid", psid),
                    ("part_number", part_number),
                    ("simulated", simulated),
                ],
                1.0,
                None,
            );
        }
        if let Some(time) = last_success {
            self.add(
                "fwctl_run_last_success_timestamp_seconds",
                FamilyKind::Gauge,
                "seconds",
                "Unix time of the last fleet run that checked every device.",
                &[],
                time,
                None,
            );
        }
        self
    }

    /// Adds a sample of a family of the host's own (not a plugin's: no series bound).
    pub fn add_host_gauge(&mut self, name: &str, help: &str, labels: &[(&str, String)], value: f64) {
        self.add(name, FamilyKind::Gauge, "", help, labels, value, None);
    }

    fn add_plugin_metric(&mut self, device: &str, plugin: &str, metric: &Metric) {
        // Accepted samples name each label once (Metric::validate); a repeat would write
        // an invalid series.
        debug_assert_eq!(metric.labels.repeated(), None, "an accepted sample");
        // Every plugin sample names its plugin: one plugin cannot stand in for another's.
        let mut labels = vec![("device", device.to_string()), ("plugin", plugin.to_string())];
        labels.extend(metric.labels.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let (kind, name) = match metric.kind {
            MetricKind::Gauge => (FamilyKind::Gauge, metric.exposed_name()),
            MetricKind::Counter => {
                let exposed = metric.exposed_name();
                (FamilyKind::Counter, exposed.trim_end_matches("_total").to_string())
            }
        };
        self.add(&name, kind, &metric.unit, &metric.help, &labels, metric.value, Some(plugin));
    }

    /// Adds a sample; one that does not fit its family is dropped and noted.
    #[allow(clippy::too_many_arguments, reason = "one sample's parts, each needed; a struct would only rename them")]
    fn add(
        &mut self,
        name: &str,
        kind: FamilyKind,
        unit: &str,
        help: &str,
        labels: &[(&str, String)],
        value: f64,
        plugin: Option<&str>,
    ) {
        let series_device = labels.first().map(|(_, v)| v.as_str()).unwrap_or("-");
        if let Some(plugin) = plugin {
            let made = self.series.entry((plugin.to_string(), series_device.to_string())).or_default();
            if *made >= MAX_SERIES_PER_PLUGIN_AND_DEVICE {
                if *made == MAX_SERIES_PER_PLUGIN_AND_DEVICE {
                    self.dropped.push(format!(
                        "{plugin} on {series_device}: more than {MAX_SERIES_PER_PLUGIN_AND_DEVICE} series; the rest are dropped"
                    ));
                }
                *made += 1;
                return;
            }
            *made += 1;
            let size = name.len() + labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 32;
            if self.plugin_bytes + size > MAX_PLUGIN_SERIES_BYTES {
                if self.plugin_bytes <= MAX_PLUGIN_SERIES_BYTES {
                    self.dropped.push(format!(
                        "{plugin} on {series_device}: plugins' series reached {} MiB in all; the rest are dropped",
                        MAX_PLUGIN_SERIES_BYTES >> 20
                    ));
                    // Past the budget from now on: said once.
                    self.plugin_bytes = MAX_PLUGIN_SERIES_BYTES + 1;
                }
                return;
            }
            self.plugin_bytes += size;
        }
        let label_names: Vec<String> = labels.iter().map(|(k, _)| k.to_string()).collect();
        let ids: Vec<u32> = labels.iter().map(|(_, v)| self.intern(v)).collect();
        let hashed = self.hasher.hash_one(&ids);
        let family = self.families.entry(name.to_string()).or_insert_with(|| Family {
            name: name.to_string(),
            kind,
            unit: unit.to_string(),
            help: help.to_string(),
            label_names: label_names.clone(),
            labels: Vec::new(),
            values: Vec::new(),
            seen: HashSet::new(),
        });
        let by = plugin.map(|p| format!(" from {p}")).unwrap_or_default();
        let device = labels.first().map(|(_, v)| v.as_str()).unwrap_or("-");
        let problem = if family.kind != kind || family.unit != unit {
            Some(format!("its type or unit differs from the first sample's ({:?}, `{}`)", family.kind, family.unit))
        } else if family.label_names != label_names {
            Some(format!(
                "its labels ({}) differ from the first sample's ({})",
                label_names.join(","),
                family.label_names.join(",")
            ))
        } else if !family.seen.insert(hashed) {
            Some("a sample with the same labels is already there".to_string())
        } else {
            None
        };
        match problem {
            Some(why) => self.dropped.push(format!("{name}{by} on {device} dropped: {why}")),
            None => {
                family.labels.extend_from_slice(&ids);
                family.values.push(value);
            }
        }
    }

    /// The index of `value` in the strings, added if new.
    fn intern(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(value) {
            return id;
        }
        let id = self.strings.len() as u32;
        let shared: Arc<str> = value.into();
        self.strings.push(shared.clone());
        self.string_ids.insert(shared, id);
        id
    }

    /// The classic Prometheus text format (version 0.0.4), as node_exporter's textfile
    /// collector reads it: HELP and TYPE per family, no timestamps.
    pub fn write_prometheus<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        for family in self.families.values() {
            let name = family.sample_name();
            let kind = match family.kind {
                FamilyKind::Counter => "counter",
                FamilyKind::Gauge | FamilyKind::Info => "gauge",
            };
            writeln!(out, "# HELP {name} {}", escape_help(&family.help))?;
            writeln!(out, "# TYPE {name} {kind}")?;
            self.write_samples(out, &name, family)?;
        }
        Ok(())
    }

    /// OpenMetrics 1.0 text: typed families (`info` for the facts), UNIT lines, `# EOF`.
    pub fn write_openmetrics<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        for family in self.families.values() {
            let kind = match family.kind {
                FamilyKind::Counter => "counter",
                FamilyKind::Gauge => "gauge",
                FamilyKind::Info => "info",
            };
            writeln!(out, "# TYPE {} {kind}", family.name)?;
            if !family.unit.is_empty() {
                writeln!(out, "# UNIT {} {}", family.name, family.unit)?;
            }
            // OpenMetrics 1.0 escapes `"` in HELP too (its `escaped-string`); the classic
            // format does not, and would show the backslash.
            writeln!(out, "# HELP {} {}", family.name, escape_help(&family.help).replace('"', "\\\""))?;
            self.write_samples(out, &family.sample_name(), family)?;
        }
        out.write_all(b"# EOF\n")
    }

    /// [`Self::write_prometheus`] into a string.
    pub fn to_prometheus(&self) -> String {
        let mut out = Vec::new();
        self.write_prometheus(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("the exposition is UTF-8")
    }

    /// [`Self::write_openmetrics`] into a string.
    pub fn to_openmetrics(&self) -> String {
        let mut out = Vec::new();
        self.write_openmetrics(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("the exposition is UTF-8")
    }

    /// The names of the sample lines, for tests and checks.
    pub fn sample_names(&self) -> Vec<String> {
        self.families.values().map(Family::sample_name).collect()
    }

    fn write_samples<W: Write + ?Sized>(&self, out: &mut W, name: &str, family: &Family) -> std::io::Result<()> {
        let width = family.label_names.len();
        for (i, value) in family.values.iter().enumerate() {
            out.write_all(name.as_bytes())?;
            if width > 0 {
                out.write_all(b"{")?;
                let ids = &family.labels[i * width..(i + 1) * width];
                for (j, (label, id)) in family.label_names.iter().zip(ids).enumerate() {
                    if j > 0 {
                        out.write_all(b",")?;
                    }
                    write!(out, "{label}=\"")?;
                    write_label_value(out, &self.strings[*id as usize])?;
                    out.write_all(b"\"")?;
                }
                out.write_all(b"}")?;
            }
            writeln!(out, " {}", number(*value))?;
        }
        Ok(())
    }
}

/// A value in the exposition formats' float syntax (values are finite by validation).
fn number(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || (1e-4..1e15).contains(&magnitude) { format!("{value}") } else { format!("{value:e}") }
}

/// A label value with `\\`, `"` and newlines escaped, written without a copy when it
/// has none of them (nearly always).
fn write_label_value<W: Write + ?Sized>(out: &mut W, value: &str) -> std::io::Result<()> {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        return out.write_all(value.as_bytes());
    }
    out.write_all(value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").as_bytes())
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeMap;
    use std::time::Duration;

    use fwctl_devices::{DeviceDescriptor, DeviceKind};

    use crate::fleet::PluginRef;
    use crate::outcome::{Metric, MetricKind};

    fn result(node: &str, plugin: &str, metrics: Vec<Metric>) -> FleetResult {
        FleetResult {
            host: "h".into(),
            device: DeviceDescriptor {
                name: node.into(),
                kind: DeviceKind::Cxl,
                parent: "mem0".into(),
                pci_address: None,
                cxl_memdev: Some("mem0".into()),
                driver: Some("cxl_mem".into()),
                rdma_device: None,
                node: format!("/dev/fwctl/{node}"),
                model: None,
                simulated: true,
                serial: None,
            },
            plugin: Some(PluginRef { name: plugin.into(), version: "1".into(), digest: "sha256:0".into() }),
            status: FleetStatus::Ok,
            error: None,
            error_kind: None,
            duration: Duration::from_millis(3),
            rpcs: 1,
            findings: Vec::new(),
            values: BTreeMap::new(),
            metrics,
        }
    }

    fn sample(kind: MetricKind, labels: &[(&str, &str)]) -> Metric {
        Metric {
            name: "media_errors".into(),
            unit: String::new(),
            kind,
            help: "Media errors.".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value: 2.0,
        }
    }

    #[test]
    fn samples_that_disagree_across_plugins_are_dropped_and_named() {
        let results = [
            result("fwctl0", "a", vec![sample(MetricKind::Gauge, &[("region", "0")])]),
            // Same family, other label names: dropped.
            result("fwctl1", "b", vec![sample(MetricKind::Gauge, &[("slot", "0")])]),
            // Same OpenMetrics family as a counter: dropped.
            result("fwctl2", "c", vec![sample(MetricKind::Counter, &[("region", "0")])]),
        ];
        let exposition = Exposition::of_fleet(&results, None);
        let text = exposition.to_prometheus();
        assert!(text.contains("fwctl_media_errors{device=\"fwctl0\",plugin=\"a\",region=\"0\"} 2"), "{text}");
        assert!(!text.contains("slot") && !text.contains("fwctl_media_errors_total"), "{text}");
        assert_eq!(exposition.dropped.len(), 2, "{:?}", exposition.dropped);
        assert!(
            exposition.dropped[0].contains("from b on fwctl1") && exposition.dropped[0].contains("labels"),
            "{:?}",
            exposition.dropped
        );
        assert!(exposition.dropped[1].contains("from c on fwctl2"), "{:?}", exposition.dropped);
        assert!(exposition.sample_names().contains(&"fwctl_device_info".to_string()));
        assert!(!text.contains("fwctl_run_last_success"), "no success time given, none written");
    }

    #[test]
    fn numbers_are_plain_integers_or_exponents() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-2.0), "-2");
        assert_eq!(number(1.5e-12), "1.5e-12");
        assert_eq!(number(56.5), "56.5");
        assert_eq!(number(5e10), "50000000000");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let escaped = |value: &str| {
            let mut out = Vec::new();
            write_label_value(&mut out, value).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(escaped("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escaped("mlx5_0"), "mlx5_0");
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    }

    #[test]
    fn one_plugin_cannot_overwrite_anothers_samples_or_the_devices_identity() {
        // An unsigned plugin reports the same temperature series as mlx5-diag, and its own
        // firmware version for the device.
        let mut diag = result("fwctl0", "mlx5-diag", vec![sample(MetricKind::Gauge, &[("sensor", "asic")])]);
        diag.values.insert("firmware-version".into(), Value::Text("22.36.1010".into()));
        let mut other =
            result("fwctl0", "other", vec![Metric { value: 99.0, ..sample(MetricKind::Gauge, &[("sensor", "asic")]) }]);
        other.values.insert("firmware-version".into(), Value::Text("6.6.6".into()));
        let exposition = Exposition::of_fleet(&[other, diag], None);
        let text = exposition.to_prometheus();
        // Both samples, each under its plugin: neither replaced the other.
        assert!(
            text.contains("fwctl_media_errors{device=\"fwctl0\",plugin=\"mlx5-diag\",sensor=\"asic\"} 2"),
            "{text}"
        );
        assert!(text.contains("fwctl_media_errors{device=\"fwctl0\",plugin=\"other\",sensor=\"asic\"} 99"), "{text}");
        // The identity is not first-wins: the disagreement shows.
        assert!(text.contains("firmware_version=\"conflict\""), "{text}");
        assert!(
            exposition.dropped.iter().any(|d| d.contains("plugins disagree") && d.contains("other says \"6.6.6\"")),
            "{:?}",
            exposition.dropped
        );
    }

    #[test]
    fn openmetrics_help_escapes_quotes_and_the_classic_format_does_not() {
        let mut metric = sample(MetricKind::Gauge, &[]);
        metric.help = "Errors \"seen\".".into();
        let exposition = Exposition::of_fleet(&[result("fwctl0", "a", vec![metric])], None);
        assert!(
            exposition.to_openmetrics().contains("# HELP fwctl_media_errors Errors \\\"seen\\\"."),
            "{}",
            exposition.to_openmetrics()
        );
        assert!(exposition.to_prometheus().contains("# HELP fwctl_media_errors Errors \"seen\"."));
    }

    #[test]
    fn one_plugin_makes_a_bounded_number_of_series_per_device() {
        let metrics: Vec<Metric> = (0..1000).map(|i| sample(MetricKind::Gauge, &[("lane", &i.to_string())])).collect();
        let exposition = Exposition::of_fleet(&[result("fwctl0", "greedy", metrics)], None);
        let text = exposition.to_prometheus();
        assert_eq!(text.matches("fwctl_media_errors{").count(), MAX_SERIES_PER_PLUGIN_AND_DEVICE);
        assert_eq!(exposition.dropped.len(), 1, "said once: {:?}", exposition.dropped);
        assert!(exposition.dropped[0].contains("greedy on fwctl0: more than 256 series"));
    }

    #[test]
    fn all_plugins_together_make_a_bounded_textfile_however_many_devices() {
        // Each series as large as a plugin may make it (8 labels of 256 bytes), the most
        // series per device, over 200 devices: about 100 MiB unbounded.
        let value = "v".repeat(256);
        let labels: Vec<(String, String)> = (0..7).map(|i| (format!("l{i}"), value.clone())).collect();
        let results: Vec<FleetResult> = (0..200)
            .map(|d| {
                let metrics = (0..MAX_SERIES_PER_PLUGIN_AND_DEVICE)
                    .map(|i| {
                        let mut labels: Vec<(&str, &str)> =
                            labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        let lane = i.to_string();
                        labels.push(("lane", &lane));
                        sample(MetricKind::Gauge, &labels)
                    })
                    .collect();
                result(&format!("fwctl{d}"), "greedy", metrics)
            })
            .collect();
        let exposition = Exposition::of_fleet(&results, None);
        let text = exposition.to_prometheus();
        assert!(text.len() < MAX_PLUGIN_SERIES_BYTES + (4 << 20), "{} MiB", text.len() >> 20);
        assert!(text.len() > MAX_PLUGIN_SERIES_BYTES / 2, "the budget is used, not refused outright");
        let said: Vec<_> = exposition.dropped.iter().filter(|d| d.contains("reached 32 MiB in all")).collect();
        assert_eq!(said.len(), 1, "said once: {:?}", exposition.dropped.len());
        // Host families (one per device) are never what is dropped.
        assert_eq!(text.matches("fwctl_plugin_up{").count(), 200);
    }
}
