//! `fwctl-run push PLUGIN oci://…:TAG`: publish a plugin as a CNCF Wasm artifact.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use fwctl_run::distribution::{CredentialSource, OciReference, Registry};
use fwctl_run::plugin::Plugin;
use fwctl_run::report::ExitStatus;

use crate::options::AuthFileArgs;

/// `fwctl-run push`.
#[derive(Debug, Args)]
pub struct PushCommand {
    /// Plugin component file.
    pub plugin: PathBuf,
    /// oci://REGISTRY/REPOSITORY:TAG
    pub reference: String,
    #[command(flatten)]
    pub auth: AuthFileArgs,
}

impl PushCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let parsed: OciReference = self.reference.parse()?;
        if parsed.tag().is_none() || parsed.digest().is_some() {
            bail!("push needs a tag and no digest (oci://REGISTRY/REPOSITORY:TAG): the registry names what it stores");
        }
        // Only a plugin that loads (a component with a manifest) is worth distributing.
        let loaded = Plugin::load(&self.plugin)?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
        let credentials = CredentialSource::new(parsed.registry(), self.auth.file().as_deref());
        let credential = credentials.get().map_err(anyhow::Error::msg)?.cloned();
        let registry = Registry::new(&parsed, credentials)?;
        // (A copy only should the loader's hashing helper still hold the bytes.)
        let bytes = std::sync::Arc::unwrap_or_clone(loaded.bytes);
        let (manifest, wasm) = runtime.block_on(registry.push(&parsed, bytes, credential.as_ref()))?;
        println!(
            "pushed {} ({} {})\n  manifest {manifest}\n  wasm     {wasm}",
            parsed, loaded.manifest.name, loaded.manifest.version
        );
        println!("run it pinned: fwctl-run oci://{}/{}@{manifest}", parsed.registry(), parsed.repository());
        Ok(ExitStatus::Done)
    }
}
