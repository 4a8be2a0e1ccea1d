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
