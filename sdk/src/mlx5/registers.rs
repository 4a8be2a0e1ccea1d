//! Access-register decoders (offsets relative to the register data, after the header).

use super::bits::{get, get_ascii, get_u64};

/// Register ids and image sizes, from the one table the host and the simulator read too.
pub use fwctl_proto::mlx5::registers::{
    MCAM, MCAM_BASE, MCAM_SIZE, MCIA, MCIA_SIZE, MCQI, MCQS, MCQS_SIZE, MGIR, MGIR_SIZE, MNVDA, MNVIA, MNVQC, MPCNT,
    MPCNT_SIZE, MPEIN, MPEIN_SIZE, MSGI, MTCAP, MTCAP_SIZE, MTMP, MTMP_SIZE, PAOS, PAOS_SIZE, PCAM, PCAM_BASE,
    PCAM_SIZE, PDDR, PDDR_SIZE, PMTU, PMTU_SIZE, PPCNT, PPCNT_SIZE, PPLM, PTYS, PTYS_SIZE, SLRG, name,
};

/// Bytes of the MSGI register image.
pub use fwctl_proto::mlx5::prm::msgi::SIZE as MSGI_SIZE;
/// Bytes of the PPLM register image.
pub use fwctl_proto::mlx5::prm::pplm::SIZE as PPLM_SIZE;
/// Bytes of the SLRG register image.
pub use fwctl_proto::mlx5::prm::slrg::SIZE as SLRG_SIZE;
/// SLRG `fom_measurement` bits: which eyes a 7 nm lane measures.
pub use fwctl_proto::mlx5::prm::slrg::nm7::{
    COMPOSITE as EYE_COMPOSITE, LOWER as EYE_LOWER, MIDDLE as EYE_MIDDLE, UPPER as EYE_UPPER,
};
use fwctl_proto::mlx5::prm::{msgi, ppcnt::statistical, pplm, slrg};

/// Where MCQI's data starts: after its 24-byte head.
pub const MCQI_DATA: usize = fwctl_proto::mlx5::registers::MCQI_SIZE;
/// MCQI bytes when reading version information (header plus `mcqi_version`).
pub const MCQI_VERSION_SIZE: usize = MCQI_DATA + 0x7c;
/// MCQI `info_type` of version information.
pub const MCQI_INFO_VERSION: u32 = fwctl_proto::mlx5::prm::mcqi::INFO_VERSION;
/// PTYS `proto_mask` for InfiniBand.
pub const PTYS_PROTO_IB: u32 = fwctl_proto::mlx5::prm::ptys::PROTO_IB;
/// PTYS `proto_mask` for Ethernet.
pub const PTYS_PROTO_ETH: u32 = fwctl_proto::mlx5::prm::ptys::PROTO_ETH;

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
            fw_version: format!(
                "{}.{}.{:04}",
                get(r, 0x44 / 4, 31, 0),
                get(r, 0x48 / 4, 31, 0),
                get(r, 0x4c / 4, 31, 0)
            ),
            psid: get_ascii(r, 0x30, 16),
            signed_fw: get(r, 8, 25, 25) == 1,
        }
    }
}

/// MCQI version information of a firmware component (what the kernel prints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McqiVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Sub-minor version.
    pub subminor: u16,
    /// The version string the firmware gives, if any.
    pub text: String,
}

impl McqiVersion {
    /// Decodes an MCQI image holding version information (data from byte 24).
    pub fn decode(r: &[u8]) -> Self {
        let version = get(r, (MCQI_DATA + 4) / 4, 31, 0);
        Self {
            major: (version >> 24) as u8,
            minor: (version >> 16) as u8,
            subminor: version as u16,
            text: get_ascii(r, MCQI_DATA + 32, 92),
        }
    }

    /// `major.minor.subminor`, sub-minor on four digits (`%d.%d.%04d`, as the kernel and
    /// mstflint print it).
    pub fn version(&self) -> String {
        self.firmware().to_string()
    }

    /// The version as a comparable value.
    pub fn firmware(&self) -> FirmwareVersion {
        FirmwareVersion { major: self.major.into(), minor: self.minor.into(), subminor: self.subminor.into() }
    }
}

/// MPCNT's PCIe performance counters (`pcie_perf_cntrs_grp_data_layout`): the PCIe link's
/// errors since the device came up. Read without `clr`: reading changes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcieCounters {
    /// Receiver errors.
    pub rx_errors: u32,
    /// Transmitter errors.
    pub tx_errors: u32,
    /// Times the link went from L0 to recovery, for any of the four reasons counted.
    pub recoveries: u64,
    /// DLLPs with a CRC error.
    pub crc_error_dllp: u32,
    /// TLPs with a CRC error.
    pub crc_error_tlp: u32,
}

impl PcieCounters {
    /// Decodes an MPCNT image of the performance group.
    pub fn decode(r: &[u8]) -> Self {
        use fwctl_proto::mlx5::prm::mpcnt as f;
        Self {
            rx_errors: f::RX_ERRORS.get(r),
            tx_errors: f::TX_ERRORS.get(r),
            recoveries: [
                f::L0_TO_RECOVERY_EIEOS,
                f::L0_TO_RECOVERY_TS,
                f::L0_TO_RECOVERY_FRAMING,
                f::L0_TO_RECOVERY_RETRAIN,
            ]
            .iter()
            .map(|field| u64::from(field.get(r)))
            .sum(),
            crc_error_dllp: f::CRC_ERROR_DLLP.get(r),
            crc_error_tlp: f::CRC_ERROR_TLP.get(r),
        }
    }

    /// Errors of every kind together (recoveries aside).
    pub fn errors(&self) -> u64 {
        [self.rx_errors, self.tx_errors, self.crc_error_dllp, self.crc_error_tlp].iter().map(|&e| u64::from(e)).sum()
    }
}

/// A ConnectX firmware version, ordered as versions are (`28.39.1002` > `28.4.9999`):
/// compare a device's with a floor, e.g. `version >= "28.39.1002".parse()?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    /// Major (the device family: 22 ConnectX-6 Dx, 28 ConnectX-7).
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Sub-minor.
    pub subminor: u32,
}

impl std::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{:04}", self.major, self.minor, self.subminor)
    }
}

impl std::str::FromStr for FirmwareVersion {
    type Err = String;

    /// `major.minor.subminor`, each a decimal number.
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<u32> = text.split('.').map(str::parse).collect::<Result<_, _>>().map_err(|_| bad(text))?;
        match parts[..] {
            [major, minor, subminor] => Ok(Self { major, minor, subminor }),
            _ => Err(bad(text)),
        }
    }
}

fn bad(text: &str) -> String {
    format!("`{text}` is not a firmware version (major.minor.subminor)")
}

/// MTCAP: the temperature sensors the device has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mtcap {
    /// Number of internal sensors.
    pub sensor_count: u8,
    /// Which internal sensors exist (bit n = sensor n).
    pub sensor_map: u64,
}

impl Mtcap {
    /// Decodes an MTCAP image.
    pub fn decode(r: &[u8]) -> Self {
        Self { sensor_count: get(r, 0, 6, 0) as u8, sensor_map: get_u64(r, 8) }
    }

    /// The indexes of the sensors in the map, ascending.
    pub fn sensors(&self) -> Vec<u16> {
        (0..64).filter(|n| self.sensor_map & (1 << n) != 0).collect()
    }
}

/// MTMP: one temperature sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Mtmp {
    /// Sensor index (0 ASIC, 64 + N module N).
    pub sensor: u16,
    /// Current temperature, °C.
    pub celsius: f64,
    /// Highest recorded, °C (meaningful when `max_recording_enabled`).
    pub max_celsius: f64,
    /// Max temperature recording is enabled (`mte`).
    pub max_recording_enabled: bool,
    /// Temperature events enabled (`tee`: 0 none, 1 event, 2 generate event once).
    pub events: u8,
    /// Warning threshold: the firmware raises a warning above it, °C (0: not set).
    pub threshold_hi_celsius: f64,
    /// The warning clears below this, °C.
    pub threshold_lo_celsius: f64,
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
            max_recording_enabled: get(r, 2, 31, 31) == 1,
            events: get(r, 3, 31, 30) as u8,
            threshold_hi_celsius: celsius(get(r, 3, 15, 0)),
            threshold_lo_celsius: celsius(get(r, 4, 15, 0)),
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
    /// Protocols the register answers for ([`PTYS_PROTO_ETH`], [`PTYS_PROTO_IB`]).
    pub proto_mask: u8,
    /// Auto-negotiation status (0 unavailable, 1 complete, 2 failed, 3 link up, 4 link down).
    pub an_status: u8,
    /// Extended Ethernet modes supported (bit = `enum mlx5e_ext_link_mode`).
    pub ext_capability: u32,
    /// Legacy Ethernet modes supported (bit = `enum mlx5e_link_mode`).
    pub legacy_capability: u32,
    /// Extended Ethernet mode in operation.
    pub ext_oper: u32,
    /// Legacy Ethernet mode in operation (bit = `enum mlx5e_link_mode`).
    pub legacy_oper: u32,
    /// Connector type (`enum mlx5e_connector_type`).
    pub connector_type: u8,
}

impl Ptys {
    /// Decodes a PTYS image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            port: get(r, 0, 23, 16) as u8,
            proto_mask: get(r, 0, 2, 0) as u8,
            an_status: get(r, 1, 31, 28) as u8,
            ext_capability: get(r, 2, 31, 0),
            legacy_capability: get(r, 3, 31, 0),
            ext_oper: get(r, 8, 31, 0),
            legacy_oper: get(r, 9, 31, 0),
            connector_type: get(r, 11, 3, 0) as u8,
        }
    }

    /// The operating link mode, e.g. `400G (4 lanes)` (extended modes, as ConnectX-6 Dx
    /// and later report them) or `100GBASE-CR4` (legacy modes, older devices); `None`
    /// when no mode is active.
    pub fn speed(&self) -> Option<String> {
        if let Some(bit) = lowest_bit(self.ext_oper) {
            return ext_mode_name(bit).map(str::to_string);
        }
        legacy_mode(lowest_bit(self.legacy_oper)?).map(|(name, _)| name.to_string())
    }

    /// SerDes lanes of the operating mode, where the extended mode says (`None` for the
    /// legacy modes, whose names carry no lane count the SDK vouches for).
    pub fn lanes(&self) -> Option<u8> {
        ext_mode_lanes(lowest_bit(self.ext_oper)?)
    }

    /// Gb/s of the operating mode (0 for the sub-gigabit modes).
    pub fn speed_gbps(&self) -> Option<u32> {
        if let Some(bit) = lowest_bit(self.ext_oper) {
            return ext_mode_name(bit).and_then(|n| n.split('G').next()?.parse().ok()).or(Some(0).filter(|_| bit == 0));
        }
        legacy_mode(lowest_bit(self.legacy_oper)?).map(|(_, gbps)| gbps)
    }

    /// The auto-negotiation status name.
    pub fn an_status_name(&self) -> &'static str {
        match self.an_status {
            0 => "unavailable",
            1 => "complete",
            2 => "failed",
            3 => "link-up",
            4 => "link-down",
            _ => "unknown",
        }
    }

    /// The connector type name (`enum mlx5e_connector_type`).
    pub fn connector_name(&self) -> &'static str {
        match self.connector_type {
            0 => "unknown",
            1 => "none",
            2 => "twisted-pair",
            3 => "AUI",
            4 => "BNC",
            5 => "MII",
            6 => "fibre",
            7 => "direct-attach",
            _ => "other",
        }
    }
}

fn lowest_bit(mask: u32) -> Option<u32> {
    (mask != 0).then(|| mask.trailing_zeros())
}

/// Human names of `enum mlx5e_ext_link_mode` bits.
pub fn ext_mode_name(bit: u32) -> Option<&'static str> {
    EXT_MODES.iter().find(|m| m.0 == bit).map(|m| m.1)
}

/// SerDes lanes of an extended Ethernet mode bit.
pub fn ext_mode_lanes(bit: u32) -> Option<u8> {
    EXT_MODES.iter().find(|m| m.0 == bit).map(|m| m.2)
}

/// `enum mlx5e_ext_link_mode`: bit, name, lanes.
const EXT_MODES: &[(u32, &str, u8)] = &[
    (0, "100M (SGMII)", 1),
    (1, "1G", 1),
    (3, "5G", 1),
    (4, "10G (1 lane)", 1),
    (5, "40G (4 lanes)", 4),
    (6, "25G (1 lane)", 1),
    (7, "50G (2 lanes)", 2),
    (8, "50G (1 lane)", 1),
    (9, "100G (4 lanes)", 4),
    (10, "100G (2 lanes)", 2),
    (11, "100G (1 lane)", 1),
    (12, "200G (4 lanes)", 4),
    (13, "200G (2 lanes)", 2),
    (14, "200G (1 lane)", 1),
    (15, "400G (8 lanes)", 8),
    (16, "400G (4 lanes)", 4),
    (17, "400G (2 lanes)", 2),
    (19, "800G (8 lanes)", 8),
    (20, "800G (4 lanes)", 4),
    (23, "1600G (8 lanes)", 8),
];

/// Name and Gb/s of a legacy `enum mlx5e_link_mode` bit.
pub fn legacy_mode(bit: u32) -> Option<(&'static str, u32)> {
    Some(match bit {
        0 => ("1000BASE-CX-SGMII", 1),
        1 => ("1000BASE-KX", 1),
        2 => ("10GBASE-CX4", 10),
        3 => ("10GBASE-KX4", 10),
        4 => ("10GBASE-KR", 10),
        5 => ("20GBASE-KR2", 20),
        6 => ("40GBASE-CR4", 40),
        7 => ("40GBASE-KR4", 40),
        8 => ("56GBASE-R4", 56),
        12 => ("10GBASE-CR", 10),
        13 => ("10GBASE-SR", 10),
        14 => ("10GBASE-ER", 10),
        15 => ("40GBASE-SR4", 40),
        16 => ("40GBASE-LR4", 40),
        18 => ("50GBASE-SR2", 50),
        20 => ("100GBASE-CR4", 100),
        21 => ("100GBASE-SR4", 100),
        22 => ("100GBASE-KR4", 100),
        23 => ("100GBASE-LR4", 100),
        24 => ("100BASE-TX", 0),
        25 => ("1000BASE-T", 1),
        26 => ("10GBASE-T", 10),
        27 => ("25GBASE-CR", 25),
        28 => ("25GBASE-KR", 25),
        29 => ("25GBASE-SR", 25),
        30 => ("50GBASE-CR2", 50),
        31 => ("50GBASE-KR2", 50),
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
    /// Max read request size, bytes.
    pub max_read_request_bytes: u32,
    /// Physical functions.
    pub num_pfs: u16,
    /// Virtual functions.
    pub num_vfs: u16,
    /// Power the slot grants, W.
    pub pci_power_watts: u16,
    /// PCIe device status bits.
    pub device_status: u16,
}

/// `Gen4 (16 GT/s)` for generation 4; `unknown` outside 1–6.
pub fn gen_name(generation: u8) -> &'static str {
    match generation {
        1 => "Gen1 (2.5 GT/s)",
        2 => "Gen2 (5 GT/s)",
        3 => "Gen3 (8 GT/s)",
        4 => "Gen4 (16 GT/s)",
        5 => "Gen5 (32 GT/s)",
        6 => "Gen6 (64 GT/s)",
        _ => "unknown",
    }
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
            max_read_request_bytes: 128 << get(r, 6, 31, 28),
            num_pfs: get(r, 4, 31, 16) as u16,
            num_vfs: get(r, 4, 15, 0) as u16,
            pci_power_watts: get(r, 7, 11, 0) as u16,
            device_status: get(r, 9, 31, 16) as u16,
        }
    }

    /// The trained link, e.g. `Gen5 x16`.
    pub fn active(&self) -> String {
        format!("Gen{} x{}", self.gen_active, self.width_active)
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

    #[test]
    fn firmware_versions_order_by_number_not_by_text() {
        let v = |t: &str| t.parse::<FirmwareVersion>().unwrap();
        assert!(v("28.39.1002") > v("28.4.9999"));
        assert!(v("22.28.2006") < v("28.39.0"));
        assert_eq!(v("28.39.1002").to_string(), "28.39.1002");
        assert_eq!(v("28.39.2").to_string(), "28.39.0002");
        assert!("28.39".parse::<FirmwareVersion>().unwrap_err().contains("not a firmware version"));
    }
    use crate::mlx5::bits::set;

    #[test]
    fn mtmp_temperatures_are_eighths_of_a_degree() {
        let mut r = [0u8; MTMP_SIZE];
        set(&mut r, 1, 15, 0, 0x01e0); // 480 / 8 = 60 °C
        set(&mut r, 2, 15, 0, 0x0200);
        set(&mut r, 3, 15, 0, 105 * 8);
        r[24..28].copy_from_slice(b"ASIC");
        set(&mut r, 2, 31, 31, 1);
        set(&mut r, 4, 15, 0, 100 * 8);
        let t = Mtmp::decode(&r);
        assert_eq!(
            (t.celsius, t.max_celsius, t.threshold_hi_celsius, t.threshold_lo_celsius),
            (60.0, 64.0, 105.0, 100.0)
        );
        assert!(t.max_recording_enabled);
        assert_eq!(t.name, "ASIC");
        // Temperatures are unsigned eighths: 0xffff is 8191.875 °C, not negative.
        set(&mut r, 1, 15, 0, 0xffff);
        assert_eq!(Mtmp::decode(&r).celsius, 8191.875);
    }

    #[test]
    fn mtcap_lists_sensors_and_mcqi_gives_the_kernel_version() {
        let mut r = [0u8; MTCAP_SIZE];
        set(&mut r, 0, 6, 0, 2);
        r[15] = 0b101;
        let m = Mtcap::decode(&r);
        assert_eq!((m.sensor_count, m.sensors()), (2, vec![0, 2]));

        let mut r = [0u8; MCQI_VERSION_SIZE];
        set(&mut r, (MCQI_DATA + 4) / 4, 31, 0, 22 << 24 | 36 << 16 | 1010);
        r[MCQI_DATA + 32..MCQI_DATA + 42].copy_from_slice(b"22.36.1010");
        let v = McqiVersion::decode(&r);
        assert_eq!((v.version().as_str(), v.text.as_str()), ("22.36.1010", "22.36.1010"));
        set(&mut r, (MCQI_DATA + 4) / 4, 31, 0, 28 << 24 | 39 << 16 | 2);
        assert_eq!(McqiVersion::decode(&r).version(), "28.39.0002");
    }

    #[test]
    fn ptys_names_the_extended_mode() {
        let mut r = [0u8; PTYS_SIZE];
        set(&mut r, 8, 31, 0, 1 << 16);
        let p = Ptys::decode(&r);
        assert_eq!(p.speed().as_deref(), Some("400G (4 lanes)"));
        assert_eq!(p.speed_gbps(), Some(400));
        assert_eq!(p.lanes(), Some(4));
        assert_eq!(Ptys::decode(&[0u8; PTYS_SIZE]).speed(), None);

        // A full reply from the reference layout: port 2, Ethernet, AN complete,
        // capability 25G|100G(4), legacy 100GBASE-CR4 in operation, direct attach.
        let mut r = [0u8; PTYS_SIZE];
        set(&mut r, 0, 23, 16, 2);
        set(&mut r, 0, 2, 0, PTYS_PROTO_ETH);
        set(&mut r, 1, 31, 28, 1);
        set(&mut r, 3, 31, 0, 1 << 27 | 1 << 20);
        set(&mut r, 9, 31, 0, 1 << 20);
        set(&mut r, 11, 3, 0, 7);
        let p = Ptys::decode(&r);
        assert_eq!((p.port, p.proto_mask, p.an_status_name(), p.connector_name()), (2, 4, "complete", "direct-attach"));
        assert_eq!((p.speed().as_deref(), p.speed_gbps()), (Some("100GBASE-CR4"), Some(100)));
        assert_eq!(p.legacy_capability, 1 << 27 | 1 << 20);
        assert_eq!(p.lanes(), None, "a legacy mode's lane count is not vouched for");
    }

    #[test]
    fn msgi_decodes_its_texts_and_stops_at_the_padding() {
        let mut r = [0u8; MSGI_SIZE];
        r[0..13].copy_from_slice(b"MT2418X01234 ");
        r[0x20..0x30].copy_from_slice(b"MCX75310AAS-NEAT");
        r[0x38..0x3a].copy_from_slice(b"A7");
        r[0x40..0x4a].copy_from_slice(b"ConnectX-7");
        let m = Msgi::decode(&r);
        assert_eq!(
            (m.serial_number.as_str(), m.part_number.as_str(), m.revision.as_str(), m.product_name.as_str()),
            ("MT2418X01234", "MCX75310AAS-NEAT", "A7", "ConnectX-7")
        );
        assert_eq!(Msgi::decode(&r[..10]).part_number, "", "a short answer decodes to empty, never panics");
    }

    #[test]
    fn slrg_decodes_each_generations_page_and_only_the_eyes_asked_for() {
        use fwctl_proto::mlx5::prm::slrg as r;
        let mut image = [0u8; SLRG_SIZE];
        r::STATUS.set(&mut image, 1);
        r::VERSION.set(&mut image, r::VERSION_7NM);
        r::LANE.set(&mut image, 3);
        r::nm7::INITIAL_FOM.set(&mut image, 40);
        r::nm7::LAST_FOM.set(&mut image, 41);
        r::nm7::UPPER_EYE.set(&mut image, 42);
        r::nm7::MID_EYE.set(&mut image, 43);
        r::nm7::LOWER_EYE.set(&mut image, 44);
        let pam4 = Slrg::decode(&image, EYE_UPPER | EYE_COMPOSITE);
        assert_eq!((pam4.lane, pam4.generation()), (3, "7 nm"));
        assert_eq!(
            pam4.eye,
            LaneEye::FigureOfMerit {
                mode: 0,
                nrz: false,
                initial: 40,
                composite: Some(41),
                upper: Some(42),
                middle: None,
                lower: None
            }
        );
        // An NRZ lane has only the composite eye, whatever was asked.
        r::nm7::FOM_MEAS_TYPE_READ.set(&mut image, 1);
        let LaneEye::FigureOfMerit { nrz, upper, composite, .. } = Slrg::decode(&image, 0xf).eye else { panic!() };
        assert_eq!((nrz, upper, composite), (true, None, Some(41)));

        // 16 nm: the opening is the offsets either side of the centre, each signed.
        let mut image = [0u8; SLRG_SIZE];
        r::STATUS.set(&mut image, 1);
        r::VERSION.set(&mut image, r::VERSION_16NM);
        r::nm16::GRADE.set(&mut image, 3065);
        r::nm16::HEIGHT_EO_POS_MID.set(&mut image, 30);
        r::nm16::HEIGHT_EO_NEG_MID.set(&mut image, 0xfffe);
        r::nm16::PHASE_EO_POS_MID.set(&mut image, 8);
        r::nm16::PHASE_EO_NEG_MID.set(&mut image, 7);
        assert_eq!(Slrg::decode(&image, 0).eye, LaneEye::Grade { grade: 3065, height_mv: 28, phase_ps: 15 });
        // No measurement, and a generation this SDK does not decode.
        r::STATUS.set(&mut image, 0);
        assert_eq!(Slrg::decode(&image, 0).eye, LaneEye::NotMeasured);
        r::STATUS.set(&mut image, 1);
        r::VERSION.set(&mut image, r::VERSION_5NM);
        assert_eq!(Slrg::decode(&image, 0).eye, LaneEye::Undecoded);
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
        assert_eq!((m.active(), gen_name(m.gen_enabled)), ("Gen5 x8".to_string(), "Gen5 (32 GT/s)"));
        set(&mut mpein, 3, 15, 0, 1 << 2);
        assert_eq!(Mpein::decode(&mpein).gen_active, 3);

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

/// PDDR page with the troubleshooting status.
pub const PDDR_PAGE_TROUBLESHOOTING: u32 = fwctl_proto::mlx5::prm::pddr::PAGE_TROUBLESHOOTING;
/// MCIA: I²C address of a module's lower memory (page 0).
pub const MCIA_I2C_LOW: u32 = fwctl_proto::mlx5::prm::mcia::I2C_LOW;
/// MTMP sensor index of the first module's temperature (module N is this + N).
pub const MTMP_MODULE_SENSOR_BASE: u16 = fwctl_proto::mlx5::prm::mtmp::MODULE_SENSOR_BASE as u16;

/// PPCNT counter groups read by diagnostics.
pub mod ppcnt_group {
    /// IEEE 802.3 counters.
    pub const IEEE_802_3: u32 = fwctl_proto::mlx5::prm::ppcnt::GROUP_IEEE_802_3;
    /// Physical-layer counters (symbol errors, FEC blocks, link-down events).
    pub const PHYSICAL_LAYER: u32 = fwctl_proto::mlx5::prm::ppcnt::GROUP_PHYSICAL_LAYER;
    /// Physical-layer statistical counters (received and corrected bits: BER).
    pub const PHYSICAL_STATISTICAL: u32 = fwctl_proto::mlx5::prm::ppcnt::GROUP_PHYSICAL_STATISTICAL;
}

/// PMTU: a port's MTUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pmtu {
    /// Local port.
    pub port: u8,
    /// Largest MTU the port supports.
    pub max_mtu: u16,
    /// Configured MTU.
    pub admin_mtu: u16,
    /// MTU in effect.
    pub oper_mtu: u16,
}

impl Pmtu {
    /// Decodes a PMTU image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            port: get(r, 0, 23, 16) as u8,
            max_mtu: get(r, 1, 31, 16) as u16,
            admin_mtu: get(r, 2, 31, 16) as u16,
            oper_mtu: get(r, 3, 31, 16) as u16,
        }
    }
}

/// Where PPCNT's counter set starts.
const PPCNT_DATA: usize = fwctl_proto::mlx5::prm::ppcnt::DATA_BYTE;

fn counter(r: &[u8], offset: usize) -> u64 {
    get_u64(r, PPCNT_DATA + offset)
}

fn counter32(r: &[u8], offset: usize) -> u32 {
    get(r, (PPCNT_DATA + offset) / 4, 31, 0)
}

/// PPCNT IEEE 802.3 group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ieee8023 {
    /// Frames sent.
    pub frames_tx_ok: u64,
    /// Frames received.
    pub frames_rx_ok: u64,
    /// Frames received with a bad FCS.
    pub fcs_errors: u64,
}

impl Ieee8023 {
    /// Decodes a PPCNT image of group 0x00.
    pub fn decode(r: &[u8]) -> Self {
        Self { frames_tx_ok: counter(r, 0), frames_rx_ok: counter(r, 8), fcs_errors: counter(r, 16) }
    }
}

/// PPCNT physical-layer group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysicalLayer {
    /// Milliseconds since the counters were last cleared.
    pub time_since_last_clear_ms: u64,
    /// Symbol errors.
    pub symbol_errors: u64,
    /// RS-FEC blocks corrected.
    pub fec_corrected_blocks: u64,
    /// RS-FEC blocks that could not be corrected.
    pub fec_uncorrectable_blocks: u64,
    /// Times the link went down.
    pub link_down_events: u32,
    /// Times the link recovered without going down.
    pub successful_recovery_events: u32,
}

impl PhysicalLayer {
    /// Decodes a PPCNT image of group 0x12.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            time_since_last_clear_ms: counter(r, 0),
            symbol_errors: counter(r, 8),
            fec_corrected_blocks: counter(r, 120),
            fec_uncorrectable_blocks: counter(r, 128),
            link_down_events: counter32(r, 192),
            successful_recovery_events: counter32(r, 196),
        }
    }
}

/// PPCNT physical-layer statistical group: the bit error ratios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysicalStatistical {
    /// Bits received.
    pub received_bits: u64,
    /// Symbol errors after FEC (what the link layer sees).
    pub symbol_errors: u64,
    /// Bits FEC corrected.
    pub corrected_bits: u64,
    /// Bits FEC corrected on each of lanes 0–3 (the counter set has four, whatever the
    /// port's width).
    pub lane_corrected_bits: [u64; statistical::LANES],
}

impl PhysicalStatistical {
    /// Decodes a PPCNT image of group 0x16.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            received_bits: counter(r, 8),
            symbol_errors: counter(r, 16),
            corrected_bits: counter(r, 24),
            lane_corrected_bits: std::array::from_fn(|lane| {
                counter(r, statistical::PHY_CORRECTED_BITS_LANE0 + 8 * lane)
            }),
        }
    }

    /// Raw (pre-FEC) BER: corrected bits over received bits; `None` before any bit.
    pub fn raw_ber(&self) -> Option<f64> {
        (self.received_bits > 0).then(|| self.corrected_bits as f64 / self.received_bits as f64)
    }

    /// Effective (post-FEC) BER: symbol errors over received bits; `None` before any bit.
    pub fn effective_ber(&self) -> Option<f64> {
        (self.received_bits > 0).then(|| self.symbol_errors as f64 / self.received_bits as f64)
    }
}

/// PPLM: the port's active forward error correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pplm {
    /// A bit per active mode (`MLX5E_FEC_*`); 0 while the link is down.
    pub fec_mode_active: u32,
}

impl Pplm {
    /// Decodes a PPLM image.
    pub fn decode(r: &[u8]) -> Self {
        Self { fec_mode_active: pplm::FEC_MODE_ACTIVE.get(r) }
    }

    /// The active mode's name (`RS-FEC (544,514)`); `None` while the link is down, and
    /// `unknown FEC mode bit N` for a mode this table does not name.
    pub fn mode(&self) -> Option<String> {
        let bit = (self.fec_mode_active != 0).then(|| self.fec_mode_active.trailing_zeros())?;
        Some(pplm::mode_name(bit).map_or_else(|| format!("unknown FEC mode bit {bit}"), str::to_string))
    }
}

/// MSGI: the board's identity, for inventory (each text empty where firmware gives none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msgi {
    /// Serial number.
    pub serial_number: String,
    /// Part number.
    pub part_number: String,
    /// Revision.
    pub revision: String,
    /// Product name.
    pub product_name: String,
}

impl Msgi {
    /// Decodes an MSGI image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            serial_number: get_ascii(r, msgi::SERIAL_NUMBER_BYTE, msgi::SERIAL_NUMBER_LEN),
            part_number: get_ascii(r, msgi::PART_NUMBER_BYTE, msgi::PART_NUMBER_LEN),
            revision: get_ascii(r, msgi::REVISION_BYTE, msgi::REVISION_LEN),
            product_name: get_ascii(r, msgi::PRODUCT_NAME_BYTE, msgi::PRODUCT_NAME_LEN),
        }
    }
}

/// SLRG: what one SerDes lane's receiver sees of its eye, in the terms of its SerDes
/// generation. ConnectX-7 (7 nm) reports figures of merit of its eye-opening monitor,
/// ConnectX-6 Dx (16 nm) a grade and the eye's opening; neither has a published scale or
/// a limit, so they are compared across lanes, ports and runs rather than to a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slrg {
    /// Lane (0-based) of the local port.
    pub lane: u8,
    /// The SerDes generation (`slrg::VERSION_*`).
    pub version: u8,
    /// What the page says; [`LaneEye::NotMeasured`] when its status is not valid.
    pub eye: LaneEye,
}

/// The name of a 7 nm `fom_mode` (`EYEC`, `EYEO`, ...), as mlxlink prints it.
pub fn slrg_fom_mode_name(mode: u8) -> &'static str {
    slrg::nm7::mode_name(u32::from(mode))
}

/// The eye of one lane, per SerDes generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneEye {
    /// 7 nm: the eye-opening monitor's figures of merit (higher is better). PAM4 lanes
    /// have three eyes; NRZ lanes only the composite one.
    FigureOfMerit {
        /// The monitor's mode (`EYEC`, ...: `slrg::nm7::mode_name`).
        mode: u8,
        /// NRZ (composite eye only) rather than PAM4.
        nrz: bool,
        /// Measured when the lane's equaliser was trained.
        initial: u8,
        /// The composite eye, measured now (when asked for).
        composite: Option<u8>,
        /// The upper, middle and lower eyes of a PAM4 lane, measured now (when asked for).
        upper: Option<u8>,
        /// See `upper`.
        middle: Option<u8>,
        /// See `upper`.
        lower: Option<u8>,
    },
    /// 16 nm: the lane's grade and the middle eye's opening (as mlxlink `-e` prints it:
    /// the sum of the offsets either side of the eye's centre).
    Grade {
        /// The grade the lane received.
        grade: u32,
        /// Height of the middle eye, mV.
        height_mv: i32,
        /// Width (phase) of the middle eye, ps.
        phase_ps: i32,
    },
    /// A generation whose page this SDK does not decode (40/28 nm, 5 nm and later).
    Undecoded,
    /// The page holds no measurement (status not valid: e.g. the link is down).
    NotMeasured,
}

impl Slrg {
    /// Decodes an SLRG image; `asked` is the `fom_measurement` the request carried.
    pub fn decode(r: &[u8], asked: u32) -> Self {
        let version = slrg::VERSION.get(r);
        let eye = if slrg::STATUS.get(r) != slrg::STATUS_VALID {
            LaneEye::NotMeasured
        } else {
            match version {
                slrg::VERSION_7NM => {
                    use slrg::nm7 as p;
                    let nrz = p::FOM_MEAS_TYPE_READ.is_set(r);
                    let eye = |bit: u32, field: fwctl_proto::mlx5::prm::Field| {
                        (asked & bit != 0 && (bit == p::COMPOSITE || !nrz)).then(|| field.get(r) as u8)
                    };
                    LaneEye::FigureOfMerit {
                        mode: p::FOM_MODE.get(r) as u8,
                        nrz,
                        initial: p::INITIAL_FOM.get(r) as u8,
                        composite: eye(p::COMPOSITE, p::LAST_FOM),
                        upper: eye(p::UPPER, p::UPPER_EYE),
                        middle: eye(p::MIDDLE, p::MID_EYE),
                        lower: eye(p::LOWER, p::LOWER_EYE),
                    }
                }
                slrg::VERSION_16NM => {
                    use slrg::nm16 as p;
                    // Offsets are signed: heights 16 bits, phases 8 (mlxlink sign-extends both).
                    let height = |f: fwctl_proto::mlx5::prm::Field| i32::from(f.get(r) as u16 as i16);
                    let phase = |f: fwctl_proto::mlx5::prm::Field| i32::from(f.get(r) as u8 as i8);
                    LaneEye::Grade {
                        grade: p::GRADE.get(r),
                        height_mv: height(p::HEIGHT_EO_POS_MID) + height(p::HEIGHT_EO_NEG_MID),
                        phase_ps: phase(p::PHASE_EO_POS_MID) + phase(p::PHASE_EO_NEG_MID),
                    }
                }
                _ => LaneEye::Undecoded,
            }
        };
        Self { lane: slrg::LANE.get(r) as u8, version: version as u8, eye }
    }

    /// The SerDes generation, as the PRM names it.
    pub fn generation(&self) -> &'static str {
        match u32::from(self.version) {
            slrg::VERSION_40NM => "40 nm",
            slrg::VERSION_28NM => "28 nm",
            slrg::VERSION_16NM => "16 nm",
            slrg::VERSION_7NM => "7 nm",
            slrg::VERSION_5NM => "5 nm",
            _ => "unknown",
        }
    }
}

/// PDDR troubleshooting page: why a link is (or is not) up, in the firmware's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PddrTroubleshooting {
    /// Monitor opcode (0: no issue observed).
    pub monitor_opcode: u16,
    /// The status message.
    pub message: String,
}

impl PddrTroubleshooting {
    /// Decodes a PDDR image of the troubleshooting page.
    pub fn decode(r: &[u8]) -> Self {
        Self { monitor_opcode: get(r, 3, 15, 0) as u16, message: get_ascii(r, 20, 236) }
    }
}

/// MCIA: bytes read from a module's EEPROM, or why none could be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mcia {
    /// Module (cage) index.
    pub module: u8,
    /// 0 good, 1 no EEPROM, 2 not supported, 3 not connected, 9 I²C error, 16 disabled.
    pub status: u8,
    /// The bytes read (empty unless `status` is 0).
    pub data: Vec<u8>,
}

impl Mcia {
    /// Decodes an MCIA image.
    pub fn decode(r: &[u8]) -> Self {
        let status = get(r, 0, 7, 0) as u8;
        let size = (get(r, 2, 15, 0) as usize).min(r.len().saturating_sub(16));
        let data = if status == 0 { r[16..16 + size].to_vec() } else { Vec::new() };
        Self { module: get(r, 0, 23, 16) as u8, status, data }
    }

    /// A module sits in the cage (anything but "not connected").
    pub fn present(&self) -> bool {
        self.status != 3
    }

    /// `good`, `no-eeprom`, `not-supported`, `not-connected`, `i2c-error`, `disabled`.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            0 => "good",
            1 => "no-eeprom",
            2 => "not-supported",
            3 => "not-connected",
            9 => "i2c-error",
            16 => "disabled",
            _ => "unknown",
        }
    }

    /// The SFF-8024 identifier (byte 0 of the lower page), when read.
    pub fn identifier(&self) -> Option<u8> {
        self.data.first().copied()
    }
}

/// The SFF-8024 name of a module identifier.
pub fn module_type_name(identifier: u8) -> &'static str {
    match identifier {
        0x03 => "SFP",
        0x0c => "QSFP",
        0x0d => "QSFP+",
        0x11 => "QSFP28",
        0x18 => "QSFP-DD",
        0x19 => "OSFP",
        0x1b => "DSFP",
        0x1e => "QSFP112",
        _ => "unknown",
    }
}

#[cfg(test)]
mod port_register_tests {
    use super::*;
    use crate::mlx5::bits::{set, set_ascii, set_u64};

    #[test]
    fn pmtu_decodes_the_three_mtus() {
        let mut r = [0u8; PMTU_SIZE];
        set(&mut r, 0, 23, 16, 1);
        set(&mut r, 1, 31, 16, 9216);
        set(&mut r, 2, 31, 16, 9000);
        set(&mut r, 3, 31, 16, 1500);
        assert_eq!(Pmtu::decode(&r), Pmtu { port: 1, max_mtu: 9216, admin_mtu: 9000, oper_mtu: 1500 });
    }

    #[test]
    fn ppcnt_groups_decode_at_their_reference_offsets() {
        let mut r = [0u8; PPCNT_SIZE];
        set_u64(&mut r, 8, 5_000); // time since clear
        set_u64(&mut r, 8 + 8, 17); // symbol errors
        set_u64(&mut r, 8 + 120, 1_000_000); // FEC corrected
        set_u64(&mut r, 8 + 128, 3); // FEC uncorrectable
        set(&mut r, (8 + 192) / 4, 31, 0, 2); // link down events
        set(&mut r, (8 + 196) / 4, 31, 0, 9); // recoveries
        let p = PhysicalLayer::decode(&r);
        assert_eq!(
            (p.time_since_last_clear_ms, p.symbol_errors, p.fec_corrected_blocks, p.fec_uncorrectable_blocks),
            (5_000, 17, 1_000_000, 3)
        );
        assert_eq!((p.link_down_events, p.successful_recovery_events), (2, 9));

        let mut s = [0u8; PPCNT_SIZE];
        set_u64(&mut s, 8 + 8, 4_000_000_000_000);
        set_u64(&mut s, 8 + 16, 4);
        set_u64(&mut s, 8 + 24, 4_000_000);
        let s = PhysicalStatistical::decode(&s);
        assert_eq!(s.effective_ber(), Some(1e-12));
        assert_eq!(s.raw_ber(), Some(1e-6));
        assert_eq!(PhysicalStatistical::decode(&[0u8; PPCNT_SIZE]).raw_ber(), None);

        let mut i = [0u8; PPCNT_SIZE];
        set_u64(&mut i, 8 + 16, 12);
        assert_eq!(Ieee8023::decode(&i).fcs_errors, 12);
    }

    #[test]
    fn pddr_and_mcia_decode_message_presence_and_type() {
        let mut r = [0u8; PDDR_SIZE];
        set(&mut r, 3, 15, 0, 0x2a);
        set_ascii(&mut r, 20, 236, "Cable is unplugged");
        let t = PddrTroubleshooting::decode(&r);
        assert_eq!((t.monitor_opcode, t.message.as_str()), (0x2a, "Cable is unplugged"));

        let mut m = [0u8; MCIA_SIZE];
        set(&mut m, 0, 23, 16, 1);
        set(&mut m, 2, 15, 0, 1);
        m[16] = 0x19;
        let mcia = Mcia::decode(&m);
        assert!(mcia.present());
        assert_eq!((mcia.status_name(), mcia.identifier().map(module_type_name)), ("good", Some("OSFP")));

        set(&mut m, 0, 7, 0, 3);
        let empty = Mcia::decode(&m);
        assert!(!empty.present() && empty.data.is_empty());
        assert_eq!(empty.status_name(), "not-connected");
    }
}

/// MCQS: one firmware component and its update state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mcqs {
    /// This is the last component.
    pub last_index: bool,
    /// The component's index.
    pub component_index: u16,
    /// What it is (1 = boot image).
    pub identifier: u16,
    /// 0 idle, 1 in progress, 2 applied, 3 active, 4 active pending reset.
    pub update_state: u8,
}

impl Mcqs {
    /// Decodes an MCQS image.
    pub fn decode(r: &[u8]) -> Self {
        Self {
            last_index: get(r, 0, 31, 31) == 1,
            component_index: get(r, 0, 15, 0) as u16,
            identifier: get(r, 1, 15, 0) as u16,
            update_state: get(r, 2, 3, 0) as u8,
        }
    }

    /// `idle`, `in-progress`, `applied`, `active`, `active-pending-reset`.
    pub fn update_state_name(&self) -> &'static str {
        match self.update_state {
            0 => "idle",
            1 => "in-progress",
            2 => "applied",
            3 => "active",
            4 => "active-pending-reset",
            _ => "unknown",
        }
    }
}

#[cfg(test)]
mod mcqs_tests {
    use super::*;
    use crate::mlx5::bits::set;

    #[test]
    fn mcqs_decodes_the_update_state() {
        let mut r = [0u8; MCQS_SIZE];
        set(&mut r, 0, 31, 31, 1);
        set(&mut r, 1, 15, 0, 1);
        set(&mut r, 2, 3, 0, 4);
        let m = Mcqs::decode(&r);
        assert!(m.last_index);
        assert_eq!((m.identifier, m.update_state_name()), (1, "active-pending-reset"));
    }
}
