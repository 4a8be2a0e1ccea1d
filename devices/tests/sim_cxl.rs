//! The simulated CXL memdev against drivers/cxl/core/features.c (Linux 7.3): every
//! envelope and Set Feature rule with its errno, the figures measured on cxl_test, and the
//! sequence ndctl's test/fwctl.c runs. Everything goes through the public Backend API.

mod common;

use fwctl_devices::Credentials;
use fwctl_devices::sim::cxl::rc;
use fwctl_devices::sim::{Fleet, SimBackend};
use fwctl_devices::{Backend, DeviceHandle, DeviceKind};
use nix::errno::Errno;

const CONFIGURATION: u32 = 0;
const DEBUG_READ_ONLY: u32 = 1;
const DEBUG_WRITE: u32 = 2;
const DEBUG_WRITE_FULL: u32 = 3;

/// The Features of the built-in `cxl-type3` profile, in index order.
const TEST_FEATURE: [u8; 16] = [0xff; 16];
const PATROL_SCRUB: &str = "96dad7d6-fde8-482b-a733-75774e06db8a";
const ECS: &str = "e5b13f22-2328-4a14-b8ba-b9691e893386";
const THROTTLE: &str = "7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e";
const COUNTERS: &str = "1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d";
const LINK: &str = "3b9d2f64-0e71-4c85-a1f3-5d6e7f809a1b";
const REFRESH_TABLE: &str = "a4c3e1f0-5b2d-4e8a-9c7b-6d5e4f3a2b1c";
const FEATURES: usize = 7;

fn uuid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

fn fleet_backend(fleet: &Fleet, cap_sys_rawio: bool) -> SimBackend {
    SimBackend::with_credentials(fleet, Credentials { cap_sys_rawio }).unwrap()
}

fn backend(cap_sys_rawio: bool) -> SimBackend {
    fleet_backend(&Fleet::builtin("cxl-type3").unwrap().unwrap(), cap_sys_rawio)
}

/// A memdev shaped exactly like one of cxl_test's: the one vendor Feature.
fn cxl_test_backend(cap_sys_rawio: bool) -> SimBackend {
    fleet_backend(&one_feature_fleet("0x201", "0x61", "writable = true"), cap_sys_rawio)
}

fn one_feature_fleet(effects: &str, flags: &str, device_line: &str) -> Fleet {
    let text = format!(
        r#"
        [[device]]
        kind = "cxl"
        model = "cxl_test mock memdev"
        parent = "mem2"
        [device.cxl]
        {device_line}
        [[device.cxl.feature]]
        uuid = "ffffffff-ffff-ffff-ffff-ffffffffffff"
        get_size = 4
        set_size = 4
        flags = {flags}
        effects = {effects}
        value = "efbeadde"
        "#
    );
    Fleet::from_toml(&text, "test").unwrap()
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

fn set_at(uuid: [u8; 16], flags: u32, offset: u16, version: u8, data: &[u8]) -> Vec<u8> {
    let mut p = uuid.to_vec();
    p.extend_from_slice(&flags.to_le_bytes());
    p.extend_from_slice(&offset.to_le_bytes());
    p.push(version);
    p.extend_from_slice(&[0; 9]);
    p.extend_from_slice(data);
    envelope(0x502, &p)
}

fn set(uuid: [u8; 16], version: u8, data: &[u8]) -> Vec<u8> {
    set_at(uuid, 0, 0, version, data)
}

/// One reply: the reported out_len, `size`, `retval`, and the payload bytes present.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    out_len: usize,
    size: u32,
    retval: u32,
    payload: Vec<u8>,
}

fn call(h: &mut Box<dyn DeviceHandle>, scope: u32, input: &[u8], out_len: usize) -> Result<Reply, Errno> {
    let mut out = vec![0xa5u8; out_len];
    let n = h.rpc(scope, input, &mut out)?;
    let copied = n.min(out_len);
    assert!(out[copied..].iter().all(|b| *b == 0xa5), "nothing written past the reported length");
    let le = |at: usize| out.get(at..at + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()));
    let (size, retval) = (le(0), le(4));
    let end = (8 + size as usize).min(copied);
    Ok(Reply { out_len: n, size, retval, payload: out.get(8..end).unwrap_or(&[]).to_vec() })
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// An entry's fields: (uuid, id, get size, set size, flags, get ver, set ver, effects).
fn entry(e: &[u8]) -> ([u8; 16], u16, u16, u16, u32, u8, u8, u16) {
    assert_eq!(e.len(), 48);
    assert!(e[30..].iter().all(|b| *b == 0), "reserved bytes are zero");
    (
        e[..16].try_into().unwrap(),
        u16_at(e, 16),
        u16_at(e, 18),
        u16_at(e, 20),
        u32_at(e, 22),
        e[26],
        e[27],
        u16_at(e, 28),
    )
}

#[test]
fn discovery_and_info_show_a_cxl_memdev_without_device_data() {
    let sim = backend(true);
    let found = sim.discover().unwrap();
    assert_eq!(found.len(), 1);
    let d = &found[0];
    assert_eq!((d.kind, d.parent.as_str(), d.driver.as_deref()), (DeviceKind::Cxl, "mem0", Some("cxl_mem")));
    assert_eq!(d.cxl_memdev.as_deref(), Some("mem0"));
    let info = open(&sim).info().unwrap();
    assert_eq!(info.device_type, 2);
    assert!(info.device_data.is_empty());
}

#[test]
fn ndctl_test_fwctl_sequence() {
    let sim = cxl_test_backend(true);
    let mut h = open(&sim);
    // Get Supported Features with count 0: the header alone.
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(0, 0), 1024).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (24, 8, 0));
    assert_eq!(r.payload, [0, 0, 1, 0, 0, 0, 0, 0], "num_entries 0, supported_feats 1");
    // Room for one entry: the test Feature as cxl_test describes it.
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(48, 0), 1024).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (72, 56, 0));
    assert_eq!((u16_at(&r.payload, 0), u16_at(&r.payload, 2)), (1, 1));
    assert_eq!(entry(&r.payload[8..56]), (TEST_FEATURE, 0, 4, 4, 0x61, 1, 1, 0x201));
    // Read the current value.
    let r = call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 12).unwrap();
    assert_eq!((r.size, r.retval, r.payload), (4, 0, 0xdeadbeefu32.to_le_bytes().to_vec()));
    // Write 0xabcdabcd at debug-write-full (CAP_SYS_RAWIO held), read it back.
    let r = call(&mut h, DEBUG_WRITE_FULL, &set(TEST_FEATURE, 1, &0xabcdabcdu32.to_le_bytes()), 8).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (16, 0, 0));
    let r = call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 12).unwrap();
    assert_eq!(r.payload, 0xabcdabcdu32.to_le_bytes());
    // Output room for the 8-byte header only: EINVAL. Set Feature with no output: EINVAL.
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 8), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(TEST_FEATURE, 1, &[1, 2, 3, 4]), 0), Err(Errno::EINVAL));
    let r = call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 12).unwrap();
    assert_eq!(r.payload, 0xabcdabcdu32.to_le_bytes(), "the refused Set changed nothing");
}

#[test]
fn cxl_test_figures_and_taint() {
    let sim = cxl_test_backend(false);
    let mut h = open(&sim);
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(1024, 0), 1024).unwrap();
    assert_eq!((r.out_len, r.size, r.retval, r.payload.len()), (72, 56, 0, 56));
    let r = call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 1024).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (20, 4, 0));
    assert_eq!(u32_at(&r.payload, 0), 0xdeadbeef);
    // Reset-only effects: configuration and debug-read-only may not set; debug-write may.
    let value = set(TEST_FEATURE, 1, &0x12345678u32.to_le_bytes());
    assert_eq!(call(&mut h, CONFIGURATION, &value, 16), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &value, 16), Err(Errno::EINVAL));
    assert!(!sim.tainted());
    let r = call(&mut h, DEBUG_WRITE, &value, 16).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (16, 0, 0));
    assert!(sim.tainted(), "TAINT_FWCTL");
    assert!(sim.kernel_log()[0].contains("has requested full access to the physical device"));
    // The value is shared by every handle of the device.
    let mut other = open(&sim);
    let r = call(&mut other, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 12).unwrap();
    assert_eq!(u32_at(&r.payload, 0), 0x12345678);
    // The kernel asks for "saved across reset": the saved value follows, not the default.
    let saved = call(&mut other, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 2), 12).unwrap();
    let default = call(&mut other, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 1), 12).unwrap();
    assert_eq!((u32_at(&saved.payload, 0), u32_at(&default.payload, 0)), (0x12345678, 0xdeadbeef));
}

#[test]
fn get_supported_features_pages_from_the_cached_list() {
    let sim = backend(true);
    let mut h = open(&sim);
    let full_len = 16 + 8 + FEATURES * 48;
    // count / 48 entries, never past the end; supported_feats counts them all.
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(2 * 48 + 47, 1), 4096).unwrap();
    assert_eq!((r.out_len, r.size), (16 + 8 + 96, 8 + 96));
    assert_eq!((u16_at(&r.payload, 0), u16_at(&r.payload, 2)), (2, FEATURES as u16));
    assert_eq!(entry(&r.payload[8..56]).1, 1);
    assert_eq!(entry(&r.payload[56..104]).1, 2);
    let r = call(&mut h, CONFIGURATION, &supported(u32::MAX, 6), 4096).unwrap();
    assert_eq!((u16_at(&r.payload, 0), entry(&r.payload[8..56]).0), (1, uuid(REFRESH_TABLE)));
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(u32::MAX, 0), 4096).unwrap();
    assert_eq!((r.out_len, r.size as usize), (full_len, full_len - 16));
    let ids: Vec<u16> = r.payload[8..].chunks(48).map(|e| entry(e).1).collect();
    assert_eq!(ids, (0..FEATURES as u16).collect::<Vec<_>>());
    // The caller's out_len plays no part: the full length is reported, what fits copied.
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(u32::MAX, 0), 16).unwrap();
    assert_eq!((r.out_len, r.size, r.payload.len()), (full_len, (full_len - 16) as u32, 8));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &supported(u32::MAX, 0), 0).unwrap().out_len, full_len);
    // start_idx at or past the end, or an op_size other than 8: EINVAL.
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &supported(48, FEATURES as u16), 72), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &supported(0, u16::MAX), 72), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &envelope(0x500, &[0; 7]), 72), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &envelope(0x500, &[0; 9]), 72), Err(Errno::EINVAL));
}

#[test]
fn kernel_owned_features_are_listed_unsettable_and_refused_with_eperm() {
    let sim = backend(true);
    let mut h = open(&sim);
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(3 * 48, 0), 4096).unwrap();
    // The device reports them changeable with real set sizes; the kernel shows 0 and
    // clears the changeable bit, leaving every other field alone.
    assert_eq!(entry(&r.payload[56..104]), (uuid(PATROL_SCRUB), 1, 4, 0, 0x00, 1, 1, 0x202));
    assert_eq!(entry(&r.payload[104..152]), (uuid(ECS), 2, 9, 0, 0x00, 1, 1, 0x202));
    assert_eq!(u16_at(&r.payload, 2), FEATURES as u16, "supported_feats includes them");
    // Readable as any other Feature.
    let r = call(&mut h, DEBUG_READ_ONLY, &get(uuid(PATROL_SCRUB), 0, 4, 0), 12).unwrap();
    assert_eq!(r.payload, [0x01, 0x0c, 0x01, 0x01]);
    // The cached entry is changeable with an immediate effect: debug-write fails the scope
    // rule, debug-write-full passes it and meets the kernel-owned EPERM.
    for owned in [PATROL_SCRUB, ECS] {
        let request = set(uuid(owned), 1, &[0x18, 0x01]);
        assert_eq!(call(&mut h, DEBUG_WRITE, &request, 16), Err(Errno::EINVAL), "{owned}");
        assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &request, 16), Err(Errno::EPERM), "{owned}");
        // EPERM comes before the output room check, after the no-data check.
        assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &request, 0), Err(Errno::EPERM), "{owned}");
        assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &set(uuid(owned), 1, &[]), 16), Err(Errno::EINVAL));
    }
    let r = call(&mut h, DEBUG_READ_ONLY, &get(uuid(PATROL_SCRUB), 0, 4, 0), 12).unwrap();
    assert_eq!(r.payload, [0x01, 0x0c, 0x01, 0x01], "unchanged");
}

#[test]
fn set_feature_scope_follows_the_effects() {
    let sim = backend(false);
    let mut h = open(&sim);
    // Immediate policy change: only debug-write-full, which needs CAP_SYS_RAWIO (core).
    let immediate = set(uuid(THROTTLE), 1, &[0x50, 0x04]);
    for scope in [CONFIGURATION, DEBUG_READ_ONLY, DEBUG_WRITE] {
        assert_eq!(call(&mut h, scope, &immediate, 16), Err(Errno::EINVAL), "scope {scope}");
    }
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &immediate, 16), Err(Errno::EPERM), "no CAP_SYS_RAWIO");
    // A CXL-reset effect needs debug-write only.
    let link = set(uuid(LINK), 1, &[0x03]);
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &link, 16), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_WRITE, &link, 16).unwrap().retval, 0);

    let sim = backend(true);
    let mut h = open(&sim);
    let r = call(&mut h, DEBUG_WRITE_FULL, &immediate, 16).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (16, 0, 0));
    let r = call(&mut h, DEBUG_READ_ONLY, &get(uuid(THROTTLE), 0, 8, 0), 16).unwrap();
    assert_eq!(r.payload, [0x50, 0x04, 0, 3, 0, 0, 0, 0], "set data overlays the leading bytes");
    let r = call(&mut h, DEBUG_READ_ONLY, &get(uuid(THROTTLE), 0, 2, 1), 16).unwrap();
    assert_eq!(r.payload, [0x5a, 0x05], "default");
    // debug-write-full also covers reset-only Features.
    assert_eq!(call(&mut h, DEBUG_WRITE_FULL, &link, 16).unwrap().retval, 0);
}

#[test]
fn set_feature_is_refused_by_the_driver_with_einval() {
    let sim = backend(true);
    let mut h = open(&sim);
    let w = DEBUG_WRITE_FULL;
    assert_eq!(call(&mut h, w, &set([7; 16], 1, &[0]), 16), Err(Errno::EINVAL), "UUID not in the list");
    assert_eq!(call(&mut h, w, &set(uuid(COUNTERS), 1, &[0]), 16), Err(Errno::EINVAL), "not changeable");
    assert_eq!(call(&mut h, w, &set(TEST_FEATURE, 1, &[]), 16), Err(Errno::EINVAL), "op_size 32: no data");
    assert_eq!(call(&mut h, w, &envelope(0x502, &[0xff; 15]), 16), Err(Errno::EINVAL), "op_size < 16");
    assert_eq!(call(&mut h, w, &envelope(0x502, &[0xff; 16]), 16), Err(Errno::EINVAL), "header cut short");
    assert_eq!(call(&mut h, w, &set(TEST_FEATURE, 1, &[1]), 7), Err(Errno::EINVAL), "out_len < 8");
    assert_eq!(call(&mut h, w, &set(TEST_FEATURE, 1, &[1]), 8).unwrap().out_len, 16, "8 is enough");

    // Effects the driver will not trust, at the highest scope.
    for (effects, why) in [
        ("0x1201", "a reserved bit"),
        ("0x241", "a background operation"),
        ("0x200", "neither immediate nor reset"),
        ("0x220", "security state change only"),
    ] {
        let sim = fleet_backend(&one_feature_fleet(effects, "0x61", ""), true);
        let mut h = open(&sim);
        assert_eq!(call(&mut h, w, &set(TEST_FEATURE, 1, &[1, 2, 3, 4]), 16), Err(Errno::EINVAL), "{why}");
        assert!(call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 12).is_ok());
    }
    // The cached entry's changeable bit decides, and a read-only Feature mailbox refuses all.
    let sim = fleet_backend(&one_feature_fleet("0x201", "0x60", ""), true);
    assert_eq!(call(&mut open(&sim), w, &set(TEST_FEATURE, 1, &[1]), 16), Err(Errno::EINVAL));
    let sim = fleet_backend(&one_feature_fleet("0x201", "0x61", "writable = false"), true);
    let mut h = open(&sim);
    assert_eq!(call(&mut h, w, &set(TEST_FEATURE, 1, &[1]), 16), Err(Errno::EINVAL));
    assert_eq!(call(&mut h, DEBUG_READ_ONLY, &get(TEST_FEATURE, 0, 4, 0), 12).unwrap().size, 4);
}

#[test]
fn set_feature_device_refusals_are_return_codes() {
    let sim = backend(true);
    let mut h = open(&sim);
    let w = DEBUG_WRITE_FULL;
    let refused = |r: Reply| (r.out_len, r.size, r.retval);
    let version = call(&mut h, w, &set(uuid(THROTTLE), 9, &[1, 0]), 16).unwrap();
    assert_eq!(refused(version), (16, 0, u32::from(rc::FEATURE_VERSION)));
    let too_long = call(&mut h, w, &set(uuid(THROTTLE), 1, &[1, 0, 0]), 16).unwrap();
    assert_eq!(refused(too_long), (16, 0, u32::from(rc::INPUT)));
    let past_end = call(&mut h, w, &set_at(uuid(THROTTLE), 0, 1, 1, &[1, 0]), 16).unwrap();
    assert_eq!(refused(past_end), (16, 0, u32::from(rc::INPUT)));
    // An offset inside the settable bytes writes there; the caller's transfer bits are
    // replaced by the kernel's own (here: full transfer despite "finish").
    let r = call(&mut h, w, &set_at(uuid(THROTTLE), 3, 1, 1, &[0x07]), 16).unwrap();
    assert_eq!(r.retval, 0);
    let r = call(&mut h, DEBUG_READ_ONLY, &get(uuid(THROTTLE), 0, 3, 0), 16).unwrap();
    assert_eq!(r.payload, [0x55, 0x07, 0x00]);
}

#[test]
fn get_feature_rules_and_device_answers() {
    let sim = backend(true);
    let mut h = open(&sim);
    let r = DEBUG_READ_ONLY;
    assert_eq!(call(&mut h, r, &envelope(0x501, &[0; 20]), 64), Err(Errno::EINVAL), "op_size 20");
    assert_eq!(call(&mut h, r, &envelope(0x501, &[0; 22]), 64), Err(Errno::EINVAL), "op_size 22");
    assert_eq!(call(&mut h, r, &get(TEST_FEATURE, 0, 0, 0), 64), Err(Errno::EINVAL), "count 0");
    assert_eq!(call(&mut h, r, &get(TEST_FEATURE, 0, 4, 0), 7), Err(Errno::EINVAL), "out_len < 8");
    assert_eq!(call(&mut h, r, &get(TEST_FEATURE, 0, 5, 0), 12), Err(Errno::EINVAL), "count > out_len - 8");
    // Checked before the device is asked: an unknown UUID with no room is still EINVAL.
    assert_eq!(call(&mut h, r, &get([7; 16], 0, 4, 0), 8), Err(Errno::EINVAL));

    // count larger than the Feature: the ioctl succeeds, size 0, the device's code.
    let over = call(&mut h, r, &get(TEST_FEATURE, 0, 8, 0), 64).unwrap();
    assert_eq!((over.out_len, over.size, over.retval), (16, 0, u32::from(rc::INPUT)));
    let over = call(&mut h, r, &get(TEST_FEATURE, 2, 4, 0), 64).unwrap();
    assert_eq!((over.size, over.retval), (0, u32::from(rc::INPUT)));
    // Unknown UUID, unsupported or reserved selections: likewise.
    let unknown = call(&mut h, r, &get([7; 16], 0, 4, 0), 64).unwrap();
    assert_eq!((unknown.out_len, unknown.size, unknown.retval), (16, 0, u32::from(rc::UNSUPPORTED)));
    let no_default = call(&mut h, r, &get(uuid(COUNTERS), 0, 8, 1), 64).unwrap();
    assert_eq!((no_default.size, no_default.retval), (0, u32::from(rc::FEATURE_SELECTION)));
    let no_saved = call(&mut h, r, &get(uuid(COUNTERS), 0, 8, 2), 64).unwrap();
    assert_eq!((no_saved.size, no_saved.retval), (0, u32::from(rc::FEATURE_SELECTION)));
    let reserved = call(&mut h, r, &get(TEST_FEATURE, 0, 4, 3), 64).unwrap();
    assert_eq!((reserved.size, reserved.retval), (0, u32::from(rc::INPUT)));

    // Offset paging: the second and last counters of the read-only Feature.
    let page = call(&mut h, r, &get(uuid(COUNTERS), 8, 8, 0), 64).unwrap();
    assert_eq!((page.out_len, page.size), (24, 8));
    assert_eq!(page.payload, [0x41, 0xd2, 0xb8, 0x03, 0, 0, 0, 0]);
    let last = call(&mut h, r, &get(uuid(COUNTERS), 24, 8, 0), 64).unwrap();
    assert_eq!(last.payload, [3, 0, 0, 0, 0, 0, 0, 0]);
    // out_len between 8 + count and 16 + count: success, the longer length reported.
    let tight = call(&mut h, r, &get(TEST_FEATURE, 0, 4, 0), 12).unwrap();
    assert_eq!((tight.out_len, tight.size, tight.payload.len()), (20, 4, 4));
}

#[test]
fn a_feature_larger_than_a_mailbox_transfer() {
    let sim = backend(false);
    let mut h = open(&sim);
    let table = uuid(REFRESH_TABLE);
    // 1 KiB through a 512-byte mailbox: Get gathers two parts.
    let before = call(&mut h, DEBUG_READ_ONLY, &get(table, 0, 1024, 0), 8 + 1024).unwrap();
    assert_eq!((before.out_len, before.size, before.retval), (16 + 1024, 1024, 0));
    assert_eq!(&before.payload[..16], &[0, 0, 1, 1, 0x3c, 0x0f, 0, 0, 85, 75, 0, 0, 0, 0x20, 0, 0]);
    assert_eq!(&before.payload[1008..1012], &[7, 7, 2, 1], "entry 63: channel 7, rank 7, 2x refresh");

    // Set splits into initiate (480), continue (480), finish (64); applied as a whole.
    let new: Vec<u8> = (0..1024u32).map(|i| (i * 31 + 7) as u8).collect();
    let r = call(&mut h, DEBUG_WRITE, &set(table, 1, &new), 16).unwrap();
    assert_eq!((r.out_len, r.size, r.retval), (16, 0, 0));
    let mut other = open(&sim);
    let after = call(&mut other, DEBUG_READ_ONLY, &get(table, 0, 1024, 0), 8 + 1024).unwrap();
    assert_eq!(after.payload, new);
    let saved = call(&mut other, DEBUG_READ_ONLY, &get(table, 512, 512, 2), 8 + 512).unwrap();
    assert_eq!(saved.payload, &new[512..]);
    let default = call(&mut other, DEBUG_READ_ONLY, &get(table, 0, 1024, 1), 8 + 1024).unwrap();
    assert_eq!(default.payload, before.payload);

    // A split write that runs off the end fails in its last part: nothing applied, and
    // the device is free for the next Set.
    let r = call(&mut h, DEBUG_WRITE, &set_at(table, 0, 500, 1, &[0xee; 600]), 16).unwrap();
    assert_eq!((r.size, r.retval), (0, u32::from(rc::INPUT)));
    let r = call(&mut h, DEBUG_READ_ONLY, &get(table, 0, 1024, 0), 8 + 1024).unwrap();
    assert_eq!(r.payload, new);
    // Partial writes at an offset, in one transfer and split.
    assert_eq!(call(&mut h, DEBUG_WRITE, &set_at(table, 0, 1000, 1, &[0x11; 24]), 16).unwrap().retval, 0);
    assert_eq!(call(&mut h, DEBUG_WRITE, &set_at(table, 0, 16, 1, &[0x22; 500]), 16).unwrap().retval, 0);
    let r = call(&mut h, DEBUG_READ_ONLY, &get(table, 0, 1024, 0), 8 + 1024).unwrap();
    let mut expected = new.clone();
    expected[1000..].fill(0x11);
    expected[16..516].fill(0x22);
    assert_eq!(r.payload, expected);
    // A read whose second part runs off the end: size 0, and the reported 16 bytes carry
    // the first part's leading bytes, as the kernel's reused buffer does.
    let mut out = vec![0u8; 8 + 1000];
    let n = h.rpc(DEBUG_READ_ONLY, &get(table, 100, 1000, 0), &mut out).unwrap();
    assert_eq!((n, u32_at(&out, 0), u32_at(&out, 4)), (16, 0, u32::from(rc::INPUT)));
    assert_eq!(&out[8..16], &expected[100..108]);
}

#[test]
fn malformed_envelopes() {
    let sim = backend(true);
    let mut h = open(&sim);
    let r = DEBUG_READ_ONLY;
    let good = supported(0, 0);
    for len in 0..16 {
        assert_eq!(call(&mut h, r, &good[..len], 64), Err(Errno::EINVAL), "in_len {len}");
    }
    let mut lying = good.clone();
    lying[8] = 9; // op_size beyond the input
    assert_eq!(call(&mut h, r, &lying, 64), Err(Errno::EINVAL));
    lying[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(call(&mut h, r, &lying, 64), Err(Errno::EINVAL));
    // Bytes past op_size are allowed and ignored.
    let mut longer = good.clone();
    longer.extend_from_slice(&[0xff; 40]);
    assert_eq!(call(&mut h, r, &longer, 64).unwrap().out_len, 24);
    for opcode in [0x0000, 0x0400, 0x04ff, 0x0503, 0x4500, 0xffff] {
        assert_eq!(call(&mut h, r, &envelope(opcode, &good[16..]), 64), Err(Errno::EINVAL), "{opcode:#x}");
    }
    // Only the low 16 bits of the opcode are read; flags and reserved are not checked.
    assert_eq!(call(&mut h, r, &envelope(0xdead_0500, &good[16..]), 64).unwrap().out_len, 24);
    let mut noisy = get(TEST_FEATURE, 0, 4, 0);
    noisy[2] = 0x01;
    noisy[4..8].copy_from_slice(&[0xff; 4]);
    noisy[12..16].copy_from_slice(&[0xff; 4]);
    assert_eq!(call(&mut h, r, &noisy, 12).unwrap().payload, 0xdeadbeefu32.to_le_bytes());
    // The core's checks come first.
    assert_eq!(call(&mut h, 7, &good, 64), Err(Errno::EOPNOTSUPP));
    assert_eq!(call(&mut h, 4, &good[..3], 64), Err(Errno::EOPNOTSUPP));
    assert_eq!(call(&mut h, r, &vec![0; 3 << 20], 64), Err(Errno::EMSGSIZE));
    assert_eq!(call(&mut open(&backend(false)), DEBUG_WRITE_FULL, &good[..3], 64), Err(Errno::EPERM));
}

#[test]
fn memdevs_without_user_visible_features_get_no_node() {
    let qemu = r#"
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
        effects = 0x202
        value = "010c0101"
        [[device.cxl.feature]]
        uuid = "e5b13f22-2328-4a14-b8ba-b9691e893386"
        get_size = 5
        set_size = 3
        flags = 1
        effects = 0x202
        value = "0101030000"
    "#;
    let fleet = Fleet::from_toml(qemu, "qemu").unwrap();
    let err = SimBackend::new(&fleet).err().unwrap().to_string();
    assert!(err.contains("no user-visible Feature"), "{err}");
    let empty = qemu.split("[[device.cxl.feature]]").next().unwrap();
    let err = SimBackend::new(&Fleet::from_toml(empty, "empty").unwrap()).err().unwrap().to_string();
    assert!(err.contains("no Features"), "{err}");
}

#[test]
fn garbage_never_panics() {
    let sim = backend(true);
    let mut h = open(&sim);
    let mut next = common::xorshift(0x2545_f491_4f6c_dd1d);
    let known = [TEST_FEATURE, uuid(PATROL_SCRUB), uuid(THROTTLE), uuid(COUNTERS), uuid(REFRESH_TABLE), [0; 16]];
    let mut out_lens = [0usize; 3];
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let opcode = match next() % 8 {
            0 => next() as u32,
            n => (0x0500 + (n as u32 % 4)) | ((next() as u32 % 2) << 16),
        };
        let target = known[(next() % known.len() as u64) as usize];
        // Mostly well-formed requests with random field values, then some random damage.
        let mut payload = match (opcode & 0xffff, next() % 4) {
            (0x500, 0..=2) => {
                let mut p = ((next() % 600) as u32).to_le_bytes().to_vec();
                p.extend_from_slice(&((next() % 9) as u16).to_le_bytes());
                p.extend_from_slice(&[0, 0]);
                p
            }
            (0x501, 0..=2) => {
                let mut p = target.to_vec();
                p.extend_from_slice(&((next() % 40) as u16).to_le_bytes());
                p.extend_from_slice(&((next() % 1100) as u16).to_le_bytes());
                p.push((next() % 4) as u8);
                p
            }
            (0x502, 0..=2) => {
                let mut p = target.to_vec();
                p.extend_from_slice(&((next() % 16) as u32).to_le_bytes());
                p.extend_from_slice(&((next() % 1100) as u16).to_le_bytes());
                p.push(1 + next().is_multiple_of(8) as u8);
                p.extend_from_slice(&[0; 9]);
                p.extend((0..next() % 1100).map(|_| next() as u8));
                p
            }
            _ => (0..next() % 64).map(|_| next() as u8).collect(),
        };
        if !payload.is_empty() && next().is_multiple_of(4) {
            let at = (next() as usize) % payload.len();
            payload[at] = next() as u8;
        }
        let mut input = envelope(opcode, &payload);
        match next() % 6 {
            0 => input.truncate((next() as usize) % (input.len() + 1)),
            1 => input[8..12].copy_from_slice(&(next() as u32).to_le_bytes()),
            _ => {}
        }
        let mut out = vec![0u8; (next() % 1200) as usize];
        out_lens[(out.len() * 3) / 1200] += 1;
        match h.rpc((next() % 5) as u32, &input, &mut out) {
            Ok(n) => {
                assert!((16..=16 + 8 + FEATURES * 48).contains(&n) || (16..=16 + 1024).contains(&n), "{n}");
                ok += 1;
            }
            Err(e) => {
                assert!([Errno::EINVAL, Errno::EPERM, Errno::EOPNOTSUPP].contains(&e), "unexpected {e:?}");
                refused += 1;
            }
        }
    }
    assert!(ok > 1500 && refused > 1500, "both paths exercised: {ok} ok, {refused} refused");
    assert!(out_lens.iter().all(|n| *n > 3000), "{out_lens:?}");
    // Still a working device afterwards.
    let r = call(&mut h, DEBUG_READ_ONLY, &supported(48, 0), 72).unwrap();
    assert_eq!((r.out_len, entry(&r.payload[8..56]).0), (72, TEST_FEATURE));
}
