//! `fwctl-run pull`, `fwctl-run push`, and fetching an `oci://` plugin before a run.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use fwctl_run::audit::{AuditLog, AuditTrail, PluginIdentity};
use fwctl_run::distribution::{self, Fetched, LockFile, OciReference, Registry, Store};
use fwctl_run::report::ExitStatus;

use crate::args::StoreArgs;

fn open(args: &StoreArgs) -> Result<(Store, LockFile)> {
    let store = Store::new(args.store.clone().unwrap_or_else(distribution::store::default_dir));
    let lock_path = args.lock.clone().unwrap_or_else(|| distribution::lock::default_path(store.root()));
    let lock = LockFile::open(&lock_path)?;
    Ok((store, lock))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// Records on the audit trail that a registry plugin was refused before it could load.
pub fn record_refusal(log: &Arc<AuditLog>, reference: &str, digest: Option<&str>, why: &str) {
    let identity = PluginIdentity {
        name: reference.to_string(),
        version: String::new(),
        sha256: digest.unwrap_or_default().to_string(),
        signer: None,
    };
    AuditTrail::new(log.clone(), identity).record_refusal(why);
    let _ = log.finish();
}

/// The plugin a run names by `oci://` reference: from the store, or fetched by digest
/// (a tag only as the lock file pinned it).
pub fn fetch_for_run(reference: &str, args: &StoreArgs) -> Result<Fetched> {
    let reference: OciReference = reference.parse()?;
    let (store, mut lock) = open(args)?;
    let fetched = runtime()?.block_on(distribution::fetch(&reference, &store, &mut lock, false, false))?;
    Ok(fetched)
}

pub fn pull(reference: &str, update: bool, args: &StoreArgs, audit_log: &Arc<AuditLog>) -> Result<ExitStatus> {
    let result = (|| -> Result<Fetched> {
        let parsed: OciReference = reference.parse()?;
        let (store, mut lock) = open(args)?;
        Ok(runtime()?.block_on(distribution::fetch(&parsed, &store, &mut lock, true, update))?)
    })();
    let fetched =
        result.inspect_err(|e| record_refusal(audit_log, reference, None, &format!("pull refused: {e:#}")))?;
    audit_log.finish()?;
    println!(
        "{} {}\n  manifest {}\n  wasm     {}\n  stored   {}",
        if fetched.downloaded { "pulled" } else { "up to date:" },
        fetched.reference,
        fetched.manifest,
        fetched.wasm,
        fetched.path.display()
    );
    Ok(ExitStatus::Healthy)
}

pub fn push(plugin: &Path, reference: &str) -> Result<ExitStatus> {
    let parsed: OciReference = reference.parse()?;
    if parsed.tag().is_none() || parsed.digest().is_some() {
        anyhow::bail!(
            "push needs a tag and no digest (oci://REGISTRY/REPOSITORY:TAG): the registry names what it stores"
        );
    }
    // Only a plugin that loads (a component with a manifest) is worth distributing.
    let loaded = fwctl_run::plugin::Plugin::load(plugin)?;
    let (manifest, wasm) = runtime()?.block_on(Registry::new(&parsed)?.push(&parsed, loaded.bytes))?;
    println!(
        "pushed {} ({} {})\n  manifest {manifest}\n  wasm     {wasm}",
        parsed, loaded.manifest.name, loaded.manifest.version
    );
    println!("run it pinned: fwctl-run oci://{}/{}@{manifest}", parsed.registry(), parsed.repository());
    Ok(ExitStatus::Healthy)
}
