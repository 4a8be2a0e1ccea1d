//! The firmware behind the mlx5 command interface: what a ConnectX answers to the
//! commands diagnostics send. Errors are statuses in the output mailbox, never errnos.

use fwctl_proto::mlx5::bits::{get, set, set_ascii, set_u64};
use super::profile::{CounterGrowth, Mlx5Profile};
use super::registers;

/// Command statuses (out header byte 0), from the PRM / `cmd.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Internal error.
    IntErr = 0x01,
    /// Unknown or unsupported opcode.
    BadOp = 0x02,
    /// A parameter is out of range (also: a register this firmware does not implement).
    BadParam = 0x03,
    /// The input mailbox is shorter than the command needs.
    BadInpLen = 0x50,
    /// The output mailbox is shorter than the command produces.
    BadOutpLen = 0x51,
}

impl Status {
    /// A syndrome per status, stable so tests and plugins can match on it.
    fn syndrome(self, opcode: u16) -> u32 {
        let base = match self {
            Self::IntErr => 0x0a1b_0000,
            Self::BadOp => 0x0b0d_0000,
            Self::BadParam => 0x0c3e_0000,
            Self::BadInpLen => 0x0d50_0000,
            Self::BadOutpLen => 0x0d51_0000,
        };
        base | opcode as u32
    }
}

/// Counters of one port, advanced on every PPCNT read.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub reads: u64,
    pub frames_tx: u64,
    pub frames_rx: u64,
    pub fcs_errors: u64,
    pub symbol_errors: u64,
    pub fec_corrected: u64,
    pub fec_uncorrectable: u64,
    pub bits: u64,
}

/// Live state of one port.
#[derive(Clone, Debug, Default)]
pub struct PortState {
    pub counters: Counters,
}

impl PortState {
    /// One more sampling interval has passed.
    pub fn advance(&mut self, growth: &CounterGrowth) {
        let c = &mut self.counters;
        c.reads += 1;
        c.frames_tx += growth.frames;
        c.frames_rx += growth.frames;
        c.symbol_errors += growth.symbol_errors;
        c.fec_corrected += growth.fec_corrected;
        c.fec_uncorrectable += growth.fec_uncorrectable;
        c.bits += growth.bits;
    }

    /// PPCNT `clr`.
    pub fn clear(&mut self) {
        self.counters = Counters::default();
    }
}

/// The device's firmware: its profile and its mutable state, shared by all open handles.
#[derive(Debug)]
pub struct Firmware {
    profile: Mlx5Profile,
    ports: Vec<PortState>,
    vport_counters: [u64; 26],
    /// The uid of the last command executed (tests check the driver forced it).
    #[cfg(test)]
    pub(super) last_uid: u16,
}

const OUT_HEADER: usize = 16;

impl Firmware {
    /// Boots firmware for a profile.
    pub fn new(profile: Mlx5Profile) -> Self {
        let ports = vec![PortState::default(); profile.ports.len()];
        Self {
            profile,
            ports,
            vport_counters: [0; 26],
            #[cfg(test)]
            last_uid: 0,
        }
    }

    /// The profile.
    pub fn profile(&self) -> &Mlx5Profile {
        &self.profile
    }

    /// Executes one command: `input` is the full in mailbox, the result has exactly
    /// `out_len` bytes (the driver's buffer), status and syndrome in its header.
    pub fn execute(&mut self, input: &[u8], out_len: usize) -> Vec<u8> {
        let mut out = vec![0u8; out_len];
        let opcode = get(input, 0, 31, 16) as u16;
        let op_mod = get(input, 1, 15, 0) as u16;
        #[cfg(test)]
        {
            self.last_uid = get(input, 0, 15, 0) as u16;
        }
        if let Err(status) = self.dispatch(opcode, op_mod, input, &mut out) {
            out.fill(0);
            set(&mut out, 0, 31, 24, status as u32);
            set(&mut out, 1, 31, 0, status.syndrome(opcode));
        }
        out
    }

    fn dispatch(&mut self, opcode: u16, op_mod: u16, input: &[u8], out: &mut [u8]) -> Result<(), Status> {
        let need = |in_len: usize, out_size: usize| {
            if input.len() < in_len {
                Err(Status::BadInpLen)
            } else if out.len() < out_size {
                Err(Status::BadOutpLen)
            } else {
                Ok(())
            }
        };
        match opcode {
            0x100 => {
                // QUERY_HCA_CAP
                need(16, OUT_HEADER + 4096)?;
                self.query_hca_cap(op_mod >> 1, &mut out[OUT_HEADER..])
            }
            0x101 => {
                // QUERY_ADAPTER
                need(16, 272)?;
                out[41..44].copy_from_slice(&[0x00, 0x02, 0xc9]); // Mellanox IEEE OUI
                out[46..48].copy_from_slice(&0x15b3u16.to_be_bytes()); // vsd_vendor_id
                set_ascii(out, 48, 208, "fwctl-run simulated ConnectX firmware");
                set_ascii(out, 256, 16, &self.profile.psid);
                Ok(())
            }
            0x10a => {
                // QUERY_ISSI: current 1, supported {0, 1}
                need(16, 112)?;
                out[10..12].copy_from_slice(&1u16.to_be_bytes());
                out[111] = 0b11;
                Ok(())
            }
            0x750 => {
                // QUERY_VPORT_STATE (own vport): admin auto, state follows port 1
                need(16, 16)?;
                let up = self.profile.ports.first().is_some_and(|p| p.oper_up);
                set(out, 3, 7, 4, 2);
                set(out, 3, 3, 0, up as u32);
                Ok(())
            }
            0x770 => {
                // QUERY_VPORT_COUNTER: 13 {packets, octets} blocks
                need(32, 528)?;
                for (i, value) in self.vport_counters.iter_mut().enumerate() {
                    *value += if i % 2 == 0 { 1000 } else { 1_000_000 };
                }
                for (i, value) in self.vport_counters.iter().enumerate() {
                    set_u64(out, OUT_HEADER + i * 8, *value);
                }
                if get(input, 6, 31, 31) == 1 {
                    self.vport_counters = [0; 26];
                }
                Ok(())
            }
            0x80d => {
                // NOP
                need(16, 16)
            }
            0x805 | 0xb0c => {
                // ACCESS_REG / ACCESS_REGISTER_USER
                let register_id = get(input, 2, 15, 0) as u16;
                let size = registers::size_of(register_id);
                need(OUT_HEADER + size, OUT_HEADER + size)?;
                if self.profile.unsupported_registers.iter().any(|r| registers::id_of(r) == Some(register_id)) {
                    return Err(Status::BadParam);
                }
                if op_mod == 0 {
                    // Register writes are not modelled: the diagnostic plugins only read.
                    return Err(Status::BadParam);
                }
                let reg = &mut out[OUT_HEADER..OUT_HEADER + size];
                reg.copy_from_slice(&input[OUT_HEADER..OUT_HEADER + size]);
                registers::read(register_id, reg, &self.profile, &mut self.ports)
            }
            _ => Err(Status::BadOp),
        }
    }

    /// QUERY_HCA_CAP: the general capabilities; other types this model does not carry
    /// come back as an empty capability, unknown types as BAD_PARAM.
    fn query_hca_cap(&self, cap_type: u16, cap: &mut [u8]) -> Result<(), Status> {
        match cap_type {
            0x0 => {}
            0x1 | 0x4 | 0xd | 0x20 => return Ok(()),
            _ => return Err(Status::BadParam),
        }
        let p = &self.profile;
        set(cap, 1, 15, 0, p.vhca_id as u32);
        set(cap, 4, 4, 0, 17); // log_max_qp
        set(cap, 6, 4, 0, 24); // log_max_cq
        set(cap, 7, 3, 0, 7); // log_max_eq
        set(cap, 12, 30, 30, 1); // vport_counters
        set(cap, 12, 28, 28, 1); // debug
        set(cap, 12, 15, 0, 128); // pkey_table_size
        set(cap, 13, 24, 24, 1); // eswitch_manager
        let mcam = !p.unsupported_registers.iter().any(|r| r == "MCAM");
        let pcam = !p.unsupported_registers.iter().any(|r| r == "PCAM");
        set(cap, 13, 22, 22, mcam as u32);
        set(cap, 13, 21, 21, pcam as u32);
        set(cap, 13, 9, 8, 1); // port_type: Ethernet
        set(cap, 13, 7, 0, p.ports.len() as u32);
        set(cap, 14, 19, 16, 8); // max_tc
        set(cap, 14, 15, 15, 1); // temp_warn_event
        set(cap, 16, 2, 2, 1); // roce
        set(cap, 25, 20, 16, 23); // log_max_pd
        set(cap, 35, 15, 0, 1024); // max_num_eqs
        set(cap, 38, 31, 0, 1000); // device_frequency_mhz
        set(cap, 53, 31, 0, if p.tools_uid { 0x4 } else { 0 }); // uctx_cap
        Ok(())
    }
}
