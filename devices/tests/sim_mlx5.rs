//! The simulated mlx5 device against the kernel driver's rules (drivers/fwctl/mlx5/main.c
//! and drivers/fwctl/main.c, Linux 7.3) and the firmware's answers.

mod common;

use fwctl_devices::sim::{Credentials, Fleet, SimBackend};
use fwctl_devices::{Backend, DeviceHandle};
use nix::errno::Errno;

const CONFIGURATION: u32 = 0;
const DEBUG_READ_ONLY: u32 = 1;
const DEBUG_WRITE: u32 = 2;
const DEBUG_WRITE_FULL: u32 = 3;

fn backend(profile: &str, cap_sys_rawio: bool) -> SimBackend {
    let fleet = Fleet::builtin(profile).unwrap().unwrap();
    SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio }).unwrap()
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

/// Sends an RPC and returns (out_len, response, status).
fn call(h: &mut Box<dyn DeviceHandle>, scope: u32, input: &[u8], out_len: usize) -> Result<(usize, Vec<u8>, u8), Errno> {
    let mut out = vec![0xeeu8; out_len];
    let n = h.rpc(scope, input, &mut out)?;
    let status = out[0];
    Ok((n, out, status))
}

/// Reads a register; returns its image.
fn read_reg(h: &mut Box<dyn DeviceHandle>, id: u16, size: usize, index: impl FnOnce(&mut [u8])) -> (u8, Vec<u8>) {
    let mut m = mailbox(0x805, 1, size);
    m[10..12].copy_from_slice(&id.to_be_bytes());
    index(&mut m[16..]);
    let (_, out, status) = call(h, DEBUG_READ_ONLY, &m, 16 + size).unwrap();
    (status, out[16..].to_vec())
}

#[test]
fn mailboxes_below_sixteen_bytes_are_emsgsize() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 0)[..15], 112).err(), Some(Errno::EMSGSIZE));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 0), 15).err(), Some(Errno::EMSGSIZE));
}

#[test]
fn the_core_checks_sizes_scope_and_capability_first() {
    let sim = backend("connectx7-healthy", false);
    let mut h = open(&sim);
    let issi = mailbox(0x10a, 0, 0);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &vec![0u8; 2 * 1024 * 1024 + 1], 16).err(), Some(Errno::EMSGSIZE));
    assert_eq!(call(&mut h, 7, &issi, 112).err(), Some(Errno::EOPNOTSUPP));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &issi, 112).err(), Some(Errno::EPERM), "no CAP_SYS_RAWIO");
    assert!(!sim.tainted(), "a refused call taints nothing");
}

#[test]
fn the_allow_list_gates_opcodes_by_scope_with_ebadmsg() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    // Queries need debug-read-only (mlx5ctl leaves scope 0 and is refused).
    assert_eq!(call(&mut h, CONFIGURATION, &mailbox(0x10a, 0, 0), 112).err(), Some(Errno::EBADMSG));
    // QUERY_HCA_CAP and QUERY_ADAPTER are allowed at every scope.
    assert_eq!(call(&mut h, CONFIGURATION, &mailbox(0x101, 0, 0), 272).unwrap().2, 0);
    // ACCESS_REG: reads need debug-read-only, writes pass the driver at every scope.
    assert_eq!(call(&mut h, CONFIGURATION, &mailbox(0x805, 1, 16), 32).err(), Some(Errno::EBADMSG));
    let mut paos_write = mailbox(0x805, 0, 16);
    paos_write[10..12].copy_from_slice(&0x5006u16.to_be_bytes());
    let (_, _, status) = call(&mut h, CONFIGURATION, &paos_write, 32).unwrap();
    assert_eq!(status, 0x03, "the write reached firmware, which refuses it (BAD_PARAM)");
    // SET_DIAGNOSTIC_PARAMS needs debug-write, which taints the kernel.
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &mailbox(0x820, 0, 0), 16).err(), Some(Errno::EBADMSG));
    assert!(!sim.tainted());
    assert!(call(&mut h, DEBUG_WRITE, &mailbox(0x820, 0, 0), 16).is_ok());
    assert!(sim.tainted());
    assert_eq!(sim.kernel_log(), ["fwctl fwctl0: has requested full access to the physical device"]);
}

#[test]
fn object_creation_is_refused_at_every_scope_but_the_taint_comes_first() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    // CREATE_UCTX: not on the allow-list at any scope.
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &mailbox(0xa04, 0, 0), 16).err(), Some(Errno::EBADMSG));
    // fwctl_cmd_rpc() taints on the scope before the driver looks at the command.
    assert!(sim.tainted());
}

#[test]
fn out_len_comes_back_as_requested_and_unknown_commands_get_bad_op() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 0), 4096).unwrap();
    assert_eq!((n, status), (4096, 0));
    assert_eq!(u16::from_be_bytes([out[10], out[11]]), 1, "current ISSI");
    assert_eq!(out[111], 0b11, "ISSI 0 and 1 supported");
    // QUERY_Q_COUNTER passes the driver but this firmware model does not implement it.
    let (n, out, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x773, 0, 16), 64).unwrap();
    assert_eq!((n, status), (64, 0x02), "BAD_OP inside a successful ioctl");
    assert_eq!(be32(&out, 1), 0x0b0d_0773, "syndrome");
    // A capability query into a 16-byte buffer: firmware says the output is too short.
    let (_, _, status) = call(&mut h, DEBUG_READ_ONLY, &mailbox(0x100, 1, 0), 16).unwrap();
    assert_eq!(status, 0x51, "BAD_OUTP_LEN");
}

#[test]
fn each_open_gets_its_own_firmware_uid() {
    let sim = backend("connectx7-healthy", true);
    let a = open(&sim).info().unwrap();
    let b = open(&sim).info().unwrap();
    assert_eq!(a.device_type, 1);
    assert_eq!(a.device_data.len(), 8, "struct fwctl_info_mlx5");
    let uid = |d: &[u8]| u32::from_ne_bytes(d[0..4].try_into().unwrap());
    let caps = |d: &[u8]| u32::from_ne_bytes(d[4..8].try_into().unwrap());
    assert_ne!(uid(&a.device_data), uid(&b.device_data));
    assert_eq!(caps(&a.device_data), 0x4, "TOOLS_RESOURCES");
}

#[test]
fn firmware_identity_matches_the_profile() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    let (_, out, _) = call(&mut h, CONFIGURATION, &mailbox(0x101, 0, 0), 272).unwrap();
    assert_eq!(&out[256..269], b"MT_0000000834");
    assert_eq!(&out[46..48], &[0x15, 0xb3]);

    let (status, mgir) = read_reg(&mut h, 0x9020, 0xa0, |_| {});
    assert_eq!(status, 0);
    assert_eq!(be32(&mgir, 0) & 0xffff, 0x1021);
    assert_eq!((be32(&mgir, 0x11), be32(&mgir, 0x12), be32(&mgir, 0x13)), (28, 39, 1002));
    assert_eq!(&mgir[0x30..0x3d], b"MT_0000000834");

    let (status, mcqi) = read_reg(&mut h, 0x9061, 24 + 0x7c, |r| r[11] = 1);
    assert_eq!(status, 0);
    assert_eq!(be32(&mcqi, 7), 28 << 24 | 39 << 16 | 1002, "MCQI version dword at data+4");

    let (_, out, _) = call(&mut h, CONFIGURATION, &mailbox(0x100, 1, 0), 16 + 4096).unwrap();
    let cap = &out[16..];
    assert_eq!(cap[55], 2, "num_ports");
    assert_eq!(be32(cap, 13) >> 8 & 3, 1, "port_type Ethernet");
    assert_eq!(be32(cap, 53), 0x4, "uctx_cap");
}

#[test]
fn ports_pcie_and_temperatures_match_the_profile() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    let (_, paos) = read_reg(&mut h, 0x5006, 16, |r| r[1] = 1);
    assert_eq!((be32(&paos, 0) >> 8 & 0xf, be32(&paos, 0) & 0xf), (1, 1), "admin up, oper up");
    let (_, ptys) = read_reg(&mut h, 0x5004, 64, |r| r[1] = 2);
    assert_eq!(be32(&ptys, 8), 1 << 16, "400GAUI-4");
    let (status, _) = read_reg(&mut h, 0x5006, 16, |r| r[1] = 3);
    assert_eq!(status, 0x03, "no port 3: BAD_PARAM");

    let (_, mpein) = read_reg(&mut h, 0x9050, 48, |_| {});
    assert_eq!(be32(&mpein, 3) >> 16 & 0xff, 16, "x16 active");
    assert_eq!(be32(&mpein, 3) & 0xffff, 1 << 5, "Gen5 active");
    assert_eq!(be32(&mpein, 6) >> 24 & 0xf, 2, "512-byte max payload");

    let (_, mtmp) = read_reg(&mut h, 0x900a, 32, |_| {});
    assert_eq!(be32(&mtmp, 1) & 0xffff, 452, "56.5 °C in eighths");
    assert_eq!(be32(&mtmp, 3) & 0xffff, 105 * 8, "warning threshold");
    assert_eq!(&mtmp[24..28], b"ASIC");
    let (_, module) = read_reg(&mut h, 0x900a, 32, |r| r[3] = 64);
    assert_eq!(be32(&module, 1) & 0xffff, 44 * 8, "module 0 sensor");
    let (_, mcia) = read_reg(&mut h, 0x9014, 144, |_| {});
    assert_eq!((mcia[3], mcia[16]), (0, 0x19), "status good, OSFP identifier");
}

#[test]
fn counters_advance_per_read_and_clear_on_request() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    let phy = |h: &mut Box<dyn DeviceHandle>, clear: bool| {
        let (_, r) = read_reg(h, 0x5008, 256, |r| {
            r[1] = 1;
            r[3] = 0x12;
            if clear {
                r[4] = 0x80;
            }
        });
        u64::from_be_bytes(r[128..136].try_into().unwrap())
    };
    assert_eq!(phy(&mut h, false), 40, "rs_fec_corrected_blocks after one interval");
    assert_eq!(phy(&mut h, false), 80);
    assert_eq!(phy(&mut h, true), 120, "a clearing read still returns the counts");
    assert_eq!(phy(&mut h, false), 40, "then they start over");
}

#[test]
fn unsupported_registers_are_missing_from_mcam_and_refused() {
    let profile = include_str!("../profiles/connectx7-healthy.toml")
        .replace("psid = \"MT_0000000834\"", "psid = \"MT_0000000834\"\nunsupported_registers = [\"MTMP\"]");
    let fleet = Fleet::from_toml(&profile, "test").unwrap();
    let sim = SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio: true }).unwrap();
    let mut h = open(&sim);
    let (status, _) = read_reg(&mut h, 0x900a, 32, |_| {});
    assert_eq!(status, 0x03);
    let (_, mcam) = read_reg(&mut h, 0x907f, 72, |_| {});
    let mask3 = be32(&mcam, 5); // registers 0x9000..0x901f
    assert_eq!(mask3 & (1 << 0xa), 0, "MTMP not advertised");
    assert_ne!(mask3 & (1 << 0x9), 0, "MTCAP advertised");
}

#[test]
fn a_vanished_device_answers_enodev_and_cannot_be_reopened() {
    let sim = backend("connectx7-healthy", true);
    let device = sim.discover().unwrap().remove(0);
    let mut h = sim.open(&device).unwrap();
    assert!(sim.remove("fwctl0"));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &mailbox(0x10a, 0, 0), 112).err(), Some(Errno::ENODEV));
    assert_eq!(h.info().err(), Some(Errno::ENODEV));
    assert_eq!(sim.open(&device).err(), Some(Errno::ENOENT));
    assert!(sim.discover().unwrap().is_empty());
}

#[test]
fn garbage_never_panics() {
    let sim = backend("connectx7-healthy", true);
    let mut h = open(&sim);
    let mut next = common::xorshift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5000 {
        let len = (next() % 400) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len >= 2 && next() % 2 == 0 {
            // Aim at commands the driver lets through so the firmware model sees garbage too.
            let op: u16 = [0x805, 0x100, 0x101, 0x10a, 0x750, 0x770, 0x80d][(next() % 7) as usize];
            input[..2].copy_from_slice(&op.to_be_bytes());
        }
        let out_len = (next() % 600) as usize;
        match call(&mut h, (next() % 5) as u32, &input, out_len) {
            Ok((n, _, _)) => assert_eq!(n, out_len, "mlx5 reports out_len as given"),
            Err(e) => assert!(
                [Errno::EMSGSIZE, Errno::EBADMSG, Errno::EOPNOTSUPP, Errno::EPERM].contains(&e),
                "unexpected {e:?}"
            ),
        }
    }
}
