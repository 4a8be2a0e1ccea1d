//! `fwctl-run verify PLUGIN`: who signed it, with which key, trusted or why not.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use fwctl_run::admission::{Signatures, check_signature};
use fwctl_run::plugin::{Plugin, PluginSearchPath};
use fwctl_run::policy::Policy;
use fwctl_run::report::{ExitStatus, Verification};
use fwctl_run::signing::{self, TrustStore};

/// `fwctl-run verify`.
#[derive(Debug, Args)]
pub struct VerifyCommand {
    /// Plugin file or name.
    pub plugin: String,
    /// Trust store directory (default /etc/fwctl-run/trust; without one, no key is trusted).
    #[arg(long, value_name = "DIR")]
    pub trust: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl VerifyCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let plugin = Plugin::find(&self.plugin, &PluginSearchPath::from_env())?;
        let trust = TrustStore::resolve(self.trust.as_deref())?;
        let policy = Policy::resolve(None)?;
        let verification = Verification {
            plugin: &plugin,
            content_digest: plugin.signed_content().ok().and_then(signing::content_digest),
            trust: &trust.origin,
            result: check_signature(&plugin, &trust, &policy, Signatures::AsPolicySays).map_err(|e| e.to_string()),
        };
        if self.json {
            println!("{}", serde_json::to_string_pretty(&verification.to_json())?);
        } else {
            print!("{}", verification.render());
        }
        Ok(verification.exit())
    }
}
