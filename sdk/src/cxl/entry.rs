//! A Get Supported Features entry: what a Feature is, how it may be read, and what
//! setting it would take.

use std::fmt;

use super::{ENTRY_SIZE, SUPPORTED_HEADER, Selection, Uuid, kernel_owned_name};
use crate::Scope;

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
pub const IMMEDIATE_EFFECTS: u16 = fwctl_proto::cxl::effects::IMMEDIATE;
/// Effects bits 0, 10, 11: the change lands after a reset.
pub const RESET_EFFECTS: u16 = fwctl_proto::cxl::effects::RESET;
/// Effects bit 6: the Set runs in the background (the kernel refuses those).
pub const BACKGROUND_EFFECT: u16 = fwctl_proto::cxl::effects::BACKGROUND;
/// Effects bits 12–15: reserved (the kernel refuses a Set when any is set).
pub const RESERVED_EFFECTS: u16 = fwctl_proto::cxl::effects::RESERVED;

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
        fwctl_proto::cxl::set_feature_scope(self.effects).ok_or("refused-by-kernel")
    }
}
