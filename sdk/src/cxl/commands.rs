//! The three Feature commands the kernel passes through fwctl: Get Supported Features,
//! Get Feature and Set Feature.

use super::{
    ENTRY_SIZE, Error, FeatureEntry, GET_FEATURE, GET_SUPPORTED_FEATURES, OUT_STRUCT, SET_FEATURE, SUPPORTED_HEADER,
    SupportedFeatures, Uuid, known, reply, request,
};
use crate::{Device, Scope};

/// Supported Features entries asked for per call by [`get_supported_features`].
pub const DEFAULT_PAGE_ENTRIES: u16 = 16;
/// Bytes asked for per Get Feature by [`read_feature`]: small enough that a reply never
/// strains the sandbox, large enough that most Features take one call.
pub const DEFAULT_READ_CHUNK: u16 = 256;
/// Bytes of the Set Feature input header (UUID, flags, offset, version, reserved).
pub const SET_HEADER: usize = 32;

/// Sends one CXL command at `scope` and checks its return code; returns the reply
/// payload. `payload_room` is the payload the caller can take.
fn command(device: &Device, scope: Scope, opcode: u16, payload: &[u8], payload_room: usize) -> Result<Vec<u8>, Error> {
    let response = device.rpc(scope, &request(opcode, payload), OUT_STRUCT + payload_room)?;
    let r = reply(&response.data).ok_or(Error::Malformed("shorter than the 8-byte out header"))?;
    if r.retval != 0 {
        return Err(Error::Device { opcode, retval: r.retval });
    }
    Ok(r.payload)
}

/// One Get Supported Features call: up to `count` bytes of entries from `start`.
pub fn get_supported_features_page(device: &Device, count: u32, start: u16) -> Result<SupportedFeatures, Error> {
    let mut payload = count.to_le_bytes().to_vec();
    payload.extend_from_slice(&start.to_le_bytes());
    payload.extend_from_slice(&[0, 0]);
    let reply =
        command(device, Scope::DebugReadOnly, GET_SUPPORTED_FEATURES, &payload, SUPPORTED_HEADER + count as usize)?;
    SupportedFeatures::decode(&reply).ok_or(Error::Malformed("fewer entry bytes than num_entries says"))
}

/// Get Supported Features, every entry (pages of [`DEFAULT_PAGE_ENTRIES`]).
pub fn get_supported_features(device: &Device) -> Result<Vec<FeatureEntry>, Error> {
    supported_features(device, DEFAULT_PAGE_ENTRIES)
}

/// Get Supported Features, every entry: sizes the list with `count` 0 (the 8-byte
/// header alone), then pages through it by start index, `page_entries` at a time
/// (the kernel answers `count / 48` entries at most).
pub fn supported_features(device: &Device, page_entries: u16) -> Result<Vec<FeatureEntry>, Error> {
    let total = get_supported_features_page(device, 0, 0)?.supported as usize;
    let mut entries = Vec::with_capacity(total);
    while entries.len() < total {
        let page =
            get_supported_features_page(device, page_entries.max(1) as u32 * ENTRY_SIZE as u32, entries.len() as u16)?;
        if page.entries.is_empty() {
            return Err(Error::Malformed("an empty page before the end of the list"));
        }
        entries.extend(page.entries);
    }
    entries.truncate(total);
    Ok(entries)
}

/// The Feature in `entries` that `query` names: its UUID in text form, or a name from
/// [`known`] (e.g. `patrol-scrub`, `cxl-test`).
pub fn find_feature<'a>(entries: &'a [FeatureEntry], query: &str) -> Option<&'a FeatureEntry> {
    let uuid = Uuid::parse(query).or_else(|| known::by_name(query).map(super::known::KnownFeature::uuid))?;
    entries.iter().find(|e| e.uuid == uuid)
}

/// Which stored value Get Feature reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The value in effect.
    Current = 0,
    /// The manufacturer's default.
    Default = 1,
    /// The value saved across reset.
    Saved = 2,
}

impl Selection {
    /// `current`, `default` or `saved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Default => "default",
            Self::Saved => "saved",
        }
    }

    /// Parses [`Selection::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Current, Self::Default, Self::Saved].into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Get Feature input payload (21 bytes): UUID, offset, count, selection.
pub fn get_feature_payload(uuid: &Uuid, selection: Selection, offset: u16, count: u16) -> Vec<u8> {
    let mut payload = uuid.0.to_vec();
    payload.extend_from_slice(&offset.to_le_bytes());
    payload.extend_from_slice(&count.to_le_bytes());
    payload.push(selection as u8);
    payload
}

/// Get Feature: `count` bytes at `offset` of the selected value. A `count` beyond the
/// Feature's size makes the device return nothing with a failure code.
pub fn get_feature(
    device: &Device,
    uuid: &Uuid,
    selection: Selection,
    offset: u16,
    count: u16,
) -> Result<Vec<u8>, Error> {
    let data = command(
        device,
        Scope::DebugReadOnly,
        GET_FEATURE,
        &get_feature_payload(uuid, selection, offset, count),
        count as usize,
    )?;
    if data.is_empty() {
        return Err(Error::NoData);
    }
    Ok(data)
}

/// Reads a whole Feature value (`entry.get_size` bytes), `chunk` bytes per Get Feature
/// at increasing offsets, so a Feature of any size fits any response budget.
pub fn read_feature(device: &Device, entry: &FeatureEntry, selection: Selection, chunk: u16) -> Result<Vec<u8>, Error> {
    if !entry.supports_selection(selection) {
        return Err(Error::SelectionUnsupported(selection));
    }
    let size = entry.get_size as usize;
    let chunk = chunk.max(1) as usize;
    let mut value = Vec::with_capacity(size);
    while value.len() < size {
        let count = chunk.min(size - value.len());
        let part = get_feature(device, &entry.uuid, selection, value.len() as u16, count as u16)?;
        if part.len() != count {
            return Err(Error::Malformed("Get Feature returned fewer bytes than asked for"));
        }
        value.extend_from_slice(&part);
    }
    Ok(value)
}

/// The Set Feature input: the 32-byte header (UUID, flags, offset, version, reserved)
/// then the data. Flags are 0, a full transfer: the kernel replaces the transfer bits
/// and always asks the device to keep the value across reset.
pub fn set_feature_payload(uuid: &Uuid, version: u8, offset: u16, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(SET_HEADER + data.len());
    payload.extend_from_slice(&uuid.0);
    payload.extend_from_slice(&0u32.to_le_bytes());
    payload.extend_from_slice(&offset.to_le_bytes());
    payload.push(version);
    payload.extend_from_slice(&[0; 9]);
    payload.extend_from_slice(data);
    payload
}

/// Set Feature: writes `data` at `offset` of the Feature's value, at the scope its
/// effects require ([`FeatureEntry::set_scope`]), which the plugin must have been
/// granted. Refused before any RPC when the entry cannot be set or the data does not
/// fit its set size.
///
/// One call carries the whole change: when `data` is larger than the device's mailbox,
/// the kernel itself sends it as an initiate/continue/finish multi-part transfer under
/// one lock, so no other Set can interleave. Splitting a value into several calls would
/// lose that, which is why this API has no part-by-part variant.
pub fn set_feature(device: &Device, entry: &FeatureEntry, offset: u16, data: &[u8]) -> Result<(), Error> {
    let scope = entry.set_scope().map_err(Error::NotSettable)?;
    let end = offset as usize + data.len();
    if data.is_empty() || end > entry.set_size as usize {
        return Err(Error::OutOfRange { offset, len: data.len(), set_size: entry.set_size });
    }
    command(device, scope, SET_FEATURE, &set_feature_payload(&entry.uuid, entry.set_version, offset, data), 0)?;
    Ok(())
}
