//! `fwctl-run plugin install | list | update | remove` end to end: from files and from a
//! real registry (Debian's docker-registry on 127.0.0.1), against trust stores made in the
//! test, with every step's audit line checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{cache_dir, fresh_state_dir, plugin_dir, stderr, stdout, workspace_root};
use crate::registry::LocalRegistry;
use crate::signing::{Store, signed_copy};

/// A host of its own: plugin directory, store, lock and audit log in one temp dir.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `fwctl-run ARGS` on this host, stdin not a terminal.
    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(ToString::to_string).collect();
        if matches!(args.first(), Some(&"plugin")) {
            for (flag, name) in [("--store", "store"), ("--lock", "plugins.lock"), ("--audit", "audit.jsonl")] {
                all.push(flag.into());
                all.push(self.path(name).display().to_string());
            }
        }
        Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
            .args(&all)
            .env("FWCTL_RUN_PLUGIN_PATH", self.path("plugins"))
            .env("FWCTL_RUN_CACHE_DIR", cache_dir())
            .env("FWCTL_RUN_STATE_DIR", fresh_state_dir())
            .env("FWCTL_RUN_AUDIT", self.path("audit.jsonl"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn lifecycle(&self) -> Vec<(String, String)> {
        self.audit()
            .iter()
            .filter(|l| l.get("detail").is_some())
            .map(|l| (l["outcome"].as_str().unwrap().to_string(), l["plugin"]["version"].as_str().unwrap().to_string()))
            .collect()
    }
}

fn ok(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(output), stderr(output));
    stdout(output)
}

#[test]
fn install_shows_the_grant_needs_a_yes_without_a_terminal_and_remove_undoes_it() {
    let host = Host::new();
    let source = plugin_dir().join("mlx5-diag.wasm");
    let refused = host.run(&["plugin", "install", source.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stdout(&refused).contains("grant    mlx5: scope debug-read-only"), "{}", stdout(&refused));
    assert!(stderr(&refused).contains("pass --yes"), "{}", stderr(&refused));
    assert!(!host.path("plugins/mlx5-diag.wasm").exists(), "nothing installed without a yes");

    let installed = ok(&host.run(&["plugin", "install", source.to_str().unwrap(), "--yes"]));
    assert!(installed.contains("installed mlx5-diag 0.1.0 as"), "{installed}");
    let record = std::fs::read_to_string(host.path("plugins/mlx5-diag.install.toml")).unwrap();
    assert!(record.contains("source = ") && record.contains("sha256 = \"sha256:"), "{record}");

    let list = ok(&host.run(&["plugin", "list"]));
    assert!(list.contains("mlx5-diag 0.1.0") && list.contains("grant    mlx5: writes: none"), "{list}");
    let json: serde_json::Value = serde_json::from_str(&ok(&host.run(&["plugin", "list", "--json"]))).unwrap();
    assert_eq!(json[0]["name"], "mlx5-diag");
    assert_eq!(json[0]["verified"], true);

    // The installed plugin is what fleet runs by default.
    let fleet = host.run(&["fleet", "--sim=connectx7-healthy", "--format", "jsonl"]);
    assert_eq!(fleet.status.code(), Some(0), "{}", stderr(&fleet));
    assert!(stdout(&fleet).contains("\"name\":\"mlx5-diag\""));

    let removed = ok(&host.run(&["plugin", "remove", "mlx5-diag"]));
    assert!(removed.contains("removed mlx5-diag 0.1.0"), "{removed}");
    assert!(!host.path("plugins/mlx5-diag.wasm").exists() && !host.path("plugins/mlx5-diag.install.toml").exists());
    assert_eq!(host.lifecycle(), [("installed".into(), "0.1.0".into()), ("removed".into(), "0.1.0".into())]);
    let again = host.run(&["plugin", "remove", "mlx5-diag"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("no plugin `mlx5-diag` is installed"), "{}", stderr(&again));
}

#[test]
fn an_install_that_cannot_be_written_names_the_place_and_leaves_nothing_behind() {
    let host = Host::new();
    // The "directory" is a file: nothing can be created in it.
    let blocked = host.path("not-a-directory");
    std::fs::write(&blocked, b"").unwrap();
    let source = plugin_dir().join("mlx5-diag.wasm");
    let output =
        host.run(&["plugin", "install", source.to_str().unwrap(), "--yes", "--dir", blocked.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(blocked.to_str().unwrap()), "{}", stderr(&output));
    assert!(host.lifecycle().is_empty(), "nothing installed, nothing recorded as installed");
    assert_eq!(std::fs::read(&blocked).unwrap(), b"", "the file in the way is untouched");
}

#[test]
fn a_plugin_whose_signer_is_revoked_is_flagged_by_list_and_skipped_by_fleet() {
    let host = Host::new();
    let signed = signed_copy(host.dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let trust = ["--trust", store.path(), "--require-signed"];
    ok(&host.run(&[&["plugin", "install", signed.to_str().unwrap(), "--yes"][..], &trust].concat()));
    let list = ok(&host.run(&[&["plugin", "list"][..], &trust].concat()));
    assert!(list.contains("signer   acme"), "{list}");

    let revoked = Store::new(&[("acme", "vendor", "revoked = true")]);
    let trust = ["--trust", revoked.path(), "--require-signed"];
    let list = host.run(&[&["plugin", "list"][..], &trust].concat());
    assert_eq!(list.status.code(), Some(2), "a plugin that does not verify is a failed list");
    assert!(stdout(&list).contains("NOT VERIFIED") && stdout(&list).contains("revoked"), "{}", stdout(&list));
    let fleet = host.run(&["fleet", "--sim=connectx7-healthy", "--format", "json", "--trust", revoked.path()]);
    assert_eq!(fleet.status.code(), Some(2), "{}", stderr(&fleet));
    let report: serde_json::Value = serde_json::from_slice(&fleet.stdout).unwrap_or_default();
    let reasons = format!("{}{}", report["refused"], stderr(&fleet));
    assert!(reasons.contains("revoked"), "fleet says why it skipped it: {reasons}");
}

#[test]
fn a_tampered_installed_file_is_flagged_by_list_and_refused_at_run() {
    let host = Host::new();
    let signed = signed_copy(host.dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    ok(&host.run(&["plugin", "install", signed.to_str().unwrap(), "--yes", "--trust", store.path()]));
    let installed = host.path("plugins/mlx5-diag.wasm");
    let mut bytes = std::fs::read(&installed).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&installed, bytes).unwrap();

    let list = host.run(&["plugin", "list", "--trust", store.path()]);
    assert_eq!(list.status.code(), Some(2));
    assert!(stdout(&list).contains("NOT VERIFIED") && stdout(&list).contains("tampered"), "{}", stdout(&list));
    let run = host.run(&["mlx5-diag", "--sim=connectx7-healthy", "--trust", store.path()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("tampered"), "{}", stderr(&run));
}

/// A signed mlx5-diag with its manifest's version set to `version`, asking for CXL devices
/// too when `wider`.
fn variant(dir: &Path, version: &str, wider: bool) -> PathBuf {
    let manifest = std::fs::read_to_string(workspace_root().join("guests/mlx5-diag/fwctl-plugin.toml")).unwrap();
    let mut manifest = manifest.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
    if wider {
        manifest = manifest.replace("[limits]", "[devices.cxl]\nscope = \"debug-read-only\"\n\n[limits]");
    }
    let toml = dir.join(format!("manifest-{version}.toml"));
    std::fs::write(&toml, manifest).unwrap();
    let out_dir = dir.join(version);
    std::fs::create_dir_all(&out_dir).unwrap();
    let plugin = signed_copy(&out_dir, &[]);
    let set = crate::common::fwctl_run(&["manifest", "set", plugin.to_str().unwrap(), toml.to_str().unwrap()]);
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    let key = workspace_root().join("tests/keys/TEST-ONLY-vendor.key");
    let sign = crate::common::fwctl_run(&["sign", plugin.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(sign.status.code(), Some(0), "{}", stderr(&sign));
    plugin
}

#[test]
fn update_from_a_registry_tag_shows_what_changed_and_a_wider_grant_before_installing() {
    let registry = LocalRegistry::start();
    let host = Host::new();
    let store = Store::new(&[("acme", "vendor", "")]);
    let trust = ["--trust", store.path(), "--require-signed"];
    let tag = registry.reference("acme/mlx5-diag:stable");
    let pushed = |plugin: &Path| {
        let output = crate::common::fwctl_run(&["push", plugin.to_str().unwrap(), &tag]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    };
    pushed(&variant(host.dir.path(), "0.1.0", false));
    let installed = ok(&host.run(&[&["plugin", "install", &tag, "--yes"][..], &trust].concat()));
    assert!(installed.contains("installed mlx5-diag 0.1.0"), "{installed}");
    let up_to_date = ok(&host.run(&[&["plugin", "update"][..], &trust].concat()));
    assert!(up_to_date.contains("up to date"), "{up_to_date}");

    // A newer version under the same tag, asking for CXL devices as well.
    pushed(&variant(host.dir.path(), "0.2.0", true));
    let lock = || std::fs::read_to_string(host.path("plugins.lock")).unwrap();
    let pinned = lock();
    let dry = ok(&host.run(&[&["plugin", "update", "--dry-run"][..], &trust].concat()));
    assert_eq!(lock(), pinned, "a dry run does not move what the tag runs");
    assert!(dry.contains("mlx5-diag: 0.1.0 → 0.2.0"), "{dry}");
    assert!(dry.contains("grant  + cxl: scope debug-read-only"), "{dry}");
    assert!(dry.contains("WIDER GRANT: cxl devices at debug-read-only: not granted before"), "{dry}");
    assert!(!dry.contains("SIGNER CHANGED"), "{dry}");
    let list = ok(&host.run(&[&["plugin", "list"][..], &trust].concat()));
    assert!(list.contains("mlx5-diag 0.1.0"), "a dry run installs nothing: {list}");

    let unconfirmed = host.run(&[&["plugin", "update"][..], &trust].concat());
    assert_eq!(unconfirmed.status.code(), Some(2), "no terminal, no --yes: not updated");
    assert_eq!(lock(), pinned, "nor does an update not confirmed");
    let updated = ok(&host.run(&[&["plugin", "update", "--yes"][..], &trust].concat()));
    assert!(updated.contains("updated mlx5-diag to 0.2.0"), "{updated}");
    let list = ok(&host.run(&[&["plugin", "list"][..], &trust].concat()));
    assert!(list.contains("mlx5-diag 0.2.0") && list.contains(&tag), "{list}");

    assert_ne!(lock(), pinned, "a confirmed update pins the tag's new digest");

    // The registry takes the tag back to the older version: not taken with --yes.
    pushed(&variant(host.dir.path(), "0.1.0", false));
    let back = host.run(&[&["plugin", "update", "--yes"][..], &trust].concat());
    assert_eq!(back.status.code(), Some(2));
    assert!(stdout(&back).contains("DOWNGRADE") && stdout(&back).contains("not installed"), "{}", stdout(&back));

    ok(&host.run(&["plugin", "remove", "mlx5-diag"]));
    assert_eq!(
        host.lifecycle(),
        [("installed".into(), "0.1.0".into()), ("updated".into(), "0.2.0".into()), ("removed".into(), "0.2.0".into())]
    );
}
