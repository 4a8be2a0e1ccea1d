//! `fwctl-run list`: the devices, and what `FWCTL_INFO` says about each.

use anyhow::Result;
use clap::Args;
use fwctl_run::report::{self, DeviceListing, ExitStatus};
use fwctl_run::source::DeviceSource;

use crate::options::SourceArgs;

/// `fwctl-run list`.
#[derive(Debug, Args)]
pub struct ListCommand {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl ListCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let source = DeviceSource::open(&self.source.choice())?;
        let listings: Vec<_> = source
            .devices
            .iter()
            .map(|d| {
                let info = source.backend.open(d).and_then(|mut h| h.info()).map(|i| i.device_data);
                DeviceListing::new(d.clone(), info)
            })
            .collect();
        if self.json {
            let doc = serde_json::json!({ "source": source.info, "devices": listings });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        } else {
            print!("{}", report::render_device_list(&source.info, &listings));
        }
        Ok(ExitStatus::Done)
    }
}
