//! The firmware behind the mlx5 command interface: what a ConnectX answers to the commands
//! diagnostics send.
//!
//! A command always produces an out mailbox of exactly the length the driver gave
//! (`mlx5_cmd_do()` copies `out_size` bytes back, the bytes firmware does not write being
//! zero). Failures are a status and a syndrome in the out header, never an errno: the
//! fwctl driver treats `-EREMOTEIO` ("executed, status != 0") as success.
//!
//! Syndromes of real firmware are opaque 32-bit values; the model's are listed in
//! [`syndrome`], stable so that tests and plugins can tell reasons apart.

use std::collections::BTreeMap;

use nix::errno::Errno;

use super::allow_list;
use super::prm::{self, header};
use super::profile::{Mlx5Profile, PortType, parse_mac};
use super::registers;

/// The statuses the model answers with (out header byte 0), valued from
/// [`fwctl_proto::mlx5::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Internal error.
    IntErr = status::INT_ERR,
    /// Unknown or unsupported opcode.
    BadOp = status::BAD_OP,
    /// A parameter is out of range (also: a register this firmware does not implement,
    /// which is what ConnectX firmware answers for an unknown register id).
    BadParam = status::BAD_PARAM,
    /// The named resource (object) does not exist or is not the caller's.
    BadRes = status::BAD_RES,
    /// Out of resources (no free user context).
    NoRes = status::NO_RES,
    /// The input mailbox is shorter than the command needs.
    BadInpLen = status::BAD_INP_LEN,
    /// The output mailbox is shorter than the command produces.
    BadOutpLen = status::BAD_OUTP_LEN,
}

impl Status {
    /// The errno the kernel turns a status into where it does (`cmd_status_to_err()`;
    /// the fwctl path does not, only the driver's own CREATE_UCTX on open).
    pub fn errno(status: u8) -> Option<Errno> {
        use status::*;
        Some(match status {
            OK => return None,
            INT_ERR | BAD_SYS_STATE | BAD_INP_LEN | BAD_OUTP_LEN => Errno::EIO,
            BAD_OP | BAD_PARAM | BAD_RES | BAD_RES_STATE | IX_ERR | BAD_QP_STATE | BAD_PKT | BAD_SIZE_OUTS_CQES => {
                Errno::EINVAL
            }
            RES_BUSY => Errno::EBUSY,
            NOT_READY | NO_RES => Errno::EAGAIN,
            LIM_ERR => Errno::ENOMEM,
            _ => Errno::EIO,
        })
    }
}

/// The model's syndromes, one per reason a command fails.
pub mod syndrome {
    /// BAD_OP: the opcode is unknown to this firmware.
    pub const UNKNOWN_OPCODE: u32 = 0x51d0_0001;
    /// BAD_OP: a real command the simulator does not implement.
    pub const NOT_MODELLED: u32 = 0x51d0_0002;
    /// BAD_PARAM: op_mod is not valid for the command.
    pub const BAD_OP_MOD: u32 = 0x51d0_0003;
    /// BAD_INP_LEN: the in mailbox is shorter than the command's layout.
    pub const IN_TOO_SHORT: u32 = 0x51d0_0004;
    /// BAD_OUTP_LEN: the out mailbox is shorter than the answer.
    pub const OUT_TOO_SHORT: u32 = 0x51d0_0005;
    /// BAD_PARAM: the register id is not implemented (or the profile disabled it).
    pub const UNKNOWN_REGISTER: u32 = 0x51d0_0006;
    /// BAD_PARAM: a write to a register that is read-only (in this model).
    pub const READ_ONLY_REGISTER: u32 = 0x51d0_0007;
    /// BAD_PARAM: the user context lacks TOOLS_RESOURCES, needed to change device state.
    pub const NEEDS_TOOLS_RESOURCES: u32 = 0x51d0_0008;
    /// BAD_PARAM: local_port names no port.
    pub const BAD_LOCAL_PORT: u32 = 0x51d0_0009;
    /// BAD_PARAM: an index (sensor, module, component, group, page) names nothing.
    pub const BAD_INDEX: u32 = 0x51d0_000a;
    /// BAD_PARAM: a field's value is out of range.
    pub const BAD_FIELD: u32 = 0x51d0_000b;
    /// BAD_PARAM: QUERY_HCA_CAP for a capability type this device does not have.
    pub const UNKNOWN_CAP_TYPE: u32 = 0x51d0_000c;
    /// BAD_PARAM: other_vport / vport_number / function_id names no function.
    pub const BAD_VPORT: u32 = 0x51d0_000d;
    /// BAD_RES: the object queried does not exist (fwctl contexts own no objects).
    pub const NO_SUCH_OBJECT: u32 = 0x51d0_000e;
    /// BAD_PARAM: SET_HCA_CAP on the tools uid must target another function.
    pub const SET_HCA_CAP_SELF: u32 = 0x51d0_000f;
    /// BAD_PARAM: the command may come only from the kernel (uid 0), or the header names
    /// a uid that does not exist.
    pub const BAD_UID: u32 = 0x51d0_0010;
    /// NO_RES: every uid is in use.
    pub const NO_FREE_UID: u32 = 0x51d0_0011;
    /// BAD_PARAM: MNVDA names a configuration item this firmware does not have.
    pub const NV_UNKNOWN_ITEM: u32 = 0x51d0_0012;
    /// BAD_PARAM: an MNVDA write whose length is not the item's.
    pub const NV_BAD_LENGTH: u32 = 0x51d0_0013;
    /// BAD_PARAM: an MNVDA write to an item firmware does not let be written.
    pub const NV_READ_ONLY: u32 = 0x51d0_0014;
    /// BAD_PARAM: a read of a register that can only be written (MNVIA).
    pub const WRITE_ONLY_REGISTER: u32 = 0x51d0_0015;
}

/// Why a command failed: what goes into the out header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Out header status.
    pub status: Status,
    /// Out header syndrome.
    pub syndrome: u32,
}

impl Failure {
    /// A failure with its status and syndrome.
    pub const fn new(status: Status, syndrome: u32) -> Self {
        Self { status, syndrome }
    }
    /// BAD_PARAM with a syndrome.
    pub const fn param(syndrome: u32) -> Self {
        Self::new(Status::BadParam, syndrome)
    }
}

/// A command's outcome inside the firmware model.
pub type Outcome = Result<(), Failure>;

/// Fails with BAD_INP_LEN / BAD_OUTP_LEN when a mailbox is shorter than the command's
/// layout; firmware checks the input first.
pub fn need(input: &[u8], in_len: usize, out: &[u8], out_len: usize) -> Outcome {
    if input.len() < in_len {
        Err(Failure::new(Status::BadInpLen, syndrome::IN_TOO_SHORT))
    } else if out.len() < out_len {
        Err(Failure::new(Status::BadOutpLen, syndrome::OUT_TOO_SHORT))
    } else {
        Ok(())
    }
}

/// Opcodes, from the one table of them.
use fwctl_proto::mlx5::commands as op;
use fwctl_proto::mlx5::status;

/// Queries of objects a user context would have had to create first: fwctl contexts
/// cannot create any, so firmware finds none (BAD_RES).
const OBJECT_QUERIES: &[u16] = &[
    0x201, 0x303, 0x402, 0x50b, 0x602, 0x702, 0x707, 0x713, 0x719, 0x773, 0x784, 0x82a, 0x903, 0x907, 0x90b, 0x90f,
    0x915, 0x919, 0x932, 0x935, 0x937, 0x93b, 0x93f, 0x942, 0x962, 0xa02, 0xa09, 0x8001,
];

/// `MLX5_UCTX_OBJECT_CAP_*`: RAW_TX, INTERNAL_DEVICE_RESOURCES, TOOLS_RESOURCES.
pub const UCTX_CAP_RAW_TX: u32 = 0x1;
/// See [`UCTX_CAP_RAW_TX`].
pub const UCTX_CAP_INTERNAL_DEVICE_RESOURCES: u32 = 0x2;
/// See [`UCTX_CAP_RAW_TX`].
pub const UCTX_CAP_TOOLS_RESOURCES: u32 = 0x4;

/// The 13 `traffic_counter` blocks of QUERY_VPORT_COUNTER, {packets, octets} each.
const VPORT_COUNTERS: usize = 26;

/// Counters of the IEEE 802.3 group.
#[derive(Clone, Debug, Default)]
pub struct Ieee8023 {
    pub frames_tx: u64,
    pub frames_rx: u64,
    pub fcs_errors: u64,
    pub octets_tx: u64,
    pub octets_rx: u64,
}

/// Counters of the physical layer group.
#[derive(Clone, Debug, Default)]
pub struct PhysicalLayer {
    /// Reads since the group was cleared (one simulated second each).
    pub ticks: u64,
    pub symbol_errors: u64,
    pub fec_corrected: u64,
    pub fec_uncorrectable: u64,
    pub fec_no_errors: u64,
    pub link_down_events: u32,
    pub successful_recovery_events: u32,
}

/// Counters of the physical statistical group.
#[derive(Clone, Debug, Default)]
pub struct PhysicalStatistical {
    pub ticks: u64,
    pub received_bits: u64,
    pub symbol_errors: u64,
    pub corrected_bits: u64,
    pub lane_corrected_bits: [u64; 4],
}

/// Run-time state of one port.
#[derive(Clone, Debug)]
pub struct PortState {
    /// PAOS admin status (writable).
    pub admin_up: bool,
    /// PMTU admin MTU (writable).
    pub admin_mtu: u16,
    pub ieee: Ieee8023,
    pub physical: PhysicalLayer,
    pub statistical: PhysicalStatistical,
}

/// Everything a device remembers between commands, shared by all handles.
#[derive(Debug)]
pub struct State {
    pub ports: Vec<PortState>,
    /// QUERY_VPORT_COUNTER of the own vport.
    pub vport_counters: [u64; VPORT_COUNTERS],
    /// MTMP max_temperature of the ASIC, 0.125 °C (reset by `mtr`).
    pub asic_max_eighths: u32,
    /// The command interface is down: nothing reaches firmware.
    pub command_interface_down: bool,
    /// Non-volatile configuration (MNVDA, MNVQC, MNVIA), built from the profile on first
    /// use: a fleet of 10,000 simulated devices that nobody configures does not hold it.
    nv: Option<Box<super::nvconfig::NvConfig>>,
    /// Live user contexts: uid -> caps.
    uids: BTreeMap<u16, u32>,
    /// Where the search for a free uid starts, so a closed uid is not handed out again at
    /// once (as firmware does, and so that stale uids show up in tests).
    next_uid: u16,
}

impl State {
    /// The non-volatile configuration, as the profile describes it until changed.
    pub fn nv(&mut self, profile: &Mlx5Profile) -> &mut super::nvconfig::NvConfig {
        self.nv.get_or_insert_with(|| Box::new(super::nvconfig::NvConfig::new(profile)))
    }
}

/// The device's firmware: its profile and its mutable state.
#[derive(Debug)]
pub struct Firmware {
    profile: Mlx5Profile,
    state: State,
    /// The uid of the last command executed (tests check the driver forced it).
    #[cfg(test)]
    pub(super) last_uid: u16,
}

/// Degrees Celsius to MTMP's unsigned 0.125 °C units.
pub fn eighths(celsius: f64) -> u32 {
    (celsius * 8.0).round().clamp(0.0, 65535.0) as u32
}

impl Firmware {
    /// Boots firmware for a (validated) profile.
    pub fn new(profile: Mlx5Profile) -> Self {
        let ports = profile
            .ports
            .iter()
            .map(|p| PortState {
                admin_up: p.admin_up,
                admin_mtu: p.mtu,
                ieee: Ieee8023::default(),
                physical: PhysicalLayer { link_down_events: p.link_down_events, ..Default::default() },
                statistical: PhysicalStatistical::default(),
            })
            .collect();
        let asic_max = profile.asic.max_celsius.unwrap_or(profile.asic.celsius).max(profile.asic.celsius);
        let state = State {
            ports,
            vport_counters: [0; VPORT_COUNTERS],
            asic_max_eighths: eighths(asic_max),
            command_interface_down: profile.command_interface_down,
            nv: None,
            uids: BTreeMap::new(),
            next_uid: 1,
        };
        Self {
            profile,
            state,
            #[cfg(test)]
            last_uid: 0,
        }
    }

    /// HCA_CAP `uctx_cap`: what user contexts may ask for.
    pub fn uctx_cap(&self) -> u32 {
        let tools = if self.profile.tools_resources { UCTX_CAP_TOOLS_RESOURCES } else { 0 };
        UCTX_CAP_RAW_TX | UCTX_CAP_INTERNAL_DEVICE_RESOURCES | tools
    }

    /// Whether the command interface is down (fatal firmware error, PCI error).
    pub fn command_interface_down(&self) -> bool {
        self.state.command_interface_down
    }

    /// Takes the command interface down or up at run time (a firmware fatal error).
    #[cfg(test)]
    pub(super) fn set_command_interface_down(&mut self, down: bool) {
        self.state.command_interface_down = down;
    }

    /// A firmware reset (`mlxfwreset`, or a reboot): next-boot configuration becomes
    /// current.
    pub fn reset(&mut self) {
        if let Some(nv) = &mut self.state.nv {
            nv.reset();
        }
    }

    /// Live user contexts (for tests).
    pub fn live_uids(&self) -> Vec<u16> {
        self.state.uids.keys().copied().collect()
    }

    /// Executes one command: `input` is the full in mailbox; the result has exactly
    /// `out_len` bytes, status and syndrome in its header.
    pub fn execute(&mut self, input: &[u8], out_len: usize) -> Vec<u8> {
        let mut out = vec![0u8; out_len];
        #[cfg(test)]
        {
            self.last_uid = header::UID.get(input) as u16;
        }
        if let Err(failure) = self.dispatch(input, &mut out) {
            out.fill(0);
            header::STATUS.set(&mut out, failure.status as u32);
            header::SYNDROME.set(&mut out, failure.syndrome);
        }
        out
    }

    fn dispatch(&mut self, input: &[u8], out: &mut [u8]) -> Outcome {
        // Firmware needs at least the header to know what is asked; the driver already
        // guarantees 16 bytes each way, a direct caller may not.
        need(input, header::LEN, out, header::LEN)?;
        let opcode = header::OPCODE.get(input) as u16;
        let op_mod = header::OP_MOD.get(input) as u16;
        let uid = header::UID.get(input) as u16;
        // uid 0 is the kernel's own; any other must be a live user context.
        let caps = match uid {
            0 => None,
            _ => Some(*self.state.uids.get(&uid).ok_or(Failure::param(syndrome::BAD_UID))?),
        };
        let tools = caps.is_none_or(|c| c & UCTX_CAP_TOOLS_RESOURCES != 0);
        match opcode {
            op::QUERY_HCA_CAP => self.query_hca_cap(op_mod, input, out),
            op::QUERY_ADAPTER => self.query_adapter(input, out),
            op::SET_HCA_CAP => {
                need(input, prm::hca_cap::OUT_LEN, out, header::LEN)?;
                if !tools {
                    return Err(Failure::param(syndrome::NEEDS_TOOLS_RESOURCES));
                }
                if !prm::hca_cap::OTHER_FUNCTION.is_set(input) {
                    return Err(Failure::param(syndrome::SET_HCA_CAP_SELF));
                }
                Err(Failure::new(Status::BadOp, syndrome::NOT_MODELLED))
            }
            op::QUERY_ISSI => {
                need(input, header::LEN, out, prm::query_issi::OUT_LEN)?;
                prm::query_issi::CURRENT_ISSI.set(out, 1);
                prm::query_issi::SUPPORTED_ISSI_DW0.set(out, 0b11); // ISSI 0 and 1
                Ok(())
            }
            op::QUERY_VPORT_STATE => self.query_vport_state(op_mod, input, out),
            op::QUERY_NIC_VPORT_CONTEXT => self.query_nic_vport_context(input, out),
            op::QUERY_VPORT_COUNTER => self.query_vport_counter(input, out),
            op::NOP => need(input, header::LEN, out, header::LEN),
            allow_list::ACCESS_REG | allow_list::ACCESS_REGISTER_USER => {
                registers::access(&self.profile, &mut self.state, op_mod, tools, input, out)
            }
            op::CREATE_UCTX => self.create_uctx(uid, input, out),
            op::DESTROY_UCTX => self.destroy_uctx(uid, input, out),
            op if OBJECT_QUERIES.contains(&op) => Err(Failure::new(Status::BadRes, syndrome::NO_SUCH_OBJECT)),
            op if allow_list::name(op).is_some() => Err(Failure::new(Status::BadOp, syndrome::NOT_MODELLED)),
            _ => Err(Failure::new(Status::BadOp, syndrome::UNKNOWN_OPCODE)),
        }
    }

    /// Checks other_vport/vport_number: the PF may name itself (0) or one of its VFs.
    fn check_vport(&self, other_vport: bool, vport_number: u32) -> Outcome {
        if other_vport && vport_number > self.profile.pcie.num_vfs as u32 {
            return Err(Failure::param(syndrome::BAD_VPORT));
        }
        if !other_vport && vport_number != 0 {
            return Err(Failure::param(syndrome::BAD_VPORT));
        }
        Ok(())
    }

    /// Whether port `index` (0-based) has link: admin up (now) and the profile's link up.
    pub fn link_up(&self, index: usize) -> bool {
        link_up(&self.profile, &self.state, index)
    }

    /// QUERY_HCA_CAP: op_mod = cap_type << 1 | current. The general capabilities are
    /// modelled; ETH offloads and RoCE (Ethernet devices), DEBUG and GENERAL_2 answer an
    /// all-zero capability; other types are BAD_PARAM. Max and current are the same.
    fn query_hca_cap(&self, op_mod: u16, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::hca_cap::general as g;
        need(input, header::LEN, out, prm::hca_cap::OUT_LEN)?;
        let other = prm::hca_cap::OTHER_FUNCTION.is_set(input);
        let function = prm::hca_cap::FUNCTION_ID.get(input);
        self.check_vport(other, function)?;
        let eth = self.profile.port_type == PortType::Eth;
        match op_mod >> 1 {
            0x0 => {}
            0x1 | 0x4 if eth => return Ok(()),
            0xd | 0x20 => return Ok(()),
            _ => return Err(Failure::param(syndrome::UNKNOWN_CAP_TYPE)),
        }
        let p = &self.profile;
        let cap = &mut out[header::LEN..];
        let vhca_id = if other { function } else { p.vhca_id as u32 };
        g::VHCA_ID.set(cap, vhca_id);
        g::LOG_MAX_QP_SZ.set(cap, 15);
        g::LOG_MAX_QP.set(cap, 17);
        g::LOG_MAX_CQ_SZ.set(cap, 22);
        g::LOG_MAX_CQ.set(cap, 24);
        g::LOG_MAX_EQ_SZ.set(cap, 22);
        g::LOG_MAX_EQ.set(cap, 7);
        g::VPORT_COUNTERS.set(cap, 1);
        g::DEBUG.set(cap, 1);
        g::PKEY_TABLE_SIZE.set(cap, if eth { 0 } else { 128 });
        g::ESWITCH_MANAGER.set(cap, !other as u32);
        g::MCAM_REG.set(cap, p.supports_register(registers::MCAM) as u32);
        g::PCAM_REG.set(cap, p.supports_register(registers::PCAM) as u32);
        g::PORT_TYPE.set(cap, if eth { 1 } else { 0 });
        g::NUM_PORTS.set(cap, p.ports.len() as u32);
        g::MAX_TC.set(cap, 8);
        g::TEMP_WARN_EVENT.set(cap, 1);
        g::ROCE.set(cap, eth as u32);
        g::LOG_MAX_PD.set(cap, 23);
        g::MAX_NUM_EQS.set(cap, 1024);
        g::DEVICE_FREQUENCY_MHZ.set(cap, 1000);
        g::UCTX_CAP.set(cap, self.uctx_cap());
        Ok(())
    }

    /// QUERY_ADAPTER: vendor ids, VSD and the PSID.
    fn query_adapter(&self, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::query_adapter as q;
        need(input, header::LEN, out, q::OUT_LEN)?;
        // Mellanox's IEEE OUI 00:02:c9 and PCI vendor id 0x15b3.
        out[q::IEEE_VENDOR_ID_BYTE..q::IEEE_VENDOR_ID_BYTE + 3].copy_from_slice(&[0x00, 0x02, 0xc9]);
        out[q::VSD_VENDOR_ID_BYTE..q::VSD_VENDOR_ID_BYTE + 2].copy_from_slice(&0x15b3u16.to_be_bytes());
        prm::set_ascii(out, q::VSD_BYTE, q::VSD_LEN, &self.profile.vsd);
        prm::set_ascii(out, q::PSID_BYTE, 16, &self.profile.psid);
        Ok(())
    }

    /// QUERY_VPORT_STATE: op_mod 0 vNIC, 1 e-switch vport, 2 uplink. The PF's vNIC and its
    /// VFs follow port 1's link; admin_state is "follow" (2) for them, the uplink's is the
    /// port's PAOS admin state. max_tx_speed is 0 (no rate limit).
    fn query_vport_state(&self, op_mod: u16, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::query_vport_state as q;
        need(input, header::LEN, out, q::OUT_LEN)?;
        if op_mod > 2 {
            return Err(Failure::param(syndrome::BAD_OP_MOD));
        }
        self.check_vport(q::OTHER_VPORT.is_set(input), q::VPORT_NUMBER.get(input))?;
        let up = self.link_up(0);
        let admin = if op_mod == 2 { self.state.ports.first().is_some_and(|p| p.admin_up) as u32 } else { 2 };
        q::ADMIN_STATE.set(out, admin);
        q::STATE.set(out, up as u32);
        Ok(())
    }

    /// QUERY_NIC_VPORT_CONTEXT: MTU of port 1, GUIDs and the permanent MAC (the base MAC
    /// plus the vport number, as firmware assigns them).
    fn query_nic_vport_context(&self, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::query_nic_vport_context as q;
        need(input, header::LEN, out, q::OUT_LEN)?;
        let vport = q::VPORT_NUMBER.get(input);
        self.check_vport(q::OTHER_VPORT.is_set(input), vport)?;
        let base = parse_mac(&self.profile.mac).unwrap_or_default();
        let mac = (u64::from_be_bytes([0, 0, base[0], base[1], base[2], base[3], base[4], base[5]]) + vport as u64)
            & 0xffff_ffff_ffff;
        let m = mac.to_be_bytes();
        let guid = u64::from_be_bytes([m[2], m[3], m[4], 0xff, 0xfe, m[5], m[6], m[7]]);
        q::MTU.set(out, self.state.ports.first().map_or(1500, |p| p.admin_mtu) as u32);
        prm::set_u64(out, q::SYSTEM_IMAGE_GUID_BYTE, guid & !0xff);
        prm::set_u64(out, q::PORT_GUID_BYTE, guid);
        prm::set_u64(out, q::NODE_GUID_BYTE, guid & !0xff);
        out[q::PERMANENT_MAC_BYTE..q::PERMANENT_MAC_BYTE + 6].copy_from_slice(&m[2..8]);
        Ok(())
    }

    /// QUERY_VPORT_COUNTER: the own vport's traffic grows by port 1's `growth.frames` per
    /// query while the link is up; VFs are idle. `clear` returns the values, then zeroes.
    fn query_vport_counter(&mut self, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::query_vport_counter as q;
        need(input, q::IN_LEN, out, q::OUT_LEN)?;
        let other = q::OTHER_VPORT.is_set(input);
        let vport = q::VPORT_NUMBER.get(input);
        self.check_vport(other, vport)?;
        if q::PORT_NUM.get(input) as usize > self.profile.ports.len() {
            return Err(Failure::param(syndrome::BAD_LOCAL_PORT));
        }
        if other && vport != 0 {
            return Ok(());
        }
        if self.link_up(0) {
            let frames = self.profile.ports.first().map_or(0, |p| p.growth.frames);
            // Blocks (packets, octets): 8/9 eth broadcast, 10/11 eth unicast, 12/13 multicast.
            let growth = |block: usize| match block {
                6 | 7 => frames / 1000,
                8 | 9 => frames,
                10 | 11 => frames / 100,
                _ => 0,
            };
            for (i, value) in self.state.vport_counters.iter_mut().enumerate() {
                let packets = growth(i / 2);
                let add = if i % 2 == 0 { packets } else { packets.saturating_mul(1024) };
                *value = value.saturating_add(add);
            }
        }
        for (i, value) in self.state.vport_counters.iter().enumerate() {
            prm::set_u64(out, q::COUNTERS_BYTE + i * 8, *value);
        }
        if q::CLEAR.is_set(input) {
            self.state.vport_counters = [0; VPORT_COUNTERS];
        }
        Ok(())
    }

    /// CREATE_UCTX, which only the kernel (uid 0) may send: a fresh non-zero uid with the
    /// asked-for caps, if firmware offers them.
    fn create_uctx(&mut self, caller: u16, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::create_uctx as c;
        need(input, c::IN_LEN, out, c::OUT_LEN)?;
        if caller != 0 {
            return Err(Failure::param(syndrome::BAD_UID));
        }
        let caps = c::CAP.get(input);
        if caps & !self.uctx_cap() != 0 {
            return Err(Failure::param(syndrome::BAD_FIELD));
        }
        let uids = &mut self.state.uids;
        let start = self.state.next_uid.max(1);
        // Search every non-zero uid once, from where the last allocation stopped.
        let free = (0..u16::MAX as u32)
            .map(|i| ((start as u32 - 1 + i) % u16::MAX as u32 + 1) as u16)
            .find(|uid| !uids.contains_key(uid))
            .ok_or(Failure::new(Status::NoRes, syndrome::NO_FREE_UID))?;
        uids.insert(free, caps);
        self.state.next_uid = free.checked_add(1).unwrap_or(1);
        c::UID.set(out, free as u32);
        Ok(())
    }

    /// DESTROY_UCTX (kernel only): releases a uid.
    fn destroy_uctx(&mut self, caller: u16, input: &[u8], out: &mut [u8]) -> Outcome {
        use prm::destroy_uctx as d;
        need(input, d::IN_LEN, out, header::LEN)?;
        let uid = d::UID.get(input) as u16;
        if caller != 0 || self.state.uids.remove(&uid).is_none() {
            return Err(Failure::param(syndrome::BAD_UID));
        }
        Ok(())
    }
}

/// Whether port `index` (0-based) has link: admin up now, and the profile's link up.
pub fn link_up(profile: &Mlx5Profile, state: &State, index: usize) -> bool {
    state.ports.get(index).is_some_and(|s| s.admin_up) && profile.ports.get(index).is_some_and(|p| p.oper_up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Fleet;

    fn firmware() -> Firmware {
        let fleet = Fleet::builtin("connectx7-healthy").unwrap().unwrap();
        Firmware::new(fleet.devices()[0].mlx5.clone().unwrap())
    }

    fn mailbox(opcode: u16, op_mod: u16, uid: u16, len: usize) -> Vec<u8> {
        let mut m = vec![0u8; len];
        header::OPCODE.set(&mut m, opcode as u32);
        header::OP_MOD.set(&mut m, op_mod as u32);
        header::UID.set(&mut m, uid as u32);
        m
    }

    fn create(fw: &mut Firmware, caps: u32) -> Vec<u8> {
        let mut m = mailbox(op::CREATE_UCTX, 0, 0, prm::create_uctx::IN_LEN);
        prm::create_uctx::CAP.set(&mut m, caps);
        fw.execute(&m, 16)
    }

    fn status(out: &[u8]) -> (u32, u32) {
        (header::STATUS.get(out), header::SYNDROME.get(out))
    }

    #[test]
    fn uids_are_non_zero_distinct_and_run_out_with_no_res() {
        let mut fw = firmware();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..u16::MAX {
            let out = create(&mut fw, UCTX_CAP_TOOLS_RESOURCES);
            assert_eq!(status(&out), (0, 0));
            let uid = prm::create_uctx::UID.get(&out) as u16;
            assert!(uid != 0 && seen.insert(uid), "uid {uid}");
        }
        let out = create(&mut fw, 0);
        assert_eq!(status(&out), (Status::NoRes as u32, syndrome::NO_FREE_UID));
        assert_eq!(Status::errno(out[0]), Some(Errno::EAGAIN), "what the driver's open returns");
        // A released uid becomes available again.
        let mut destroy = mailbox(op::DESTROY_UCTX, 0, 0, 16);
        prm::destroy_uctx::UID.set(&mut destroy, 77);
        assert_eq!(status(&fw.execute(&destroy, 16)), (0, 0));
        assert_eq!(status(&fw.execute(&destroy, 16)), (Status::BadParam as u32, syndrome::BAD_UID), "twice");
        assert_eq!(prm::create_uctx::UID.get(&create(&mut fw, 0)), 77);
    }

    #[test]
    fn only_the_kernel_manages_uids_and_caps_must_be_offered() {
        let mut fw = firmware();
        let uid = prm::create_uctx::UID.get(&create(&mut fw, UCTX_CAP_TOOLS_RESOURCES)) as u16;
        let mut m = mailbox(op::CREATE_UCTX, 0, uid, prm::create_uctx::IN_LEN);
        assert_eq!(status(&fw.execute(&m, 16)), (Status::BadParam as u32, syndrome::BAD_UID));
        header::UID.set(&mut m, 0);
        prm::create_uctx::CAP.set(&mut m, 0x8000);
        assert_eq!(status(&fw.execute(&m, 16)), (Status::BadParam as u32, syndrome::BAD_FIELD));
        // A command naming a uid that does not exist.
        assert_eq!(
            status(&fw.execute(&mailbox(op::NOP, 0, 999, 16), 16)),
            (Status::BadParam as u32, syndrome::BAD_UID)
        );
        assert_eq!(status(&fw.execute(&mailbox(op::NOP, 0, uid, 16), 16)), (0, 0));
    }

    #[test]
    fn lengths_are_checked_input_first() {
        let mut fw = firmware();
        let short_in = fw.execute(&mailbox(op::QUERY_VPORT_COUNTER, 0, 0, 16), 16);
        assert_eq!(status(&short_in), (Status::BadInpLen as u32, syndrome::IN_TOO_SHORT));
        let short_out = fw.execute(&mailbox(op::QUERY_HCA_CAP, 1, 0, 16), 4111);
        assert_eq!(status(&short_out), (Status::BadOutpLen as u32, syndrome::OUT_TOO_SHORT));
        assert_eq!(short_out.len(), 4111, "the out mailbox keeps the driver's length");
        // Below a header, firmware still answers with what fits.
        assert_eq!(fw.execute(&[0x01], 4), vec![Status::BadInpLen as u8, 0, 0, 0]);
        assert!(fw.execute(&[], 0).is_empty());
    }

    #[test]
    fn unmodelled_and_object_commands_have_their_own_statuses() {
        let mut fw = firmware();
        let qp = fw.execute(&mailbox(0x50b, 0, 0, 16), 16);
        assert_eq!(status(&qp), (Status::BadRes as u32, syndrome::NO_SUCH_OBJECT));
        let diag = fw.execute(&mailbox(0x819, 0, 0, 16), 16);
        assert_eq!(status(&diag), (Status::BadOp as u32, syndrome::NOT_MODELLED));
        let unknown = fw.execute(&mailbox(0x7fff, 0, 0, 16), 64);
        assert_eq!(status(&unknown), (Status::BadOp as u32, syndrome::UNKNOWN_OPCODE));
        assert!(unknown[8..].iter().all(|&b| b == 0));
        let mut set_cap = mailbox(op::SET_HCA_CAP, 0, 0, prm::hca_cap::OUT_LEN);
        assert_eq!(status(&fw.execute(&set_cap, 16)), (Status::BadParam as u32, syndrome::SET_HCA_CAP_SELF));
        prm::hca_cap::OTHER_FUNCTION.set(&mut set_cap, 1);
        assert_eq!(status(&fw.execute(&set_cap, 16)), (Status::BadOp as u32, syndrome::NOT_MODELLED));
    }

    #[test]
    fn status_errnos_follow_cmd_status_to_err() {
        assert_eq!(Status::errno(0), None);
        assert_eq!(Status::errno(Status::BadOp as u8), Some(Errno::EINVAL));
        assert_eq!(Status::errno(Status::BadOutpLen as u8), Some(Errno::EIO));
        assert_eq!(Status::errno(0x06), Some(Errno::EBUSY));
        assert_eq!(Status::errno(0x08), Some(Errno::ENOMEM));
        assert_eq!(Status::errno(0xee), Some(Errno::EIO));
    }
}
