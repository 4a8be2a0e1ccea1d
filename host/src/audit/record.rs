//! The audit log's stable format: what one JSON line says, written from the journal's
//! compact entries ([`super::entry`]) by the flusher.
//!
//! The lines are written by hand, not through serde: the flusher must turn entries into
//! lines faster than runs make them, and serde's flattened outcome, `fmt` numbers and
//! timestamps cost several times what the copies below do. The tests hold every line to
//! what serde_json writes for the same record, byte for byte.

use std::io::Write;

use fwctl_devices::DeviceKind;
use fwctl_proto::envelope::{CxlRequest, Mlx5Request};
use serde::{Deserialize, Serialize};

use crate::json_text::{name, string, unsigned as number};

use super::entry::{Outcome, RpcEntry};

/// Who made the calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginIdentity {
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// `sha256:<hex>` of the component: `digest` as everywhere else in the code, `sha256`
    /// in the audit log's stable format.
    #[serde(rename = "sha256")]
    pub digest: String,
    /// The verified signer, once signatures exist; `null` for unsigned plugins.
    pub signer: Option<String>,
}

impl PluginIdentity {
    /// The same identity, borrowed: what a journal entry and a line carry.
    pub(super) fn as_ref(&self) -> PluginRef<'_> {
        PluginRef { name: &self.name, version: &self.version, sha256: &self.digest, signer: self.signer.as_deref() }
    }
}

/// A borrowed [`PluginIdentity`], in the line's field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PluginRef<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
    pub signer: Option<&'a str>,
}

/// How one RPC attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcOutcome {
    /// The device answered; `status` is the firmware status (mlx5) or mailbox return code
    /// (CXL) inside the answer, when there is one.
    Ok {
        /// Bytes the driver reported.
        response_len: usize,
        /// Firmware status / return code; 0 is success.
        status: Option<u32>,
        /// mlx5 syndrome, when the status is not 0.
        syndrome: Option<u32>,
    },
    /// The kernel (or simulator) refused it.
    Errno(nix::errno::Errno),
    /// The host refused it; it never reached a backend.
    Denied {
        /// Why.
        reason: String,
    },
    /// The device was removed.
    Gone,
    /// Written before the RPC reaches the device; its outcome follows with the same `seq`.
    Sent,
    /// The run was cut off (deadline, abort) while the device had the RPC: it may have
    /// acted on it, but no answer was taken.
    Abandoned,
}

/// How an RPC entry names its plugin.
#[derive(Clone, Copy, Debug)]
pub(super) enum Plugin<'a> {
    /// Spelled out.
    Given(PluginRef<'a>),
    /// Its place in the journal's plugin table ([`LineWriter::list`]).
    Listed(u32),
}

/// Writes audit lines, keeping what consecutive lines share: the plugin's JSON, the
/// device's fields and the timestamp's whole seconds. It holds the JSON of the plugins in
/// its journal's table.
#[derive(Debug, Default)]
pub(super) struct LineWriter {
    plugin: Option<(PluginKey, Vec<u8>)>,
    listed: Vec<Vec<u8>>,
    device: Option<(DeviceKey, Vec<u8>)>,
    second: Option<(u64, Vec<u8>)>,
}

type DeviceKey = (String, String, DeviceKind);

type PluginKey = (String, String, String, Option<String>);

impl LineWriter {
    /// Takes the next plugin of the journal's table (`None`: one that could not be read,
    /// whose lines get a `null` plugin).
    pub(super) fn list(&mut self, plugin: Option<PluginRef<'_>>) {
        self.listed.push(plugin.map_or_else(|| b"null".to_vec(), plugin_json));
    }

    /// How many plugins of the journal's table it holds.
    pub(super) fn listed(&self) -> usize {
        self.listed.len()
    }

    /// Appends the line of an RPC attempt or outcome, newline included; `false` when
    /// `plugin` is a place in the table it does not hold (the line then has a `null`
    /// plugin: a damaged table loses the identity, not the record).
    pub(super) fn rpc<P>(&mut self, out: &mut Vec<u8>, rpc: &RpcEntry<'_, P>, plugin: Plugin<'_>) -> bool {
        let mut known = true;
        out.extend_from_slice(b"{\"time\":");
        self.time(out, rpc.unix_micros);
        if let Some(seq) = rpc.seq {
            out.extend_from_slice(b",\"seq\":");
            number(out, seq);
        }
        out.extend_from_slice(b",\"plugin\":");
        match plugin {
            Plugin::Given(plugin) => self.plugin(out, plugin),
            Plugin::Listed(index) => match self.listed.get(index as usize) {
                Some(json) => out.extend_from_slice(json),
                None => {
                    known = false;
                    out.extend_from_slice(b"null");
                }
            },
        }
        self.device(out, rpc.device, rpc.parent, rpc.kind);
        out.extend_from_slice(b",\"scope\":");
        name(out, rpc.scope.as_str());
        let (mut opcode, mut op_mod, mut register, mut feature) = (None, None, None, None);
        match rpc.kind {
            DeviceKind::Mlx5 => {
                if let Some(request) = Mlx5Request::parse(rpc.request_head) {
                    (opcode, op_mod, register) = (Some(request.opcode), Some(request.op_mod), request.register_id);
                }
            }
            DeviceKind::Cxl => {
                if let Some(request) = CxlRequest::parse(rpc.request_head) {
                    (opcode, feature) = (Some(request.opcode), request.feature);
                }
            }
            DeviceKind::Bnxt | DeviceKind::Pds => {}
        }
        out.extend_from_slice(b",\"opcode\":");
        match opcode {
            Some(opcode) => hex16(out, opcode),
            None => out.extend_from_slice(b"null"),
        }
        if let Some(op_mod) = op_mod {
            out.extend_from_slice(b",\"op_mod\":");
            number(out, u64::from(op_mod));
        }
        if let Some(register) = register {
            out.extend_from_slice(b",\"register\":");
            hex16(out, register);
        }
        if let Some(feature) = feature {
            let _ = write!(out, ",\"feature\":\"{feature}\"");
        }
        out.extend_from_slice(b",\"effect\":");
        string(out, rpc.effect);
        if let Some(action) = rpc.action {
            out.extend_from_slice(b",\"action\":");
            string(out, action);
        }
        out.extend_from_slice(b",\"request_len\":");
        number(out, rpc.request_len);
        out.extend_from_slice(b",\"response_capacity\":");
        number(out, rpc.response_capacity);
        out.extend_from_slice(b",\"outcome\":");
        outcome_and_end(out, rpc.outcome, rpc.duration_us);
        known
    }

    /// Appends the outcome line of the `sent` line at `sent_line` of `out` (written by
    /// [`Self::rpc`] for `rpc`): everything between its time and its outcome is the same,
    /// so it is copied, not written again, and says `true`. A line not of that shape (a
    /// damaged journal's `sent` with a duration) is written whole: `false`.
    pub(super) fn answer(
        &mut self,
        out: &mut Vec<u8>,
        sent_line: std::ops::Range<usize>,
        answered: &RpcEntry<'_, u32>,
    ) -> bool {
        const HEAD: &[u8] = b"{\"time\":\"";
        // `"2026-11-30T12:00:00.000000Z"`, quoted.
        const TIME: usize = 29;
        const SENT_TAIL: &[u8] = b"\"sent\",\"duration_us\":0}\n";
        let line = &out[sent_line.clone()];
        if !(line.starts_with(HEAD)
            && line.ends_with(SENT_TAIL)
            && line.len() >= HEAD.len() - 1 + TIME + SENT_TAIL.len())
        {
            self.rpc(out, answered, Plugin::Listed(answered.plugin));
            return false;
        }
        let shared = sent_line.start + HEAD.len() - 1 + TIME..sent_line.end - SENT_TAIL.len();
        out.extend_from_slice(b"{\"time\":");
        self.time(out, answered.unix_micros);
        out.extend_from_within(shared);
        outcome_and_end(out, answered.outcome, answered.duration_us);
        true
    }

    /// Appends the line of a plugin refused before it ran, newline included.
    pub(super) fn refusal(&mut self, out: &mut Vec<u8>, unix_micros: u64, plugin: PluginRef<'_>, reason: &str) {
        self.plugin_event(out, unix_micros, plugin, "refused", "reason", reason);
    }

    /// Appends the line of a plugin installed, updated or removed, newline included.
    pub(super) fn lifecycle(
        &mut self,
        out: &mut Vec<u8>,
        unix_micros: u64,
        plugin: PluginRef<'_>,
        action: &str,
        detail: &str,
    ) {
        self.plugin_event(out, unix_micros, plugin, action, "detail", detail);
    }

    /// A line about a plugin rather than an RPC: time, plugin, `outcome`, and one text
    /// field named `field` (a fixed name, written as is).
    fn plugin_event(
        &mut self,
        out: &mut Vec<u8>,
        unix_micros: u64,
        plugin: PluginRef<'_>,
        outcome: &str,
        field: &str,
        text: &str,
    ) {
        out.extend_from_slice(b"{\"time\":");
        self.time(out, unix_micros);
        out.extend_from_slice(b",\"plugin\":");
        self.plugin(out, plugin);
        out.extend_from_slice(b",\"outcome\":");
        string(out, outcome);
        out.extend_from_slice(b",\"");
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(b"\":");
        string(out, text);
        out.extend_from_slice(b"}\n");
    }

    /// `,"device":…,"parent":…,"kind":…`, escaped once for a run of lines about one device.
    fn device(&mut self, out: &mut Vec<u8>, device: &str, parent: &str, kind: DeviceKind) {
        let same = self.device.as_ref().is_some_and(|((cached_device, cached_parent, cached_kind), _)| {
            (cached_device.as_str(), cached_parent.as_str(), *cached_kind) == (device, parent, kind)
        });
        if !same {
            let mut json = b",\"device\":".to_vec();
            string(&mut json, device);
            json.extend_from_slice(b",\"parent\":");
            string(&mut json, parent);
            json.extend_from_slice(b",\"kind\":");
            name(&mut json, kind.as_str());
            self.device = Some(((device.into(), parent.into(), kind), json));
        }
        out.extend_from_slice(&self.device.as_ref().expect("just cached").1);
    }

    /// `"2026-11-30T12:00:00.000000Z"`: RFC 3339, UTC, microseconds.
    fn time(&mut self, out: &mut Vec<u8>, unix_micros: u64) {
        // RFC 3339 ends with the year 9999; a later time (a damaged journal) is shown as
        // its last second, not a panic on the way to the log.
        let unix_micros = unix_micros.min(LAST_RFC3339_MICROS);
        let (seconds, micros) = (unix_micros / 1_000_000, unix_micros % 1_000_000);
        if self.second.as_ref().is_none_or(|(cached, _)| *cached != seconds) {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
            // `…T12:00:00Z` without its `Z`: the microseconds go between.
            let mut text = humantime::format_rfc3339_seconds(at).to_string().into_bytes();
            text.pop();
            self.second = Some((seconds, text));
        }
        let (_, text) = self.second.as_ref().expect("just cached");
        out.push(b'"');
        out.extend_from_slice(text);
        // Six digits with their leading zeros: the seventh digit of 1_000_000 + µs dropped.
        let mut digits = itoa::Buffer::new();
        out.push(b'.');
        out.extend_from_slice(&digits.format(micros + 1_000_000).as_bytes()[1..]);
        out.extend_from_slice(b"Z\"");
    }

    fn plugin(&mut self, out: &mut Vec<u8>, plugin: PluginRef<'_>) {
        let same = self.plugin.as_ref().is_some_and(|((name, version, sha256, signer), _)| {
            (name.as_str(), version.as_str(), sha256.as_str(), signer.as_deref())
                == (plugin.name, plugin.version, plugin.sha256, plugin.signer)
        });
        if !same {
            let key = (plugin.name.into(), plugin.version.into(), plugin.sha256.into(), plugin.signer.map(Into::into));
            self.plugin = Some((key, plugin_json(plugin)));
        }
        out.extend_from_slice(&self.plugin.as_ref().expect("just cached").1);
    }
}

/// A line's outcome, from after `"outcome":` to the end of the line.
fn outcome_and_end(out: &mut Vec<u8>, outcome: Outcome<'_>, duration_us: u64) {
    match outcome {
        Outcome::Ok { response_len, status, syndrome } => {
            out.extend_from_slice(b"\"ok\",\"response_len\":");
            number(out, response_len);
            if let Some(status) = status {
                out.extend_from_slice(b",\"status\":");
                number(out, u64::from(status));
            }
            if let Some(syndrome) = syndrome {
                let _ = write!(out, ",\"syndrome\":\"{syndrome:#010x}\"");
            }
        }
        Outcome::Errno(errno) => {
            let _ = write!(out, "\"errno\",\"errno\":\"{:?}\"", nix::errno::Errno::from_raw(errno));
        }
        Outcome::Denied(reason) => {
            out.extend_from_slice(b"\"denied\",\"reason\":");
            string(out, reason);
        }
        Outcome::Gone => out.extend_from_slice(b"\"gone\""),
        Outcome::Sent => out.extend_from_slice(b"\"sent\""),
        Outcome::Abandoned => out.extend_from_slice(b"\"abandoned\""),
    }
    out.extend_from_slice(b",\"duration_us\":");
    number(out, duration_us);
    out.extend_from_slice(b"}\n");
}

/// 9999-12-31T23:59:59.999999Z.
const LAST_RFC3339_MICROS: u64 = 253_402_300_799_999_999;

/// The `plugin` object of a line.
fn plugin_json(plugin: PluginRef<'_>) -> Vec<u8> {
    let mut json = b"{\"name\":".to_vec();
    string(&mut json, plugin.name);
    json.extend_from_slice(b",\"version\":");
    string(&mut json, plugin.version);
    json.extend_from_slice(b",\"sha256\":");
    string(&mut json, plugin.sha256);
    json.extend_from_slice(b",\"signer\":");
    match plugin.signer {
        Some(signer) => string(&mut json, signer),
        None => json.extend_from_slice(b"null"),
    }
    json.push(b'}');
    json
}

/// `"0x0805"`.
fn hex16(out: &mut Vec<u8>, value: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let nibble = |shift: u16| DIGITS[usize::from((value >> shift) & 0xf)];
    out.extend_from_slice(&[b'"', b'0', b'x', nibble(12), nibble(8), nibble(4), nibble(0), b'"']);
}

#[cfg(test)]
mod tests {
    //! The reference for the format: the serde structs the lines were first written with.
    //! [`LineWriter`] must write exactly what serde_json writes for them.

    use super::*;
    use fwctl_devices::Scope;

    #[derive(Serialize)]
    struct ReferenceLine<'a> {
        #[serde(serialize_with = "as_text")]
        time: humantime::Rfc3339Timestamp,
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        plugin: PluginRef<'a>,
        device: &'a str,
        parent: &'a str,
        kind: DeviceKind,
        scope: Scope,
        opcode: Option<Hex16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        op_mod: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        register: Option<Hex16>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_optional_text")]
        feature: Option<fwctl_proto::cxl::Uuid>,
        effect: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        action: Option<&'a str>,
        request_len: u64,
        response_capacity: u64,
        #[serde(flatten)]
        outcome: ReferenceOutcome<'a>,
        duration_us: u64,
    }

    #[derive(Serialize)]
    #[serde(tag = "outcome", rename_all = "kebab-case")]
    enum ReferenceOutcome<'a> {
        Ok {
            response_len: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            status: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            syndrome: Option<String>,
        },
        Errno {
            errno: String,
        },
        Denied {
            reason: &'a str,
        },
        Gone,
        Sent,
        Abandoned,
    }

    #[derive(Serialize)]
    struct ReferenceLifecycle<'a> {
        #[serde(serialize_with = "as_text")]
        time: humantime::Rfc3339Timestamp,
        plugin: PluginRef<'a>,
        outcome: &'a str,
        detail: &'a str,
    }

    #[derive(Serialize)]
    struct ReferenceRefusal<'a> {
        #[serde(serialize_with = "as_text")]
        time: humantime::Rfc3339Timestamp,
        plugin: PluginRef<'a>,
        outcome: &'static str,
        reason: &'a str,
    }

    struct Hex16(u16);

    impl Serialize for Hex16 {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(&format_args!("{:#06x}", self.0))
        }
    }

    fn as_text<T: std::fmt::Display, S: serde::Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    fn as_optional_text<T: std::fmt::Display, S: serde::Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value.as_ref().expect("skipped when None"))
    }

    fn time(unix_micros: u64) -> humantime::Rfc3339Timestamp {
        humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + std::time::Duration::from_micros(unix_micros))
    }

    fn reference(rpc: &RpcEntry<'_, PluginRef<'_>>) -> String {
        let (mut opcode, mut op_mod, mut register, mut feature) = (None, None, None, None);
        match rpc.kind {
            DeviceKind::Mlx5 => {
                if let Some(r) = Mlx5Request::parse(rpc.request_head) {
                    (opcode, op_mod, register) = (Some(Hex16(r.opcode)), Some(r.op_mod), r.register_id.map(Hex16));
                }
            }
            DeviceKind::Cxl => {
                if let Some(r) = CxlRequest::parse(rpc.request_head) {
                    (opcode, feature) = (Some(Hex16(r.opcode)), r.feature);
                }
            }
            DeviceKind::Bnxt | DeviceKind::Pds => {}
        }
        let outcome = match rpc.outcome {
            Outcome::Ok { response_len, status, syndrome } => {
                ReferenceOutcome::Ok { response_len, status, syndrome: syndrome.map(|s| format!("{s:#010x}")) }
            }
            Outcome::Errno(errno) => {
                ReferenceOutcome::Errno { errno: format!("{:?}", nix::errno::Errno::from_raw(errno)) }
            }
            Outcome::Denied(reason) => ReferenceOutcome::Denied { reason },
            Outcome::Gone => ReferenceOutcome::Gone,
            Outcome::Sent => ReferenceOutcome::Sent,
            Outcome::Abandoned => ReferenceOutcome::Abandoned,
        };
        let line = ReferenceLine {
            time: time(rpc.unix_micros),
            seq: rpc.seq,
            plugin: rpc.plugin,
            device: rpc.device,
            parent: rpc.parent,
            kind: rpc.kind,
            scope: rpc.scope,
            opcode,
            op_mod,
            register,
            feature,
            effect: rpc.effect,
            action: rpc.action,
            request_len: rpc.request_len,
            response_capacity: rpc.response_capacity,
            outcome,
            duration_us: rpc.duration_us,
        };
        serde_json::to_string(&line).unwrap() + "\n"
    }

    fn sent_rpc(plugin: PluginRef<'_>) -> RpcEntry<'_, PluginRef<'_>> {
        RpcEntry {
            unix_micros: 1_764_504_000_000_000,
            seq: Some(1),
            plugin,
            device: "fwctl0",
            parent: "0000:08:00.0",
            kind: DeviceKind::Mlx5,
            scope: Scope::DebugReadOnly,
            request_head: &[1, 2],
            request_len: 2,
            response_capacity: 8,
            effect: "read",
            action: None,
            outcome: Outcome::Sent,
            duration_us: 0,
        }
    }

    #[test]
    fn an_outcome_line_made_from_its_sent_line_is_the_line_written_whole() {
        let plugin = PluginRef { name: "mlx5-diag", version: "0.1.0", sha256: "sha256:ab", signer: None };
        let mut writer = LineWriter::default();
        writer.list(Some(plugin));
        let answers = [
            Outcome::Ok { response_len: 112, status: Some(0), syndrome: None },
            Outcome::Ok { response_len: 16, status: Some(3), syndrome: Some(0x1234) },
            Outcome::Errno(5),
            Outcome::Gone,
        ];
        // A known plugin and one the table lacks; an action or none; a damaged journal's
        // `sent` with a duration, whose shape is not the usual one.
        for (place, action, sent_duration) in [(0, None, 0), (0, Some("writes \"x\""), 0), (9, None, 0), (0, None, 5)] {
            for (i, outcome) in answers.into_iter().enumerate() {
                let base = sent_rpc(plugin);
                let sent = RpcEntry {
                    unix_micros: 1_764_504_000_000_000 + i as u64,
                    seq: base.seq,
                    plugin: place,
                    device: base.device,
                    parent: base.parent,
                    kind: base.kind,
                    scope: base.scope,
                    request_head: base.request_head,
                    request_len: base.request_len,
                    response_capacity: base.response_capacity,
                    effect: base.effect,
                    action,
                    outcome: Outcome::Sent,
                    duration_us: sent_duration,
                };
                let answered = RpcEntry { unix_micros: u64::MAX, outcome, duration_us: 77 + i as u64, ..sent };
                let mut copied = Vec::new();
                writer.rpc(&mut copied, &sent, Plugin::Listed(place));
                let sent_end = copied.len();
                let shared = writer.answer(&mut copied, 0..sent_end, &answered);
                assert_eq!(shared, sent_duration == 0, "copied from the usual sent line, else written whole");
                let mut whole = Vec::new();
                writer.rpc(&mut whole, &sent, Plugin::Listed(place));
                writer.rpc(&mut whole, &answered, Plugin::Listed(place));
                assert_eq!(String::from_utf8(copied).unwrap(), String::from_utf8(whole).unwrap());
            }
        }
    }

    #[test]
    fn every_line_is_byte_for_byte_what_serde_writes_for_the_same_record() {
        let unsigned = PluginRef { name: "mlx5-diag", version: "0.1.0", sha256: "sha256:ab", signer: None };
        let signed = PluginRef { name: "a \"quoted\"\tname\u{1}é", version: "1", sha256: "", signer: Some("vendor") };
        let mut mlx5_write = [0u8; 40];
        mlx5_write[0..2].copy_from_slice(&0x805u16.to_be_bytes());
        mlx5_write[10..12].copy_from_slice(&0x9024u16.to_be_bytes());
        let mut cxl_get_feature = [0u8; 32];
        cxl_get_feature[0..4].copy_from_slice(&0x0501u32.to_ne_bytes());
        cxl_get_feature[16..32].copy_from_slice(&[0x0f; 16]);
        let outcomes = [
            Outcome::Sent,
            Outcome::Ok { response_len: 112, status: Some(0), syndrome: None },
            Outcome::Ok { response_len: 16, status: Some(3), syndrome: Some(0x1234) },
            Outcome::Ok { response_len: 0, status: None, syndrome: None },
            Outcome::Errno(22),
            Outcome::Denied("not granted: \"debug-write\"\nabove the grant"),
            Outcome::Gone,
            Outcome::Abandoned,
        ];
        let requests: [(DeviceKind, &[u8]); 5] = [
            (DeviceKind::Mlx5, &mlx5_write[..32]),
            (DeviceKind::Mlx5, &[1, 2]),
            (DeviceKind::Cxl, &cxl_get_feature),
            (DeviceKind::Cxl, &[0; 8]),
            (DeviceKind::Bnxt, &[0; 32]),
        ];
        let mut writer = LineWriter::default();
        writer.list(Some(unsigned));
        writer.list(Some(signed));
        let mut lines = 0;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            for (j, (kind, request)) in requests.iter().enumerate() {
                for (k, plugin) in [unsigned, signed].into_iter().enumerate() {
                    let rpc = RpcEntry {
                        unix_micros: 1_764_504_000_000_000 + [0, 7, 999_999, 1_000_000][(i + j + k) % 4],
                        seq: (k == 0).then_some(i as u64 * 1000 + j as u64),
                        plugin,
                        device: "fwctl0",
                        parent: if k == 0 { "0000:08:00.0" } else { "mem\"0" },
                        kind: *kind,
                        scope: [Scope::Configuration, Scope::DebugReadOnly, Scope::DebugWriteFull][j % 3],
                        request_head: request,
                        request_len: request.len() as u64 + 8,
                        response_capacity: 4096,
                        effect: ["read", "write", "unknown"][i % 3],
                        action: (i % 2 == 1).then_some("writes register 0x9024 (MNVDA)"),
                        outcome: match &outcome {
                            Outcome::Ok { response_len, status, syndrome } => {
                                Outcome::Ok { response_len: *response_len, status: *status, syndrome: *syndrome }
                            }
                            Outcome::Errno(e) => Outcome::Errno(*e),
                            Outcome::Denied(r) => Outcome::Denied(r),
                            Outcome::Gone => Outcome::Gone,
                            Outcome::Sent => Outcome::Sent,
                            Outcome::Abandoned => Outcome::Abandoned,
                        },
                        duration_us: 12_345,
                    };
                    let mut line = Vec::new();
                    assert!(writer.rpc(&mut line, &rpc, Plugin::Given(plugin)));
                    assert_eq!(String::from_utf8(line).unwrap(), reference(&rpc));
                    // The same record with the plugin as its place in the journal's table.
                    let mut listed = Vec::new();
                    assert!(writer.rpc(&mut listed, &rpc, Plugin::Listed(k as u32)));
                    assert_eq!(String::from_utf8(listed).unwrap(), reference(&rpc));
                    lines += 1;
                }
            }
        }
        assert_eq!(lines, 80);
        // Lines about other devices of the same parent and kind, and of another kind:
        // what the writer keeps of one line's device is not reused for another.
        let mut previous = String::new();
        for (device, kind) in [("fwctl1", DeviceKind::Mlx5), ("fwctl2", DeviceKind::Mlx5), ("fwctl2", DeviceKind::Cxl)]
        {
            let rpc = RpcEntry { device, kind, ..sent_rpc(unsigned) };
            let mut line = Vec::new();
            writer.rpc(&mut line, &rpc, Plugin::Given(unsigned));
            let line = String::from_utf8(line).unwrap();
            assert_eq!(line, reference(&rpc));
            assert_ne!(line, previous);
            previous = line;
        }
        // A time past RFC 3339's last year (a damaged journal) is its last second.
        let late = RpcEntry { unix_micros: u64::MAX, ..sent_rpc(unsigned) };
        let mut line = Vec::new();
        writer.rpc(&mut line, &late, Plugin::Given(unsigned));
        assert!(String::from_utf8(line).unwrap().starts_with("{\"time\":\"9999-12-31T23:59:59.999999Z\""));
        for (plugin, reason) in [(unsigned, "unsigned plugins are not allowed"), (signed, "a \\ and a \u{7f}")] {
            let mut line = Vec::new();
            writer.refusal(&mut line, 1_764_504_000_123_456, plugin, reason);
            let expected = ReferenceRefusal { time: time(1_764_504_000_123_456), plugin, outcome: "refused", reason };
            assert_eq!(String::from_utf8(line).unwrap(), serde_json::to_string(&expected).unwrap() + "\n");
            let (outcome, detail) = ("installed", "from oci://r/\"x\":1 into /usr/local/lib\n");
            let mut line = Vec::new();
            writer.lifecycle(&mut line, 1_764_504_000_123_456, plugin, outcome, detail);
            let expected = ReferenceLifecycle { time: time(1_764_504_000_123_456), plugin, outcome, detail };
            assert_eq!(String::from_utf8(line).unwrap(), serde_json::to_string(&expected).unwrap() + "\n");
        }
    }
}
