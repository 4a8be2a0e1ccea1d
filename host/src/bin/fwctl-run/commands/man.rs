//! `fwctl-run man`: the manual page, from the same definitions as `--help`.

use anyhow::Result;
use clap::Args;
use fwctl_run::report::ExitStatus;

/// `fwctl-run man`.
#[derive(Debug, Args)]
pub struct ManCommand {}

impl ManCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let command = <crate::Cli as clap::CommandFactory>::command();
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        std::io::Write::write_all(&mut std::io::stdout(), &page)?;
        Ok(ExitStatus::Done)
    }
}
