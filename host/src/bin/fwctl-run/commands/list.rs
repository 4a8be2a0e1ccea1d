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
    /// List the built-in simulator profiles (for `--sim=NAME`), one line each, instead of
    /// devices.
    #[arg(long)]
    pub sim_profiles: bool,
}

impl ListCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        if self.sim_profiles {
            return list_profiles(self.json);
        }
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

/// `list --sim-profiles`: each built-in profile, its devices' kinds and models.
fn list_profiles(json: bool) -> Result<ExitStatus> {
    use fwctl_run::devices::sim::Fleet;
    let mut rows = Vec::new();
    for name in Fleet::builtin_names() {
        let fleet = Fleet::builtin(name).expect("a built-in name").map_err(anyhow::Error::msg)?;
        let devices: Vec<String> = fleet.devices().iter().map(|d| format!("{} {}", d.kind, d.model)).collect();
        rows.push((name, devices));
    }
    if json {
        let doc: Vec<_> =
            rows.iter().map(|(name, devices)| serde_json::json!({ "name": name, "devices": devices })).collect();
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, devices) in rows {
            println!("{name:<width$}  {}", devices.join("; "));
        }
    }
    Ok(ExitStatus::Done)
}
