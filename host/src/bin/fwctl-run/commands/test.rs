//! `fwctl-run test PLUGIN --expect FILE.toml`: check a plugin against expected facts and
//! findings on simulated profiles (see `fwctl_run::expectations`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use fwctl_run::expectations::Expectations;
use fwctl_run::report::ExitStatus;

/// `fwctl-run test`.
#[derive(Debug, Args)]
pub struct TestCommand {
    /// Plugin component file.
    pub plugin: PathBuf,
    /// The expectations: [[case]] tables of profile, arguments, status, findings, facts.
    #[arg(long, value_name = "FILE")]
    pub expect: PathBuf,
}

impl TestCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let expectations = Expectations::load(&self.expect)?;
        let results = expectations.check(&self.plugin);
        let failed = results.iter().filter(|r| !r.failures.is_empty()).count();
        for result in &results {
            if result.failures.is_empty() {
                println!("ok    {}", result.name);
            } else {
                println!("FAIL  {}", result.name);
                for failure in &result.failures {
                    println!("      {failure}");
                }
            }
        }
        println!("{} case(s): {} passed, {failed} failed", results.len(), results.len() - failed);
        Ok(if failed == 0 { ExitStatus::Done } else { ExitStatus::Findings })
    }
}
