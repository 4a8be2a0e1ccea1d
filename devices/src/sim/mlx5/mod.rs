//! The mlx5 fwctl driver (`drivers/fwctl/mlx5/main.c`) and a ConnectX firmware model.
//!
//! The driver part reproduces what the kernel checks before a command reaches firmware:
//! mailbox sizes (EMSGSIZE), the scope allow-list (EBADMSG), and the per-open user
//! context whose uid it forces into every command. The firmware part answers the
//! commands diagnostics use, with firmware statuses inside a successful response.

pub mod allow_list;
mod firmware;
mod profile;
mod registers;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use fwctl_proto::mlx5::bits;
use nix::errno::Errno;

pub use self::firmware::Status;
pub use self::profile::{CounterGrowth, Mlx5Profile, Module, Pcie, Port, Sensor};
pub use self::registers::REGISTERS;
use super::{SimContext, SimDriver};
use crate::backend::Scope;
use crate::uapi::DEVICE_TYPE_MLX5;

/// `sizeof(mbox_in_hdr)` and `sizeof(mbox_out_hdr)`.
const MBOX_HEADER: usize = 16;
/// `MLX5_UCTX_OBJECT_CAP_TOOLS_RESOURCES`.
const TOOLS_RESOURCES: u32 = 0x4;

/// A simulated ConnectX device bound to the mlx5 fwctl driver.
pub struct Mlx5Driver {
    firmware: Arc<Mutex<firmware::Firmware>>,
    next_uid: AtomicU32,
}

impl Mlx5Driver {
    /// Boots the device a profile describes.
    pub fn new(profile: &Mlx5Profile) -> Result<Self, String> {
        profile.validate()?;
        Ok(Self { firmware: Arc::new(Mutex::new(firmware::Firmware::new(profile.clone()))), next_uid: AtomicU32::new(1) })
    }
}

impl SimDriver for Mlx5Driver {
    fn device_type(&self) -> u32 {
        DEVICE_TYPE_MLX5
    }

    /// `mlx5ctl_open_uctx()`: a firmware user context per open, with TOOLS_RESOURCES when
    /// the firmware supports it, and its own uid.
    fn open_uctx(&self) -> Result<Box<dyn SimContext>, Errno> {
        let tools = self.firmware.lock().map_err(|_| Errno::EIO)?.profile().tools_uid;
        let uid = self.next_uid.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(Mlx5Context {
            firmware: Arc::clone(&self.firmware),
            uid: uid as u16,
            uctx_caps: if tools { TOOLS_RESOURCES } else { 0 },
        }))
    }
}

/// One open handle: its firmware user context.
struct Mlx5Context {
    firmware: Arc<Mutex<firmware::Firmware>>,
    uid: u16,
    uctx_caps: u32,
}

impl SimContext for Mlx5Context {
    /// `mlx5ctl_info()`: `struct fwctl_info_mlx5 { u32 uid; u32 uctx_caps; }`, native endian.
    fn info(&self) -> Vec<u8> {
        let mut data = (self.uid as u32).to_ne_bytes().to_vec();
        data.extend_from_slice(&self.uctx_caps.to_ne_bytes());
        data
    }

    /// `mlx5ctl_fw_rpc()`.
    fn fw_rpc(&mut self, scope: Scope, input: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if input.len() < MBOX_HEADER || out_len < MBOX_HEADER {
            return Err(Errno::EMSGSIZE);
        }
        let opcode = bits::get(input, 0, 31, 16) as u16;
        let op_mod = bits::get(input, 1, 15, 0) as u16;
        if !allow_list::allows(opcode, op_mod, scope) {
            return Err(Errno::EBADMSG);
        }
        // The driver enforces the FD's user context whatever uid the caller wrote.
        let mut command = input.to_vec();
        bits::set(&mut command, 0, 15, 0, self.uid as u32);
        let mut firmware = self.firmware.lock().map_err(|_| Errno::EIO)?;
        Ok(firmware.execute(&command, out_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Fleet;

    #[test]
    fn the_driver_overwrites_the_callers_uid_with_its_own() {
        let fleet = Fleet::builtin("connectx7-healthy").unwrap().unwrap();
        let profile = fleet.devices()[0].mlx5.clone().unwrap();
        let driver = Mlx5Driver::new(&profile).unwrap();
        let _first = driver.open_uctx().unwrap();
        let mut ctx = driver.open_uctx().unwrap();
        let uid = u32::from_ne_bytes(ctx.info()[0..4].try_into().unwrap()) as u16;
        let mut forged = vec![0u8; 16];
        bits::set(&mut forged, 0, 31, 16, 0x10a);
        bits::set(&mut forged, 0, 15, 0, 0xbeef);
        ctx.fw_rpc(Scope::DebugReadOnly, &forged, 112).unwrap();
        assert_eq!(uid, 2);
        assert_eq!(driver.firmware.lock().unwrap().last_uid, uid);
    }
}
