//! CXL Features over fwctl: the little-endian envelope, Supported Feature entries, and
//! Get Feature, with the rules for which scope a Set Feature needs.

use std::fmt;

use crate::{Device, RpcError, Scope};

/// Get Supported Features.
pub const GET_SUPPORTED_FEATURES: u16 = 0x0500;
/// Get Feature.
pub const GET_FEATURE: u16 = 0x0501;
/// Set Feature.
pub const SET_FEATURE: u16 = 0x0502;

/// Bytes of a Supported Features entry.
pub const ENTRY_SIZE: usize = 48;
/// Bytes of the Get Supported Features reply header (`num_entries`, `supported_feats`).
pub const SUPPORTED_HEADER: usize = 8;
/// Bytes of `struct fwctl_rpc_cxl`'s header (opcode, flags, op_size, reserved).
pub const IN_HEADER: usize = 16;
/// `sizeof(struct fwctl_rpc_cxl_out)`: what the kernel adds to the payload size in
/// `out_len`, and so the room to give beyond the payload.
pub const OUT_STRUCT: usize = 16;
/// Where the out payload starts (`offsetof(struct fwctl_rpc_cxl_out, payload)`).
const OUT_PAYLOAD: usize = 8;
/// Supported Features entries asked for per call by [`get_supported_features`].
pub const DEFAULT_PAGE_ENTRIES: u16 = 16;

/// The name of a CXL mailbox return code (CXL r3.x "Command Return Codes", in the
/// kernel's `CXL_MBOX_CMD_RC_*` order).
pub fn return_code_name(retval: u32) -> &'static str {
    const NAMES: [&str; 31] = [
        "success",
        "background command started",
        "invalid input",
        "unsupported",
        "internal error",
        "retry required",
        "busy",
        "media disabled",
        "firmware transfer in progress",
        "firmware transfer out of order",
        "firmware verification failed",
        "invalid slot",
        "activation failed, firmware rolled back",
        "activation failed, cold reset required",
        "invalid handle",
        "invalid physical address",
        "inject poison limit reached",
        "permanent media failure",
        "aborted",
        "invalid security state",
        "incorrect passphrase",
        "unsupported mailbox or CCI",
        "invalid payload length",
        "invalid log",
        "interrupted",
        "unsupported feature version",
        "unsupported feature selection value",
        "feature transfer in progress",
        "feature transfer out of order",
        "resources exhausted",
        "invalid extent list",
    ];
    NAMES.get(retval as usize).copied().unwrap_or("unknown")
}

/// Builds `struct fwctl_rpc_cxl` around a payload.
pub fn request(opcode: u16, payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(16 + payload.len());
    r.extend_from_slice(&(opcode as u32).to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes()); // flags
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes()); // reserved
    r.extend_from_slice(payload);
    r
}

/// A decoded `struct fwctl_rpc_cxl_out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The mailbox return code (0 success).
    pub retval: u32,
    /// The payload (`size` bytes, cut to what was received).
    pub payload: Vec<u8>,
}

/// Decodes the out envelope; `None` when shorter than its 8-byte header.
pub fn reply(out: &[u8]) -> Option<Reply> {
    let size = u32::from_le_bytes(out.get(0..4)?.try_into().ok()?) as usize;
    let retval = u32::from_le_bytes(out.get(4..8)?.try_into().ok()?);
    let end = (OUT_PAYLOAD + size).min(out.len());
    Some(Reply { retval, payload: out[OUT_PAYLOAD..end].to_vec() })
}

pub use fwctl_proto::cxl::{KERNEL_OWNED, Uuid, kernel_owned_name};

/// One page of a Get Supported Features reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportedFeatures {
    /// Total Features on the device, kernel-owned ones included (`supported_feats`).
    pub supported: u16,
    /// The entries of this page (`num_entries` of them).
    pub entries: Vec<FeatureEntry>,
}

impl SupportedFeatures {
    /// Decodes the reply payload (after the `fwctl_rpc_cxl_out` header): the 8-byte
    /// header then `num_entries` entries of 48 bytes. `None` when it is shorter than it
    /// says.
    pub fn decode(payload: &[u8]) -> Option<Self> {
        let header = payload.get(..SUPPORTED_HEADER)?;
        let count = u16::from_le_bytes([header[0], header[1]]) as usize;
        let supported = u16::from_le_bytes([header[2], header[3]]);
        let entries = (0..count)
            .map(|i| payload.get(SUPPORTED_HEADER + i * ENTRY_SIZE..).and_then(FeatureEntry::decode))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { supported, entries })
    }
}

/// How deep a reset a Feature's setting survives (flags bits 3:1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Lost on any reset (0).
    None,
    /// Survives a CXL reset (1).
    CxlReset,
    /// Survives a hot reset (2).
    HotReset,
    /// Survives a warm reset (3).
    WarmReset,
    /// Survives a cold reset (4).
    ColdReset,
    /// A reserved encoding (5–7).
    Reserved(u8),
}

impl Persistence {
    /// `none`, `cxl-reset`, `hot-reset`, `warm-reset`, `cold-reset` or `reserved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::CxlReset => "cxl-reset",
            Self::HotReset => "hot-reset",
            Self::WarmReset => "warm-reset",
            Self::ColdReset => "cold-reset",
            Self::Reserved(_) => "reserved",
        }
    }
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Set-effects bits and their names (CXL r3.x, Get Supported Features entry).
pub const EFFECT_NAMES: &[(u16, &str)] = &[
    (1 << 0, "config-change-after-cold-reset"),
    (1 << 1, "immediate-config-change"),
    (1 << 2, "immediate-data-change"),
    (1 << 3, "immediate-policy-change"),
    (1 << 4, "immediate-log-change"),
    (1 << 5, "security-state-change"),
    (1 << 6, "background-operation"),
    (1 << 7, "abort-supported"),
    (1 << 9, "effects-valid"),
    (1 << 10, "config-change-after-conventional-reset"),
    (1 << 11, "config-change-after-cxl-reset"),
];

/// One Supported Features entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureEntry {
    /// The Feature's UUID.
    pub uuid: Uuid,
    /// Its index on the device.
    pub id: u16,
    /// Bytes Get Feature returns.
    pub get_size: u16,
    /// Bytes Set Feature takes (0: not settable here).
    pub set_size: u16,
    /// Flags.
    pub flags: u32,
    /// Get version.
    pub get_version: u8,
    /// Set version.
    pub set_version: u8,
    /// Set effects.
    pub effects: u16,
}

/// Effects bits 1–4: the change is immediate.
pub const IMMEDIATE_EFFECTS: u16 = 0b1_1110;
/// Effects bits 0, 10, 11: the change lands after a reset.
pub const RESET_EFFECTS: u16 = 1 | 1 << 10 | 1 << 11;
/// Effects bit 6: the Set runs in the background (the kernel refuses those).
pub const BACKGROUND_EFFECT: u16 = 1 << 6;
/// Effects bits 12–15: reserved (the kernel refuses a Set when any is set).
pub const RESERVED_EFFECTS: u16 = 0xf000;

impl FeatureEntry {
    /// Decodes a 48-byte entry.
    pub fn decode(e: &[u8]) -> Option<Self> {
        let e = e.get(..ENTRY_SIZE)?;
        let u16_at = |at: usize| u16::from_le_bytes([e[at], e[at + 1]]);
        Some(Self {
            uuid: Uuid(e[0..16].try_into().ok()?),
            id: u16_at(16),
            get_size: u16_at(18),
            set_size: u16_at(20),
            flags: u32::from_le_bytes(e[22..26].try_into().ok()?),
            get_version: e[26],
            set_version: e[27],
            effects: u16_at(28),
        })
    }

    /// Flag bit 0.
    pub fn changeable(&self) -> bool {
        self.flags & 1 != 0
    }
    /// Flag bit 5.
    pub fn default_selection(&self) -> bool {
        self.flags & (1 << 5) != 0
    }
    /// Flag bit 6.
    pub fn saved_selection(&self) -> bool {
        self.flags & (1 << 6) != 0
    }
    /// Flag bit 4.
    pub fn persists_across_fw_update(&self) -> bool {
        self.flags & (1 << 4) != 0
    }
    /// Flag bits 3:1: the deepest reset the setting survives.
    pub fn persistence(&self) -> Persistence {
        match (self.flags >> 1) & 0x7 {
            0 => Persistence::None,
            1 => Persistence::CxlReset,
            2 => Persistence::HotReset,
            3 => Persistence::WarmReset,
            4 => Persistence::ColdReset,
            n => Persistence::Reserved(n as u8),
        }
    }
    /// Whether Get Feature can read `selection` ([`Selection::Current`] always).
    pub fn supports_selection(&self, selection: Selection) -> bool {
        match selection {
            Selection::Current => true,
            Selection::Default => self.default_selection(),
            Selection::Saved => self.saved_selection(),
        }
    }
    /// A Set takes effect at once (effects bits 1–4).
    pub fn immediate_effects(&self) -> bool {
        self.effects & IMMEDIATE_EFFECTS != 0
    }
    /// A Set takes effect after a reset (effects bits 0, 10, 11).
    pub fn reset_effects(&self) -> bool {
        self.effects & RESET_EFFECTS != 0
    }
    /// The names of the effects bits set, in bit order (see [`EFFECT_NAMES`]).
    pub fn effect_names(&self) -> Vec<&'static str> {
        EFFECT_NAMES.iter().filter(|(bit, _)| self.effects & bit != 0).map(|(_, name)| *name).collect()
    }
    /// The kernel's name for a Feature it keeps for itself, else `None`.
    pub fn kernel_owned_name(&self) -> Option<&'static str> {
        kernel_owned_name(&self.uuid)
    }

    /// The scope a Set Feature needs (the kernel's `cxlctl_validate_set_features`), or why
    /// it cannot be set at all: `kernel-owned`, `not-changeable`, or `refused-by-kernel`
    /// (reserved or background effects, or neither an immediate nor a reset effect).
    pub fn set_scope(&self) -> Result<Scope, &'static str> {
        if kernel_owned_name(&self.uuid).is_some() {
            return Err("kernel-owned");
        }
        if !self.changeable() || self.set_size == 0 {
            return Err("not-changeable");
        }
        if self.effects & (RESERVED_EFFECTS | BACKGROUND_EFFECT) != 0 {
            return Err("refused-by-kernel");
        }
        if self.immediate_effects() {
            Ok(Scope::DebugWriteFull)
        } else if self.reset_effects() {
            Ok(Scope::DebugWrite)
        } else {
            Err("refused-by-kernel")
        }
    }
}

/// Why a CXL operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The RPC failed.
    Rpc(RpcError),
    /// The device returned a mailbox code.
    Device {
        /// The opcode.
        opcode: u16,
        /// The return code.
        retval: u32,
    },
    /// The reply was shorter than its envelope says.
    Malformed(&'static str),
    /// Get Feature returned no data, with a success code.
    NoData,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rpc(e) => e.fmt(f),
            Self::Device { opcode, retval } => {
                write!(f, "device returned {} ({retval:#x}) for opcode {opcode:#06x}", return_code_name(*retval))
            }
            Self::Malformed(what) => write!(f, "malformed reply: {what}"),
            Self::NoData => f.write_str("the device returned no data"),
        }
    }
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

/// Sends one CXL command at debug-read-only and checks its return code; returns the
/// reply payload. `payload_room` is the payload the caller can take.
fn command(device: &Device, opcode: u16, payload: &[u8], payload_room: usize) -> Result<Vec<u8>, Error> {
    let response = device.rpc(Scope::DebugReadOnly, &request(opcode, payload), OUT_STRUCT + payload_room)?;
    let r = reply(&response.data).ok_or(Error::Malformed("shorter than the 8-byte out header"))?;
    if r.retval != 0 {
        return Err(Error::Device { opcode, retval: r.retval });
    }
    Ok(r.payload)
}

/// One Get Supported Features call: up to `count` bytes of entries from `start`.
pub fn get_supported_features_page(device: &Device, count: u32, start: u16) -> Result<SupportedFeatures, Error> {
    let mut payload = count.to_le_bytes().to_vec();
    payload.extend_from_slice(&start.to_le_bytes());
    payload.extend_from_slice(&[0, 0]);
    let reply = command(device, GET_SUPPORTED_FEATURES, &payload, SUPPORTED_HEADER + count as usize)?;
    SupportedFeatures::decode(&reply).ok_or(Error::Malformed("fewer entry bytes than num_entries says"))
}

/// Get Supported Features, every entry (pages of [`DEFAULT_PAGE_ENTRIES`]).
pub fn get_supported_features(device: &Device) -> Result<Vec<FeatureEntry>, Error> {
    supported_features(device, DEFAULT_PAGE_ENTRIES)
}

/// Get Supported Features, every entry: sizes the list with `count` 0 (the 8-byte
/// header alone), then pages through it by start index, `page_entries` at a time
/// (the kernel answers `count / 48` entries at most).
pub fn supported_features(device: &Device, page_entries: u16) -> Result<Vec<FeatureEntry>, Error> {
    let total = get_supported_features_page(device, 0, 0)?.supported as usize;
    let mut entries = Vec::with_capacity(total);
    while entries.len() < total {
        let page = get_supported_features_page(device, page_entries.max(1) as u32 * ENTRY_SIZE as u32, entries.len() as u16)?;
        if page.entries.is_empty() {
            return Err(Error::Malformed("an empty page before the end of the list"));
        }
        entries.extend(page.entries);
    }
    entries.truncate(total);
    Ok(entries)
}

/// Which stored value Get Feature reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The value in effect.
    Current = 0,
    /// The manufacturer's default.
    Default = 1,
    /// The value saved across reset.
    Saved = 2,
}

/// The Get Feature input payload (21 bytes): UUID, offset, count, selection.
pub fn get_feature_payload(uuid: &Uuid, selection: Selection, offset: u16, count: u16) -> Vec<u8> {
    let mut payload = uuid.0.to_vec();
    payload.extend_from_slice(&offset.to_le_bytes());
    payload.extend_from_slice(&count.to_le_bytes());
    payload.push(selection as u8);
    payload
}

/// Get Feature: `count` bytes at `offset` of the selected value. A `count` beyond the
/// Feature's size makes the device return nothing with a failure code.
pub fn get_feature(device: &Device, uuid: &Uuid, selection: Selection, offset: u16, count: u16) -> Result<Vec<u8>, Error> {
    let data = command(device, GET_FEATURE, &get_feature_payload(uuid, selection, offset, count), count as usize)?;
    if data.is_empty() {
        return Err(Error::NoData);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_bytes(uuid: &str, flags: u32, effects: u16, set_size: u16) -> Vec<u8> {
        let mut e = vec![0u8; ENTRY_SIZE];
        e[..16].copy_from_slice(&Uuid::parse(uuid).unwrap().0);
        e[18..20].copy_from_slice(&4u16.to_le_bytes());
        e[20..22].copy_from_slice(&set_size.to_le_bytes());
        e[22..26].copy_from_slice(&flags.to_le_bytes());
        e[26] = 1;
        e[27] = 1;
        e[28..30].copy_from_slice(&effects.to_le_bytes());
        e
    }

    #[test]
    fn the_cxl_test_feature_needs_debug_write() {
        let e = FeatureEntry::decode(&entry_bytes("ffffffff-ffff-ffff-ffff-ffffffffffff", 0x61, 0x201, 4)).unwrap();
        assert_eq!((e.get_size, e.set_size, e.get_version, e.set_version), (4, 4, 1, 1));
        assert!(e.changeable() && e.default_selection() && e.saved_selection());
        assert_eq!(e.set_scope(), Ok(Scope::DebugWrite));
        assert_eq!(e.uuid.to_string(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
    }

    #[test]
    fn immediate_effects_need_debug_write_full_and_kernel_features_are_named() {
        let e = FeatureEntry::decode(&entry_bytes("7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e", 0x1, 0x208, 2)).unwrap();
        assert_eq!(e.set_scope(), Ok(Scope::DebugWriteFull));
        let scrub = FeatureEntry::decode(&entry_bytes("96dad7d6-fde8-482b-a733-75774e06db8a", 0, 0x203, 0)).unwrap();
        assert_eq!(scrub.set_scope(), Err("kernel-owned"));
        assert_eq!(kernel_owned_name(&scrub.uuid), Some("patrol-scrub"));
        let ro = FeatureEntry::decode(&entry_bytes("1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d", 0, 0x200, 0)).unwrap();
        assert_eq!(ro.set_scope(), Err("not-changeable"));
    }

    #[test]
    fn a_supported_features_reply_with_one_entry_decodes() {
        // The cxl_test mock's reply: out header (size 56, retval 0), then the payload.
        let mut out = vec![0u8; OUT_STRUCT + SUPPORTED_HEADER + ENTRY_SIZE];
        out[0..4].copy_from_slice(&56u32.to_le_bytes());
        let payload = &mut out[8..];
        payload[0..2].copy_from_slice(&1u16.to_le_bytes()); // num_entries
        payload[2..4].copy_from_slice(&1u16.to_le_bytes()); // supported_feats
        payload[8..56].copy_from_slice(&entry_bytes("ffffffff-ffff-ffff-ffff-ffffffffffff", 0x61, 0x201, 4));
        let rep = reply(&out).unwrap();
        assert_eq!((rep.retval, rep.payload.len()), (0, 56));
        let page = SupportedFeatures::decode(&rep.payload).unwrap();
        assert_eq!((page.supported, page.entries.len()), (1, 1));
        let e = &page.entries[0];
        assert_eq!((e.id, e.get_size, e.set_size, e.flags, e.effects), (0, 4, 4, 0x61, 0x201));
        assert_eq!(e.persistence(), Persistence::None);
        assert!(e.reset_effects() && !e.immediate_effects());
        assert_eq!(e.effect_names(), ["config-change-after-cold-reset", "effects-valid"]);
        assert!(e.supports_selection(Selection::Saved));

        // num_entries larger than the bytes present: refused, not a panic.
        assert_eq!(SupportedFeatures::decode(&rep.payload[..40]), None);
        // The sizing call: the header alone.
        let page = SupportedFeatures::decode(&[0, 0, 5, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((page.supported, page.entries.len()), (5, 0));
    }

    #[test]
    fn flags_give_persistence_and_return_codes_have_names() {
        let e = FeatureEntry::decode(&entry_bytes("7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e", 0x19, 0x0400, 2)).unwrap();
        assert_eq!((e.persistence(), e.persists_across_fw_update()), (Persistence::ColdReset, true));
        assert_eq!(e.set_scope(), Ok(Scope::DebugWrite));
        let bg = FeatureEntry::decode(&entry_bytes("7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e", 0x1, 0x0042, 2)).unwrap();
        assert_eq!(bg.set_scope(), Err("refused-by-kernel"));
        assert_eq!(return_code_name(0), "success");
        assert_eq!(return_code_name(2), "invalid input");
        assert_eq!(return_code_name(0x16), "invalid payload length");
        assert_eq!(return_code_name(0x1000), "unknown");
        let err = Error::Device { opcode: GET_FEATURE, retval: 2 };
        assert_eq!(err.to_string(), "device returned invalid input (0x2) for opcode 0x0501");
        assert_eq!(get_feature_payload(&Uuid([0xff; 16]), Selection::Saved, 1, 4)[16..], [1, 0, 4, 0, 2]);
    }

    #[test]
    fn envelopes_are_little_endian() {
        let r = request(GET_FEATURE, &[9; 21]);
        assert_eq!(&r[..12], &[0x01, 0x05, 0, 0, 0, 0, 0, 0, 21, 0, 0, 0]);
        let out = [4, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0];
        let rep = reply(&out).unwrap();
        assert_eq!((rep.retval, rep.payload), (0, vec![0xef, 0xbe, 0xad, 0xde]));
        assert_eq!(reply(&[0; 7]), None);
        assert_eq!(Uuid::parse("not-a-uuid"), None);
    }
}
