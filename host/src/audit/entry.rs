//! One journal entry: the facts of an audit line in a compact binary form (postcard),
//! made on the RPC's path by copying, and turned into the JSON line only when the journal
//! is flushed. Formatting JSON (and the time stamp) was half of what a record cost.

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
    /// checked once per journal, not twice per RPC. Last, so that older journals decode.
    Listed(#[serde(borrow)] RpcEntry<'a, u32>),
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
#[derive(Debug, Serialize, Deserialize)]
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
    /// Appends the entry's JSON line, newline included, to `out`; `false` (and nothing
    /// appended) when it names a plugin the writer's table does not hold.
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

/// Encodes `entry` (or a plugin identity for the journal's table) into `buffer` (cleared
/// first).
pub(super) fn encode(entry: &impl Serialize, buffer: &mut Vec<u8>) {
    buffer.clear();
    // postcard writes into any `Extend<u8>`; a Vec it has grown before is not grown again.
    let taken = std::mem::take(buffer);
    *buffer = postcard::to_extend(entry, taken).unwrap_or_default();
}

/// Decodes one entry (or a plugin identity of the journal's table); `None` when the bytes
/// are not one (a damaged journal).
pub(super) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}
