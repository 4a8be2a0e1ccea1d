//! Pluggable module memory: where a QSFP-class module keeps its identity, its monitors
//! (temperature, supply voltage, and per lane Rx power, Tx power and Tx bias) and the
//! alarm and warning thresholds of each, and in what units. Shared by the simulator, which
//! lays the bytes out, and the SDK, which reads them back through MCIA.
//!
//! Two memory maps cover the modules ConnectX cages take:
//! - SFF-8636 rev 2.10a (QSFP, QSFP+, QSFP28), I²C address A0h: lower page 00h bytes
//!   22–23 temperature, 26–27 Vcc, 34–41 Rx power, 42–49 Tx bias and 50–57 Tx power of
//!   lanes 1–4; upper page 00h the vendor name (148–163), part number (168–183) and serial
//!   number (196–211); upper page 03h the thresholds (temperature 128, Vcc 144, Rx power
//!   176, Tx bias 184, Tx power 192).
//! - CMIS rev 5 (QSFP-DD, OSFP, QSFP112, DSFP): page 00h the vendor name (129–144), part
//!   number (148–163) and serial number (166–181); page 02h the thresholds (temperature
//!   128, Vcc 136, Tx power 176, Tx bias 184, Rx power 192); page 11h (bank 0) the lane
//!   monitors of lanes 1–8: Tx power 154–169, Tx bias 170–185, Rx power 186–201. Its
//!   lower-memory monitors (14–17) are not read: those bytes are SFF-8636's latched flags,
//!   and the host, which cannot tell the two maps apart, does not vouch for reading them.
//!
//! Units, both maps: temperature a signed 1/256 °C, Vcc 100 µV, optical power 0.1 µW and
//! Tx bias 2 µA, each a big-endian 16-bit word. Every threshold block is four words: high
//! alarm, low alarm, high warning, low warning. (CMIS scales Tx bias by a factor page 01h
//! advertises; modules that use one other than 1 are read as if it were 1.)

/// Where in a module's memory: the upper page (`None` for lower memory, bytes 0–127) and
/// the byte offset (0–255).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// Page select for bytes 128–255; `None` for lower memory.
    pub page: Option<u8>,
    /// Byte offset.
    pub offset: u16,
}

const fn lower(offset: u16) -> At {
    At { page: None, offset }
}

const fn page(page: u8, offset: u16) -> At {
    At { page: Some(page), offset }
}

/// Where one module type keeps what a diagnostic reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    /// `SFF-8636` or `CMIS`.
    pub name: &'static str,
    /// Lanes with monitors.
    pub lanes: usize,
    /// Vendor name, part number and serial number: 16 ASCII bytes each, space-padded.
    pub vendor_name: At,
    /// See [`Self::vendor_name`].
    pub part_number: At,
    /// See [`Self::vendor_name`].
    pub serial_number: At,
    /// Supply voltage monitor, where the host may read it.
    pub vcc: Option<At>,
    /// First lane's Rx power; the others follow, a word each.
    pub rx_power: At,
    /// First lane's Tx power.
    pub tx_power: At,
    /// First lane's Tx bias.
    pub tx_bias: At,
    /// Threshold blocks.
    pub thresholds: ThresholdsAt,
}

/// Where each quantity's four threshold words start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThresholdsAt {
    /// Module temperature.
    pub temperature: At,
    /// Supply voltage.
    pub vcc: At,
    /// Rx power.
    pub rx_power: At,
    /// Tx power.
    pub tx_power: At,
    /// Tx bias.
    pub tx_bias: At,
}

/// SFF-8636: QSFP, QSFP+, QSFP28.
pub const SFF_8636: MemoryMap = MemoryMap {
    name: "SFF-8636",
    lanes: 4,
    vendor_name: page(0x00, 148),
    part_number: page(0x00, 168),
    serial_number: page(0x00, 196),
    vcc: Some(lower(26)),
    rx_power: lower(34),
    tx_bias: lower(42),
    tx_power: lower(50),
    thresholds: ThresholdsAt {
        temperature: page(0x03, 128),
        vcc: page(0x03, 144),
        rx_power: page(0x03, 176),
        tx_bias: page(0x03, 184),
        tx_power: page(0x03, 192),
    },
};

/// CMIS with 8 lanes (QSFP-DD, OSFP).
pub const CMIS_8: MemoryMap = MemoryMap {
    name: "CMIS",
    lanes: 8,
    vendor_name: page(0x00, 129),
    part_number: page(0x00, 148),
    serial_number: page(0x00, 166),
    vcc: None,
    tx_power: page(0x11, 154),
    tx_bias: page(0x11, 170),
    rx_power: page(0x11, 186),
    thresholds: ThresholdsAt {
        temperature: page(0x02, 128),
        vcc: page(0x02, 136),
        tx_power: page(0x02, 176),
        tx_bias: page(0x02, 184),
        rx_power: page(0x02, 192),
    },
};

/// CMIS with 4 lanes (QSFP112).
pub const CMIS_4: MemoryMap = MemoryMap { lanes: 4, ..CMIS_8 };

/// CMIS with 2 lanes (DSFP).
pub const CMIS_2: MemoryMap = MemoryMap { lanes: 2, ..CMIS_8 };

/// The memory map of a module by its SFF-8024 identifier (byte 0); `None` for SFP
/// (SFF-8472, one lane, not read here) and identifiers this list does not know.
pub fn memory_map(identifier: u8) -> Option<&'static MemoryMap> {
    match identifier {
        0x0c | 0x0d | 0x11 => Some(&SFF_8636),
        0x18 | 0x19 => Some(&CMIS_8),
        0x1e => Some(&CMIS_4),
        0x1b => Some(&CMIS_2),
        _ => None,
    }
}

/// A monitor word in °C.
pub fn celsius(word: [u8; 2]) -> f64 {
    f64::from(i16::from_be_bytes(word)) / 256.0
}

/// A monitor word in volts.
pub fn volts(word: [u8; 2]) -> f64 {
    f64::from(u16::from_be_bytes(word)) * 100e-6
}

/// An optical power word in watts.
pub fn watts(word: [u8; 2]) -> f64 {
    f64::from(u16::from_be_bytes(word)) * 0.1e-6
}

/// A Tx bias word in amperes.
pub fn amperes(word: [u8; 2]) -> f64 {
    f64::from(u16::from_be_bytes(word)) * 2e-6
}

/// The word for a temperature, saturating.
pub fn celsius_word(celsius: f64) -> [u8; 2] {
    ((celsius * 256.0).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16).to_be_bytes()
}

/// The word for a voltage, saturating.
pub fn volts_word(volts: f64) -> [u8; 2] {
    unsigned_word(volts / 100e-6)
}

/// The word for an optical power, saturating.
pub fn watts_word(watts: f64) -> [u8; 2] {
    unsigned_word(watts / 0.1e-6)
}

/// The word for a Tx bias, saturating.
pub fn amperes_word(amperes: f64) -> [u8; 2] {
    unsigned_word(amperes / 2e-6)
}

fn unsigned_word(units: f64) -> [u8; 2] {
    (units.round().clamp(0.0, f64::from(u16::MAX)) as u16).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_at_the_resolution_the_standards_give() {
        assert_eq!(celsius(celsius_word(-5.5)), -5.5);
        assert_eq!(celsius([0x19, 0x80]), 25.5);
        assert!((volts(volts_word(3.3)) - 3.3).abs() < 1e-9);
        assert_eq!(u16::from_be_bytes(watts_word(1e-3)), 10_000, "1 mW is 10,000 units of 0.1 µW");
        assert_eq!(u16::from_be_bytes(amperes_word(8e-3)), 4_000, "8 mA is 4,000 units of 2 µA");
        assert_eq!(watts_word(1.0), [0xff, 0xff], "saturates");
    }

    #[test]
    fn each_identifier_has_the_map_of_its_standard() {
        assert_eq!(memory_map(0x11).map(|m| (m.name, m.lanes)), Some(("SFF-8636", 4)));
        assert_eq!(memory_map(0x19).map(|m| (m.name, m.lanes)), Some(("CMIS", 8)));
        assert_eq!(memory_map(0x1e).map(|m| m.lanes), Some(4));
        assert_eq!(memory_map(0x03), None, "SFP is SFF-8472");
        // The lane monitors fit the page they are on.
        for map in [&SFF_8636, &CMIS_8] {
            for at in [map.rx_power, map.tx_power, map.tx_bias] {
                assert!(usize::from(at.offset) + 2 * map.lanes <= 256);
            }
        }
    }
}
