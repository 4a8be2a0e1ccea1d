//! Testing a plugin from Rust against simulated devices: what a vendor puts in their
//! plugin crate's `tests/`. It builds the plugin for wasm32-wasip2, runs it through the
//! same load → grant → run path as the binary, and hands back facts and findings, so a
//! test states expectations in the plugin's own terms instead of byte arrays.
//!
//! ```no_run
//! use fwctl_run::testing::{Simulation, build_plugin};
//!
//! let plugin = build_plugin(env!("CARGO_MANIFEST_DIR")).unwrap();
//! let runs = Simulation::profile("cxl-type3").unwrap().run(&plugin, &["list"]).unwrap();
//! assert_eq!(runs[0].fact("feature-count").and_then(|v| v.as_u64()), Some(7));
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fwctl_devices::Backend;

use crate::admission::{Admission, Admitted, OperatorChoices};
use crate::audit::{AuditLog, AuditTrail};
use crate::outcome::DeviceRun;
use crate::plugin_state::StateStore;
use crate::policy::Policy;
use crate::runner::{Job, run_on_devices};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::signing::TrustStore;
use crate::source::DeviceSource;

/// Builds the plugin crate at `crate_dir` (release, wasm32-wasip2, from that directory)
/// and returns the component's path. The build uses its own target directory, `target/plugin-tests` of
/// the workspace, so it never waits on the lock of the `cargo test` that called it.
pub fn build_plugin(crate_dir: impl AsRef<Path>) -> Result<PathBuf> {
    // Absolute, since cargo runs from it below and a relative path would then move.
    let crate_dir = &std::path::absolute(crate_dir.as_ref())
        .with_context(|| format!("resolving {}", crate_dir.as_ref().display()))?;
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let package: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let name = package
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .with_context(|| format!("{} has no [package] name", manifest.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Command::new(&cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo locate-project")?;
    let root = PathBuf::from(String::from_utf8_lossy(&workspace.stdout).trim());
    let target = root.parent().unwrap_or(crate_dir).join("target/plugin-tests");
    let status = Command::new(&cargo)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        // From the crate's directory, so that its own `.cargo/config.toml` (the build
        // settings sdk/README.md recommends) applies whatever the caller's directory.
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!(
            "building {name} for wasm32-wasip2 failed ({status}); is the target installed? (rustup target add wasm32-wasip2)"
        );
    }
    Ok(target.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_"))))
}

/// Simulated devices plus the policy, trust store and audit log a test runs plugins under.
pub struct Simulation {
    source: DeviceSource,
    policy: Policy,
    trust: TrustStore,
    choices: OperatorChoices,
    audit: tempfile::NamedTempFile,
    state: Option<StateStore>,
}

impl Simulation {
    /// The devices of a built-in profile (`default` for the default fleet) or a profile
    /// file, under the built-in policy and an empty trust store (an unsigned plugin runs,
    /// as it would on a host with neither configured).
    pub fn profile(name: &str) -> Result<Self> {
        Ok(Self {
            source: DeviceSource::simulated(Some(name), "a plugin test")?,
            policy: Policy::builtin(),
            trust: TrustStore::empty(),
            choices: OperatorChoices::default(),
            audit: tempfile::NamedTempFile::new().context("creating the test's audit log")?,
            state: None,
        })
    }

    /// Keeps plugin state between runs in `dir`, as `--state-dir` does (without it, runs
    /// keep none, as with `--no-state`).
    pub fn with_state_dir(mut self, dir: &Path) -> Self {
        self.state = Some(StateStore::new(dir));
        self
    }

    /// Later runs happen `elapsed` after the earlier ones, as far as the ages of saved
    /// state go: "the same device an hour later".
    pub fn later(mut self, elapsed: Duration) -> Self {
        self.state = self.state.map(|s| s.shifted(elapsed));
        self
    }

    /// Runs under `policy` instead of the built-in one.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Verifies signatures against `trust` instead of an empty store.
    pub fn with_trust(mut self, trust: TrustStore) -> Self {
        self.trust = trust;
        self
    }

    /// As `--allow-taint`.
    pub fn allow_taint(mut self) -> Self {
        self.choices.allow_taint = true;
        self
    }

    /// The simulated backend, e.g. to remove a device or read its kernel log.
    pub fn backend(&self) -> Arc<dyn Backend> {
        self.source.backend.clone()
    }

    /// The audit records so far, one JSON value per line: what a real run would have left
    /// on the record.
    pub fn audit_records(&self) -> Result<Vec<serde_json::Value>> {
        let text = std::fs::read_to_string(self.audit.path())?;
        text.lines().map(|line| serde_json::from_str(line).context("an audit line is not JSON")).collect()
    }

    /// Runs the plugin at `plugin` on every simulated device, as `fwctl-run PLUGIN -- ARGS`,
    /// through the same admission (signature, grant, refusal on the record) as the binary.
    pub fn run(&self, plugin: &Path, args: &[&str]) -> Result<Vec<DeviceRun>> {
        let audit = Arc::new(AuditLog::open(self.audit.path())?);
        let mut admission = Admission::new(&self.policy, &self.trust);
        admission.choices = self.choices.clone();
        let name = plugin.to_str().context("the plugin path is not UTF-8")?;
        let Admitted { plugin, identity, grant, .. } = admission.admit(name, &audit)?;
        let sandbox = Sandbox::new(&SandboxOptions::default())?;
        let prepared = sandbox.prepare(&plugin)?;
        let args: Vec<String> = args.iter().map(std::string::ToString::to_string).collect();
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let job = Job {
            plugin_name: &plugin.manifest.name,
            prepared: &prepared,
            grant: &grant,
            args: &args,
            state: self.state.as_ref().map(|store| store.for_plugin(&identity)),
            audit: Some(AuditTrail::new(audit.clone(), identity)),
        };
        let runs = runtime.block_on(run_on_devices(&job, self.source.backend.clone(), &self.source.devices));
        runtime.shutdown_background();
        if let Some(states) = &job.state {
            states.finish().map_err(anyhow::Error::msg)?;
        }
        audit.finish()?;
        Ok(runs)
    }
}
