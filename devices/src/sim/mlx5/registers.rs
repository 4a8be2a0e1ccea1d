//! ACCESS_REG register models (ids from include/linux/mlx5/driver.h; MGIR from mstflint).
//!
//! Each read fills a zeroed register image of the size the caller's mailbox holds; fields
//! the image is too short for are simply not written, as a firmware writing into a short
//! mailbox would not.

use super::firmware::{PortState, Status};
use fwctl_proto::mlx5::bits::{get, set, set_ascii, set_u64};
use super::profile::{Mlx5Profile, ext_link_mode};

/// Registers the model answers, by name and id.
pub const REGISTERS: &[(&str, u16)] = &[
    ("PMTU", 0x5003),
    ("PTYS", 0x5004),
    ("PAOS", 0x5006),
    ("PPCNT", 0x5008),
    ("PDDR", 0x5031),
    ("PCAM", 0x507f),
    ("MTCAP", 0x9009),
    ("MTMP", 0x900a),
    ("MCIA", 0x9014),
    ("MGIR", 0x9020),
    ("MPEIN", 0x9050),
    ("MCQS", 0x9060),
    ("MCQI", 0x9061),
    ("MCAM", 0x907f),
];

/// The id of a register name the model knows.
pub fn id_of(name: &str) -> Option<u16> {
    REGISTERS.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
}

/// Bytes of each register image (its PRM size).
pub fn size_of(id: u16) -> usize {
    match id {
        0x5003 | 0x5006 | 0x9009 | 0x9060 => 16,
        0x900a => 32,
        0x9050 => 48,
        0x5004 => 64,
        0x907f => 72,
        0x507f => 80,
        0x9061 => 24 + 0x7c,
        0x9014 => 144,
        0x9020 => 0xa0,
        _ => 256, // PPCNT, PDDR
    }
}

/// Sensor index of module N in MTMP.
const MODULE_SENSOR_BASE: u32 = 64;
/// Temperatures are in units of 0.125 °C.
fn eighths(celsius: f64) -> u32 {
    (celsius * 8.0).round().clamp(0.0, 65535.0) as u32
}

/// Reads register `id` with the caller's argument bytes in `reg` (the register image,
/// which comes in holding the request's index fields and goes out holding the answer).
pub fn read(id: u16, reg: &mut [u8], profile: &Mlx5Profile, ports: &mut [PortState]) -> Result<(), Status> {
    // Index fields sit in the first dwords of the request image; read them before zeroing.
    let local_port = get(reg, 0, 23, 16) as usize;
    let dw0 = get(reg, 0, 31, 0);
    let dw1 = get(reg, 1, 31, 0);
    let dw2 = get(reg, 2, 31, 0);
    reg.fill(0);
    let port_index = |n: usize| if (1..=ports.len()).contains(&n) { Ok(n - 1) } else { Err(Status::BadParam) };
    match id {
        0x5006 => {
            // PAOS
            let p = &profile.ports[port_index(local_port)?];
            set(reg, 0, 23, 16, local_port as u32);
            set(reg, 0, 11, 8, if p.admin_up { 1 } else { 2 });
            set(reg, 0, 3, 0, if p.oper_up { 1 } else { 2 });
        }
        0x5004 => {
            // PTYS, Ethernet protocol (proto_mask 4)
            let p = &profile.ports[port_index(local_port)?];
            let mode = |gbps, lanes| 1u32 << ext_link_mode(gbps, lanes).unwrap_or(0);
            let capability = p
                .supported
                .iter()
                .map(|[g, l]| mode(*g, *l as u8))
                .fold(mode(p.speed_gbps, p.lanes), |a, b| a | b);
            set(reg, 0, 23, 16, local_port as u32);
            set(reg, 0, 2, 0, 4);
            set(reg, 1, 31, 28, if p.oper_up { 1 } else { 0 }); // an_status: good
            set(reg, 2, 31, 0, capability);
            set(reg, 8, 31, 0, if p.oper_up { mode(p.speed_gbps, p.lanes) } else { 0 });
            set(reg, 11, 3, 0, 0x7); // connector_type: copper/optical cage (CU/DA)
        }
        0x5003 => {
            // PMTU
            let p = &profile.ports[port_index(local_port)?];
            set(reg, 0, 23, 16, local_port as u32);
            set(reg, 1, 31, 16, p.max_mtu as u32);
            set(reg, 2, 31, 16, p.mtu as u32);
            set(reg, 3, 31, 16, p.mtu as u32);
        }
        0x5008 => ppcnt(reg, local_port, dw0 & 0x3f, dw1 >> 31 == 1, profile, ports)?,
        0x5031 => {
            // PDDR troubleshooting page
            let p = &profile.ports[port_index(local_port)?];
            let page = dw1 & 0xff;
            set(reg, 0, 23, 16, local_port as u32);
            set(reg, 1, 7, 0, page);
            if page != 1 {
                return Err(Status::BadParam);
            }
            let (monitor, message) = match &p.troubleshooting {
                Some(text) => (0x0010, text.as_str()),
                None => (0, "No issue was observed"),
            };
            reg[10..12].copy_from_slice(&0u16.to_be_bytes());
            reg[14..16].copy_from_slice(&(monitor as u16).to_be_bytes());
            let room = reg.len().saturating_sub(20).min(236);
            set_ascii(reg, 20, room, message);
        }
        0x507f | 0x907f => capability_mask(id, reg, get_group(dw0), profile)?,
        0x9009 => {
            // MTCAP: one internal sensor (the ASIC), sensor_map bit 0
            set(reg, 0, 6, 0, 1);
            set_u64(reg, 8, 1);
        }
        0x900a => {
            // MTMP
            let index = dw0 & 0xfff;
            let (sensor_name, now, max, warn) = if index == 0 {
                let asic = &profile.asic;
                ("ASIC", asic.celsius, asic.max_celsius.unwrap_or(asic.celsius), asic.warn_celsius)
            } else {
                let module = index
                    .checked_sub(MODULE_SENSOR_BASE)
                    .and_then(|n| profile.ports.get(n as usize))
                    .and_then(|p| p.module.as_ref())
                    .ok_or(Status::BadParam)?;
                ("MODULE", module.celsius, module.celsius, module.warn_celsius)
            };
            set(reg, 0, 11, 0, index);
            set(reg, 1, 15, 0, eighths(now));
            set(reg, 2, 31, 31, 1); // mte: max temperature recording enabled
            set(reg, 2, 15, 0, eighths(max));
            set(reg, 3, 15, 0, eighths(warn));
            set(reg, 4, 15, 0, eighths(warn - 5.0));
            set_ascii(reg, 24, 8, sensor_name);
        }
        0x9014 => {
            // MCIA: module EEPROM, lower page (SFF-8636 layout for the id and temperature)
            let module_index = ((dw0 >> 16) & 0xff) as usize;
            set(reg, 0, 23, 16, module_index as u32);
            let Some(module) = profile.ports.get(module_index).and_then(|p| p.module.as_ref()) else {
                set(reg, 0, 7, 0, 3); // not connected
                return Ok(());
            };
            let address = (dw1 & 0xffff) as usize;
            let mut eeprom = [0u8; 256];
            eeprom[0] = module.identifier().unwrap_or(0);
            let temp = (module.celsius * 256.0).round() as i16;
            eeprom[22..24].copy_from_slice(&temp.to_be_bytes());
            set(reg, 1, 31, 24, 0x50);
            set(reg, 1, 15, 0, address as u32);
            set(reg, 2, 15, 0, 48);
            let data_room = reg.len().saturating_sub(16).min(48);
            for (i, byte) in reg[16..16 + data_room].iter_mut().enumerate() {
                *byte = eeprom.get(address + i).copied().unwrap_or(0);
            }
        }
        0x9020 => {
            // MGIR: hw_info at 0x00, fw_info at 0x20
            let (major, minor, sub) = profile.fw_version_parts().map_err(|_| Status::IntErr)?;
            set(reg, 0, 31, 16, profile.hw_revision as u32);
            set(reg, 0, 15, 0, profile.device_id as u32);
            set(reg, 8, 24, 24, 1); // secured
            set(reg, 8, 25, 25, 1); // signed firmware
            set(reg, 9, 31, 0, 0x0002_0001); // build_id
            set(reg, 10, 31, 0, 0x2026_0915); // build date, BCD yyyymmdd
            set_ascii(reg, 0x30, 16, &profile.psid);
            set(reg, 0x44 / 4, 31, 0, major as u32);
            set(reg, 0x48 / 4, 31, 0, minor as u32);
            set(reg, 0x4c / 4, 31, 0, sub as u32);
        }
        0x9050 => {
            // MPEIN
            let pcie = &profile.pcie;
            let gen_bit = |g: u8| match g {
                1 => 0,
                2 => 1,
                3 => 2,
                n => n as u32, // Gen4 bit 4, Gen5 bit 5, Gen6 bit 6
            };
            let enabled = (1..=pcie.gen_enabled).fold(0, |m, g| m | 1 << gen_bit(g));
            set(reg, 2, 23, 16, pcie.width_enabled as u32);
            set(reg, 2, 15, 0, enabled);
            set(reg, 3, 23, 16, pcie.width_active as u32);
            set(reg, 3, 15, 0, 1 << gen_bit(pcie.gen_active));
            set(reg, 4, 31, 16, pcie.num_pfs as u32);
            set(reg, 4, 15, 0, pcie.num_vfs as u32);
            set(reg, 6, 31, 28, (pcie.max_read_request_bytes / 128).trailing_zeros());
            set(reg, 6, 27, 24, (pcie.max_payload_bytes / 128).trailing_zeros());
            set(reg, 7, 11, 0, pcie.power_watts as u32);
        }
        0x9060 => {
            // MCQS: one component, the running boot image
            let index = dw0 & 0xffff;
            if index != 0 {
                return Err(Status::BadParam);
            }
            set(reg, 0, 31, 31, 1); // last_index_flag
            set(reg, 1, 15, 0, 1); // identifier: boot image
            set(reg, 2, 3, 0, 0); // idle
        }
        0x9061 => {
            // MCQI version info of component 0
            let info_type = dw2 & 0x1f;
            let (major, minor, sub) = profile.fw_version_parts().map_err(|_| Status::IntErr)?;
            set(reg, 2, 4, 0, info_type);
            if info_type != 1 {
                return Err(Status::BadParam);
            }
            let data = 24;
            let room = reg.len().saturating_sub(data);
            set(reg, 5, 15, 0, room.min(0x7c) as u32);
            if room >= 8 {
                set(reg, (data + 4) / 4, 31, 0, (major as u32) << 24 | (minor as u32) << 16 | sub as u32);
            }
            if room >= 32 + 16 {
                set_ascii(reg, data + 32, (room - 32).min(92), &profile.fw_version);
            }
        }
        _ => return Err(Status::BadParam),
    }
    Ok(())
}

fn get_group(dw0: u32) -> u32 {
    dw0 & 0xff
}

/// PPCNT: counter groups 0x00 (IEEE 802.3), 0x12 (physical layer), 0x16 (statistical).
fn ppcnt(reg: &mut [u8], local_port: usize, group: u32, clear: bool, profile: &Mlx5Profile, ports: &mut [PortState]) -> Result<(), Status> {
    if !(1..=ports.len()).contains(&local_port) {
        return Err(Status::BadParam);
    }
    let state = &mut ports[local_port - 1];
    let port = &profile.ports[local_port - 1];
    state.advance(&port.growth);
    set(reg, 0, 23, 16, local_port as u32);
    set(reg, 0, 5, 0, group);
    let c = &state.counters;
    let put = |reg: &mut [u8], at: usize, v: u64| {
        if at + 8 <= reg.len() {
            set_u64(reg, at, v);
        }
    };
    match group {
        0x00 => {
            put(reg, 8, c.frames_tx);
            put(reg, 16, c.frames_rx);
            put(reg, 24, c.fcs_errors);
        }
        0x12 => {
            put(reg, 8, c.reads * 1000); // time since last clear, ms (one second per read)
            put(reg, 16, c.symbol_errors);
            put(reg, 8 + 120, c.fec_corrected);
            put(reg, 8 + 128, c.fec_uncorrectable);
            if 8 + 200 <= reg.len() {
                set(reg, (8 + 192) / 4, 31, 0, port.link_down_events);
                set(reg, (8 + 196) / 4, 31, 0, 0);
            }
        }
        0x16 => {
            put(reg, 16, c.bits);
            put(reg, 24, c.symbol_errors);
            put(reg, 32, c.fec_corrected * 10);
        }
        _ => return Err(Status::BadParam),
    }
    if clear {
        state.clear();
    }
    Ok(())
}

/// MCAM / PCAM: which registers of the group this firmware implements.
fn capability_mask(id: u16, reg: &mut [u8], group: u32, profile: &Mlx5Profile) -> Result<(), Status> {
    if group != 0 {
        return Err(Status::BadParam);
    }
    let base: u16 = if id == 0x907f { 0x9000 } else { 0x5000 };
    set(reg, 0, 7, 0, group);
    for (name, reg_id) in REGISTERS {
        let supported = !profile.unsupported_registers.iter().any(|u| u == name);
        if supported && (base..base + 0x80).contains(reg_id) {
            let n = (reg_id - base) as usize;
            let dw = 2 + (3 - n / 32);
            if dw * 4 + 4 <= reg.len() {
                let bit = (n % 32) as u32;
                set(reg, dw, bit, bit, 1);
            }
        }
    }
    Ok(())
}
