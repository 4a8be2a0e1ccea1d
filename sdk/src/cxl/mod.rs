//! CXL Features over fwctl.
//!
//! - this module: the little-endian `fwctl_rpc_cxl` envelope, mailbox return codes and
//!   [`Error`];
//! - [`FeatureEntry`] (from `entry`): a Get Supported Features entry, its flags and
//!   effects, and the rule for which scope a Set Feature needs;
//! - `commands`: Get Supported Features (paged by start index), Get Feature (paged by
//!   offset and count) and Set Feature;
//! - [`known`]: the Features with a published layout, by name, with decoders.
//!
//! ```no_run
//! use fwctl_sdk::cxl::{self, Selection};
//! # fn demo(device: &fwctl_sdk::Device) -> Result<(), cxl::Error> {
//! let features = cxl::get_supported_features(device)?;
//! let test = cxl::find_feature(&features, "cxl-test").expect("the mock's feature");
//! let value = cxl::read_feature(device, test, Selection::Current, cxl::DEFAULT_READ_CHUNK)?;
//! cxl::set_feature(device, test, 0, &[0xcd, 0xab, 0xcd, 0xab])?; // needs debug-write
//! # Ok(()) }
//! ```

use std::fmt;

use crate::RpcError;

/// Bytes of a Supported Features entry.
pub use fwctl_proto::cxl::FEAT_ENTRY as ENTRY_SIZE;
/// Bytes of the Get Supported Features reply header (`num_entries`, `supported_feats`).
pub use fwctl_proto::cxl::GET_SUP_FEATS_OUT_HEADER as SUPPORTED_HEADER;
/// Where the out payload starts (`offsetof(struct fwctl_rpc_cxl_out, payload)`).
use fwctl_proto::cxl::OUT_PAYLOAD;
/// Bytes of `struct fwctl_rpc_cxl`'s header (opcode, flags, op_size, reserved).
pub use fwctl_proto::cxl::RPC_HEADER as IN_HEADER;
/// Mailbox opcodes, and `sizeof(struct fwctl_rpc_cxl_out)`: what the kernel adds to the
/// payload size in `out_len`, and so the room to give beyond the payload.
pub use fwctl_proto::cxl::{GET_FEATURE, GET_SUPPORTED_FEATURES, OUT_STRUCT, SET_FEATURE};

/// The name of a CXL mailbox return code (CXL r3.x "Command Return Codes", in the
/// kernel's `CXL_MBOX_CMD_RC_*` order).
pub fn return_code_name(retval: u32) -> &'static str {
    fwctl_proto::cxl::rc::name(retval)
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

mod commands;
mod entry;
pub mod known;

pub use self::commands::{
    DEFAULT_PAGE_ENTRIES, DEFAULT_READ_CHUNK, SET_HEADER, Selection, find_feature, get_feature, get_feature_payload,
    get_supported_features, get_supported_features_page, read_feature, set_feature, set_feature_payload,
    supported_features,
};
pub use self::entry::{
    BACKGROUND_EFFECT, EFFECT_NAMES, FeatureEntry, IMMEDIATE_EFFECTS, Persistence, RESERVED_EFFECTS, RESET_EFFECTS,
    SupportedFeatures,
};

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
    /// The Feature cannot be read with this selection (its flags say so).
    SelectionUnsupported(Selection),
    /// The Feature cannot be set through fwctl: `kernel-owned`, `not-changeable` or
    /// `refused-by-kernel` (see [`FeatureEntry::set_scope`]).
    NotSettable(&'static str),
    /// Set data that is empty or runs past the Feature's set size.
    OutOfRange {
        /// Where the data would start.
        offset: u16,
        /// How many bytes it has.
        len: usize,
        /// The Feature's set size.
        set_size: u16,
    },
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
            Self::SelectionUnsupported(s) => write!(f, "the Feature has no {s} value to read"),
            Self::NotSettable(why) => write!(f, "the Feature cannot be set through fwctl ({why})"),
            Self::OutOfRange { offset, len, set_size } => {
                write!(f, "{len} byte(s) at offset {offset} do not fit the Feature's {set_size}-byte set size")
            }
        }
    }
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

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
