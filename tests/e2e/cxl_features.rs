//! cxl-features `get` and `set` against the simulated CXL memdev (fwctl2 of the default
//! fleet), through the `fwctl-run` binary.

use crate::common::{device_run, fwctl_run, json, stderr};

/// Runs cxl-features on the CXL device only and returns its run.
fn cxl(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut argv = vec!["cxl-features.wasm", "--sim", "--device", "fwctl2", "--json", "--"];
    argv.extend_from_slice(args);
    let output = fwctl_run(&argv);
    let report = json(&output);
    (output.status.code(), device_run(&report, "fwctl2").clone())
}

#[test]
fn get_reads_raw_and_decoded_values_with_every_selection() {
    let (code, run) = cxl(&["get", "cxl-test"]);
    assert_eq!(code, Some(0), "{run:#}");
    assert_eq!(run["facts"]["feature"], "ffffffff-ffff-ffff-ffff-ffffffffffff");
    assert_eq!(run["facts"]["value"], "efbeadde");
    assert_eq!(run["facts"]["value.value"], "0xdeadbeef");

    // A kernel-owned Feature reads and decodes; only setting it is refused.
    let (_, run) = cxl(&["get", "patrol-scrub"]);
    assert_eq!(run["facts"]["value.scrub-cycle-hours"], 12);
    assert_eq!(run["facts"]["value.enabled"], true);

    // The default value of the thermal policy differs from the current one.
    let uuid = "7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e";
    let (_, current) = cxl(&["get", uuid]);
    let (_, default) = cxl(&["get", uuid, "--selection", "default"]);
    assert_eq!(current["facts"]["value"], "5505000300000000");
    assert_eq!(default["facts"]["value"], "5a05000000000000");

    // 1 KiB, more than one mailbox and more than one Get Feature chunk.
    let (_, table) = cxl(&["get", "a4c3e1f0-5b2d-4e8a-9c7b-6d5e4f3a2b1c"]);
    assert_eq!(table["facts"]["size"], 1024);
    assert_eq!(table["facts"]["value"].as_str().unwrap().len(), 2048);
}

#[test]
fn get_refusals_name_what_is_wrong() {
    // Read-only counters have no default value to select.
    let (code, run) = cxl(&["get", "1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d", "--selection", "default"]);
    assert_eq!(code, Some(2));
    assert!(run["cause"].as_str().unwrap().contains("has no default value"), "{run:#}");

    let (code, run) = cxl(&["get", "00000000-0000-0000-0000-000000000001"]);
    assert_eq!(code, Some(2));
    assert!(run["cause"].as_str().unwrap().contains("no Feature `00000000-0000-0000-0000-000000000001`"), "{run:#}");
}

#[test]
fn set_dry_run_shows_the_change_and_sends_nothing() {
    let (code, run) = cxl(&["set", "cxl-test", "u32:0xabcdabcd", "--dry-run"]);
    assert_eq!(code, Some(0), "{run:#}");
    assert_eq!(run["facts"]["set-scope"], "debug-write");
    assert_eq!((run["facts"]["before"].as_str(), run["facts"]["data"].as_str()), (Some("efbeadde"), Some("cdabcdab")));
    assert_eq!(run["findings"][0]["code"], "cxl.set.dry-run");
    // Get Supported Features (2 calls) and one Get Feature: no Set.
    assert_eq!(run["rpcs"], 3);
}

#[test]
fn set_refuses_kernel_owned_unchangeable_and_oversized_changes_before_any_rpc() {
    let cases = [
        (vec!["set", "patrol-scrub", "0c01"], "the kernel owns it"),
        (vec!["set", "1d0e8f2a-6c3b-4a7e-b5d9-2e4f6a8c0b1d", "00"], "not changeable"),
        (vec!["set", "cxl-test", "u64:1"], "8 byte(s) at offset 0 exceed"),
        (vec!["set", "cxl-test", "00", "--offset", "4"], "1 byte(s) at offset 4 exceed"),
    ];
    for (args, why) in cases {
        let (code, run) = cxl(&args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(run["cause"].as_str().unwrap().contains(why), "{args:?}: {run:#}");
        assert_eq!(run["rpcs"], 2, "{args:?}: only the listing was sent");
    }
}

#[test]
fn set_without_a_granted_write_scope_is_refused_by_the_host() {
    let output =
        fwctl_run(&["cxl-features.wasm", "--sim", "--device", "fwctl2", "--json", "--", "set", "cxl-test", "u32:1"]);
    let report = json(&output);
    let run = device_run(&report, "fwctl2");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let cause = run["cause"].as_str().unwrap();
    assert!(cause.contains("needs debug-write and a granted write, which this run does not have"), "{cause}");
    // The host's refusal says why the optional scope was withheld.
    assert!(cause.contains("policy entry `unsigned` allows at most debug-read-only"), "{cause}");
}

#[test]
fn set_with_a_write_scope_but_no_granted_writes_is_refused_by_the_host() {
    // The scope and --allow-taint are there; the write permission is not.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "policy-version = 1\nallow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write-full\" }\n",
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let output = fwctl_run(&[
        "cxl-features.wasm",
        "--sim",
        "--device",
        "fwctl2",
        "--json",
        "--policy",
        policy.to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--allow-taint",
        "--",
        "set",
        "cxl-test",
        "u32:1",
    ]);
    let report = json(&output);
    let run = device_run(&report, "fwctl2");
    assert_eq!(output.status.code(), Some(2), "{run:#}");
    let text = std::fs::read_to_string(&audit).unwrap();
    let set: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["opcode"] == "0x0502")
        .collect();
    assert_eq!(set.len(), 1, "one Set Feature attempt: {text}");
    assert_eq!((set[0]["outcome"].as_str(), set[0]["effect"].as_str()), (Some("denied"), Some("write")));
    assert!(
        set[0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("a write, and policy entry `unsigned` grants no writes on cxl devices"),
        "{:#}",
        set[0]
    );
    // The plugin is told why, and says so.
    assert_eq!(run["kind"], "plugin-error", "{run:#}");
    assert!(run["cause"].as_str().unwrap().contains("grants no writes on cxl devices"), "{run:#}");
}

/// A policy that lets unsigned plugins provision CXL devices, tainting scopes included.
fn provisioning_policy(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(&path, "policy-version = 1\nallow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write-full\" }\nwrites = [\"cxl\"]\n")
        .unwrap();
    path
}

#[test]
fn set_with_policy_and_allow_taint_writes_and_reads_back_even_past_one_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let policy = provisioning_policy(dir.path());
    let policy = policy.to_str().unwrap();
    let base = ["cxl-features.wasm", "--sim", "--device", "fwctl2", "--policy", policy, "--json"];

    // Policy alone is not enough: the operator must also say --allow-taint.
    let output = fwctl_run(&[&base[..], &["--", "set", "cxl-test", "u32:0xabcdabcd"]].concat());
    let run = device_run(&json(&output), "fwctl2").clone();
    assert!(run["cause"].as_str().unwrap().contains("not started with --allow-taint"), "{run:#}");

    let output = fwctl_run(&[&base[..], &["--allow-taint", "--", "set", "cxl-test", "u32:0xabcdabcd"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("TAINTS THE KERNEL"), "{}", stderr(&output));
    let run = device_run(&json(&output), "fwctl2").clone();
    assert_eq!((run["facts"]["before"].as_str(), run["facts"]["after"].as_str()), (Some("efbeadde"), Some("cdabcdab")));
    assert_eq!(run["findings"][0]["code"], "cxl.set.applied");

    // 1 KiB: the simulated kernel splits it into initiate/continue/finish transfers.
    let table = "a4c3e1f0-5b2d-4e8a-9c7b-6d5e4f3a2b1c";
    let value = "5a".repeat(1024);
    let output = fwctl_run(&[&base[..], &["--allow-taint", "--", "set", table, &value]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run = device_run(&json(&output), "fwctl2").clone();
    assert_eq!(run["facts"]["after"].as_str(), Some(value.as_str()));

    // Immediate effects need debug-write-full, which needs CAP_SYS_RAWIO (root has it).
    let thermal = "7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e";
    let output = fwctl_run(&[&base[..], &["--allow-taint", "--", "set", thermal, "u8:80", "u8:5"]].concat());
    let run = device_run(&json(&output), "fwctl2").clone();
    assert_eq!(run["facts"]["set-scope"], "debug-write-full");
    if nix::unistd::geteuid().is_root() {
        assert_eq!(output.status.code(), Some(0), "{run:#}");
        assert_eq!(run["facts"]["after"].as_str().map(|a| &a[..4]), Some("5005"));
    } else {
        assert!(run["cause"].as_str().unwrap().contains("CAP_SYS_RAWIO"), "{run:#}");
    }
}

#[test]
fn every_rpc_cxl_features_sends_is_one_the_kernel_accepts_at_its_scope() {
    // The simulator applies the kernel's own checks (opcode, op_size, scope, effects), so
    // an audit trail of answered calls with return code 0 is the proof, per command.
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let policy = provisioning_policy(dir.path());
    for args in [
        vec!["--", "list"],
        vec!["--", "get", "cxl-test", "--selection", "saved"],
        vec!["--", "get", "a4c3e1f0-5b2d-4e8a-9c7b-6d5e4f3a2b1c"],
        vec!["--allow-taint", "--", "set", "cxl-test", "u32:7"],
    ] {
        let mut argv = vec!["cxl-features.wasm", "--sim", "--device", "fwctl2", "--json"];
        argv.extend_from_slice(&["--audit", audit.to_str().unwrap(), "--policy", policy.to_str().unwrap()]);
        argv.extend_from_slice(&args);
        let output = fwctl_run(&argv);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
    }
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Each sent RPC is on the record twice: `sent`, then its answer.
    assert!(lines.iter().all(|l| l["outcome"] == "sent" || l["outcome"] == "ok"), "{lines:#?}");
    let lines: Vec<&serde_json::Value> = lines.iter().filter(|l| l["outcome"] == "ok").collect();
    assert!(lines.len() >= 12, "{}", lines.len());
    for line in &lines {
        assert_eq!((line["outcome"].as_str(), line["status"].as_u64()), (Some("ok"), Some(0)), "{line:#}");
        let expected_scope = if line["opcode"] == "0x0502" { "debug-write" } else { "debug-read-only" };
        assert_eq!(line["scope"], expected_scope, "{line:#}");
    }
    assert!(lines.iter().any(|l| l["opcode"] == "0x0502"), "the Set is on the record");
}
