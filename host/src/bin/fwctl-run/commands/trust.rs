//! `fwctl-run trust init DIR` and `fwctl-run trust add DIR --signer NAME KEY.pub`: make a
//! trust store and put signers' public keys in it.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use fwctl_run::report::ExitStatus;
use fwctl_run::signing::trust_edit;

/// `fwctl-run trust`.
#[derive(Debug, Args)]
pub struct TrustCommand {
    #[command(subcommand)]
    pub action: TrustAction,
}

#[derive(Debug, Subcommand)]
pub enum TrustAction {
    /// Create DIR with a commented trust.toml and no signers (an existing one is kept).
    Init {
        /// The trust store directory (the system's is /etc/fwctl-run/trust).
        dir: PathBuf,
    },
    /// Add a public key to DIR as a key of signer NAME: the key is copied in as
    /// NAME-KEYID.pub and trust.toml names it.
    Add {
        /// The trust store directory.
        dir: PathBuf,
        /// The signer's name, as policy entries `[signer.NAME]` use it.
        #[arg(long, value_name = "NAME")]
        signer: String,
        /// The public key file (from `keygen`, or raw, PEM, DER or OpenSSH Ed25519).
        key: PathBuf,
    },
}

impl TrustCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        match self.action {
            TrustAction::Init { dir } => {
                let file = trust_edit::init(&dir)?;
                println!("{}: a trust store with no signers; add keys with `fwctl-run trust add`", file.display());
            }
            TrustAction::Add { dir, signer, key } => {
                let added = trust_edit::add(&dir, &signer, &key)?;
                println!(
                    "{}: key {} of signer `{signer}`; a policy entry [signer.{signer}] decides what its plugins may do",
                    added.file.display(),
                    added.key_id
                );
            }
        }
        Ok(ExitStatus::Done)
    }
}
