//! Bad input and hostile plugins: each ends with a clear error and exit status 2, and a
//! misbehaving run on one device leaves the other devices' results intact.

use std::process::Output;

use crate::common::{device_run, fwctl_run, json, plugin_dir, stderr};

/// A component with nothing in it but a top-level `fwctl-manifest` custom section.
fn component_with_manifest(manifest: &str) -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    let name = b"fwctl-manifest";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(manifest.as_bytes());
    bytes.push(0); // custom section id
    let mut size = section.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        bytes.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    bytes.extend_from_slice(&section);
    bytes
}

const MANIFEST: &str = "manifest-version = 1\nname = \"empty\"\nversion = \"1\"\nvendor = \"t\"\n[devices.mlx5]\nscope = \"debug-read-only\"\n";

fn run_file(bytes: &[u8]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.wasm");
    std::fs::write(&path, bytes).unwrap();
    fwctl_run(&[path.to_str().unwrap(), "--sim"])
}

fn assert_could_not_run(output: &Output, expected: &str) {
    assert_eq!(output.status.code(), Some(2), "stderr: {}", stderr(output));
    assert!(stderr(output).contains(expected), "expected `{expected}` in stderr:\n{}", stderr(output));
}

#[test]
fn a_file_that_is_not_wasm_is_refused_by_name() {
    let output = run_file(b"#!/bin/sh\necho not a plugin\n");
    assert_could_not_run(&output, "is not a WebAssembly file");
    assert_could_not_run(&output, "plugin.wasm");
}

#[test]
fn a_core_module_is_refused_with_what_to_do_instead() {
    let output = run_file(b"\0asm\x01\0\0\0");
    assert_could_not_run(&output, "is a core WebAssembly module, not a component");
}

#[test]
fn a_truncated_component_is_refused_as_malformed() {
    let mut bytes = component_with_manifest(MANIFEST);
    bytes.truncate(bytes.len() - 5);
    let output = run_file(&bytes);
    assert_could_not_run(&output, "is not a valid WebAssembly component");
}

#[test]
fn a_component_without_a_manifest_is_refused() {
    let output = run_file(b"\0asm\x0d\0\x01\0");
    assert_could_not_run(&output, "no `fwctl-manifest` custom section");
}

#[test]
fn a_component_of_another_world_is_refused_before_any_device_is_touched() {
    let output = run_file(&component_with_manifest(MANIFEST));
    assert_could_not_run(&output, "is not a fwctl-run plugin");
    assert_could_not_run(&output, "run");
    assert!(output.stdout.is_empty(), "nothing may be reported for devices");
}

#[test]
fn a_manifest_asking_for_a_tainting_scope_is_refused_naming_the_field() {
    let greedy = MANIFEST.replace("debug-read-only", "debug-write-full");
    let output = run_file(&component_with_manifest(&greedy));
    assert_could_not_run(&output, "`devices.mlx5.scope` asks for debug-write-full");
}

/// Runs the hostile plugin on the default fleet, misbehaving only on fwctl1.
fn hostile_on_fwctl1(behaviour: &str, limits: &[&str]) -> serde_json::Value {
    let mut args = vec!["hostile.wasm", "--sim", "--json"];
    args.extend_from_slice(limits);
    args.extend_from_slice(&["--", behaviour, "only=fwctl1"]);
    let output = fwctl_run(&args);
    assert_eq!(output.status.code(), Some(2), "a failed run means exit 2; stderr: {}", stderr(&output));
    let report = json(&output);
    for untouched in ["fwctl0", "fwctl2"] {
        let run = device_run(&report, untouched);
        assert_eq!(run["status"], "completed", "{untouched} must be unharmed: {run:#}");
        assert_eq!(run["facts"]["behaved"], true);
    }
    assert_eq!(report["exit"], "could-not-run");
    report
}

fn assert_failed(report: &serde_json::Value, kind: &str, cause: &[&str]) {
    let run = device_run(report, "fwctl1");
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["kind"], kind, "{run:#}");
    let text = run["cause"].as_str().unwrap();
    assert!(text.starts_with("hostile on fwctl1: "), "the cause names plugin and device: {text}");
    for part in cause {
        assert!(text.contains(part), "expected `{part}` in `{text}`");
    }
}

#[test]
fn a_trap_ends_only_its_own_run() {
    let report = hostile_on_fwctl1("trap", &[]);
    assert_failed(&report, "trap", &["trapped", "unreachable"]);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let report = hostile_on_fwctl1("panic", &[]);
    assert_failed(&report, "trap", &["hostile plugin panicked on purpose"]);
    let stderr = device_run(&report, "fwctl1")["stderr"].as_str().unwrap().to_string();
    assert!(stderr.contains("panicked"), "the panic output is captured and attributed: {stderr}");
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let report = hostile_on_fwctl1("loop", &["--timeout", "300"]);
    assert_failed(&report, "timeout", &["deadline of 300 ms"]);
    let ms = device_run(&report, "fwctl1")["duration_ms"].as_f64().unwrap();
    assert!(ms >= 300.0, "stopped no earlier than the deadline ({ms} ms)");
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let report = hostile_on_fwctl1("memory-bomb", &["--memory-mib", "16"]);
    assert_failed(&report, "memory-limit", &["memory limit of 16 MiB"]);
}

#[test]
fn an_rpc_flood_is_cut_off_at_the_budget() {
    let report = hostile_on_fwctl1("rpc-flood", &["--rpc-budget", "50"]);
    assert_failed(&report, "rpc-budget", &["budget of 50 RPCs"]);
    assert_eq!(device_run(&report, "fwctl1")["rpcs"], 51, "the call over budget is the one that ends it");
}

#[test]
fn a_report_flood_is_cut_off() {
    let report = hostile_on_fwctl1("report-flood", &[]);
    assert_failed(&report, "report-limit", &["more than 10000"]);
}

#[test]
fn a_plugin_error_is_a_failed_run_with_its_message() {
    let report = hostile_on_fwctl1("fail", &[]);
    assert_failed(&report, "plugin-error", &["the plugin gave up on purpose"]);
}

/// Runs the hostile plugin on one device and returns that device's run.
fn hostile_on(device: &str, behaviour: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = vec!["hostile.wasm", "--json", "--device", device];
    if !extra.iter().any(|a| a.starts_with("--sim")) {
        args.push("--sim");
    }
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", behaviour]);
    let output = fwctl_run(&args);
    let run = device_run(&json(&output), device).clone();
    (output, run)
}

#[test]
fn a_scope_above_the_grant_is_refused_before_the_device() {
    let (output, run) = hostile_on("fwctl0", "escalate", &[]);
    assert_eq!(output.status.code(), Some(0), "a refused call is an answer, not a crash");
    let finding = &run["findings"][0];
    assert_eq!(finding["code"], "hostile.rpc.not-granted");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("scope debug-write-full is above the debug-read-only granted on fwctl0"),
        "{finding:#}"
    );
    assert_eq!(run["denials"].as_array().unwrap().len(), 1, "the host records what it refused");
}

#[test]
fn an_oversized_response_buffer_is_refused_as_too_large() {
    let (_, run) = hostile_on("fwctl0", "too-large", &[]);
    assert_eq!(run["findings"][0]["code"], "hostile.rpc.too-large");
    assert_eq!(run["findings"][0]["detail"]["detail"], "2097152");
}

#[test]
fn a_device_that_vanishes_mid_run_is_reported_as_gone() {
    let profiles = crate::common::workspace_root().join("devices/profiles");
    let read = |name: &str| std::fs::read_to_string(profiles.join(name)).unwrap();
    // A two-device fleet whose first device vanishes after 3 RPCs.
    let vanishing =
        read("connectx7-healthy.toml").replacen("[[device]]", "[[device]]\nfaults = { vanish_after_rpcs = 3 }", 1)
            + &read("connectx6dx-healthy.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vanishing.toml");
    std::fs::write(&path, vanishing).unwrap();
    let sim = format!("--sim={}", path.display());
    let (output, run) = hostile_on("fwctl0", "until-gone", &[&sim]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(run["facts"]["gone-after"], 3);
    assert_eq!(run["kind"], "plugin-error");
    assert!(run["cause"].as_str().unwrap().contains("vanished after 3 RPCs"));
}

#[test]
fn the_sandbox_has_no_environment_files_network_or_wall_clock() {
    let (output, run) = hostile_on("fwctl0", "ambient", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let facts = &run["facts"];
    assert_eq!(facts["env-vars"], 0);
    assert_eq!(facts["root-readable"], false);
    assert_eq!(facts["network"], false);
    assert_eq!(facts["wall-clock-secs"], 0);
}

#[test]
fn plugin_output_is_captured_and_attributed_to_its_device() {
    let (_, run) = hostile_on("fwctl0", "stdout", &[]);
    assert_eq!(run["stdout"], "hello from the sandbox\n");
    assert_eq!(run["stderr"], "and from its stderr\n");
    assert!(plugin_dir().join("hostile.wasm").is_file());
}

#[test]
fn a_device_that_stops_answering_is_cut_off_at_the_deadline() {
    let profiles = crate::common::workspace_root().join("devices/profiles");
    let slow = std::fs::read_to_string(profiles.join("connectx7-healthy.toml")).unwrap().replacen(
        "[[device]]",
        "[[device]]\nfaults = { rpc_delay_ms = 5000 }",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.toml");
    std::fs::write(&path, slow).unwrap();
    let sim = format!("--sim={}", path.display());
    // One real RPC, which the device takes five seconds to answer.
    let (output, run) = hostile_on("fwctl0", "short-buffer", &[&sim, "--timeout", "300"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(run["kind"], "timeout", "{run:#}");
    assert!(run["cause"].as_str().unwrap().contains("deadline of 300 ms"));
}

/// Runs fwctl-run to the end and returns its output and its peak resident set (VmHWM,
/// sampled until it exits), in bytes.
fn run_measuring_peak_rss(args: &[&str]) -> (std::process::Output, u64) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(args)
        .env("FWCTL_RUN_PLUGIN_PATH", crate::common::plugin_dir())
        .env("FWCTL_RUN_CACHE_DIR", crate::common::cache_dir())
        .env("FWCTL_RUN_AUDIT", crate::common::audit_log())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running fwctl-run");
    // A report this small fits in the pipes until they are drained at the end.
    fwctl_test_support::wait_measuring_peak_rss(child)
}

#[test]
fn a_plugin_cannot_make_the_host_hold_its_reports_beyond_a_budget() {
    // 48 log lines of 32 MiB from a plugin with 64 MiB of memory: kept, 1.5 GiB.
    let (output, peak) = run_measuring_peak_rss(&["hostile.wasm", "--sim", "--json", "--", "log-bomb", "only=fwctl1"]);
    let report = json(&output);
    let run = device_run(&report, "fwctl1");
    assert_eq!(run["kind"], "report-limit", "{run:#}");
    assert!(run["cause"].as_str().unwrap().contains("bytes of text the host keeps for a run"), "{run:#}");
    // The other devices' runs are whole.
    for other in ["fwctl0", "fwctl2"] {
        assert_eq!(device_run(&report, other)["status"], "completed");
    }
    // The plugin's 32 MiB line exists twice at most (its memory, the host's copy being
    // refused); nothing accumulates.
    assert!(peak > 0 && peak < 400 << 20, "peak RSS {} MiB", peak >> 20);
}

/// A profile whose first ConnectX takes `delay_ms` to answer each RPC.
fn slow_profile(dir: &std::path::Path, delay_ms: u64) -> String {
    let profiles = crate::common::workspace_root().join("devices/profiles");
    let slow = std::fs::read_to_string(profiles.join("connectx7-healthy.toml")).unwrap().replacen(
        "[[device]]",
        &format!("[[device]]\nfaults = {{ rpc_delay_ms = {delay_ms} }}"),
        1,
    );
    let path = dir.join("slow.toml");
    std::fs::write(&path, slow).unwrap();
    format!("--sim={}", path.display())
}

fn audit_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect()
}

#[test]
fn an_rpc_cut_off_at_the_deadline_is_on_the_record_as_sent_then_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    let sim = slow_profile(dir.path(), 5000);
    let audit = dir.path().join("audit.jsonl");
    let output = fwctl_run(&[
        "hostile.wasm",
        &sim,
        "--device",
        "fwctl0",
        "--timeout",
        "300",
        "--audit",
        audit.to_str().unwrap(),
        "--json",
        "--",
        "short-buffer",
    ]);
    assert_eq!(device_run(&json(&output), "fwctl0")["kind"], "timeout");
    let lines = audit_lines(&audit);
    let outcomes: Vec<&str> = lines.iter().map(|l| l["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["sent", "abandoned"], "{lines:#?}");
    assert_eq!(lines[0]["seq"], lines[1]["seq"]);
    assert_eq!(lines[1]["opcode"], "0x010a");
}

#[test]
fn an_rpc_in_flight_when_fwctl_run_is_killed_is_already_on_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let sim = slow_profile(dir.path(), 10_000);
    let audit = dir.path().join("audit.jsonl");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(["hostile.wasm", &sim, "--device", "fwctl0", "--audit", audit.to_str().unwrap(), "--", "short-buffer"])
        .env("FWCTL_RUN_PLUGIN_PATH", plugin_dir())
        .env("FWCTL_RUN_CACHE_DIR", crate::common::cache_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the RPC has been handed to the (slow) device, then SIGKILL: nothing of
    // fwctl-run runs after that. The `sent` entry is in the run's journal (a mapped file
    // beside the log, `written` at bytes 24..32) before the RPC goes out; the flusher
    // moves it to the log within 50 ms, so the kill usually lands before that.
    let journals = dir.path().join(".audit.jsonl.journal");
    let journaled = || {
        std::fs::read_dir(&journals).into_iter().flatten().flatten().any(|entry| {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            bytes.len() > 32 && bytes[24..32] != [0; 8]
        })
    };
    let started = std::time::Instant::now();
    while !journaled() {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "no RPC was sent");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let in_log_at_kill = audit_lines(&audit).len();
    // The next run on the same log moves what the killed one journaled into it, first.
    let output = fwctl_run(&[
        "hostile.wasm",
        "--sim",
        "--device",
        "fwctl0",
        "--audit",
        audit.to_str().unwrap(),
        "--",
        "ambient",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    if in_log_at_kill == 0 {
        let said = stderr(&output);
        assert!(said.contains("1 audit lines that a run which did not end cleanly had recorded"), "{said}");
    }
    let lines = audit_lines(&audit);
    let sent: Vec<_> = lines.iter().filter(|l| l["opcode"] == "0x010a" && l["outcome"] == "sent").collect();
    assert_eq!(sent.len(), 1, "the killed run's RPC, once: {lines:#?}");
    assert_eq!(lines[0]["outcome"], "sent", "recovered before the next run's own lines");
    assert_eq!(lines[0]["device"], "fwctl0");
}

#[test]
fn devices_that_wait_on_firmware_are_checked_at_the_same_time_not_one_after_another() {
    // Three ConnectX whose firmware takes 20 ms a command. Each run has a thread of its
    // own and calls its device in place; were they run one after another, each device's
    // lines would sit together on the audit trail. Together, they interleave.
    let dir = tempfile::tempdir().unwrap();
    let profiles = crate::common::workspace_root().join("devices/profiles");
    let one = std::fs::read_to_string(profiles.join("connectx7-healthy.toml")).unwrap().replacen(
        "[[device]]",
        "[[device]]\nfaults = { rpc_delay_ms = 20 }",
        1,
    );
    let path = dir.path().join("three-slow.toml");
    std::fs::write(&path, [one.as_str(), one.as_str(), one.as_str()].join("\n")).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let output = fwctl_run(&[
        "mlx5-diag.wasm",
        &format!("--sim={}", path.display()),
        "--json",
        "--audit",
        audit.to_str().unwrap(),
    ]);
    let report = json(&output);
    for node in ["fwctl0", "fwctl1", "fwctl2"] {
        assert_eq!(device_run(&report, node)["status"], "completed", "{report:#}");
    }
    let devices: Vec<String> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["device"].as_str().unwrap().to_string())
        .collect();
    // How often the trail switches from one device to another: 2 if sequential.
    let switches = devices.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches > 10, "the runs did not overlap: {switches} switches in {} lines", devices.len());
}

#[test]
fn a_fleet_loses_only_the_check_of_a_plugin_that_floods_the_host_and_stays_small() {
    // The same 1.5 GiB of log lines, in a fleet of the default devices two at a time: the
    // flooding check ends alone, the others finish, and the process stays far below the
    // DaemonSet's 512 MiB memory limit.
    let hostile = plugin_dir().join("hostile.wasm").display().to_string();
    let (output, peak) = run_measuring_peak_rss(&[
        "fleet",
        &hostile,
        "--sim",
        "--jobs",
        "2",
        "--format",
        "json",
        "--",
        "log-bomb",
        "only=fwctl1",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for result in report["results"].as_array().unwrap() {
        let expected = if result["device"]["name"] == "fwctl1" { "error" } else { "ok" };
        assert_eq!(result["status"], expected, "{result:#}");
        if expected == "error" {
            assert_eq!(result["error_kind"], "report-limit", "{result:#}");
        }
    }
    assert!(peak > 0 && peak < 400 << 20, "peak RSS {} MiB", peak >> 20);
}
