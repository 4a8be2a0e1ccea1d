//! CXL Feature identity: UUIDs in wire order, and the Features the kernel owns.

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

#[cfg(test)]
mod tests {
    use super::*;

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
