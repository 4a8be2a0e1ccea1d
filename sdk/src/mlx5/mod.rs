//! mlx5 (ConnectX) over fwctl: command mailboxes, firmware status, and decoders.
//!
//! Every mlx5 structure is a run of big-endian dwords; [`bits`] is the one place that
//! reads and writes their bit fields. [`Mlx5`] wraps a [`Device`] with typed commands;
//! the decoders in [`registers`] and [`caps`] work on plain bytes, so they are testable
//! off the device.

pub mod caps;
pub mod module;
pub mod nvconfig;

pub use fwctl_proto::mlx5::bits;
pub mod registers;

use std::fmt;

use crate::{Device, RpcError, Scope};

/// Command opcodes used by diagnostics (`include/linux/mlx5/mlx5_ifc.h`), from the table
/// the host and the simulator read too ([`fwctl_proto::mlx5::commands`]).
pub mod opcode {
    pub use fwctl_proto::mlx5::commands::{
        ACCESS_REG, NOP, QUERY_ADAPTER, QUERY_HCA_CAP, QUERY_ISSI, QUERY_VPORT_COUNTER, QUERY_VPORT_STATE,
    };
}

/// QUERY_HCA_CAP capability types (`op_mod = type << 1 | current`).
pub mod cap_type {
    /// General device capabilities (`cmd_hca_cap`).
    pub const GENERAL: u16 = 0x0;
    /// Ethernet offloads.
    pub const ETHERNET_OFFLOADS: u16 = 0x1;
    /// RoCE.
    pub const ROCE: u16 = 0x4;
    /// Debug.
    pub const DEBUG: u16 = 0xd;
    /// General capabilities, part 2.
    pub const GENERAL_2: u16 = 0x20;
}

/// Bytes of the in and out mailbox headers.
pub const HEADER: usize = fwctl_proto::mlx5::prm::header::LEN;

/// Bytes of a capability in the QUERY_HCA_CAP out mailbox (after the header).
pub const CAP_SIZE: usize = fwctl_proto::mlx5::prm::hca_cap::OUT_LEN - HEADER;

/// An input mailbox under construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    bytes: Vec<u8>,
}

impl Mailbox {
    /// A 16-byte mailbox with `opcode` and `op_mod` set (the driver fills in the uid).
    pub fn new(opcode: u16, op_mod: u16) -> Self {
        let mut bytes = vec![0u8; HEADER];
        bits::set(&mut bytes, 0, 31, 16, opcode as u32);
        bits::set(&mut bytes, 1, 15, 0, op_mod as u32);
        Self { bytes }
    }

    /// Grows the mailbox to `len` bytes (zero-filled).
    pub fn with_len(mut self, len: usize) -> Self {
        self.bytes.resize(len.max(HEADER), 0);
        self
    }

    /// Sets bits `hi..=lo` of dword `dw`.
    pub fn set(mut self, dw: usize, hi: u32, lo: u32, value: u32) -> Self {
        bits::set(&mut self.bytes, dw, hi, lo, value);
        self
    }

    /// The bytes to send.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// An ACCESS_REG read of register `reg_id`: `argument` in dword 3, then `data`
    /// (the register image holding the index fields) zero-padded to `data_len` bytes.
    pub fn access_reg_read(reg_id: u16, argument: u32, data_len: usize, data: &[u8]) -> Self {
        let n = data.len().min(data_len);
        Self::access_reg_read_with(reg_id, argument, data_len, |image| image[..n].copy_from_slice(&data[..n]))
    }

    /// An ACCESS_REG read whose register image (`data_len` zero bytes) `index` fills in
    /// place: the mailbox is the only buffer a register read builds.
    pub fn access_reg_read_with(reg_id: u16, argument: u32, data_len: usize, index: impl FnOnce(&mut [u8])) -> Self {
        let mut bytes = vec![0u8; HEADER + data_len];
        bits::set(&mut bytes, 0, 31, 16, opcode::ACCESS_REG as u32);
        bits::set(&mut bytes, 1, 15, 0, ACCESS_REG_READ as u32);
        bits::set(&mut bytes, 2, 15, 0, reg_id as u32);
        bits::set(&mut bytes, 3, 31, 0, argument);
        index(&mut bytes[HEADER..]);
        Self { bytes }
    }
}

/// ACCESS_REG `op_mod` for a read (0 is a write, allowed at every scope: never send it
/// from a diagnostic by mistake).
pub const ACCESS_REG_READ: u16 = 1;

/// The opcode of an in mailbox (bytes 0–1).
pub fn opcode_of(input: &[u8]) -> u16 {
    bits::get(input, 0, 31, 16) as u16
}

/// The 16-byte out mailbox header every command answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutHeader {
    /// Firmware status, 0 for success (byte 0).
    pub status: u8,
    /// Syndrome: the firmware's detail code for a failure (dword 1).
    pub syndrome: u32,
}

impl OutHeader {
    /// Decodes the header; `None` when `out` is shorter than 16 bytes.
    pub fn decode(out: &[u8]) -> Option<Self> {
        (out.len() >= HEADER)
            .then(|| Self { status: bits::get(out, 0, 31, 24) as u8, syndrome: bits::get(out, 1, 31, 0) })
    }

    /// Whether the firmware executed the command successfully.
    pub fn is_ok(&self) -> bool {
        self.status == 0
    }

    /// The status name, e.g. `BAD_OP`.
    pub fn status_name(&self) -> &'static str {
        status_name(self.status)
    }
}

/// The name of a firmware command status (out header byte 0), e.g. `BAD_OP`.
pub fn status_name(status: u8) -> &'static str {
    fwctl_proto::mlx5::status::name(status)
}

/// Why an mlx5 command failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The RPC itself failed (refused by host or kernel, or the device is gone).
    Rpc(RpcError),
    /// Firmware executed the command and returned a status.
    Firmware {
        /// The command.
        opcode: u16,
        /// Status byte.
        status: u8,
        /// Syndrome.
        syndrome: u32,
    },
    /// The response was too short to hold what the command answers.
    Short {
        /// The command.
        opcode: u16,
        /// Bytes received.
        got: usize,
        /// Bytes needed.
        needed: usize,
    },
}

impl Error {
    /// The firmware status name for [`Error::Firmware`] (e.g. `BAD_PARAM`).
    pub fn status_name(&self) -> Option<&'static str> {
        match self {
            Self::Firmware { status, .. } => Some(status_name(*status)),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rpc(e) => e.fmt(f),
            Self::Firmware { opcode, status, syndrome } => write!(
                f,
                "firmware status {} ({status:#04x}), syndrome {syndrome:#010x}, for opcode {opcode:#06x}",
                status_name(*status)
            ),
            Self::Short { opcode, got, needed } => {
                write!(f, "response to opcode {opcode:#06x} has {got} bytes, {needed} needed")
            }
        }
    }
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

/// Typed commands on an mlx5 device.
pub struct Mlx5<'d, 'a> {
    device: &'d Device<'a>,
    scope: Scope,
}

impl<'d, 'a> Mlx5<'d, 'a> {
    /// Commands sent at debug-read-only, the scope the kernel requires for queries.
    pub fn new(device: &'d Device<'a>) -> Self {
        Self { device, scope: Scope::DebugReadOnly }
    }

    /// Sends a mailbox and checks the firmware status; returns the whole out mailbox
    /// (header included), `out_len` bytes long.
    pub fn command(&self, input: &[u8], out_len: usize) -> Result<Vec<u8>, Error> {
        self.command_at(self.scope, input, out_len)
    }

    /// [`Self::command`] at `scope` (a write: [`Scope::Configuration`]).
    pub fn command_at(&self, scope: Scope, input: &[u8], out_len: usize) -> Result<Vec<u8>, Error> {
        let opcode = opcode_of(input);
        let out = self.device.rpc(scope, input, out_len)?.data;
        let header = OutHeader::decode(&out).ok_or(Error::Short { opcode, got: out.len(), needed: HEADER })?;
        if !header.is_ok() {
            return Err(Error::Firmware { opcode, status: header.status, syndrome: header.syndrome });
        }
        if out.len() < out_len {
            return Err(Error::Short { opcode, got: out.len(), needed: out_len });
        }
        Ok(out)
    }

    /// QUERY_HCA_CAP of one capability type ([`cap_type`]), current or maximum values;
    /// returns the 4096-byte capability (the out mailbox after its header).
    pub fn query_hca_cap(&self, cap_type: u16, current: bool) -> Result<Vec<u8>, Error> {
        let input = Mailbox::new(opcode::QUERY_HCA_CAP, cap_type << 1 | current as u16).into_bytes();
        let out = self.command(&input, HEADER + CAP_SIZE)?;
        Ok(out[HEADER..].to_vec())
    }

    /// QUERY_HCA_CAP for the general capabilities (`current`: current rather than max).
    pub fn general_caps(&self, current: bool) -> Result<caps::GeneralCaps, Error> {
        self.query_hca_cap(cap_type::GENERAL, current).map(|cap| caps::GeneralCaps::decode(&cap))
    }

    /// QUERY_ADAPTER: the board's PSID and vendor ids.
    pub fn adapter(&self) -> Result<caps::Adapter, Error> {
        let out = self.command(&Mailbox::new(opcode::QUERY_ADAPTER, 0).into_bytes(), caps::ADAPTER_OUT_SIZE)?;
        Ok(caps::Adapter::decode(&out))
    }

    /// QUERY_ISSI: the interface step sequence id in use and the ones supported.
    pub fn query_issi(&self) -> Result<caps::Issi, Error> {
        let out = self.command(&Mailbox::new(opcode::QUERY_ISSI, 0).into_bytes(), caps::ISSI_OUT_SIZE)?;
        Ok(caps::Issi::decode(&out))
    }

    /// QUERY_VPORT_STATE of this function's own vNIC (`op_mod` 0).
    pub fn query_vport_state(&self) -> Result<caps::VportState, Error> {
        self.query_other_vport_state(0, None)
    }

    /// QUERY_VPORT_STATE: `op_mod` 0 vNIC, 1 e-switch, 2 uplink; `vport` names another
    /// vport (sets `other_vport`), `None` is the caller's own.
    pub fn query_other_vport_state(&self, op_mod: u16, vport: Option<u16>) -> Result<caps::VportState, Error> {
        let mut input = Mailbox::new(opcode::QUERY_VPORT_STATE, op_mod);
        if let Some(n) = vport {
            input = input.set(2, 31, 31, 1).set(2, 15, 0, n as u32);
        }
        let out = self.command(&input.into_bytes(), HEADER)?;
        Ok(caps::VportState::decode(&out))
    }

    /// ACCESS_REG read: register `reg_id`, `argument` (dword 3 of the mailbox), a
    /// register of `data_len` bytes whose request image starts with `data` (index
    /// fields such as the local port). Returns the register image the firmware wrote.
    pub fn access_reg_read(&self, reg_id: u16, argument: u32, data_len: usize, data: &[u8]) -> Result<Vec<u8>, Error> {
        let input = Mailbox::access_reg_read(reg_id, argument, data_len, data).into_bytes();
        self.register_image(&input, data_len)
    }

    /// Reads a register: `index` fills the request's index fields (port, sensor, group)
    /// in a zeroed image of `size` bytes.
    pub fn read_register(&self, id: u16, size: usize, index: impl FnOnce(&mut [u8])) -> Result<Vec<u8>, Error> {
        let input = Mailbox::access_reg_read_with(id, 0, size, index).into_bytes();
        self.register_image(&input, size)
    }

    /// Sends an ACCESS_REG read and returns the register image after the out header, in
    /// the response's own buffer (register reads are most of a diagnostic's commands).
    fn register_image(&self, input: &[u8], data_len: usize) -> Result<Vec<u8>, Error> {
        let mut out = self.command(input, HEADER + data_len)?;
        out.drain(..HEADER);
        Ok(out)
    }

    /// MGIR: firmware version, PSID, device id.
    pub fn mgir(&self) -> Result<registers::Mgir, Error> {
        self.read_register(registers::MGIR, registers::MGIR_SIZE, |_| {}).map(|r| registers::Mgir::decode(&r))
    }

    /// MSGI: the board's serial and part number and product name.
    pub fn msgi(&self) -> Result<registers::Msgi, Error> {
        self.read_register(registers::MSGI, registers::MSGI_SIZE, |_| {}).map(|r| registers::Msgi::decode(&r))
    }

    /// MCQI version information of firmware component `component` (0: the running
    /// image): how the kernel itself reads the firmware version.
    pub fn mcqi_version(&self, component: u16) -> Result<registers::McqiVersion, Error> {
        self.read_register(registers::MCQI, registers::MCQI_VERSION_SIZE, |r| {
            bits::set(r, 0, 15, 0, component as u32);
            bits::set(r, 2, 4, 0, registers::MCQI_INFO_VERSION);
            bits::set(r, 5, 15, 0, (registers::MCQI_VERSION_SIZE - registers::MCQI_DATA) as u32);
        })
        .map(|r| registers::McqiVersion::decode(&r))
    }

    /// MCQS of firmware component `component` (0: the running image).
    pub fn mcqs(&self, component: u16) -> Result<registers::Mcqs, Error> {
        self.read_register(registers::MCQS, registers::MCQS_SIZE, |r| bits::set(r, 0, 15, 0, component as u32))
            .map(|r| registers::Mcqs::decode(&r))
    }

    /// QUERY_VPORT_COUNTER of this function's vport, without clearing (`clear` stays 0).
    pub fn query_vport_counter(&self) -> Result<caps::VportCounters, Error> {
        let input = Mailbox::new(opcode::QUERY_VPORT_COUNTER, 0).with_len(caps::VPORT_COUNTER_IN_SIZE);
        let out = self.command(&input.into_bytes(), caps::VPORT_COUNTER_OUT_SIZE)?;
        Ok(caps::VportCounters::decode(&out))
    }

    /// MTCAP: how many temperature sensors there are, and which.
    pub fn mtcap(&self) -> Result<registers::Mtcap, Error> {
        self.read_register(registers::MTCAP, registers::MTCAP_SIZE, |_| {}).map(|r| registers::Mtcap::decode(&r))
    }

    /// MTMP for a sensor (0 = ASIC, 64 + N = module N).
    pub fn mtmp(&self, sensor: u16) -> Result<registers::Mtmp, Error> {
        self.read_register(registers::MTMP, registers::MTMP_SIZE, |r| bits::set(r, 0, 11, 0, sensor as u32))
            .map(|r| registers::Mtmp::decode(&r))
    }

    /// PAOS for a local port (1-based).
    pub fn paos(&self, port: u8) -> Result<registers::Paos, Error> {
        self.read_register(registers::PAOS, registers::PAOS_SIZE, |r| bits::set(r, 0, 23, 16, port as u32))
            .map(|r| registers::Paos::decode(&r))
    }

    /// PTYS (Ethernet) for a local port (1-based).
    pub fn ptys(&self, port: u8) -> Result<registers::Ptys, Error> {
        self.read_register(registers::PTYS, registers::PTYS_SIZE, |r| {
            bits::set(r, 0, 23, 16, port as u32);
            bits::set(r, 0, 2, 0, registers::PTYS_PROTO_ETH);
        })
        .map(|r| registers::Ptys::decode(&r))
    }

    /// MPEIN: the PCIe link.
    pub fn mpein(&self) -> Result<registers::Mpein, Error> {
        self.read_register(registers::MPEIN, registers::MPEIN_SIZE, |_| {}).map(|r| registers::Mpein::decode(&r))
    }

    /// MPCNT's PCIe performance counters of the device's PCIe link (never cleared).
    pub fn mpcnt_pcie(&self) -> Result<registers::PcieCounters, Error> {
        use fwctl_proto::mlx5::prm::mpcnt;
        self.read_register(registers::MPCNT, registers::MPCNT_SIZE, |r| mpcnt::GRP.set(r, mpcnt::GROUP_PERFORMANCE))
            .map(|r| registers::PcieCounters::decode(&r))
    }

    /// PMTU for a local port (1-based).
    pub fn pmtu(&self, port: u8) -> Result<registers::Pmtu, Error> {
        self.read_register(registers::PMTU, registers::PMTU_SIZE, |r| bits::set(r, 0, 23, 16, port as u32))
            .map(|r| registers::Pmtu::decode(&r))
    }

    /// A PPCNT counter group of a local port, read without clearing (`clr` stays 0:
    /// a diagnostic must not reset the counters other tools rely on).
    pub fn ppcnt(&self, port: u8, group: u32) -> Result<Vec<u8>, Error> {
        self.read_register(registers::PPCNT, registers::PPCNT_SIZE, |r| {
            bits::set(r, 0, 23, 16, port as u32);
            bits::set(r, 0, 5, 0, group);
        })
    }

    /// PPCNT IEEE 802.3 counters.
    pub fn ppcnt_ieee(&self, port: u8) -> Result<registers::Ieee8023, Error> {
        self.ppcnt(port, registers::ppcnt_group::IEEE_802_3).map(|r| registers::Ieee8023::decode(&r))
    }

    /// PPCNT physical-layer counters.
    pub fn ppcnt_physical(&self, port: u8) -> Result<registers::PhysicalLayer, Error> {
        self.ppcnt(port, registers::ppcnt_group::PHYSICAL_LAYER).map(|r| registers::PhysicalLayer::decode(&r))
    }

    /// PPLM: the port's active FEC.
    pub fn pplm(&self, port: u8) -> Result<registers::Pplm, Error> {
        self.read_register(registers::PPLM, registers::PPLM_SIZE, |r| bits::set(r, 0, 23, 16, port as u32))
            .map(|r| registers::Pplm::decode(&r))
    }

    /// SLRG: the receive eye of one lane of a local port. `measure` is the
    /// `fom_measurement` to ask a 7 nm lane for (`EYE_*` bits; other generations ignore
    /// it); 0 reads what the lane already knows. Anything else starts the lane's
    /// eye-opening monitor, which the host grants as a register write, not a read.
    pub fn slrg(&self, port: u8, lane: u8, measure: u32) -> Result<registers::Slrg, Error> {
        use fwctl_proto::mlx5::prm::slrg;
        self.read_register(registers::SLRG, registers::SLRG_SIZE, |r| {
            slrg::LOCAL_PORT.set(r, port as u32);
            slrg::LANE.set(r, lane as u32);
            slrg::nm7::FOM_MEASUREMENT.set(r, measure);
        })
        .map(|r| registers::Slrg::decode(&r, measure))
    }

    /// PPCNT physical-layer statistical counters (BER).
    pub fn ppcnt_statistical(&self, port: u8) -> Result<registers::PhysicalStatistical, Error> {
        self.ppcnt(port, registers::ppcnt_group::PHYSICAL_STATISTICAL)
            .map(|r| registers::PhysicalStatistical::decode(&r))
    }

    /// PDDR troubleshooting page of a local port.
    pub fn pddr_troubleshooting(&self, port: u8) -> Result<registers::PddrTroubleshooting, Error> {
        self.read_register(registers::PDDR, registers::PDDR_SIZE, |r| {
            bits::set(r, 0, 23, 16, port as u32);
            bits::set(r, 1, 7, 0, registers::PDDR_PAGE_TROUBLESHOOTING);
        })
        .map(|r| registers::PddrTroubleshooting::decode(&r))
    }

    /// MCIA: `size` bytes (at most 128) at `address` of module `module`'s lower page.
    pub fn mcia(&self, module: u8, address: u16, size: u16) -> Result<registers::Mcia, Error> {
        self.read_register(registers::MCIA, registers::MCIA_SIZE, |r| {
            bits::set(r, 0, 23, 16, module as u32);
            bits::set(r, 1, 31, 24, registers::MCIA_I2C_LOW);
            bits::set(r, 1, 15, 0, address as u32);
            bits::set(r, 2, 15, 0, size as u32);
        })
        .map(|r| registers::Mcia::decode(&r))
    }

    /// MCIA: `size` bytes (at most 128) at `address` of module `module`'s memory at the
    /// I²C address A0h: lower memory (`page` `None`, addresses 0–127) or an upper page
    /// (addresses 128–255).
    pub fn mcia_at(&self, module: u8, page: Option<u8>, address: u16, size: u16) -> Result<registers::Mcia, Error> {
        self.read_register(registers::MCIA, registers::MCIA_SIZE, |r| {
            bits::set(r, 0, 23, 16, module as u32);
            bits::set(r, 1, 31, 24, registers::MCIA_I2C_LOW);
            bits::set(r, 1, 23, 16, page.unwrap_or(0) as u32);
            bits::set(r, 1, 15, 0, address as u32);
            bits::set(r, 2, 15, 0, size as u32);
        })
        .map(|r| registers::Mcia::decode(&r))
    }

    /// MCAM group 0: which management registers (0x9000–0x907f) the firmware implements.
    pub fn mcam(&self) -> Result<registers::AccessRegMask, Error> {
        self.read_register(registers::MCAM, registers::MCAM_SIZE, |_| {})
            .map(|r| registers::AccessRegMask::decode(&r, registers::MCAM_BASE))
    }

    /// PCAM group 0: which port registers (0x5000–0x507f) the firmware implements.
    pub fn pcam(&self) -> Result<registers::AccessRegMask, Error> {
        self.read_register(registers::PCAM, registers::PCAM_SIZE, |_| {})
            .map(|r| registers::AccessRegMask::decode(&r, registers::PCAM_BASE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_headers_carry_opcode_and_op_mod() {
        let m = Mailbox::new(opcode::QUERY_HCA_CAP, cap_type::GENERAL << 1 | 1).into_bytes();
        assert_eq!(m, [0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(opcode_of(&m), 0x100);
    }

    #[test]
    fn access_reg_reads_put_id_argument_and_index_in_place() {
        let m =
            Mailbox::access_reg_read(registers::PAOS, 0xdead_beef, registers::PAOS_SIZE, &[0x00, 0x01]).into_bytes();
        assert_eq!(m.len(), 32);
        assert_eq!(&m[0..8], &[0x08, 0x05, 0, 0, 0, 0, 0, 1], "ACCESS_REG, op_mod 1 (read)");
        assert_eq!(&m[8..16], &[0, 0, 0x50, 0x06, 0xde, 0xad, 0xbe, 0xef], "register id at 10-11, argument 12-15");
        assert_eq!(&m[16..20], &[0x00, 0x01, 0, 0], "local port 1 in the image");
        assert!(m[20..].iter().all(|&b| b == 0));
    }

    #[test]
    fn out_headers_name_the_firmware_status() {
        let mut out = [0u8; 16];
        out[0] = 0x02;
        out[4..8].copy_from_slice(&0x0012_3456u32.to_be_bytes());
        let h = OutHeader::decode(&out).unwrap();
        assert_eq!((h.status, h.syndrome, h.status_name(), h.is_ok()), (2, 0x12_3456, "BAD_OP", false));
        assert!(OutHeader::decode(&out[..15]).is_none());
        assert!(OutHeader::decode(&[0u8; 16]).unwrap().is_ok());
        assert_eq!(status_name(0x51), "BAD_OUTP_LEN");
        assert_eq!(status_name(0x99), "UNKNOWN");

        let e = Error::Firmware { opcode: 0x805, status: 0x03, syndrome: 0xabc };
        assert_eq!(e.status_name(), Some("BAD_PARAM"));
        assert_eq!(e.to_string(), "firmware status BAD_PARAM (0x03), syndrome 0x00000abc, for opcode 0x0805");
    }
}
