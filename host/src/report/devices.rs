//! `fwctl-run list`: the devices present, with their FWCTL_INFO device data decoded.

use std::fmt::Write;

use fwctl_devices::{DeviceDescriptor, DeviceKind};
use serde::Serialize;

use crate::source::SourceInfo;

/// One listed device.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceListing {
    /// What discovery found.
    #[serde(flatten)]
    pub device: DeviceDescriptor,
    /// The raw FWCTL_INFO device data, hex, when the node could be opened.
    pub device_data: Option<String>,
    /// The device data decoded for its kind (mlx5: uid and uctx_caps).
    pub decoded: Option<serde_json::Value>,
    /// Why FWCTL_INFO could not be read, when it could not.
    pub info_error: Option<String>,
}

impl DeviceListing {
    /// Describes a device, with the result of asking it for FWCTL_INFO.
    pub fn new(device: DeviceDescriptor, info: Result<Vec<u8>, nix::errno::Errno>) -> Self {
        match info {
            Ok(data) => Self {
                decoded: decode(device.kind, &data),
                device_data: Some(hex::encode(&data)),
                device,
                info_error: None,
            },
            Err(errno) => Self {
                device,
                device_data: None,
                decoded: None,
                info_error: Some(format!("FWCTL_INFO failed: {errno:?}: {}", fwctl_devices::errno::meaning(errno))),
            },
        }
    }
}

/// `struct fwctl_info_mlx5 { __u32 uid; __u32 uctx_caps; }` in the kernel's byte order.
fn decode(kind: DeviceKind, data: &[u8]) -> Option<serde_json::Value> {
    match kind {
        DeviceKind::Mlx5 if data.len() >= 8 => {
            let word = |at: usize| u32::from_ne_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            Some(serde_json::json!({ "uid": word(0), "uctx_caps": format!("{:#x}", word(4)) }))
        }
        _ => None,
    }
}

/// Renders the device list as a table.
pub fn render_device_list(source: &SourceInfo, devices: &[DeviceListing]) -> String {
    let mut out = String::new();
    if source.simulated {
        let _ = writeln!(
            out,
            "SIMULATED devices (profile `{}`; {})",
            source.profile.as_deref().unwrap_or("default"),
            source.reason
        );
    }
    let _ = writeln!(out, "{:<8} {:<5} {:<14} {:<14} {:<10} DEVICE DATA", "NODE", "KIND", "PARENT", "PCI", "DRIVER");
    for listing in devices {
        let d = &listing.device;
        let data = match (&listing.decoded, &listing.device_data, &listing.info_error) {
            (Some(decoded), _, _) => decoded
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            (None, Some(raw), _) if raw.is_empty() => "(none)".to_string(),
            (None, Some(raw), _) => raw.clone(),
            (None, None, Some(error)) => error.clone(),
            (None, None, None) => String::new(),
        };
        let model = d.model.as_deref().map(|m| format!("  {m}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<8} {:<5} {:<14} {:<14} {:<10} {data}{model}",
            d.name,
            d.kind.as_str(),
            d.parent,
            d.pci_address.as_deref().unwrap_or("-"),
            d.driver.as_deref().unwrap_or("-"),
        );
    }
    if devices.is_empty() {
        out.push_str("(no fwctl devices)\n");
    }
    if !source.notes.is_empty() {
        let _ = writeln!(out, "\nNot listed above:");
        for note in &source.notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    out
}
