//! The CXL Features fwctl driver (`drivers/cxl/core/features.c`, `cxlctl_*`) and a
//! memory device holding Features.
//!
//! The envelope is `struct fwctl_rpc_cxl` in and `struct fwctl_rpc_cxl_out` out, all
//! little-endian. The driver validates before the device sees anything (EINVAL, EPERM);
//! the device's own refusals come back as a mailbox return code inside a successful
//! response.

mod profile;

use std::sync::{Arc, Mutex};

use fwctl_proto::cxl::{Uuid, kernel_owned_name};
use nix::errno::Errno;

pub use self::profile::{CxlProfile, FeatureProfile};
use self::profile::Feature;
use super::{SimContext, SimDriver};
use crate::backend::Scope;
use crate::uapi::DEVICE_TYPE_CXL;

/// CXL mailbox opcodes the driver accepts.
pub const GET_SUPPORTED_FEATURES: u16 = 0x0500;
/// Get Feature.
pub const GET_FEATURE: u16 = 0x0501;
/// Set Feature.
pub const SET_FEATURE: u16 = 0x0502;

/// `sizeof(rpc_in->hdr)`: opcode, flags, op_size, reserved.
const IN_HEADER: usize = 16;
/// `offsetof(struct fwctl_rpc_cxl_out, payload)`.
const OUT_PAYLOAD: usize = 8;
/// `sizeof(struct fwctl_rpc_cxl_out)`, which the kernel adds to every reported length.
const OUT_STRUCT: usize = 16;
/// `sizeof(struct cxl_feat_entry)`.
const ENTRY: usize = 48;
/// `sizeof(struct cxl_mbox_get_sup_feats_out)` without entries.
const SUP_FEATS_HEADER: usize = 8;
/// `sizeof(struct cxl_mbox_set_feat_hdr)`.
const SET_HEADER: usize = 32;

/// Mailbox return codes (CXL r3.x "Command Return Codes").
const RC_SUCCESS: u32 = 0;
const RC_INVALID_INPUT: u32 = 2;

/// Entry flag: changeable.
const F_CHANGEABLE: u32 = 1 << 0;
/// Entry flags: default / saved selection supported.
const F_DEFAULT_SEL: u32 = 1 << 5;
const F_SAVED_SEL: u32 = 1 << 6;
/// Effects that change things immediately (bits 1–4) and after a reset (0, 10, 11).
const IMMEDIATE: u16 = 0b1_1110;
const RESET: u16 = 1 | 1 << 10 | 1 << 11;
const BACKGROUND: u16 = 1 << 6;
const RESERVED: u16 = 0xf000;

/// A simulated CXL memdev with Features, bound to the fwctl CXL driver.
pub struct CxlDriver {
    device: Arc<Mutex<Device>>,
}

struct Device {
    writable: bool,
    features: Vec<Feature>,
}

impl CxlDriver {
    /// Builds the device. The kernel registers no fwctl node for a memdev whose every
    /// Feature is kernel-owned, so such a profile is refused.
    pub fn new(profile: &CxlProfile) -> Result<Self, String> {
        let features = profile.features.iter().map(FeatureProfile::build).collect::<Result<Vec<_>, _>>()?;
        if features.iter().all(|f| kernel_owned_name(&f.uuid).is_some()) {
            return Err("no user-visible Feature: the kernel would register no fwctl node for this memdev".into());
        }
        let device = Device { writable: profile.writable, features };
        Ok(Self { device: Arc::new(Mutex::new(device)) })
    }
}

impl SimDriver for CxlDriver {
    fn device_type(&self) -> u32 {
        DEVICE_TYPE_CXL
    }

    fn open_uctx(&self) -> Result<Box<dyn SimContext>, Errno> {
        Ok(Box::new(CxlContext { device: Arc::clone(&self.device) }))
    }
}

struct CxlContext {
    device: Arc<Mutex<Device>>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Builds `struct fwctl_rpc_cxl_out` with `payload`, padded to `alloc` bytes.
fn out_struct(retval: u32, payload: &[u8], alloc: usize) -> Vec<u8> {
    let mut out = vec![0u8; alloc.max(OUT_STRUCT)];
    out[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out[4..8].copy_from_slice(&retval.to_le_bytes());
    out[OUT_PAYLOAD..OUT_PAYLOAD + payload.len()].copy_from_slice(payload);
    out
}

impl SimContext for CxlContext {
    fn info(&self) -> Vec<u8> {
        Vec::new()
    }

    /// `cxlctl_fw_rpc()`.
    fn fw_rpc(&mut self, scope: Scope, input: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if input.len() < IN_HEADER {
            return Err(Errno::EINVAL);
        }
        let op_size = le32(input, 8) as usize;
        if op_size > input.len() - IN_HEADER {
            return Err(Errno::EINVAL);
        }
        // The driver reads the opcode as 16 bits.
        let opcode = le16(input, 0);
        let payload = &input[IN_HEADER..IN_HEADER + op_size];
        let mut device = self.device.lock().map_err(|_| Errno::EIO)?;
        match opcode {
            GET_SUPPORTED_FEATURES => device.get_supported(payload),
            GET_FEATURE => device.get_feature(payload, out_len),
            SET_FEATURE => {
                device.validate_set(payload, scope)?;
                device.set_feature(payload, out_len)
            }
            _ => Err(Errno::EINVAL),
        }
    }
}

impl Device {
    fn find(&self, uuid: &[u8]) -> Option<usize> {
        self.features.iter().position(|f| f.uuid.0 == uuid)
    }

    /// `cxlctl_get_supported_features()`, answered from the list cached at probe.
    fn get_supported(&self, payload: &[u8]) -> Result<Vec<u8>, Errno> {
        if payload.len() != 8 {
            return Err(Errno::EINVAL);
        }
        let count = le32(payload, 0) as usize;
        let start = le16(payload, 4) as usize;
        let total = self.features.len();
        if start >= total {
            return Err(Errno::EINVAL);
        }
        let requested = (count / ENTRY).min(total - start);
        let mut body = vec![0u8; SUP_FEATS_HEADER + requested * ENTRY];
        body[0..2].copy_from_slice(&(requested as u16).to_le_bytes());
        body[2..4].copy_from_slice(&(total as u16).to_le_bytes());
        for (slot, (index, feature)) in self.features.iter().enumerate().skip(start).take(requested).enumerate() {
            let e = &mut body[SUP_FEATS_HEADER + slot * ENTRY..][..ENTRY];
            let owned = kernel_owned_name(&feature.uuid).is_some();
            let (set_size, flags) =
                if owned { (0, feature.flags & !F_CHANGEABLE) } else { (feature.set_size, feature.flags) };
            e[0..16].copy_from_slice(&feature.uuid.0);
            e[16..18].copy_from_slice(&(index as u16).to_le_bytes());
            e[18..20].copy_from_slice(&feature.get_size.to_le_bytes());
            e[20..22].copy_from_slice(&set_size.to_le_bytes());
            e[22..26].copy_from_slice(&flags.to_le_bytes());
            e[26] = feature.get_version;
            e[27] = feature.set_version;
            e[28..30].copy_from_slice(&feature.effects.to_le_bytes());
        }
        // out_len = sizeof(fwctl_rpc_cxl_out) + the payload, though the payload starts at 8.
        Ok(out_struct(RC_SUCCESS, &body, OUT_STRUCT + body.len()))
    }

    /// `cxlctl_get_feature()` and the device's Get Feature.
    fn get_feature(&self, payload: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if payload.len() != 21 {
            return Err(Errno::EINVAL);
        }
        let offset = le16(payload, 16) as usize;
        let count = le16(payload, 18) as usize;
        let selection = payload[20];
        if count == 0 || out_len < OUT_PAYLOAD || count > out_len - OUT_PAYLOAD {
            return Err(Errno::EINVAL);
        }
        // The device refuses; the ioctl still succeeds with size 0 and its return code.
        let refuse = || Ok(out_struct(RC_INVALID_INPUT, &[], OUT_STRUCT));
        let Some(index) = self.find(&payload[..16]) else { return refuse() };
        let feature = &self.features[index];
        let value = match selection {
            0 => &feature.current,
            1 if feature.flags & F_DEFAULT_SEL != 0 => &feature.default,
            2 if feature.flags & F_SAVED_SEL != 0 => &feature.saved,
            _ => return refuse(),
        };
        if offset + count > value.len() {
            return refuse();
        }
        let data = &value[offset..offset + count];
        Ok(out_struct(RC_SUCCESS, data, OUT_STRUCT + data.len()))
    }

    /// `cxlctl_validate_set_features()`: every reason to refuse before the device.
    fn validate_set(&self, payload: &[u8], scope: Scope) -> Result<(), Errno> {
        if !self.writable || payload.len() < 16 {
            return Err(Errno::EINVAL);
        }
        let feature = self.find(&payload[..16]).map(|i| &self.features[i]).ok_or(Errno::EINVAL)?;
        let effects = feature.effects;
        if feature.flags & F_CHANGEABLE == 0 || effects & RESERVED != 0 || effects & BACKGROUND != 0 {
            return Err(Errno::EINVAL);
        }
        let immediate = effects & IMMEDIATE != 0;
        if !immediate && effects & RESET == 0 {
            return Err(Errno::EINVAL); // neither immediate nor reset effect: a device bug
        }
        let needed = if immediate { Scope::DebugWriteFull } else { Scope::DebugWrite };
        if scope < needed { Err(Errno::EINVAL) } else { Ok(()) }
    }

    /// `cxlctl_set_feature()` and the device's Set Feature. The kernel splits large data
    /// into mailbox-sized transfers and forces "saved across reset"; the user's transfer
    /// flags are ignored, so the device model applies the data as one transfer.
    fn set_feature(&mut self, payload: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if payload.len() <= SET_HEADER {
            return Err(Errno::EINVAL);
        }
        if kernel_owned_name(&Uuid(payload[..16].try_into().expect("16 bytes"))).is_some() {
            return Err(Errno::EPERM);
        }
        if out_len < OUT_PAYLOAD {
            return Err(Errno::EINVAL);
        }
        let offset = le16(payload, 20) as usize;
        let version = payload[22];
        let data = &payload[SET_HEADER..];
        let index = self.find(&payload[..16]).ok_or(Errno::EINVAL)?;
        let feature = &mut self.features[index];
        let retval = if version != feature.set_version || offset + data.len() > feature.set_size as usize {
            RC_INVALID_INPUT
        } else {
            // Settable bytes are the leading part of the readable value.
            feature.current[offset..offset + data.len()].copy_from_slice(data);
            // The kernel always asks for the data to be saved across reset.
            if feature.flags & F_SAVED_SEL != 0 {
                feature.saved = feature.current.clone();
            }
            RC_SUCCESS
        };
        Ok(out_struct(retval, &[], OUT_STRUCT))
    }
}
