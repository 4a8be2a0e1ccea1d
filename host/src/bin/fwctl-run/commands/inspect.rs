//! `fwctl-run inspect PLUGIN`: its manifest, world, signature and the grant it would get,
//! without running it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use fwctl_run::admission::{Admission, Signatures, check_signature};
use fwctl_run::plugin::Plugin;
use fwctl_run::policy::Policy;
use fwctl_run::report::{ExitStatus, Inspection};
use fwctl_run::sandbox::{Sandbox, SandboxOptions};
use fwctl_run::signing::TrustStore;

use crate::options::{PolicyArgs, warn_about_cache};

/// `fwctl-run inspect`.
#[derive(Debug, Args)]
pub struct InspectCommand {
    /// Plugin file or name.
    pub plugin: String,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Trust store directory (see `verify`).
    #[arg(long, value_name = "DIR")]
    pub trust: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl InspectCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let policy = Policy::resolve(self.policy.policy.as_deref())?;
        let trust = TrustStore::resolve(self.trust.as_deref())?;
        let mut admission = Admission::new(&policy, &trust);
        admission.choices.allow_taint = self.policy.allow_taint;
        let plugin = Plugin::find(&self.plugin, &admission.search)?;
        let sandbox = Sandbox::new(&SandboxOptions { cache_dir: fwctl_run::paths::cache_dir(), ..Default::default() })?;
        let shape = sandbox.describe(&plugin.bytes)?;
        let world = sandbox.prepare(&plugin).map(|_| ()).map_err(|e| e.to_string());
        warn_about_cache(&sandbox);
        let signature = check_signature(&plugin, &trust, &policy, Signatures::AsPolicySays).map_err(|e| e.to_string());
        let grant = match &signature {
            Ok(status) => admission.grant(&plugin, status).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        let inspection = Inspection { plugin: &plugin, shape: &shape, world, signature, grant };
        if self.json {
            println!("{}", serde_json::to_string_pretty(&inspection.to_json())?);
        } else {
            print!("{}", inspection.render());
        }
        Ok(inspection.exit())
    }
}
