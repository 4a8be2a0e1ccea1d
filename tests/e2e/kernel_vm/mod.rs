//! Against the real kernel: Linux 7.3 built with fwctl and the kernel's own CXL mock
//! (`cxl_test`), booted under QEMU, with `fwctl-run` and the real plugins run inside.
//!
//! The guest only runs commands and reports their output (see `tests/vm/init`); every
//! assertion is made here. Raw RPCs sent to the kernel are also sent to the simulator's
//! `cxl-test-mock` profile, and the two answers must be the same bytes or the same errno.
//! The assertions of ndctl's `test/fwctl.c`, the peer test for this interface, are ported
//! as far as they apply (marked "ndctl:").

mod differential;
use fwctl_test_support::vm::{Boot, Scenario, Shape, boot};

use crate::common::{fwctl_run, json};

/// The cxl_test vendor Feature: 4 bytes, changeable, Set needs debug-write.
const TEST_FEATURE: [u8; 16] = [0xff; 16];
/// A Feature the mock does not have (patrol scrub).
const PATROL_SCRUB: [u8; 16] =
    [0x96, 0xda, 0xd7, 0xd6, 0xfd, 0xe8, 0x48, 0x2b, 0xa7, 0x33, 0x75, 0x77, 0x4e, 0x06, 0xdb, 0x8a];
/// `TAINT_FWCTL` (include/linux/panic.h): bit 19 of /proc/sys/kernel/tainted.
const TAINT_FWCTL: u64 = 1 << 19;
/// The node the scenario works on: cxl_test's memdevs are the guest's only fwctl devices.
const NODE: &str = "fwctl0";

/// A `struct fwctl_rpc_cxl`: the 16-byte header, then the mailbox input.
fn cxl_rpc(opcode: u32, payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(16 + payload.len());
    bytes.extend_from_slice(&opcode.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(payload);
    hex::encode(bytes)
}

/// Get Supported Features (0x500): `count` bytes of entries from `start`.
fn get_supported_features(count: u32, start: u16) -> String {
    let mut p = count.to_le_bytes().to_vec();
    p.extend_from_slice(&start.to_le_bytes());
    p.extend_from_slice(&[0, 0]);
    cxl_rpc(0x500, &p)
}

/// Get Feature (0x501), current value.
fn get_feature(uuid: &[u8; 16], offset: u16, count: u16) -> String {
    let mut p = uuid.to_vec();
    p.extend_from_slice(&offset.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    p.push(0);
    cxl_rpc(0x501, &p)
}

/// Set Feature (0x502), a full data transfer (flags 0) of `data` at offset 0, version 1.
fn set_feature(uuid: &[u8; 16], data: &[u8]) -> String {
    let mut p = uuid.to_vec();
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.push(1);
    p.extend_from_slice(&[0; 9]);
    p.extend_from_slice(data);
    cxl_rpc(0x502, &p)
}

/// A raw RPC sent to the kernel in the guest and, after the boot, to the simulator.
struct CrossCheck {
    step: &'static str,
    scope: &'static str,
    out_len: u32,
    request: String,
}

impl CrossCheck {
    /// The `fwctl-run rpc` arguments against `source`; a tainting scope runs under
    /// `taint_policy` (a policy file that allows tainting, where the command runs).
    fn args(&self, source: &str, taint_policy: &str) -> Vec<String> {
        let out_len = self.out_len.to_string();
        let mut args = vec!["rpc", NODE, source, "--json", "--scope", self.scope, "--out-len", &out_len];
        if self.scope.starts_with("debug-write") {
            args.extend_from_slice(&["--policy", taint_policy, "--allow-taint"]);
        }
        args.push(&self.request);
        args.into_iter().map(String::from).collect()
    }
}

/// RPCs whose answers must not depend on what ran before (so a fresh simulator can
/// answer them too): everything but a Get Feature after the value changed.
fn cross_checks_before_any_write() -> Vec<CrossCheck> {
    let c = |step, scope, out_len, request| CrossCheck { step, scope, out_len, request };
    vec![
        // ndctl: Get Supported Features with no room for an entry returns the header only.
        c("xc-gsf-header-only", "debug-read-only", 16, get_supported_features(0, 0)),
        // ndctl: room for one entry returns the test Feature.
        c("xc-gsf-one-entry", "debug-read-only", 64, get_supported_features(56, 0)),
        c("xc-gsf-more-room-than-entries", "configuration", 256, get_supported_features(240, 0)),
        c("xc-gsf-start-past-the-end", "debug-read-only", 64, get_supported_features(48, 1)),
        // ndctl: the current value is 0xdeadbeef.
        c("xc-get-current", "debug-read-only", 12, get_feature(&TEST_FEATURE, 0, 4)),
        // ndctl: an output buffer of only the 8-byte header is EINVAL.
        c("xc-get-header-only-buffer", "debug-read-only", 8, get_feature(&TEST_FEATURE, 0, 4)),
        c("xc-get-zero-bytes", "debug-read-only", 12, get_feature(&TEST_FEATURE, 0, 0)),
        c("xc-get-past-the-end", "debug-read-only", 16, get_feature(&TEST_FEATURE, 0, 8)),
        c("xc-get-unknown-feature", "debug-read-only", 12, get_feature(&PATROL_SCRUB, 0, 4)),
        // A Set below the scope its effects need: the driver's EINVAL (and no taint).
        c("xc-set-at-read-only", "debug-read-only", 8, set_feature(&TEST_FEATURE, &0xabcd_abcdu32.to_le_bytes())),
        c("xc-unknown-opcode", "debug-read-only", 64, cxl_rpc(0x4500, &[])),
    ]
}

/// Cross-checks that write: run after the taint check, each leaving the value it found.
fn cross_checks_that_write() -> Vec<CrossCheck> {
    let c = |step, scope, out_len, request| CrossCheck { step, scope, out_len, request };
    vec![
        // ndctl: a Set Feature with no room for the output header is EINVAL.
        c("xc-set-no-output-room", "debug-write", 0, set_feature(&TEST_FEATURE, &0xdead_beefu32.to_le_bytes())),
        // ndctl writes at debug-write-full (root has CAP_SYS_RAWIO).
        c("xc-set-full", "debug-write-full", 8, set_feature(&TEST_FEATURE, &0xdead_beefu32.to_le_bytes())),
        c("xc-set-short-data", "debug-write", 8, set_feature(&TEST_FEATURE, &[0xef, 0xbe])),
        c("xc-set-no-data", "debug-write", 8, set_feature(&TEST_FEATURE, &[])),
    ]
}

/// Where the guest keeps [`PROVISIONING_POLICY`].
const GUEST_POLICY: &str = "/etc/provisioning-policy.toml";

/// A policy that lets unsigned plugins provision CXL devices, tainting scopes included.
const PROVISIONING_POLICY: &str = "policy-version = 1\nallow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write-full\" }\nwrites = [\"cxl\"]\n";

fn cxl_test_scenario(checks_before: &[CrossCheck], checks_writing: &[CrossCheck]) -> Scenario {
    let mut s = Scenario::default();
    let run = |command: &[&str]| -> Vec<String> {
        let mut args = vec!["fwctl-run", "/plugins/cxl-features.wasm", "--kernel", "--device", NODE, "--json"];
        args.extend_from_slice(command);
        args.into_iter().map(String::from).collect()
    };
    let step = |s: &mut Scenario, name: &str, args: Vec<String>| {
        s.step(name, &args);
    };
    s.file(GUEST_POLICY, PROVISIONING_POLICY);
    // Without udev nothing loads the mock's memdev driver, so both are loaded by hand;
    // the memdevs then probe asynchronously.
    s.step("load-cxl-test", &["modprobe", "cxl_test"]);
    s.step("load-cxl-mock-mem", &["modprobe", "cxl_mock_mem"]);
    s.shell_step("wait-for-nodes", "wait_for '/dev/fwctl/fwctl*' 60 && sleep 2 && ls /sys/class/fwctl");
    s.shell_step("memdevs", "ls /sys/bus/cxl/devices | grep '^mem'");
    s.step("list-json", &["fwctl-run", "list", "--kernel", "--json"]);
    s.step("list", &["fwctl-run", "list", "--kernel"]);
    s.step("taint-at-start", &["cat", "/proc/sys/kernel/tainted"]);
    for check in checks_before {
        let mut args = vec!["fwctl-run".to_string()];
        args.extend(check.args("--kernel", GUEST_POLICY));
        step(&mut s, check.step, args);
    }
    s.step("taint-after-read-only-rpcs", &["cat", "/proc/sys/kernel/tainted"]);
    // Every node at once, as the fleet check and node-problem-detector run it.
    s.shell_step("fleet", "mkdir -p /tmp/textfile && fwctl-run fleet /plugins/cxl-features.wasm --kernel --format jsonl --textfile /tmp/textfile");
    s.step("fleet-textfile", &["cat", "/tmp/textfile/fwctl.prom"]);
    s.step("npd", &["fwctl-run", "npd", "/plugins/cxl-features.wasm", "--kernel", "--deadline", "30s"]);
    step(&mut s, "plugin-list", run(&["--", "list"]));
    step(&mut s, "plugin-get", run(&["--", "get", "cxl-test"]));
    // Our policy refuses the write before anything reaches the kernel: no taint follows.
    step(&mut s, "plugin-set-refused", run(&["--", "set", "cxl-test", "u32:0xabcdabcd"]));
    s.step("taint-after-refusal", &["cat", "/proc/sys/kernel/tainted"]);
    step(
        &mut s,
        "plugin-set",
        run(&["--policy", GUEST_POLICY, "--allow-taint", "--", "set", "cxl-test", "u32:0xabcdabcd"]),
    );
    step(&mut s, "plugin-get-after-set", run(&["--", "get", "cxl-test"]));
    s.step("taint-after-set", &["cat", "/proc/sys/kernel/tainted"]);
    // Our check bypassed by the operator's raw RPC: the kernel's own answer is reported.
    let raw_set = set_feature(&TEST_FEATURE, &1u32.to_le_bytes());
    s.step("raw-set-at-read-only", &["fwctl-run", "rpc", NODE, "--kernel", "--scope", "debug-read-only", &raw_set]);
    for check in checks_writing {
        let mut args = vec!["fwctl-run".to_string()];
        args.extend(check.args("--kernel", GUEST_POLICY));
        step(&mut s, check.step, args);
        if check.step == "xc-set-full" {
            // ndctl: the value written at debug-write-full reads back.
            step(&mut s, "plugin-get-after-raw-set", run(&["--", "get", "cxl-test"]));
        }
    }
    step(&mut s, "plugin-get-after-short-set", run(&["--", "get", "cxl-test"]));
    s.step("audit", &["cat", "/tmp/audit.jsonl"]);
    s
}

fn hex_of(doc: &serde_json::Value) -> Vec<u8> {
    hex::decode(doc["response"].as_str().expect("a response")).unwrap()
}

/// One boot of cxl_test runs the whole scenario; each assertion names its step.
#[test]
fn cxl_test_memdevs_through_fwctl_run_match_the_kernel_and_the_simulator() {
    let before = cross_checks_before_any_write();
    let writing = cross_checks_that_write();
    let vm = boot(Shape::TwoNumaNodes, &cxl_test_scenario(&before, &writing));
    assert!(vm.completed, "the guest did not finish the scenario\n{}", vm.context());
    check_discovery(&vm);
    check_plugin_and_taint(&vm);
    check_fleet(&vm);
    check_cross_checks(&vm, &before);
    check_cross_checks(&vm, &writing);
    check_audit(&vm);
}

fn check_discovery(vm: &Boot) {
    vm.expect_rc("load-cxl-test", 0);
    vm.expect_rc("load-cxl-mock-mem", 0);
    vm.expect_rc("wait-for-nodes", 0);
    let memdevs: Vec<&str> = vm.expect_rc("memdevs", 0).output.lines().collect();
    let list = vm.json("list-json", 0);
    assert_eq!(list["source"]["backend"], "kernel", "{list:#}");
    assert_eq!(list["source"]["simulated"], false);
    let devices = list["devices"].as_array().unwrap();
    assert!(devices.len() >= 2, "cxl_test registers several memdevs with fwctl: {list:#}");
    for d in devices {
        assert_eq!(d["kind"], "cxl", "{d:#}");
        let parent = d["parent"].as_str().unwrap();
        assert!(memdevs.contains(&parent), "parent {parent} is one of the memdevs {memdevs:?}");
        assert_eq!(d["cxl_memdev"].as_str(), Some(parent));
        assert_eq!(d["node"].as_str(), Some(format!("/dev/fwctl/{}", d["name"].as_str().unwrap()).as_str()));
    }
    // FWCTL_INFO as the simulator answers it: the same device type, driver and device data.
    let simulated = json(&fwctl_run(&["list", "--sim=cxl-test-mock", "--json"]));
    for field in ["kind", "driver", "device_data", "info_error", "pci_address"] {
        assert_eq!(devices[0][field], simulated["devices"][0][field], "{field}: kernel vs simulator");
    }
    let human = &vm.expect_rc("list", 0).output;
    assert!(!human.contains("SIMULATED"), "{human}");
    assert!(human.lines().any(|l| l.starts_with(NODE) && l.contains(" cxl ")), "{human}");
}

fn tainted(vm: &Boot, step: &str) -> u64 {
    vm.expect_rc(step, 0).output.trim().parse().unwrap_or_else(|_| panic!("{step}: not a number"))
}

fn check_plugin_and_taint(vm: &Boot) {
    assert_eq!(tainted(vm, "taint-at-start") & TAINT_FWCTL, 0, "fwctl taint before any write");
    assert_eq!(tainted(vm, "taint-after-read-only-rpcs") & TAINT_FWCTL, 0, "read-only RPCs do not taint");

    // The listing finds the test Feature with its sizes, flags and effects, settable at debug-write.
    let listing = vm.json("plugin-list", 0);
    let run = &listing["runs"][0];
    assert_eq!(run["device"]["name"], NODE, "{listing:#}");
    assert_eq!(run["facts"]["feature-count"], 1, "the mock has one Feature: {listing:#}");
    assert_eq!(run["facts"]["settable-feature-count"], 1, "{listing:#}");
    let feature = &run["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "cxl.feature" && f["detail"]["uuid"] == "ffffffff-ffff-ffff-ffff-ffffffffffff")
        .unwrap_or_else(|| panic!("no cxl.feature finding for the test Feature: {listing:#}"))["detail"];
    assert_eq!(feature["get-size"], 4, "{feature:#}");
    assert_eq!(feature["set-size"], 4, "{feature:#}");
    assert_eq!(feature["flags"], "0x61", "{feature:#}");
    assert_eq!(feature["effects"], "0x0201", "{feature:#}");
    assert_eq!((feature["get-version"].as_u64(), feature["set-version"].as_u64()), (Some(1), Some(1)));
    assert_eq!(feature["set-scope"], "debug-write", "{feature:#}");
    assert_eq!(feature["changeable"], true, "{feature:#}");

    assert_eq!(vm.json("plugin-get", 0)["runs"][0]["facts"]["value"], "efbeadde", "ndctl: 0xdeadbeef");

    let refused = vm.json("plugin-set-refused", 2);
    let cause = refused["runs"][0]["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("needs debug-write and a granted write, which this run does not have"), "{refused:#}");
    assert_eq!(tainted(vm, "taint-after-refusal") & TAINT_FWCTL, 0, "a refused write never reached the kernel");

    let set = vm.json("plugin-set", 0);
    assert_eq!(set["runs"][0]["facts"]["after"], "cdabcdab", "{set:#}");
    assert_eq!(vm.json("plugin-get-after-set", 0)["runs"][0]["facts"]["value"], "cdabcdab");
    assert_ne!(tainted(vm, "taint-after-set") & TAINT_FWCTL, 0, "a debug-write RPC taints the kernel");

    let raw = vm.expect_rc("raw-set-at-read-only", 2);
    assert!(raw.stderr.contains("failed: EINVAL"), "the kernel's own refusal: {}", raw.stderr);

    assert_eq!(vm.json("plugin-get-after-raw-set", 0)["runs"][0]["facts"]["value"], "efbeadde");
    // The mock stores a whole u32 from a Set whose data is 2 bytes: the kernel zero-fills
    // its mailbox buffer past the data, so the value becomes 0x0000beef. (The simulator
    // writes only the bytes sent, as a device following the data length would; the Set's
    // own answer, compared below, is the same.)
    assert_eq!(vm.json("plugin-get-after-short-set", 0)["runs"][0]["facts"]["value"], "efbe0000");
}

/// The kernel's answer to each cross-check and the simulator's must be identical: the same
/// response bytes and length, or the same error.
fn check_cross_checks(vm: &Boot, checks: &[CrossCheck]) {
    for check in checks {
        let kernel = vm.step(check.step);
        let policy = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(policy.path(), PROVISIONING_POLICY).unwrap();
        let args = check.args("--sim=cxl-test-mock", policy.path().to_str().unwrap());
        let simulated = fwctl_run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let sim_rc = simulated.status.code().unwrap_or(-1);
        assert_eq!(
            kernel.rc,
            sim_rc,
            "{}: kernel exit {} vs simulator {sim_rc}\nkernel: {}{}\nsimulator: {}{}",
            check.step,
            kernel.rc,
            kernel.output,
            kernel.stderr,
            String::from_utf8_lossy(&simulated.stdout),
            String::from_utf8_lossy(&simulated.stderr)
        );
        if kernel.rc == 0 {
            let k: serde_json::Value = serde_json::from_str(&kernel.output).unwrap();
            let s: serde_json::Value = serde_json::from_slice(&simulated.stdout).unwrap();
            assert_eq!(k["out_len"], s["out_len"], "{}: out_len", check.step);
            assert_eq!(hex_of(&k), hex_of(&s), "{}: response bytes (kernel vs simulator)", check.step);
        } else {
            let errno = |text: &str| text.split("failed: ").nth(1).map(|t| t.split(':').next().unwrap().to_string());
            let sim_err = String::from_utf8_lossy(&simulated.stderr).into_owned();
            assert_eq!(
                errno(&kernel.stderr),
                errno(&sim_err),
                "{}: errno\nkernel: {}\nsim: {sim_err}",
                check.step,
                kernel.stderr
            );
            assert!(errno(&kernel.stderr).is_some(), "{}: {}", check.step, kernel.stderr);
        }
    }
    // The ndctl assertions on the answers themselves.
    let answer = |step: &str| hex_of(&vm.json(step, 0));
    if checks.iter().any(|c| c.step == "xc-gsf-header-only") {
        let header = answer("xc-gsf-header-only");
        assert_eq!(&header[..8], &[8, 0, 0, 0, 0, 0, 0, 0], "size 8, retval 0");
        assert_eq!(&header[8..12], &[0, 0, 1, 0], "no entries, one supported Feature");
        let one = answer("xc-gsf-one-entry");
        let entry = &one[16..];
        assert_eq!(&entry[..16], &TEST_FEATURE, "the test Feature's UUID");
        assert_eq!(u16::from_le_bytes([entry[18], entry[19]]), 4, "get size");
        assert_eq!(u16::from_le_bytes([entry[20], entry[21]]), 4, "set size");
        assert_eq!((entry[26], entry[27]), (1, 1), "get and set versions");
        assert_eq!(u16::from_le_bytes([entry[28], entry[29]]), 0x201, "effects");
        assert_eq!(&answer("xc-get-current")[8..], &0xdead_beefu32.to_le_bytes());
    }
}

/// `fleet` and `npd` over the kernel's nodes: one healthy result per node, through the
/// kernel backend (each run on a thread of its own, RPCs made in place), a textfile
/// Prometheus accepts, and OK for NPD.
fn check_fleet(vm: &Boot) {
    let nodes = vm.json("list-json", 0)["devices"].as_array().unwrap().len();
    let fleet = &vm.expect_rc("fleet", 0).output;
    let lines: Vec<serde_json::Value> = fleet.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (summary, results) = lines.split_last().unwrap();
    assert_eq!(results.len(), nodes, "{fleet}");
    for result in results {
        assert_eq!(result["status"], "ok", "{result:#}");
        assert_eq!(result["device"]["simulated"], false);
        assert!(result["device"]["node"].as_str().unwrap().starts_with("/dev/fwctl/fwctl"));
        assert!(result["rpcs"].as_u64().unwrap() > 0);
    }
    assert_eq!(
        (summary["devices"].as_u64(), summary["healthy"].as_u64()),
        (Some(nodes as u64), Some(nodes as u64)),
        "{summary:#}"
    );
    let textfile = &vm.expect_rc("fleet-textfile", 0).output;
    crate::metrics::promtool_check(textfile);
    assert_eq!(
        textfile.lines().filter(|l| l.starts_with("fwctl_plugin_up{") && l.ends_with(" 1")).count(),
        nodes,
        "{textfile}"
    );
    assert_eq!(vm.expect_rc("npd", 0).output.trim(), format!("OK: {nodes} fwctl devices healthy"));
}

fn check_audit(vm: &Boot) {
    let audit = &vm.expect_rc("audit", 0).output;
    let records: Vec<serde_json::Value> =
        audit.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l}: {e}"))).collect();
    // Outcomes only: a sent RPC also has its `sent` line, written before the kernel had it.
    let sets = |who: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|r| r["plugin"]["name"] == who && r["opcode"] == "0x0502" && r["outcome"] != "sent")
            .collect()
    };
    assert!(
        records
            .iter()
            .any(|r| r["plugin"]["name"] == "cxl-features" && r["opcode"] == "0x0502" && r["outcome"] == "sent"),
        "the granted Set Feature was on the record before it was sent"
    );
    // The plugin tried two Set Features: the first was denied by the host (it never
    // reached the kernel: nothing tainted then), the second, granted, the kernel took.
    let plugin_sets = sets("cxl-features");
    assert_eq!(plugin_sets.len(), 2, "{plugin_sets:#?}");
    let (denied, taken) = (plugin_sets[0], plugin_sets[1]);
    assert_eq!((&denied["outcome"], &denied["duration_us"]), (&"denied".into(), &0.into()), "{denied:#}");
    assert!(denied["reason"].as_str().unwrap_or_default().contains("above the debug-read-only granted"), "{denied:#}");
    assert_eq!(taken["scope"], "debug-write");
    assert_eq!((&taken["outcome"], &taken["status"]), (&"ok".into(), &0.into()), "{taken:#}");
    assert_eq!(taken["device"], NODE);
    // The operator's raw Set at debug-read-only is on the record with the kernel's errno.
    let raw = sets("fwctl-run rpc");
    assert!(
        raw.iter().any(|r| r["scope"] == "debug-read-only" && r["outcome"] == "errno" && r["errno"] == "EINVAL"),
        "{raw:#?}"
    );
}

/// QEMU's emulated CXL type-3 device: the kernel makes a memdev but no fwctl node, since
/// every Feature QEMU emulates is kernel-owned. `list` must say exactly that.
#[test]
fn a_qemu_cxl_memdev_without_user_features_is_named_as_having_no_fwctl_node() {
    let mut s = Scenario::default();
    s.shell_step("load-cxl", "modprobe cxl_acpi && modprobe cxl_pci && modprobe cxl_mem");
    s.shell_step("wait-for-memdev", "wait_for '/sys/bus/cxl/devices/mem*' 60 && sleep 2 && ls /sys/bus/cxl/devices");
    s.shell_step("fwctl-class", "ls /sys/class/fwctl 2>&1 | wc -w");
    s.step("list-json", &["fwctl-run", "list", "--kernel", "--json"]);
    s.step("list", &["fwctl-run", "list", "--kernel"]);
    s.step("list-auto", &["fwctl-run", "list"]);
    let vm = boot(Shape::QemuCxlType3, &s);
    assert!(vm.completed, "the guest did not finish the scenario\n{}", vm.context());
    vm.expect_rc("load-cxl", 0);
    assert!(vm.expect_rc("wait-for-memdev", 0).output.lines().any(|l| l == "mem0"), "{}", vm.context());

    let list = vm.json("list-json", 0);
    assert_eq!(list["source"]["backend"], "kernel", "{list:#}");
    assert_eq!(list["devices"].as_array().map(Vec::len), Some(0), "{list:#}");
    let notes = list["source"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{list:#}");
    let note = notes[0].as_str().unwrap();
    assert!(note.starts_with("mem0 (0000:0d:00.0): CXL memdev without a fwctl node"), "{note}");

    let human = &vm.expect_rc("list", 0).output;
    assert!(human.contains("(no fwctl devices)") && human.contains("Not listed above:\n  mem0"), "{human}");
    // Without --kernel the simulator stands in, and the real memdev is still named.
    let auto = &vm.expect_rc("list-auto", 0).output;
    assert!(auto.starts_with("SIMULATED devices") && auto.contains("mem0 (0000:0d:00.0)"), "{auto}");
}
