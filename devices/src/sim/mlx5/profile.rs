//! What a simulated ConnectX device is: the `[device.mlx5]` table of a fleet file.
//!
//! ```toml
//! [device.mlx5]
//! device_id = 0x1021
//! fw_version = "28.39.1002"
//! psid = "MT_0000000834"
//! asic = { celsius = 56.5, warn_celsius = 105.0, critical_celsius = 120.0 }
//! pcie = { width_enabled = 16, width_active = 16, gen_enabled = 5, gen_active = 5 }
//!
//! [[device.mlx5.port]]
//! admin_up = true
//! oper_up = true
//! speed_gbps = 400
//! lanes = 4
//! module = { form_factor = "OSFP", celsius = 44.0 }
//! ```
//!
//! Every table refuses unknown keys, so a typo fails loudly instead of silently
//! simulating a default.

use serde::Deserialize;

/// The `[device.mlx5]` table of a simulator profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mlx5Profile {
    /// PCI device id (0x1021 ConnectX-7, 0x101d ConnectX-6 Dx); MGIR reports it.
    pub device_id: u16,
    /// Hardware revision (MGIR).
    #[serde(default)]
    pub hw_revision: u16,
    /// Running firmware version, `major.minor.subminor` (e.g. `28.39.1002`).
    pub fw_version: String,
    /// A firmware image burnt but not yet activated: MCQS then reports "active pending
    /// reset" and MCQI with `read_pending_component` returns this version.
    #[serde(default)]
    pub pending_fw_version: Option<String>,
    /// Parameter-set id, the board's identity (QUERY_ADAPTER, MGIR), at most 16 characters.
    pub psid: String,
    /// Vendor-specific data text of QUERY_ADAPTER.
    #[serde(default)]
    pub vsd: String,
    /// What the ports speak (HCA_CAP `port_type`): `eth` or `ib`.
    #[serde(default)]
    pub port_type: PortType,
    /// Whether firmware offers the TOOLS_RESOURCES user-context capability (HCA_CAP
    /// `uctx_cap` bit 2). The driver asks for it on open when offered; without it the
    /// uid has only RDMA devx rights and register writes are refused.
    #[serde(default = "yes")]
    pub tools_resources: bool,
    /// The function's vhca_id (QUERY_HCA_CAP).
    #[serde(default)]
    pub vhca_id: u16,
    /// Base MAC of the function (QUERY_NIC_VPORT_CONTEXT permanent address), `aa:bb:..`.
    #[serde(default = "mac_default")]
    pub mac: String,
    /// The command interface is down (firmware fatal error, PCI error): the driver then
    /// fails opens with ENOLINK and RPCs with ENXIO, as `cmd.c` does.
    #[serde(default)]
    pub command_interface_down: bool,
    /// The ASIC's temperature sensor (MTMP sensor 0).
    pub asic: Sensor,
    /// The PCIe link (MPEIN).
    pub pcie: Pcie,
    /// The network ports, port 1 first.
    #[serde(rename = "port")]
    pub ports: Vec<Port>,
    /// Registers this firmware does not implement (by name: `PDDR`, `MCIA`, ...); they are
    /// missing from MCAM/PCAM and ACCESS_REG on them fails with BAD_PARAM.
    #[serde(default)]
    pub unsupported_registers: Vec<String>,
    /// Non-volatile configuration (what mlxconfig queries and sets).
    #[serde(default)]
    pub nvconfig: NvProfile,
    /// The board's serial number as MSGI reports it: the device's `serial` (the one its
    /// VPD carries), set when the driver is built; not a key of this table.
    #[serde(skip)]
    pub board_serial: Option<String>,
}

/// The `[device.mlx5.nvconfig]` table: the device's stored configuration.
///
/// ```toml
/// [device.mlx5.nvconfig]
/// vpi = true                              # ports carry LINK_TYPE_Pn (VPI adapters)
/// max_vfs = 127                           # the most VFs a PF may have
/// current = { CQE_COMPRESSION = "AGGRESSIVE" }  # running values besides the defaults
/// next = { NUM_OF_VFS = 16 }              # set for the next boot, pending a reset
/// read_only = ["CQE_COMPRESSION"]         # items firmware will not write
/// ignores_writes = false                  # fault: writes acknowledged, nothing kept
/// ```
///
/// SR-IOV runs as `pcie.num_vfs` says unless `current` says otherwise; every other
/// parameter runs at its factory default (0, and the port type for LINK_TYPE).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NvProfile {
    /// A VPI adapter: each port has a link type item.
    #[serde(default)]
    pub vpi: bool,
    /// `nv_global_pci_cap.max_vfs_per_pf`.
    #[serde(default = "max_vfs_default")]
    pub max_vfs: u16,
    /// Running values, by mlxconfig name.
    #[serde(default)]
    pub current: std::collections::BTreeMap<String, NvValue>,
    /// Next-boot values that differ from the running ones, by mlxconfig name.
    #[serde(default)]
    pub next: std::collections::BTreeMap<String, NvValue>,
    /// Parameters whose items firmware refuses to write (MNVQC `support_wr` 0).
    #[serde(default)]
    pub read_only: Vec<String>,
    /// Fault: writes are acknowledged and nothing is kept (read-back catches it).
    #[serde(default)]
    pub ignores_writes: bool,
}

impl Default for NvProfile {
    fn default() -> Self {
        Self {
            vpi: false,
            max_vfs: max_vfs_default(),
            current: Default::default(),
            next: Default::default(),
            read_only: Vec::new(),
            ignores_writes: false,
        }
    }
}

fn max_vfs_default() -> u16 {
    127
}

/// A parameter's value in a profile: `true`, `16` or `"ETH"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum NvValue {
    /// `True` / `False`.
    Bool(bool),
    /// A number.
    Number(u32),
    /// A value name.
    Name(String),
}

/// Link protocol of the ports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortType {
    /// Ethernet (HCA_CAP port_type 1, PTYS proto_mask 4).
    #[default]
    Eth,
    /// InfiniBand (HCA_CAP port_type 0, PTYS proto_mask 1).
    Ib,
}

/// A temperature sensor with its thresholds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// Current reading, °C.
    pub celsius: f64,
    /// Highest reading since reset, °C (defaults to the current one).
    #[serde(default)]
    pub max_celsius: Option<f64>,
    /// Warning threshold (MTMP temp_threshold_hi), °C.
    #[serde(default = "asic_warn_default")]
    pub warn_celsius: f64,
    /// Critical threshold, °C (where firmware shuts the device down; MTMP has no field for
    /// it, diagnostics compare against it themselves).
    #[serde(default = "asic_critical_default")]
    pub critical_celsius: f64,
}

/// The PCIe link as MPEIN reports it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pcie {
    /// Lanes the device is enabled for.
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
    /// Virtual functions (also the vports other-vport queries may name).
    #[serde(default)]
    pub num_vfs: u16,
    /// Max payload size, bytes (128–4096, a power of two).
    #[serde(default = "payload_default")]
    pub max_payload_bytes: u16,
    /// Max read request size, bytes (128–4096, a power of two).
    #[serde(default = "read_request_default")]
    pub max_read_request_bytes: u16,
    /// Power drawn, W.
    #[serde(default)]
    pub power_watts: u16,
    /// The link's error counters (MPCNT PCIe performance group), all 0 by default.
    #[serde(default)]
    pub errors: PcieErrors,
}

/// PCIe error counters since the device came up, as MPCNT reports them.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcieErrors {
    /// Receiver errors.
    #[serde(default)]
    pub rx: u32,
    /// Transmitter errors.
    #[serde(default)]
    pub tx: u32,
    /// Times the link left L0 for recovery (counted as retrain).
    #[serde(default)]
    pub recovery: u32,
    /// DLLPs with a CRC error.
    #[serde(default)]
    pub crc_dllp: u32,
    /// TLPs with a CRC error.
    #[serde(default)]
    pub crc_tlp: u32,
}

/// One network port.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Administratively up (PAOS admin_status; a PAOS write may change it at run time).
    pub admin_up: bool,
    /// Link up when administratively up.
    pub oper_up: bool,
    /// Link speed in Gb/s when up (Ethernet: 10 … 1600; InfiniBand: lanes × lane rate).
    pub speed_gbps: u32,
    /// SerDes lanes of that speed (Ethernet 1, 2, 4, 8; InfiniBand 1, 2, 4, 8, 12).
    pub lanes: u8,
    /// Further speeds the port supports, as `[gbps, lanes]` pairs.
    #[serde(default)]
    pub supported: Vec<[u32; 2]>,
    /// Operational MTU (PMTU admin and oper; QUERY_NIC_VPORT_CONTEXT for port 1).
    #[serde(default = "mtu_default")]
    pub mtu: u16,
    /// Largest MTU the port allows.
    #[serde(default = "max_mtu_default")]
    pub max_mtu: u16,
    /// Link-down events counted before the simulation starts (PPCNT physical layer).
    #[serde(default)]
    pub link_down_events: u32,
    /// How much counters grow per PPCNT read of this port (one simulated second), so a
    /// diagnostic that samples twice sees a rate. Traffic grows only while the link is up.
    #[serde(default)]
    pub growth: CounterGrowth,
    /// The PDDR troubleshooting message; by default one that fits the port's state.
    #[serde(default)]
    pub troubleshooting: Option<String>,
    /// The PDDR monitor opcode to go with `troubleshooting` (default: 0 when the link is
    /// up, else a model value; see `registers.rs`).
    #[serde(default)]
    pub troubleshooting_opcode: Option<u16>,
    /// The active FEC (PPLM), by its `MLX5E_FEC_*` bit: default RS-FEC (544,514) on
    /// PAM4 lanes (50 Gb/s and up per lane), RS-FEC (528,514) at 25 Gb/s a lane, none below.
    #[serde(default)]
    pub fec: Option<u32>,
    /// The pluggable module in the port's cage, if any.
    #[serde(default)]
    pub module: Option<Module>,
    /// Each lane's receive eye against a healthy one (1.0), lane 0 first; lanes not listed
    /// are healthy. SLRG reports it in the terms of the board's SerDes (`registers.rs`).
    #[serde(default)]
    pub eye: Vec<f64>,
}

/// Per-read growth of a port's counters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterGrowth {
    /// Frames transmitted and received (IEEE 802.3 group; also the vport counters).
    #[serde(default)]
    pub frames: u64,
    /// Frame check sequence errors.
    #[serde(default)]
    pub fcs_errors: u64,
    /// Symbol errors (physical layer and statistical groups).
    #[serde(default)]
    pub symbol_errors: u64,
    /// RS-FEC corrected blocks.
    #[serde(default)]
    pub fec_corrected: u64,
    /// RS-FEC uncorrectable blocks.
    #[serde(default)]
    pub fec_uncorrectable: u64,
    /// Bits received (statistical group; the raw BER denominator).
    #[serde(default)]
    pub bits: u64,
    /// Bits corrected by FEC (statistical group).
    #[serde(default)]
    pub corrected_bits: u64,
    /// How `corrected_bits` splits over the lanes PPCNT counts (at most four), as
    /// relative shares: `[1, 1, 8, 1]` puts most on lane 2, as a dirty connector does.
    /// Default: evenly over the port's lanes.
    #[serde(default)]
    pub corrected_bits_by_lane: Vec<f64>,
    /// Link-down events.
    #[serde(default)]
    pub link_down_events: u32,
}

/// A pluggable module (cable or transceiver).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// SFF-8024 identifier name: `SFP`, `QSFP`, `QSFP+`, `QSFP28`, `QSFP-DD`, `OSFP`,
    /// `DSFP`, `QSFP112`.
    pub form_factor: String,
    /// Module temperature, °C (MTMP sensor 64 + N, and the EEPROM's monitor).
    pub celsius: f64,
    /// Warning threshold, °C.
    #[serde(default = "module_warn_default")]
    pub warn_celsius: f64,
    /// Alarm threshold, °C.
    #[serde(default = "module_critical_default")]
    pub critical_celsius: f64,
    /// Vendor name (EEPROM, 16 characters at most).
    #[serde(default = "vendor_default")]
    pub vendor: String,
    /// Vendor part number (16 characters at most).
    #[serde(default)]
    pub part_number: String,
    /// Vendor serial number (16 characters at most).
    #[serde(default)]
    pub serial_number: String,
    /// `optical` or `copper` (PTYS connector_type FIBRE or DA).
    #[serde(default)]
    pub media: Media,
    /// Rx power of each lane, mW (lanes not listed: 0.8 mW on an optical module). A
    /// passive copper cable has no monitors: its words and thresholds stay 0.
    #[serde(default)]
    pub rx_power_mw: Vec<f64>,
    /// Tx power of each lane, mW (default 0.9 mW).
    #[serde(default)]
    pub tx_power_mw: Vec<f64>,
    /// Tx bias of each lane, mA (default 7.5 mA).
    #[serde(default)]
    pub tx_bias_ma: Vec<f64>,
    /// Supply voltage, V.
    #[serde(default = "module_volts_default")]
    pub volts: f64,
}

/// What a module carries the signal on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    /// A transceiver with fibre.
    #[default]
    Optical,
    /// A direct-attach copper cable.
    Copper,
}

fn yes() -> bool {
    true
}
fn one() -> u16 {
    1
}
fn asic_warn_default() -> f64 {
    105.0
}
fn asic_critical_default() -> f64 {
    120.0
}
fn module_warn_default() -> f64 {
    70.0
}
fn module_critical_default() -> f64 {
    75.0
}
fn module_volts_default() -> f64 {
    3.3
}
fn vendor_default() -> String {
    "NVIDIA".into()
}
fn mac_default() -> String {
    "b8:3f:d2:00:00:00".into()
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
    /// A lane's monitor value from `values` (lane 0 first), else `optical` on an optical
    /// module; 0 on copper, which has no monitors.
    pub fn lane(&self, values: &[f64], lane: usize, optical: f64) -> f64 {
        match self.media {
            Media::Copper => 0.0,
            Media::Optical => values.get(lane).copied().unwrap_or(optical),
        }
    }

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
            "QSFP112" => 0x1e,
            other => return Err(format!("unknown module form factor `{other}`")),
        })
    }
}

/// `enum mlx5e_ext_link_mode` bit for an Ethernet speed and lane count
/// (include/linux/mlx5/port.h).
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

/// PTYS InfiniBand protocol bit and link-width bit for a speed and lane count.
///
/// Protocol bits are mlx5_ib's `enum mlx5_ptys_rate` (SDR bit 0 … XDR bit 8, lane rates
/// 2.5/5/10/14/25/50/100/200 Gb/s; not in the extracted tree, from drivers/infiniband);
/// widths are `MLX5_PTYS_WIDTH_*` of include/linux/mlx5/port.h.
pub fn ib_link_mode(gbps: u32, lanes: u8) -> Option<(u32, u32)> {
    let width = match lanes {
        1 => 1 << 0,
        2 => 1 << 1,
        4 => 1 << 2,
        8 => 1 << 3,
        12 => 1 << 4,
        _ => return None,
    };
    // Per-lane rate in tenths of Gb/s, so SDR's 2.5 stays an integer.
    let per_lane_tenths = (gbps * 10).checked_div(lanes as u32)?;
    if per_lane_tenths * lanes as u32 != gbps * 10 {
        return None;
    }
    let proto = match per_lane_tenths {
        25 => 1 << 0,
        50 => 1 << 1,
        100 => 1 << 2,
        140 => 1 << 4,
        250 => 1 << 5,
        500 => 1 << 6,
        1000 => 1 << 7,
        2000 => 1 << 8,
        _ => return None,
    };
    Some((proto, width))
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// `major.minor.subminor` as numbers, each in the range MCQI's version dword holds.
pub fn parse_fw_version(text: &str) -> Result<(u8, u8, u16), String> {
    let bad = || format!("firmware version `{text}` is not major.minor.subminor (255.255.65535 at most)");
    let parts: Vec<&str> = text.split('.').collect();
    let [major, minor, sub] = parts.as_slice() else { return Err(bad()) };
    Ok((major.parse().map_err(|_| bad())?, minor.parse().map_err(|_| bad())?, sub.parse().map_err(|_| bad())?))
}

impl Mlx5Profile {
    /// Checks what serde cannot: versions, names, link modes, PCIe encodings.
    pub fn validate(&self) -> Result<(), String> {
        parse_fw_version(&self.fw_version)?;
        let nv = &self.nvconfig;
        for (name, value) in nv.current.iter().chain(&nv.next) {
            let (p, _) = super::nvconfig::resolve(name, value).map_err(|e| format!("nvconfig: {e}"))?;
            if p.port != 0 && (!nv.vpi || p.port as usize > self.ports.len()) {
                return Err(format!("nvconfig: {name} needs `vpi = true` and a port {}", p.port));
            }
        }
        if let Some(name) = nv.read_only.iter().find(|n| fwctl_proto::mlx5::nvconfig::parameter(n).is_none()) {
            return Err(format!("nvconfig: read_only names `{name}`, which is no parameter"));
        }
        if let Some(pending) = &self.pending_fw_version {
            parse_fw_version(pending)?;
        }
        if self.psid.len() > 16 || !self.psid.is_ascii() {
            return Err(format!("psid `{}` is not ASCII of at most 16 characters", self.psid));
        }
        parse_mac(&self.mac).ok_or_else(|| format!("mac `{}` is not aa:bb:cc:dd:ee:ff", self.mac))?;
        if self.ports.is_empty() || self.ports.len() > 32 {
            return Err("a device has 1 to 32 [[device.mlx5.port]] tables".into());
        }
        for (i, port) in self.ports.iter().enumerate() {
            let n = i + 1;
            let modes = std::iter::once([port.speed_gbps, port.lanes as u32]).chain(port.supported.iter().copied());
            for [gbps, lanes] in modes {
                let lanes = u8::try_from(lanes).unwrap_or(0);
                let known = match self.port_type {
                    PortType::Eth => ext_link_mode(gbps, lanes).is_some(),
                    PortType::Ib => ib_link_mode(gbps, lanes).is_some(),
                };
                if !known {
                    return Err(format!("port {n}: no link mode for {gbps} Gb/s over {lanes} lanes"));
                }
            }
            if port.mtu > port.max_mtu {
                return Err(format!("port {n}: mtu {} is above max_mtu {}", port.mtu, port.max_mtu));
            }
            let shares = &port.growth.corrected_bits_by_lane;
            if shares.len() > 4 || shares.iter().any(|s| !s.is_finite() || *s < 0.0) {
                return Err(format!("port {n}: corrected_bits_by_lane must be at most 4 shares ≥ 0"));
            }
            if port.eye.len() > usize::from(port.lanes) || port.eye.iter().any(|q| !q.is_finite() || *q < 0.0) {
                return Err(format!("port {n}: eye must be at most one value ≥ 0 a lane ({} lanes)", port.lanes));
            }
            if let Some(fec) = port.fec
                && fwctl_proto::mlx5::prm::pplm::mode_name(fec).is_none()
            {
                return Err(format!("port {n}: fec {fec} is not an MLX5E_FEC_* bit (0, 1, 2, 4, 7, 9)"));
            }
            if let Some(module) = &port.module {
                module.identifier().map_err(|e| format!("port {n}: {e}"))?;
                for text in [&module.vendor, &module.part_number, &module.serial_number] {
                    if text.len() > 16 || !text.is_ascii() {
                        return Err(format!("port {n}: module text `{text}` is not ASCII of at most 16 characters"));
                    }
                }
                for (key, values) in [
                    ("rx_power_mw", &module.rx_power_mw),
                    ("tx_power_mw", &module.tx_power_mw),
                    ("tx_bias_ma", &module.tx_bias_ma),
                ] {
                    if values.len() > 8 || values.iter().any(|v| !v.is_finite() || *v < 0.0) {
                        return Err(format!("port {n}: module {key} must be at most 8 lanes of values ≥ 0"));
                    }
                }
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

    /// The product name MSGI reports, by PCI device id (the model's wording).
    pub fn product_name(&self) -> &'static str {
        match self.device_id {
            0x101d => "ConnectX-6 Dx",
            0x1021 => "ConnectX-7",
            _ => "ConnectX",
        }
    }

    /// The SerDes generation SLRG reports (`slrg::VERSION_*`), as the model assigns it by
    /// PCI device id: 16 nm for ConnectX-6 Dx, 7 nm for ConnectX-7 and any other. (A real
    /// device says which in each answer; the SDK decodes by that, never by the board.)
    pub fn serdes_version(&self) -> u32 {
        use fwctl_proto::mlx5::prm::slrg;
        match self.device_id {
            0x101d => slrg::VERSION_16NM,
            _ => slrg::VERSION_7NM,
        }
    }

    /// Whether firmware implements register `id` (known to the model and not listed in
    /// `unsupported_registers`).
    pub fn supports_register(&self, id: u16) -> bool {
        super::registers::name_of(id).is_some_and(|name| !self.unsupported_registers.iter().any(|u| u == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_macs_and_link_modes_parse() {
        assert_eq!(parse_fw_version("28.39.1002"), Ok((28, 39, 1002)));
        assert!(parse_fw_version("28.39").is_err());
        assert!(parse_fw_version("256.1.1").is_err());
        assert!(parse_fw_version("1.2.3.4").is_err());
        assert_eq!(parse_mac("b8:3f:d2:0a:0b:ff"), Some([0xb8, 0x3f, 0xd2, 0x0a, 0x0b, 0xff]));
        assert_eq!(parse_mac("b8:3f:d2:0a:0b"), None);
        assert_eq!(parse_mac("b8:3f:d2:0a:0b:ff:00"), None);
        assert_eq!(ext_link_mode(400, 4), Some(16));
        assert_eq!(ib_link_mode(400, 4), Some((1 << 7, 1 << 2)), "NDR 4x");
        assert_eq!(ib_link_mode(10, 4), Some((1 << 0, 1 << 2)), "SDR 4x");
        assert_eq!(ib_link_mode(400, 3), None);
        assert_eq!(ib_link_mode(400, 0), None);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = r#"
            device_id = 0x1021
            fw_version = "28.39.1002"
            psid = "MT_0000000834"
            asic = { celsius = 50.0 }
            pcie = { width_enabled = 16, width_active = 16, gen_enabled = 5, gen_active = 5 }
            colour = "blue"
            [[port]]
            admin_up = true
            oper_up = true
            speed_gbps = 400
            lanes = 4
        "#;
        let err = toml::from_str::<Mlx5Profile>(text).unwrap_err().to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let ok: Mlx5Profile = toml::from_str(&text.replace("colour = \"blue\"", "")).unwrap();
        ok.validate().unwrap();
        assert_eq!((ok.asic.warn_celsius, ok.asic.critical_celsius), (105.0, 120.0));
        assert!(ok.tools_resources);
        assert_eq!(ok.port_type, PortType::Eth);
        // A lane's eye must be a number ≥ 0, for no more lanes than the port has.
        let base = text.replace("colour = \"blue\"", "");
        for (eye, says) in [("[1.0, nan]", "eye must be"), ("[-0.5]", "eye must be"), ("[1, 1, 1, 1, 1]", "4 lanes")] {
            let bad: Mlx5Profile = toml::from_str(&format!("{base}            eye = {eye}\n")).unwrap();
            let err = bad.validate().unwrap_err();
            assert!(err.contains(says), "{eye}: {err}");
        }
    }
}
