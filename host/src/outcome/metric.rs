//! A plugin's metric sample, and the rules the host holds it to before accepting it.
//!
//! The rules follow Prometheus's naming conventions: snake_case names, base units as a
//! suffix the host adds, `_total` on counters (also added by the host), and label names
//! that do not collide with the ones the host attaches to every sample.

use serde::Serialize;

use super::Labels;

/// Gauge or counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Goes up and down.
    Gauge,
    /// Only grows; exported with `_total`.
    Counter,
}

impl MetricKind {
    /// The TYPE word of the exposition formats.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
        }
    }
}

/// One accepted sample, as a plugin reported it (without the host's labels).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    /// The base name, e.g. `device_temperature`.
    pub name: String,
    /// The base unit, or empty.
    pub unit: String,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// The HELP text.
    pub help: String,
    /// The plugin's labels.
    pub labels: Labels,
    /// The value.
    pub value: f64,
}

/// Units a metric may carry: Prometheus base units.
pub const UNITS: &[&str] = &["celsius", "seconds", "bytes", "volts", "amperes", "watts", "joules", "hertz", "ratio"];

/// Label names the host attaches itself.
pub const HOST_LABELS: &[&str] = &["device", "node", "plugin", "host", "kind"];

/// Names of the host's own metric families (after `fwctl_`); plugins may not take them.
const HOST_NAMES: &[&str] = &["device", "finding", "plugin_up", "plugin_duration", "run_last_success_timestamp"];

/// Suffixes the exposition formats give meaning to; the host adds the ones it uses.
const RESERVED_SUFFIXES: &[&str] = &["_total", "_info", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum"];

const MAX_NAME: usize = 64;
const MAX_LABELS: usize = 8;
const MAX_LABEL_VALUE: usize = 256;
const MAX_HELP: usize = 256;

impl Metric {
    /// The family name in the classic Prometheus text format:
    /// `fwctl_<name>[_<unit>][_total]`.
    pub fn exposed_name(&self) -> String {
        let mut name = format!("fwctl_{}", self.name);
        if !self.unit.is_empty() {
            name.push('_');
            name.push_str(&self.unit);
        }
        if self.kind == MetricKind::Counter {
            name.push_str("_total");
        }
        name
    }

    /// Checks a sample against the naming and value rules; `Err` says which was broken.
    pub fn validate(&self) -> Result<(), String> {
        self.check_name_and_unit()?;
        self.check_help()?;
        if self.labels.len() > MAX_LABELS {
            return Err(format!("metric `{}`: more than {MAX_LABELS} labels", self.name));
        }
        for (label, value) in &self.labels {
            self.check_label_name(label)?;
            self.check_label_value(label, value)?;
        }
        // After the names' own checks, so the name quoted is a bounded one.
        if let Some(label) = self.labels.repeated() {
            return Err(format!("metric `{}` names label `{label}` twice", self.name));
        }
        self.check_value()
    }

    /// [`Self::validate`] for a sample whose name, kind, unit and label names are those of
    /// a sample already accepted (the metric's first in this run): those passed then, so
    /// only what is this sample's own is checked, with the same words.
    pub fn validate_own(&self) -> Result<(), String> {
        self.check_help()?;
        for (label, value) in &self.labels {
            self.check_label_value(label, value)?;
        }
        self.check_value()
    }

    fn check_name_and_unit(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty() || name.len() > MAX_NAME || !is_snake_case(name) {
            return Err(format!(
                "metric name `{name}` must be 1 to {MAX_NAME} lower-case snake_case characters starting with a letter"
            ));
        }
        if name.starts_with("fwctl_") {
            return Err(format!("metric name `{name}`: leave out the `fwctl_` prefix, the host adds it"));
        }
        if HOST_NAMES.contains(&name.as_str()) || name.starts_with("plugin_") || name.starts_with("run_") {
            return Err(format!("metric name `{name}` belongs to the host"));
        }
        if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
            return Err(format!(
                "metric name `{name}` must not end in `{suffix}` (the host adds `_total` to counters)"
            ));
        }
        // Checked in place: a `format!` per unit and sample showed in a fleet's profile.
        let ends_in = |unit: &str| name.strip_suffix(unit).is_some_and(|rest| rest.ends_with('_'));
        if let Some(unit) = UNITS.iter().copied().find(|unit| ends_in(unit)) {
            return Err(format!("metric name `{name}` must not end in its unit `_{unit}`; give it as the unit"));
        }
        if !self.unit.is_empty() && !UNITS.contains(&self.unit.as_str()) {
            return Err(format!("metric `{name}`: unit `{}` is not a base unit ({})", self.unit, UNITS.join(", ")));
        }
        Ok(())
    }

    fn check_help(&self) -> Result<(), String> {
        if self.help.len() > MAX_HELP {
            return Err(format!("metric `{}`: help text longer than {MAX_HELP} bytes", self.name));
        }
        Ok(())
    }

    fn check_label_name(&self, label: &str) -> Result<(), String> {
        let name = &self.name;
        // Bounded like a metric name: refusals quote label names back, so an unbounded
        // one would let a plugin grow the host's copy of its log past its report budget.
        if label.len() > MAX_NAME {
            return Err(format!("metric `{name}`: a label name is longer than {MAX_NAME} bytes"));
        }
        if label.is_empty() || !is_snake_case(label) {
            return Err(format!(
                "metric `{name}`: label name `{label}` must be lower-case snake_case starting with a letter"
            ));
        }
        if HOST_LABELS.contains(&label) {
            return Err(format!("metric `{name}`: label `{label}` belongs to the host"));
        }
        Ok(())
    }

    fn check_label_value(&self, label: &str, value: &str) -> Result<(), String> {
        if value.len() > MAX_LABEL_VALUE {
            return Err(format!(
                "metric `{}`: the value of label `{label}` is longer than {MAX_LABEL_VALUE} bytes",
                self.name
            ));
        }
        Ok(())
    }

    fn check_value(&self) -> Result<(), String> {
        if !self.value.is_finite() {
            return Err(format!("metric `{}`: value {} is not a finite number", self.name, self.value));
        }
        if self.kind == MetricKind::Counter && self.value < 0.0 {
            return Err(format!("metric `{}`: a counter cannot be negative ({})", self.name, self.value));
        }
        Ok(())
    }
}

/// `[a-z][a-z0-9_]*` without a double underscore (reserved by Prometheus).
fn is_snake_case(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !bytes.windows(2).any(|pair| pair == b"__")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, unit: &str, kind: MetricKind, labels: &[(&str, &str)], value: f64) -> Metric {
        Metric {
            name: name.into(),
            unit: unit.into(),
            kind,
            help: "help".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
        }
    }

    #[test]
    fn names_get_the_prefix_the_unit_and_total() {
        assert_eq!(
            sample("device_temperature", "celsius", MetricKind::Gauge, &[], 1.0).exposed_name(),
            "fwctl_device_temperature_celsius"
        );
        assert_eq!(sample("link_down", "", MetricKind::Counter, &[], 1.0).exposed_name(), "fwctl_link_down_total");
        assert_eq!(
            sample("link_effective_ber", "", MetricKind::Gauge, &[], 1e-12).exposed_name(),
            "fwctl_link_effective_ber"
        );
    }

    #[test]
    fn good_samples_pass() {
        sample("link_up", "", MetricKind::Gauge, &[("port", "1")], 1.0).validate().unwrap();
        sample("port_symbol_errors", "", MetricKind::Counter, &[("port", "2")], 0.0).validate().unwrap();
    }

    #[test]
    fn each_broken_rule_is_named() {
        use MetricKind::*;
        for (metric, says) in [
            (sample("Temp", "", Gauge, &[], 1.0), "snake_case"),
            (sample("9lives", "", Gauge, &[], 1.0), "snake_case"),
            (sample("a__b", "", Gauge, &[], 1.0), "snake_case"),
            (sample("fwctl_temp", "", Gauge, &[], 1.0), "leave out the `fwctl_` prefix"),
            (sample("finding", "", Gauge, &[], 1.0), "belongs to the host"),
            (sample("plugin_up", "", Gauge, &[], 1.0), "belongs to the host"),
            (sample("errors_total", "", Counter, &[], 1.0), "must not end in `_total`"),
            (sample("temperature_celsius", "celsius", Gauge, &[], 1.0), "must not end in its unit"),
            (sample("speed", "gbps", Gauge, &[], 1.0), "not a base unit"),
            (sample("speed", "", Gauge, &[("device", "x")], 1.0), "label `device` belongs to the host"),
            (sample("speed", "", Gauge, &[("Port", "1")], 1.0), "label name `Port`"),
            (sample("speed", "", Gauge, &[("port", &"x".repeat(300))], 1.0), "longer than 256"),
            (sample("speed", "", Gauge, &[(&"x".repeat(65), "1")], 1.0), "a label name is longer than 64 bytes"),
            (
                sample("speed", "", Gauge, &[("port", "1"), ("lane", "0"), ("port", "2")], 1.0),
                "names label `port` twice",
            ),
            // A long name given twice is refused for its length, without quoting it.
            (
                sample("speed", "", Gauge, &[(&"x".repeat(65), "1"), (&"x".repeat(65), "2")], 1.0),
                "a label name is longer than 64 bytes",
            ),
            (sample("speed", "", Gauge, &[], f64::NAN), "not a finite number"),
            (sample("speed", "", Gauge, &[], f64::INFINITY), "not a finite number"),
            (sample("errors", "", Counter, &[], -1.0), "cannot be negative"),
        ] {
            let error = metric.validate().unwrap_err();
            assert!(error.contains(says), "{}: {error}", metric.name);
        }
        let many: Vec<(String, String)> = (0..9).map(|i| (format!("l{i}"), "v".into())).collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(sample("x", "", MetricKind::Gauge, &refs, 1.0).validate().unwrap_err().contains("more than 8 labels"));
    }

    #[test]
    fn a_later_sample_of_an_accepted_metric_is_refused_for_its_own_faults_in_the_same_words() {
        use MetricKind::*;
        let first = sample("errors", "seconds", Counter, &[("port", "1"), ("lane", "0")], 1.0);
        first.validate().unwrap();
        let long_help = Metric { help: "h".repeat(300), ..first.clone() };
        for later in [
            long_help,
            sample("errors", "seconds", Counter, &[("port", "2"), ("lane", &"x".repeat(300))], 1.0),
            sample("errors", "seconds", Counter, &[("port", "2"), ("lane", "1")], f64::NAN),
            sample("errors", "seconds", Counter, &[("port", "2"), ("lane", "1")], -3.0),
        ] {
            let own = later.validate_own().unwrap_err();
            assert_eq!(own, later.validate().unwrap_err());
        }
        sample("errors", "seconds", Counter, &[("port", "2"), ("lane", "1")], 5.0).validate_own().unwrap();
    }
}
