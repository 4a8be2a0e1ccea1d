//! What a simulated ConnectX device is: firmware identity, ports, PCIe, temperatures.

use serde::Deserialize;

/// The `[device.mlx5]` table of a simulator profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mlx5Profile {
    /// PCI device id (0x1021 ConnectX-7, 0x101d ConnectX-6 Dx).
    pub device_id: u16,
    /// Hardware revision (MGIR).
    #[serde(default)]
    pub hw_revision: u16,
    /// Running firmware version, `major.minor.subminor` (e.g. `28.39.1002`).
    pub fw_version: String,
    /// Parameter-set id, the board's identity (QUERY_ADAPTER, MGIR).
    pub psid: String,
    /// Whether firmware supports the TOOLS_RESOURCES user-context capability.
    #[serde(default = "yes")]
    pub tools_uid: bool,
    /// The function's vhca_id (QUERY_HCA_CAP).
    #[serde(default)]
    pub vhca_id: u16,
    /// The ASIC's temperature sensor.
    pub asic: Sensor,
    /// The PCIe link.
    pub pcie: Pcie,
    /// The network ports, port 1 first.
    #[serde(rename = "port")]
    pub ports: Vec<Port>,
    /// Registers this firmware does not implement (by name: `PDDR`, `MCIA`, ...); they are
    /// missing from MCAM/PCAM and ACCESS_REG on them fails with BAD_PARAM.
    #[serde(default)]
    pub unsupported_registers: Vec<String>,
}

/// A temperature sensor.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// Current reading, °C.
    pub celsius: f64,
    /// Highest reading since reset, °C (defaults to the current one).
    #[serde(default)]
    pub max_celsius: Option<f64>,
    /// Warning threshold (MTMP temp_threshold_hi), °C.
    #[serde(default = "warn_default")]
    pub warn_celsius: f64,
}

/// The PCIe link as MPEIN reports it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pcie {
    /// Lanes the device is capable of / enabled for.
    pub width_enabled: u8,
    /// Lanes trained.
    pub width_active: u8,
    /// Highest PCIe generation enabled (1–6).
    pub gen_enabled: u8,
    /// Generation trained.
    pub gen_active: u8,
    /// Physical functions.
    #[serde(default = "one")]
    pub num_pfs: u16,
    /// Virtual functions.
    #[serde(default)]
    pub num_vfs: u16,
    /// Max payload size, bytes (128–4096).
    #[serde(default = "payload_default")]
    pub max_payload_bytes: u16,
    /// Max read request size, bytes (128–4096).
    #[serde(default = "read_request_default")]
    pub max_read_request_bytes: u16,
    /// Power drawn, W.
    #[serde(default)]
    pub power_watts: u16,
}

/// One network port.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Administratively up.
    pub admin_up: bool,
    /// Link up.
    pub oper_up: bool,
    /// Link speed in Gb/s when up (25, 50, 100, 200, 400, 800).
    pub speed_gbps: u32,
    /// SerDes lanes of that speed (1, 2, 4, 8).
    pub lanes: u8,
    /// Speeds the port supports, as `[gbps, lanes]` pairs (defaults to the current one).
    #[serde(default)]
    pub supported: Vec<[u32; 2]>,
    /// Operational MTU (PMTU).
    #[serde(default = "mtu_default")]
    pub mtu: u16,
    /// Largest MTU the port allows.
    #[serde(default = "max_mtu_default")]
    pub max_mtu: u16,
    /// Link-down events so far (PPCNT physical layer).
    #[serde(default)]
    pub link_down_events: u32,
    /// Error counters grow by these amounts on every PPCNT read, so diagnostics that
    /// sample twice see a rate.
    #[serde(default)]
    pub growth: CounterGrowth,
    /// PDDR troubleshooting message (`No issue was observed` when healthy).
    #[serde(default)]
    pub troubleshooting: Option<String>,
    /// The pluggable module, if one is inserted.
    #[serde(default)]
    pub module: Option<Module>,
}

/// Per-read growth of PPCNT counters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterGrowth {
    /// Frames transmitted and received (IEEE 802.3 group).
    #[serde(default)]
    pub frames: u64,
    /// RS-FEC corrected blocks.
    #[serde(default)]
    pub fec_corrected: u64,
    /// RS-FEC uncorrectable blocks.
    #[serde(default)]
    pub fec_uncorrectable: u64,
    /// Symbol errors.
    #[serde(default)]
    pub symbol_errors: u64,
    /// Bits received.
    #[serde(default)]
    pub bits: u64,
}

/// A pluggable module (cable or transceiver).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// SFF-8024 identifier name: `SFP`, `QSFP`, `QSFP+`, `QSFP28`, `QSFP-DD`, `OSFP`, `DSFP`.
    pub form_factor: String,
    /// Module temperature, °C.
    pub celsius: f64,
    /// Module warning threshold, °C.
    #[serde(default = "module_warn_default")]
    pub warn_celsius: f64,
}

fn yes() -> bool {
    true
}
fn one() -> u16 {
    1
}
fn warn_default() -> f64 {
    105.0
}
fn module_warn_default() -> f64 {
    70.0
}
fn payload_default() -> u16 {
    512
}
fn read_request_default() -> u16 {
    4096
}
fn mtu_default() -> u16 {
    1500
}
fn max_mtu_default() -> u16 {
    9978
}

impl Module {
    /// The SFF-8024 identifier byte for the form factor.
    pub fn identifier(&self) -> Result<u8, String> {
        Ok(match self.form_factor.as_str() {
            "SFP" => 0x03,
            "QSFP" => 0x0c,
            "QSFP+" => 0x0d,
            "QSFP28" => 0x11,
            "QSFP-DD" => 0x18,
            "OSFP" => 0x19,
            "DSFP" => 0x1b,
            other => return Err(format!("unknown module form factor `{other}`")),
        })
    }
}

/// `enum mlx5e_ext_link_mode` bit for a speed and lane count (include/linux/mlx5/port.h).
pub fn ext_link_mode(gbps: u32, lanes: u8) -> Option<u32> {
    Some(match (gbps, lanes) {
        (10, 1) => 4,
        (40, 4) => 5,
        (25, 1) => 6,
        (50, 2) => 7,
        (50, 1) => 8,
        (100, 4) => 9,
        (100, 2) => 10,
        (100, 1) => 11,
        (200, 4) => 12,
        (200, 2) => 13,
        (200, 1) => 14,
        (400, 8) => 15,
        (400, 4) => 16,
        (400, 2) => 17,
        (800, 8) => 19,
        (800, 4) => 20,
        (1600, 8) => 23,
        _ => return None,
    })
}

impl Mlx5Profile {
    /// Checks what serde cannot: versions, names, link modes, PCIe encodings.
    pub fn validate(&self) -> Result<(), String> {
        self.fw_version_parts()?;
        if self.psid.len() > 16 {
            return Err(format!("psid `{}` is longer than 16 characters", self.psid));
        }
        if self.ports.is_empty() {
            return Err("no [[device.mlx5.port]]".into());
        }
        for (i, port) in self.ports.iter().enumerate() {
            let modes = std::iter::once([port.speed_gbps, port.lanes as u32]).chain(port.supported.iter().copied());
            for [gbps, lanes] in modes {
                if ext_link_mode(gbps, lanes as u8).is_none() {
                    return Err(format!("port {}: no link mode for {gbps} Gb/s over {lanes} lanes", i + 1));
                }
            }
            if let Some(module) = &port.module {
                module.identifier().map_err(|e| format!("port {}: {e}", i + 1))?;
            }
        }
        let p = &self.pcie;
        if !(1..=6).contains(&p.gen_enabled) || !(1..=6).contains(&p.gen_active) {
            return Err("pcie generations must be 1 to 6".into());
        }
        for size in [p.max_payload_bytes, p.max_read_request_bytes] {
            if !size.is_power_of_two() || !(128..=4096).contains(&size) {
                return Err(format!("pcie size {size} is not a power of two from 128 to 4096"));
            }
        }
        for name in &self.unsupported_registers {
            if super::registers::id_of(name).is_none() {
                return Err(format!("unsupported_registers: unknown register `{name}`"));
            }
        }
        Ok(())
    }

    /// `major.minor.subminor` as numbers.
    pub fn fw_version_parts(&self) -> Result<(u8, u8, u16), String> {
        let bad = || format!("fw_version `{}` is not major.minor.subminor", self.fw_version);
        let mut parts = self.fw_version.split('.');
        let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok()).ok_or_else(bad);
        let (major, minor, sub) = (next()?, next()?, next()?);
        Ok((u8::try_from(major).map_err(|_| bad())?, u8::try_from(minor).map_err(|_| bad())?, u16::try_from(sub).map_err(|_| bad())?))
    }
}
