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
/// Where the out payload starts (`offsetof(struct fwctl_rpc_cxl_out, payload)`).
const OUT_PAYLOAD: usize = 8;

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
const IMMEDIATE: u16 = 0b1_1110;
/// Effects bits 0, 10, 11: the change lands after a reset.
const RESET: u16 = 1 | 1 << 10 | 1 << 11;

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

    /// The scope a Set Feature needs (the kernel's `cxlctl_validate_set_features`), or why
    /// it cannot be set at all.
    pub fn set_scope(&self) -> Result<Scope, &'static str> {
        if kernel_owned_name(&self.uuid).is_some() {
            return Err("kernel-owned");
        }
        if !self.changeable() || self.set_size == 0 {
            return Err("not-changeable");
        }
        if self.effects & 0xf000 != 0 || self.effects & (1 << 6) != 0 {
            return Err("refused-by-kernel");
        }
        if self.effects & IMMEDIATE != 0 {
            Ok(Scope::DebugWriteFull)
        } else if self.effects & RESET != 0 {
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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rpc(e) => e.fmt(f),
            Self::Device { opcode, retval } => write!(f, "device returned code {retval:#x} for opcode {opcode:#06x}"),
            Self::Malformed(what) => write!(f, "malformed reply: {what}"),
        }
    }
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

/// Get Supported Features, all entries: sizes the list with `count` 0, then pages
/// through it by start index (the kernel answers `count / 48` entries at most).
pub fn supported_features(device: &Device, page_entries: u16) -> Result<Vec<FeatureEntry>, Error> {
    let ask = |count: u32, start: u16| -> Result<Vec<u8>, Error> {
        let mut payload = count.to_le_bytes().to_vec();
        payload.extend_from_slice(&start.to_le_bytes());
        payload.extend_from_slice(&[0, 0]);
        let capacity = 16 + 8 + count as usize;
        let response = device.rpc(Scope::DebugReadOnly, &request(GET_SUPPORTED_FEATURES, &payload), capacity)?;
        let r = reply(&response.data).ok_or(Error::Malformed("short header"))?;
        if r.retval != 0 {
            return Err(Error::Device { opcode: GET_SUPPORTED_FEATURES, retval: r.retval });
        }
        Ok(r.payload)
    };
    let header = ask(0, 0)?;
    let total = u16::from_le_bytes([*header.get(2).ok_or(Error::Malformed("no supported_feats"))?, header[3]]);
    let mut entries = Vec::with_capacity(total as usize);
    while entries.len() < total as usize {
        let page = ask(page_entries.max(1) as u32 * ENTRY_SIZE as u32, entries.len() as u16)?;
        let n = u16::from_le_bytes([page[0], page[1]]) as usize;
        if n == 0 {
            return Err(Error::Malformed("empty page before the end of the list"));
        }
        for i in 0..n {
            let e = page.get(8 + i * ENTRY_SIZE..).and_then(FeatureEntry::decode).ok_or(Error::Malformed("short entry"))?;
            entries.push(e);
        }
    }
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

/// Get Feature: `count` bytes at `offset` of the selected value.
pub fn get_feature(device: &Device, uuid: &Uuid, selection: Selection, offset: u16, count: u16) -> Result<Vec<u8>, Error> {
    let mut payload = uuid.0.to_vec();
    payload.extend_from_slice(&offset.to_le_bytes());
    payload.extend_from_slice(&count.to_le_bytes());
    payload.push(selection as u8);
    let response = device.rpc(Scope::DebugReadOnly, &request(GET_FEATURE, &payload), 16 + count as usize)?;
    let r = reply(&response.data).ok_or(Error::Malformed("short header"))?;
    if r.retval != 0 || r.payload.is_empty() {
        return Err(Error::Device { opcode: GET_FEATURE, retval: r.retval });
    }
    Ok(r.payload)
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
