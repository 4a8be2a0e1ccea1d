//! Where the devices come from: the kernel's fwctl nodes, or the simulator.
//!
//! By default the kernel is used when it has fwctl devices; on a machine without any,
//! the built-in simulated fleet stands in, and every report says so plainly.

use std::path::Path;
use std::sync::Arc;

use fwctl_devices::kernel::{BareMemdev, KernelBackend};
use fwctl_devices::sim::{Fleet, SimBackend, SyntheticSpec};
use fwctl_devices::{Backend, DeviceDescriptor};
use serde::Serialize;

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceChoice {
    /// Real devices if there are any, otherwise the default simulated fleet.
    Auto,
    /// Real devices only, even none: never the simulator.
    Kernel,
    /// The simulator with a built-in profile name or a profile file (`None`: default fleet).
    Simulated(Option<String>),
}

/// An opened device source and its description for reports.
pub struct DeviceSource {
    /// The backend every device call goes through.
    pub backend: Arc<dyn Backend>,
    /// What it is, for reports.
    pub info: SourceInfo,
    /// The devices present when the source was opened.
    pub devices: Vec<DeviceDescriptor>,
}

/// A description of the device source, shown in every report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// `kernel` or `simulator`.
    pub backend: &'static str,
    /// True when the devices are simulated.
    pub simulated: bool,
    /// The simulator profile in use.
    pub profile: Option<String>,
    /// Why this source was chosen.
    pub reason: String,
    /// What the kernel has that is not a usable fwctl device (a CXL memdev without a
    /// node, a node of unknown type), each a sentence for the operator.
    pub notes: Vec<String>,
}

/// Why no device source could be opened.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Discovery failed.
    #[error("device discovery failed: {0}")]
    Discovery(#[from] fwctl_devices::backend::DiscoveryError),
    /// The simulator profile could not be read or parsed.
    #[error("simulator profile: {0}")]
    Profile(String),
}

impl DeviceSource {
    /// Opens the source the user chose.
    pub fn open(choice: &SourceChoice) -> Result<Self, SourceError> {
        match choice {
            SourceChoice::Simulated(profile) => Self::simulated(profile.as_deref(), "requested with --sim"),
            SourceChoice::Auto | SourceChoice::Kernel => {
                let kernel = KernelBackend::new();
                let (devices, skipped) = kernel.discover_with_warnings()?;
                let mut notes = skipped;
                notes.extend(kernel.memdevs_without_fwctl()?.iter().map(bare_memdev_note));
                if devices.is_empty() && *choice == SourceChoice::Auto {
                    let mut source = Self::simulated(
                        None,
                        "no fwctl devices on this machine (/sys/class/fwctl is empty or absent)",
                    )?;
                    source.info.notes = notes;
                    return Ok(source);
                }
                let info = SourceInfo {
                    backend: "kernel",
                    simulated: false,
                    profile: None,
                    reason: format!("{} fwctl device(s) found under /sys/class/fwctl", devices.len()),
                    notes,
                };
                Ok(Self { backend: Arc::new(kernel), info, devices })
            }
        }
    }

    /// The simulator with a profile (a built-in name or a file), or the default fleet.
    pub fn simulated(profile: Option<&str>, reason: &str) -> Result<Self, SourceError> {
        let name = profile.unwrap_or("default");
        let fleet = match Fleet::builtin(name) {
            Some(parsed) => parsed.map_err(SourceError::Profile)?,
            None => {
                let path = Path::new(name);
                let text = std::fs::read_to_string(path).map_err(|e| {
                    let builtins: Vec<_> = Fleet::builtin_names().collect();
                    SourceError::Profile(format!(
                        "`{name}` is neither a built-in profile ({}) nor a readable file: {e}",
                        builtins.join(", ")
                    ))
                })?;
                Fleet::from_toml(&text, &path.display().to_string()).map_err(SourceError::Profile)?
            }
        };
        let backend = SimBackend::new(&fleet)?;
        let devices = backend.discover()?;
        let info = SourceInfo {
            backend: "simulator",
            simulated: true,
            profile: Some(name.to_string()),
            reason: reason.to_string(),
            notes: Vec::new(),
        };
        Ok(Self { backend: Arc::new(backend), info, devices })
    }
}

impl DeviceSource {
    /// A simulated fleet of `spec.count` devices drawn from built-in profiles (`--sim-fleet`).
    pub fn synthetic(spec: &SyntheticSpec, seed: u64) -> Result<Self, SourceError> {
        let fleet = spec.build(seed).map_err(SourceError::Profile)?;
        let backend = SimBackend::new(&fleet)?;
        let devices = backend.discover()?;
        let info = SourceInfo {
            backend: "simulator",
            simulated: true,
            profile: Some(format!("--sim-fleet {spec} --seed {seed}")),
            reason: "requested with --sim-fleet".into(),
            notes: Vec::new(),
        };
        Ok(Self { backend: Arc::new(backend), info, devices })
    }
}

/// Says why a CXL memdev has no fwctl node, so that `list` states it instead of staying silent.
fn bare_memdev_note(memdev: &BareMemdev) -> String {
    let pci = memdev.pci_address.as_deref().map(|a| format!(" ({a})")).unwrap_or_default();
    format!(
        "{}{pci}: CXL memdev without a fwctl node; the kernel registers one only for a memdev \
         with a Feature user space may change, and all of this one's are kernel-owned or absent",
        memdev.name
    )
}
