//! Reporting: findings, facts and logs, attributed by the host to this run's device.

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::bindings::fwctl::plugin::{report as host, types};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing wrong; worth showing.
    Info,
    /// Worth a look; the device works.
    Warning,
    /// Something is wrong.
    Error,
    /// Failing or at risk of damage.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `error` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed value for facts and finding details; build one with `.into()` from text,
/// integers, floats or booleans. Text is borrowed when it can be: a report made of
/// `&'static str` names allocates nothing for them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// Signed integer.
    Integer(i64),
    /// Unsigned integer.
    Unsigned(u64),
    /// Real number.
    Real(f64),
    /// Yes/no.
    Boolean(bool),
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {
        $(impl From<$t> for Value<'_> {
            fn from(v: $t) -> Self {
                Value::$variant(v as $as)
            }
        })*
    };
}
value_from!(u8 => Unsigned as u64, u16 => Unsigned as u64, u32 => Unsigned as u64, u64 => Unsigned as u64, usize => Unsigned as u64,
            i8 => Integer as i64, i16 => Integer as i64, i32 => Integer as i64, i64 => Integer as i64, isize => Integer as i64,
            f32 => Real as f64, f64 => Real as f64);

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}
impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Text(Cow::Owned(v))
    }
}
impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(v: Cow<'a, str>) -> Self {
        Value::Text(v)
    }
}

impl Value<'_> {
    fn as_wit(&self) -> types::Value<'_> {
        match self {
            Value::Text(s) => types::Value::Text(s),
            Value::Integer(i) => types::Value::Integer(*i),
            Value::Unsigned(u) => types::Value::Unsigned(*u),
            Value::Real(r) => types::Value::Real(*r),
            Value::Boolean(b) => types::Value::Boolean(*b),
        }
    }
}

/// A finding under construction; [`Finding::report`] sends it. Nothing reaches the host
/// until then.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding<'a> {
    /// Severity.
    pub severity: Severity,
    /// Stable dotted code.
    pub code: Cow<'a, str>,
    /// One-line summary.
    pub summary: Cow<'a, str>,
    /// Structured detail.
    pub detail: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// Starts a finding: `finding(Severity::Warning, "mlx5.link.down", "port 1 is down")`.
pub fn finding<'a>(severity: Severity, code: impl Into<Cow<'a, str>>, summary: impl Into<Cow<'a, str>>) -> Finding<'a> {
    Finding { severity, code: code.into(), summary: summary.into(), detail: Vec::new() }
}

impl<'a> Finding<'a> {
    /// Adds a detail field.
    pub fn detail(mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> Self {
        self.detail.push((key.into(), value.into()));
        self
    }

    /// Sends the finding to the host.
    pub fn report(self) {
        let detail: Vec<types::Field<'_>> =
            self.detail.iter().map(|(key, value)| types::Field { key, value: value.as_wit() }).collect();
        host::add_finding(types::Finding {
            severity: match self.severity {
                Severity::Info => types::Severity::Info,
                Severity::Warning => types::Severity::Warning,
                Severity::Error => types::Severity::Error,
                Severity::Critical => types::Severity::Critical,
            },
            code: &self.code,
            summary: &self.summary,
            detail: &detail,
        });
    }
}

/// Records a fact about the device (a later fact with the same key replaces it).
pub fn fact<'a>(key: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) {
    let (key, value) = (key.into(), value.into());
    host::set_fact(types::Field { key: &key, value: value.as_wit() });
}

/// Log lines, shown with `fwctl-run --verbose`.
pub mod log {
    use crate::bindings::fwctl::plugin::{report as host, types::LogLevel};

    /// Tracing detail.
    pub fn debug(message: impl AsRef<str>) {
        host::log(LogLevel::Debug, message.as_ref());
    }
    /// Progress.
    pub fn info(message: impl AsRef<str>) {
        host::log(LogLevel::Info, message.as_ref());
    }
    /// A handled surprise.
    pub fn warn(message: impl AsRef<str>) {
        host::log(LogLevel::Warn, message.as_ref());
    }
    /// An unhandled problem.
    pub fn error(message: impl AsRef<str>) {
        host::log(LogLevel::Error, message.as_ref());
    }
}

/// How a metric's value behaves over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Goes up and down (a temperature, a link state).
    Gauge,
    /// Only grows while the device runs (error events); exported with `_total`.
    Counter,
}

/// A metric sample being built: see [`gauge`] and [`counter`].
///
/// The host exports it as `fwctl_<name>[_<unit>][_total]{device="...",<labels>}` in
/// Prometheus's textfile format and in OpenMetrics, and refuses (with the reason) names
/// that are not lower-case snake_case, units that are not base units, label names it
/// owns (`device`, `node`, `plugin`, `host`, `kind`), non-finite values and negative
/// counters. Names, units, help and label text are borrowed where they can be, so a
/// sample described by `&'static str`s costs no allocation for them.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric<'a> {
    name: Cow<'a, str>,
    unit: Cow<'a, str>,
    kind: MetricKind,
    help: Cow<'a, str>,
    /// Held in place up to [`INLINE_LABELS`]: a sample's labels allocate nothing.
    labels: SmallVec<[(Cow<'a, str>, Cow<'a, str>); INLINE_LABELS]>,
}

/// A gauge: `name` without prefix or unit (`device_temperature`), `unit` a base unit
/// (`celsius`, `bytes`, `seconds`, ...) or `""`, `help` one line for people.
pub fn gauge<'a>(
    name: impl Into<Cow<'a, str>>,
    unit: impl Into<Cow<'a, str>>,
    help: impl Into<Cow<'a, str>>,
) -> Metric<'a> {
    Metric { name: name.into(), unit: unit.into(), kind: MetricKind::Gauge, help: help.into(), labels: SmallVec::new() }
}

/// A counter: as [`gauge`]; the host adds `_total`.
pub fn counter<'a>(
    name: impl Into<Cow<'a, str>>,
    unit: impl Into<Cow<'a, str>>,
    help: impl Into<Cow<'a, str>>,
) -> Metric<'a> {
    Metric {
        name: name.into(),
        unit: unit.into(),
        kind: MetricKind::Counter,
        help: help.into(),
        labels: SmallVec::new(),
    }
}

/// What a label's value can be made from: text (borrowed, not copied), numbers, a
/// boolean or a character, or a reference to one. Anything else that displays itself:
/// `.label("name", value.to_string())`.
pub trait LabelValue<'a> {
    /// The label's text.
    fn into_label(self) -> Cow<'a, str>;
}

impl<'a> LabelValue<'a> for &'a str {
    fn into_label(self) -> Cow<'a, str> {
        Cow::Borrowed(self)
    }
}
impl<'a> LabelValue<'a> for &'a String {
    fn into_label(self) -> Cow<'a, str> {
        Cow::Borrowed(self)
    }
}
impl<'a> LabelValue<'a> for String {
    fn into_label(self) -> Cow<'a, str> {
        Cow::Owned(self)
    }
}
impl<'a> LabelValue<'a> for Cow<'a, str> {
    fn into_label(self) -> Cow<'a, str> {
        self
    }
}
macro_rules! label_from_display {
    ($($t:ty),*) => {
        $(impl<'a> LabelValue<'a> for $t {
            fn into_label(self) -> Cow<'a, str> {
                Cow::Owned(self.to_string())
            }
        })*
    };
}
label_from_display!(f32, f64, bool, char, &f32, &f64, &bool, &char);

// Integers 0 to 255 (ports, lanes, sensors: most labels a device's samples carry) are
// lent from a table, neither allocated nor formatted; the rest are written by itoa, not
// core's formatting (~2,500 wasm instructions a number).
macro_rules! label_from_integer {
    ($($t:ty),*) => {
        $(impl<'a> LabelValue<'a> for $t {
            fn into_label(self) -> Cow<'a, str> {
                match u8::try_from(self) {
                    Ok(small) => Cow::Borrowed(small_number(small)),
                    Err(_) => Cow::Owned(itoa::Buffer::new().format(self).to_owned()),
                }
            }
        })*
    };
}
label_from_integer!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);
macro_rules! label_from_integer_ref {
    ($($t:ty),*) => {
        $(impl<'a> LabelValue<'a> for &$t {
            fn into_label(self) -> Cow<'a, str> {
                (*self).into_label()
            }
        })*
    };
}
label_from_integer_ref!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// "0", "1", ... "255" written one after another: 10 one-digit, 90 two-digit and 156
/// three-digit numbers.
const SMALL_NUMBERS: &str = {
    const LEN: usize = 10 + 90 * 2 + 156 * 3;
    const DIGITS: [u8; LEN] = {
        let mut digits = [0u8; LEN];
        let (mut n, mut at) = (0usize, 0usize);
        while n < 256 {
            if n >= 100 {
                digits[at] = b'0' + (n / 100) as u8;
                at += 1;
            }
            if n >= 10 {
                digits[at] = b'0' + (n / 10 % 10) as u8;
                at += 1;
            }
            digits[at] = b'0' + (n % 10) as u8;
            at += 1;
            n += 1;
        }
        digits
    };
    match std::str::from_utf8(&DIGITS) {
        Ok(text) => text,
        Err(_) => panic!("only ASCII digits"),
    }
};

/// `n` in decimal, a slice of [`SMALL_NUMBERS`].
fn small_number(n: u8) -> &'static str {
    let n = usize::from(n);
    let (start, len) = match n {
        0..10 => (n, 1),
        10..100 => (10 + (n - 10) * 2, 2),
        _ => (10 + 90 * 2 + (n - 100) * 3, 3),
    };
    &SMALL_NUMBERS[start..start + len]
}

/// Labels a sample usually has at most; more are kept on the heap.
const INLINE_LABELS: usize = 4;

fn label<'b>((name, value): &'b (Cow<'_, str>, Cow<'_, str>)) -> types::Label<'b> {
    types::Label { name, value }
}

impl<'a> Metric<'a> {
    /// Adds a label that tells this sample apart (`port`, `sensor`).
    pub fn label(mut self, name: impl Into<Cow<'a, str>>, value: impl LabelValue<'a>) -> Self {
        self.labels.push((name.into(), value.into_label()));
        self
    }

    /// Reports the sample with `value`. `Err` is the host's reason for refusing it; the
    /// sample is then dropped and the run goes on.
    pub fn report(self, value: f64) -> Result<(), String> {
        let lower = |labels: &[types::Label<'_>]| {
            host::add_metric(types::Metric {
                name: &self.name,
                unit: &self.unit,
                kind: match self.kind {
                    MetricKind::Gauge => types::MetricKind::Gauge,
                    MetricKind::Counter => types::MetricKind::Counter,
                },
                help: &self.help,
                labels,
                value,
            })
        };
        // The usual sample's labels are lowered from the stack.
        match self.labels.as_slice() {
            [] => lower(&[]),
            [a] => lower(&[label(a)]),
            [a, b] => lower(&[label(a), label(b)]),
            [a, b, c] => lower(&[label(a), label(b), label(c)]),
            [a, b, c, d] => lower(&[label(a), label(b), label(c), label(d)]),
            more => lower(&more.iter().map(label).collect::<Vec<_>>()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_text_is_borrowed_and_numbers_are_written_out() {
        let owned = String::from("module1");
        assert!(matches!("port".into_label(), Cow::Borrowed("port")));
        assert!(matches!((&owned).into_label(), Cow::Borrowed("module1")));
        assert_eq!(owned.clone().into_label(), "module1");
        assert_eq!(7u8.into_label(), "7");
        assert!(matches!(200u32.into_label(), Cow::Borrowed("200")), "small numbers are lent");
        assert!(matches!(256u32.into_label(), Cow::Owned(_)));
        assert_eq!((&-3i64).into_label(), "-3");
        assert_eq!(2.5f64.into_label(), "2.5");
        assert_eq!(true.into_label(), "true");
        assert_eq!('x'.into_label(), "x");
    }

    #[test]
    fn integer_labels_read_as_their_decimal_text() {
        for n in -300i64..=300 {
            assert_eq!(n.into_label(), n.to_string());
            assert_eq!((&n).into_label(), n.to_string());
        }
        for n in 0..=u8::MAX {
            assert_eq!(n.into_label(), n.to_string());
        }
        assert_eq!(u128::MAX.into_label(), u128::MAX.to_string());
        assert_eq!(i8::MIN.into_label(), "-128");
        assert_eq!(usize::MAX.into_label(), usize::MAX.to_string());
    }

    #[test]
    fn a_metric_keeps_borrowed_names_and_its_labels_in_order() {
        let sensor = String::from("module2");
        let m = gauge("module_temperature", "celsius", "help").label("module", &sensor).label("lane", 3usize);
        assert!(matches!(m.name, Cow::Borrowed(_)));
        assert_eq!(
            m.labels.as_slice(),
            [(Cow::from("module"), Cow::from("module2")), (Cow::from("lane"), Cow::from("3"))]
        );
    }

    #[test]
    fn a_metric_keeps_labels_beyond_those_held_in_place() {
        let m = (0..INLINE_LABELS + 2).fold(gauge("g", "", "help"), |m, i| m.label(format!("l{i}"), i));
        let labels: Vec<(&str, &str)> = m.labels.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(labels, [("l0", "0"), ("l1", "1"), ("l2", "2"), ("l3", "3"), ("l4", "4"), ("l5", "5")]);
    }
}
