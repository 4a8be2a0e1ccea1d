//! Features with a published data layout: their names, and decoders for their values.
//!
//! The EDAC/RAS Features (CXL r3.2 §8.2.10.9.11 and §8.2.10.7.2) are kernel-owned: a
//! plugin may read and decode them, never set them. `cxl-test` is the vendor Feature of
//! the kernel's own CXL mock (`tools/testing/cxl`), a 32-bit little-endian word.

use super::Uuid;
use crate::Value;

/// One decoded field of a Feature value.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// A kebab-case name, e.g. `scrub-cycle-hours` or `fru0-threshold-count`.
    pub name: String,
    /// Its value.
    pub value: Value<'static>,
}

fn field(name: impl Into<String>, value: impl Into<Value<'static>>) -> Field {
    Field { name: name.into(), value: value.into() }
}

/// A Feature this SDK knows by name.
#[derive(Clone, Copy, Debug)]
pub struct KnownFeature {
    /// Short name, usable wherever a UUID is, e.g. `patrol-scrub`.
    pub name: &'static str,
    /// The UUID in text form.
    pub uuid_text: &'static str,
    /// Whether the kernel keeps it for itself (Set Feature → EPERM).
    pub kernel_owned: bool,
    /// Decodes a value read with Get Feature; `None` when it is too short for the layout.
    pub decode: fn(&[u8]) -> Option<Vec<Field>>,
}

impl KnownFeature {
    /// The UUID.
    pub fn uuid(&self) -> Uuid {
        // The table is checked by a unit test, so every entry parses.
        Uuid::parse(self.uuid_text).unwrap_or(Uuid([0; 16]))
    }
}

/// Every Feature known by name.
pub const KNOWN: &[KnownFeature] = &[
    KnownFeature {
        name: "patrol-scrub",
        uuid_text: "96dad7d6-fde8-482b-a733-75774e06db8a",
        kernel_owned: true,
        decode: patrol_scrub,
    },
    KnownFeature { name: "ecs", uuid_text: "e5b13f22-2328-4a14-b8ba-b9691e893386", kernel_owned: true, decode: ecs },
    KnownFeature {
        name: "soft-ppr",
        uuid_text: "892ba475-fad8-474e-9d3e-692c917568bb",
        kernel_owned: true,
        decode: ppr,
    },
    KnownFeature {
        name: "hard-ppr",
        uuid_text: "80ea4521-786f-4127-afb1-ec7459fb0e24",
        kernel_owned: true,
        decode: ppr,
    },
    KnownFeature {
        name: "cacheline-sparing",
        uuid_text: "96c33386-91dd-44c7-9ecb-fdaf6503bac4",
        kernel_owned: true,
        decode: sparing,
    },
    KnownFeature {
        name: "row-sparing",
        uuid_text: "450ebf67-b135-4f97-a498-c2d57f279bed",
        kernel_owned: true,
        decode: sparing,
    },
    KnownFeature {
        name: "bank-sparing",
        uuid_text: "78b79636-90ac-4b64-a4ef-faac5d18a863",
        kernel_owned: true,
        decode: sparing,
    },
    KnownFeature {
        name: "rank-sparing",
        uuid_text: "34dbaff5-0552-4281-8f76-da0b5e7a76a7",
        kernel_owned: true,
        decode: sparing,
    },
    KnownFeature {
        name: "cxl-test",
        uuid_text: "ffffffff-ffff-ffff-ffff-ffffffffffff",
        kernel_owned: false,
        decode: le_word,
    },
];

/// The known Feature with this UUID.
pub fn by_uuid(uuid: &Uuid) -> Option<&'static KnownFeature> {
    KNOWN.iter().find(|k| k.uuid() == *uuid)
}

/// The known Feature with this name.
pub fn by_name(name: &str) -> Option<&'static KnownFeature> {
    KNOWN.iter().find(|k| k.name == name)
}

/// Decodes a value of a known Feature; `None` for an unknown one or a short value.
pub fn decode(uuid: &Uuid, value: &[u8]) -> Option<Vec<Field>> {
    (by_uuid(uuid)?.decode)(value)
}

fn bit(byte: u32, n: u32) -> bool {
    byte >> n & 1 != 0
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Patrol scrub control, readable attributes (4 bytes): cycle capability, cycle
/// (current hours in bits 7:0, minimum in 15:8), flags (bit 0 enabled).
fn patrol_scrub(v: &[u8]) -> Option<Vec<Field>> {
    let cap = *v.first()? as u32;
    let cycle = le16(v, 1)?;
    let flags = *v.get(3)? as u32;
    Some(vec![
        field("cycle-changeable", bit(cap, 0)),
        field("realtime-report-capable", bit(cap, 1)),
        field("scrub-cycle-hours", cycle & 0xff),
        field("min-scrub-cycle-hours", cycle >> 8),
        field("enabled", bit(flags, 0)),
    ])
}

/// DDR5 ECS control, readable attributes: log capability (bits 1:0 entry type), then per
/// media FRU 4 bytes: capability (bit 0 real-time report), config (bits 2:0 threshold
/// index, bit 3 count mode), flags.
fn ecs(v: &[u8]) -> Option<Vec<Field>> {
    let log = *v.first()? as u32;
    let entry_type = match log & 0x3 {
        0 => "per-dram",
        1 => "per-memory-media-fru",
        _ => "reserved",
    };
    let mut fields = vec![field("log-entry-type", entry_type)];
    for (i, fru) in v[1..].chunks_exact(4).enumerate() {
        let config = le16(fru, 1)?;
        // Threshold indices 3/4/5 are 256/1024/4096 errors per gigabit (others reserved).
        let threshold: u32 = match config & 0x7 {
            3 => 256,
            4 => 1024,
            5 => 4096,
            _ => 0,
        };
        fields.push(field(format!("fru{i}-realtime-report-capable"), bit(fru[0] as u32, 0)));
        fields.push(field(format!("fru{i}-threshold-count"), threshold));
        fields.push(field(format!("fru{i}-count-mode"), if bit(config as u32, 3) { "codewords" } else { "rows" }));
    }
    Some(fields)
}

/// The 16-byte header shared by the repair Features: max latency, capability, mode,
/// class, subclass.
fn repair_header(v: &[u8]) -> Option<Vec<Field>> {
    let latency = *v.first()?;
    Some(vec![
        field("max-op-latency-code", latency),
        field("device-initiated-capable", bit(le16(v, 1)? as u32, 0)),
        field("device-initiated-enabled", bit(le16(v, 3)? as u32, 0)),
        field("op-class", *v.get(5)?),
        field("op-subclass", *v.get(6)?),
    ])
}

/// Soft/hard PPR: the repair header, then PPR flags, restriction flags, op mode.
fn ppr(v: &[u8]) -> Option<Vec<Field>> {
    let mut fields = repair_header(v)?;
    let flags = *v.get(16)? as u32;
    let restrictions = le16(v, 17)? as u32;
    fields.extend([
        field("dpa-supported", bit(flags, 0)),
        field("nibble-supported", bit(flags, 1)),
        field("media-accessible-during-repair", !bit(restrictions, 0)),
        field("data-retained-across-repair", !bit(restrictions, 2)),
    ]);
    Some(fields)
}

/// Memory sparing: the repair header, a reserved byte, restriction flags.
fn sparing(v: &[u8]) -> Option<Vec<Field>> {
    let mut fields = repair_header(v)?;
    let restrictions = le16(v, 17)? as u32;
    fields.extend([
        field("safe-when-in-use", bit(restrictions, 0)),
        field("hard-sparing-capable", bit(restrictions, 1)),
        field("soft-sparing-capable", bit(restrictions, 2)),
    ]);
    Some(fields)
}

/// The mock's vendor Feature: one 32-bit little-endian word.
fn le_word(v: &[u8]) -> Option<Vec<Field>> {
    let word = u32::from_le_bytes(v.get(..4)?.try_into().ok()?);
    Some(vec![field("value", format!("{word:#010x}"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(fields: &[Field]) -> Vec<(&str, &Value<'static>)> {
        fields.iter().map(|f| (f.name.as_str(), &f.value)).collect()
    }

    #[test]
    fn the_table_parses_and_agrees_with_the_kernel_owned_list() {
        for k in KNOWN {
            let uuid = Uuid::parse(k.uuid_text).unwrap_or_else(|| panic!("{} has a bad UUID", k.name));
            assert_eq!(super::super::kernel_owned_name(&uuid).is_some(), k.kernel_owned, "{}", k.name);
            assert_eq!(by_name(k.name).unwrap().uuid(), uuid);
        }
        assert_eq!(super::super::KERNEL_OWNED.len(), KNOWN.iter().filter(|k| k.kernel_owned).count());
    }

    #[test]
    fn patrol_scrub_decodes_cycle_and_enable() {
        // Capability: changeable; cycle 12 h, minimum 1 h; enabled.
        let f = decode(&by_name("patrol-scrub").unwrap().uuid(), &[0x01, 0x0c, 0x01, 0x01]).unwrap();
        assert_eq!(
            named(&f),
            [
                ("cycle-changeable", &Value::Boolean(true)),
                ("realtime-report-capable", &Value::Boolean(false)),
                ("scrub-cycle-hours", &Value::Unsigned(12)),
                ("min-scrub-cycle-hours", &Value::Unsigned(1)),
                ("enabled", &Value::Boolean(true)),
            ]
        );
        assert!(patrol_scrub(&[1, 2, 3]).is_none());
    }

    #[test]
    fn ecs_decodes_every_fru() {
        // Per-FRU log; FRU 0: threshold 1024, count rows; FRU 1: threshold 256, codewords.
        let f = ecs(&[0x01, 0x01, 0x04, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00]).unwrap();
        let f = named(&f);
        assert_eq!(f[0], ("log-entry-type", &Value::Text("per-memory-media-fru".into())));
        assert_eq!(f[2], ("fru0-threshold-count", &Value::Unsigned(1024)));
        assert_eq!(f[3], ("fru0-count-mode", &Value::Text("rows".into())));
        assert_eq!(f[5], ("fru1-threshold-count", &Value::Unsigned(256)));
        assert_eq!(f[6], ("fru1-count-mode", &Value::Text("codewords".into())));
    }

    #[test]
    fn repair_features_decode_their_flags() {
        let mut v = [0u8; 20];
        v[1] = 1; // device-initiated capable
        v[5] = 2; // class
        v[16] = 0b11; // DPA and nibble supported
        v[17] = 0b100; // data not retained
        let f = ppr(&v).unwrap();
        let f = named(&f);
        assert!(f.contains(&("device-initiated-capable", &Value::Boolean(true))));
        assert!(f.contains(&("op-class", &Value::Unsigned(2))));
        assert!(f.contains(&("nibble-supported", &Value::Boolean(true))));
        assert!(f.contains(&("data-retained-across-repair", &Value::Boolean(false))));
        assert!(f.contains(&("media-accessible-during-repair", &Value::Boolean(true))));
        let s = sparing(&v[..19]).unwrap();
        assert!(named(&s).contains(&("soft-sparing-capable", &Value::Boolean(true))));
        assert!(ppr(&v[..17]).is_none());
    }

    #[test]
    fn the_mock_feature_is_a_little_endian_word() {
        let f = decode(&Uuid([0xff; 16]), &[0xef, 0xbe, 0xad, 0xde]).unwrap();
        assert_eq!(named(&f), [("value", &Value::Text("0xdeadbeef".into()))]);
        assert!(decode(&Uuid([0x11; 16]), &[0; 4]).is_none());
    }
}
