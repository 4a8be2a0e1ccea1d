//! cxl-features: lists the CXL Features of a memory device.
//!
//! `list` (the default): every supported Feature with its UUID, known name, sizes, flags,
//! effects, and the scope a Set Feature would need — or why it cannot be set.

use fwctl_sdk::cxl::{self, FeatureEntry};
use fwctl_sdk::{Device, DeviceKind, Plugin, Severity, fact, finding};

struct CxlFeatures;

/// Entries asked for per Get Supported Features call.
const PAGE: u16 = 8;

fn describe(entry: &FeatureEntry) {
    let name = entry.kernel_owned_name().unwrap_or("vendor");
    let (set_scope, summary) = match entry.set_scope() {
        Ok(scope) => (scope.as_str().to_string(), format!("set needs {scope}")),
        Err(why) => (why.to_string(), format!("cannot be set ({why})")),
    };
    finding(Severity::Info, "cxl.feature", format!("feature {} ({name}): {summary}", entry.uuid))
        .detail("uuid", entry.uuid.to_string())
        .detail("name", name)
        .detail("id", entry.id as u64)
        .detail("get-size", entry.get_size as u64)
        .detail("set-size", entry.set_size as u64)
        .detail("flags", format!("{:#x}", entry.flags))
        .detail("changeable", entry.changeable())
        .detail("default-selection", entry.default_selection())
        .detail("saved-selection", entry.saved_selection())
        .detail("persists-across-fw-update", entry.persists_across_fw_update())
        .detail("reset-persistence", entry.persistence().as_str())
        .detail("get-version", entry.get_version)
        .detail("set-version", entry.set_version)
        .detail("effects", format!("{:#06x}", entry.effects))
        .detail("effect-names", entry.effect_names().join(","))
        .detail("immediate-effect", entry.immediate_effects())
        .detail("reset-effect", entry.reset_effects())
        .detail("set-scope", set_scope)
        .report();
}

impl Plugin for CxlFeatures {
    fn run(device: &Device, args: &[String]) -> Result<(), String> {
        match args.first().map(String::as_str) {
            None | Some("list") => {}
            Some(other) => return Err(format!("unknown command `{other}` (expected `list`)")),
        }
        if let Some(extra) = args.get(1) {
            return Err(format!("unexpected argument `{extra}`"));
        }
        let info = device.info();
        if info.kind != DeviceKind::Cxl {
            return Err(format!("{} is a {} device; cxl-features handles CXL only", info.name, info.kind));
        }
        let entries = cxl::supported_features(device, PAGE).map_err(|e| format!("Get Supported Features: {e}"))?;
        fact("feature-count", entries.len() as u64);
        let settable = entries.iter().filter(|e| e.set_scope().is_ok()).count();
        fact("settable-feature-count", settable as u64);
        for entry in &entries {
            describe(entry);
        }
        Ok(())
    }
}

fwctl_sdk::export_plugin!(CxlFeatures, manifest = "../fwctl-plugin.toml");
