//! ACCESS_REG register models (ids from include/linux/mlx5/driver.h; MGIR from mstflint).
//!
//! A read answers with the register image in the out mailbox from byte 16, the request's
//! index fields echoed as firmware does. Writes are modelled for PAOS (admin state), PMTU
//! (admin MTU), PPCNT (`clr`) and the non-volatile configuration (MNVDA, MNVIA: see
//! `nvconfig`); writes to the other registers fail with BAD_PARAM
//! (`READ_ONLY_REGISTER`), and every write needs a uid with TOOLS_RESOURCES.
//!
//! An unknown or profile-disabled register id fails with BAD_PARAM (`UNKNOWN_REGISTER`):
//! that is what ConnectX firmware answers for a register it does not implement, and what
//! tools such as mlxlink expect before they consult MCAM/PCAM.

use super::firmware::{Failure, Outcome, State, Status, eighths, link_up, need, syndrome};
use super::prm::{self, access_reg, header};
use super::profile::{Media, Mlx5Profile, Module, PortType, ext_link_mode, ib_link_mode, parse_fw_version};

pub use fwctl_proto::mlx5::registers::{
    MCAM, MCIA, MCQI, MCQS, MGIR, MNVDA, MNVIA, MNVQC, MPCNT, MPEIN, MSGI, MTCAP, MTMP, PAOS, PCAM, PDDR, PMTU, PPCNT,
    PPLM, PTYS, SLRG,
};
use fwctl_proto::mlx5::registers::{MCAM_BASE, PCAM_BASE};

/// The registers the model answers; ids and names from the one table in `fwctl-proto`.
pub const MODELED: &[u16] = &[
    PMTU, PTYS, PAOS, PPCNT, PPLM, SLRG, PDDR, PCAM, MTCAP, MTMP, MCIA, MGIR, MSGI, MNVDA, MNVQC, MNVIA, MPEIN, MPCNT,
    MCQS, MCQI, MCAM,
];

/// The id of a register name the model knows.
pub fn id_of(name: &str) -> Option<u16> {
    fwctl_proto::mlx5::registers::id_of(name).filter(|id| MODELED.contains(id))
}

/// The name of a register id the model knows.
pub fn name_of(id: u16) -> Option<&'static str> {
    MODELED.contains(&id).then(|| fwctl_proto::mlx5::registers::name(id)).flatten()
}

/// Bytes of a register image: what a request must carry and what a reply takes at least.
/// They differ only for MCQI, whose request is the 24-byte head and whose reply adds the
/// data the head asks for (`mlx5_reg_mcqi_query()` sends 24 bytes, reads 24 + data_size).
fn image_len(id: u16) -> usize {
    fwctl_proto::mlx5::registers::lookup(id).and_then(|r| r.size).unwrap_or(256)
}

/// ACCESS_REG / ACCESS_REGISTER_USER: op_mod 1 reads, 0 writes.
pub fn access(
    profile: &Mlx5Profile,
    state: &mut State,
    op_mod: u16,
    tools: bool,
    input: &[u8],
    out: &mut [u8],
) -> Outcome {
    let id = access_reg::REGISTER_ID.get(input) as u16;
    if !profile.supports_register(id) {
        return Err(Failure::param(syndrome::UNKNOWN_REGISTER));
    }
    let len = image_len(id);
    need(input, header::LEN + len, out, header::LEN + len)?;
    let request = &input[header::LEN..header::LEN + len];
    let reply = &mut out[header::LEN..];
    let mut model = Registers { profile, state };
    match op_mod {
        access_reg::READ => model.read(id, request, reply),
        access_reg::WRITE if !tools => Err(Failure::param(syndrome::NEEDS_TOOLS_RESOURCES)),
        access_reg::WRITE => model.write(id, request, reply),
        _ => Err(Failure::param(syndrome::BAD_OP_MOD)),
    }
}

/// The registers of one device at one moment.
struct Registers<'a> {
    profile: &'a Mlx5Profile,
    state: &'a mut State,
}

/// PDDR monitor opcodes. 0 is the PRM's "no issue"; the others are the model's choice
/// (1024 is what mlxlink shows for an unplugged cable), the message is what matters.
const MONITOR_NO_ISSUE: u32 = 0;
const MONITOR_CLOSED_BY_COMMAND: u32 = 1;
const MONITOR_SIGNAL_NOT_DETECTED: u32 = 2;
const MONITOR_CABLE_UNPLUGGED: u32 = 1024;

/// MCQS components: (identifier, component_status). Index 0 is the running boot image.
const COMPONENTS: &[(u32, u32)] = &[
    (0x1, 2), // BOOT_IMG, in use
    (0x4, 1), // OEM_NVCONFIG, present
    (0x5, 1), // MLNX_NVCONFIG, present
    (0x6, 1), // CS_TOKEN, present
];

impl Registers<'_> {
    /// The 0-based index of `local_port`, which counts from 1.
    fn port(&self, local_port: u32) -> Result<usize, Failure> {
        let n = local_port as usize;
        if (1..=self.profile.ports.len()).contains(&n) {
            Ok(n - 1)
        } else {
            Err(Failure::param(syndrome::BAD_LOCAL_PORT))
        }
    }

    fn read(&mut self, id: u16, req: &[u8], reply: &mut [u8]) -> Outcome {
        match id {
            PAOS => self.paos(req, reply),
            PTYS => self.ptys(req, reply),
            PMTU => self.pmtu(req, reply),
            PPCNT => self.ppcnt(req, reply, true),
            PPLM => self.pplm(req, reply),
            SLRG => self.slrg(req, reply),
            PDDR => self.pddr(req, reply),
            PCAM | MCAM => self.capability_mask(id, req, reply),
            MTCAP => {
                // One internal sensor, the ASIC (modules are reached as 64 + N).
                prm::mtcap::SENSOR_COUNT.set(reply, 1);
                prm::set_u64(reply, prm::mtcap::SENSOR_MAP_BYTE, 1);
                Ok(())
            }
            MTMP => self.mtmp(req, reply),
            MCIA => self.mcia(req, reply),
            MGIR => self.mgir(reply),
            MSGI => {
                // The board's identity: its serial (the VPD's), part number (the VSD's).
                use prm::msgi as r;
                let p = self.profile;
                let serial = p.board_serial.as_deref().unwrap_or_default();
                prm::set_ascii(reply, r::SERIAL_NUMBER_BYTE, r::SERIAL_NUMBER_LEN, serial);
                prm::set_ascii(reply, r::PART_NUMBER_BYTE, r::PART_NUMBER_LEN, &p.vsd);
                prm::set_ascii(reply, r::PRODUCT_NAME_BYTE, r::PRODUCT_NAME_LEN, p.product_name());
                Ok(())
            }
            MPEIN => self.mpein(req, reply),
            MPCNT => self.mpcnt(req, reply),
            MCQS => self.mcqs(req, reply),
            MCQI => self.mcqi(req, reply),
            MNVDA => self.state.nv(self.profile).read(req, reply),
            MNVQC => self.state.nv(self.profile).query_capability(req, reply),
            MNVIA => Err(Failure::param(syndrome::WRITE_ONLY_REGISTER)),
            _ => Err(Failure::param(syndrome::UNKNOWN_REGISTER)),
        }
    }

    fn write(&mut self, id: u16, req: &[u8], reply: &mut [u8]) -> Outcome {
        match id {
            PAOS => {
                let index = self.port(prm::paos::LOCAL_PORT.get(req))?;
                if prm::paos::ASE.is_set(req) {
                    self.state.ports[index].admin_up = match prm::paos::ADMIN_STATUS.get(req) {
                        1 | 3 => true, // up, up once
                        2 => false,
                        _ => return Err(Failure::param(syndrome::BAD_FIELD)),
                    };
                }
                self.paos(req, reply)
            }
            PMTU => {
                let index = self.port(prm::pmtu::LOCAL_PORT.get(req))?;
                let mtu = prm::pmtu::ADMIN_MTU.get(req);
                if !(64..=self.profile.ports[index].max_mtu as u32).contains(&mtu) {
                    return Err(Failure::param(syndrome::BAD_FIELD));
                }
                self.state.ports[index].admin_mtu = mtu as u16;
                self.pmtu(req, reply)
            }
            // Set() with clr clears the group, without a sampling tick.
            PPCNT => self.ppcnt(req, reply, false),
            MNVDA => self.state.nv(self.profile).write(req, reply),
            MNVIA => self.state.nv(self.profile).invalidate(req, reply),
            _ => Err(Failure::param(syndrome::READ_ONLY_REGISTER)),
        }
    }

    /// PAOS: admin 1 up / 2 down; oper 1 up / 2 down.
    fn paos(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::paos as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        r::LOCAL_PORT.set(reply, local_port);
        r::ADMIN_STATUS.set(reply, if self.state.ports[index].admin_up { 1 } else { 2 });
        r::OPER_STATUS.set(reply, if link_up(self.profile, self.state, index) { 1 } else { 2 });
        Ok(())
    }

    /// PTYS for the device's protocol: capability and admin are every supported mode, oper
    /// the running one while the link is up. Legacy (non-extended) Ethernet fields stay 0,
    /// as on firmware that reports extended modes.
    fn ptys(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::ptys as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        let port = &self.profile.ports[index];
        let proto = match self.profile.port_type {
            PortType::Eth => r::PROTO_ETH,
            PortType::Ib => r::PROTO_IB,
        };
        if r::PROTO_MASK.get(req) & proto == 0 {
            return Err(Failure::param(syndrome::BAD_FIELD));
        }
        let up = link_up(self.profile, self.state, index);
        let modes = || {
            std::iter::once((port.speed_gbps, port.lanes))
                .chain(port.supported.iter().map(|[g, l]| (*g, u8::try_from(*l).unwrap_or(0))))
        };
        r::LOCAL_PORT.set(reply, local_port);
        r::PROTO_MASK.set(reply, proto);
        r::AN_STATUS.set(reply, if up { 1 } else { 0 });
        r::DATA_RATE_OPER.set(reply, if up { port.speed_gbps.saturating_mul(10) } else { 0 });
        match self.profile.port_type {
            PortType::Eth => {
                let bit = |(gbps, lanes)| ext_link_mode(gbps, lanes).map_or(0, |b| 1u32 << b);
                let capability = modes().fold(0, |mask, mode| mask | bit(mode));
                r::EXT_ETH_PROTO_CAPABILITY.set(reply, capability);
                r::EXT_ETH_PROTO_ADMIN.set(reply, capability);
                r::EXT_ETH_PROTO_OPER.set(reply, if up { bit((port.speed_gbps, port.lanes)) } else { 0 });
            }
            PortType::Ib => {
                let (protos, widths) = modes()
                    .filter_map(|(g, l)| ib_link_mode(g, l))
                    .fold((0, 0), |(p, w), (proto, width)| (p | proto, w | width));
                r::IB_PROTO_CAPABILITY.set(reply, protos);
                r::IB_LINK_WIDTH_CAPABILITY.set(reply, widths);
                r::IB_PROTO_ADMIN.set(reply, protos);
                r::IB_LINK_WIDTH_ADMIN.set(reply, widths);
                if let Some((proto, width)) = ib_link_mode(port.speed_gbps, port.lanes).filter(|_| up) {
                    r::IB_PROTO_OPER.set(reply, proto);
                    r::IB_LINK_WIDTH_OPER.set(reply, width);
                }
            }
        }
        // Connector: 6 FIBRE for a transceiver, 7 DA for copper, 0 unknown for an empty cage.
        let connector = match port.module.as_ref().map(|m| m.media) {
            Some(Media::Optical) => 6,
            Some(Media::Copper) => 7,
            None => 0,
        };
        r::CONNECTOR_TYPE.set(reply, connector);
        Ok(())
    }

    /// PMTU: max, admin and oper MTU (oper follows admin).
    fn pmtu(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::pmtu as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        let mtu = self.state.ports[index].admin_mtu as u32;
        r::LOCAL_PORT.set(reply, local_port);
        r::MAX_MTU.set(reply, self.profile.ports[index].max_mtu as u32);
        r::ADMIN_MTU.set(reply, mtu);
        r::OPER_MTU.set(reply, mtu);
        Ok(())
    }

    /// PPCNT groups 0x00, 0x12 and 0x16. A read is one simulated second for the port: every
    /// group grows by the profile's `growth` (traffic only while the link is up), then the
    /// group is reported, then cleared if `clr` is set (values before the clear come back).
    fn ppcnt(&mut self, req: &[u8], reply: &mut [u8], sample: bool) -> Outcome {
        use prm::ppcnt as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        let group = r::GRP.get(req);
        if ![r::GROUP_IEEE_802_3, r::GROUP_PHYSICAL_LAYER, r::GROUP_PHYSICAL_STATISTICAL].contains(&group) {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        let up = link_up(self.profile, self.state, index);
        let g = &self.profile.ports[index].growth;
        let s = &mut self.state.ports[index];
        if sample {
            let add = |counter: &mut u64, by: u64| *counter = counter.saturating_add(by);
            s.physical.ticks += 1;
            s.statistical.ticks += 1;
            s.physical.link_down_events = s.physical.link_down_events.saturating_add(g.link_down_events);
            if up {
                add(&mut s.ieee.frames_tx, g.frames);
                add(&mut s.ieee.frames_rx, g.frames);
                add(&mut s.ieee.octets_tx, g.frames.saturating_mul(1024));
                add(&mut s.ieee.octets_rx, g.frames.saturating_mul(1024));
                add(&mut s.ieee.fcs_errors, g.fcs_errors);
                add(&mut s.physical.symbol_errors, g.symbol_errors);
                add(&mut s.physical.fec_corrected, g.fec_corrected);
                add(&mut s.physical.fec_uncorrectable, g.fec_uncorrectable);
                add(&mut s.physical.fec_no_errors, g.frames);
                add(&mut s.statistical.received_bits, g.bits);
                add(&mut s.statistical.symbol_errors, g.symbol_errors);
                add(&mut s.statistical.corrected_bits, g.corrected_bits);
                let port = &self.profile.ports[index];
                for (lane, share) in lane_shares(&g.corrected_bits_by_lane, port.lanes).into_iter().enumerate() {
                    add(&mut s.statistical.lane_corrected_bits[lane], (g.corrected_bits as f64 * share).round() as u64);
                }
            }
        }
        r::LOCAL_PORT.set(reply, local_port);
        r::GRP.set(reply, group);
        let at = |offset: usize| r::DATA_BYTE + offset;
        match group {
            r::GROUP_IEEE_802_3 => {
                use r::ieee as c;
                prm::set_u64(reply, at(c::FRAMES_TRANSMITTED_OK), s.ieee.frames_tx);
                prm::set_u64(reply, at(c::FRAMES_RECEIVED_OK), s.ieee.frames_rx);
                prm::set_u64(reply, at(c::FRAME_CHECK_SEQUENCE_ERRORS), s.ieee.fcs_errors);
                prm::set_u64(reply, at(c::OCTETS_TRANSMITTED_OK), s.ieee.octets_tx);
                prm::set_u64(reply, at(c::OCTETS_RECEIVED_OK), s.ieee.octets_rx);
            }
            r::GROUP_PHYSICAL_LAYER => {
                use r::physical as c;
                let p = &s.physical;
                prm::set_u64(reply, at(c::TIME_SINCE_LAST_CLEAR), p.ticks.saturating_mul(1000));
                prm::set_u64(reply, at(c::SYMBOL_ERRORS), p.symbol_errors);
                prm::set_u64(reply, at(c::RS_FEC_CORRECTED_BLOCKS), p.fec_corrected);
                prm::set_u64(reply, at(c::RS_FEC_UNCORRECTABLE_BLOCKS), p.fec_uncorrectable);
                prm::set_u64(reply, at(c::RS_FEC_NO_ERRORS_BLOCKS), p.fec_no_errors);
                prm::Field::new(at(c::LINK_DOWN_EVENTS) / 4, 31, 0).set(reply, p.link_down_events);
                prm::Field::new(at(c::SUCCESSFUL_RECOVERY_EVENTS) / 4, 31, 0).set(reply, p.successful_recovery_events);
            }
            _ => {
                use r::statistical as c;
                let p = &s.statistical;
                prm::set_u64(reply, at(c::TIME_SINCE_LAST_CLEAR), p.ticks.saturating_mul(1000));
                prm::set_u64(reply, at(c::PHY_RECEIVED_BITS), p.received_bits);
                prm::set_u64(reply, at(c::PHY_SYMBOL_ERRORS), p.symbol_errors);
                prm::set_u64(reply, at(c::PHY_CORRECTED_BITS), p.corrected_bits);
                for (lane, bits) in p.lane_corrected_bits.iter().enumerate() {
                    prm::set_u64(reply, at(c::PHY_CORRECTED_BITS_LANE0 + 8 * lane), *bits);
                }
            }
        }
        if r::CLR.is_set(req) {
            r::CLR.set(reply, 1);
            match group {
                r::GROUP_IEEE_802_3 => s.ieee = Default::default(),
                r::GROUP_PHYSICAL_LAYER => s.physical = Default::default(),
                _ => s.statistical = Default::default(),
            }
        }
        Ok(())
    }

    /// PPLM: the active FEC of an up link (none while it is down).
    fn pplm(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::pplm as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        r::LOCAL_PORT.set(reply, local_port);
        if link_up(self.profile, self.state, index) {
            let port = &self.profile.ports[index];
            let per_lane = port.speed_gbps / u32::from(port.lanes.max(1));
            let mode = port.fec.unwrap_or(match per_lane {
                50.. => r::RS_544_514,
                25.. => r::RS_528_514,
                _ => r::NO_FEC,
            });
            r::FEC_MODE_ACTIVE.set(reply, 1 << mode);
        }
        Ok(())
    }

    /// SLRG: a lane's receive eye, in the page of the board's SerDes generation; no
    /// measurement (status 0) while the link is down. The figures of a healthy eye are
    /// the model's choice (no public scale exists), scaled by the profile's `eye`.
    fn slrg(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::slrg as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        let port = &self.profile.ports[index];
        let lane = r::LANE.get(req);
        if r::PNAT.get(req) != 0 || lane >= u32::from(port.lanes) {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        let version = self.profile.serdes_version();
        r::LOCAL_PORT.set(reply, local_port);
        r::LANE.set(reply, lane);
        r::VERSION.set(reply, version);
        if !link_up(self.profile, self.state, index) {
            return Ok(());
        }
        r::STATUS.set(reply, r::STATUS_VALID);
        let quality = port.eye.get(lane as usize).copied().unwrap_or(1.0).clamp(0.0, 4.0);
        let scaled = |healthy: f64| (healthy * quality).round() as u32;
        let pam4 = port.speed_gbps / u32::from(port.lanes.max(1)) >= 50;
        if version == r::VERSION_16NM {
            use r::nm16 as p;
            p::GRADE_LANE_SPEED.set(reply, if pam4 { 6 } else { 5 });
            p::GRADE.set(reply, scaled(3400.0));
            p::HEIGHT_EO_POS_MID.set(reply, scaled(26.0));
            p::HEIGHT_EO_NEG_MID.set(reply, scaled(24.0));
            p::PHASE_EO_POS_MID.set(reply, scaled(7.0));
            p::PHASE_EO_NEG_MID.set(reply, scaled(7.0));
            p::MID_EYE_GRADE.set(reply, scaled(3400.0));
            if pam4 {
                // The upper and lower eyes of a PAM4 lane, a little smaller than the middle.
                for (height, phase) in [
                    (p::HEIGHT_EO_POS_UP, p::PHASE_EO_POS_UP),
                    (p::HEIGHT_EO_NEG_UP, p::PHASE_EO_NEG_UP),
                    (p::HEIGHT_EO_POS_LOW, p::PHASE_EO_POS_LOW),
                    (p::HEIGHT_EO_NEG_LOW, p::PHASE_EO_NEG_LOW),
                ] {
                    height.set(reply, scaled(22.0));
                    phase.set(reply, scaled(6.0));
                }
                p::UP_EYE_GRADE.set(reply, scaled(3300.0));
                p::DN_EYE_GRADE.set(reply, scaled(3250.0));
            }
        } else {
            // 7 nm: the eyes asked for are measured now; the others keep their last value
            // (the model has none: 0).
            use r::nm7 as p;
            let asked = p::FOM_MEASUREMENT.get(req);
            p::FOM_MEASUREMENT.set(reply, asked);
            p::FOM_MEAS_TYPE_READ.set(reply, u32::from(!pam4));
            p::INITIAL_FOM.set(reply, scaled(48.0));
            let eyes = [(p::UPPER, p::UPPER_EYE, 46.0), (p::MIDDLE, p::MID_EYE, 50.0), (p::LOWER, p::LOWER_EYE, 45.0)];
            if pam4 {
                for (bit, field, healthy) in eyes {
                    if asked & bit != 0 {
                        field.set(reply, scaled(healthy));
                    }
                }
            }
            if asked & p::COMPOSITE != 0 {
                p::LAST_FOM.set(reply, scaled(if pam4 { 45.0 } else { 60.0 }));
            }
        }
        Ok(())
    }

    /// PDDR troubleshooting page: the profile's message, or one that fits the port.
    fn pddr(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::pddr as r;
        let local_port = r::LOCAL_PORT.get(req);
        let index = self.port(local_port)?;
        let page = r::PAGE_SELECT.get(req);
        if page != r::PAGE_TROUBLESHOOTING {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        let port = &self.profile.ports[index];
        let (default_opcode, default_message) = if !self.state.ports[index].admin_up {
            (MONITOR_CLOSED_BY_COMMAND, "Port is closed by command (see PAOS)")
        } else if port.module.is_none() {
            (MONITOR_CABLE_UNPLUGGED, "Cable is unplugged")
        } else if !port.oper_up {
            (MONITOR_SIGNAL_NOT_DETECTED, "Signal not detected")
        } else {
            (MONITOR_NO_ISSUE, "No issue was observed")
        };
        let message = port.troubleshooting.as_deref().unwrap_or(default_message);
        let opcode = port.troubleshooting_opcode.map_or(default_opcode, u32::from);
        r::LOCAL_PORT.set(reply, local_port);
        r::PAGE_SELECT.set(reply, page);
        r::GROUP_OPCODE.set(reply, 0); // monitor opcodes
        r::MONITOR_OPCODE.set(reply, opcode);
        prm::set_ascii(reply, r::STATUS_MESSAGE_BYTE, r::STATUS_MESSAGE_LEN, message);
        Ok(())
    }

    /// MCAM (groups 0–3, registers 0x9000 + 0x80 × group) and PCAM (group 0, 0x5000): one bit
    /// per implemented register, plus the feature bits the model honours.
    fn capability_mask(&self, id: u16, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::cam as r;
        let group = r::ACCESS_REG_GROUP.get(req);
        let max_group = if id == MCAM { 3 } else { 0 };
        if r::FEATURE_GROUP.get(req) != 0 || group > max_group {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        r::ACCESS_REG_GROUP.set(reply, group);
        let base = if id == MCAM { MCAM_BASE } else { PCAM_BASE } + 0x80 * group as u16;
        for &reg in MODELED {
            if self.profile.supports_register(reg) && (base..base + 0x80).contains(&reg) {
                r::register_bit((reg - base) as usize).set(reply, 1);
            }
        }
        if group == 0 {
            let p = self.profile;
            if id == MCAM {
                // mcam_enhanced_features.mcia_32dwords: 128-byte module reads.
                r::feature_bit(2, 2).set(reply, p.supports_register(MCIA) as u32);
            } else {
                // pcam_enhanced_features: ppcnt_statistical_group, ptys_connector_type,
                // ptys_extended_ethernet.
                r::feature_bit(3, 0).set(reply, p.supports_register(PPCNT) as u32);
                r::feature_bit(3, 3).set(reply, 1);
                r::feature_bit(3, 13).set(reply, (p.port_type == PortType::Eth) as u32);
            }
        }
        Ok(())
    }

    /// MTMP: sensor 0 is the ASIC, 64 + N module N; `mtr` resets the recorded maximum.
    fn mtmp(&mut self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::mtmp as r;
        let index = r::SENSOR_INDEX.get(req);
        let (name, now, max, warn) = if index == 0 {
            let asic = &self.profile.asic;
            let now = eighths(asic.celsius);
            if r::MTR.is_set(req) {
                self.state.asic_max_eighths = now;
            }
            ("ASIC".to_string(), now, self.state.asic_max_eighths.max(now), eighths(asic.warn_celsius))
        } else {
            let n = index.checked_sub(r::MODULE_SENSOR_BASE).ok_or(Failure::param(syndrome::BAD_INDEX))?;
            let module = self
                .profile
                .ports
                .get(n as usize)
                .and_then(|p| p.module.as_ref())
                .ok_or(Failure::param(syndrome::BAD_INDEX))?;
            let now = eighths(module.celsius);
            (format!("MODULE{n}"), now, now, eighths(module.warn_celsius))
        };
        r::SENSOR_INDEX.set(reply, index);
        r::TEMPERATURE.set(reply, now);
        r::MTE.set(reply, 1);
        r::MAX_TEMPERATURE.set(reply, max);
        r::TEMP_THRESHOLD_HI.set(reply, warn);
        // Events re-arm 5 °C below the warning threshold.
        r::TEMP_THRESHOLD_LO.set(reply, warn.saturating_sub(40));
        prm::set_ascii(reply, r::SENSOR_NAME_BYTE, 8, &name);
        Ok(())
    }

    /// MCIA: module EEPROM reads of at most 128 bytes (MCAM advertises mcia_32dwords).
    fn mcia(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::mcia as r;
        let module_index = r::MODULE.get(req);
        let i2c = r::I2C_DEVICE_ADDRESS.get(req);
        let page = r::PAGE_NUMBER.get(req);
        let address = r::DEVICE_ADDRESS.get(req) as usize;
        let size = r::SIZE.get(req) as usize;
        let port = self.profile.ports.get(module_index as usize).ok_or(Failure::param(syndrome::BAD_INDEX))?;
        if size > 128 || address + size > 256 || !(i2c == r::I2C_LOW || i2c == r::I2C_HIGH) {
            return Err(Failure::param(syndrome::BAD_FIELD));
        }
        r::MODULE.set(reply, module_index);
        r::I2C_DEVICE_ADDRESS.set(reply, i2c);
        r::PAGE_NUMBER.set(reply, page);
        r::DEVICE_ADDRESS.set(reply, address as u32);
        let Some(module) = &port.module else {
            r::STATUS.set(reply, r::STATUS_NOT_CONNECTED);
            return Ok(());
        };
        let image = eeprom(module, i2c, page).ok_or(Failure::param(syndrome::BAD_FIELD))?;
        r::STATUS.set(reply, r::STATUS_GOOD);
        r::SIZE.set(reply, size as u32);
        for (i, byte) in image[address..address + size].iter().enumerate() {
            if let Some(slot) = reply.get_mut(r::DATA_BYTE + i) {
                *slot = *byte;
            }
        }
        Ok(())
    }

    /// MGIR: hardware identity and the running firmware's version and PSID.
    fn mgir(&self, reply: &mut [u8]) -> Outcome {
        use prm::mgir as r;
        let p = self.profile;
        let (major, minor, sub) = parse_fw_version(&p.fw_version).map_err(|_| Failure::new(Status::IntErr, 0))?;
        r::DEVICE_HW_REVISION.set(reply, p.hw_revision as u32);
        r::DEVICE_ID.set(reply, p.device_id as u32);
        r::SECURED.set(reply, 1);
        r::SIGNED_FW.set(reply, 1);
        r::BUILD_ID.set(reply, 0x0002_0001);
        r::BUILD_DATE.set(reply, 0x2025_0915); // BCD yyyymmdd
        prm::set_ascii(reply, r::PSID_BYTE, 16, &p.psid);
        r::EXTENDED_MAJOR.set(reply, major as u32);
        r::EXTENDED_MINOR.set(reply, minor as u32);
        r::EXTENDED_SUB_MINOR.set(reply, sub as u32);
        Ok(())
    }

    /// MPEIN for the device's one PCIe port (depth, index and node 0).
    fn mpein(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::mpein as r;
        if r::DEPTH.get(req) != 0 || r::PCIE_INDEX.get(req) != 0 || r::NODE.get(req) != 0 {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        let pcie = &self.profile.pcie;
        // Speed bits: Gen1 bit 0, Gen2 bit 1, Gen3 bit 2, then Gen4 bit 4, Gen5 5, Gen6 6.
        let gen_bit = |g: u8| match g {
            1..=3 => 1u32 << (g - 1),
            g => 1u32 << g.min(15),
        };
        let enabled = (1..=pcie.gen_enabled).fold(0, |mask, g| mask | gen_bit(g));
        r::LINK_WIDTH_ENABLED.set(reply, pcie.width_enabled as u32);
        r::LINK_SPEED_ENABLED.set(reply, enabled);
        r::LINK_WIDTH_ACTIVE.set(reply, pcie.width_active as u32);
        r::LINK_SPEED_ACTIVE.set(reply, gen_bit(pcie.gen_active));
        r::NUM_OF_PFS.set(reply, pcie.num_pfs as u32);
        r::NUM_OF_VFS.set(reply, pcie.num_vfs as u32);
        // Sizes are 128 << code.
        r::MAX_READ_REQUEST_SIZE.set(reply, (pcie.max_read_request_bytes / 128).trailing_zeros());
        r::MAX_PAYLOAD_SIZE.set(reply, (pcie.max_payload_bytes / 128).trailing_zeros());
        r::PCI_POWER.set(reply, pcie.power_watts as u32);
        r::PORT_STATE.set(reply, if pcie.width_active > 0 { 4 } else { 0 }); // 4: link up (L0)
        Ok(())
    }

    /// MPCNT, PCIe performance group: the profile's error counters, which do not move
    /// (a clear would have to be a write: `clr` on a read is refused by the host first).
    fn mpcnt(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::mpcnt as r;
        if r::PCIE_INDEX.get(req) != 0 || r::GRP.get(req) != r::GROUP_PERFORMANCE {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        let e = self.profile.pcie.errors;
        r::GRP.set(reply, r::GROUP_PERFORMANCE);
        prm::set_u64(reply, r::LIFE_TIME_BYTE, self.state.ports.first().map_or(0, |p| p.physical.ticks));
        r::RX_ERRORS.set(reply, e.rx);
        r::TX_ERRORS.set(reply, e.tx);
        r::L0_TO_RECOVERY_RETRAIN.set(reply, e.recovery);
        r::CRC_ERROR_DLLP.set(reply, e.crc_dllp);
        r::CRC_ERROR_TLP.set(reply, e.crc_tlp);
        Ok(())
    }

    /// MCQS: the boot image is component 0; it is "active pending reset" while the profile
    /// names a pending firmware, else idle (what `mlx5_fw_image_pending()` checks).
    fn mcqs(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::mcqs as r;
        let index = r::COMPONENT_INDEX.get(req) as usize;
        let &(identifier, status) = COMPONENTS.get(index).ok_or(Failure::param(syndrome::BAD_INDEX))?;
        r::COMPONENT_INDEX.set(reply, index as u32);
        r::LAST_INDEX_FLAG.set(reply, (index + 1 == COMPONENTS.len()) as u32);
        r::IDENTIFIER.set(reply, identifier);
        r::COMPONENT_STATUS.set(reply, status);
        let pending = index == 0 && self.profile.pending_fw_version.is_some();
        r::COMPONENT_UPDATE_STATE.set(reply, if pending { 4 } else { 0 });
        Ok(())
    }

    /// MCQI: capabilities, version (running, or pending with `read_pending_component`) and
    /// activation method of a component; the reply carries `data_size` bytes of the info
    /// from `offset`, fewer when the info ends first.
    fn mcqi(&self, req: &[u8], reply: &mut [u8]) -> Outcome {
        use prm::mcqi as r;
        let index = r::COMPONENT_INDEX.get(req) as usize;
        if index >= COMPONENTS.len() {
            return Err(Failure::param(syndrome::BAD_INDEX));
        }
        let info_type = r::INFO_TYPE.get(req);
        let info: Vec<u8> = match info_type {
            r::INFO_CAPABILITIES => {
                use r::cap as c;
                let mut d = vec![0u8; c::LEN];
                c::SUPPORTED_INFO_BITMASK
                    .set(&mut d, 1 << r::INFO_CAPABILITIES | 1 << r::INFO_VERSION | 1 << r::INFO_ACTIVATION_METHOD);
                let size = if index == 0 { 0x0200_0000 } else { 0x1_0000 };
                c::COMPONENT_SIZE.set(&mut d, size / 2);
                c::MAX_COMPONENT_SIZE.set(&mut d, size);
                c::LOG_MCDA_WORD_SIZE.set(&mut d, 2);
                c::MCDA_MAX_WRITE_SIZE.set(&mut d, 0x80);
                c::RD_EN.set(&mut d, 1);
                c::MATCH_CHIP_ID.set(&mut d, 1);
                c::MATCH_PSID.set(&mut d, 1);
                d
            }
            r::INFO_VERSION => {
                use r::version as v;
                let version = if r::READ_PENDING_COMPONENT.is_set(req) {
                    self.profile.pending_fw_version.as_deref().ok_or(Failure::param(syndrome::BAD_INDEX))?
                } else {
                    &self.profile.fw_version
                };
                let mut d = vec![0u8; v::LEN];
                if index == 0 {
                    let (major, minor, sub) =
                        parse_fw_version(version).map_err(|_| Failure::param(syndrome::BAD_FIELD))?;
                    v::VERSION.set(&mut d, (major as u32) << 24 | (minor as u32) << 16 | sub as u32);
                    v::VERSION_STRING_LENGTH.set(&mut d, version.len() as u32);
                    prm::set_ascii(&mut d, v::VERSION_STRING_BYTE, v::VERSION_STRING_LEN, version);
                }
                d
            }
            r::INFO_ACTIVATION_METHOD => {
                let mut d = vec![0u8; r::activation::LEN];
                r::activation::PENDING_FW_RESET.set(&mut d, (index == 0) as u32);
                d
            }
            _ => return Err(Failure::param(syndrome::BAD_INDEX)),
        };
        let offset = r::OFFSET.get(req) as usize;
        let rest = info.get(offset..).ok_or(Failure::param(syndrome::BAD_FIELD))?;
        let n = (r::DATA_SIZE.get(req) as usize).min(rest.len());
        need(&[], 0, reply, r::HEAD_LEN + n)?;
        r::COMPONENT_INDEX.set(reply, index as u32);
        r::READ_PENDING_COMPONENT.set(reply, r::READ_PENDING_COMPONENT.get(req));
        r::INFO_TYPE.set(reply, info_type);
        r::INFO_SIZE.set(reply, info.len() as u32);
        r::OFFSET.set(reply, offset as u32);
        r::DATA_SIZE.set(reply, n as u32);
        reply[r::HEAD_LEN..r::HEAD_LEN + n].copy_from_slice(&rest[..n]);
        Ok(())
    }
}

/// Each counted lane's share of a port's corrected bits: the profile's relative shares,
/// else even over the port's lanes (PPCNT counts four at most).
fn lane_shares(weights: &[f64], lanes: u8) -> Vec<f64> {
    let counted = usize::from(lanes).clamp(1, prm::ppcnt::statistical::LANES);
    let weights: Vec<f64> = if weights.is_empty() { vec![1.0; counted] } else { weights.to_vec() };
    let total: f64 = weights.iter().sum();
    weights.iter().take(prm::ppcnt::statistical::LANES).map(|w| if total > 0.0 { w / total } else { 0.0 }).collect()
}

/// Signed temperature in 1/256 °C, as module EEPROMs store it.
fn module_temp(celsius: f64) -> [u8; 2] {
    fwctl_proto::module::celsius_word(celsius)
}

/// Alarm and warning thresholds of an optical module's monitors: high alarm, low alarm,
/// high warning, low warning, as a 100G/400G short-reach optic ships them.
const RX_POWER_THRESHOLDS_MW: [f64; 4] = [3.4, 0.05, 2.7, 0.1];
const TX_POWER_THRESHOLDS_MW: [f64; 4] = [3.5, 0.1, 2.8, 0.15];
const TX_BIAS_THRESHOLDS_MA: [f64; 4] = [15.0, 2.0, 13.0, 3.0];
const VCC_THRESHOLDS_V: [f64; 4] = [3.6, 3.0, 3.5, 3.1];

/// A 256-byte view of a module's EEPROM at `i2c`/`page` (lower half + that upper page), or
/// `None` for an address the module does not answer. Layouts: SFF-8472 (SFP), SFF-8636
/// (QSFP, QSFP+, QSFP28) and CMIS (QSFP-DD, OSFP, DSFP, QSFP112), where
/// [`fwctl_proto::module`] says: identity, the temperature, voltage and lane monitors and
/// their thresholds are filled, other bytes stay 0.
fn eeprom(module: &Module, i2c: u32, page: u32) -> Option<[u8; 256]> {
    use fwctl_proto::module::{self as layout, At};
    let mut m = [0u8; 256];
    let id = module.identifier().ok()?;
    let put = |m: &mut [u8; 256], at: usize, bytes: &[u8]| m[at..at + bytes.len()].copy_from_slice(bytes);
    let text = |m: &mut [u8; 256], at: usize, s: &str| {
        m[at..at + 16].fill(b' ');
        put(m, at, &s.as_bytes()[..s.len().min(16)]);
    };
    let thresholds = |m: &mut [u8; 256], at: usize| {
        put(m, at, &module_temp(module.critical_celsius)); // high alarm
        put(m, at + 2, &module_temp(-5.0)); // low alarm
        put(m, at + 4, &module_temp(module.warn_celsius)); // high warning
        put(m, at + 6, &module_temp(0.0)); // low warning
    };
    let optical = module.media == Media::Optical;
    // Writes the map's words that live where this read looks: lower memory, or `page`.
    let monitors = |m: &mut [u8; 256], map: &layout::MemoryMap| {
        let here = |at: At| at.page.is_none_or(|p| u32::from(p) == page).then_some(usize::from(at.offset));
        let lanes = |m: &mut [u8; 256], at: At, values: &[f64], default: f64, word: fn(f64) -> [u8; 2]| {
            if let Some(start) = here(at) {
                for lane in 0..map.lanes {
                    put(m, start + 2 * lane, &word(module.lane(values, lane, default)));
                }
            }
        };
        lanes(m, map.rx_power, &module.rx_power_mw, 0.8, |mw| layout::watts_word(mw * 1e-3));
        lanes(m, map.tx_power, &module.tx_power_mw, 0.9, |mw| layout::watts_word(mw * 1e-3));
        lanes(m, map.tx_bias, &module.tx_bias_ma, 7.5, |ma| layout::amperes_word(ma * 1e-3));
        if let Some(start) = map.vcc.and_then(here) {
            put(m, start, &layout::volts_word(if optical { module.volts } else { 0.0 }));
        }
        let t = map.thresholds;
        if let Some(start) = here(t.temperature) {
            thresholds(m, start);
        }
        if optical {
            let block = |m: &mut [u8; 256], at: At, values: [f64; 4], word: fn(f64) -> [u8; 2]| {
                if let Some(start) = here(at) {
                    for (i, value) in values.into_iter().enumerate() {
                        put(m, start + 2 * i, &word(value));
                    }
                }
            };
            block(m, t.rx_power, RX_POWER_THRESHOLDS_MW, |mw| layout::watts_word(mw * 1e-3));
            block(m, t.tx_power, TX_POWER_THRESHOLDS_MW, |mw| layout::watts_word(mw * 1e-3));
            block(m, t.tx_bias, TX_BIAS_THRESHOLDS_MA, |ma| layout::amperes_word(ma * 1e-3));
            block(m, t.vcc, VCC_THRESHOLDS_V, layout::volts_word);
        }
    };
    match id {
        0x03 => match i2c {
            0x50 => {
                m[0] = id;
                m[1] = 0x04;
                m[2] = if module.media == Media::Copper { 0x21 } else { 0x07 };
                text(&mut m, 20, &module.vendor);
                text(&mut m, 40, &module.part_number);
                text(&mut m, 68, &module.serial_number);
            }
            _ => {
                thresholds(&mut m, 0);
                put(&mut m, 96, &module_temp(module.celsius));
            }
        },
        0x0c | 0x0d | 0x11 if i2c == 0x50 => {
            m[0] = id;
            m[1] = 0x08; // SFF-8636 revision
            put(&mut m, 22, &module_temp(module.celsius));
            monitors(&mut m, &layout::SFF_8636);
            if page == 0 {
                m[128] = id;
                m[130] = if module.media == Media::Copper { 0x23 } else { 0x0c };
                text(&mut m, 148, &module.vendor);
                text(&mut m, 168, &module.part_number);
                text(&mut m, 196, &module.serial_number);
            }
        }
        _ if i2c == 0x50 => {
            m[0] = id;
            m[1] = 0x50; // CMIS 5.0
            m[3] = 0x03 << 1; // ModuleReady
            put(&mut m, 14, &module_temp(module.celsius));
            monitors(&mut m, layout::memory_map(id)?);
            if page == 0 {
                m[128] = id;
                text(&mut m, 129, &module.vendor);
                text(&mut m, 148, &module.part_number);
                text(&mut m, 166, &module.serial_number);
                m[203] = if module.media == Media::Copper { 0x23 } else { 0x0c };
            }
        }
        _ => return None,
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Fleet;
    use crate::sim::mlx5::firmware::Firmware;

    fn firmware() -> Firmware {
        let fleet = Fleet::builtin("connectx6dx-healthy").unwrap().unwrap();
        Firmware::new(fleet.devices()[0].mlx5.clone().unwrap())
    }

    /// Sends ACCESS_REG with `image` as the register data; returns (status, reply image).
    fn reg(fw: &mut Firmware, op_mod: u16, id: u16, image: &[u8], reply_len: usize) -> (u32, Vec<u8>) {
        let mut m = vec![0u8; 16];
        header::OPCODE.set(&mut m, 0x805);
        header::OP_MOD.set(&mut m, op_mod as u32);
        access_reg::REGISTER_ID.set(&mut m, id as u32);
        m.extend_from_slice(image);
        let out = fw.execute(&m, 16 + reply_len);
        (header::STATUS.get(&out), out[16..].to_vec())
    }

    fn optic(form_factor: &str) -> Module {
        Module {
            form_factor: form_factor.into(),
            celsius: 40.0,
            warn_celsius: 70.0,
            critical_celsius: 75.0,
            vendor: "NVIDIA".into(),
            part_number: "P".into(),
            serial_number: "S".into(),
            media: Media::Optical,
            rx_power_mw: vec![0.5, 0.25],
            tx_power_mw: vec![],
            tx_bias_ma: vec![6.0],
            volts: 3.25,
        }
    }

    #[test]
    fn module_monitors_and_thresholds_sit_where_each_standard_puts_them() {
        use fwctl_proto::module::{self as layout, At};
        for (form_factor, map) in [("QSFP28", &layout::SFF_8636), ("OSFP", &layout::CMIS_8)] {
            let module = optic(form_factor);
            let word = |at: At| {
                let image = eeprom(&module, 0x50, u32::from(at.page.unwrap_or(0))).unwrap();
                [image[usize::from(at.offset)], image[usize::from(at.offset) + 1]]
            };
            let lane = |at: At, n: u16| At { offset: at.offset + 2 * n, ..at };
            assert!((layout::watts(word(map.rx_power)) - 0.5e-3).abs() < 1e-9, "{form_factor}");
            assert!((layout::watts(word(lane(map.rx_power, 1))) - 0.25e-3).abs() < 1e-9, "{form_factor}");
            assert!((layout::watts(word(lane(map.rx_power, 3))) - 0.8e-3).abs() < 1e-9, "{form_factor}: default");
            assert!((layout::amperes(word(map.tx_bias)) - 6e-3).abs() < 1e-9, "{form_factor}");
            assert!((layout::watts(word(lane(map.tx_power, 2))) - 0.9e-3).abs() < 1e-9, "{form_factor}");
            let low_alarm = At { offset: map.thresholds.rx_power.offset + 2, ..map.thresholds.rx_power };
            assert!((layout::watts(word(low_alarm)) - 0.05e-3).abs() < 1e-9, "{form_factor}");
            assert_eq!(layout::celsius(word(map.thresholds.temperature)), 75.0, "{form_factor}: high alarm");
            if let Some(vcc) = map.vcc {
                assert!((layout::volts(word(vcc)) - 3.25).abs() < 1e-9);
            }
        }
        // A copper cable: no monitors, no thresholds.
        let copper = Module { media: Media::Copper, ..optic("QSFP28") };
        let page3 = eeprom(&copper, 0x50, 3).unwrap();
        assert!(page3[176..200].iter().all(|b| *b == 0));
        assert!(eeprom(&copper, 0x50, 0).unwrap()[34..58].iter().all(|b| *b == 0));
    }

    #[test]
    fn mcqi_accepts_the_kernels_short_request_and_honours_offset_and_size() {
        let mut fw = firmware();
        // mlx5_reg_mcqi_query(): 24-byte request, 24 + sizeof(mcqi_version) reply.
        let mut head = vec![0u8; 24];
        prm::mcqi::INFO_TYPE.set(&mut head, 1);
        prm::mcqi::DATA_SIZE.set(&mut head, 0x7c);
        let (status, r) = reg(&mut fw, 1, MCQI, &head, 24 + 0x7c);
        assert_eq!(status, 0);
        assert_eq!(prm::mcqi::DATA_SIZE.get(&r), 0x7c);
        assert_eq!(prm::mcqi::INFO_SIZE.get(&r), 0x7c);
        assert_eq!(prm::mcqi::version::VERSION.get(&r[24..]), 22 << 24 | 36 << 16 | 1010);
        // A reply too short for the data asked for: BAD_OUTP_LEN.
        assert_eq!(reg(&mut fw, 1, MCQI, &head, 24 + 0x7b).0, 0x51);
        // Offset 4, 4 bytes: just the version dword.
        prm::mcqi::OFFSET.set(&mut head, 4);
        prm::mcqi::DATA_SIZE.set(&mut head, 4);
        let (status, r) = reg(&mut fw, 1, MCQI, &head, 28);
        assert_eq!((status, prm::mcqi::DATA_SIZE.get(&r)), (0, 4));
        assert_eq!(&r[24..28], &[22, 36, 0x03, 0xf2]);
        // No pending image: read_pending fails.
        prm::mcqi::READ_PENDING_COMPONENT.set(&mut head, 1);
        assert_eq!(reg(&mut fw, 1, MCQI, &head, 28).0, 0x03);
        // Beyond the info: BAD_PARAM.
        prm::mcqi::READ_PENDING_COMPONENT.set(&mut head, 0);
        prm::mcqi::OFFSET.set(&mut head, 0x7d);
        assert_eq!(reg(&mut fw, 1, MCQI, &head, 28).0, 0x03);
    }

    #[test]
    fn slrg_answers_in_the_boards_serdes_page_and_only_for_a_lane_of_an_up_link() {
        use prm::slrg as r;
        let request = |port: u32, lane: u32, measure: u32| {
            let mut image = vec![0u8; r::SIZE];
            r::LOCAL_PORT.set(&mut image, port);
            r::LANE.set(&mut image, lane);
            r::nm7::FOM_MEASUREMENT.set(&mut image, measure);
            image
        };
        // ConnectX-6 Dx: the 16 nm page, a grade and the middle eye's opening.
        let mut fw = firmware();
        let (status, reply) = reg(&mut fw, 1, SLRG, &request(1, 3, 0), r::SIZE);
        assert_eq!((status, r::STATUS.get(&reply), r::VERSION.get(&reply)), (0, 1, r::VERSION_16NM));
        assert_eq!((r::LOCAL_PORT.get(&reply), r::LANE.get(&reply), r::nm16::GRADE.get(&reply)), (1, 3, 3400));
        // A lane the port does not have, or another port numbering, is refused.
        assert_eq!(reg(&mut fw, 1, SLRG, &request(1, 4, 0), r::SIZE).0, 0x03);
        let mut pnat = request(1, 0, 0);
        r::PNAT.set(&mut pnat, 3);
        assert_eq!(reg(&mut fw, 1, SLRG, &pnat, r::SIZE).0, 0x03);
        // A link taken down has no eye: a valid answer that holds no measurement.
        let mut paos = vec![0u8; 16];
        prm::paos::LOCAL_PORT.set(&mut paos, 1);
        prm::paos::ADMIN_STATUS.set(&mut paos, 2);
        prm::paos::ASE.set(&mut paos, 1);
        assert_eq!(reg(&mut fw, 0, PAOS, &paos, 16).0, 0);
        let (status, reply) = reg(&mut fw, 1, SLRG, &request(1, 0, 0), r::SIZE);
        assert_eq!((status, r::STATUS.get(&reply), r::nm16::GRADE.get(&reply)), (0, 0, 0));

        // ConnectX-7 (PAM4 lanes): the 7 nm page; only the eyes asked for are measured,
        // and the profile's weak lane 2 scores lower.
        let mut profile = Fleet::builtin("connectx7-healthy").unwrap().unwrap().devices()[0].mlx5.clone().unwrap();
        profile.ports[0].eye = vec![1.0, 1.0, 0.25];
        let mut fw = Firmware::new(profile);
        let (status, reply) = reg(&mut fw, 1, SLRG, &request(1, 0, r::nm7::MIDDLE | r::nm7::COMPOSITE), r::SIZE);
        assert_eq!((status, r::VERSION.get(&reply), r::nm7::FOM_MEAS_TYPE_READ.get(&reply)), (0, r::VERSION_7NM, 0));
        assert_eq!(
            (r::nm7::MID_EYE.get(&reply), r::nm7::UPPER_EYE.get(&reply), r::nm7::LAST_FOM.get(&reply)),
            (50, 0, 45)
        );
        let (_, weak) = reg(&mut fw, 1, SLRG, &request(1, 2, r::nm7::MIDDLE), r::SIZE);
        assert_eq!(r::nm7::MID_EYE.get(&weak), 13);
    }

    #[test]
    fn writes_change_admin_state_and_mtu_and_refuse_read_only_registers() {
        let mut fw = firmware();
        let mut paos = vec![0u8; 16];
        prm::paos::LOCAL_PORT.set(&mut paos, 2);
        prm::paos::ADMIN_STATUS.set(&mut paos, 2);
        // Without ase nothing changes.
        let (status, r) = reg(&mut fw, 0, PAOS, &paos, 16);
        assert_eq!((status, prm::paos::ADMIN_STATUS.get(&r), prm::paos::OPER_STATUS.get(&r)), (0, 1, 1));
        prm::paos::ASE.set(&mut paos, 1);
        let (status, r) = reg(&mut fw, 0, PAOS, &paos, 16);
        assert_eq!((status, prm::paos::ADMIN_STATUS.get(&r), prm::paos::OPER_STATUS.get(&r)), (0, 2, 2));
        assert!(!fw.link_up(1) && fw.link_up(0));
        prm::paos::ADMIN_STATUS.set(&mut paos, 7);
        assert_eq!(reg(&mut fw, 0, PAOS, &paos, 16).0, 0x03);

        let mut pmtu = vec![0u8; 16];
        prm::pmtu::LOCAL_PORT.set(&mut pmtu, 1);
        prm::pmtu::ADMIN_MTU.set(&mut pmtu, 4200);
        let (status, r) = reg(&mut fw, 0, PMTU, &pmtu, 16);
        assert_eq!((status, prm::pmtu::OPER_MTU.get(&r)), (0, 4200));
        prm::pmtu::ADMIN_MTU.set(&mut pmtu, 9979);
        assert_eq!(reg(&mut fw, 0, PMTU, &pmtu, 16).0, 0x03, "above max_mtu");

        let (status, _) = reg(&mut fw, 0, MGIR, &[0u8; 0xa0], 0xa0);
        assert_eq!(status, 0x03);
        let (status, _) = reg(&mut fw, 2, MGIR, &[0u8; 0xa0], 0xa0);
        assert_eq!(status, 0x03, "op_mod 2 is neither read nor write");
    }

    #[test]
    fn module_eeproms_carry_identity_and_temperature() {
        let mut fw = firmware();
        let mut mcia = vec![0u8; 144];
        prm::mcia::MODULE.set(&mut mcia, 1);
        prm::mcia::I2C_DEVICE_ADDRESS.set(&mut mcia, 0x50);
        prm::mcia::SIZE.set(&mut mcia, 48);
        let (status, r) = reg(&mut fw, 1, MCIA, &mcia, 144);
        assert_eq!((status, prm::mcia::STATUS.get(&r)), (0, 0));
        assert_eq!(r[16], 0x11, "QSFP28 identifier");
        assert_eq!(i16::from_be_bytes([r[16 + 22], r[16 + 23]]), (40.5 * 256.0) as i16);
        // Vendor name in upper page 00h.
        prm::mcia::DEVICE_ADDRESS.set(&mut mcia, 148);
        prm::mcia::SIZE.set(&mut mcia, 16);
        let (_, r) = reg(&mut fw, 1, MCIA, &mcia, 144);
        assert_eq!(&r[16..24], b"Mellanox");
        // Past the end of the EEPROM, or a module that does not exist.
        prm::mcia::SIZE.set(&mut mcia, 128);
        assert_eq!(reg(&mut fw, 1, MCIA, &mcia, 144).0, 0x03);
        prm::mcia::MODULE.set(&mut mcia, 2);
        assert_eq!(reg(&mut fw, 1, MCIA, &mcia, 144).0, 0x03);
    }
}
