//! Vendor signatures end to end: sign with the in-repo TEST-ONLY keys, verify against
//! trust stores built in temporary directories, and prove every refusal names its
//! reason, runs nothing, and leaves an audit line.

use std::path::{Path, PathBuf};

use crate::common::{fwctl_run, json, plugin_dir, stderr, stdout, workspace_root};

fn key(name: &str, ext: &str) -> PathBuf {
    workspace_root().join(format!("tests/keys/TEST-ONLY-{name}.{ext}"))
}

/// A trust store in `dir` with `vendor` (and optionally `operator`) keys.
pub struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    pub fn new(keys: &[(&str, &str, &str)]) -> Self {
        // (signer, key name, extra TOML for the key)
        let dir = tempfile::tempdir().unwrap();
        let mut toml = String::from("trust-version = 1\n");
        for (signer, name, extra) in keys {
            std::fs::copy(key(name, "pub"), dir.path().join(format!("{name}.pub"))).unwrap();
            toml.push_str(&format!(
                "[[signer]]\nname = \"{signer}\"\n[[signer.key]]\nfile = \"{name}.pub\"\n{extra}\n"
            ));
        }
        std::fs::write(dir.path().join("trust.toml"), toml).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

/// A copy of mlx5-diag.wasm in a temp dir, signed by `signers` in order.
pub fn signed_copy(dir: &Path, signers: &[&str]) -> PathBuf {
    let plugin = dir.join("mlx5-diag.wasm");
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), &plugin).unwrap();
    for signer in signers {
        let output = fwctl_run(&["sign", plugin.to_str().unwrap(), "--key", key(signer, "key").to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    plugin
}

/// Runs the plugin on one simulated device with `extra` options and a fresh audit log;
/// returns exit code, stderr, and the audit lines.
fn run(plugin: &Path, extra: &[&str]) -> (Option<i32>, String, Vec<serde_json::Value>) {
    let audit = plugin.with_extension("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let mut args =
        vec![plugin.to_str().unwrap(), "--sim=connectx7-healthy", "--json", "--audit", audit.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = fwctl_run(&args);
    let lines =
        std::fs::read_to_string(&audit).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (output.status.code(), stderr(&output), lines)
}

/// Asserts a refusal: exit 2, the reason on stderr, nothing ran, one audit line saying so.
fn assert_refused(plugin: &Path, extra: &[&str], why: &str) {
    let (code, err, audit) = run(plugin, extra);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("was refused before it ran") && err.contains(why), "expected `{why}` in: {err}");
    assert_eq!(audit.len(), 1, "one refusal line and no RPC: {audit:#?}");
    assert_eq!(audit[0]["outcome"], "refused");
    assert!(audit[0]["reason"].as_str().unwrap().contains(why), "{:#}", audit[0]);
}

#[test]
fn a_trusted_signature_runs_and_the_audit_names_the_signer() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let (code, err, audit) = run(&plugin, &["--trust", store.path(), "--require-signed"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!audit.is_empty());
    assert!(audit.iter().all(|l| l["plugin"]["signer"] == "acme (key 11c5160e84cf3096fc79ec5a)"), "{:#}", audit[0]);

    let output = fwctl_run(&["verify", plugin.to_str().unwrap(), "--trust", store.path()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("signed by acme (key 11c5160e84cf3096fc79ec5a): trusted"), "{}", stdout(&output));
}

#[test]
fn unsigned_plugins_need_no_signature_unless_required() {
    let plugin = plugin_dir().join("mlx5-diag.wasm");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("p.wasm");
    std::fs::copy(&plugin, &copy).unwrap();
    assert_eq!(run(&copy, &[]).0, Some(0));
    assert_refused(&copy, &["--require-signed"], "unsigned, and --require-signed requires a signature");
}

#[test]
fn a_flipped_byte_in_code_or_in_the_manifest_is_tampering_named_by_section() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let pristine = std::fs::read(&plugin).unwrap();

    // A byte inside the component's core module (its code).
    let mut code = pristine.clone();
    let at = code.len() / 2;
    code[at] ^= 0x01;
    std::fs::write(&plugin, &code).unwrap();
    assert_refused(&plugin, &["--trust", store.path()], "tampered: section");
    let (_, err, _) = run(&plugin, &["--trust", store.path()]);
    assert!(err.contains("core module") && err.contains("must be signed again"), "{err}");

    // A byte of the manifest text: the core module that carries it changed.
    let mut manifest = pristine.clone();
    let needle = b"mlx5-diag\"\nversion";
    let pos = manifest.windows(needle.len()).position(|w| w == needle).expect("the manifest is embedded");
    manifest[pos] = b'M';
    std::fs::write(&plugin, &manifest).unwrap();
    assert_refused(&plugin, &["--trust", store.path()], "tampered");
}

#[test]
fn a_plugin_rewritten_after_signing_must_be_signed_again() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, "manifest-version = 1\nname = \"x\"\nversion = \"1\"\nvendor = \"v\"\n[devices.mlx5]\nscope = \"debug-read-only\"\n").unwrap();
    let output = fwctl_run(&["manifest", "set", plugin.to_str().unwrap(), manifest.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_refused(&plugin, &["--trust", store.path()], "must be signed again");
}

#[test]
fn the_signature_section_must_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    // Move the first section (the signature) behind the next one.
    let bytes = std::fs::read(&plugin).unwrap();
    let section_end = |at: usize| {
        let (mut size, mut shift, mut i) = (0usize, 0, at + 1);
        loop {
            let b = bytes[i];
            size |= ((b & 0x7f) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        i + size
    };
    let first_end = section_end(8);
    let second_end = section_end(first_end);
    let mut moved = bytes[..8].to_vec();
    moved.extend_from_slice(&bytes[first_end..second_end]);
    moved.extend_from_slice(&bytes[8..first_end]);
    moved.extend_from_slice(&bytes[second_end..]);
    std::fs::write(&plugin, &moved).unwrap();
    assert_refused(&plugin, &["--trust", store.path()], "is section 1, not the first");
}

#[test]
fn a_signature_by_a_key_the_host_does_not_hold_counts_as_none_unless_one_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["stranger"]);
    let stranger = fwctl_run::signing::PublicKey::from_any_file(key("stranger", "pub")).unwrap();
    let stranger_id = fwctl_run::signing::key_id(&stranger);
    let store = Store::new(&[("acme", "vendor", "")]);
    // As an unsigned plugin would: it runs, under the unsigned entry, and says why.
    for trust in [&["--trust", store.path()][..], &[]] {
        let mut args = vec![plugin.to_str().unwrap(), "--sim=connectx7-healthy", "--json"];
        args.extend_from_slice(trust);
        let output = fwctl_run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let report = json(&output);
        assert_eq!(report["plugin"]["signature"]["status"], "untrusted", "{:#}", report["plugin"]);
        assert_eq!(report["plugin"]["signature"]["key_ids"][0], stranger_id.as_str());
        assert_eq!(report["grant"]["policy_entry"], "unsigned");
        assert_eq!(report["grant"]["entry_reason"], "because no trusted key signed the plugin");
    }
    let human = stdout(&fwctl_run(&[plugin.to_str().unwrap(), "--sim=connectx7-healthy", "--trust", store.path()]));
    assert!(
        human.contains(&format!("signed only by keys this host does not trust ({stranger_id}): judged as unsigned")),
        "{human}"
    );
    // Where a trusted signature is required, it is refused, naming the key.
    assert_refused(
        &plugin,
        &["--trust", store.path(), "--require-signed"],
        &format!("does not hold (key ids: {stranger_id}), and --require-signed requires"),
    );
}

#[test]
fn revoked_and_expired_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();

    let plugin = signed_copy(dir.path(), &["vendor"]);
    let revoked = Store::new(&[("acme", "vendor", "revoked = true")]);
    assert_refused(&plugin, &["--trust", revoked.path()], "which is revoked");
    let expired = Store::new(&[("acme", "vendor", "valid-until = \"2020-01-01T00:00:00Z\"")]);
    assert_refused(&plugin, &["--trust", expired.path()], "which is expired (valid until 2020-01-01T00:00:00Z)");
}

#[test]
fn one_untrusted_signature_beside_a_trusted_one_is_ignored_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["stranger", "vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let (code, err, _) = run(&plugin, &["--trust", store.path()]);
    assert_eq!(code, Some(0), "{err}");
    let output = fwctl_run(&["verify", plugin.to_str().unwrap(), "--trust", store.path(), "--json"]);
    let doc = json(&output);
    assert_eq!(doc["signature"]["signers"][0]["name"], "acme");
    assert!(
        doc["signature"]["ignored"][0].as_str().unwrap().contains("1 signature(s) by keys not in the trust store"),
        "{doc:#}"
    );
}

#[test]
fn a_partial_signature_is_refused_unless_policy_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    // Append a custom section after signing: the signature now covers a prefix.
    let mut bytes = std::fs::read(&plugin).unwrap();
    bytes.extend_from_slice(&[0x00, 0x06, 0x05, b'e', b'x', b't', b'r', b'a']);
    std::fs::write(&plugin, &bytes).unwrap();
    assert_refused(&plugin, &["--trust", store.path()], "partial signature");

    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "policy-version = 1\nallow-partial-signatures = true\n[signer.acme]\ndevices = { mlx5 = \"debug-read-only\" }\n").unwrap();
    let (code, err, _) = run(&plugin, &["--trust", store.path(), "--policy", policy.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn signer_entries_decide_the_grant_and_a_countersignature_can_gate_tainting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(&[("acme", "vendor", ""), ("ops", "operator", "")]);
    let policy = dir.path().join("policy.toml");
    // Nothing unsigned; acme's plugins only on CXL devices.
    std::fs::write(&policy, "policy-version = 1\n[signer.acme]\ndevices = { cxl = \"debug-read-only\" }\n").unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    assert_refused(
        &plugin,
        &["--trust", store.path(), "--policy", policy.to_str().unwrap()],
        "`signer.acme` grants none",
    );
    let unsigned = dir.path().join("u.wasm");
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), &unsigned).unwrap();
    assert_refused(&unsigned, &["--trust", store.path(), "--policy", policy.to_str().unwrap()], "no `unsigned` entry");

    // Tainting scopes need the operator's countersignature under this policy.
    std::fs::write(
        &policy,
        "policy-version = 1\nallow-taint = true\ntaint-needs-countersignature = true\n\
         [signer.acme]\ndevices = { cxl = \"debug-write-full\" }\nwrites = [\"cxl\"]\n",
    )
    .unwrap();
    let cxl = dir.path().join("cxl-features.wasm");
    std::fs::copy(plugin_dir().join("cxl-features.wasm"), &cxl).unwrap();
    let sign = |who: &str| {
        let out = fwctl_run(&["sign", cxl.to_str().unwrap(), "--key", key(who, "key").to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    let set = |cxl: &Path| {
        let args = [cxl.to_str().unwrap(), "--sim=cxl-type3", "--json", "--trust", store.path()];
        let mut args = args.to_vec();
        args.extend_from_slice(&[
            "--policy",
            policy.to_str().unwrap(),
            "--allow-taint",
            "--",
            "set",
            "cxl-test",
            "u32:5",
        ]);
        fwctl_run(&args)
    };
    sign("vendor");
    let output = set(&cxl);
    let run = &json(&output)["runs"][0];
    assert!(run["cause"].as_str().unwrap().contains("requires two trusted signers"), "{run:#}");
    sign("operator");
    let output = set(&cxl);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json(&output)["runs"][0]["facts"]["after"], "05000000");
}

#[test]
fn a_detached_signature_beside_the_plugin_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("mlx5-diag.wasm");
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), &plugin).unwrap();
    let before = std::fs::read(&plugin).unwrap();
    let output =
        fwctl_run(&["sign", plugin.to_str().unwrap(), "--key", key("vendor", "key").to_str().unwrap(), "--detached"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(std::fs::read(&plugin).unwrap(), before, "the plugin's bytes are untouched");
    let store = Store::new(&[("acme", "vendor", "")]);
    let (code, err, audit) = run(&plugin, &["--trust", store.path(), "--require-signed"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(audit[0]["plugin"]["signer"], "acme (key 11c5160e84cf3096fc79ec5a)");
}

#[test]
fn the_denylist_refuses_a_digest_whoever_signed_it() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let digest =
        json(&fwctl_run(&["inspect", plugin.to_str().unwrap(), "--json"]))["digest"].as_str().unwrap().to_string();
    let toml = std::fs::read_to_string(store.dir.path().join("trust.toml")).unwrap();
    std::fs::write(
        store.dir.path().join("trust.toml"),
        toml.replace("trust-version = 1\n", &format!("trust-version = 1\ndenied-digests = [\"{digest}\"]\n")),
    )
    .unwrap();
    assert_refused(&plugin, &["--trust", store.path()], "is on the trust store's denylist");
}

#[test]
fn a_denied_plugin_stays_denied_when_countersigned_by_a_throwaway_key() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    // The operator denies what `verify` names as the signed content.
    let verified = json(&fwctl_run(&["verify", plugin.to_str().unwrap(), "--trust", store.path(), "--json"]));
    let content = verified["content_digest"].as_str().unwrap().to_string();
    assert_ne!(verified["digest"], verified["content_digest"]);
    let toml = std::fs::read_to_string(store.dir.path().join("trust.toml")).unwrap();
    std::fs::write(
        store.dir.path().join("trust.toml"),
        toml.replace("trust-version = 1\n", &format!("trust-version = 1\ndenied-digests = [\"{content}\"]\n")),
    )
    .unwrap();
    assert_refused(&plugin, &["--trust", store.path()], "is on the trust store's denylist");
    // A second signature changes the file's digest, not what was signed.
    let output = fwctl_run(&["sign", plugin.to_str().unwrap(), "--key", key("operator", "key").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_refused(&plugin, &["--trust", store.path()], "is on the trust store's denylist");
}

/// The `wasmsign2` command-line tool (crate `wasmsign2-cli`), which `.ci/run` installs.
fn wasmsign2_tool() -> std::process::Command {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("a cargo home");
    let tool = home.join("bin/wasmsign2");
    assert!(
        tool.is_file(),
        "{} is missing: the interoperability tests need `cargo install wasmsign2-cli` (.ci/run installs it)",
        tool.display()
    );
    std::process::Command::new(tool)
}

#[test]
fn the_wasmsign2_tools_and_fwctl_run_verify_each_others_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(&[("acme", "vendor", "")]);
    let (sk, pk) = (key("vendor", "key"), key("vendor", "pub"));

    // They sign, we verify.
    let theirs = dir.path().join("theirs.wasm");
    let status = wasmsign2_tool()
        .args(["sign", "-i"])
        .arg(plugin_dir().join("mlx5-diag.wasm"))
        .arg("-o")
        .arg(&theirs)
        .arg("-k")
        .arg(&sk)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let output = fwctl_run(&["verify", theirs.to_str().unwrap(), "--trust", store.path()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("signed by acme"), "{}", stdout(&output));

    // We sign (embedded, with per-part delimiters), they verify.
    let ours = signed_copy(dir.path(), &["vendor"]);
    let verified = wasmsign2_tool().args(["verify", "-i"]).arg(&ours).arg("-K").arg(&pk).output().unwrap();
    assert!(verified.status.success(), "wasmsign2 verify: {}", String::from_utf8_lossy(&verified.stderr));

    // And a tampered copy fails for both.
    let mut bytes = std::fs::read(&ours).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&ours, &bytes).unwrap();
    let verified = wasmsign2_tool().args(["verify", "-i"]).arg(&ours).arg("-K").arg(&pk).output().unwrap();
    assert!(!verified.status.success(), "wasmsign2 accepted a tampered plugin");
    assert_eq!(fwctl_run(&["verify", ours.to_str().unwrap(), "--trust", store.path()]).status.code(), Some(2));
}

#[test]
fn signed_and_rewritten_plugins_keep_a_mode_others_can_read_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.wasm");
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), &source).unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
    let manifest = workspace_root().join("guests/mlx5-diag/fwctl-plugin.toml");
    let (signed, rewritten) = (dir.path().join("signed.wasm"), dir.path().join("rewritten.wasm"));
    let key = key("vendor", "key");
    // Under umask 077, as a root shell or a locked-down CI often has.
    let strict = |args: &[&str]| {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 077 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_fwctl-run"))
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    };
    let path = |p: &Path| p.to_str().unwrap().to_string();
    strict(&["sign", &path(&source), "--key", &path(&key), "-o", &path(&signed)]);
    strict(&["manifest", "set", &path(&source), &path(&manifest), "-o", &path(&rewritten)]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&signed), mode(&rewritten)), (0o644, 0o644), "the source's mode");
    // Signing in place keeps the file's own mode, an executable bit included.
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o755)).unwrap();
    strict(&["sign", &path(&source), "--key", &path(&key)]);
    assert_eq!(mode(&source), 0o755);
}
