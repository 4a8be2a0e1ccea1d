//! The memory device's side: its Feature table and values, and its answers to the three
//! Feature mailbox commands (CXL r3.2 §8.2.9.6).
//!
//! The model sees mailbox payloads only, as hardware does: whatever the driver builds
//! arrives here as bytes, and refusals are return codes ([`rc`]), never errnos. It keeps
//! three values per Feature (current, default, saved) and at most one multi-part Set
//! Feature transfer in flight.

use super::wire::{
    self, FeatEntry, GET_FEAT_IN, GET_SUP_FEATS_IN, GET_SUP_FEATS_OUT_HEADER, GetFeatIn, GetSupFeatsIn,
    SET_FEAT_HEADER, SetFeatHeader, flags, rc, set_flags,
};

/// One Feature: its Supported Feature Entry and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Feature {
    /// What Get Supported Features reports for it (unmasked: the device's own view).
    pub entry: FeatEntry,
    /// Selection 0; `get_feat_size` bytes. Set Feature data lands on its leading
    /// `set_feat_size` bytes.
    pub current: Vec<u8>,
    /// Selection 1.
    pub default: Vec<u8>,
    /// Selection 2: what the device would come back with after a reset.
    pub saved: Vec<u8>,
}

/// A multi-part Set Feature under way (initiated, not yet finished or aborted).
#[derive(Clone, Debug)]
struct Transfer {
    feature: usize,
    /// The value being built; applied on Finish.
    staged: Vec<u8>,
    /// Where the next Continue or Finish must start.
    next_offset: usize,
}

/// A mailbox answer: the output payload, or the return code of a refusal.
pub(crate) type MboxResult = Result<Vec<u8>, u16>;

/// Whose firmware answers the Feature commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    /// A device that follows the CXL specification (selections, multi-part transfers).
    #[default]
    Specification,
    /// The kernel's `cxl_test` mock device ([`super::mock`]).
    CxlTestMock,
}

/// The device behind the mailbox.
#[derive(Debug)]
pub(crate) struct Device {
    features: Vec<Feature>,
    transfer: Option<Transfer>,
    firmware: Firmware,
}

impl Device {
    /// A device holding `features`, in index order, answering as `firmware` does.
    pub fn new(features: Vec<Feature>, firmware: Firmware) -> Self {
        Self { features, transfer: None, firmware }
    }

    /// Executes one mailbox command. Opcodes other than the Feature commands are not
    /// modelled and answer Unsupported.
    pub fn execute(&mut self, opcode: u16, input: &[u8]) -> MboxResult {
        match (opcode, self.firmware) {
            (wire::GET_SUPPORTED_FEATURES, _) => self.get_supported_features(input),
            (wire::GET_FEATURE, Firmware::CxlTestMock) => super::mock::get_feature(&self.features, input),
            (wire::SET_FEATURE, Firmware::CxlTestMock) => {
                super::mock::set_feature(&mut self.features, input).map(|()| Vec::new())
            }
            (wire::GET_FEATURE, Firmware::Specification) => self.get_feature(input),
            (wire::SET_FEATURE, Firmware::Specification) => self.set_feature(input).map(|()| Vec::new()),
            _ => Err(rc::UNSUPPORTED),
        }
    }

    fn find(&self, uuid: &[u8; 16]) -> Option<usize> {
        self.features.iter().position(|f| &f.entry.uuid == uuid)
    }

    /// Get Supported Features: `count` bytes of output at most, header included.
    fn get_supported_features(&self, input: &[u8]) -> MboxResult {
        if input.len() != GET_SUP_FEATS_IN {
            return Err(rc::PAYLOADLEN);
        }
        let request = GetSupFeatsIn::parse(input).ok_or(rc::PAYLOADLEN)?;
        let count = request.count as usize;
        // Not even room for the header: the same refusal as cxl_test's mock.
        if count < GET_SUP_FEATS_OUT_HEADER {
            return Err(rc::PAYLOADLEN);
        }
        let total = self.features.len();
        let start = request.start_idx as usize;
        if start > 0 && start >= total {
            return Err(rc::INPUT);
        }
        let fit = (count - GET_SUP_FEATS_OUT_HEADER) / wire::FEAT_ENTRY;
        let entries: Vec<FeatEntry> = self.features.iter().skip(start).take(fit).map(|f| f.entry).collect();
        // Profiles hold at most u16::MAX Features (checked when the device is built).
        Ok(wire::get_sup_feats_out(total.min(u16::MAX as usize) as u16, &entries))
    }

    /// Get Feature: `count` bytes of the selected value from `offset`, or a refusal.
    fn get_feature(&self, input: &[u8]) -> MboxResult {
        if input.len() != GET_FEAT_IN {
            return Err(rc::PAYLOADLEN);
        }
        let request = GetFeatIn::parse(input).ok_or(rc::PAYLOADLEN)?;
        let feature = self.find(&request.uuid).map(|i| &self.features[i]).ok_or(rc::UNSUPPORTED)?;
        let value = match request.selection {
            0 => &feature.current,
            1 if feature.entry.flags & flags::DEFAULT_SELECTION != 0 => &feature.default,
            2 if feature.entry.flags & flags::SAVED_SELECTION != 0 => &feature.saved,
            1 | 2 => return Err(rc::FEATURE_SELECTION),
            _ => return Err(rc::INPUT),
        };
        let start = request.offset as usize;
        let end = start + request.count as usize;
        // Reading past the end is Invalid Input, as the kernel's mock answers.
        value.get(start..end).map(<[u8]>::to_vec).ok_or(rc::INPUT)
    }

    /// Set Feature: one part (or all) of a transfer.
    fn set_feature(&mut self, input: &[u8]) -> Result<(), u16> {
        let header = SetFeatHeader::parse(input).ok_or(rc::PAYLOADLEN)?;
        let data = input.get(SET_FEAT_HEADER..).unwrap_or_default();
        let index = self.find(&header.uuid).ok_or(rc::UNSUPPORTED)?;
        let action = header.flags & set_flags::TRANSFER_MASK;

        if action == set_flags::ABORT {
            return match &self.transfer {
                Some(t) if t.feature == index => {
                    self.transfer = None;
                    Ok(())
                }
                _ => Err(rc::INPUT),
            };
        }

        let entry = self.features[index].entry;
        if entry.flags & flags::CHANGEABLE == 0 || entry.set_feat_size == 0 {
            return Err(rc::UNSUPPORTED);
        }
        if header.version != entry.set_feat_ver {
            return Err(rc::FEATURE_VERSION);
        }
        let offset = header.offset as usize;
        let end = offset + data.len();
        let fits = end <= entry.set_feat_size as usize;
        let saved = header.flags & set_flags::SAVED_ACROSS_RESET != 0;

        match action {
            set_flags::FULL | set_flags::INITIATE => {
                // One transfer at a time, for the whole device.
                if self.transfer.is_some() {
                    return Err(rc::FEATURE_TRANSFER_IN_PROGRESS);
                }
                if !fits {
                    return Err(rc::INPUT);
                }
                let mut staged = self.features[index].current.clone();
                staged[offset..end].copy_from_slice(data);
                if action == set_flags::FULL {
                    self.commit(index, staged, saved);
                } else {
                    self.transfer = Some(Transfer { feature: index, staged, next_offset: end });
                }
                Ok(())
            }
            set_flags::CONTINUE | set_flags::FINISH => {
                match &self.transfer {
                    Some(t) if t.feature == index => {}
                    // Nothing initiated for this Feature.
                    _ => return Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER),
                }
                // A failed part ends the transfer: the driver never retries a part, and a
                // half-built value must not linger and block the next Set.
                let Some(mut transfer) = self.transfer.take() else {
                    return Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER);
                };
                if offset != transfer.next_offset {
                    return Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER);
                }
                if !fits {
                    return Err(rc::INPUT);
                }
                transfer.staged[offset..end].copy_from_slice(data);
                transfer.next_offset = end;
                if action == set_flags::FINISH {
                    self.commit(index, transfer.staged, saved);
                } else {
                    self.transfer = Some(transfer);
                }
                Ok(())
            }
            _ => Err(rc::INPUT),
        }
    }

    /// Applies a completed transfer. The saved value follows only when asked to (the
    /// kernel always asks) and when the Feature has a saved value at all.
    fn commit(&mut self, index: usize, value: Vec<u8>, saved_across_reset: bool) {
        let feature = &mut self.features[index];
        if saved_across_reset && feature.entry.flags & flags::SAVED_SELECTION != 0 {
            feature.saved.clone_from(&value);
        }
        feature.current = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(uuid: u8, size: u16, set_size: u16, flags: u32) -> Feature {
        let value: Vec<u8> = (0..size).map(|i| i as u8).collect();
        Feature {
            entry: FeatEntry {
                uuid: [uuid; 16],
                id: 0,
                get_feat_size: size,
                set_feat_size: set_size,
                flags,
                get_feat_ver: 1,
                set_feat_ver: 2,
                effects: 0x201,
            },
            current: value.clone(),
            default: vec![0xdd; size as usize],
            saved: value,
        }
    }

    fn device() -> Device {
        Device::new(
            vec![feature(1, 16, 12, 0x61), feature(2, 8, 0, 0x00), feature(3, 4, 4, 0x01)],
            Firmware::Specification,
        )
    }

    fn set(dev: &mut Device, uuid: u8, action: u32, offset: u16, version: u8, data: &[u8]) -> Result<(), u16> {
        let header = SetFeatHeader { uuid: [uuid; 16], flags: action | set_flags::SAVED_ACROSS_RESET, offset, version };
        dev.execute(wire::SET_FEATURE, &header.with_data(data)).map(|out| assert!(out.is_empty()))
    }

    fn get(dev: &mut Device, uuid: u8, offset: u16, count: u16, selection: u8) -> MboxResult {
        dev.execute(wire::GET_FEATURE, &GetFeatIn { uuid: [uuid; 16], offset, count, selection }.to_bytes())
    }

    #[test]
    fn get_supported_features_pages_by_bytes() {
        let mut dev = device();
        let header_only = dev.execute(0x500, &GetSupFeatsIn { count: 8, start_idx: 0 }.to_bytes()).unwrap();
        assert_eq!(header_only, [0, 0, 3, 0, 0, 0, 0, 0]);
        let two = dev.execute(0x500, &GetSupFeatsIn { count: 8 + 2 * 48 + 47, start_idx: 1 }.to_bytes()).unwrap();
        assert_eq!(two.len(), 8 + 2 * 48);
        assert_eq!(&two[..4], &[2, 0, 3, 0]);
        assert_eq!(FeatEntry::parse(&two[8..]).unwrap().uuid, [2; 16]);
        assert_eq!(dev.execute(0x500, &GetSupFeatsIn { count: 7, start_idx: 0 }.to_bytes()), Err(rc::PAYLOADLEN));
        assert_eq!(dev.execute(0x500, &GetSupFeatsIn { count: 56, start_idx: 3 }.to_bytes()), Err(rc::INPUT));
        assert_eq!(dev.execute(0x500, &[0; 7]), Err(rc::PAYLOADLEN));
        assert_eq!(dev.execute(0x4200, &[]), Err(rc::UNSUPPORTED));
    }

    #[test]
    fn get_feature_selects_and_bounds() {
        let mut dev = device();
        assert_eq!(get(&mut dev, 1, 4, 4, 0), Ok(vec![4, 5, 6, 7]));
        assert_eq!(get(&mut dev, 1, 0, 2, 1), Ok(vec![0xdd, 0xdd]));
        assert_eq!(get(&mut dev, 1, 14, 2, 2), Ok(vec![14, 15]));
        assert_eq!(get(&mut dev, 1, 14, 3, 0), Err(rc::INPUT));
        assert_eq!(get(&mut dev, 1, 0, 1, 3), Err(rc::INPUT));
        assert_eq!(get(&mut dev, 2, 0, 1, 1), Err(rc::FEATURE_SELECTION));
        assert_eq!(get(&mut dev, 2, 0, 1, 2), Err(rc::FEATURE_SELECTION));
        assert_eq!(get(&mut dev, 9, 0, 1, 0), Err(rc::UNSUPPORTED));
        assert_eq!(dev.execute(0x501, &[0; 20]), Err(rc::PAYLOADLEN));
    }

    #[test]
    fn full_transfer_writes_at_offset_and_saves() {
        let mut dev = device();
        assert_eq!(set(&mut dev, 1, set_flags::FULL, 2, 2, &[0xa0, 0xa1]), Ok(()));
        assert_eq!(get(&mut dev, 1, 0, 5, 0), Ok(vec![0, 1, 0xa0, 0xa1, 4]));
        assert_eq!(get(&mut dev, 1, 0, 5, 2), Ok(vec![0, 1, 0xa0, 0xa1, 4]), "saved across reset");
        assert_eq!(get(&mut dev, 1, 0, 1, 1), Ok(vec![0xdd]), "default untouched");
        // Without the saved flag, only the current value moves.
        let header = SetFeatHeader { uuid: [1; 16], flags: set_flags::FULL, offset: 0, version: 2 };
        assert_eq!(dev.execute(0x502, &header.with_data(&[0x55])), Ok(vec![]));
        assert_eq!(get(&mut dev, 1, 0, 1, 0), Ok(vec![0x55]));
        assert_eq!(get(&mut dev, 1, 0, 1, 2), Ok(vec![0]));
        // A Feature without a saved selection ignores the flag.
        assert_eq!(set(&mut dev, 3, set_flags::FULL, 0, 2, &[9, 9, 9, 9]), Ok(()));
        assert_eq!(get(&mut dev, 3, 0, 4, 0), Ok(vec![9; 4]));
    }

    #[test]
    fn set_feature_refusals() {
        let mut dev = device();
        assert_eq!(set(&mut dev, 1, set_flags::FULL, 0, 1, &[0]), Err(rc::FEATURE_VERSION));
        assert_eq!(set(&mut dev, 1, set_flags::FULL, 11, 2, &[0, 0]), Err(rc::INPUT), "past set size");
        assert_eq!(set(&mut dev, 2, set_flags::FULL, 0, 2, &[0]), Err(rc::UNSUPPORTED), "not changeable");
        assert_eq!(set(&mut dev, 9, set_flags::FULL, 0, 2, &[0]), Err(rc::UNSUPPORTED), "unknown");
        assert_eq!(set(&mut dev, 1, 5, 0, 2, &[0]), Err(rc::INPUT), "reserved action");
        assert_eq!(dev.execute(0x502, &[0; 31]), Err(rc::PAYLOADLEN));
        assert_eq!(get(&mut dev, 1, 0, 2, 0), Ok(vec![0, 1]), "nothing changed");
    }

    #[test]
    fn multi_part_transfers() {
        let mut dev = device();
        // Initiate, continue, finish: applied only at the end.
        assert_eq!(set(&mut dev, 1, set_flags::INITIATE, 0, 2, &[0xa0; 4]), Ok(()));
        assert_eq!(get(&mut dev, 1, 0, 1, 0), Ok(vec![0]), "not applied yet");
        assert_eq!(set(&mut dev, 1, set_flags::FULL, 0, 2, &[1]), Err(rc::FEATURE_TRANSFER_IN_PROGRESS));
        assert_eq!(set(&mut dev, 3, set_flags::INITIATE, 0, 2, &[1]), Err(rc::FEATURE_TRANSFER_IN_PROGRESS));
        assert_eq!(set(&mut dev, 3, set_flags::CONTINUE, 4, 2, &[1]), Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER));
        assert_eq!(set(&mut dev, 1, set_flags::CONTINUE, 4, 2, &[0xa1; 4]), Ok(()));
        assert_eq!(set(&mut dev, 1, set_flags::FINISH, 8, 2, &[0xa2; 4]), Ok(()));
        let mut expected = [[0xa0; 4], [0xa1; 4], [0xa2; 4]].concat();
        expected.extend_from_slice(&[12, 13, 14, 15]);
        assert_eq!(get(&mut dev, 1, 0, 16, 0), Ok(expected.clone()));
        assert_eq!(get(&mut dev, 1, 0, 16, 2), Ok(expected.clone()));

        // Out of order: the transfer ends, nothing applied, the next one may start.
        assert_eq!(set(&mut dev, 1, set_flags::CONTINUE, 0, 2, &[1]), Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER));
        assert_eq!(set(&mut dev, 1, set_flags::INITIATE, 0, 2, &[1, 1]), Ok(()));
        assert_eq!(set(&mut dev, 1, set_flags::FINISH, 3, 2, &[1]), Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER));
        assert_eq!(set(&mut dev, 1, set_flags::FINISH, 2, 2, &[1]), Err(rc::FEATURE_TRANSFER_OUT_OF_ORDER), "gone");
        // Running past the set size also ends it.
        assert_eq!(set(&mut dev, 1, set_flags::INITIATE, 0, 2, &[2; 8]), Ok(()));
        assert_eq!(set(&mut dev, 1, set_flags::FINISH, 8, 2, &[2; 8]), Err(rc::INPUT));
        assert_eq!(get(&mut dev, 1, 0, 16, 0), Ok(expected));

        // Abort drops the staged value; abort with nothing under way is Invalid Input.
        assert_eq!(set(&mut dev, 1, set_flags::INITIATE, 0, 2, &[3; 4]), Ok(()));
        assert_eq!(set(&mut dev, 3, set_flags::ABORT, 0, 0, &[]), Err(rc::INPUT), "another Feature's");
        assert_eq!(set(&mut dev, 1, set_flags::ABORT, 0, 0, &[]), Ok(()));
        assert_eq!(set(&mut dev, 1, set_flags::ABORT, 0, 0, &[]), Err(rc::INPUT));
        assert_eq!(get(&mut dev, 1, 0, 1, 0), Ok(vec![0xa0]));
        assert_eq!(set(&mut dev, 1, set_flags::FULL, 0, 2, &[4]), Ok(()), "free again");
    }
}
