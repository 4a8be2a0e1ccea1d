//! What a simulated CXL memory device is: its Features and their values.

use serde::Deserialize;

use fwctl_proto::cxl::Uuid;

/// The `[device.cxl]` table of a simulator profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CxlProfile {
    /// Whether the device supports Set Feature (the mailbox's feature capability is
    /// read-write); read-only devices refuse every Set with EINVAL.
    #[serde(default = "yes")]
    pub writable: bool,
    /// The Features, in the device's order (their index is the entry's `id`).
    #[serde(rename = "feature")]
    pub features: Vec<FeatureProfile>,
}

/// One Feature of the device.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureProfile {
    /// Its UUID, text form.
    pub uuid: String,
    /// What it is, for people reading the profile.
    #[serde(default)]
    pub name: Option<String>,
    /// Bytes Get Feature returns.
    pub get_size: u16,
    /// Bytes Set Feature takes (0: not settable).
    pub set_size: u16,
    /// Entry flags (bit 0 changeable, 3:1 persistence, 4 persists across firmware update,
    /// 5 default selection, 6 saved selection).
    pub flags: u32,
    /// Set Feature effects (CXL r3.x Table 8-117 bits).
    pub effects: u16,
    /// Get Feature version.
    #[serde(default = "one")]
    pub get_version: u8,
    /// Set Feature version (Set must name it).
    #[serde(default = "one")]
    pub set_version: u8,
    /// The current value, hex, bytes in wire order (`efbeadde` is the u32 0xdeadbeef).
    pub value: String,
    /// The default value (hex), when it differs from the current one.
    #[serde(default)]
    pub default: Option<String>,
}

fn yes() -> bool {
    true
}
fn one() -> u8 {
    1
}

/// A Feature ready for the device model.
#[derive(Clone, Debug)]
pub(super) struct Feature {
    pub uuid: Uuid,
    pub get_size: u16,
    pub set_size: u16,
    pub flags: u32,
    pub effects: u16,
    pub get_version: u8,
    pub set_version: u8,
    pub current: Vec<u8>,
    pub default: Vec<u8>,
    pub saved: Vec<u8>,
}

fn hex_bytes(text: &str, what: &str) -> Result<Vec<u8>, String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
    if text.len() % 2 != 0 {
        return Err(format!("{what}: odd number of hex digits"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("{what}: `{text}` is not hex")))
        .collect()
}

impl FeatureProfile {
    pub(super) fn build(&self) -> Result<Feature, String> {
        let uuid = Uuid::parse(&self.uuid).ok_or_else(|| format!("`{}` is not a UUID", self.uuid))?;
        let current = hex_bytes(&self.value, &format!("feature {}: value", self.uuid))?;
        if current.len() != self.get_size as usize {
            return Err(format!(
                "feature {}: value has {} bytes but get_size is {}",
                self.uuid,
                current.len(),
                self.get_size
            ));
        }
        let default = match &self.default {
            Some(text) => hex_bytes(text, &format!("feature {}: default", self.uuid))?,
            None => current.clone(),
        };
        if default.len() != current.len() {
            return Err(format!("feature {}: default and value differ in size", self.uuid));
        }
        Ok(Feature {
            uuid,
            get_size: self.get_size,
            set_size: self.set_size,
            flags: self.flags,
            effects: self.effects,
            get_version: self.get_version,
            set_version: self.set_version,
            saved: current.clone(),
            current,
            default,
        })
    }
}
