//! mlx5 (ConnectX) over fwctl: command mailboxes, firmware status, and decoders.
//!
//! Every mlx5 structure is a run of big-endian dwords; [`bits`] is the one place that
//! reads and writes their bit fields. [`Mlx5`] wraps a [`Device`] with typed commands;
//! the decoders in [`registers`] and [`caps`] work on plain bytes, so they are testable
//! off the device.

pub mod caps;

pub use fwctl_proto::mlx5::bits;
pub mod registers;

use std::fmt;

use crate::{Device, RpcError, Scope};

/// Command opcodes used by diagnostics (`include/linux/mlx5/mlx5_ifc.h`).
pub mod opcode {
    /// QUERY_HCA_CAP.
    pub const QUERY_HCA_CAP: u16 = 0x100;
    /// QUERY_ADAPTER.
    pub const QUERY_ADAPTER: u16 = 0x101;
    /// QUERY_ISSI.
    pub const QUERY_ISSI: u16 = 0x10a;
    /// QUERY_VPORT_STATE.
    pub const QUERY_VPORT_STATE: u16 = 0x750;
    /// QUERY_VPORT_COUNTER.
    pub const QUERY_VPORT_COUNTER: u16 = 0x770;
    /// ACCESS_REG.
    pub const ACCESS_REG: u16 = 0x805;
    /// NOP.
    pub const NOP: u16 = 0x80d;
}

/// Bytes of the in and out mailbox headers.
pub const HEADER: usize = 16;

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
}

/// The name of a firmware command status (out header byte 0).
pub fn status_name(status: u8) -> &'static str {
    match status {
        0x00 => "OK",
        0x01 => "INT_ERR",
        0x02 => "BAD_OP",
        0x03 => "BAD_PARAM",
        0x04 => "BAD_SYS_STATE",
        0x05 => "BAD_RES",
        0x06 => "RES_BUSY",
        0x07 => "NOT_READY",
        0x08 => "LIM_ERR",
        0x09 => "BAD_RES_STATE",
        0x0a => "IX_ERR",
        0x0f => "NO_RES",
        0x10 => "BAD_QP_STATE",
        0x30 => "BAD_PKT",
        0x40 => "BAD_SIZE_OUTS_CQES",
        0x50 => "BAD_INP_LEN",
        0x51 => "BAD_OUTP_LEN",
        _ => "UNKNOWN",
    }
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

    /// Sends a mailbox and checks the firmware status; returns the out mailbox.
    pub fn command(&self, input: &[u8], out_len: usize) -> Result<Vec<u8>, Error> {
        let response = self.device.rpc(self.scope, input, out_len)?;
        let out = response.data;
        let status = bits::get(&out, 0, 31, 24) as u8;
        if status != 0 {
            let opcode = bits::get(input, 0, 31, 16) as u16;
            return Err(Error::Firmware { opcode, status, syndrome: bits::get(&out, 1, 31, 0) });
        }
        Ok(out)
    }

    /// QUERY_HCA_CAP for the general capabilities (`current`: current rather than max).
    pub fn general_caps(&self, current: bool) -> Result<caps::GeneralCaps, Error> {
        let input = Mailbox::new(opcode::QUERY_HCA_CAP, current as u16).into_bytes();
        let out = self.command(&input, HEADER + 4096)?;
        Ok(caps::GeneralCaps::decode(&out[HEADER..]))
    }

    /// QUERY_ADAPTER: the board's PSID and vendor ids.
    pub fn adapter(&self) -> Result<caps::Adapter, Error> {
        let out = self.command(&Mailbox::new(opcode::QUERY_ADAPTER, 0).into_bytes(), 272)?;
        Ok(caps::Adapter::decode(&out))
    }

    /// Reads a register: `index` fills the request's index fields (port, sensor, group).
    pub fn read_register(&self, id: u16, size: usize, index: impl FnOnce(&mut [u8])) -> Result<Vec<u8>, Error> {
        let mut input = Mailbox::new(opcode::ACCESS_REG, 1).with_len(HEADER + size).set(2, 15, 0, id as u32).into_bytes();
        index(&mut input[HEADER..]);
        let out = self.command(&input, HEADER + size)?;
        Ok(out[HEADER..].to_vec())
    }

    /// MGIR: firmware version, PSID, device id.
    pub fn mgir(&self) -> Result<registers::Mgir, Error> {
        self.read_register(registers::MGIR, registers::MGIR_SIZE, |_| {}).map(|r| registers::Mgir::decode(&r))
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

    /// PTYS (Ethernet) for a local port.
    pub fn ptys(&self, port: u8) -> Result<registers::Ptys, Error> {
        self.read_register(registers::PTYS, registers::PTYS_SIZE, |r| {
            bits::set(r, 0, 23, 16, port as u32);
            bits::set(r, 0, 2, 0, 4);
        })
        .map(|r| registers::Ptys::decode(&r))
    }

    /// MPEIN: the PCIe link.
    pub fn mpein(&self) -> Result<registers::Mpein, Error> {
        self.read_register(registers::MPEIN, registers::MPEIN_SIZE, |_| {}).map(|r| registers::Mpein::decode(&r))
    }

    /// MCAM group 0: which management registers the firmware implements.
    pub fn mcam(&self) -> Result<registers::AccessRegMask, Error> {
        self.read_register(registers::MCAM, registers::MCAM_SIZE, |_| {})
            .map(|r| registers::AccessRegMask::decode(&r, 0x9000))
    }
}
