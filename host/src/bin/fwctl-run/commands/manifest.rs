//! `fwctl-run manifest set PLUGIN MANIFEST.toml`: embed a manifest in a plugin;
//! `fwctl-run manifest check MANIFEST.toml`: validate one, as loading a plugin would.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use fwctl_run::atomic_file;
use fwctl_run::plugin::{self, Plugin};
use fwctl_run::report::ExitStatus;

/// `fwctl-run manifest`.
#[derive(Debug, Args)]
pub struct ManifestCommand {
    #[command(subcommand)]
    pub action: ManifestAction,
}

#[derive(Debug, Subcommand)]
pub enum ManifestAction {
    /// Embed MANIFEST.toml in PLUGIN, replacing the manifest it carried. The plugin is
    /// rewritten (a signature made before no longer covers it: sign it again).
    Set {
        /// Plugin component file.
        plugin: PathBuf,
        /// Manifest TOML file.
        manifest: PathBuf,
        /// Write here instead of replacing PLUGIN.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Validate MANIFEST.toml exactly as loading a plugin would, naming the field at fault.
    Check {
        /// Manifest TOML file.
        manifest: PathBuf,
    },
}

impl ManifestCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let (path, manifest, output) = match self.action {
            ManifestAction::Set { plugin, manifest, output } => (plugin, manifest, output),
            ManifestAction::Check { manifest } => {
                let text =
                    std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
                let parsed = plugin::Manifest::from_toml(&text).with_context(|| manifest.display().to_string())?;
                let kinds: Vec<String> =
                    parsed.devices.iter().map(|(kind, request)| format!("{kind} at {}", request.scope)).collect();
                println!(
                    "{}: a valid manifest for {} {} ({})",
                    manifest.display(),
                    parsed.name,
                    parsed.version,
                    kinds.join(", ")
                );
                return Ok(ExitStatus::Done);
            }
        };
        let component = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let toml = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
        let rewritten = plugin::set_manifest(&component, &toml)
            .with_context(|| format!("embedding {} in {}", manifest.display(), path.display()))?;
        let target = output.as_deref().unwrap_or(&path);
        // A crash leaves the old file whole; the plugin keeps its mode (readable by packagers).
        atomic_file::replace(target, &rewritten, atomic_file::mode_to_keep(target, &path))?;
        let loaded = Plugin::load(target)?;
        println!(
            "{}: manifest of {} {} embedded ({})",
            target.display(),
            loaded.manifest.name,
            loaded.manifest.version,
            loaded.digest
        );
        println!("note: the file changed; a signature made before this no longer covers it");
        Ok(ExitStatus::Done)
    }
}
