//! Access-register decoders (offsets relative to the register data, after the header).

use super::bits::{get, get_ascii};

/// MGIR register id and size.
pub const MGIR: u16 = 0x9020;
/// MGIR bytes.
pub const MGIR_SIZE: usize = 0xa0;
/// MTCAP register id.
pub const MTCAP: u16 = 0x9009;
/// MTMP register id.
pub const MTMP: u16 = 0x900a;
/// MTMP bytes.
pub const MTMP_SIZE: usize = 32;
/// PAOS register id.
pub const PAOS: u16 = 0x5006;
/// PAOS bytes.
pub const PAOS_SIZE: usize = 16;
/// PTYS register id.
pub const PTYS: u16 = 0x5004;
/// PTYS bytes.
pub const PTYS_SIZE: usize = 64;
/// MPEIN register id.
pub const MPEIN: u16 = 0x9050;
/// MPEIN bytes.
pub const MPEIN_SIZE: usize = 48;
/// MCAM register id.
pub const MCAM: u16 = 0x907f;
/// MCAM bytes.
pub const MCAM_SIZE: usize = 72;

/// MGIR: general information (firmware and hardware identity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mgir {
    /// PCI device id.
    pub device_id: u16,
    /// Hardware revision.
    pub hw_revision: u16,
    /// Firmware version `major.minor.subminor` (subminor four digits, as mstflint prints).
    pub fw_version: String,
    /// PSID.
    pub psid: String,
    /// Firmware is signed.
    pub signed_fw: bool,
}

impl Mgir {
    /// Decodes an MGIR image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            device_id: get(r, 0, 15, 0) as u16,
            hw_revision: get(r, 0, 31, 16) as u16,
            fw_version: format!("{}.{}.{:04}", get(r, 0x44 / 4, 31, 0), get(r, 0x48 / 4, 31, 0), get(r, 0x4c / 4, 31, 0)),
            psid: get_ascii(r, 0x30, 16),
            signed_fw: get(r, 8, 25, 25) == 1,
        }
    }
}

/// MTMP: one temperature sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Mtmp {
    /// Sensor index (0 ASIC, 64 + N module N).
    pub sensor: u16,
    /// Current temperature, °C.
    pub celsius: f64,
    /// Highest recorded, °C.
    pub max_celsius: f64,
    /// Warning threshold, °C.
    pub threshold_hi_celsius: f64,
    /// Sensor name.
    pub name: String,
}

/// MTMP's unit is 0.125 °C.
fn celsius(raw: u32) -> f64 {
    raw as f64 * 0.125
}

impl Mtmp {
    /// Decodes an MTMP image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            sensor: get(r, 0, 11, 0) as u16,
            celsius: celsius(get(r, 1, 15, 0)),
            max_celsius: celsius(get(r, 2, 15, 0)),
            threshold_hi_celsius: celsius(get(r, 3, 15, 0)),
            name: get_ascii(r, 24, 8),
        }
    }
}

/// PAOS: a port's administrative and operational status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paos {
    /// Local port.
    pub port: u8,
    /// 1 up, 2 down, 3 up once.
    pub admin_status: u8,
    /// 1 up, 2 down, 4 down by port failure.
    pub oper_status: u8,
}

impl Paos {
    /// Decodes a PAOS image.
    pub fn decode(r: &[u8]) -> Self {
        Self { port: get(r, 0, 23, 16) as u8, admin_status: get(r, 0, 11, 8) as u8, oper_status: get(r, 0, 3, 0) as u8 }
    }

    /// Administratively up.
    pub fn admin_up(&self) -> bool {
        matches!(self.admin_status, 1 | 3)
    }

    /// Link up.
    pub fn oper_up(&self) -> bool {
        self.oper_status == 1
    }
}

/// PTYS (Ethernet): supported and operational link modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ptys {
    /// Local port.
    pub port: u8,
    /// Extended Ethernet modes supported (bit = `enum mlx5e_ext_link_mode`).
    pub ext_capability: u32,
    /// Extended Ethernet mode in operation.
    pub ext_oper: u32,
    /// Legacy Ethernet mode in operation (bit = `enum mlx5e_link_mode`).
    pub legacy_oper: u32,
}

impl Ptys {
    /// Decodes a PTYS image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            port: get(r, 0, 23, 16) as u8,
            ext_capability: get(r, 2, 31, 0),
            ext_oper: get(r, 8, 31, 0),
            legacy_oper: get(r, 9, 31, 0),
        }
    }

    /// The operating speed, e.g. `400G (4 lanes)`, or `None` when no mode is active.
    pub fn speed(&self) -> Option<String> {
        let bit = (0..32).find(|b| self.ext_oper & (1 << b) != 0)?;
        ext_mode_name(bit).map(str::to_string)
    }

    /// Gb/s of the operating mode.
    pub fn speed_gbps(&self) -> Option<u32> {
        let bit = (0..32).find(|b| self.ext_oper & (1 << b) != 0)?;
        ext_mode_name(bit).and_then(|n| n.split('G').next()?.parse().ok())
    }
}

/// Human names of `enum mlx5e_ext_link_mode` bits.
pub fn ext_mode_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0 => "100M (SGMII)",
        1 => "1G",
        3 => "5G",
        4 => "10G (1 lane)",
        5 => "40G (4 lanes)",
        6 => "25G (1 lane)",
        7 => "50G (2 lanes)",
        8 => "50G (1 lane)",
        9 => "100G (4 lanes)",
        10 => "100G (2 lanes)",
        11 => "100G (1 lane)",
        12 => "200G (4 lanes)",
        13 => "200G (2 lanes)",
        14 => "200G (1 lane)",
        15 => "400G (8 lanes)",
        16 => "400G (4 lanes)",
        17 => "400G (2 lanes)",
        19 => "800G (8 lanes)",
        20 => "800G (4 lanes)",
        23 => "1600G (8 lanes)",
        _ => return None,
    })
}

/// MPEIN: the PCIe link as the device sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mpein {
    /// Lanes enabled.
    pub width_enabled: u8,
    /// Lanes trained.
    pub width_active: u8,
    /// Highest generation enabled.
    pub gen_enabled: u8,
    /// Generation trained.
    pub gen_active: u8,
    /// Max payload size, bytes.
    pub max_payload_bytes: u32,
}

/// The PCIe generation of the highest set bit of a MPEIN speed mask.
fn generation(mask: u32) -> u8 {
    match (0..32).rev().find(|b| mask & (1 << b) != 0) {
        Some(0) => 1,
        Some(1) => 2,
        Some(2) => 3,
        Some(bit) => bit as u8, // bit 4 Gen4, 5 Gen5, 6 Gen6
        None => 0,
    }
}

impl Mpein {
    /// Decodes an MPEIN image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            width_enabled: get(r, 2, 23, 16) as u8,
            width_active: get(r, 3, 23, 16) as u8,
            gen_enabled: generation(get(r, 2, 15, 0)),
            gen_active: generation(get(r, 3, 15, 0)),
            max_payload_bytes: 128 << get(r, 6, 27, 24),
        }
    }

    /// Trained below what is enabled, in width or speed.
    pub fn degraded(&self) -> bool {
        self.width_active < self.width_enabled || self.gen_active < self.gen_enabled
    }
}

/// MCAM/PCAM: which registers of a group the firmware implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessRegMask {
    base: u16,
    mask: [u32; 4],
}

impl AccessRegMask {
    /// Decodes an MCAM (`base` 0x9000) or PCAM (`base` 0x5000) image.
    pub fn decode(r: &[u8], base: u16) -> Self {
        Self { base, mask: std::array::from_fn(|i| get(r, 2 + i, 31, 0)) }
    }

    /// Whether register `id` is implemented; ids outside the group are not.
    pub fn supports(&self, id: u16) -> bool {
        let Some(n) = id.checked_sub(self.base).map(usize::from).filter(|n| *n < 128) else { return false };
        self.mask[3 - n / 32] & (1 << (n % 32)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::bits::set;

    #[test]
    fn mtmp_temperatures_are_eighths_of_a_degree() {
        let mut r = [0u8; MTMP_SIZE];
        set(&mut r, 1, 15, 0, 0x01e0); // 480 / 8 = 60 °C
        set(&mut r, 2, 15, 0, 0x0200);
        set(&mut r, 3, 15, 0, 105 * 8);
        r[24..28].copy_from_slice(b"ASIC");
        let t = Mtmp::decode(&r);
        assert_eq!((t.celsius, t.max_celsius, t.threshold_hi_celsius), (60.0, 64.0, 105.0));
        assert_eq!(t.name, "ASIC");
    }

    #[test]
    fn ptys_names_the_extended_mode() {
        let mut r = [0u8; PTYS_SIZE];
        set(&mut r, 8, 31, 0, 1 << 16);
        let p = Ptys::decode(&r);
        assert_eq!(p.speed().as_deref(), Some("400G (4 lanes)"));
        assert_eq!(p.speed_gbps(), Some(400));
        assert_eq!(Ptys::decode(&[0u8; PTYS_SIZE]).speed(), None);
    }

    #[test]
    fn paos_mpein_mgir_and_mcam_decode() {
        let mut paos = [0u8; PAOS_SIZE];
        set(&mut paos, 0, 11, 8, 1);
        set(&mut paos, 0, 3, 0, 2);
        let p = Paos::decode(&paos);
        assert!(p.admin_up() && !p.oper_up());

        let mut mpein = [0u8; MPEIN_SIZE];
        set(&mut mpein, 2, 23, 16, 16);
        set(&mut mpein, 2, 15, 0, 0b11_0111); // Gen1..Gen5
        set(&mut mpein, 3, 23, 16, 8);
        set(&mut mpein, 3, 15, 0, 1 << 5);
        set(&mut mpein, 6, 27, 24, 2);
        let m = Mpein::decode(&mpein);
        assert_eq!((m.width_enabled, m.width_active, m.gen_enabled, m.gen_active), (16, 8, 5, 5));
        assert_eq!(m.max_payload_bytes, 512);
        assert!(m.degraded());

        let mut mgir = [0u8; MGIR_SIZE];
        set(&mut mgir, 0, 15, 0, 0x1021);
        set(&mut mgir, 0x44 / 4, 31, 0, 28);
        set(&mut mgir, 0x48 / 4, 31, 0, 39);
        set(&mut mgir, 0x4c / 4, 31, 0, 1002);
        mgir[0x30..0x3d].copy_from_slice(b"MT_0000000834");
        let g = Mgir::decode(&mgir);
        assert_eq!((g.device_id, g.fw_version.as_str(), g.psid.as_str()), (0x1021, "28.39.1002", "MT_0000000834"));

        let mut mcam = [0u8; MCAM_SIZE];
        set(&mut mcam, 5, 10, 10, 1); // register 0x900a: n = 10 -> dword 3 - 0 = mask[3] = dw5
        let mask = AccessRegMask::decode(&mcam, 0x9000);
        assert!(mask.supports(MTMP));
        assert!(!mask.supports(MTCAP) && !mask.supports(0x5006));
    }
}
