//! The `[device.cxl]` table of a simulator profile: the memory device's mailbox and its
//! Features, as the device itself reports them (the driver masks kernel-owned ones).
//!
//! ```toml
//! [device.cxl]
//! writable = true                 # Set Feature supported (feat_cap read-write)
//! mailbox_payload_size = 512      # bytes per mailbox transfer, 256..=1 MiB, a power of 2
//!
//! [[device.cxl.feature]]
//! name = "cxl_test vendor feature"
//! uuid = "ffffffff-ffff-ffff-ffff-ffffffffffff"
//! get_size = 4
//! set_size = 4
//! flags = 0x61
//! effects = 0x201
//! value = "efbeadde"              # wire order: the u32 0xdeadbeef
//! ```

use serde::Deserialize;

use fwctl_proto::cxl::Uuid;

use super::features::{Feature, Firmware};
use super::wire::{FeatEntry, flags};

/// The `[device.cxl]` table of a simulator profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CxlProfile {
    /// Whether the device supports Set Feature (`CXL_FEATURES_RW`); when false the driver
    /// refuses every Set Feature with EINVAL.
    #[serde(default = "yes")]
    pub writable: bool,
    /// The mailbox payload size in bytes (the Mailbox Capabilities register): the driver
    /// splits Get and Set Feature data into transfers of at most this size.
    #[serde(default = "default_payload_size")]
    pub mailbox_payload_size: usize,
    /// The Features, in the device's order (their index is the entry's `id`).
    #[serde(rename = "feature", default)]
    pub features: Vec<FeatureProfile>,
    /// Whose firmware answers: `specification` (the default), or `cxl-test-mock`, the
    /// kernel's own mock device, for the profile the kernel VM test holds to a real kernel.
    #[serde(default)]
    pub firmware: Firmware,
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
    /// Bytes Get Feature returns (`get_feat_size`).
    pub get_size: u16,
    /// Bytes Set Feature takes (`set_feat_size`); they overlay the leading bytes of the
    /// readable value, so at most `get_size`.
    pub set_size: u16,
    /// Attribute flags: bit 0 changeable, 3:1 persistence, 4 persists across firmware
    /// update, 5 default selection, 6 saved selection.
    pub flags: u32,
    /// Set Feature effects (bits 0 cold reset, 1–4 immediate, 6 background, 9 valid,
    /// 10 conventional reset, 11 CXL reset).
    pub effects: u16,
    /// Get Feature data version.
    #[serde(default = "one")]
    pub get_version: u8,
    /// Set Feature data version (a Set must name it).
    #[serde(default = "one")]
    pub set_version: u8,
    /// The current value, hex in wire byte order; whitespace and `_` are ignored.
    pub value: String,
    /// The default value (hex), when it differs from the current one.
    #[serde(default)]
    pub default: Option<String>,
    /// The saved value (hex), when it differs from the current one.
    #[serde(default)]
    pub saved: Option<String>,
}

fn yes() -> bool {
    true
}
fn one() -> u8 {
    1
}
fn default_payload_size() -> usize {
    // What cxl_test's mock mailbox advertises (SZ_4K).
    4096
}

fn hex_bytes(text: &str, what: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'_').collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{what}: odd number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("{what}: `{}` is not hex", String::from_utf8_lossy(pair)))
        })
        .collect()
}

impl CxlProfile {
    /// Checks the table and builds the device's Features, in index order.
    pub(super) fn build_features(&self) -> Result<Vec<Feature>, String> {
        let size = self.mailbox_payload_size;
        // CXL r3.2 §8.2.8.4.3: the payload size is 2^n bytes, n from 8 to 20.
        if !size.is_power_of_two() || !(256..=1 << 20).contains(&size) {
            return Err(format!("mailbox_payload_size {size} is not a power of 2 from 256 to 1048576"));
        }
        if self.features.len() > u16::MAX as usize {
            return Err(format!("{} Features; a device reports at most 65535", self.features.len()));
        }
        let mut built: Vec<Feature> = Vec::with_capacity(self.features.len());
        for (index, profile) in self.features.iter().enumerate() {
            let feature = profile.build(index as u16)?;
            if built.iter().any(|f| f.entry.uuid == feature.entry.uuid) {
                return Err(format!("feature {}: listed twice", profile.uuid));
            }
            built.push(feature);
        }
        Ok(built)
    }
}

impl FeatureProfile {
    fn build(&self, id: u16) -> Result<Feature, String> {
        let label = match &self.name {
            Some(name) => format!("feature {} ({name})", self.uuid),
            None => format!("feature {}", self.uuid),
        };
        let uuid = Uuid::parse(&self.uuid).ok_or_else(|| format!("`{}` is not a UUID", self.uuid))?;
        let current = hex_bytes(&self.value, &format!("{label}: value"))?;
        if current.len() != self.get_size as usize {
            return Err(format!("{label}: value has {} bytes but get_size is {}", current.len(), self.get_size));
        }
        if self.set_size > self.get_size {
            return Err(format!(
                "{label}: set_size {} exceeds get_size {} (set data overlays the readable value)",
                self.set_size, self.get_size
            ));
        }
        let other = |text: &Option<String>, what: &str| -> Result<Vec<u8>, String> {
            let Some(text) = text else { return Ok(current.clone()) };
            let bytes = hex_bytes(text, &format!("{label}: {what}"))?;
            if bytes.len() != current.len() {
                return Err(format!("{label}: {what} has {} bytes but get_size is {}", bytes.len(), self.get_size));
            }
            Ok(bytes)
        };
        let default = other(&self.default, "default")?;
        let saved = other(&self.saved, "saved")?;
        if self.flags & flags::CHANGEABLE == 0 && saved != current {
            return Err(format!("{label}: saved differs from value but the Feature is not changeable"));
        }
        Ok(Feature {
            entry: FeatEntry {
                uuid: uuid.0,
                id,
                get_feat_size: self.get_size,
                set_feat_size: self.set_size,
                flags: self.flags,
                get_feat_ver: self.get_version,
                set_feat_ver: self.set_version,
                effects: self.effects,
            },
            current,
            default,
            saved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> Result<CxlProfile, toml::de::Error> {
        toml::from_str(&format!(
            r#"
            {extra}
            [[feature]]
            uuid = "ffffffff-ffff-ffff-ffff-ffffffffffff"
            get_size = 4
            set_size = 4
            flags = 0x61
            effects = 0x201
            value = "ef be_ad de"
            "#
        ))
    }

    #[test]
    fn builds_features_with_defaults() {
        let features = profile("").unwrap().build_features().unwrap();
        assert_eq!(features.len(), 1);
        let f = &features[0];
        assert_eq!(f.current, [0xef, 0xbe, 0xad, 0xde]);
        assert_eq!((f.default.clone(), f.saved.clone()), (f.current.clone(), f.current.clone()));
        assert_eq!((f.entry.id, f.entry.get_feat_ver, f.entry.set_feat_ver), (0, 1, 1));
        assert_eq!(profile("").unwrap().mailbox_payload_size, 4096);
    }

    #[test]
    fn refuses_bad_tables_with_a_reason() {
        let err = |p: CxlProfile| p.build_features().unwrap_err();
        assert!(err(profile("mailbox_payload_size = 300").unwrap()).contains("power of 2"));
        assert!(err(profile("mailbox_payload_size = 128").unwrap()).contains("power of 2"));
        let mut p = profile("").unwrap();
        p.features.push(p.features[0].clone());
        assert!(err(p).contains("listed twice"));
        let mut p = profile("").unwrap();
        p.features[0].value = "efbead".into();
        assert!(err(p).contains("value has 3 bytes but get_size is 4"));
        let mut p = profile("").unwrap();
        p.features[0].value = "efbeadzz".into();
        assert!(err(p).contains("`zz` is not hex"));
        let mut p = profile("").unwrap();
        p.features[0].value = "efbeadd".into();
        assert!(err(p).contains("odd number"));
        let mut p = profile("").unwrap();
        p.features[0].set_size = 5;
        assert!(err(p).contains("exceeds get_size"));
        let mut p = profile("").unwrap();
        p.features[0].default = Some("00".into());
        assert!(err(p).contains("default has 1 bytes"));
        let mut p = profile("").unwrap();
        p.features[0].uuid = "not-a-uuid".into();
        assert!(err(p).contains("not a UUID"));
        assert!(profile("colour = 1").is_err(), "unknown keys are refused");
    }
}
