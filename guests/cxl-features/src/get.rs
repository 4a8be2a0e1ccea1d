//! `get`: one Feature's value, raw and, for a known layout, decoded.

use fwctl_sdk::cxl::{self, DEFAULT_READ_CHUNK, FeatureEntry, Selection, known};
use fwctl_sdk::fact;

use crate::{hex, list};

pub fn run(device: &fwctl_sdk::Device, entry: &FeatureEntry, selection: Selection) -> Result<(), String> {
    let value = cxl::read_feature(device, entry, selection, DEFAULT_READ_CHUNK)
        .map_err(|e| format!("Get Feature {} ({selection}): {e}", entry.uuid))?;
    fact("feature", entry.uuid.to_string());
    fact("feature-name", list::name(entry));
    fact("selection", selection.as_str());
    fact("size", value.len() as u64);
    fact("value", hex(&value));
    // Decoded fields are facts of their own so tools can read them without the layout.
    for field in known::decode(&entry.uuid, &value).unwrap_or_default() {
        fact(format!("value.{}", field.name), field.value);
    }
    Ok(())
}
