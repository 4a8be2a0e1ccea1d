//! The kernel's own CXL mock device (`tools/testing/cxl/test/mem.c`, the `cxl_mock_mem`
//! driver of `cxl_test`) as a firmware: what a `cxl_test` memdev answers, check for check,
//! so that the `cxl-test-mock` profile can be held to a real kernel byte for byte. It is
//! simpler than a device that follows the specification, and its answers differ:
//!
//! - Get Feature ignores the selection and places the data at `output + offset`
//!   (`mock_get_test_feature()`), so a read from a non-zero offset comes back shifted;
//! - Set Feature takes only a full transfer at offset 0 and copies exactly 4 bytes of
//!   data, whatever the size, version or changeability (`mock_set_test_feature()`).
//!
//! Get Supported Features is answered by the specification model: the kernel asks only at
//! probe time, and the fwctl path answers from that list.

use super::features::{Feature, MboxResult};
use super::wire::{GetFeatIn, SET_FEAT_HEADER, SetFeatHeader, rc, set_flags};

/// `sizeof(struct vendor_test_feat)`: the mock's Feature is one `__le32`.
const TEST_FEAT_SIZE: usize = 4;

/// `mock_get_feature()`: the Feature's `count` bytes from `offset`, written at `offset` of
/// the output: the answer runs to `offset + count`, its first `offset` bytes untouched
/// (zero), and the driver takes the first `count` of it as the data.
pub(crate) fn get_feature(features: &[Feature], input: &[u8]) -> MboxResult {
    let request = GetFeatIn::parse(input).ok_or(rc::SUCCESS)?;
    let feature = features.iter().find(|f| f.entry.uuid == request.uuid).ok_or(rc::UNSUPPORTED)?;
    let (offset, count) = (request.offset as usize, request.count as usize);
    if offset > TEST_FEAT_SIZE || offset + count > TEST_FEAT_SIZE {
        return Err(rc::INPUT);
    }
    let mut output = vec![0u8; offset + count];
    for (at, byte) in output.iter_mut().enumerate().skip(offset) {
        *byte = feature.current.get(at).copied().unwrap_or(0);
    }
    Ok(output)
}

/// `mock_set_feature()`: a full transfer at offset 0 sets the 4 bytes; any other action or
/// offset is Invalid Input. The data buffer the kernel sends is zeroed past what it copied.
pub(crate) fn set_feature(features: &mut [Feature], input: &[u8]) -> Result<(), u16> {
    let header = SetFeatHeader::parse(input).ok_or(rc::PAYLOADLEN)?;
    let feature = features.iter_mut().find(|f| f.entry.uuid == header.uuid).ok_or(rc::UNSUPPORTED)?;
    if header.flags & set_flags::TRANSFER_MASK != set_flags::FULL || header.offset != 0 {
        return Err(rc::INPUT);
    }
    let data = input.get(SET_FEAT_HEADER..).unwrap_or_default();
    let mut value = [0u8; TEST_FEAT_SIZE];
    for (slot, byte) in value.iter_mut().zip(data) {
        *slot = *byte;
    }
    let size = feature.current.len().min(TEST_FEAT_SIZE);
    feature.current[..size].copy_from_slice(&value[..size]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::features::{Device, Firmware};
    use super::super::wire::{FeatEntry, GET_FEATURE, GetFeatIn, SET_FEATURE, SetFeatHeader, rc};
    use super::*;

    fn test_feature() -> Feature {
        let entry = FeatEntry {
            uuid: [0xff; 16],
            id: 0,
            get_feat_size: 4,
            set_feat_size: 4,
            flags: 0x61,
            get_feat_ver: 1,
            set_feat_ver: 1,
            effects: 0x201,
        };
        let value = vec![0xef, 0xbe, 0xad, 0xde];
        Feature { entry, current: value.clone(), default: value.clone(), saved: value }
    }

    fn get(device: &mut Device, offset: u16, count: u16, selection: u8) -> MboxResult {
        device.execute(GET_FEATURE, &GetFeatIn { uuid: [0xff; 16], offset, count, selection }.to_bytes())
    }

    #[test]
    fn the_mock_ignores_the_selection_and_reads_at_the_offset_where_a_device_would_not() {
        let mut mock = Device::new(vec![test_feature()], Firmware::CxlTestMock);
        let mut spec = Device::new(vec![test_feature()], Firmware::Specification);
        // Selection 9 is reserved: the specification refuses it, the mock reads anyway.
        assert_eq!(get(&mut spec, 0, 4, 9), Err(rc::INPUT));
        assert_eq!(get(&mut mock, 0, 4, 9), Ok(vec![0xef, 0xbe, 0xad, 0xde]));
        // Offset 1, one byte: a device returns that byte; the mock writes it at offset 1.
        assert_eq!(get(&mut spec, 1, 1, 0), Ok(vec![0xbe]));
        assert_eq!(get(&mut mock, 1, 1, 0), Ok(vec![0, 0xbe]));
        assert_eq!(get(&mut mock, 2, 3, 0), Err(rc::INPUT), "past the 4 bytes");
    }

    #[test]
    fn the_mock_takes_a_full_transfer_of_any_size_and_keeps_four_bytes() {
        let mut mock = Device::new(vec![test_feature()], Firmware::CxlTestMock);
        let mut spec = Device::new(vec![test_feature()], Firmware::Specification);
        let header = SetFeatHeader { uuid: [0xff; 16], flags: 0, offset: 0, version: 7 };
        let long = header.with_data(&[1, 2, 3, 4, 5, 6]);
        // Wrong version and too much data: refused by a device, taken by the mock.
        assert_eq!(spec.execute(SET_FEATURE, &long), Err(rc::FEATURE_VERSION));
        assert_eq!(mock.execute(SET_FEATURE, &long), Ok(vec![]));
        assert_eq!(get(&mut mock, 0, 4, 0), Ok(vec![1, 2, 3, 4]));
        // Two bytes: the rest of the u32 comes from the kernel's zeroed buffer.
        assert_eq!(mock.execute(SET_FEATURE, &header.with_data(&[9, 9])), Ok(vec![]));
        assert_eq!(get(&mut mock, 0, 4, 0), Ok(vec![9, 9, 0, 0]));
        // Anything but a full transfer at offset 0 is Invalid Input.
        let initiate = SetFeatHeader { flags: 1, ..header }.with_data(&[1]);
        assert_eq!(mock.execute(SET_FEATURE, &initiate), Err(rc::INPUT));
        let at_two = SetFeatHeader { offset: 2, ..header }.with_data(&[1]);
        assert_eq!(mock.execute(SET_FEATURE, &at_two), Err(rc::INPUT));
    }
}
