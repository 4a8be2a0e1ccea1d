//! cxl-features: discovers and provisions the CXL Features of a memory device.
//!
//! - `list` (the default): every supported Feature with its UUID, known name, sizes,
//!   flags, effects, and the scope a Set Feature would need, or why it cannot be set;
//! - `get FEATURE [--selection current|default|saved]`: a value, raw and decoded;
//! - `set FEATURE VALUE... [--offset N] [--dry-run]`: provisioning at the scope the
//!   Feature's effects require, refused before any RPC when it cannot be set.
//!
//! FEATURE is a UUID or a known name (`patrol-scrub`, `cxl-test`, ...). The argument
//! grammar is in `command`; the three commands each have a module.

mod command;
mod get;
mod list;
mod set;

use fwctl_sdk::cxl::{self, FeatureEntry};
use fwctl_sdk::{Device, DeviceKind, Plugin};

use crate::command::Command;

struct CxlFeatures;

/// Entries asked for per Get Supported Features call.
const PAGE: u16 = 8;

/// Every Feature of the device, or the reason they could not be listed.
fn supported(device: &Device) -> Result<Vec<FeatureEntry>, String> {
    cxl::supported_features(device, PAGE).map_err(|e| format!("Get Supported Features: {e}"))
}

/// The Feature `query` names, from the device's own list.
fn lookup<'a>(entries: &'a [FeatureEntry], query: &str) -> Result<&'a FeatureEntry, String> {
    cxl::find_feature(entries, query).ok_or_else(|| {
        let known: Vec<String> = entries.iter().map(|e| e.uuid.to_string()).collect();
        format!("the device has no Feature `{query}` (it has: {})", known.join(", "))
    })
}

/// Bytes as lowercase hex in wire order.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Plugin for CxlFeatures {
    fn run(device: &Device, args: &[String]) -> Result<(), String> {
        let command = command::parse(args)?;
        let info = device.info();
        if info.kind != DeviceKind::Cxl {
            return Err(format!("{} is a {} device; cxl-features handles CXL only", info.name, info.kind));
        }
        let entries = supported(device)?;
        match command {
            Command::List => list::run(&entries),
            Command::Get { feature, selection } => get::run(device, lookup(&entries, &feature)?, selection),
            Command::Set(request) => set::run(device, lookup(&entries, &request.feature)?, &request),
        }
    }
}

fwctl_sdk::export_plugin!(CxlFeatures, manifest = "../fwctl-plugin.toml");
