//! Admission: from a name on the command line to a plugin that may run, and with what.
//!
//! locate (or fetch from a registry) → load → verify the signature → grant. Every caller
//! that runs plugins (the binary's run, fleet and npd, [`crate::testing`], the benches)
//! goes through [`Admission::admit`], so a change to signature or grant rules reaches all of
//! them. A plugin refused after it was found is on the audit trail before the refusal comes
//! back; one that cannot even be found is not (there is nothing to name on the record).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audit::{AuditLog, AuditTrail, PluginIdentity};
use crate::devices::Credentials;
use crate::distribution::{self, LockFile, OciReference, Store, TagResolution};
use crate::paths::MissingDefault;
use crate::plugin::{LoadError, Plugin, PluginSearchPath};
use crate::policy::{self, Grant, GrantError, LimitOverrides, OperatorOptions, Policy};
use crate::signing::{self, SignatureStatus, TrustStore, VerifyOptions};

/// Where plugins named by `oci://` reference are kept.
#[derive(Clone, Debug)]
pub struct RegistryPlaces {
    /// The content-addressed store.
    pub store: PathBuf,
    /// The lock file of pulled tags.
    pub lock: PathBuf,
    /// Where registry credentials are read (see [`distribution::credentials::auth_file`]).
    pub auth_file: Option<PathBuf>,
}

impl RegistryPlaces {
    /// `store` and `lock` where given, else their defaults (see [`crate::paths`]).
    pub fn new(store: Option<PathBuf>, lock: Option<PathBuf>) -> Result<Self, MissingDefault> {
        let store = match store {
            Some(store) => store,
            None => crate::paths::store_dir()?,
        };
        let lock = lock.unwrap_or_else(|| crate::paths::lock_file(&store));
        Ok(Self { store, lock, auth_file: distribution::credentials::auth_file(None) })
    }

    /// The same places, with credentials read from `file` when given.
    pub fn with_auth_file(mut self, file: Option<&Path>) -> Self {
        if let Some(file) = file {
            self.auth_file = Some(file.to_path_buf());
        }
        self
    }

    /// The store and its lock file, opened.
    pub fn open(&self) -> Result<(Store, LockFile), distribution::FetchError> {
        Ok((Store::new(self.store.clone()), LockFile::open(&self.lock)?))
    }
}

/// Whether an unsigned plugin may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Signatures {
    /// As the policy says (its `require-signed`).
    #[default]
    AsPolicySays,
    /// Required whatever the policy says (`--require-signed`).
    Required,
}

/// What the operator chose for this invocation, besides the policy and trust store.
#[derive(Clone, Debug, Default)]
pub struct OperatorChoices {
    /// `--require-signed`.
    pub signatures: Signatures,
    /// `--allow-taint`.
    pub allow_taint: bool,
    /// `--memory-mib`, `--timeout`, `--rpc-budget`.
    pub limits: LimitOverrides,
}

/// Everything admission looks at besides the plugin itself.
pub struct Admission<'a> {
    /// The operator's policy.
    pub policy: &'a Policy,
    /// The keys whose signatures count.
    pub trust: &'a TrustStore,
    /// This invocation's choices.
    pub choices: OperatorChoices,
    /// Whether this process holds CAP_SYS_RAWIO (debug-write-full needs it).
    pub cap_sys_rawio: bool,
    /// Where bare plugin names are looked up.
    pub search: PluginSearchPath,
    /// Where `oci://` plugins are kept, or why this process has no such place.
    pub registry: Result<RegistryPlaces, MissingDefault>,
}

/// A plugin that passed load → verify → grant, ready to compile.
#[derive(Debug)]
pub struct Admitted {
    /// The plugin.
    pub plugin: Plugin,
    /// Who it is on the audit trail.
    pub identity: PluginIdentity,
    /// Its signature, verified.
    pub signature: SignatureStatus,
    /// What it may do.
    pub grant: Grant,
}

/// Why a plugin was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// No plugin by that name, or not a plugin at all (nothing was recorded).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Refused after it was found: on the audit trail with `reason`.
    #[error("{plugin} was refused before it ran: {reason}")]
    Refused {
        /// The plugin's manifest name, or the reference it was named by.
        plugin: String,
        /// Why, as recorded.
        reason: RefusalReason,
    },
}

/// Why a plugin that was found may not run.
#[derive(Debug, thiserror::Error)]
pub enum RefusalReason {
    /// The registry, the store or the lock file would not give it intact.
    #[error("{0}")]
    Fetch(String),
    /// The stored component changed between its digest check and its loading.
    #[error("{path} changed after it was checked: it hashes to {actual}, not {expected}")]
    Changed {
        /// The file.
        path: String,
        /// What it hashes to now.
        actual: String,
        /// What was checked.
        expected: String,
    },
    /// A signature did not verify, or the plugin is unsigned where a signature is required.
    #[error(transparent)]
    Signature(#[from] SignatureRefusal),
    /// The policy grants it nothing it can run with.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The manifest's `requires-fwctl-run` excludes this version of fwctl-run.
    #[error("{0}")]
    HostVersion(String),
    /// Another plugin of the same run has its name.
    #[error("{} plugins are named `{name}` ({}); names identify plugins in every output, so none of them runs", paths.len(), paths.join(", "))]
    NameTaken {
        /// The manifest name.
        name: String,
        /// Every file carrying it.
        paths: Vec<String>,
    },
}

/// Why a plugin's signatures do not let it run.
#[derive(Debug, thiserror::Error)]
pub enum SignatureRefusal {
    /// A detached signature beside the plugin could not be read.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// `PLUGIN.sig`.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Verification failed (denylisted, unknown key, tampered, …).
    #[error("signature: {0}")]
    Invalid(#[from] signing::VerifyError),
    /// Unsigned, where a signature is required.
    #[error("unsigned, and {by} requires a signature from a trusted key")]
    Unsigned {
        /// `--require-signed`, or the policy that says so.
        by: String,
    },
    /// Signed only by keys the trust store does not hold, where a trusted signature is
    /// required.
    #[error(
        "signed only by keys the trust store ({store}) does not hold (key ids: {}), and {by} requires a signature from a trusted key",
        key_ids.join(", ")
    )]
    Untrusted {
        /// The trust store's origin.
        store: String,
        /// The key ids the signatures name.
        key_ids: Vec<String>,
        /// `--require-signed`, or the policy that says so.
        by: String,
    },
}

impl Admission<'_> {
    /// The choices of an operator who asked for nothing special, under `policy` and
    /// `trust`: the plugin path from the environment, the default store, and the
    /// capabilities this process really holds.
    pub fn new<'a>(policy: &'a Policy, trust: &'a TrustStore) -> Admission<'a> {
        Admission {
            policy,
            trust,
            choices: OperatorChoices::default(),
            cap_sys_rawio: Credentials::of_current_process().cap_sys_rawio,
            search: PluginSearchPath::from_env(),
            registry: RegistryPlaces::new(None, None),
        }
    }

    /// load → verify → grant for the plugin `name` (a file, a bare name, or `oci://…`).
    /// A refusal is written to `audit` before it is returned.
    pub fn admit(&self, name: &str, audit: &Arc<AuditLog>) -> Result<Admitted, AdmissionError> {
        let plugin = if OciReference::is_reference(name) {
            self.load_from_registry(name, audit)?
        } else {
            Plugin::find(name, &self.search)?
        };
        let mut identity = PluginIdentity {
            name: plugin.manifest.name.clone(),
            version: plugin.manifest.version.clone(),
            digest: plugin.digest.clone(),
            signer: None,
        };
        let refuse = |identity: &PluginIdentity, reason: RefusalReason| {
            AuditTrail::new(audit.clone(), identity.clone()).record_refusal(&reason.to_string());
            AdmissionError::Refused { plugin: plugin.manifest.name.clone(), reason }
        };
        if let Some(why) = plugin.manifest.host_version_refusal(env!("CARGO_PKG_VERSION")) {
            return Err(refuse(&identity, RefusalReason::HostVersion(why)));
        }
        let signature = check_signature(&plugin, self.trust, self.policy, self.choices.signatures)
            .map_err(|e| refuse(&identity, e.into()))?;
        identity.signer = signature.signer().map(|s| format!("{} (key {})", s.name, s.key_id));
        let grant = self.grant(&plugin, &signature).map_err(|e| refuse(&identity, e.into()))?;
        Ok(Admitted { plugin, identity, signature, grant })
    }

    /// [`Self::admit`] for each of `names`, one refusal not stopping the others. A plugin's
    /// name is its identity in every output (results, metrics' `plugin` label, NPD): two
    /// admitted under one name could pass for each other, so neither is.
    pub fn admit_all(&self, names: &[String], audit: &Arc<AuditLog>) -> (Vec<Admitted>, Vec<(String, AdmissionError)>) {
        let mut refused = Vec::new();
        let mut admitted = Vec::new();
        for name in names {
            match self.admit(name, audit) {
                Ok(plugin) => admitted.push(plugin),
                Err(error) => refused.push((name.clone(), error)),
            }
        }
        let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for a in &admitted {
            by_name.entry(a.plugin.manifest.name.clone()).or_default().push(a.plugin.path.display().to_string());
        }
        let (unique, shared): (Vec<_>, Vec<_>) =
            admitted.into_iter().partition(|a| by_name[&a.plugin.manifest.name].len() == 1);
        for a in shared {
            let reason = RefusalReason::NameTaken {
                name: a.plugin.manifest.name.clone(),
                paths: by_name[&a.plugin.manifest.name].clone(),
            };
            AuditTrail::new(audit.clone(), a.identity.clone()).record_refusal(&reason.to_string());
            let plugin = a.plugin.path.display().to_string();
            refused.push((plugin.clone(), AdmissionError::Refused { plugin, reason }));
        }
        (unique, refused)
    }

    /// The grant `plugin`, signed as `signature` says, gets under these rules.
    pub fn grant(&self, plugin: &Plugin, signature: &SignatureStatus) -> Result<Grant, GrantError> {
        let signers = match signature {
            SignatureStatus::Verified { signers, .. } => {
                signers.iter().map(|s| s.name.as_str()).collect::<std::collections::BTreeSet<_>>().len()
            }
            SignatureStatus::Unsigned | SignatureStatus::Untrusted { .. } => 0,
        };
        let options = OperatorOptions {
            limits: self.choices.limits,
            allow_taint: self.choices.allow_taint,
            cap_sys_rawio: self.cap_sys_rawio,
            signer: signature.signer().map(|s| s.name.clone()),
            signer_count: signers,
        };
        policy::grant(&plugin.manifest, self.policy, &options)
    }

    /// An `oci://` plugin from the store (fetched by digest if need be, a tag only as the
    /// lock file pinned it), refused on the record when it cannot be had intact.
    fn load_from_registry(&self, reference: &str, audit: &Arc<AuditLog>) -> Result<Plugin, AdmissionError> {
        let refuse = |digest: Option<&str>, reason: RefusalReason| {
            record_refusal(audit, reference, digest, &reason.to_string());
            AdmissionError::Refused { plugin: reference.to_string(), reason }
        };
        let fetched = self.fetch(reference).map_err(|e| refuse(None, RefusalReason::Fetch(e)))?;
        let plugin = Plugin::load(&fetched.path)
            .map_err(|e| refuse(Some(&fetched.wasm), RefusalReason::Fetch(e.to_string())))?;
        // The file may have changed since it was checked; what runs is what was verified.
        if plugin.digest != fetched.wasm {
            let reason = RefusalReason::Changed {
                path: fetched.path.display().to_string(),
                actual: plugin.digest.clone(),
                expected: fetched.wasm.clone(),
            };
            return Err(refuse(Some(&fetched.wasm), reason));
        }
        Ok(plugin)
    }

    fn fetch(&self, reference: &str) -> Result<distribution::Fetched, String> {
        let reference: OciReference = reference.parse().map_err(|e| format!("{e}"))?;
        let places = self.registry.as_ref().map_err(std::string::ToString::to_string)?;
        let (store, mut lock) = places.open().map_err(|e| format!("{e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the async runtime: {e}"))?;
        runtime
            .block_on(distribution::fetch(
                &reference,
                &store,
                &mut lock,
                TagResolution::LockedOnly,
                places.auth_file.as_deref(),
            ))
            .map_err(|e| format!("{e}"))
    }
}

/// Records on the audit trail that a plugin named by registry reference was refused
/// before it could load (there is no manifest yet: the reference is its name).
pub fn record_refusal(log: &Arc<AuditLog>, reference: &str, digest: Option<&str>, why: &str) {
    let identity = PluginIdentity {
        name: reference.to_string(),
        version: String::new(),
        digest: digest.unwrap_or_default().to_string(),
        signer: None,
    };
    AuditTrail::new(log.clone(), identity).record_refusal(why);
}

/// `plugin`'s signatures against `trust` (embedded, or a `PLUGIN.sig` beside it), and
/// whether an unsigned plugin may run at all.
pub fn check_signature(
    plugin: &Plugin,
    trust: &TrustStore,
    policy: &Policy,
    signatures: Signatures,
) -> Result<SignatureStatus, SignatureRefusal> {
    let sig_path = signing::detached_signature_path(&plugin.path);
    let detached = match std::fs::read(&sig_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(SignatureRefusal::Unreadable { path: sig_path.display().to_string(), error }),
    };
    let options = VerifyOptions { allow_partial: policy.allow_partial_signatures, now: std::time::SystemTime::now() };
    let content = plugin.signed_content().map_err(signing::VerifyError::Malformed)?;
    let status = signing::verify(&plugin.bytes, &plugin.digest, content, detached.as_deref(), trust, &options)?;
    let required = signatures == Signatures::Required;
    if status.signer().is_none() && (required || policy.require_signed) {
        let by = if required { "--require-signed".to_string() } else { format!("policy {}", policy.origin) };
        return Err(match status {
            SignatureStatus::Untrusted { key_ids } => {
                SignatureRefusal::Untrusted { store: trust.origin.clone(), key_ids, by }
            }
            _ => SignatureRefusal::Unsigned { by },
        });
    }
    Ok(status)
}
