//! mlx5-config: the non-volatile configuration of a ConnectX adapter, in mlxconfig's
//! names (`SRIOV_EN`, `NUM_OF_VFS`, `LINK_TYPE_P1`, ...).
//!
//! - `query [PARAM...]` (the default): each parameter's default, current and next-boot
//!   value, and which are read-only or not supported on this device;
//! - `set PARAM=VALUE... [--dry-run]`: checks each parameter can be written, shows the
//!   change, writes the next-boot values, reads them back, and says that they take effect
//!   after a firmware reset or reboot; `--dry-run` lists the writes and sends none;
//! - `check --expect TOML`: compares the running configuration with a fleet baseline
//!   (optionally per PSID); each deviation is a finding, their count a metric.
//!
//! The parameters, their items and where each layout comes from are in
//! `fwctl_sdk::mlx5::nvconfig`. The argument grammar is in `command`; each command has a
//! module, and `reading` reads what they share.

mod check;
mod command;
mod query;
mod reading;
mod set;

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::{Device, DeviceKind, Plugin};

use crate::command::Command;

struct Mlx5Config;

impl Plugin for Mlx5Config {
    fn run(device: &Device, args: &[String]) -> Result<(), String> {
        let command = command::parse(args)?;
        let info = device.info();
        if info.kind != DeviceKind::Mlx5 {
            return Err(format!("{} is a {} device; mlx5-config handles ConnectX (mlx5) only", info.name, info.kind));
        }
        let mlx5 = Mlx5::new(device);
        match command {
            Command::Query(names) => query::run(&mlx5, &names),
            Command::Set { changes, dry_run } => set::run(&mlx5, &changes, dry_run),
            Command::Check(baseline) => check::run(&mlx5, &baseline),
        }
    }
}

fwctl_sdk::export_plugin!(Mlx5Config, manifest = "../fwctl-plugin.toml");
