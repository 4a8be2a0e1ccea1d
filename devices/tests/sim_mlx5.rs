//! The simulated mlx5 device against the kernel driver's rules (drivers/fwctl/mlx5/main.c
//! and drivers/fwctl/main.c, Linux 7.3) and the firmware's answers, through the public
//! `Backend` / `DeviceHandle` API only.
//!
//! Expected values come from the profile files and the kernel's layouts
//! (include/linux/mlx5/mlx5_ifc.h), decoded here by hand rather than with the model's own
//! field table, so that a layout mistake in the model cannot hide behind itself.

mod common;

use fwctl_devices::Credentials;
use fwctl_devices::sim::mlx5::{Status, syndrome};
use fwctl_devices::sim::{Fleet, SimBackend};
use fwctl_devices::{Backend, DeviceHandle};
use fwctl_proto::mlx5::bits::{get, get_ascii, get_u64, set};
use nix::errno::Errno;

const CONFIGURATION: u32 = 0;
const DEBUG_READ_ONLY: u32 = 1;
const DEBUG_WRITE: u32 = 2;
const DEBUG_WRITE_FULL: u32 = 3;

const ACCESS_REG: u16 = 0x805;
const READ: u16 = 1;
const WRITE: u16 = 0;

const PMTU: u16 = 0x5003;
const PTYS: u16 = 0x5004;
const PAOS: u16 = 0x5006;
const PPCNT: u16 = 0x5008;
const PDDR: u16 = 0x5031;
const PCAM: u16 = 0x507f;
const MTCAP: u16 = 0x9009;
const MTMP: u16 = 0x900a;
const MCIA: u16 = 0x9014;
const MGIR: u16 = 0x9020;
const MPEIN: u16 = 0x9050;
const MCQS: u16 = 0x9060;
const MCQI: u16 = 0x9061;
const MCAM: u16 = 0x907f;

const BAD_OP: u8 = 0x02;
const BAD_PARAM: u8 = 0x03;
const BAD_RES: u8 = 0x05;
const BAD_INP_LEN: u8 = 0x50;
const BAD_OUTP_LEN: u8 = 0x51;

fn backend(profile: &str) -> SimBackend {
    let fleet = Fleet::builtin(profile).unwrap().unwrap();
    SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio: true }).unwrap()
}

/// A backend for a built-in profile with `edits` applied (first occurrence of exact text).
fn edited(profile: &str, edits: &[(&str, &str)]) -> SimBackend {
    let mut text = builtin_text(profile);
    for (from, to) in edits {
        assert!(text.contains(from), "profile has `{from}`");
        text = text.replacen(from, to, 1);
    }
    let fleet = Fleet::from_toml(&text, "test").unwrap();
    SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio: true }).unwrap()
}

fn builtin_text(profile: &str) -> String {
    match profile {
        "connectx7-healthy" => include_str!("../profiles/connectx7-healthy.toml").to_string(),
        "connectx6dx-healthy" => include_str!("../profiles/connectx6dx-healthy.toml").to_string(),
        other => panic!("no text for {other}"),
    }
}

fn open(sim: &SimBackend) -> Box<dyn DeviceHandle> {
    let device = sim.discover().unwrap().remove(0);
    sim.open(&device).unwrap()
}

/// A 16-byte in mailbox plus `extra` zero bytes.
fn mailbox(opcode: u16, op_mod: u16, extra: usize) -> Vec<u8> {
    let mut m = vec![0u8; 16 + extra];
    m[0..2].copy_from_slice(&opcode.to_be_bytes());
    m[6..8].copy_from_slice(&op_mod.to_be_bytes());
    m
}

fn be32(buf: &[u8], dw: usize) -> u32 {
    u32::from_be_bytes(buf[dw * 4..dw * 4 + 4].try_into().unwrap())
}

/// Sends an RPC into a buffer of `out_len` bytes pre-filled with 0xee; returns
/// (reported length, response, firmware status).
fn call(
    h: &mut Box<dyn DeviceHandle>,
    scope: u32,
    input: &[u8],
    out_len: usize,
) -> Result<(usize, Vec<u8>, u8), Errno> {
    let mut out = vec![0xeeu8; out_len];
    let n = h.rpc(scope, input, &mut out)?;
    let status = out[0];
    Ok((n, out, status))
}

/// ACCESS_REG with a register image of `size` bytes filled by `index`; returns (status,
/// syndrome, reply image).
fn access(
    h: &mut Box<dyn DeviceHandle>,
    scope: u32,
    op_mod: u16,
    id: u16,
    size: usize,
    index: impl FnOnce(&mut [u8]),
) -> (u8, u32, Vec<u8>) {
    let mut m = mailbox(ACCESS_REG, op_mod, size);
    m[10..12].copy_from_slice(&id.to_be_bytes());
    index(&mut m[16..]);
    let (n, out, status) = call(h, scope, &m, 16 + size).unwrap();
    assert_eq!(n, 16 + size);
    (status, be32(&out, 1), out[16..].to_vec())
}

/// Reads a register at debug-read-only; asserts the status is OK.
fn read_reg(h: &mut Box<dyn DeviceHandle>, id: u16, size: usize, index: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let (status, syndrome, image) = access(h, DEBUG_READ_ONLY, READ, id, size, index);
    assert_eq!((status, syndrome), (0, 0), "register {id:#x}");
    image
}

fn port(n: u8) -> impl FnOnce(&mut [u8]) {
    move |r: &mut [u8]| set(r, 0, 23, 16, n as u32)
}

// ---------------------------------------------------------------------------------------
// The driver's checks (mlx5ctl_fw_rpc, mlx5ctl_validate_rpc, mlx5ctl_open_uctx, mlx5ctl_info)

#[test]
fn mailboxes_below_sixteen_bytes_are_emsgsize_before_the_allow_list() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let issi = mailbox(0x10a, 0, 0);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &issi[..15], 112).err(), Some(Errno::EMSGSIZE));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &issi, 15).err(), Some(Errno::EMSGSIZE));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &[], 0).err(), Some(Errno::EMSGSIZE));
    // Size first: a 15-byte CREATE_UCTX is EMSGSIZE, not EBADMSG.
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &mailbox(0xa04, 0, 0)[..15], 16).err(), Some(Errno::EMSGSIZE));
    // Exactly 16 bytes each way is enough.
    let (n, _, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x80d, 0, 0), 16).unwrap();
    assert_eq!((n, status), (16, 0), "NOP");
}

#[test]
fn the_core_checks_sizes_scope_and_capability_first() {
    let fleet = Fleet::builtin("connectx7-healthy").unwrap().unwrap();
    let sim = SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio: false }).unwrap();
    let mut h = open(&sim);
    let issi = mailbox(0x10a, 0, 0);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &vec![0u8; 2 * 1024 * 1024 + 1], 16).err(), Some(Errno::EMSGSIZE));
    assert_eq!(call(&mut h, 4, &issi, 112).err(), Some(Errno::EOPNOTSUPP));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &issi, 112).err(), Some(Errno::EPERM), "no CAP_SYS_RAWIO");
    assert!(!sim.tainted(), "a refused call taints nothing");
}

/// `mlx5ctl_validate_rpc()`'s configuration-scope cases.
const CONFIGURATION_OPCODES: [u16; 13] =
    [0x823, 0xb2e, 0x101, 0x740, 0x100, 0x762, 0x10e, 0x760, 0xb22, 0x731, 0x109, 0x805, 0xb0c];

#[test]
fn every_opcode_is_gated_by_scope_as_the_kernel_table_says() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let allowed_at = |h: &mut Box<dyn DeviceHandle>, scope: u32| -> Vec<u16> {
        (0..=u16::MAX)
            .filter(|&op| match call(h, scope, &mailbox(op, 0, 0), 16) {
                Ok((n, _, _)) => {
                    assert_eq!(n, 16);
                    true
                }
                Err(e) => {
                    assert_eq!(e, Errno::EBADMSG, "opcode {op:#x}");
                    false
                }
            })
            .collect()
    };
    let mut configuration = CONFIGURATION_OPCODES.to_vec();
    configuration.sort_unstable();
    assert_eq!(allowed_at(&mut h, CONFIGURATION), configuration);
    let read_only = allowed_at(&mut h, DEBUG_READ_ONLY);
    assert_eq!(read_only.len(), 13 + 80, "80 query opcodes join at debug-read-only");
    for op in [0x80d, 0x10a, 0x750, 0x770, 0x754, 0x773, 0x76f, 0x107, 0x819, 0x821, 0x10c, 0xa05, 0x8000, 0x8001] {
        assert!(read_only.contains(&op), "{op:#x}");
    }
    assert!(!read_only.contains(&0x820), "SET_DIAGNOSTIC_PARAMS needs debug-write");
    let write = allowed_at(&mut h, DEBUG_WRITE);
    assert_eq!(write.len(), 13 + 80 + 1);
    assert!(write.contains(&0x820));
    assert_eq!(allowed_at(&mut h, DEBUG_WRITE_FULL), write, "debug-write-full adds nothing");
    for never in [0xa04, 0xa06, 0x200, 0x400, 0x500, 0x930, 0x933] {
        assert!(!write.contains(&never), "{never:#x} is never allowed");
    }
}

#[test]
fn register_reads_need_debug_read_only_while_writes_pass_at_configuration() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let mut read = mailbox(ACCESS_REG, READ, 16);
    read[10..12].copy_from_slice(&PAOS.to_be_bytes());
    read[17] = 1;
    assert_eq!(call(&mut h, CONFIGURATION, &read, 32).err(), Some(Errno::EBADMSG));
    // Any op_mod other than 0 is a read to the driver.
    read[6..8].copy_from_slice(&0x8000u16.to_be_bytes());
    assert_eq!(call(&mut h, CONFIGURATION, &read, 32).err(), Some(Errno::EBADMSG));
    // ACCESS_REGISTER_USER follows the same rule.
    let mut user_read = read.clone();
    user_read[0..2].copy_from_slice(&0xb0cu16.to_be_bytes());
    assert_eq!(call(&mut h, CONFIGURATION, &user_read, 32).err(), Some(Errno::EBADMSG));
    // A write (op_mod 0) reaches firmware at configuration scope: PAOS without ase is a
    // no-op that echoes the port's state.
    let (status, _, paos) = access(&mut h, CONFIGURATION, WRITE, PAOS, 16, port(1));
    assert_eq!((status, get(&paos, 0, 11, 8), get(&paos, 0, 3, 0)), (0, 1, 1));
    assert!(!sim.tainted());
}

#[test]
fn set_diagnostic_params_needs_debug_write_which_taints() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let set_diag = mailbox(0x820, 0, 16);
    assert_eq!(call(&mut h, CONFIGURATION, &set_diag, 16).err(), Some(Errno::EBADMSG));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &set_diag, 16).err(), Some(Errno::EBADMSG));
    assert!(!sim.tainted());
    let (n, out, status) = call(&mut h, DEBUG_WRITE, &set_diag, 16).unwrap();
    assert_eq!((n, status, be32(&out, 1)), (16, BAD_OP, syndrome::NOT_MODELLED), "reached firmware");
    assert!(sim.tainted());
    assert_eq!(sim.kernel_log(), ["fwctl fwctl0: has requested full access to the physical device"]);
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set_diag, 16).unwrap().2, BAD_OP);
}

#[test]
fn create_uctx_is_refused_at_every_scope_after_the_taint() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    for scope in [CONFIGURATION, DEBUG_READ_ONLY, DEBUG_WRITE, DEBUG_WRITE_FULL] {
        assert_eq!(call(&mut h, scope, &mailbox(0xa04, 0, 0x50), 16).err(), Some(Errno::EBADMSG));
        assert_eq!(call(&mut h, scope, &mailbox(0xa06, 0, 0), 16).err(), Some(Errno::EBADMSG));
    }
    // fwctl_cmd_rpc() taints on the scope before the driver looks at the command.
    assert!(sim.tainted());
}

#[test]
fn the_driver_forces_its_uid_into_every_command() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    // Firmware refuses a uid that is not a live user context (BAD_PARAM); a forged uid
    // going through with status 0 shows the driver replaced it.
    for forged in [0x0000u16, 0xbeef, 0xffff] {
        let mut nop = mailbox(0x80d, 0, 0);
        nop[2..4].copy_from_slice(&forged.to_be_bytes());
        let (_, out, status) = call(&mut h, DEBUG_READ_ONLY, &nop, 16).unwrap();
        assert_eq!((status, be32(&out, 1)), (0, 0), "forged uid {forged:#x}");
    }
}

#[test]
fn out_len_comes_back_as_requested_with_zeros_past_the_answer() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 0), 4096).unwrap();
    assert_eq!((n, status), (4096, 0));
    assert_eq!(u16::from_be_bytes([out[10], out[11]]), 1, "current ISSI");
    assert_eq!(be32(&out, 27), 0b11, "ISSI 0 and 1 supported");
    assert!(out[112..].iter().all(|&b| b == 0), "the mailbox past the answer is zero");
    // A longer in mailbox than the command needs is fine too.
    let (n, _, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 500), 112).unwrap();
    assert_eq!((n, status), (112, 0));
}

#[test]
fn each_open_gets_its_own_non_zero_uid_and_the_tools_capability() {
    let sim = backend("connectx7-healthy");
    let mut handles: Vec<_> = (0..5).map(|_| open(&sim)).collect();
    let infos: Vec<_> = handles.iter_mut().map(|h| h.info().unwrap()).collect();
    let uid = |d: &[u8]| u32::from_ne_bytes(d[0..4].try_into().unwrap());
    let caps = |d: &[u8]| u32::from_ne_bytes(d[4..8].try_into().unwrap());
    let mut uids: Vec<u32> = infos.iter().map(|i| uid(&i.device_data)).collect();
    for info in &infos {
        assert_eq!(info.device_type, 1, "FWCTL_DEVICE_TYPE_MLX5");
        assert_eq!(info.device_data.len(), 8, "struct fwctl_info_mlx5");
        assert_eq!(caps(&info.device_data), 0x4, "TOOLS_RESOURCES");
        assert!(uid(&info.device_data) != 0 && uid(&info.device_data) <= 0xffff);
    }
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 5, "distinct uids");
    // Closing one and opening again never hands out a uid still in use.
    drop(handles.remove(0));
    let again = uid(&open(&sim).info().unwrap().device_data);
    assert!(!infos[1..].iter().any(|i| uid(&i.device_data) == again));
}

#[test]
fn without_tools_resources_the_uid_has_no_caps_and_cannot_write_registers() {
    let sim = edited("connectx6dx-healthy", &[("tools_resources = true", "tools_resources = false")]);
    let mut h = open(&sim);
    let info = h.info().unwrap();
    assert_eq!(u32::from_ne_bytes(info.device_data[4..8].try_into().unwrap()), 0);
    let (status, syndrome, _) = access(&mut h, CONFIGURATION, WRITE, PAOS, 16, port(1));
    assert_eq!((status, syndrome), (BAD_PARAM, syndrome::NEEDS_TOOLS_RESOURCES));
    // Reads still work.
    assert_eq!(get(&read_reg(&mut h, PAOS, 16, port(1)), 0, 3, 0), 1);
    // HCA_CAP uctx_cap does not offer it.
    let (_, out, _) = call(&mut h, CONFIGURATION, &mailbox(0x100, 1, 0), 4112).unwrap();
    assert_eq!(be32(&out[16..], 53), 0x3, "RAW_TX | INTERNAL_DEVICE_RESOURCES");
}

#[test]
fn a_dead_command_interface_fails_open_with_enolink() {
    let sim = edited(
        "connectx7-healthy",
        &[("tools_resources = true", "tools_resources = true\ncommand_interface_down = true")],
    );
    let device = sim.discover().unwrap().remove(0);
    assert_eq!(sim.open(&device).err(), Some(Errno::ENOLINK));
}

// ---------------------------------------------------------------------------------------
// Firmware answers, decoded and compared with the profiles

#[test]
fn identity_matches_the_profile_through_query_adapter_mgir_and_mcqi() {
    for (profile, psid, (major, minor, sub), device_id) in [
        ("connectx7-healthy", "MT_0000000834", (28, 39, 1002), 0x1021),
        ("connectx6dx-healthy", "MT_0000000359", (22, 36, 1010), 0x101d),
    ] {
        let sim = backend(profile);
        let mut h = open(&sim);
        let (n, out, status) = call(&mut h, CONFIGURATION, &mailbox(0x101, 0, 0), 272).unwrap();
        assert_eq!((n, status), (272, 0));
        assert_eq!(get_ascii(&out, 256, 16), psid);
        assert_eq!(&out[41..44], &[0x00, 0x02, 0xc9], "Mellanox OUI");
        assert_eq!(&out[46..48], &[0x15, 0xb3], "vsd_vendor_id");

        let mgir = read_reg(&mut h, MGIR, 0xa0, |_| {});
        assert_eq!(get(&mgir, 0, 15, 0), device_id);
        assert_eq!((be32(&mgir, 0x11), be32(&mgir, 0x12), be32(&mgir, 0x13)), (major, minor, sub));
        assert_eq!(get_ascii(&mgir, 0x30, 16), psid);

        // As mlx5_fw_version_query() does: find the boot image with MCQS, then MCQI
        // version with a 24-byte request and a 24 + 0x7c reply.
        let mut index = 0u32;
        loop {
            let mcqs = read_reg(&mut h, MCQS, 16, |r| set(r, 0, 15, 0, index));
            if get(&mcqs, 1, 15, 0) == 1 {
                assert_eq!(get(&mcqs, 2, 3, 0), 0, "idle: no pending image");
                break;
            }
            assert_eq!(get(&mcqs, 0, 31, 31), 0, "boot image before the last component");
            index += 1;
        }
        let mut m = mailbox(ACCESS_REG, READ, 24);
        m[10..12].copy_from_slice(&MCQI.to_be_bytes());
        set(&mut m[16..], 0, 15, 0, index);
        set(&mut m[16..], 2, 4, 0, 1); // info_type version
        set(&mut m[16..], 5, 15, 0, 0x7c); // data_size
        let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &m, 16 + 24 + 0x7c).unwrap();
        assert_eq!((n, status), (16 + 24 + 0x7c, 0));
        let version = be32(&out[16 + 24..], 1);
        assert_eq!((version >> 24, version >> 16 & 0xff, version & 0xffff), (major, minor, sub));
        assert_eq!(
            format!("{}.{}.{:04}", version >> 24, version >> 16 & 0xff, version & 0xffff),
            format!("{major}.{minor}.{sub:04}")
        );
        assert_eq!(get_ascii(&out, 16 + 24 + 32, 92), format!("{major}.{minor}.{sub}"));
    }
}

#[test]
fn a_pending_image_shows_in_mcqs_and_mcqi() {
    let sim = edited(
        "connectx7-healthy",
        &[("fw_version = \"28.39.1002\"", "fw_version = \"28.39.1002\"\npending_fw_version = \"28.41.1000\"")],
    );
    let mut h = open(&sim);
    let mcqs = read_reg(&mut h, MCQS, 16, |_| {});
    assert_eq!(get(&mcqs, 2, 3, 0), 4, "active pending reset");
    let mcqi = read_reg(&mut h, MCQI, 24 + 0x7c, |r| {
        set(r, 0, 31, 31, 1); // read_pending_component
        set(r, 2, 4, 0, 1);
        set(r, 5, 15, 0, 0x7c);
    });
    assert_eq!(be32(&mcqi[24..], 1), 28 << 24 | 41 << 16 | 1000);
}

#[test]
fn hca_caps_describe_the_device_in_max_and_current_mode() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    for op_mod in [0, 1] {
        let (n, out, status) = call(&mut h, CONFIGURATION, &mailbox(0x100, op_mod, 0), 16 + 4096).unwrap();
        assert_eq!((n, status), (4112, 0));
        let cap = &out[16..];
        assert_eq!(cap[55], 2, "num_ports");
        assert_eq!(get(cap, 13, 9, 8), 1, "port_type Ethernet");
        assert_eq!((get(cap, 13, 22, 22), get(cap, 13, 21, 21)), (1, 1), "mcam_reg, pcam_reg");
        assert_eq!(get(cap, 14, 15, 15), 1, "temp_warn_event");
        assert_eq!(get(cap, 16, 2, 2), 1, "roce");
        assert_eq!(be32(cap, 53), 0x7, "uctx_cap with TOOLS_RESOURCES");
    }
    // ETH offloads and RoCE caps exist on Ethernet; an unknown type is BAD_PARAM.
    assert_eq!(call(&mut h, CONFIGURATION, &mailbox(0x100, 1 << 1 | 1, 0), 4112).unwrap().2, 0);
    let (_, out, status) = call(&mut h, CONFIGURATION, &mailbox(0x100, 0x7f << 1, 0), 4112).unwrap();
    assert_eq!((status, be32(&out, 1)), (BAD_PARAM, syndrome::UNKNOWN_CAP_TYPE));
}

#[test]
fn vport_state_and_nic_vport_context_follow_port_one() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let (_, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x750, 0, 0), 16).unwrap();
    assert_eq!((status, get(&out, 3, 7, 4), get(&out, 3, 3, 0)), (0, 2, 1), "admin follow, state up");
    let (_, out, _) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x750, 2, 0), 16).unwrap();
    assert_eq!((get(&out, 3, 7, 4), get(&out, 3, 3, 0)), (1, 1), "uplink: admin up, up");
    let mut vf9 = mailbox(0x750, 0, 0);
    set(&mut vf9, 2, 31, 31, 1);
    set(&mut vf9, 2, 15, 0, 9);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &vf9, 16).unwrap().2, BAD_PARAM, "only 8 VFs");

    let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x754, 0, 0), 272).unwrap();
    assert_eq!((n, status), (272, 0));
    assert_eq!(u16::from_be_bytes([out[54], out[55]]), 9000, "mtu");
    assert_eq!(&out[262..268], &[0xb8, 0x3f, 0xd2, 0xc4, 0x1a, 0x00], "permanent MAC");
}

#[test]
fn port_state_speed_and_mtu_match_the_profiles() {
    for (profile, mode_bit, mtu) in [("connectx7-healthy", 16, 9000), ("connectx6dx-healthy", 9, 1500)] {
        let sim = backend(profile);
        let mut h = open(&sim);
        for n in [1u8, 2] {
            let paos = read_reg(&mut h, PAOS, 16, port(n));
            assert_eq!((get(&paos, 0, 23, 16), get(&paos, 0, 11, 8), get(&paos, 0, 3, 0)), (n as u32, 1, 1));
            let ptys = read_reg(&mut h, PTYS, 64, |r| {
                set(r, 0, 23, 16, n as u32);
                set(r, 0, 2, 0, 4);
            });
            assert_eq!(be32(&ptys, 8), 1 << mode_bit, "ext_eth_proto_oper");
            assert_ne!(be32(&ptys, 2) & 1 << mode_bit, 0, "capability includes the running mode");
            assert_eq!(
                get(&ptys, 1, 15, 0),
                if mode_bit == 16 { 4000 } else { 1000 },
                "data_rate_oper, 100 Mb/s units"
            );
            let pmtu = read_reg(&mut h, PMTU, 16, port(n));
            assert_eq!((get(&pmtu, 1, 31, 16), get(&pmtu, 2, 31, 16), get(&pmtu, 3, 31, 16)), (9978, mtu, mtu));
        }
        // Port 3 does not exist; PTYS for InfiniBand on an Ethernet port is refused.
        let (status, syndrome, _) = access(&mut h, DEBUG_READ_ONLY, READ, PAOS, 16, port(3));
        assert_eq!((status, syndrome), (BAD_PARAM, syndrome::BAD_LOCAL_PORT));
        let (status, _, _) = access(&mut h, DEBUG_READ_ONLY, READ, PTYS, 64, |r| {
            set(r, 0, 23, 16, 1);
            set(r, 0, 2, 0, 1);
        });
        assert_eq!(status, BAD_PARAM);
    }
}

#[test]
fn temperatures_and_thresholds_match_the_profile() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let mtcap = read_reg(&mut h, MTCAP, 16, |_| {});
    assert_eq!((get(&mtcap, 0, 6, 0), get_u64(&mtcap, 8)), (1, 1), "one sensor: the ASIC");
    let asic = read_reg(&mut h, MTMP, 32, |_| {});
    assert_eq!(get(&asic, 1, 15, 0), 452, "56.5 °C in 0.125 °C");
    assert_eq!(get(&asic, 2, 15, 0), 488, "max 61.0 °C");
    assert_eq!(get(&asic, 3, 15, 0), 105 * 8, "warning threshold");
    assert_eq!(get_ascii(&asic, 24, 8), "ASIC");
    for (sensor, celsius) in [(64, 44.0), (65, 46.5)] {
        let module = read_reg(&mut h, MTMP, 32, |r| set(r, 0, 11, 0, sensor));
        assert_eq!(get(&module, 0, 11, 0), sensor);
        assert_eq!(get(&module, 1, 15, 0) as f64 / 8.0, celsius);
        assert_eq!(get(&module, 3, 15, 0), 70 * 8, "module warning default");
    }
    for missing in [1, 63, 66, 0xfff] {
        let (status, syndrome, _) = access(&mut h, DEBUG_READ_ONLY, READ, MTMP, 32, |r| set(r, 0, 11, 0, missing));
        assert_eq!((status, syndrome), (BAD_PARAM, syndrome::BAD_INDEX), "sensor {missing}");
    }
    // mtr resets the recorded maximum to the current reading.
    let reset = read_reg(&mut h, MTMP, 32, |r| set(r, 2, 30, 30, 1));
    assert_eq!(get(&reset, 2, 15, 0), 452);
    assert_eq!(get(&read_reg(&mut h, MTMP, 32, |_| {}), 2, 15, 0), 452);
}

#[test]
fn mpein_reports_the_pcie_link_of_the_profile() {
    for (profile, gen_bit, payload_code, read_req_code) in
        [("connectx7-healthy", 5, 2, 5), ("connectx6dx-healthy", 4, 1, 2)]
    {
        let sim = backend(profile);
        let mut h = open(&sim);
        let mpein = read_reg(&mut h, MPEIN, 48, |_| {});
        assert_eq!((get(&mpein, 2, 23, 16), get(&mpein, 3, 23, 16)), (16, 16), "x16 enabled and active");
        assert_eq!(get(&mpein, 3, 15, 0), 1 << gen_bit, "active generation");
        assert_eq!(get(&mpein, 2, 15, 0), (1 << (gen_bit + 1)) - 1 - (1 << 3), "Gen1..GenN enabled, bit 3 unused");
        assert_eq!((get(&mpein, 4, 31, 16), get(&mpein, 4, 15, 0)), (2, 8), "PFs, VFs");
        assert_eq!((get(&mpein, 6, 27, 24), get(&mpein, 6, 31, 28)), (payload_code, read_req_code));
    }
}

#[test]
fn ppcnt_counters_advance_per_read_shared_by_handles_and_clear_per_group() {
    let sim = backend("connectx7-healthy");
    let mut a = open(&sim);
    let mut b = open(&sim);
    let ppcnt = |h: &mut Box<dyn DeviceHandle>, group: u32, clear: bool| {
        read_reg(h, PPCNT, 256, |r| {
            set(r, 0, 23, 16, 1);
            set(r, 0, 5, 0, group);
            set(r, 1, 31, 31, clear as u32);
        })
    };
    let fec = |r: &[u8]| get_u64(r, 8 + 120);
    let p = ppcnt(&mut a, 0x12, false);
    assert_eq!((get(&p, 0, 5, 0), fec(&p), get_u64(&p, 8), get_u64(&p, 16)), (0x12, 40, 1000, 3));
    assert_eq!(fec(&ppcnt(&mut b, 0x12, false)), 80, "the other handle sees the same device");
    let ieee = ppcnt(&mut a, 0x00, false);
    assert_eq!((get_u64(&ieee, 8), get_u64(&ieee, 16), get_u64(&ieee, 24)), (3_600_000, 3_600_000, 0));
    let cleared = ppcnt(&mut a, 0x12, true);
    assert_eq!(fec(&cleared), 160, "a clearing read returns the counts");
    let after = ppcnt(&mut a, 0x12, false);
    assert_eq!((fec(&after), get_u64(&after, 8)), (40, 1000), "then the group starts over");
    // Clearing the physical layer group left the IEEE group alone.
    assert_eq!(get_u64(&ppcnt(&mut b, 0x00, false), 8), 7_200_000);
    let stats = ppcnt(&mut a, 0x16, false);
    assert_eq!((get_u64(&stats, 16), get_u64(&stats, 24), get_u64(&stats, 32)), (7 * 400_000_000_000, 21, 7 * 1200));
    // Port 2 has counters of its own; an unknown group is BAD_PARAM.
    let p2 = read_reg(&mut a, PPCNT, 256, |r| {
        set(r, 0, 23, 16, 2);
        set(r, 0, 5, 0, 0x12);
    });
    assert_eq!(fec(&p2), 35);
    let (status, _, _) = access(&mut a, DEBUG_READ_ONLY, READ, PPCNT, 256, |r| {
        set(r, 0, 23, 16, 1);
        set(r, 0, 5, 0, 0x3f);
    });
    assert_eq!(status, BAD_PARAM);
}

#[test]
fn vport_counters_advance_per_query_and_honour_clear() {
    let sim = backend("connectx6dx-healthy");
    let mut h = open(&sim);
    let query = |h: &mut Box<dyn DeviceHandle>, clear: bool| {
        let mut m = mailbox(0x770, 0, 16);
        set(&mut m, 6, 31, 31, clear as u32);
        let (n, out, status) = call(h, DEBUG_READ_ONLY, &m, 528).unwrap();
        assert_eq!((n, status), (528, 0));
        // received_eth_unicast.packets is block 8.
        get_u64(&out, 16 + 8 * 16)
    };
    assert_eq!(query(&mut h, false), 500_000);
    assert_eq!(query(&mut h, true), 1_000_000);
    assert_eq!(query(&mut h, false), 500_000);
    let (_, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x770, 0, 0), 528).unwrap();
    assert_eq!((status, be32(&out, 1)), (BAD_INP_LEN, syndrome::IN_TOO_SHORT), "the in mailbox is 32 bytes");
}

#[test]
fn pddr_troubleshooting_fits_the_port_or_the_profile() {
    let read = |h: &mut Box<dyn DeviceHandle>, n: u8| {
        let r = read_reg(h, PDDR, 256, |r| {
            set(r, 0, 23, 16, n as u32);
            set(r, 1, 7, 0, 1);
        });
        (get(&r, 3, 15, 0), get_ascii(&r, 20, 236))
    };
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    assert_eq!(read(&mut h, 1), (0, "No issue was observed".to_string()));
    let (status, _, _) = access(&mut h, DEBUG_READ_ONLY, READ, PDDR, 256, |r| set(r, 0, 23, 16, 1));
    assert_eq!(status, BAD_PARAM, "page 0 is not modelled");

    let sick = edited(
        "connectx7-healthy",
        &[
            ("oper_up = true", "oper_up = false"),
            (
                "growth = { frames = 900000",
                "troubleshooting = \"Bad signal integrity\"\ntroubleshooting_opcode = 7\ngrowth = { frames = 900000",
            ),
        ],
    );
    let mut h = open(&sick);
    assert_eq!(read(&mut h, 1), (2, "Signal not detected".to_string()));
    assert_eq!(read(&mut h, 2), (7, "Bad signal integrity".to_string()), "the profile's own message and opcode");
    let paos = read_reg(&mut h, PAOS, 16, port(1));
    assert_eq!((get(&paos, 0, 11, 8), get(&paos, 0, 3, 0)), (1, 2), "admin up, link down");
    let ptys = read_reg(&mut h, PTYS, 64, |r| {
        set(r, 0, 23, 16, 1);
        set(r, 0, 2, 0, 4);
    });
    assert_eq!(be32(&ptys, 8), 0, "no operational mode while down");
}

#[test]
fn mcia_reads_the_module_eeprom() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let mcia = |h: &mut Box<dyn DeviceHandle>, module: u32, page: u32, address: u32, size: u32| {
        access(h, DEBUG_READ_ONLY, READ, MCIA, 144, |r| {
            set(r, 0, 23, 16, module);
            set(r, 1, 31, 24, 0x50);
            set(r, 1, 23, 16, page);
            set(r, 1, 15, 0, address);
            set(r, 2, 15, 0, size);
        })
    };
    let (status, _, lower) = mcia(&mut h, 0, 0, 0, 48);
    assert_eq!((status, get(&lower, 0, 7, 0)), (0, 0), "command OK, module status good");
    assert_eq!(lower[16], 0x19, "OSFP identifier");
    assert_eq!(i16::from_be_bytes([lower[16 + 14], lower[16 + 15]]), 44 * 256, "CMIS temperature monitor");
    let (_, _, upper) = mcia(&mut h, 1, 0, 129, 16);
    assert_eq!(get_ascii(&upper, 16, 16), "NVIDIA");
    let (_, _, sn) = mcia(&mut h, 1, 0, 166, 16);
    assert_eq!(get_ascii(&sn, 16, 16), "MT2330FT01235");
    assert_eq!(mcia(&mut h, 0, 0, 200, 128).0, BAD_PARAM, "past the end of the page");

    let empty = edited(
        "connectx7-healthy",
        &[(
            "module = { form_factor = \"OSFP\", celsius = 44.0, vendor = \"NVIDIA\", part_number = \"MMA4Z00-NS\", serial_number = \"MT2330FT01234\" }",
            "",
        )],
    );
    let mut h = open(&empty);
    let (status, _, r) = mcia(&mut h, 0, 0, 0, 1);
    assert_eq!((status, get(&r, 0, 7, 0)), (0, 3), "module not connected");
    let (status, _, _) = access(&mut h, DEBUG_READ_ONLY, READ, MTMP, 32, |r| set(r, 0, 11, 0, 64));
    assert_eq!(status, BAD_PARAM, "no module sensor without a module");
}

#[test]
fn mcam_and_pcam_list_what_the_firmware_implements() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let bit = |r: &[u8], base: u16, id: u16| {
        let n = (id - base) as usize;
        be32(r, 2 + 3 - n / 32) >> (n % 32) & 1
    };
    let mcam = read_reg(&mut h, MCAM, 72, |_| {});
    for id in [MTCAP, MTMP, MCIA, MGIR, 0x9024, 0x9030, 0x9033, MPEIN, MCQS, MCQI, MCAM] {
        assert_eq!(bit(&mcam, 0x9000, id), 1, "{id:#x}");
    }
    assert_eq!(bit(&mcam, 0x9000, 0x9028), 0, "MFRL is not modelled");
    assert_eq!(get(&mcam, 12, 2, 2), 1, "mcia_32dwords");
    let pcam = read_reg(&mut h, PCAM, 80, |_| {});
    for id in [PMTU, PTYS, PAOS, PPCNT, PDDR, PCAM] {
        assert_eq!(bit(&pcam, 0x5000, id), 1, "{id:#x}");
    }
    assert_eq!(bit(&pcam, 0x5000, 0x5001), 0, "PCAP");
    assert_eq!(get(&pcam, 13, 0, 0), 1, "ppcnt_statistical_group");
    let (status, _, _) = access(&mut h, DEBUG_READ_ONLY, READ, PCAM, 80, |r| set(r, 0, 7, 0, 1));
    assert_eq!(status, BAD_PARAM, "PCAM has one group");
}

#[test]
fn unsupported_and_unknown_registers_fail_with_bad_param() {
    let sim = edited(
        "connectx7-healthy",
        &[("port_type = \"eth\"", "port_type = \"eth\"\nunsupported_registers = [\"MTMP\", \"PDDR\", \"MCAM\"]")],
    );
    let mut h = open(&sim);
    for (id, size) in [(MTMP, 32), (PDDR, 256), (MCAM, 72), (0x9028, 256), (0x1234, 16), (0xffff, 16)] {
        let (status, syndrome, image) = access(&mut h, DEBUG_READ_ONLY, READ, id, size, |_| {});
        assert_eq!((status, syndrome), (BAD_PARAM, syndrome::UNKNOWN_REGISTER), "register {id:#x}");
        assert!(image.iter().all(|&b| b == 0));
    }
    let pcam = read_reg(&mut h, PCAM, 80, |_| {});
    assert_eq!(be32(&pcam, 5) >> (PDDR - 0x5000 - 32) & 1, 0, "PDDR missing from PCAM");
    let (_, out, _) = call(&mut h, CONFIGURATION, &mailbox(0x100, 1, 0), 4112).unwrap();
    assert_eq!(get(&out[16..], 13, 22, 22), 0, "HCA_CAP mcam_reg follows");
}

#[test]
fn allowed_but_unmodelled_commands_get_firmware_statuses_with_ioctl_success() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    // QUERY_DIAGNOSTIC_PARAMS passes the driver; the model does not implement it: BAD_OP.
    let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x819, 0, 16), 64).unwrap();
    assert_eq!((n, status, be32(&out, 1)), (64, BAD_OP, syndrome::NOT_MODELLED));
    assert!(out[8..].iter().all(|&b| b == 0), "nothing but status and syndrome");
    assert_eq!(Status::BadOp as u8, BAD_OP);
    // An object query: a fwctl context owns no objects.
    let (_, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x50b, 0, 16), 64).unwrap();
    assert_eq!((status, be32(&out, 1)), (BAD_RES, syndrome::NO_SUCH_OBJECT));
    // An opcode no firmware knows never gets past the driver.
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &mailbox(0x7fff, 0, 16), 64).err(), Some(Errno::EBADMSG));
}

#[test]
fn short_mailboxes_get_bad_inp_len_and_bad_outp_len() {
    let sim = backend("connectx7-healthy");
    let mut h = open(&sim);
    let mut mgir = mailbox(ACCESS_REG, READ, 0x9f);
    mgir[10..12].copy_from_slice(&MGIR.to_be_bytes());
    let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &mgir, 16 + 0xa0).unwrap();
    assert_eq!((n, status, be32(&out, 1)), (16 + 0xa0, BAD_INP_LEN, syndrome::IN_TOO_SHORT));
    mgir.push(0);
    let (_, out, status) = call(&mut h, DEBUG_READ_ONLY, &mgir, 16 + 0x9f).unwrap();
    assert_eq!((status, be32(&out, 1)), (BAD_OUTP_LEN, syndrome::OUT_TOO_SHORT));
    let (n, _, status) = call(&mut h, CONFIGURATION, &mailbox(0x100, 1, 0), 4111).unwrap();
    assert_eq!((n, status), (4111, BAD_OUTP_LEN));
    let (_, _, status) = call(&mut h, CONFIGURATION, &mailbox(0x101, 0, 0), 271).unwrap();
    assert_eq!(status, BAD_OUTP_LEN);
}

#[test]
fn register_writes_change_shared_state_or_fail_cleanly() {
    let sim = backend("connectx7-healthy");
    let mut a = open(&sim);
    let mut b = open(&sim);
    // PAOS admin down on port 2 (ase set), at configuration scope.
    let (status, _, paos) = access(&mut a, CONFIGURATION, WRITE, PAOS, 16, |r| {
        set(r, 0, 23, 16, 2);
        set(r, 0, 11, 8, 2);
        set(r, 1, 31, 31, 1);
    });
    assert_eq!((status, get(&paos, 0, 11, 8), get(&paos, 0, 3, 0)), (0, 2, 2));
    let seen = read_reg(&mut b, PAOS, 16, port(2));
    assert_eq!((get(&seen, 0, 11, 8), get(&seen, 0, 3, 0)), (2, 2), "the other handle sees it");
    let pddr = read_reg(&mut b, PDDR, 256, |r| {
        set(r, 0, 23, 16, 2);
        set(r, 1, 7, 0, 1);
    });
    assert_eq!(get_ascii(&pddr, 20, 236), "Port is closed by command (see PAOS)");
    // PMTU admin MTU, then the vport context reports it for port 1.
    let (status, _, _) = access(&mut a, CONFIGURATION, WRITE, PMTU, 16, |r| {
        set(r, 0, 23, 16, 1);
        set(r, 2, 31, 16, 4200);
    });
    assert_eq!(status, 0);
    let (_, out, _) = call(&mut b, DEBUG_READ_ONLY, &mailbox(0x754, 0, 0), 272).unwrap();
    assert_eq!(u16::from_be_bytes([out[54], out[55]]), 4200);
    // Read-only registers refuse writes.
    for (id, size) in [(MGIR, 0xa0), (MTMP, 32), (MCAM, 72), (MPEIN, 48)] {
        let (status, syndrome, _) = access(&mut a, CONFIGURATION, WRITE, id, size, |_| {});
        assert_eq!((status, syndrome), (BAD_PARAM, syndrome::READ_ONLY_REGISTER), "{id:#x}");
    }
    // op_mod 2 passes the driver as a read, firmware knows no such access.
    let (status, syndrome, _) = access(&mut a, DEBUG_READ_ONLY, 2, MGIR, 0xa0, |_| {});
    assert_eq!((status, syndrome), (BAD_PARAM, syndrome::BAD_OP_MOD));
}

#[test]
fn a_vanished_device_answers_enodev_and_cannot_be_reopened() {
    let sim = backend("connectx7-healthy");
    let device = sim.discover().unwrap().remove(0);
    let mut h = sim.open(&device).unwrap();
    assert!(sim.remove("fwctl0"));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 0), 112).err(), Some(Errno::ENODEV));
    assert_eq!(h.info().err(), Some(Errno::ENODEV));
    assert_eq!(sim.open(&device).err(), Some(Errno::ENOENT));
}

#[test]
fn garbage_never_panics_and_failures_carry_only_status_and_syndrome() {
    let sim = backend("connectx7-healthy");
    let mut handles = [open(&sim), open(&sim)];
    let mut next = common::xorshift(0x9e37_79b9_7f4a_7c15);
    const REGISTERS: [u16; 15] =
        [PMTU, PTYS, PAOS, PPCNT, PDDR, PCAM, MTCAP, MTMP, MCIA, MGIR, MPEIN, MCQS, MCQI, MCAM, 0x9024];
    let mut statuses = std::collections::BTreeSet::new();
    for round in 0..20_000 {
        let h = &mut handles[round % 2];
        let len = (next() % 400) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len >= 16 && !next().is_multiple_of(4) {
            // Aim at what passes the driver so the firmware model sees garbage too.
            let op: u16 = [0x805, 0xb0c, 0x100, 0x101, 0x10a, 0x750, 0x754, 0x770, 0x80d, 0x109, 0x50b, 0x819]
                [(next() % 12) as usize];
            input[..2].copy_from_slice(&op.to_be_bytes());
            if op == 0x805 || op == 0xb0c {
                let id = REGISTERS[(next() % REGISTERS.len() as u64) as usize];
                input[10..12].copy_from_slice(&id.to_be_bytes());
                input[6..8].copy_from_slice(&((next() % 3) as u16).to_be_bytes());
            }
        }
        let out_len = (next() % 600) as usize;
        match call(h, (next() % 5) as u32, &input, out_len) {
            Ok((n, out, status)) => {
                assert_eq!(n, out_len, "mlx5 reports out_len as given");
                statuses.insert(status);
                if status != 0 {
                    assert!(out[8..].iter().all(|&b| b == 0), "a failed command writes only its header");
                }
            }
            Err(e) => assert!(
                [Errno::EMSGSIZE, Errno::EBADMSG, Errno::EOPNOTSUPP].contains(&e),
                "unexpected {e:?} in round {round}"
            ),
        }
    }
    // The loop reached firmware successes and several kinds of failure.
    for expected in [0, BAD_OP, BAD_PARAM, BAD_RES, BAD_INP_LEN, BAD_OUTP_LEN] {
        assert!(statuses.contains(&expected), "status {expected:#x} seen: {statuses:?}");
    }
}

#[test]
fn mpcnt_reports_the_pcie_errors_of_the_profile_and_only_its_performance_group() {
    let sim = backend("connectx7-pcie-degraded");
    let mut h = open(&sim);
    let perf = read_reg(&mut h, 0x9051, 256, |_| {});
    // rx_errors dw4, tx_errors dw5, l0_to_recovery_retrain dw9, crc_error_tlp dw11.
    assert_eq!((be32(&perf, 4), be32(&perf, 5), be32(&perf, 9), be32(&perf, 11)), (40, 0, 6, 12));
    let (status, syndrome, _) = access(&mut h, DEBUG_READ_ONLY, READ, 0x9051, 256, |r| set(r, 0, 5, 0, 1));
    assert_eq!((status, syndrome), (BAD_PARAM, syndrome::BAD_INDEX), "group 1 is not modelled");
    let healthy = backend("connectx7-healthy");
    let mut h = open(&healthy);
    assert!(read_reg(&mut h, 0x9051, 256, |_| {})[16..48].iter().all(|&b| b == 0), "no errors on a healthy link");
}
