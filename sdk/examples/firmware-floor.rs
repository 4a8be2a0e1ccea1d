//! firmware-floor: the mlx5 plugin of the SDK guide (README.md, "An mlx5 plugin"). It
//! reads the running firmware's version the way the kernel does (MCQI) and warns when it
//! is older than a floor.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::registers::FirmwareVersion;
use fwctl_sdk::{Device, Plugin, Severity, fact, finding};

struct FirmwareFloor;

/// The oldest firmware this check accepts.
const FLOOR: &str = "28.39.1002";

impl Plugin for FirmwareFloor {
    fn run(device: &Device, _args: &[String]) -> Result<(), String> {
        let running = Mlx5::new(device).mcqi_version(0).map_err(|e| format!("MCQI: {e}"))?.firmware();
        fact("firmware", running.to_string());
        let floor: FirmwareVersion = FLOOR.parse()?;
        if running < floor {
            finding(Severity::Warning, "firmware.old", format!("{running} is older than {floor}")).report();
        }
        Ok(())
    }
}

fwctl_sdk::export_plugin!(FirmwareFloor, manifest = "firmware-floor.toml");
