//! firmware-floor: the mlx5 plugin of the SDK guide (README.md, "An mlx5 plugin"). It
//! reads the running firmware's version the way the kernel does (MCQI) and warns when it
//! is older than a floor.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::{Device, Plugin, Severity, fact, finding};

struct FirmwareFloor;

impl Plugin for FirmwareFloor {
    fn run(device: &Device, _args: &[String]) -> Result<(), String> {
        let version = Mlx5::new(device).mcqi_version(0).map_err(|e| format!("MCQI: {e}"))?;
        fact("firmware", version.version());
        if (version.major, version.minor) < (28, 39) {
            finding(Severity::Warning, "firmware.old", format!("{} is older than 28.39", version.version())).report();
        }
        Ok(())
    }
}

fwctl_sdk::export_plugin!(FirmwareFloor, manifest = "firmware-floor.toml");
