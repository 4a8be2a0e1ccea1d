//! The simulated CXL device against drivers/cxl/core/features.c (Linux 7.3), the figures
//! measured on cxl_test, and the sequence ndctl's test/fwctl.c runs.

mod common;

use fwctl_devices::sim::{Credentials, Fleet, SimBackend};
use fwctl_devices::{Backend, DeviceHandle};
use nix::errno::Errno;

const CONFIGURATION: u32 = 0;
const DEBUG_READ_ONLY: u32 = 1;
const DEBUG_WRITE: u32 = 2;
const DEBUG_WRITE_FULL: u32 = 3;

const TEST_FEATURE: [u8; 16] = [0xff; 16];
/// The immediate-effect vendor feature of the cxl-type3 profile.
const THROTTLE: &str = "7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e";
const PATROL_SCRUB: &str = "96dad7d6-fde8-482b-a733-75774e06db8a";

fn uuid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

fn backend(cap_sys_rawio: bool) -> SimBackend {
    SimBackend::with_credentials(&Fleet::builtin("cxl-type3").unwrap().unwrap(), Credentials { cap_sys_rawio }).unwrap()
}

fn open(sim: &SimBackend) -> Box<dyn DeviceHandle> {
    sim.open(&sim.discover().unwrap().remove(0)).unwrap()
}

fn envelope(opcode: u32, payload: &[u8]) -> Vec<u8> {
    let mut r = opcode.to_le_bytes().to_vec();
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(payload);
    r
}

fn supported(count: u32, start: u16) -> Vec<u8> {
    let mut p = count.to_le_bytes().to_vec();
    p.extend_from_slice(&start.to_le_bytes());
    p.extend_from_slice(&[0, 0]);
    envelope(0x500, &p)
}

fn get(uuid: [u8; 16], offset: u16, count: u16, selection: u8) -> Vec<u8> {
    let mut p = uuid.to_vec();
    p.extend_from_slice(&offset.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    p.push(selection);
    envelope(0x501, &p)
}

fn set(uuid: [u8; 16], version: u8, data: &[u8]) -> Vec<u8> {
    let mut p = uuid.to_vec();
    p.extend_from_slice(&0u32.to_le_bytes()); // flags
    p.extend_from_slice(&0u16.to_le_bytes()); // offset
    p.push(version);
    p.extend_from_slice(&[0; 9]);
    p.extend_from_slice(data);
    envelope(0x502, &p)
}

/// (out_len, size, retval, payload)
fn call(h: &mut Box<dyn DeviceHandle>, scope: u32, input: &[u8], out_len: usize) -> Result<(usize, u32, u32, Vec<u8>), Errno> {
    let mut out = vec![0u8; out_len];
    let n = h.rpc(scope, input, &mut out)?;
    let le = |at: usize| out.get(at..at + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()));
    let (size, retval) = (le(0), le(4));
    let end = (8 + size as usize).min(out.len());
    Ok((n, size, retval, out.get(8..end).unwrap_or(&[]).to_vec()))
}

#[test]
fn info_has_no_device_data() {
    let sim = backend(true);
    let info = open(&sim).info().unwrap();
    assert_eq!((info.device_type, info.device_data.len()), (2, 0));
}

#[test]
fn ndctl_fwctl_test_sequence() {
    let sim = backend(true);
    let mut h = open(&sim);
    // Get Supported Features with count 0: the 8-byte header alone.
    let (n, size, retval, p) = call(&mut h, DEBUG_READ_ONLY, &supported(0, 0), 24).unwrap();
    assert_eq!((n, size, retval), (24, 8, 0));
    assert_eq!((u16::from_le_bytes([p[0], p[1]]), u16::from_le_bytes([p[2], p[3]])), (0, 5));
    // Room for one entry: the test feature with its sizes, versions and effects.
    let (n, size, _, p) = call(&mut h, DEBUG_READ_ONLY, &supported(48, 0), 72).unwrap();
    assert_eq!((n, size), (72, 56), "the figures cxl_test shows");
    let e = &p[8..56];
    assert_eq!(&e[..16], &TEST_FEATURE);
    assert_eq!((u16::from_le_bytes([e[18], e[19]]), u16::from_le_bytes([e[20], e[21]])), (4, 4));
    assert_eq!(u32::from_le_bytes(e[22..26].try_into().unwrap()), 0x61);
    assert_eq!((e[26], e[27], u16::from_le_bytes([e[28], e[29]])), (1, 1, 0x201));
    // Read the current value.
    let (n, size, retval, p) = call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 20).unwrap();
    assert_eq!((n, size, retval), (20, 4, 0));
    assert_eq!(u32::from_le_bytes(p[..4].try_into().unwrap()), 0xdeadbeef);
    // Write at debug-write-full and read it back, from another handle too.
    let (n, size, retval, _) = call(&mut h, DEBUG_WRITE_FULL, &set(TEST_FEATURE, 1, &0xabcdabcdu32.to_le_bytes()), 16).unwrap();
    assert_eq!((n, size, retval), (16, 0, 0));
    let mut other = open(&sim);
    let (_, _, _, p) = call(&mut other, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 20).unwrap();
    assert_eq!(u32::from_le_bytes(p[..4].try_into().unwrap()), 0xabcdabcd);
    // The saved value follows (the kernel sets "saved across reset"); the default does not.
    let (_, _, _, saved) = call(&mut other, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 2), 20).unwrap();
    let (_, _, _, default) = call(&mut other, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 1), 20).unwrap();
    assert_eq!((saved, default), (0xabcdabcdu32.to_le_bytes().to_vec(), 0xdeadbeefu32.to_le_bytes().to_vec()));
    // Get Feature with only the 8-byte header of output room, Set with none: EINVAL.
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 8).err(), Some(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(TEST_FEATURE, 1, &[1, 2, 3, 4]), 0).err(), Some(Errno::EINVAL));
}

#[test]
fn a_short_buffer_gets_the_needed_length_and_only_what_fits() {
    let sim = backend(true);
    let mut h = open(&sim);
    let mut out = [0u8; 16];
    let n = h.rpc(DEBUG_READ_ONLY, &supported(5 * 48, 0), &mut out).unwrap();
    assert_eq!(n, 16 + 8 + 5 * 48, "the full length is reported");
    assert_eq!(u32::from_le_bytes(out[0..4].try_into().unwrap()), 8 + 5 * 48);
}

#[test]
fn kernel_owned_features_are_hidden_from_set() {
    let sim = backend(true);
    let mut h = open(&sim);
    let (_, _, _, p) = call(&mut h, DEBUG_READ_ONLY, &supported(5 * 48, 0), 16 + 8 + 5 * 48).unwrap();
    let scrub = &p[8 + 48..8 + 96];
    assert_eq!(&scrub[..16], &uuid(PATROL_SCRUB));
    assert_eq!(u16::from_le_bytes([scrub[20], scrub[21]]), 0, "set size shown as 0");
    assert_eq!(u32::from_le_bytes(scrub[22..26].try_into().unwrap()) & 1, 0, "changeable cleared");
    // The cached entry is changeable with an immediate effect: debug-write is refused by
    // the scope rule, debug-write-full passes it and meets the kernel-owned EPERM.
    assert_eq!(call(&mut h, DEBUG_WRITE, &set(uuid(PATROL_SCRUB), 1, &[1, 2]), 16).err(), Some(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(uuid(PATROL_SCRUB), 1, &[1, 2]), 16).err(), Some(Errno::EPERM));
}

#[test]
fn set_feature_scope_follows_the_effects() {
    let sim = backend(false);
    let mut h = open(&sim);
    let reset_only = set(TEST_FEATURE, 1, &[0; 4]);
    assert_eq!(call(&mut h, CONFIGURATION, &reset_only, 16).err(), Some(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &reset_only, 16).err(), Some(Errno::EINVAL));
    assert!(!sim.tainted());
    assert_eq!(call(&mut h, DEBUG_WRITE, &reset_only, 16).unwrap().0, 16);
    assert!(sim.tainted(), "debug-write taints (TAINT_FWCTL)");
    let immediate = set(uuid(THROTTLE), 1, &[0x60, 0]);
    assert_eq!(call(&mut h, DEBUG_WRITE, &immediate, 16).err(), Some(Errno::EINVAL), "needs debug-write-full");
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &immediate, 16).err(), Some(Errno::EPERM), "no CAP_SYS_RAWIO");

    let sim = backend(true);
    let mut h = open(&sim);
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &immediate, 16).unwrap().2, 0);
    let (_, _, _, p) = call(&mut h, DEBUG_READ_ONLY, &get(uuid(THROTTLE), 0, 8, 0), 24).unwrap();
    assert_eq!(p, [0x60, 0, 0, 0, 0, 0, 0, 0], "set bytes are the leading part of the value");
    // Device-level refusals come back as a return code: wrong version, too much data.
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(uuid(THROTTLE), 9, &[1, 0]), 16).unwrap().2, 2);
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(uuid(THROTTLE), 1, &[1, 0, 0]), 16).unwrap().2, 2);
    // Not changeable, unknown UUID, no data: the driver refuses.
    let read_only = uuid("1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d");
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(read_only, 1, &[0]), 16).err(), Some(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set([7; 16], 1, &[0]), 16).err(), Some(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(TEST_FEATURE, 1, &[]), 16).err(), Some(Errno::EINVAL));
}

#[test]
fn malformed_envelopes_are_einval() {
    let sim = backend(true);
    let mut h = open(&sim);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &supported(0, 0)[..15], 24).err(), Some(Errno::EINVAL), "short header");
    let mut lying = supported(0, 0);
    lying[8] = 9; // op_size beyond the input
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &lying, 24).err(), Some(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &envelope(0x0400, &[]), 24).err(), Some(Errno::EINVAL), "unknown opcode");
    // Only the low 16 bits of the opcode are read.
    assert!(call(&mut h, DEBUG_READ_ONLY, &envelope(0xdead_0500, &supported(0, 0)[16..]), 24).is_ok());
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &envelope(0x500, &[0; 7]), 24).err(), Some(Errno::EINVAL), "op_size 7");
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &supported(48, 5), 72).err(), Some(Errno::EINVAL), "start past the end");
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &envelope(0x501, &[0; 20]), 24).err(), Some(Errno::EINVAL), "op_size 20");
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 0, 0), 24).err(), Some(Errno::EINVAL), "count 0");
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 17, 0), 24).err(), Some(Errno::EINVAL), "count > out room");
    assert_eq!(call(&mut h, 7, &supported(0, 0), 24).err(), Some(Errno::EOPNOTSUPP));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &vec![0; 3 << 20], 24).err(), Some(Errno::EMSGSIZE));
}

#[test]
fn device_refusals_are_a_return_code_with_size_zero() {
    let sim = backend(true);
    let mut h = open(&sim);
    // More than the feature holds: the ioctl succeeds, size 0, Invalid Input.
    let (n, size, retval, _) = call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 8, 0), 24).unwrap();
    assert_eq!((n, size, retval), (16, 0, 2));
    // A selection the feature does not support, and an unknown UUID, likewise.
    let read_only = uuid("1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d");
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get(read_only, 0, 4, 2), 24).unwrap().2, 2);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get([7; 16], 0, 4, 0), 24).unwrap().2, 2);
    // Offset paging of a larger feature.
    let (_, size, _, p) = call(&mut h, DEBUG_READ_ONLY, &get(read_only, 8, 8, 0), 24).unwrap();
    assert_eq!((size, p), (8, vec![2, 0, 0, 0, 0, 0, 0, 0]));
}

#[test]
fn a_memdev_with_only_kernel_owned_features_gets_no_node() {
    let profile = r#"
        [[device]]
        kind = "cxl"
        model = "QEMU type-3"
        parent = "mem0"
        [device.cxl]
        [[device.cxl.feature]]
        uuid = "96dad7d6-fde8-482b-a733-75774e06db8a"
        get_size = 4
        set_size = 2
        flags = 1
        effects = 0x203
        value = "00000000"
    "#;
    let fleet = Fleet::from_toml(profile, "qemu").unwrap();
    let err = SimBackend::new(&fleet).err().unwrap().to_string();
    assert!(err.contains("no user-visible Feature"), "{err}");
}

#[test]
fn garbage_never_panics() {
    let sim = backend(true);
    let mut h = open(&sim);
    let mut next = common::xorshift(0x2545_f491_4f6c_dd1d);
    for _ in 0..5000 {
        let payload_len = (next() % 80) as usize;
        let payload: Vec<u8> = (0..payload_len).map(|_| next() as u8).collect();
        let mut input = envelope(0x500 + (next() % 4) as u32, &payload);
        if next() % 4 == 0 {
            let cut = (next() as usize) % (input.len() + 1);
            input.truncate(cut);
        }
        let out_len = (next() % 400) as usize;
        let mut out = vec![0u8; out_len];
        match h.rpc((next() % 5) as u32, &input, &mut out) {
            Ok(n) => assert!(n >= 16, "every reply reports at least the out struct"),
            Err(e) => assert!([Errno::EINVAL, Errno::EPERM, Errno::EOPNOTSUPP].contains(&e), "unexpected {e:?}"),
        }
    }
}
