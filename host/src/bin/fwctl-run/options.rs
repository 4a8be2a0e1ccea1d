//! The flag groups several commands share, and what each turns into for the library.
//! Parsing only: every decision is made by the library.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use fwctl_run::admission::{Admission, OperatorChoices, RegistryPlaces, Signatures};
use fwctl_run::audit::AuditLog;
use fwctl_run::policy::{LimitOverrides, Policy};
use fwctl_run::sandbox::Sandbox;
use fwctl_run::signing::TrustStore;
use fwctl_run::source::SourceChoice;

/// Where the devices come from.
#[derive(Debug, Args, Default)]
pub struct SourceArgs {
    /// Use simulated devices: `--sim` for the default fleet, `--sim=NAME` for a built-in
    /// profile, `--sim=FILE` for a profile file. (The `=` keeps a following argument from
    /// being taken as the profile.)
    #[arg(long, value_name = "PROFILE", num_args = 0..=1, require_equals = true, default_missing_value = "default")]
    pub sim: Option<String>,
    /// Use the kernel's fwctl devices only, never the simulator, even when there are none.
    #[arg(long, conflicts_with = "sim")]
    pub kernel: bool,
}

impl SourceArgs {
    /// What the flags ask for: a profile, the kernel only, or the kernel with the
    /// simulator when it has no device.
    pub fn choice(&self) -> SourceChoice {
        match &self.sim {
            Some(profile) if profile == "default" => SourceChoice::Simulated(None),
            Some(profile) => SourceChoice::Simulated(Some(profile.clone())),
            None if self.kernel => SourceChoice::Kernel,
            None => SourceChoice::Auto,
        }
    }
}

/// What decides the grant.
#[derive(Debug, Args, Default)]
pub struct PolicyArgs {
    /// Operator policy file (default /etc/fwctl-run/policy.toml if present, else the
    /// built-in policy: debug-read-only at most, no tainting scope).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Allow scopes that taint the kernel (debug-write, debug-write-full), where policy
    /// also allows them.
    #[arg(long)]
    pub allow_taint: bool,
}

/// Which signatures count.
#[derive(Debug, Args, Default)]
pub struct SignatureArgs {
    /// Trust store directory: signers and their public keys (default /etc/fwctl-run/trust
    /// if present; without one, no signature is trusted).
    #[arg(long, value_name = "DIR")]
    pub trust: Option<PathBuf>,

    /// Refuse to run a plugin that no trusted key signed.
    #[arg(long)]
    pub require_signed: bool,
}

/// Where registry plugins are kept.
#[derive(Debug, Args, Default)]
pub struct StoreArgs {
    /// Content-addressed plugin store (default $FWCTL_RUN_STORE, else
    /// /var/lib/fwctl-run/store for root, else ~/.local/share/fwctl-run/store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Lock file of pulled tags (default $FWCTL_RUN_LOCK, else plugins.lock beside the store).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[command(flatten)]
    pub auth: AuthFileArgs,
}

/// Where registry credentials are.
#[derive(Debug, Args, Default)]
pub struct AuthFileArgs {
    /// Registry credentials in Docker's format (default $REGISTRY_AUTH_FILE, else
    /// $DOCKER_CONFIG/config.json, else ~/.docker/config.json); `auths`, `credHelpers` and
    /// `credsStore` are honoured.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

impl AuthFileArgs {
    /// The auth file these flags or the environment name, if any.
    pub fn file(&self) -> Option<PathBuf> {
        fwctl_run::distribution::credentials::auth_file(self.authfile.as_deref())
    }
}

impl StoreArgs {
    /// The store and lock file these flags name, else their defaults, and the auth file.
    pub fn places(&self) -> Result<RegistryPlaces> {
        Ok(RegistryPlaces::new(self.store.clone(), self.lock.clone())?.with_auth_file(self.auth.authfile.as_deref()))
    }
}

/// The audit log.
#[derive(Debug, Args, Default)]
pub struct AuditArgs {
    /// Audit log: every RPC attempt as one JSON line, appended (default $FWCTL_RUN_AUDIT,
    /// else /var/log/fwctl-run/audit.jsonl for root, else
    /// ~/.local/state/fwctl-run/audit.jsonl). A run that cannot write it does not start.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
}

impl AuditArgs {
    /// The log, open for appending: nothing that could need recording starts without it.
    pub fn open(&self) -> Result<Arc<AuditLog>> {
        let path = match &self.audit {
            Some(path) => path.clone(),
            None => fwctl_run::paths::audit_log()?,
        };
        let log = AuditLog::open(&path)?;
        for note in log.notes() {
            eprintln!("fwctl-run: {note}");
        }
        Ok(Arc::new(log))
    }
}

/// Per-device limits, within what policy allows.
#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    /// Wall-clock limit per device, in milliseconds (default 10000).
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,

    /// Memory limit per device, in MiB (default 64).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u64>,

    /// RPC budget per device (default 10000).
    #[arg(long, value_name = "N")]
    pub rpc_budget: Option<u64>,
}

/// The compile cache.
#[derive(Debug, Args, Default)]
pub struct CacheArgs {
    /// Compile cache directory (default $FWCTL_RUN_CACHE_DIR, else /var/cache/fwctl-run for
    /// root, else ~/.cache/fwctl-run); refused when another user owns or can write it.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the plugin every time.
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The cache directory to use, if any.
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        self.cache_dir.clone().or_else(fwctl_run::paths::cache_dir)
    }
}

/// Everything that decides whether a plugin runs and with what: the flags `run`, `fleet`
/// and `npd` share.
#[derive(Debug, Args, Default)]
pub struct AdmissionArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub signature: SignatureArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub audit: AuditArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub cache: CacheArgs,

    #[command(flatten)]
    pub state: StateArgs,
}

/// Where plugins keep what they save between runs on a device.
#[derive(Debug, Args, Default)]
pub struct StateArgs {
    /// Where plugins keep what they save between their runs on a device (default:
    /// $FWCTL_RUN_STATE_DIR, else /var/lib/fwctl-run/state for root, else
    /// ~/.local/state/fwctl-run/state).
    #[arg(long, value_name = "DIR", conflicts_with = "no_state")]
    pub state_dir: Option<PathBuf>,
    /// Run without plugin state: nothing saved before is read, nothing is saved.
    #[arg(long)]
    pub no_state: bool,
}

impl StateArgs {
    /// The store plugins' state goes to, or none (`--no-state`, or no default for this
    /// process, which is said once).
    pub fn store(&self) -> Option<fwctl_run::plugin_state::StateStore> {
        if self.no_state {
            return None;
        }
        let dir = match &self.state_dir {
            Some(dir) => dir.clone(),
            None => match fwctl_run::paths::state_dir() {
                Ok(dir) => dir,
                Err(missing) => {
                    eprintln!("fwctl-run: warning: {missing}; plugins run without state");
                    return None;
                }
            },
        };
        Some(fwctl_run::plugin_state::StateStore::new(&dir))
    }

    /// Writes what a run's plugins saved; a failure costs the next run its rates, not
    /// this run: a warning.
    pub fn finish(states: impl IntoIterator<Item = Arc<fwctl_run::plugin_state::PluginStates>>) {
        for states in states {
            if let Err(e) = states.finish() {
                eprintln!("fwctl-run: warning: plugin state not kept: {e}");
            }
        }
    }

    /// `plugin`'s states in `store`.
    pub fn for_plugin(
        store: Option<&fwctl_run::plugin_state::StateStore>,
        plugin: &fwctl_run::audit::PluginIdentity,
    ) -> Option<Arc<fwctl_run::plugin_state::PluginStates>> {
        store.map(|store| store.for_plugin(plugin))
    }
}

impl AdmissionArgs {
    /// The operator's policy and trust store, from the flags or their defaults.
    pub fn policy_and_trust(&self) -> Result<(Policy, TrustStore)> {
        Ok((Policy::resolve(self.policy.policy.as_deref())?, TrustStore::resolve(self.signature.trust.as_deref())?))
    }

    /// Admission under `policy` and `trust` with these flags' choices.
    pub fn admission<'a>(&self, policy: &'a Policy, trust: &'a TrustStore) -> Result<Admission<'a>> {
        let mut admission = Admission::new(policy, trust);
        admission.choices = OperatorChoices {
            signatures: if self.signature.require_signed { Signatures::Required } else { Signatures::AsPolicySays },
            allow_taint: self.policy.allow_taint,
            limits: LimitOverrides {
                memory_mib: self.limits.memory_mib,
                timeout_ms: self.limits.timeout,
                rpcs: self.limits.rpc_budget,
            },
        };
        admission.registry = RegistryPlaces::new(self.store.store.clone(), self.store.lock.clone())
            .map(|places| places.with_auth_file(self.store.auth.authfile.as_deref()));
        Ok(admission)
    }
}

/// Says why the compile cache was not used or what it discarded, if anything.
pub fn warn_about_cache(sandbox: &Sandbox) {
    if let Some(problem) = sandbox.cache_problem() {
        eprintln!("fwctl-run: warning: {problem}");
    }
}

/// Says loudly, before anything runs, that this run may taint the kernel.
pub fn warn_about_taint(grant: &fwctl_run::policy::Grant) {
    for (kind, scope) in grant.tainting() {
        eprintln!(
            "fwctl-run: WARNING: this run is granted {scope} on {kind} devices; the first RPC at that scope \
             TAINTS THE KERNEL (TAINT_FWCTL) until the next reboot"
        );
    }
}
