//! One journal entry: the facts of an audit line in a compact binary form, made on the
//! RPC's path by copying, and turned into the JSON line only when the journal is flushed.
//! Formatting JSON (and the time stamp) was half of what a record cost.
//!
//! In a journal with a plugin table each entry starts with a byte saying how it is
//! encoded: an RPC naming its plugin by place in a fixed little-endian layout written and
//! read by hand below, anything else with postcard. The RPC entry is made twice per RPC
//! and read twice per RPC by the flusher; through serde and postcard that was some 2,000
//! instructions an entry (callgrind), a quarter of an audited RPC's cost, against a few
//! hundred for copies of fixed-width fields. Journals of the first layout hold postcard
//! entries without the byte.

use std::time::{SystemTime, UNIX_EPOCH};

use fwctl_devices::{DeviceKind, Scope};
use serde::{Deserialize, Serialize};

use super::record::{LineWriter, Plugin, PluginRef, RpcOutcome};

/// The request bytes an entry keeps: enough for every field a line shows (the mlx5
/// command header and register id, the CXL header and Feature UUID).
pub(super) const REQUEST_HEAD: usize = 32;

/// What one audit line records.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Entry<'a> {
    /// An RPC attempt or its outcome, the plugin spelled out (a journal whose plugin table
    /// is full, and journals written before the table existed).
    Rpc(#[serde(borrow)] RpcEntry<'a, PluginRef<'a>>),
    /// A plugin refused before it ran.
    Refusal {
        unix_micros: u64,
        #[serde(borrow)]
        plugin: PluginRef<'a>,
        reason: &'a str,
    },
    /// A plugin installed, updated or removed by the operator (last, so that journals
    /// written before it existed still decode).
    Lifecycle {
        unix_micros: u64,
        #[serde(borrow)]
        plugin: PluginRef<'a>,
        action: &'a str,
        detail: &'a str,
    },
    /// An RPC attempt or its outcome, the plugin given as its place in the journal's plugin
    /// table ([`super::journal::Journal::list`]): the identity's strings are copied and
    /// checked once per journal, not twice per RPC. Encoded by hand ([`COMPACT_RPC`]),
    /// never through serde.
    #[serde(skip)]
    Listed(RpcEntry<'a, u32>),
}

/// An RPC line's facts, as the host had them when it made the record; `plugin` is the
/// identity itself or its place in the journal's plugin table.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RpcEntry<'a, P> {
    pub unix_micros: u64,
    pub seq: Option<u64>,
    pub plugin: P,
    pub device: &'a str,
    pub parent: &'a str,
    pub kind: DeviceKind,
    pub scope: Scope,
    /// The request's first [`REQUEST_HEAD`] bytes.
    pub request_head: &'a [u8],
    pub request_len: u64,
    pub response_capacity: u64,
    pub effect: &'a str,
    pub action: Option<&'a str>,
    pub outcome: Outcome<'a>,
    pub duration_us: u64,
}

/// [`RpcOutcome`] without allocation: an errno as its number, a syndrome as a number.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) enum Outcome<'a> {
    Ok { response_len: u64, status: Option<u32>, syndrome: Option<u32> },
    Errno(i32),
    Denied(&'a str),
    Gone,
    Sent,
    Abandoned,
}

impl<'a> From<&'a RpcOutcome> for Outcome<'a> {
    fn from(outcome: &'a RpcOutcome) -> Self {
        match outcome {
            RpcOutcome::Ok { response_len, status, syndrome } => {
                Outcome::Ok { response_len: *response_len as u64, status: *status, syndrome: *syndrome }
            }
            RpcOutcome::Errno(errno) => Outcome::Errno(*errno as i32),
            RpcOutcome::Denied { reason } => Outcome::Denied(reason),
            RpcOutcome::Gone => Outcome::Gone,
            RpcOutcome::Sent => Outcome::Sent,
            RpcOutcome::Abandoned => Outcome::Abandoned,
        }
    }
}

/// Now, as the entry keeps it.
pub(super) fn unix_micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_micros() as u64)
}

impl Entry<'_> {
    /// Appends the entry's JSON line, newline included, to `out`; `false` when it names a
    /// plugin the writer's table does not hold (its line has a `null` plugin).
    pub(super) fn write_line(&self, writer: &mut LineWriter, out: &mut Vec<u8>) -> bool {
        match self {
            Entry::Rpc(rpc) => writer.rpc(out, rpc, Plugin::Given(rpc.plugin)),
            Entry::Listed(rpc) => writer.rpc(out, rpc, Plugin::Listed(rpc.plugin)),
            Entry::Refusal { unix_micros, plugin, reason } => {
                writer.refusal(out, *unix_micros, *plugin, reason);
                true
            }
            Entry::Lifecycle { unix_micros, plugin, action, detail } => {
                writer.lifecycle(out, *unix_micros, *plugin, action, detail);
                true
            }
        }
    }
}

/// The first byte of an entry in a journal with a plugin table: postcard follows.
const POSTCARD: u8 = 0;
/// The first byte of an entry in a journal with a plugin table: an RPC naming its plugin
/// by place, in the layout of [`encode_listed`].
const COMPACT_RPC: u8 = 1;

/// Encodes `entry` into `buffer` (cleared first), as a journal with a plugin table holds it.
pub(super) fn encode(entry: &Entry<'_>, buffer: &mut Vec<u8>) {
    buffer.clear();
    match entry {
        Entry::Listed(rpc) => encode_listed(rpc, buffer),
        other => {
            buffer.push(POSTCARD);
            put_postcard(other, buffer);
        }
    }
}

/// Decodes one entry of a journal with a plugin table; `None` when the bytes are not one
/// (a damaged journal).
pub(super) fn decode(bytes: &[u8]) -> Option<Entry<'_>> {
    match bytes.split_first()? {
        (&COMPACT_RPC, rest) => decode_listed(rest).map(Entry::Listed),
        (&POSTCARD, rest) => postcard::from_bytes(rest).ok(),
        _ => None,
    }
}

/// Decodes one entry of a journal of the first layout (postcard, no leading byte).
pub(super) fn decode_first_layout(bytes: &[u8]) -> Option<Entry<'_>> {
    postcard::from_bytes(bytes).ok()
}

/// Encodes a plugin identity for the journal's table into `buffer` (cleared first).
pub(super) fn encode_identity(plugin: &PluginRef<'_>, buffer: &mut Vec<u8>) {
    buffer.clear();
    put_postcard(plugin, buffer);
}

/// Decodes a plugin identity of the journal's table.
pub(super) fn decode_identity(bytes: &[u8]) -> Option<PluginRef<'_>> {
    postcard::from_bytes(bytes).ok()
}

fn put_postcard(value: &impl Serialize, buffer: &mut Vec<u8>) {
    // postcard writes into any `Extend<u8>`; a Vec it has grown before is not grown again.
    let taken = std::mem::take(buffer);
    *buffer = postcard::to_extend(value, taken).unwrap_or_default();
}

/// No `seq`: a refusal before the RPC was sent.
const NO_SEQ: u64 = u64::MAX;

/// The outcome's byte, and the flags saying which optional fields follow.
const OK: u8 = 0;
const ERRNO: u8 = 1;
const DENIED: u8 = 2;
const GONE: u8 = 3;
const SENT: u8 = 4;
const ABANDONED: u8 = 5;
const HAS_STATUS: u8 = 1;
const HAS_SYNDROME: u8 = 2;
const HAS_ACTION: u8 = 4;

/// The compact RPC entry: `COMPACT_RPC`, then `unix_micros`, `seq` (`NO_SEQ` for none),
/// `plugin` (u32), `kind` and `scope` (their uAPI values, one byte each), `request_len`,
/// `response_capacity`, `duration_us` (u64 each), the outcome's byte and the flags byte,
/// the outcome's fields (`ok`: `response_len` u64, `status` and `syndrome` u32 when
/// flagged; `errno`: i32; `denied`: the reason), then `request_head`, `device`, `parent`,
/// `effect` and, when flagged, `action`; byte strings as a u32 length and the bytes.
fn encode_listed(rpc: &RpcEntry<'_, u32>, out: &mut Vec<u8>) {
    out.push(COMPACT_RPC);
    out.extend_from_slice(&rpc.unix_micros.to_le_bytes());
    out.extend_from_slice(&rpc.seq.unwrap_or(NO_SEQ).to_le_bytes());
    out.extend_from_slice(&rpc.plugin.to_le_bytes());
    out.push(rpc.kind.raw() as u8);
    out.push(rpc.scope.raw() as u8);
    for number in [rpc.request_len, rpc.response_capacity, rpc.duration_us] {
        out.extend_from_slice(&number.to_le_bytes());
    }
    let mut flags = if rpc.action.is_some() { HAS_ACTION } else { 0 };
    match rpc.outcome {
        Outcome::Ok { response_len, status, syndrome } => {
            flags |= if status.is_some() { HAS_STATUS } else { 0 } | if syndrome.is_some() { HAS_SYNDROME } else { 0 };
            out.extend_from_slice(&[OK, flags]);
            out.extend_from_slice(&response_len.to_le_bytes());
            for present in [status, syndrome].into_iter().flatten() {
                out.extend_from_slice(&present.to_le_bytes());
            }
        }
        Outcome::Errno(errno) => {
            out.extend_from_slice(&[ERRNO, flags]);
            out.extend_from_slice(&errno.to_le_bytes());
        }
        Outcome::Denied(reason) => {
            out.extend_from_slice(&[DENIED, flags]);
            put_bytes(out, reason.as_bytes());
        }
        Outcome::Gone => out.extend_from_slice(&[GONE, flags]),
        Outcome::Sent => out.extend_from_slice(&[SENT, flags]),
        Outcome::Abandoned => out.extend_from_slice(&[ABANDONED, flags]),
    }
    put_bytes(out, rpc.request_head);
    for text in [rpc.device, rpc.parent, rpc.effect].into_iter().chain(rpc.action) {
        put_bytes(out, text.as_bytes());
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads what [`encode_listed`] wrote after its first byte; `None` for anything else
/// (short, an unknown kind, scope or outcome, text that is not UTF-8, bytes left over).
fn decode_listed(bytes: &[u8]) -> Option<RpcEntry<'_, u32>> {
    let mut input = Reader(bytes);
    let unix_micros = input.u64()?;
    let seq = Some(input.u64()?).filter(|&seq| seq != NO_SEQ);
    let plugin = input.u32()?;
    let kind = DeviceKind::from_raw(input.u8()?.into())?;
    let scope = Scope::from_raw(input.u8()?.into())?;
    let (request_len, response_capacity, duration_us) = (input.u64()?, input.u64()?, input.u64()?);
    let (outcome, flags) = (input.u8()?, input.u8()?);
    let allowed = if outcome == OK { HAS_STATUS | HAS_SYNDROME | HAS_ACTION } else { HAS_ACTION };
    if flags & !allowed != 0 {
        return None;
    }
    let outcome = match outcome {
        OK => Outcome::Ok {
            response_len: input.u64()?,
            status: if flags & HAS_STATUS != 0 { Some(input.u32()?) } else { None },
            syndrome: if flags & HAS_SYNDROME != 0 { Some(input.u32()?) } else { None },
        },
        ERRNO => Outcome::Errno(input.u32()? as i32),
        DENIED => Outcome::Denied(input.text()?),
        GONE => Outcome::Gone,
        SENT => Outcome::Sent,
        ABANDONED => Outcome::Abandoned,
        _ => return None,
    };
    let request_head = input.bytes()?;
    let (device, parent, effect) = (input.text()?, input.text()?, input.text()?);
    let action = if flags & HAS_ACTION != 0 { Some(input.text()?) } else { None };
    input.0.is_empty().then_some(RpcEntry {
        unix_micros,
        seq,
        plugin,
        device,
        parent,
        kind,
        scope,
        request_head,
        request_len,
        response_capacity,
        effect,
        action,
        outcome,
        duration_us,
    })
}

/// What is left of a compact entry to read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[byte]| byte)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        let (bytes, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(bytes)
    }

    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(outcome: Outcome<'static>, seq: Option<u64>, action: Option<&'static str>) -> RpcEntry<'static, u32> {
        RpcEntry {
            unix_micros: 1_764_504_000_123_456,
            seq,
            plugin: 7,
            device: "fwctl0",
            parent: "0000:08:00.0",
            kind: DeviceKind::Cxl,
            scope: Scope::DebugWriteFull,
            request_head: &[0x01, 0x05, 0, 0, 9, 9],
            request_len: 48,
            response_capacity: 4096,
            effect: "write",
            action,
            outcome,
            duration_us: 12_345,
        }
    }

    fn outcomes() -> Vec<Outcome<'static>> {
        vec![
            Outcome::Ok { response_len: 112, status: Some(0), syndrome: None },
            Outcome::Ok { response_len: 16, status: Some(3), syndrome: Some(0x1234) },
            Outcome::Ok { response_len: 0, status: None, syndrome: None },
            Outcome::Errno(-22),
            Outcome::Denied("not granted: \"debug-write\"\nabove the grant é"),
            Outcome::Gone,
            Outcome::Sent,
            Outcome::Abandoned,
        ]
    }

    fn encoded(entry: &Entry<'_>) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(entry, &mut bytes);
        bytes
    }

    #[test]
    fn a_compact_rpc_entry_reads_back_as_written() {
        for outcome in outcomes() {
            for (seq, action) in
                [(Some(0), None), (None, Some("writes Feature 0f0f… (ECS)")), (Some(u64::MAX - 1), None)]
            {
                let entry = Entry::Listed(rpc(outcome, seq, action));
                let bytes = encoded(&entry);
                assert_eq!(bytes[0], COMPACT_RPC);
                let read = decode(&bytes).expect("decodes");
                assert_eq!(format!("{read:?}"), format!("{entry:?}"));
            }
        }
    }

    #[test]
    fn other_entries_go_through_postcard_behind_their_byte() {
        let plugin = PluginRef { name: "p", version: "1", sha256: "sha256:00", signer: None };
        let entry = Entry::Refusal { unix_micros: 1, plugin, reason: "unsigned" };
        let bytes = encoded(&entry);
        assert_eq!(bytes[0], POSTCARD);
        assert_eq!(format!("{:?}", decode(&bytes).unwrap()), format!("{entry:?}"));
        assert_eq!(&bytes[1..], postcard::to_stdvec(&entry).unwrap(), "the first layout's encoding behind it");
    }

    #[test]
    fn a_damaged_compact_entry_is_refused_without_a_panic() {
        let whole = encoded(&Entry::Listed(rpc(outcomes()[4], Some(3), Some("an action"))));
        for cut in 0..whole.len() {
            assert!(decode(&whole[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = whole.clone();
        longer.push(0);
        assert!(decode(&longer).is_none(), "bytes left over");
        // kind (byte 21), scope (22) and outcome (47) out of range, flags (48) it does
        // not have (status on a denial, an unknown bit), a length past the end.
        for (at, value) in [(21, 0xee), (22, 0xee), (47, 0xee), (48, HAS_ACTION | HAS_STATUS), (48, 0x84), (52, 0xff)] {
            let mut bad = whole.clone();
            bad[at] = value;
            assert!(decode(&bad).is_none(), "byte {at} set to {value:#x}");
        }
        let mut not_utf8 = whole.clone();
        let device = not_utf8.windows(6).position(|w| w == b"fwctl0").unwrap();
        not_utf8[device] = 0xff;
        assert!(decode(&not_utf8).is_none(), "a device name that is not UTF-8");
        assert!(decode(&[9, 1, 2]).is_none(), "an unknown encoding byte");
        assert!(decode(&[]).is_none());
    }
}
