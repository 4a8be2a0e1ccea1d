//! `fwctl-run sign PLUGIN --key KEY`: add a signature (a second signer countersigns).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fwctl_run::atomic_file;
use fwctl_run::report::ExitStatus;
use fwctl_run::signing::{self, SignatureLayout};

/// `fwctl-run sign`.
#[derive(Debug, Args)]
pub struct SignCommand {
    /// Plugin component file.
    pub plugin: PathBuf,
    /// Secret key file (from `keygen`, or any format wasmsign2 reads).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Write here instead of replacing PLUGIN.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the signature to PLUGIN.sig and leave the plugin's bytes alone.
    #[arg(long)]
    pub detached: bool,
}

impl SignCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let plugin = &self.plugin;
        let component = std::fs::read(plugin).with_context(|| format!("reading {}", plugin.display()))?;
        let secret = signing::load_secret_key(&self.key)?;
        let layout = if self.detached { SignatureLayout::Detached } else { SignatureLayout::Embedded };
        let (signed, signature) = signing::sign(&component, &secret, layout)?;
        let target = self.output.as_deref().unwrap_or(plugin);
        match layout {
            SignatureLayout::Detached => {
                // The plugin keeps its bytes; the signature goes beside it.
                let sig_path = signing::detached_signature_path(target);
                std::fs::write(&sig_path, &signature).with_context(|| format!("writing {}", sig_path.display()))?;
                println!("{}: detached signature written to {}", plugin.display(), sig_path.display());
            }
            SignatureLayout::Embedded => {
                atomic_file::replace(target, &signed, atomic_file::mode_to_keep(target, plugin))?;
                println!("{}: signed", target.display());
            }
        }
        Ok(ExitStatus::Done)
    }
}
