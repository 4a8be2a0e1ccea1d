//! `fwctl-run keygen PREFIX`: an Ed25519 key pair for signing plugins.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use fwctl_run::report::ExitStatus;
use fwctl_run::signing::{self, PublicKey};

/// `fwctl-run keygen`.
#[derive(Debug, Args)]
pub struct KeygenCommand {
    /// Path prefix of the two files.
    pub prefix: PathBuf,
}

impl KeygenCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let (secret, public) = signing::keygen(&self.prefix)?;
        let key = PublicKey::from_any_file(&public).map_err(|e| anyhow::anyhow!("{}: {e}", public.display()))?;
        println!(
            "secret key: {} (keep it private)\npublic key: {} (key id {}; add it to the trust store)",
            secret.display(),
            public.display(),
            signing::key_id(&key)
        );
        Ok(ExitStatus::Done)
    }
}
