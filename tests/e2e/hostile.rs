//! The hostile-plugin suite for grants and the audit trail: each misbehaviour runs on
//! one device (fwctl1 for mlx5, fwctl2 for CXL) while the same plugin behaves on the
//! others, and is denied or contained with the reason in the result and the audit log.
//! (Traps, panics, loops, memory bombs and floods are in `bad_input`.)

use std::path::Path;

use crate::common::{device_run, fwctl_run, json, stderr};

/// The audit lines a run wrote.
fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("each audit line is JSON")).collect()
}

/// Runs `behaviour` on `device` only, with `extra` options and a fresh audit log;
/// returns exit code, report and audit lines. The other devices must be unharmed.
fn hostile(device: &str, behaviour: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value, Vec<serde_json::Value>) {
    hostile_plugin("hostile.wasm", device, &[behaviour], extra)
}

/// [`hostile`] with another build of the plugin (a rewritten manifest, say) and a
/// behaviour that takes arguments.
fn hostile_plugin(
    plugin: &str,
    device: &str,
    behaviour: &[&str],
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let only = format!("only={device}");
    let mut args = vec![plugin, "--sim", "--json", "--audit", audit.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(behaviour);
    args.push(&only);
    let output = fwctl_run(&args);
    let report = json(&output);
    for other in ["fwctl0", "fwctl1", "fwctl2"].into_iter().filter(|d| *d != device) {
        let run = device_run(&report, other);
        assert_eq!(run["status"], "completed", "{other} must be unharmed: {run:#}");
        assert_eq!(run["facts"]["behaved"], true);
    }
    let run = device_run(&report, device).clone();
    (output.status.code(), run, audit_lines(&audit))
}

/// Asserts the run completed with exactly one denial containing `why`, which the audit
/// log also carries, and that nothing reached a backend.
fn assert_denied(device: &str, behaviour: &str, extra: &[&str], why: &str) -> serde_json::Value {
    assert_plugin_denied("hostile.wasm", device, &[behaviour], extra, why)
}

/// [`assert_denied`] for [`hostile_plugin`].
fn assert_plugin_denied(
    plugin: &str,
    device: &str,
    behaviour: &[&str],
    extra: &[&str],
    why: &str,
) -> serde_json::Value {
    let (code, run, audit) = hostile_plugin(plugin, device, behaviour, extra);
    assert_eq!(code, Some(0), "a denial is an answer to the plugin, not a failed run: {run:#}");
    assert_eq!(run["findings"][0]["code"], "hostile.rpc.not-granted", "{run:#}");
    let denials = run["denials"].as_array().expect("denials are in the result");
    assert!(denials.len() == 1 && denials[0].as_str().unwrap().contains(why), "{run:#}");
    assert_eq!(audit.len(), 1, "one attempt, one line: {audit:#?}");
    let line = &audit[0];
    assert_eq!((line["device"].as_str(), line["outcome"].as_str()), (Some(device), Some("denied")));
    assert!(line["reason"].as_str().unwrap().contains(why), "{line:#}");
    assert_eq!(line["plugin"]["name"], "hostile");
    assert!(line["plugin"]["sha256"].as_str().unwrap().starts_with("sha256:"));
    line.clone()
}

#[test]
fn a_scope_above_the_grant_is_denied() {
    assert_denied("fwctl1", "escalate", &[], "scope debug-write-full is above the debug-read-only granted on fwctl1");
}

#[test]
fn an_opcode_outside_the_allow_list_is_denied() {
    let line = assert_denied("fwctl1", "opcode", &[], "opcode 0x0101 is not in the manifest's `opcodes` allow-list");
    assert_eq!(line["opcode"], "0x0101");
}

#[test]
fn a_register_outside_the_allow_list_and_an_undeclared_write_are_denied() {
    let line = assert_denied("fwctl1", "register", &[], "reading register 0x5006");
    assert_eq!((line["opcode"].as_str(), line["register"].as_str()), (Some("0x0805"), Some("0x5006")));
    // The kernel allows ACCESS_REG writes at every scope; the host does not, undeclared.
    let line = assert_denied(
        "fwctl1",
        "register-write",
        &[],
        "ACCESS_REG write of PAOS (0x5006): a write, not declared in the manifest's `access-reg-write`",
    );
    assert_eq!(line["effect"], "write");
}

#[test]
fn a_set_feature_of_a_kernel_owned_feature_is_denied_by_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "policy-version = 1\nallow-taint = true\n[unsigned]\ndevices = { mlx5 = \"debug-read-only\", cxl = \"debug-write\" }\n").unwrap();
    let args = ["--policy", policy.to_str().unwrap(), "--allow-taint"];
    let line = assert_denied("fwctl2", "kernel-feature", &args, "the kernel owns that Feature");
    assert_eq!(line["feature"], "96dad7d6-fde8-482b-a733-75774e06db8a");
    // Without the operator's say-so, the same call is above the grant in the first place.
    assert_denied("fwctl2", "kernel-feature", &[], "scope debug-write is above the debug-read-only granted on fwctl2");
}

#[test]
fn oversized_requests_and_responses_never_reach_the_device() {
    for behaviour in ["huge-request", "too-large"] {
        let (code, run, audit) = hostile("fwctl1", behaviour, &[]);
        assert_eq!(code, Some(0), "{run:#}");
        assert_eq!(run["findings"][0]["code"], "hostile.rpc.too-large", "{behaviour}: {run:#}");
        assert_eq!(audit[0]["outcome"], "denied");
        assert!(audit[0]["reason"].as_str().unwrap().contains("2097152-byte limit"), "{:#}", audit[0]);
    }
}

#[test]
fn a_forged_handle_traps_the_forger_only() {
    let (code, run, audit) = hostile("fwctl1", "forge", &[]);
    assert_eq!(code, Some(2));
    assert_eq!(run["kind"], "trap", "{run:#}");
    assert!(run["cause"].as_str().unwrap().contains("unknown handle index"), "{run:#}");
    assert!(audit.is_empty(), "a forged call is refused by the resource table before any RPC: {audit:#?}");
}

#[test]
fn unbounded_recursion_hits_the_stack_limit() {
    let (code, run, _) = hostile("fwctl1", "recurse", &[]);
    assert_eq!(code, Some(2));
    assert_eq!(run["kind"], "trap", "{run:#}");
    // Rust's wasm32 stack lives at the bottom of linear memory and grows down, so running
    // off its end is an out-of-bounds access, caught by the sandbox like any other.
    let cause = run["cause"].as_str().unwrap();
    assert!(cause.contains("out of bounds memory access") && cause.contains("descend"), "{cause}");
}

#[test]
fn allowed_calls_are_on_the_record_with_their_answer() {
    let (code, run, audit) = hostile("fwctl1", "short-buffer", &[]);
    assert_eq!(code, Some(0), "{run:#}");
    // `sent` before the device had it, the answer after, paired by `seq`.
    assert_eq!(audit.len(), 2, "{audit:#?}");
    assert_eq!((audit[0]["outcome"].as_str(), &audit[0]["seq"]), (Some("sent"), &audit[1]["seq"]));
    let line = &audit[1];
    assert_eq!(
        (line["outcome"].as_str(), line["opcode"].as_str(), line["scope"].as_str()),
        (Some("ok"), Some("0x010a"), Some("debug-read-only"))
    );
    assert_eq!((line["request_len"].as_u64(), line["response_capacity"].as_u64()), (Some(16), Some(16)));
    // Sixteen bytes cannot hold QUERY_ISSI's answer: the firmware says BAD_OUTP_LEN (0x51)
    // inside a successful ioctl, and the trail keeps both status and syndrome.
    assert_eq!(line["status"], 0x51);
    assert!(line["syndrome"].as_str().unwrap().starts_with("0x"), "{line:#}");
    assert_eq!(line["parent"], "0000:5e:00.0", "the parent PCI function of fwctl1");
}

#[test]
fn a_run_that_cannot_write_its_audit_log_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, "").unwrap();
    let audit = blocker.join("audit.jsonl");
    let output = fwctl_run(&["mlx5-diag.wasm", "--sim", "--audit", audit.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot write the audit log"), "{}", stderr(&output));
    assert!(crate::common::stdout(&output).is_empty(), "nothing ran");
}

#[test]
fn manifest_set_replaces_the_embedded_manifest_and_inspect_shows_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let original = crate::common::plugin_dir().join("mlx5-diag.wasm");
    let rewritten = dir.path().join("narrow.wasm");
    let manifest = dir.path().join("narrow.toml");
    std::fs::write(
        &manifest,
        "manifest-version = 1\nname = \"mlx5-narrow\"\nversion = \"9.9.9\"\nvendor = \"ops\"\n\
         [devices.mlx5]\nscope = \"debug-read-only\"\nopcodes = [0x0101]\n",
    )
    .unwrap();
    let (m, o, r) = (manifest.to_str().unwrap(), original.to_str().unwrap(), rewritten.to_str().unwrap());
    let output = fwctl_run(&["manifest", "set", o, m, "--output", r]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        crate::common::stdout(&output).contains("sign it again")
            || crate::common::stdout(&output).contains("no longer covers it")
    );

    // Exactly one manifest now (the SDK's nested copy is gone), and it is the new one.
    let output = fwctl_run(&["inspect", r, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(
        (doc["manifest"]["name"].as_str(), doc["manifest"]["version"].as_str()),
        (Some("mlx5-narrow"), Some("9.9.9"))
    );
    assert_eq!(doc["grant"]["devices"]["mlx5"]["opcodes"], serde_json::json!([0x0101]));
    assert_eq!(doc["world"]["matches"], true, "the rewritten component still instantiates");

    // The narrowed plugin runs, and everything but QUERY_ADAPTER is refused by the host.
    let output = fwctl_run(&[r, "--sim", "--device", "fwctl0", "--json"]);
    let report = json(&output);
    let denials = device_run(&report, "fwctl0")["denials"].as_array().unwrap().clone();
    assert!(!denials.is_empty() && denials.iter().all(|d| d.as_str().unwrap().contains("allow-list")), "{denials:#?}");

    // A plugin made for a newer fwctl-run is refused before it runs, saying which it needs,
    // and the refusal is on the audit trail.
    std::fs::write(
        &manifest,
        "manifest-version = 1\nname = \"mlx5-narrow\"\nversion = \"9.9.9\"\nvendor = \"ops\"\n\
         requires-fwctl-run = \">=99\"\n[devices.mlx5]\nscope = \"debug-read-only\"\n",
    )
    .unwrap();
    let newer = dir.path().join("newer.wasm");
    let output = fwctl_run(&["manifest", "set", o, m, "--output", newer.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let audit = dir.path().join("audit.jsonl");
    let output = fwctl_run(&[newer.to_str().unwrap(), "--sim", "--audit", audit.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("it requires fwctl-run >=99"), "{}", stderr(&output));
    let record = std::fs::read_to_string(&audit).unwrap();
    assert!(record.contains("\"outcome\":\"refused\"") && record.contains("requires fwctl-run >=99"), "{record}");

    // A bad manifest is refused naming the field, and the plugin is left as it was.
    std::fs::write(
        &manifest,
        "manifest-version = 1\nname = \"x\"\nversion = \"1\"\nvendor = \"v\"\n[devices.mlx5]\nscope = \"root\"\n",
    )
    .unwrap();
    let before = std::fs::read(&rewritten).unwrap();
    let output = fwctl_run(&["manifest", "set", r, m]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown variant `root`"), "{}", stderr(&output));
    assert_eq!(std::fs::read(&rewritten).unwrap(), before);
}

#[test]
fn inspect_prints_the_grant_a_policy_would_give_without_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "policy-version = 1\nallow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write-full\" }\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let doc = json(&fwctl_run(&["inspect", "cxl-features.wasm", "--policy", p, "--json"]));
    assert_eq!(doc["grant"]["devices"]["cxl"]["scope"], "debug-read-only");
    assert!(doc["grant"]["devices"]["cxl"]["withheld"].as_str().unwrap().contains("--allow-taint"));
    let doc = json(&fwctl_run(&["inspect", "cxl-features.wasm", "--policy", p, "--allow-taint", "--json"]));
    assert_eq!(doc["grant"]["devices"]["cxl"]["scope"], "debug-write-full");

    // mlx5-diag needs mlx5 devices, which this policy does not grant at all.
    let output = fwctl_run(&["inspect", "mlx5-diag.wasm", "--policy", p]);
    assert_eq!(output.status.code(), Some(2));
    assert!(crate::common::stdout(&output).contains("`devices.mlx5`"), "{}", crate::common::stdout(&output));
}

/// The hostile plugin with its mlx5 table replaced by `mlx5` (its name stays `hostile`, and
/// it still handles CXL devices, read-only), written into `dir`; returns the file's path.
fn hostile_with_manifest(dir: &Path, mlx5: &str) -> String {
    let text = dir.join("manifest.toml");
    let header = "manifest-version = 1\nname = \"hostile\"\nversion = \"0.1.0\"\nvendor = \"fwctl-run tests\"\n";
    let cxl = "[devices.cxl]\nscope = \"debug-read-only\"\n";
    std::fs::write(&text, format!("{header}{mlx5}{cxl}")).unwrap();
    let output = dir.join("hostile.wasm");
    let original = crate::common::plugin_dir().join("hostile.wasm");
    let set = fwctl_run(&[
        "manifest",
        "set",
        original.to_str().unwrap(),
        text.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    output.to_str().unwrap().to_string()
}

/// SET_HCA_CAP (0x109), op_mod 0: a configuration-scope setter.
const SET_HCA_CAP: &str = "0109000000000000000000000000000000000000000000000000000000000000";

#[test]
fn a_configuration_scope_setter_is_a_write_that_a_read_only_grant_refuses() {
    // No opcode allow-list: only the write classification stands between the plugin and
    // the firmware. The kernel passes SET_HCA_CAP at configuration scope, below the
    // debug-read-only the default policy grants.
    let dir = tempfile::tempdir().unwrap();
    let open = hostile_with_manifest(dir.path(), "[devices.mlx5]\nscope = \"debug-read-only\"\n");
    let line = assert_plugin_denied(
        &open,
        "fwctl1",
        &["send", "configuration", SET_HCA_CAP],
        &[],
        "SET_HCA_CAP: a write, not declared in the manifest's `write-opcodes`",
    );
    assert_eq!((line["effect"].as_str(), line["scope"].as_str()), (Some("write"), Some("configuration")));
    assert_eq!(line["action"], "SET_HCA_CAP");

    // Declaring it is not enough: the built-in policy grants no writes, to anyone.
    let declared = hostile_with_manifest(
        dir.path(),
        "[devices.mlx5]\nscope = \"debug-read-only\"\nwrite-opcodes = [0x109]\naccess-reg-write = [0x5006]\n",
    );
    assert_plugin_denied(
        &declared,
        "fwctl1",
        &["send", "configuration", SET_HCA_CAP],
        &[],
        "SET_HCA_CAP: a write, and policy entry `unsigned` grants no writes on mlx5 devices",
    );
    // Nor does it get a PAOS write through (the plugin's own declaration was once the
    // only gate).
    let paos_write = "0805000000000000000050060000000000000000000000000000000000000000";
    assert_plugin_denied(
        &declared,
        "fwctl1",
        &["send", "configuration", paos_write],
        &[],
        "ACCESS_REG write of PAOS (0x5006): a write, and policy entry `unsigned` grants no writes on mlx5 devices",
    );

    // Where the operator grants writes, the declared write reaches the device (and the
    // firmware answers it), on the record as a write.
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "policy-version = 1\n[unsigned]\ndevices = { mlx5 = \"debug-read-only\", cxl = \"debug-read-only\" }\nwrites = [\"mlx5\"]\n").unwrap();
    let (_, run, audit) = hostile_plugin(
        &declared,
        "fwctl1",
        &["send", "configuration", SET_HCA_CAP],
        &["--policy", policy.to_str().unwrap()],
    );
    assert_ne!(run["findings"][0]["code"], "hostile.rpc.not-granted", "{run:#}");
    // On the record before it was sent (a write: on disk first), then with its answer.
    assert_eq!(
        (audit[0]["outcome"].as_str(), audit[0]["effect"].as_str()),
        (Some("sent"), Some("write")),
        "{:#}",
        audit[0]
    );
    assert_eq!(
        (audit[1]["outcome"].as_str(), audit[1]["effect"].as_str()),
        (Some("ok"), Some("write")),
        "{:#}",
        audit[1]
    );
}

#[test]
fn a_counter_read_with_its_clear_bit_is_a_write() {
    // PPCNT (0x5008) read, group 0, `clr` set: mlxlink's way of clearing counters.
    let dir = tempfile::tempdir().unwrap();
    let open = hostile_with_manifest(dir.path(), "[devices.mlx5]\nscope = \"debug-read-only\"\n");
    let header = "0805000000000001000050080000000000010000"; // ACCESS_REG read, PPCNT port 1
    let rest = "00".repeat(0x100 - 8);
    let ppcnt = format!("{header}80000000{rest}");
    let line = assert_plugin_denied(
        &open,
        "fwctl1",
        &["send", "debug-read-only", &ppcnt],
        &[],
        "ACCESS_REG read of PPCNT (0x5008) with `clr` set, which resets what it reports: a write, \
         not declared in the manifest's `access-reg-write`",
    );
    assert_eq!((line["effect"].as_str(), line["register"].as_str()), (Some("write"), Some("0x5008")));
    // The same read without the bit is a read, answered by the device.
    let plain = format!("{header}00000000{rest}");
    let (_, run, audit) = hostile_plugin(&open, "fwctl1", &["send", "debug-read-only", &plain], &[]);
    assert_eq!(run["findings"][0]["code"], "hostile.rpc.ok", "{run:#}");
    assert_eq!((audit[1]["outcome"].as_str(), audit[1]["effect"].as_str()), (Some("ok"), Some("read")));
}

#[test]
fn a_lane_eye_read_that_starts_a_measurement_is_a_write() {
    // SLRG (0x5028) read of port 1 lane 0 with `fom_measurement` set: mlxlink -e's way of
    // running the lane's eye-opening monitor; without a write grant it never reaches the device.
    let dir = tempfile::tempdir().unwrap();
    let open = hostile_with_manifest(dir.path(), "[devices.mlx5]\nscope = \"debug-read-only\"\n");
    let header = "0805000000000001000050280000000000010000"; // ACCESS_REG read, SLRG port 1 lane 0
    let rest = "00".repeat(40 - 8);
    let measure = format!("{header}0000000f{rest}");
    let line = assert_plugin_denied(
        &open,
        "fwctl1",
        &["send", "debug-read-only", &measure],
        &[],
        "ACCESS_REG read of SLRG (0x5028) with `fom_measurement` set, which starts a measurement: a write, \
         not declared in the manifest's `access-reg-write`",
    );
    assert_eq!((line["effect"].as_str(), line["register"].as_str()), (Some("write"), Some("0x5028")));
    // The same read asking for no measurement reads what the lane already knows.
    let plain = format!("{header}00000000{rest}");
    let (_, run, audit) = hostile_plugin(&open, "fwctl1", &["send", "debug-read-only", &plain], &[]);
    assert_eq!(run["findings"][0]["code"], "hostile.rpc.ok", "{run:#}");
    assert_eq!((audit[1]["outcome"].as_str(), audit[1]["effect"].as_str()), (Some("ok"), Some("read")));
}

#[test]
fn an_unknown_mlx5_opcode_at_configuration_scope_is_treated_as_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let open = hostile_with_manifest(dir.path(), "[devices.mlx5]\nscope = \"debug-read-only\"\n");
    // CREATE_UCTX (0xa04): not in the driver's table.
    let line = assert_plugin_denied(
        &open,
        "fwctl1",
        &["send", "configuration", "0a04000000000000000000000000000000000000"],
        &[],
        "mlx5 opcode 0x0a04, which the mlx5 fwctl driver does not pass: treated as a write",
    );
    assert_eq!(line["effect"], "unknown");
    // Too short to classify: refused by the host, not forwarded for the kernel to judge.
    let line = assert_plugin_denied(
        &open,
        "fwctl1",
        &["send", "debug-read-only", "010a00"],
        &[],
        "cannot tell what it would do",
    );
    assert_eq!(line["effect"], "unknown");
}

/// `fwctl-run` with the suite's plugins and audit log, and `env` as the only other
/// environment (no cache directory unless `env` names one).
fn fwctl_run_with_env(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fwctl-run"));
    cmd.args(args)
        .env_clear()
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FWCTL_RUN_PLUGIN_PATH", crate::common::plugin_dir())
        .env("FWCTL_RUN_AUDIT", crate::common::audit_log());
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("running fwctl-run")
}

/// The cache entry of the suite's build of `plugin` in `cache`.
fn cache_entry(cache: &Path, plugin: &str) -> std::path::PathBuf {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(crate::common::plugin_dir().join(plugin)).unwrap()));
    let entry = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&digest));
    entry.unwrap_or_else(|| panic!("no cache entry for {plugin} in {}", cache.display()))
}

#[test]
fn a_compiled_artifact_swapped_into_another_plugins_cache_entry_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let env = [("FWCTL_RUN_CACHE_DIR", cache.as_path())];
    let diag = ["mlx5-diag.wasm", "--sim", "--device", "fwctl0", "--json"];
    let first = fwctl_run_with_env(&diag, &env);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let expected = device_run(&json(&first), "fwctl0")["facts"].clone();
    let hostile = fwctl_run_with_env(&["hostile.wasm", "--sim", "--device", "fwctl0", "--", "ambient"], &env);
    assert!(hostile.status.code().is_some(), "{}", stderr(&hostile));

    // The hostile plugin's native code in mlx5-diag's entry.
    std::fs::copy(cache_entry(&cache, "hostile.wasm"), cache_entry(&cache, "mlx5-diag.wasm")).unwrap();
    let output = fwctl_run_with_env(&diag, &env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run = device_run(&json(&output), "fwctl0").clone();
    assert_eq!(run["facts"], expected, "mlx5-diag's own code ran: {run:#}");
    assert!(
        stderr(&output).contains("1 compile cache entry") && stderr(&output).contains("failed authentication"),
        "{}",
        stderr(&output)
    );
    // It was compiled again and stored: the next run is a quiet, authenticated hit.
    let output = fwctl_run_with_env(&diag, &env);
    assert!(!stderr(&output).contains("failed authentication"), "{}", stderr(&output));
    assert_eq!(json(&output)["compile"]["cache"], "hit");
}

#[test]
fn a_cache_directory_other_users_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("shared");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = fwctl_run_with_env(
        &["mlx5-diag.wasm", "--sim", "--device", "fwctl0", "--json"],
        &[("FWCTL_RUN_CACHE_DIR", cache.as_path())],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("mode 0777 lets other users write it"), "{}", stderr(&output));
    assert_eq!(json(&output)["compile"]["cache"], "disabled");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0, "nothing written there");
}

#[test]
fn a_privileged_run_derives_no_cache_directory_from_an_inherited_home() {
    // As under `sudo -E`: HOME and XDG_CACHE_HOME name another user's directories.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let xdg = dir.path().join("xdg");
    let output = fwctl_run_with_env(
        &["mlx5-diag.wasm", "--sim", "--device", "fwctl0", "--json"],
        &[("HOME", home.as_path()), ("XDG_CACHE_HOME", xdg.as_path())],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    if nix::unistd::geteuid().is_root() {
        assert!(!home.exists() && !xdg.exists(), "root's run wrote under the inherited HOME");
        assert!(std::path::Path::new("/var/cache/fwctl-run/key").exists(), "root's own cache");
    } else {
        // An unprivileged user's own HOME is theirs to use.
        assert!(xdg.join("fwctl-run/key").exists());
    }
}

#[test]
fn a_full_audit_volume_refuses_rpcs_but_still_reports_what_ran() {
    // /dev/full opens for appending and fails every write with ENOSPC.
    for args in [
        vec!["mlx5-diag.wasm", "--sim", "--device", "fwctl0", "--json", "--audit", "/dev/full"],
        vec!["fleet", "mlx5-diag.wasm", "--sim", "--format", "json", "--audit", "/dev/full"],
    ] {
        let output = fwctl_run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        let report = json(&output);
        assert!(stderr(&output).contains("cannot write the audit log /dev/full"), "{}", stderr(&output));
        // No RPC was made off the record: each was refused because the record failed.
        let text = report.to_string();
        assert!(text.contains("the audit log cannot be written, so no RPC may be made"), "{args:?}: {report:#}");
    }
}

#[test]
fn a_finding_code_that_is_not_an_identifier_ends_the_run_and_forges_nothing() {
    let (code, run, _) = hostile("fwctl1", "forged-code", &[]);
    assert_eq!(code, Some(2), "{run:#}");
    assert_eq!(run["kind"], "report-limit", "{run:#}");
    assert!(run["cause"].as_str().unwrap().contains("not an identifier"), "{run:#}");
    assert!(run["findings"].as_array().unwrap().is_empty(), "the forged code was not kept: {run:#}");
    // NPD still gets exactly one line.
    let output = fwctl_run(&["npd", "hostile.wasm", "--sim", "--", "forged-code", "only=fwctl1"]);
    let text = crate::common::stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(text.ends_with("(simulated)\n"), "{text:?}");
}

#[test]
fn terminal_control_from_a_plugin_is_shown_never_obeyed() {
    for args in [
        vec!["hostile.wasm", "--sim", "-v", "--", "terminal", "only=fwctl1"],
        vec!["fleet", "hostile.wasm", "--sim", "--", "terminal", "only=fwctl1"],
    ] {
        let output = fwctl_run(&args);
        let text = crate::common::stdout(&output);
        for (byte, what) in [(0x1b, "ESC"), (b'\r', "CR"), (0x07, "BEL")] {
            assert!(!text.as_bytes().contains(&byte), "{args:?}: a raw {what} reached the terminal:\n{text}");
        }
        assert!(!text.contains('\u{202e}'), "{args:?}: a bidi override reached the terminal");
        assert!(text.contains("\\x1b[2K") && text.contains("\\u{202e}"), "{args:?}: shown as escapes:\n{text}");
        // The forged row stays inside its field, on the finding's own line.
        assert!(!text.lines().any(|l| l.starts_with("fwctl0  mlx5  healthy")), "{args:?}:\n{text}");
    }
}

#[test]
fn a_bare_plugin_name_is_never_taken_from_the_working_directory_by_root() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, empty) = (dir.path().join("cwd"), dir.path().join("plugins"));
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(crate::common::plugin_dir().join("hostile.wasm"), cwd.join("planted.wasm")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(["planted.wasm", "--sim", "--json", "--", "ambient"])
        .current_dir(&cwd)
        .env("FWCTL_RUN_PLUGIN_PATH", &empty)
        .env("FWCTL_RUN_CACHE_DIR", crate::common::cache_dir())
        .env("FWCTL_RUN_AUDIT", crate::common::audit_log())
        .output()
        .unwrap();
    if nix::unistd::geteuid().is_root() {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains("planted.wasm"), "{}", stderr(&output));
        assert!(crate::common::stdout(&output).is_empty(), "nothing ran");
    } else {
        // Another user's own directory is theirs; the run says where the plugin came from.
        assert!(stderr(&output).contains("found in the working directory"), "{}", stderr(&output));
    }
}
