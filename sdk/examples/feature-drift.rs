//! feature-drift: the plugin of the SDK's "write your first plugin" guide (README.md).
//! It reports every CXL Feature whose current value differs from the manufacturer's
//! default: configuration drift an operator wants to know about before it bites.

use fwctl_sdk::cxl::{self, Selection};
use fwctl_sdk::{Device, DeviceKind, Plugin, Severity, fact, finding};

struct FeatureDrift;

impl Plugin for FeatureDrift {
    fn run(device: &Device, _args: &[String]) -> Result<(), String> {
        if device.info().kind != DeviceKind::Cxl {
            return Err("feature-drift handles CXL memory devices only".into());
        }
        let features = cxl::get_supported_features(device).map_err(|e| e.to_string())?;
        let mut drifted = 0u64;
        // Only Features with a default value can drift from it.
        for feature in features.iter().filter(|f| f.default_selection()) {
            let read = |selection| cxl::read_feature(device, feature, selection, cxl::DEFAULT_READ_CHUNK);
            let (current, default) = (read(Selection::Current), read(Selection::Default));
            let (Ok(current), Ok(default)) = (current, default) else {
                finding(Severity::Warning, "drift.unreadable", format!("cannot read {}", feature.uuid)).report();
                continue;
            };
            if current != default {
                drifted += 1;
                finding(Severity::Warning, "drift.feature", format!("{} differs from its default", feature.uuid))
                    .detail("uuid", feature.uuid.to_string())
                    .detail("changed-bytes", current.iter().zip(&default).filter(|(a, b)| a != b).count())
                    .report();
            }
        }
        fact("drifted-features", drifted);
        Ok(())
    }
}

fwctl_sdk::export_plugin!(FeatureDrift, manifest = "feature-drift.toml");
