//! `list`: every supported Feature and what setting it would take.

use fwctl_sdk::cxl::{FeatureEntry, known};
use fwctl_sdk::{Severity, fact, finding};

/// The Feature's short name: a known one, else `vendor`.
pub fn name(entry: &FeatureEntry) -> &'static str {
    known::by_uuid(&entry.uuid).map_or("vendor", |k| k.name)
}

pub fn run(entries: &[FeatureEntry]) -> Result<(), String> {
    fact("feature-count", entries.len() as u64);
    let settable = entries.iter().filter(|e| e.set_scope().is_ok()).count();
    fact("settable-feature-count", settable as u64);
    for entry in entries {
        describe(entry);
    }
    Ok(())
}

fn describe(entry: &FeatureEntry) {
    let name = name(entry);
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
