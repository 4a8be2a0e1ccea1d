//! One journal entry: the facts of an audit line in a compact binary form, made on the
//! RPC's path by copying, and turned into the JSON line only when the journal is flushed.
//! Formatting JSON (and the time stamp) was half of what a record cost.
//!
//! In a journal with a plugin table each entry starts with a byte saying how it is
//! encoded: an RPC naming its plugin by place in a fixed little-endian layout written and
//! read by hand below (a `sent` one with a fixed block its answer is filled into), anything
//! else with postcard. RPC entries are made and read on every RPC; through serde and
//! postcard that was some 2,000 instructions an entry (callgrind), a quarter of an
//! audited RPC's cost, against a few hundred for copies of fixed-width fields. Journals of
//! the first layout hold postcard entries without the byte.

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
    /// An RPC sent (its outcome [`Outcome::Sent`]) naming its plugin by place, with room
    /// for its answer, filled in while the entry still waits in the journal
    /// ([`super::journal::Journal::complete`]): one entry for the usual RPC's two lines.
    /// Encoded by hand ([`SENT_RPC`]).
    #[serde(skip)]
    Sent(RpcEntry<'a, u32>, AnswerSlot),
}

/// The answer block of a [`Entry::Sent`] entry, as read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum AnswerSlot {
    /// Not filled in: no answer yet, or the process died while filling it (its first
    /// byte, stored last, still says so; whatever the rest holds is not an answer).
    Open,
    /// The answer.
    Filled(Answer),
    /// Marked filled but not an answer (a damaged journal): the `sent` line is still
    /// written, and the damage counted.
    Unreadable,
}

/// The answer filled into a [`Entry::Sent`] entry: what its outcome line says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Answer {
    pub unix_micros: u64,
    pub duration_us: u64,
    pub outcome: Outcome<'static>,
}

/// An RPC line's facts, as the host had them when it made the record; `plugin` is the
/// identity itself or its place in the journal's plugin table.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Whether it is a `sent` entry whose answer block is marked filled but unreadable.
    pub(super) fn has_unreadable_answer(&self) -> bool {
        matches!(self, Entry::Sent(_, AnswerSlot::Unreadable))
    }

    /// Appends the entry's JSON line, newline included, to `out`; `false` when it names a
    /// plugin the writer's table does not hold (its line has a `null` plugin).
    pub(super) fn write_line(&self, writer: &mut LineWriter, out: &mut Vec<u8>) -> bool {
        match self {
            Entry::Rpc(rpc) => writer.rpc(out, rpc, Plugin::Given(rpc.plugin)),
            Entry::Listed(rpc) => writer.rpc(out, rpc, Plugin::Listed(rpc.plugin)),
            Entry::Sent(rpc, answer) => {
                // Decoding keeps a `SENT_RPC` entry only when it is a `sent` one.
                debug_assert_eq!(rpc.outcome, Outcome::Sent);
                let start = out.len();
                let known = writer.rpc(out, rpc, Plugin::Listed(rpc.plugin));
                if let AnswerSlot::Filled(Answer { unix_micros, duration_us, outcome }) = *answer {
                    let answered = RpcEntry { unix_micros, duration_us, outcome, ..*rpc };
                    writer.answer(out, start..out.len(), &answered);
                }
                known
            }
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
/// The first byte of an entry in a journal with a plugin table: an RPC sent, its answer
/// block ([`ANSWER_AT`]), then the layout of [`encode_listed`].
const SENT_RPC: u8 = 2;

/// Where the answer block of a [`SENT_RPC`] entry starts.
pub(super) const ANSWER_AT: usize = 1;
/// The answer block: `filled` (0 not yet, whatever the other bytes hold; 1 filled), the
/// outcome's byte and flags, the answer's `unix_micros`, `duration_us` and
/// `response_len` (u64 each; an errno as the first four bytes of `response_len`), then
/// `status` and `syndrome` (u32 each, 0 when not flagged).
const ANSWER_LEN: usize = 35;
/// An answer block, as [`super::journal::Journal::complete`] writes it.
pub(super) type AnswerBlock = [u8; ANSWER_LEN];
const FILLED: u8 = 1;

/// The answer block for an RPC answered with `outcome`; `None` for an outcome that is
/// not an answer (a denial, `sent`, `abandoned`), which goes on the record as an entry.
pub(super) fn answer_block(unix_micros: u64, duration_us: u64, outcome: Outcome<'_>) -> Option<AnswerBlock> {
    let (code, flags, value, status, syndrome) = match outcome {
        Outcome::Ok { response_len, status, syndrome } => {
            let flags =
                if status.is_some() { HAS_STATUS } else { 0 } | if syndrome.is_some() { HAS_SYNDROME } else { 0 };
            (OK, flags, response_len, status.unwrap_or(0), syndrome.unwrap_or(0))
        }
        Outcome::Errno(errno) => (ERRNO, 0, u64::from(errno as u32), 0, 0),
        Outcome::Gone => (GONE, 0, 0, 0, 0),
        Outcome::Denied(_) | Outcome::Sent | Outcome::Abandoned => return None,
    };
    let mut block = [0u8; ANSWER_LEN];
    block[..3].copy_from_slice(&[FILLED, code, flags]);
    for (at, word) in [(3, unix_micros), (11, duration_us), (19, value)] {
        block[at..at + 8].copy_from_slice(&word.to_le_bytes());
    }
    block[27..31].copy_from_slice(&status.to_le_bytes());
    block[31..35].copy_from_slice(&syndrome.to_le_bytes());
    Some(block)
}

/// Reads an answer block.
fn read_answer(block: &AnswerBlock) -> AnswerSlot {
    match block[0] {
        0 => AnswerSlot::Open,
        _ => filled_answer(block).map_or(AnswerSlot::Unreadable, AnswerSlot::Filled),
    }
}

/// The answer of a block marked filled; `Err` when it is not one.
fn filled_answer(block: &AnswerBlock) -> Result<Answer, ()> {
    let mut input = Reader(block);
    let (filled, code, flags) = (input.u8().ok_or(())?, input.u8().ok_or(())?, input.u8().ok_or(())?);
    let (unix_micros, duration_us, value) = (input.u64().ok_or(())?, input.u64().ok_or(())?, input.u64().ok_or(())?);
    let (status, syndrome) = (input.u32().ok_or(())?, input.u32().ok_or(())?);
    let unused_zero = |ok: bool| if ok { Ok(()) } else { Err(()) };
    let outcome = match (filled, code) {
        (FILLED, OK) => {
            unused_zero(flags & !(HAS_STATUS | HAS_SYNDROME) == 0)?;
            unused_zero(flags & HAS_STATUS != 0 || status == 0)?;
            unused_zero(flags & HAS_SYNDROME != 0 || syndrome == 0)?;
            Outcome::Ok {
                response_len: value,
                status: (flags & HAS_STATUS != 0).then_some(status),
                syndrome: (flags & HAS_SYNDROME != 0).then_some(syndrome),
            }
        }
        (FILLED, ERRNO) => {
            unused_zero(flags == 0 && value <= u64::from(u32::MAX) && status == 0 && syndrome == 0)?;
            Outcome::Errno(value as u32 as i32)
        }
        (FILLED, GONE) => {
            unused_zero(flags == 0 && value == 0 && status == 0 && syndrome == 0)?;
            Outcome::Gone
        }
        _ => return Err(()),
    };
    Ok(Answer { unix_micros, duration_us, outcome })
}

/// Encodes `entry` into `buffer` (cleared first), as a journal with a plugin table holds it.
pub(super) fn encode(entry: &Entry<'_>, buffer: &mut Vec<u8>) {
    buffer.clear();
    match entry {
        Entry::Listed(rpc) => {
            buffer.push(COMPACT_RPC);
            encode_listed(rpc, buffer);
        }
        Entry::Sent(rpc, answer) => {
            buffer.push(SENT_RPC);
            debug_assert!(*answer != AnswerSlot::Unreadable, "a read damage is never written back");
            let filled = match answer {
                AnswerSlot::Filled(a) => Some(a),
                AnswerSlot::Open | AnswerSlot::Unreadable => None,
            };
            let block = filled.and_then(|a| answer_block(a.unix_micros, a.duration_us, a.outcome));
            buffer.extend_from_slice(&block.unwrap_or([0; ANSWER_LEN]));
            encode_listed(rpc, buffer);
        }
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
        (&SENT_RPC, rest) => {
            let (block, rest) = rest.split_first_chunk::<ANSWER_LEN>()?;
            let answer = read_answer(block);
            decode_listed(rest).filter(|rpc| rpc.outcome == Outcome::Sent).map(|rpc| Entry::Sent(rpc, answer))
        }
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

/// The compact RPC entry, after its first byte (and a [`SENT_RPC`]'s answer block):
/// `unix_micros`, `seq` (`NO_SEQ` for none),
/// `plugin` (u32), `kind` and `scope` (their uAPI values, one byte each), `request_len`,
/// `response_capacity`, `duration_us` (u64 each), the outcome's byte and the flags byte,
/// the outcome's fields (`ok`: `response_len` u64, `status` and `syndrome` u32 when
/// flagged; `errno`: i32; `denied`: the reason), then `request_head`, `device`, `parent`,
/// `effect` and, when flagged, `action`; byte strings as a u32 length and the bytes.
fn encode_listed(rpc: &RpcEntry<'_, u32>, out: &mut Vec<u8>) {
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
    use super::super::record::LineWriter;
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

    fn lines(entry: &Entry<'_>) -> String {
        let mut writer = LineWriter::default();
        writer.list(Some(PluginRef { name: "p", version: "1", sha256: "sha256:00", signer: None }));
        let mut out = Vec::new();
        assert!(entry.write_line(&mut writer, &mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_sent_entry_answered_in_place_reads_back_and_writes_the_two_lines_of_two_entries() {
        let answers = [
            Outcome::Ok { response_len: 112, status: Some(0), syndrome: None },
            Outcome::Ok { response_len: 16, status: Some(3), syndrome: Some(0x1234) },
            Outcome::Ok { response_len: 0, status: None, syndrome: None },
            Outcome::Errno(-22),
            Outcome::Errno(i32::MIN),
            Outcome::Gone,
        ];
        for action in [None, Some("writes Feature 0f0f… (ECS)")] {
            let sent = RpcEntry { plugin: 0, ..rpc(Outcome::Sent, Some(9), action) };
            let open = Entry::Sent(sent, AnswerSlot::Open);
            let bytes = encoded(&open);
            assert_eq!(bytes[0], SENT_RPC);
            assert_eq!(format!("{:?}", decode(&bytes).unwrap()), format!("{open:?}"));
            assert_eq!(lines(&open), lines(&Entry::Listed(sent)));
            for outcome in answers {
                let answer = Answer { unix_micros: sent.unix_micros + 77, duration_us: 70, outcome };
                let mut filled = bytes.clone();
                let block = answer_block(answer.unix_micros, answer.duration_us, outcome).unwrap();
                filled[ANSWER_AT..ANSWER_AT + ANSWER_LEN].copy_from_slice(&block);
                assert_eq!(filled, encoded(&Entry::Sent(sent, AnswerSlot::Filled(answer))));
                let read = decode(&filled).unwrap();
                assert_eq!(format!("{read:?}"), format!("{:?}", Entry::Sent(sent, AnswerSlot::Filled(answer))));
                let answered = RpcEntry { unix_micros: answer.unix_micros, duration_us: 70, outcome, ..sent };
                assert_eq!(lines(&read), lines(&Entry::Listed(sent)) + &lines(&Entry::Listed(answered)));
            }
        }
        for not_an_answer in [Outcome::Denied("no"), Outcome::Sent, Outcome::Abandoned] {
            assert!(answer_block(1, 1, not_an_answer).is_none(), "{not_an_answer:?} gets an entry of its own");
        }
    }

    #[test]
    fn a_damaged_answer_block_costs_the_answer_never_the_sent_line() {
        let sent = RpcEntry { plugin: 0, ..rpc(Outcome::Sent, Some(9), None) };
        let ok = Outcome::Ok { response_len: 16, status: Some(3), syndrome: None };
        let answer = Answer { unix_micros: 5, duration_us: 6, outcome: ok };
        let whole = encoded(&Entry::Sent(sent, AnswerSlot::Filled(answer)));
        for cut in 0..whole.len() {
            assert!(decode(&whole[..cut]).is_none(), "cut at {cut}");
        }
        let slot = |bytes: &[u8]| match decode(bytes) {
            Some(Entry::Sent(read, slot)) => {
                assert_eq!(format!("{read:?}"), format!("{sent:?}"), "the sent entry itself reads back");
                slot
            }
            other => panic!("not a sent entry: {other:?}"),
        };
        // Block bytes: filled (0), outcome (1), flags (2), status (27..31), syndrome (31..35).
        let at = |i: usize| ANSWER_AT + i;
        for (place, value) in [(at(0), 2), (at(1), 0xee), (at(1), SENT), (at(2), 0x80), (at(31), 1)] {
            let mut bad = whole.clone();
            bad[place] = value;
            assert_eq!(slot(&bad), AnswerSlot::Unreadable, "byte {place} set to {value:#x}");
        }
        let mut errno_with_flags = whole.clone();
        errno_with_flags[at(1)] = ERRNO;
        assert_eq!(slot(&errno_with_flags), AnswerSlot::Unreadable, "an errno carries no status");
        // Killed while filling it in: every byte but the first (stored last) is there.
        let mut half_filled = whole.clone();
        half_filled[at(0)] = 0;
        assert_eq!(slot(&half_filled), AnswerSlot::Open);
        let mut lines = Vec::new();
        let mut writer = LineWriter::default();
        writer.list(None);
        decode(&half_filled).unwrap().write_line(&mut writer, &mut lines);
        assert_eq!(lines.iter().filter(|&&b| b == b'\n').count(), 1, "the sent line alone");
        // A SENT_RPC entry is a sent RPC, whatever its body says.
        let mut not_sent = vec![SENT_RPC];
        not_sent.extend_from_slice(&[0; ANSWER_LEN]);
        encode_listed(&RpcEntry { plugin: 0, ..rpc(ok, Some(9), None) }, &mut not_sent);
        assert!(decode(&not_sent).is_none());
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
