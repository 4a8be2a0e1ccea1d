//! The CXL Features fwctl driver (`drivers/cxl/core/features.c`, Linux 7.3) and a memory
//! device holding Features behind its mailbox.
//!
//! - this module is the driver: the probe that caches the Feature list
//!   (`get_supported_features()`), the envelope checks of `cxlctl_fw_rpc()`, the Set
//!   Feature policy of `cxlctl_validate_set_features()`, and the three handlers with their
//!   mailbox loops (`cxl_get_feature()`, `cxl_set_feature()`);
//! - `features` is the device: Feature values and the mailbox commands' answers;
//! - `wire` holds the packed little-endian layouts; `uuids` the kernel-owned Features;
//! - `profile` is the `[device.cxl]` TOML table.
//!
//! Driver refusals are errnos (EINVAL, EPERM, ENOMEM); the device's refusals come back as
//! a mailbox return code in `retval` of a successful ioctl. The fwctl core's checks (2 MiB
//! limit, scope values, CAP_SYS_RAWIO, taint, removal) happen before this driver runs, in
//! `sim::core`.

mod features;
mod mock;
mod profile;
mod uuids;
mod wire;

use std::sync::{Arc, Mutex, PoisonError};

use nix::errno::Errno;

use self::features::Device;
pub use self::profile::{CxlProfile, FeatureProfile};
pub use self::uuids::{CXL_TEST_VENDOR_FEATURE, kernel_owned};
use self::wire::{
    FeatEntry, GET_FEAT_IN, GET_SUP_FEATS_IN, GET_SUP_FEATS_OUT_HEADER, GetFeatIn, GetSupFeatsIn, OUT_PAYLOAD,
    OUT_STRUCT, RPC_HEADER, RpcHeader, SET_FEAT_HEADER, SetFeatHeader,
};
pub use self::wire::{GET_FEATURE, GET_SUPPORTED_FEATURES, SET_FEATURE, effects, flags, rc, set_flags};
use super::{SimContext, SimDriver};
use crate::backend::Scope;
use crate::uapi::DEVICE_TYPE_CXL;

/// `FEAT_DATA_MIN_PAYLOAD_SIZE`: room a mailbox must leave for data after the Set
/// Feature header.
const FEAT_DATA_MIN_PAYLOAD_SIZE: usize = 10;

/// A simulated CXL memdev with Features, bound to the fwctl CXL driver. Every handle
/// opened on it shares one device, so a Set on one handle is seen by Gets on all.
pub struct CxlDriver {
    shared: Arc<Shared>,
}

/// What the kernel keeps per memdev (`struct cxl_features_state` and the mailbox).
struct Shared {
    /// `cxlfs->entries`: the list read from the device at probe, unmasked.
    entries: Vec<FeatEntry>,
    /// `feat_cap >= CXL_FEATURES_RW`.
    writable: bool,
    /// `cxl_mbox->payload_size`.
    payload_size: usize,
    /// The device; the lock is `cxl_mbox->feat_mutex` (held across a split transfer).
    device: Mutex<Device>,
}

impl CxlDriver {
    /// Builds the device and probes it as `devm_cxl_setup_features()` and
    /// `devm_cxl_setup_fwctl()` do. A memdev without Features, or whose every Feature is
    /// kernel-owned, gets no fwctl node in the kernel, so such a profile is refused.
    pub fn new(profile: &CxlProfile) -> Result<Self, String> {
        let mut device = Device::new(profile.build_features()?, profile.firmware);
        let payload_size = profile.mailbox_payload_size;
        let entries = probe(&mut device, payload_size)?;
        if entries.iter().all(|e| kernel_owned(&e.uuid).is_some()) {
            return Err(format!(
                "no user-visible Feature (all {} are kernel-owned): the kernel registers no fwctl node \
                 for this memdev",
                entries.len()
            ));
        }
        let shared = Shared { entries, writable: profile.writable, payload_size, device: Mutex::new(device) };
        Ok(Self { shared: Arc::new(shared) })
    }
}

/// `get_supported_features()`: reads the device's list in mailbox-sized batches and
/// checks each answer as the kernel does. Any failure means no Features (and no node).
fn probe(device: &mut Device, payload_size: usize) -> Result<Vec<FeatEntry>, String> {
    let refused = |rc: u16| format!("the device refused Get Supported Features (return code {rc:#x})");
    // cxl_get_supported_features_count(): a header-only request.
    let header = GetSupFeatsIn { count: GET_SUP_FEATS_OUT_HEADER as u32, start_idx: 0 };
    let out = device.execute(GET_SUPPORTED_FEATURES, &header.to_bytes()).map_err(refused)?;
    let total = out
        .get(2..4)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        .ok_or("the device's Get Supported Features answer is short")?;
    if total == 0 {
        return Err("no Features: the kernel registers no fwctl node for this memdev".into());
    }

    let max_feats = (payload_size - GET_SUP_FEATS_OUT_HEADER) / wire::FEAT_ENTRY;
    let mut entries = Vec::with_capacity(total);
    let mut remaining = total;
    while remaining > 0 {
        let batch = remaining.min(max_feats);
        remaining -= batch;
        let alloc = GET_SUP_FEATS_OUT_HEADER + batch * wire::FEAT_ENTRY;
        // Feature indexes are u16 on the wire; the profile caps the count at u16::MAX.
        let request = GetSupFeatsIn { count: alloc as u32, start_idx: entries.len() as u16 };
        let mut out = device.execute(GET_SUPPORTED_FEATURES, &request.to_bytes()).map_err(refused)?;
        out.truncate(alloc);
        let bad = || "the device's Get Supported Features answer is malformed".to_string();
        if out.len() <= GET_SUP_FEATS_OUT_HEADER
            || !(out.len() - GET_SUP_FEATS_OUT_HEADER).is_multiple_of(wire::FEAT_ENTRY)
        {
            return Err(bad());
        }
        let num_entries = u16::from_le_bytes([out[0], out[1]]) as usize;
        let body = &out[GET_SUP_FEATS_OUT_HEADER..];
        if num_entries * wire::FEAT_ENTRY != body.len() {
            return Err(bad());
        }
        entries.extend(body.chunks(wire::FEAT_ENTRY).filter_map(FeatEntry::parse));
        // Fewer than asked for: the rest go to the next batch.
        remaining += batch - num_entries;
    }
    Ok(entries)
}

impl SimDriver for CxlDriver {
    fn device_type(&self) -> u32 {
        DEVICE_TYPE_CXL
    }

    /// `cxlctl_open_uctx()`: nothing per open.
    fn open_uctx(&self) -> Result<Box<dyn SimContext>, Errno> {
        Ok(Box::new(CxlContext { shared: Arc::clone(&self.shared) }))
    }
}

/// One open handle. The CXL driver keeps no per-open state.
struct CxlContext {
    shared: Arc<Shared>,
}

impl SimContext for CxlContext {
    /// The CXL driver has no `info` op: no device data.
    fn info(&self) -> Vec<u8> {
        Vec::new()
    }

    /// `cxlctl_fw_rpc()`.
    fn fw_rpc(&mut self, scope: Scope, input: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        let header = RpcHeader::parse(input).ok_or(Errno::EINVAL)?;
        let after_header = input.get(RPC_HEADER..).unwrap_or_default();
        let payload = after_header.get(..header.op_size as usize).ok_or(Errno::EINVAL)?;
        // The driver stores the opcode word in a u16: the top half is dropped.
        let opcode = header.opcode as u16;
        if !self.shared.validate_hw_command(payload, scope, opcode) {
            return Err(Errno::EINVAL);
        }
        match opcode {
            GET_SUPPORTED_FEATURES => self.shared.get_supported_features(payload),
            GET_FEATURE => self.shared.get_feature(payload, out_len),
            SET_FEATURE => self.shared.set_feature(payload, out_len),
            // validate_hw_command() has refused every other opcode.
            _ => Err(Errno::EOPNOTSUPP),
        }
    }
}

impl Shared {
    fn cached(&self, uuid: &[u8; 16]) -> Option<&FeatEntry> {
        self.entries.iter().find(|e| &e.uuid == uuid)
    }

    /// `cxlctl_validate_hw_command()`: the opcode, and for Set Feature the policy.
    fn validate_hw_command(&self, payload: &[u8], scope: Scope, opcode: u16) -> bool {
        match opcode {
            // A node exists only when the device has at least read-only Features.
            GET_SUPPORTED_FEATURES | GET_FEATURE => true,
            SET_FEATURE => self.writable && self.validate_set_features(payload, scope),
            _ => false,
        }
    }

    /// `cxlctl_validate_set_features()`, against the cached (unmasked) entry.
    fn validate_set_features(&self, payload: &[u8], scope: Scope) -> bool {
        let Some(uuid) = payload.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) else {
            return false;
        };
        let Some(entry) = self.cached(&uuid) else { return false };
        if entry.flags & flags::CHANGEABLE == 0 {
            return false;
        }
        // Effects the driver does not understand, a background Set it cannot follow, or
        // neither an immediate nor a reset effect (a device bug to the kernel): never.
        fwctl_proto::cxl::set_feature_scope(entry.effects).is_some_and(|needed| scope >= needed)
    }

    /// `cxlctl_get_supported_features()`: answered from the probe-time list, with
    /// kernel-owned entries shown unsettable. The caller's `out_len` plays no part.
    fn get_supported_features(&self, payload: &[u8]) -> Result<Vec<u8>, Errno> {
        if payload.len() != GET_SUP_FEATS_IN {
            return Err(Errno::EINVAL);
        }
        let request = GetSupFeatsIn::parse(payload).ok_or(Errno::EINVAL)?;
        let start = request.start_idx as usize;
        let total = self.entries.len();
        if start >= total {
            return Err(Errno::EINVAL);
        }
        let requested = (request.count as usize / wire::FEAT_ENTRY).min(total - start);
        let shown: Vec<FeatEntry> = self.entries[start..start + requested]
            .iter()
            .map(|entry| {
                let mut entry = *entry;
                if kernel_owned(&entry.uuid).is_some() {
                    entry.set_feat_size = 0;
                    entry.flags &= !flags::CHANGEABLE;
                }
                entry
            })
            .collect();
        // supported_feats counts every Feature, kernel-owned ones included.
        let body = wire::get_sup_feats_out(total as u16, &shown);
        Ok(wire::rpc_out(body.len() as u32, u32::from(rc::SUCCESS), &body, OUT_STRUCT + body.len()))
    }

    /// `cxlctl_get_feature()` and `cxl_get_feature()`: reads `count` bytes in
    /// mailbox-sized parts. A device refusal is a successful ioctl with size 0.
    fn get_feature(&self, payload: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if payload.len() != GET_FEAT_IN {
            return Err(Errno::EINVAL);
        }
        let request = GetFeatIn::parse(payload).ok_or(Errno::EINVAL)?;
        let count = request.count as usize;
        if count == 0 {
            return Err(Errno::EINVAL);
        }
        // The data must fit in the caller's buffer after the 8-byte out header.
        if out_len < OUT_PAYLOAD || count > out_len - OUT_PAYLOAD {
            return Err(Errno::EINVAL);
        }

        // The kernel's payload buffer: the caller's `out_len` past the 8-byte header,
        // zeroed. A device may write past the part it was asked for (the kernel's mock
        // does, at `output + offset`); what lands inside the reported length shows.
        let mut data = vec![0u8; (out_len - OUT_PAYLOAD).max(count)];
        let mut received = 0;
        let mut device = self.shared_device();
        while received < count {
            let part = (count - received).min(self.payload_size);
            // The offset is a u16 on the wire; the kernel's sum wraps the same way.
            let offset = (request.offset as usize + received) as u16;
            let mbox_in = GetFeatIn { offset, count: part as u16, ..request };
            let answer = device.execute(GET_FEATURE, &mbox_in.to_bytes());
            match answer {
                Ok(bytes) if !bytes.is_empty() && bytes.len() >= part => {
                    let written = bytes.len().min(data.len() - received);
                    data[received..received + written].copy_from_slice(&bytes[..written]);
                    received += part;
                }
                // Short data with success is -EIO in cxl_internal_send_cmd(), which leaves
                // the return code at success; a refusal carries the device's code.
                failed => {
                    let code = failed.err().unwrap_or(rc::SUCCESS);
                    // The out buffer keeps what earlier parts wrote; 8 bytes of it are
                    // copied back inside the reported 16.
                    return Ok(wire::rpc_out(0, u32::from(code), &data, OUT_STRUCT));
                }
            }
        }
        Ok(wire::rpc_out(count as u32, u32::from(rc::SUCCESS), &data, OUT_STRUCT + count))
    }

    /// `cxlctl_set_feature()` and `cxl_set_feature()`: the data goes in one transfer, or
    /// initiate/continue/finish parts when it does not fit the mailbox. The caller's
    /// transfer bits are replaced and "saved across reset" is always asked for.
    fn set_feature(&self, payload: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if payload.len() <= SET_FEAT_HEADER {
            return Err(Errno::EINVAL);
        }
        let header = SetFeatHeader::parse(payload).ok_or(Errno::EINVAL)?;
        // Checked after the policy: a kernel-owned Feature the device reports as
        // changeable passes cxlctl_validate_set_features() and is stopped here.
        if kernel_owned(&header.uuid).is_some() {
            return Err(Errno::EPERM);
        }
        if out_len < OUT_PAYLOAD {
            return Err(Errno::EINVAL);
        }
        let data = &payload[SET_FEAT_HEADER..];
        let kept_flags = (header.flags & !set_flags::TRANSFER_MASK) | set_flags::SAVED_ACROSS_RESET;
        if SET_FEAT_HEADER + FEAT_DATA_MIN_PAYLOAD_SIZE > self.payload_size {
            return Err(Errno::ENOMEM);
        }
        let room = self.payload_size - SET_FEAT_HEADER;

        let mut device = self.shared_device();
        let (mut action, mut part) =
            if data.len() <= room { (set_flags::FULL, data.len()) } else { (set_flags::INITIATE, room) };
        let mut sent = 0;
        let retval = loop {
            let offset = (header.offset as usize + sent) as u16;
            let mbox_in = SetFeatHeader { flags: kept_flags | action, offset, ..header };
            if let Err(code) = device.execute(SET_FEATURE, &mbox_in.with_data(&data[sent..sent + part])) {
                break code;
            }
            sent += part;
            if sent >= data.len() {
                break rc::SUCCESS;
            }
            let left = data.len() - sent;
            (action, part) = if left <= room { (set_flags::FINISH, left) } else { (set_flags::CONTINUE, room) };
        };
        Ok(wire::rpc_out(0, u32::from(retval), &[], OUT_STRUCT))
    }

    fn shared_device(&self) -> std::sync::MutexGuard<'_, Device> {
        // The model never panics while holding the lock; a poisoned lock still has a
        // consistent device.
        self.device.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(uuid: &str, size: u16, value_byte: u8) -> FeatureProfile {
        FeatureProfile {
            uuid: uuid.into(),
            name: None,
            get_size: size,
            set_size: size,
            flags: 0x61,
            effects: 0x201,
            get_version: 1,
            set_version: 1,
            value: format!("{value_byte:02x}").repeat(size as usize),
            default: None,
            saved: None,
        }
    }

    fn uuid_n(n: usize) -> String {
        format!("{n:08x}-0000-4000-8000-000000000000")
    }

    #[test]
    fn probe_reads_the_list_in_mailbox_sized_batches() {
        // 256-byte mailbox: five entries per batch, so thirteen take three batches.
        let features = (0..13).map(|n| feature(&uuid_n(n), 4, n as u8)).collect();
        let profile = CxlProfile { writable: true, mailbox_payload_size: 256, features, firmware: Default::default() };
        let driver = CxlDriver::new(&profile).unwrap();
        let ids: Vec<u16> = driver.shared.entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, (0..13).collect::<Vec<u16>>());
        assert_eq!(driver.shared.entries[12].uuid[..4], [0, 0, 0, 12]);
    }

    #[test]
    fn memdevs_without_a_user_visible_feature_get_no_node() {
        let none =
            CxlProfile { writable: true, mailbox_payload_size: 4096, features: vec![], firmware: Default::default() };
        assert!(CxlDriver::new(&none).err().unwrap().contains("no Features"));
        let owned = CxlProfile {
            firmware: Default::default(),
            writable: true,
            mailbox_payload_size: 4096,
            features: vec![
                feature("96dad7d6-fde8-482b-a733-75774e06db8a", 4, 0),
                feature("e5b13f22-2328-4a14-b8ba-b9691e893386", 4, 0),
            ],
        };
        let err = CxlDriver::new(&owned).err().unwrap();
        assert!(err.contains("no user-visible Feature (all 2 are kernel-owned)"), "{err}");
    }

    #[test]
    fn large_sets_are_split_and_large_gets_gathered() {
        // 256-byte mailbox: 224 bytes of data per Set part, 256 per Get part.
        let profile = CxlProfile {
            writable: true,
            mailbox_payload_size: 256,
            features: vec![feature(&uuid_n(1), 600, 0x11)],
            firmware: Default::default(),
        };
        let driver = CxlDriver::new(&profile).unwrap();
        let mut ctx = driver.open_uctx().unwrap();
        let uuid = fwctl_proto::cxl::Uuid::parse(&uuid_n(1)).unwrap().0;
        let data: Vec<u8> = (0..590u32).map(|i| (i * 7) as u8).collect();
        let set = SetFeatHeader { uuid, flags: set_flags::ABORT, offset: 10, version: 1 }.with_data(&data);
        let mut input = [0x502u32, 0, set.len() as u32, 0].map(u32::to_le_bytes).concat();
        input.extend_from_slice(&set);
        let out = ctx.fw_rpc(Scope::DebugWrite, &input, 16).unwrap();
        assert_eq!(out, [0; 16], "size 0, success, despite the caller's abort bits");

        let get = GetFeatIn { uuid, offset: 0, count: 600, selection: 2 }.to_bytes();
        let mut input = [0x501u32, 0, 21, 0].map(u32::to_le_bytes).concat();
        input.extend_from_slice(&get);
        let out = ctx.fw_rpc(Scope::DebugReadOnly, &input, 8 + 600).unwrap();
        assert_eq!(out.len(), 16 + 600);
        assert_eq!(&out[..8], &[0x58, 0x02, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[8..18], &[0x11; 10]);
        assert_eq!(&out[18..608], &data[..], "the saved value took the whole write");

        // A read running off the end fails in its last part: size 0 and the device's code,
        // with the first part's leading bytes left in the reported 16.
        let get = GetFeatIn { uuid, offset: 100, count: 600, selection: 0 }.to_bytes();
        let mut input = [0x501u32, 0, 21, 0].map(u32::to_le_bytes).concat();
        input.extend_from_slice(&get);
        let out = ctx.fw_rpc(Scope::DebugReadOnly, &input, 8 + 600).unwrap();
        assert_eq!(out.len(), 16);
        assert_eq!(&out[..8], &[0, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&out[8..16], &data[90..98]);
    }

    #[test]
    fn a_failed_part_leaves_the_value_and_frees_the_mailbox() {
        let profile = CxlProfile {
            writable: true,
            mailbox_payload_size: 256,
            features: vec![feature(&uuid_n(1), 300, 0x11)],
            firmware: Default::default(),
        };
        let driver = CxlDriver::new(&profile).unwrap();
        let mut ctx = driver.open_uctx().unwrap();
        let uuid = fwctl_proto::cxl::Uuid::parse(&uuid_n(1)).unwrap().0;
        let envelope = |offset: u16, len: usize| {
            let set = SetFeatHeader { uuid, flags: 0, offset, version: 1 }.with_data(&vec![0x22; len]);
            let mut input = [0x502u32, 0, set.len() as u32, 0].map(u32::to_le_bytes).concat();
            input.extend_from_slice(&set);
            input
        };
        // 280 bytes at offset 40: the initiate part fits, the finish runs past 300.
        let out = ctx.fw_rpc(Scope::DebugWrite, &envelope(40, 280), 16).unwrap();
        assert_eq!(&out[..8], &[0, 0, 0, 0, 2, 0, 0, 0]);
        let read = driver
            .shared
            .device
            .lock()
            .unwrap()
            .execute(GET_FEATURE, &GetFeatIn { uuid, offset: 0, count: 256, selection: 0 }.to_bytes());
        assert_eq!(read, Ok(vec![0x11; 256]), "nothing applied");
        let out = ctx.fw_rpc(Scope::DebugWrite, &envelope(0, 300), 16).unwrap();
        assert_eq!(&out[..8], &[0; 8], "no transfer left in progress");
    }
}
