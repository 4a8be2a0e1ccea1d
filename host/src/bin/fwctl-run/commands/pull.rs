//! `fwctl-run pull oci://…`: fetch a plugin into the store; a tag is pinned in the lock file.

use anyhow::{Context, Result};
use clap::Args;
use fwctl_run::admission::record_refusal;
use fwctl_run::distribution::{self, Fetched, OciReference, TagResolution};
use fwctl_run::report::ExitStatus;

use crate::options::{AuditArgs, StoreArgs};

/// `fwctl-run pull`.
#[derive(Debug, Args)]
pub struct PullCommand {
    /// oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST
    pub reference: String,
    /// Accept what the tag names now, replacing the locked digest.
    #[arg(long)]
    pub update: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Refused pulls are on the record.
    #[command(flatten)]
    pub audit: AuditArgs,
}

impl PullCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let audit_log = self.audit.open()?;
        let tags = if self.update { TagResolution::Update } else { TagResolution::Resolve };
        let fetched = self.fetch(tags).inspect_err(|e| {
            record_refusal(&audit_log, &self.reference, None, &format!("pull refused: {e:#}"));
            let _ = audit_log.finish();
        })?;
        audit_log.finish()?;
        println!(
            "{} {}\n  manifest {}\n  wasm     {}\n  stored   {}",
            if fetched.downloaded { "pulled" } else { "up to date:" },
            fetched.reference,
            fetched.manifest,
            fetched.wasm,
            fetched.path.display()
        );
        Ok(ExitStatus::Done)
    }

    fn fetch(&self, tags: TagResolution) -> Result<Fetched> {
        let reference: OciReference = self.reference.parse()?;
        let places = self.store.places()?;
        let (store, mut lock) = places.open()?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
        Ok(runtime.block_on(distribution::fetch(&reference, &store, &mut lock, tags, places.auth_file.as_deref()))?)
    }
}
