//! CXL Features on the wire: the mailbox opcodes, the sizes of the packed structs of
//! `include/uapi/fwctl/cxl.h` (the ioctl envelope) and `include/uapi/cxl/features.h` (the
//! payloads), return codes, entry flags and Set Feature effects; Feature UUIDs in wire
//! order, and the Features the kernel owns. Written once for the simulator, the host and
//! the SDK.

use std::fmt;

/// A Feature UUID in wire order: the byte order of its text form (the kernel's
/// `UUID_INIT`), so `96dad7d6-...` travels as `96 da d7 d6 ...`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses the `8-4-4-4-12` text form.
    pub fn parse(text: &str) -> Option<Self> {
        let groups: Vec<&str> = text.split('-').collect();
        if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
            return None;
        }
        let hex = groups.concat();
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Features the kernel keeps for itself (EDAC/RAS, `is_cxl_feature_exclusive`): listed
/// with set size 0 and changeable cleared, and refused with EPERM on Set Feature.
pub const KERNEL_OWNED: &[(&str, &str)] = &[
    ("patrol-scrub", "96dad7d6-fde8-482b-a733-75774e06db8a"),
    ("ecs", "e5b13f22-2328-4a14-b8ba-b9691e893386"),
    ("soft-ppr", "892ba475-fad8-474e-9d3e-692c917568bb"),
    ("hard-ppr", "80ea4521-786f-4127-afb1-ec7459fb0e24"),
    ("cacheline-sparing", "96c33386-91dd-44c7-9ecb-fdaf6503bac4"),
    ("row-sparing", "450ebf67-b135-4f97-a498-c2d57f279bed"),
    ("bank-sparing", "78b79636-90ac-4b64-a4ef-faac5d18a863"),
    ("rank-sparing", "34dbaff5-0552-4281-8f76-da0b5e7a76a7"),
];

/// The name of a kernel-owned Feature, or `None` for any other.
pub fn kernel_owned_name(uuid: &Uuid) -> Option<&'static str> {
    KERNEL_OWNED.iter().find(|(_, text)| Uuid::parse(text).as_ref() == Some(uuid)).map(|(name, _)| *name)
}

/// Mailbox opcode of Get Supported Features (CXL r3.2 §8.2.9.6.1).
pub const GET_SUPPORTED_FEATURES: u16 = 0x0500;
/// Mailbox opcode of Get Feature (CXL r3.2 §8.2.9.6.2).
pub const GET_FEATURE: u16 = 0x0501;
/// Mailbox opcode of Set Feature (CXL r3.2 §8.2.9.6.3).
pub const SET_FEATURE: u16 = 0x0502;

/// `sizeof(struct fwctl_rpc_cxl_hdr)`: opcode, flags, op_size, reserved1.
pub const RPC_HEADER: usize = 16;
/// `offsetof(struct fwctl_rpc_cxl_out, payload)`: size and retval.
pub const OUT_PAYLOAD: usize = 8;
/// `sizeof(struct fwctl_rpc_cxl_out)`. The driver adds this, not [`OUT_PAYLOAD`], to the
/// payload length it reports, because the struct's union makes it 16 bytes.
pub const OUT_STRUCT: usize = 16;
/// `sizeof(struct cxl_mbox_get_sup_feats_in)`.
pub const GET_SUP_FEATS_IN: usize = 8;
/// `sizeof(struct cxl_mbox_get_sup_feats_out)` without entries.
pub const GET_SUP_FEATS_OUT_HEADER: usize = 8;
/// `sizeof(struct cxl_feat_entry)`.
pub const FEAT_ENTRY: usize = 48;
/// `sizeof(struct cxl_mbox_get_feat_in)`.
pub const GET_FEAT_IN: usize = 21;
/// `sizeof(struct cxl_mbox_set_feat_hdr)`.
pub const SET_FEAT_HEADER: usize = 32;

/// CXL mailbox command return codes (CXL r3.2 Table 8-34; the kernel's
/// `CMD_CMD_RC_TABLE` in `drivers/cxl/cxlmem.h` lists them in this order).
pub mod rc {
    /// Success.
    pub const SUCCESS: u16 = 0x00;
    /// Invalid Input.
    pub const INPUT: u16 = 0x02;
    /// Unsupported.
    pub const UNSUPPORTED: u16 = 0x03;
    /// Invalid Payload Length.
    pub const PAYLOADLEN: u16 = 0x16;
    /// Unsupported Feature Version.
    pub const FEATURE_VERSION: u16 = 0x19;
    /// Unsupported Feature Selection Value.
    pub const FEATURE_SELECTION: u16 = 0x1a;
    /// Feature Transfer in Progress.
    pub const FEATURE_TRANSFER_IN_PROGRESS: u16 = 0x1b;
    /// Feature Transfer Out of Order.
    pub const FEATURE_TRANSFER_OUT_OF_ORDER: u16 = 0x1c;

    /// The name of a return code (CXL r3.x "Command Return Codes", in the kernel's
    /// `CXL_MBOX_CMD_RC_*` order), `unknown` past the table.
    pub fn name(retval: u32) -> &'static str {
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
}

/// Supported Feature Entry attribute flags (`CXL_FEATURE_F_*`).
pub mod flags {
    /// The Feature is changeable.
    pub const CHANGEABLE: u32 = 1 << 0;
    /// Bits 3:1: the deepest reset the value persists across.
    pub const PERSISTENCE_MASK: u32 = 0b111 << 1;
    /// The value persists across a firmware update.
    pub const PERSIST_FW_UPDATE: u32 = 1 << 4;
    /// Get Feature supports selection 1 (default value).
    pub const DEFAULT_SELECTION: u32 = 1 << 5;
    /// Get Feature supports selection 2 (saved value).
    pub const SAVED_SELECTION: u32 = 1 << 6;
}

/// Set Feature effects bits (`CXL_CMD_*` in `include/uapi/cxl/features.h`).
pub mod effects {
    /// Configuration change after a cold reset.
    pub const CONFIG_CHANGE_COLD_RESET: u16 = 1 << 0;
    /// Immediate configuration change.
    pub const CONFIG_CHANGE_IMMEDIATE: u16 = 1 << 1;
    /// Immediate data change.
    pub const DATA_CHANGE_IMMEDIATE: u16 = 1 << 2;
    /// Immediate policy change.
    pub const POLICY_CHANGE_IMMEDIATE: u16 = 1 << 3;
    /// Immediate log change.
    pub const LOG_CHANGE_IMMEDIATE: u16 = 1 << 4;
    /// Security state change.
    pub const SECURITY_STATE_CHANGE: u16 = 1 << 5;
    /// The command runs in the background.
    pub const BACKGROUND: u16 = 1 << 6;
    /// A background run can be aborted.
    pub const BGCMD_ABORT_SUPPORTED: u16 = 1 << 7;
    /// The effects field is valid.
    pub const VALID: u16 = 1 << 9;
    /// Configuration change after a conventional reset.
    pub const CONFIG_CHANGE_CONV_RESET: u16 = 1 << 10;
    /// Configuration change after a CXL reset.
    pub const CONFIG_CHANGE_CXL_RESET: u16 = 1 << 11;
    /// Bits 15:12, which the driver does not understand.
    pub const RESERVED: u16 = 0xf000;
    /// Any effect that takes hold at once (needs debug-write-full).
    pub const IMMEDIATE: u16 =
        CONFIG_CHANGE_IMMEDIATE | DATA_CHANGE_IMMEDIATE | POLICY_CHANGE_IMMEDIATE | LOG_CHANGE_IMMEDIATE;
    /// Any effect that waits for a reset (debug-write suffices).
    pub const RESET: u16 = CONFIG_CHANGE_COLD_RESET | CONFIG_CHANGE_CONV_RESET | CONFIG_CHANGE_CXL_RESET;
}

/// The scope a Set Feature of a Feature with these Supported Feature Entry `effects`
/// needs (`cxlctl_validate_set_features()`), or `None` when the driver refuses it at any
/// scope: reserved effect bits, a background Set, or neither an immediate nor a reset
/// effect (which the kernel takes for a device bug).
pub fn set_feature_scope(set_effects: u16) -> Option<crate::uapi::Scope> {
    use crate::uapi::Scope;
    if set_effects & (effects::RESERVED | effects::BACKGROUND) != 0 {
        return None;
    }
    if set_effects & effects::IMMEDIATE != 0 {
        Some(Scope::DebugWriteFull)
    } else if set_effects & effects::RESET != 0 {
        Some(Scope::DebugWrite)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::Scope;

    #[test]
    fn a_set_needs_the_scope_its_effects_imply_and_some_effects_are_refused_outright() {
        assert_eq!(set_feature_scope(effects::CONFIG_CHANGE_COLD_RESET), Some(Scope::DebugWrite));
        assert_eq!(set_feature_scope(effects::DATA_CHANGE_IMMEDIATE | effects::RESET), Some(Scope::DebugWriteFull));
        assert_eq!(set_feature_scope(effects::CONFIG_CHANGE_IMMEDIATE | effects::BACKGROUND), None);
        assert_eq!(set_feature_scope(0x1000 | effects::CONFIG_CHANGE_COLD_RESET), None, "reserved bit 12");
        assert_eq!(set_feature_scope(effects::VALID), None, "neither immediate nor after a reset");
        assert_eq!((rc::name(0x1a), rc::name(99)), ("unsupported feature selection value", "unknown"));
    }

    #[test]
    fn uuids_round_trip_in_text_byte_order() {
        let u = Uuid::parse("96dad7d6-fde8-482b-a733-75774e06db8a").unwrap();
        assert_eq!(&u.0[..4], &[0x96, 0xda, 0xd7, 0xd6]);
        assert_eq!(u.to_string(), "96dad7d6-fde8-482b-a733-75774e06db8a");
        assert_eq!(kernel_owned_name(&u), Some("patrol-scrub"));
        assert_eq!(kernel_owned_name(&Uuid([0xff; 16])), None);
        for bad in ["", "96dad7d6fde8482ba73375774e06db8a", "96dad7d6-fde8-482b-a733-75774e06db8g"] {
            assert_eq!(Uuid::parse(bad), None, "{bad}");
        }
    }
}
