//! One fleet result as a `--format jsonl` line, written by hand. Through serde (a
//! flattened struct, some 1,500 strings a device for mlx5-diag's 119 samples) the line
//! was a tenth of a fleet's instructions; here each key is one copied literal and text
//! that needs no escaping is copied in one piece. The line is byte for byte what serde
//! writes for the same result (tested against it below).

use std::collections::BTreeMap;

use fwctl_devices::DeviceDescriptor;

use crate::fleet::{FleetResult, PluginRef};
use crate::json_text::{boolean, name, real, signed, string, unsigned};
use crate::outcome::{Finding, Metric, Value};

/// The line (UTF-8 JSON text, without its newline) of `result`.
pub fn result_line(result: &FleetResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimate(result));
    out.extend_from_slice(b"{\"record\":\"result\",\"host\":");
    string(&mut out, &result.host);
    out.extend_from_slice(b",\"device\":");
    device(&mut out, &result.device);
    out.extend_from_slice(b",\"plugin\":");
    match &result.plugin {
        Some(plugin) => plugin_ref(&mut out, plugin),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"status\":");
    name(&mut out, result.status.as_str());
    if let Some(error) = &result.error {
        out.extend_from_slice(b",\"error\":");
        string(&mut out, error);
    }
    if let Some(kind) = result.error_kind {
        out.extend_from_slice(b",\"error_kind\":");
        name(&mut out, kind.as_str());
    }
    out.extend_from_slice(b",\"duration_ms\":");
    real(&mut out, crate::fleet::millis(result.duration));
    out.extend_from_slice(b",\"rpcs\":");
    unsigned(&mut out, result.rpcs);
    out.extend_from_slice(b",\"findings\":[");
    for (i, f) in result.findings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        finding(&mut out, f);
    }
    out.extend_from_slice(b"],\"values\":");
    values(&mut out, &result.values);
    out.extend_from_slice(b",\"metrics\":[");
    for (i, m) in result.metrics.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        metric(&mut out, m);
    }
    out.extend_from_slice(b"]}");
    // Every piece is a `&str` or ASCII; checked in tests, not on each of a fleet's lines
    // (a whole-line UTF-8 pass was 9,500 instructions a device).
    debug_assert!(std::str::from_utf8(&out).is_ok(), "every piece written is UTF-8");
    out
}

/// Room for the line, so that it is not copied as it grows: the text it holds and the
/// keys and punctuation around it.
fn estimate(result: &FleetResult) -> usize {
    let metrics: usize = result
        .metrics
        .iter()
        .map(|m| 80 + m.name.len() + m.help.len() + m.labels.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>())
        .sum();
    512 + metrics + result.values.keys().map(|k| k.len() + 32).sum::<usize>() + 256 * result.findings.len()
}

fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn device(out: &mut Vec<u8>, d: &DeviceDescriptor) {
    out.extend_from_slice(b"{\"name\":");
    string(out, &d.name);
    out.extend_from_slice(b",\"kind\":");
    name(out, d.kind.as_str());
    out.extend_from_slice(b",\"parent\":");
    string(out, &d.parent);
    out.extend_from_slice(b",\"pci_address\":");
    optional(out, d.pci_address.as_deref());
    out.extend_from_slice(b",\"cxl_memdev\":");
    optional(out, d.cxl_memdev.as_deref());
    out.extend_from_slice(b",\"driver\":");
    optional(out, d.driver.as_deref());
    if let Some(rdma) = &d.rdma_device {
        out.extend_from_slice(b",\"rdma_device\":");
        string(out, rdma);
    }
    out.extend_from_slice(b",\"node\":");
    string(out, &d.node);
    out.extend_from_slice(b",\"model\":");
    optional(out, d.model.as_deref());
    out.extend_from_slice(b",\"simulated\":");
    boolean(out, d.simulated);
    out.push(b'}');
}

fn plugin_ref(out: &mut Vec<u8>, p: &PluginRef) {
    out.extend_from_slice(b"{\"name\":");
    string(out, &p.name);
    out.extend_from_slice(b",\"version\":");
    string(out, &p.version);
    out.extend_from_slice(b",\"digest\":");
    string(out, &p.digest);
    out.push(b'}');
}

fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Text(text) => string(out, text),
        Value::Integer(i) => signed(out, *i),
        Value::Unsigned(u) => unsigned(out, *u),
        Value::Real(r) => real(out, *r),
        Value::Boolean(b) => boolean(out, *b),
    }
}

fn values(out: &mut Vec<u8>, map: &BTreeMap<String, Value>) {
    out.push(b'{');
    for (i, (key, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        value(out, v);
    }
    out.push(b'}');
}

fn finding(out: &mut Vec<u8>, f: &Finding) {
    out.extend_from_slice(b"{\"severity\":");
    name(out, f.severity.as_str());
    out.extend_from_slice(b",\"code\":");
    string(out, &f.code);
    out.extend_from_slice(b",\"summary\":");
    string(out, &f.summary);
    out.extend_from_slice(b",\"detail\":");
    values(out, &f.detail);
    out.push(b'}');
}

fn metric(out: &mut Vec<u8>, m: &Metric) {
    // Accepted samples name each label once (Metric::validate): one JSON key each.
    debug_assert_eq!(m.labels.repeated(), None, "an accepted sample");
    out.extend_from_slice(b"{\"name\":");
    string(out, &m.name);
    out.extend_from_slice(b",\"unit\":");
    string(out, &m.unit);
    out.extend_from_slice(b",\"kind\":");
    name(out, m.kind.as_str());
    out.extend_from_slice(b",\"help\":");
    string(out, &m.help);
    out.extend_from_slice(b",\"labels\":{");
    for (i, (label, text)) in m.labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, label);
        out.push(b':');
        string(out, text);
    }
    out.extend_from_slice(b"},\"value\":");
    real(out, m.value);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fwctl_devices::DeviceKind;
    use serde::Serialize;

    use super::*;
    use crate::fleet::FleetStatus;
    use crate::outcome::{FailureKind, Labels, MetricKind, Severity};

    /// The reference: what serde writes for the same result.
    fn serde_line(result: &FleetResult) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            record: &'static str,
            #[serde(flatten)]
            result: &'a FleetResult,
        }
        serde_json::to_string(&Line { record: "result", result }).unwrap()
    }

    fn device(optional: bool) -> DeviceDescriptor {
        let some = |text: &str| optional.then(|| text.to_string());
        DeviceDescriptor {
            name: "fwctl\"3".into(),
            kind: DeviceKind::Cxl,
            parent: "mem0".into(),
            pci_address: some("0000:3b:00.0"),
            cxl_memdev: some("mem\\0"),
            driver: some("cxl_mem"),
            rdma_device: some("mlx5_0"),
            node: "/dev/fwctl/fwctl3".into(),
            model: some("a \u{1} model ✓"),
            simulated: optional,
            serial: some("not in reports"),
        }
    }

    fn every_value() -> BTreeMap<String, Value> {
        [
            ("text", Value::Text("line\nbreak \"quoted\"".into())),
            ("integer", Value::Integer(-7)),
            ("unsigned", Value::Unsigned(u64::MAX)),
            ("real", Value::Real(7.5e-12)),
            ("not-finite", Value::Real(f64::NAN)),
            ("boolean", Value::Boolean(true)),
            ("ünïcødé key", Value::Boolean(false)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn results() -> Vec<FleetResult> {
        let full = FleetResult {
            host: "node-\t1".into(),
            device: device(true),
            plugin: Some(PluginRef { name: "diag".into(), version: "1.0\"".into(), digest: "sha256:ab".into() }),
            status: FleetStatus::Findings,
            error: Some("a cause with a \\ in it".into()),
            error_kind: Some(FailureKind::RpcBudget),
            duration: Duration::from_nanos(1_234_567),
            rpcs: 42,
            findings: vec![
                Finding {
                    severity: Severity::Critical,
                    code: "mlx5.link.down".into(),
                    summary: "port 1 is down".into(),
                    detail: every_value(),
                },
                Finding { severity: Severity::Info, code: "x".into(), summary: String::new(), detail: BTreeMap::new() },
            ],
            values: every_value(),
            metrics: vec![
                Metric {
                    name: "link_up".into(),
                    unit: String::new(),
                    kind: MetricKind::Gauge,
                    help: "1 when the \"port\" is up.".into(),
                    labels: [("port", "1"), ("lane", "a\u{7f}b")]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    value: 1.0,
                },
                Metric {
                    name: "errors".into(),
                    unit: "seconds".into(),
                    kind: MetricKind::Counter,
                    help: String::new(),
                    labels: Labels::default(),
                    value: 1e300,
                },
            ],
        };
        // What discovery alone gives: no plugin, nothing optional.
        let bare = FleetResult { error: None, ..FleetResult::unsupported("", device(false)) };
        let mut all = vec![full, bare];
        for status in [FleetStatus::Ok, FleetStatus::Gone, FleetStatus::Timeout, FleetStatus::Error] {
            all.push(FleetResult { status, ..all[1].clone() });
        }
        for kind in [FailureKind::Timeout, FailureKind::Trap, FailureKind::DeviceGone, FailureKind::MemoryLimit] {
            all.push(FleetResult { error_kind: Some(kind), ..all[1].clone() });
        }
        all
    }

    #[test]
    fn every_line_is_byte_for_byte_what_serde_writes_for_the_same_result() {
        for result in results() {
            assert_eq!(String::from_utf8(result_line(&result)).unwrap(), serde_line(&result));
        }
    }

    #[test]
    fn the_reference_result_sets_every_field_serde_writes() {
        // A field added to the result must be added to the writer: the full result above
        // must carry every key serde writes, so that the comparison covers it.
        let full = &results()[0];
        let reference: serde_json::Value = serde_json::from_str(&serde_line(full)).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&result_line(full)).unwrap();
        assert_eq!(written, reference);
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&reference),
            [
                "device",
                "duration_ms",
                "error",
                "error_kind",
                "findings",
                "host",
                "metrics",
                "plugin",
                "record",
                "rpcs",
                "status",
                "values"
            ]
        );
        assert_eq!(keys(&reference["device"]).len(), 10, "{}", reference["device"]);
    }
}
