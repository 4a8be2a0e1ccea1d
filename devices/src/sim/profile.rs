//! Simulator profiles: a fleet of devices described in TOML, with faults to inject.
//!
//! ```toml
//! [[device]]
//! kind = "mlx5"                 # or "cxl"
//! model = "ConnectX-7 (healthy)"
//! parent = "0000:3b:00.0"       # PCI address, or a memdev name such as "mem0" for CXL
//! [device.mlx5]                 # the kind's own table: see sim::mlx5 / sim::cxl
//! ...
//! [device.faults]
//! vanish_after_rpcs = 12        # hot-unplug after this many RPCs (ENODEV from then on)
//! ```
//!
//! Built-in profiles live in `devices/profiles/` and are compiled in; `--sim PATH` reads
//! any other file of the same shape.

use serde::Deserialize;

use super::SimDriver;
use super::cxl::{CxlDriver, CxlProfile};
use super::mlx5::{Mlx5Driver, Mlx5Profile};
use crate::backend::{DeviceDescriptor, DeviceKind};

/// The built-in profiles, by name (`--sim NAME`), besides `default`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("connectx7-healthy", include_str!("../../profiles/connectx7-healthy.toml")),
    ("connectx6dx-healthy", include_str!("../../profiles/connectx6dx-healthy.toml")),
    ("cxl-type3", include_str!("../../profiles/cxl-type3.toml")),
    // One fault each, so tests can prove each finding fires (and only it).
    ("connectx7-hot-module", include_str!("../../profiles/connectx7-hot-module.toml")),
    ("connectx7-weak-module-lane", include_str!("../../profiles/connectx7-weak-module-lane.toml")),
    ("connectx7-pcie-degraded", include_str!("../../profiles/connectx7-pcie-degraded.toml")),
    ("connectx7-link-down", include_str!("../../profiles/connectx7-link-down.toml")),
    ("connectx7-fec-errors", include_str!("../../profiles/connectx7-fec-errors.toml")),
    ("connectx6dx-old-firmware", include_str!("../../profiles/connectx6dx-old-firmware.toml")),
    // Non-volatile configuration: a change pending a reset; firmware that loses writes.
    ("connectx7-vpi-pending", include_str!("../../profiles/connectx7-vpi-pending.toml")),
    ("connectx7-nv-writes-lost", include_str!("../../profiles/connectx7-nv-writes-lost.toml")),
    // Configured like the kernel's cxl_test mock, for the cross-check against a real kernel.
    ("cxl-test-mock", include_str!("../../profiles/cxl-test-mock.toml")),
];

/// The default fleet (used on machines without fwctl devices): two ConnectX-class NICs
/// and one CXL memory device.
pub const DEFAULT_FLEET: &[&str] = &["connectx7-healthy", "connectx6dx-healthy", "cxl-type3"];

/// A set of simulated devices.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    #[serde(rename = "device")]
    devices: Vec<DeviceProfile>,
}

impl Fleet {
    /// Parses a fleet; `origin` names the file or built-in in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        let fleet: Fleet = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        if fleet.devices.is_empty() {
            return Err(format!("{origin}: no [[device]] entries"));
        }
        for (index, device) in fleet.devices.iter().enumerate() {
            device.validate().map_err(|e| format!("{origin}: device {index} ({}): {e}", device.model))?;
        }
        Ok(Self::from_devices(fleet.devices))
    }

    /// A fleet of already validated devices; mlx5 devices without an RDMA name get the
    /// next free `mlx5_N`.
    pub(crate) fn from_devices(mut devices: Vec<DeviceProfile>) -> Self {
        for (next, device) in devices.iter_mut().filter(|d| d.kind == DeviceKind::Mlx5).enumerate() {
            if device.rdma_device.is_none() {
                device.rdma_device = Some(format!("mlx5_{next}"));
            }
        }
        Self { devices }
    }

    /// A built-in profile by name; `default` is [`DEFAULT_FLEET`] in that order.
    pub fn builtin(name: &str) -> Option<Result<Self, String>> {
        if name == "default" {
            // Fleet files are arrays of [[device]] tables, so profiles concatenate.
            let text: Vec<&str> = DEFAULT_FLEET
                .iter()
                .map(|n| BUILTIN.iter().find(|(b, _)| b == n).map(|(_, t)| *t).expect("default fleet names built-ins"))
                .collect();
            return Some(Self::from_toml(&text.join("\n"), "built-in profile `default`"));
        }
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Self::from_toml(text, &format!("built-in profile `{n}`")))
    }

    /// The names `--sim` accepts without a path.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        std::iter::once("default").chain(BUILTIN.iter().map(|(n, _)| *n))
    }

    /// The default fleet: two ConnectX-class devices and one CXL memory device.
    pub fn builtin_default() -> Self {
        Self::builtin("default").expect("default profile exists").expect("default profile parses")
    }

    /// The devices, in node order (`fwctl0`, `fwctl1`, ...).
    pub fn devices(&self) -> &[DeviceProfile] {
        &self.devices
    }
}

/// One simulated device.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceProfile {
    /// The driver family.
    pub kind: DeviceKind,
    /// What this device is, for people: `ConnectX-7 (healthy)`.
    pub model: String,
    /// The parent device: a PCI address for mlx5, a memdev (`mem0`) for CXL.
    pub parent: String,
    /// The PCI address of a CXL device's endpoint, when the profile names one.
    #[serde(default)]
    pub pci_address: Option<String>,
    /// The RDMA device of an mlx5 function (`mlx5_0`); numbered in fleet order when the
    /// profile leaves it out, as `mlx5_ib` numbers them.
    #[serde(default)]
    pub rdma_device: Option<String>,
    /// The board's (or memdev's) serial number, part of its identity for plugin state.
    #[serde(default)]
    pub serial: Option<String>,
    /// mlx5 firmware and port state (required when `kind = "mlx5"`).
    #[serde(default)]
    pub mlx5: Option<Mlx5Profile>,
    /// CXL Features (required when `kind = "cxl"`).
    #[serde(default)]
    pub cxl: Option<CxlProfile>,
    /// Faults to inject.
    #[serde(default)]
    pub faults: Faults,
}

/// Faults a simulated device can be told to show.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// After this many RPCs (across all handles) the device is removed: the RPC that
    /// crosses the limit and every later call fail with `ENODEV`.
    #[serde(default)]
    pub vanish_after_rpcs: Option<u64>,
    /// After this many RPCs every RPC fails with `EIO` (a wedged command interface).
    #[serde(default)]
    pub eio_after_rpcs: Option<u64>,
    /// Delay every RPC by this many milliseconds (a slow firmware).
    #[serde(default)]
    pub rpc_delay_ms: u64,
}

impl DeviceProfile {
    fn validate(&self) -> Result<(), String> {
        match (self.kind, &self.mlx5, &self.cxl) {
            (DeviceKind::Mlx5, Some(_), None) | (DeviceKind::Cxl, None, Some(_)) => Ok(()),
            (DeviceKind::Mlx5, _, _) => Err("kind \"mlx5\" needs a [device.mlx5] table and no [device.cxl]".into()),
            (DeviceKind::Cxl, _, _) => Err("kind \"cxl\" needs a [device.cxl] table and no [device.mlx5]".into()),
            (kind, _, _) => Err(format!("kind \"{kind}\" cannot be simulated (mlx5 and cxl can)")),
        }
    }

    /// What discovery reports for this device at position `index` of its fleet.
    pub fn descriptor(&self, index: usize) -> DeviceDescriptor {
        let (driver, pci_address, cxl_memdev) = match self.kind {
            DeviceKind::Cxl => ("cxl_mem", self.pci_address.clone(), Some(self.parent.clone())),
            _ => ("mlx5_core", Some(self.parent.clone()), None),
        };
        DeviceDescriptor {
            name: format!("fwctl{index}"),
            kind: self.kind,
            parent: self.parent.clone(),
            pci_address,
            cxl_memdev,
            driver: Some(driver.to_string()),
            rdma_device: self.rdma_device.clone(),
            node: format!("simulated:{}", self.model),
            model: Some(self.model.clone()),
            simulated: true,
            serial: self.serial.clone(),
        }
    }

    /// The driver model for this device.
    pub fn build_driver(&self) -> Result<Box<dyn SimDriver>, String> {
        match (self.kind, &self.mlx5, &self.cxl) {
            (DeviceKind::Mlx5, Some(profile), _) => {
                let profile = Mlx5Profile { board_serial: self.serial.clone(), ..profile.clone() };
                Ok(Box::new(Mlx5Driver::new(&profile)?))
            }
            (DeviceKind::Cxl, _, Some(profile)) => Ok(Box::new(CxlDriver::new(profile)?)),
            _ => Err(self.validate().err().unwrap_or_else(|| "no table for its kind".into())),
        }
    }
}
