//! The mlx5 fwctl driver (`drivers/fwctl/mlx5/main.c`, Linux 7.3) and a ConnectX firmware
//! model behind it.
//!
//! - this module is the driver: the per-open firmware user context and its uid, the
//!   mailbox size check (EMSGSIZE), the scope allow-list (EBADMSG), uid forcing, and the
//!   command interface's own failures (ENXIO, ENOLINK);
//! - [`allow_list`] is `mlx5ctl_validate_rpc()`;
//! - `firmware` answers commands, with statuses inside successful responses;
//! - `registers` models the ACCESS_REG registers diagnostics read;
//! - `nvconfig` is the non-volatile configuration mlxconfig reads and writes;
//! - `profile` is the `[device.mlx5]` TOML table; `prm` names the bit fields.
//!
//! The checks of the fwctl core (2 MiB limit, scope values, CAP_SYS_RAWIO, taint, removal)
//! happen before this driver is called, in `sim::core`.

pub mod allow_list;
mod firmware;
mod nvconfig;
mod profile;
mod registers;

use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;

pub use self::firmware::{Failure, Status, syndrome};
use self::prm::header;
pub use self::profile::{CounterGrowth, Media, Mlx5Profile, Module, NvProfile, NvValue, Pcie, Port, PortType, Sensor};
pub use self::registers::MODELED;
use super::{SimContext, SimDriver};
use crate::backend::Scope;
use crate::uapi::DEVICE_TYPE_MLX5;
/// The PRM layouts, shared with the SDK.
use fwctl_proto::mlx5::prm;

/// `MLX5_UCTX_OBJECT_CAP_TOOLS_RESOURCES`: the uid may change global device state.
pub const UCTX_CAP_TOOLS_RESOURCES: u32 = firmware::UCTX_CAP_TOOLS_RESOURCES;

/// `MLX5_CMD_OP_CREATE_UCTX` / `DESTROY_UCTX`, which the driver itself sends.
const CREATE_UCTX: u32 = fwctl_proto::mlx5::commands::CREATE_UCTX as u32;
const DESTROY_UCTX: u32 = fwctl_proto::mlx5::commands::DESTROY_UCTX as u32;

/// A simulated ConnectX device bound to the mlx5 fwctl driver.
///
/// All handles opened on it share one firmware (its counters, port state and user
/// contexts), as all FDs of a real device share the adapter.
pub struct Mlx5Driver {
    firmware: Arc<Mutex<firmware::Firmware>>,
}

/// Locks the firmware. The model never panics while holding the lock, but a poisoned lock
/// must not turn into a panic of its own: the state is still consistent, use it.
fn lock(firmware: &Mutex<firmware::Firmware>) -> MutexGuard<'_, firmware::Firmware> {
    firmware.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Mlx5Driver {
    /// Boots the device a profile describes; fails with a message if the profile is invalid.
    pub fn new(profile: &Mlx5Profile) -> Result<Self, String> {
        profile.validate()?;
        Ok(Self { firmware: Arc::new(Mutex::new(firmware::Firmware::new(profile.clone()))) })
    }

    /// Resets the device's firmware as `mlxfwreset` or a reboot would: next-boot
    /// configuration becomes current. Handles stay open.
    pub fn reset_firmware(&self) {
        lock(&self.firmware).reset();
    }

    /// The uids of the user contexts currently open on the device.
    pub fn live_uids(&self) -> Vec<u16> {
        lock(&self.firmware).live_uids()
    }
}

impl SimDriver for Mlx5Driver {
    fn device_type(&self) -> u32 {
        DEVICE_TYPE_MLX5
    }

    /// `mlx5ctl_open_uctx()`: ask for TOOLS_RESOURCES when the device's `uctx_cap` offers
    /// it, then `mlx5ctl_alloc_uid()` sends CREATE_UCTX and binds the FD to the uid.
    fn open_uctx(&self) -> Result<Box<dyn SimContext>, Errno> {
        let mut fw = lock(&self.firmware);
        if fw.command_interface_down() {
            // mlx5_cmd_exec() -> mlx5_cmd_check(): -ENXIO on CREATE_UCTX becomes -ENOLINK.
            return Err(Errno::ENOLINK);
        }
        let uctx_caps = fw.uctx_cap() & UCTX_CAP_TOOLS_RESOURCES;
        let mut command = vec![0u8; prm::create_uctx::IN_LEN];
        header::OPCODE.set(&mut command, CREATE_UCTX);
        prm::create_uctx::CAP.set(&mut command, uctx_caps);
        let out = fw.execute(&command, prm::create_uctx::OUT_LEN);
        // mlx5_cmd_exec() turns a failed status into an errno (cmd_status_to_err()).
        if let Some(errno) = Status::errno(header::STATUS.get(&out) as u8) {
            return Err(errno);
        }
        let uid = prm::create_uctx::UID.get(&out) as u16;
        Ok(Box::new(Mlx5Context { firmware: Arc::clone(&self.firmware), uid, uctx_caps }))
    }
}

/// One open handle: its firmware user context (`struct mlx5ctl_uctx`).
struct Mlx5Context {
    firmware: Arc<Mutex<firmware::Firmware>>,
    uid: u16,
    uctx_caps: u32,
}

impl SimContext for Mlx5Context {
    /// `mlx5ctl_info()`: `struct fwctl_info_mlx5 { __u32 uid; __u32 uctx_caps; }`, in the
    /// host's byte order as the kernel fills it.
    fn info(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(8);
        data.extend_from_slice(&u32::from(self.uid).to_ne_bytes());
        data.extend_from_slice(&self.uctx_caps.to_ne_bytes());
        data
    }

    /// `mlx5ctl_fw_rpc()`, in the kernel's order: sizes, allow-list, uid, execute.
    fn fw_rpc(&mut self, scope: Scope, input: &[u8], out_len: usize) -> Result<Vec<u8>, Errno> {
        if input.len() < header::LEN || out_len < header::LEN {
            return Err(Errno::EMSGSIZE);
        }
        let opcode = header::OPCODE.get(input) as u16;
        let op_mod = header::OP_MOD.get(input) as u16;
        if !allow_list::allows(opcode, op_mod, scope) {
            return Err(Errno::EBADMSG);
        }
        let mut fw = lock(&self.firmware);
        if fw.command_interface_down() {
            // cmd_exec(): the interface is down, the command never reaches firmware.
            return Err(Errno::ENXIO);
        }
        // Enforce the FD's user context whatever uid the caller wrote.
        let mut command = input.to_vec();
        header::UID.set(&mut command, u32::from(self.uid));
        // -EREMOTEIO (status != 0) counts as success: the out mailbox goes back as is,
        // exactly out_len bytes, and the kernel reports out_len unchanged.
        Ok(fw.execute(&command, out_len))
    }
}

impl Drop for Mlx5Context {
    /// `mlx5ctl_close_uctx()`: DESTROY_UCTX for the FD's uid (its result is only logged).
    fn drop(&mut self) {
        let mut command = vec![0u8; prm::destroy_uctx::IN_LEN];
        header::OPCODE.set(&mut command, DESTROY_UCTX);
        prm::destroy_uctx::UID.set(&mut command, u32::from(self.uid));
        lock(&self.firmware).execute(&command, header::LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Fleet;

    fn driver(name: &str) -> Mlx5Driver {
        let fleet = Fleet::builtin(name).unwrap().unwrap();
        Mlx5Driver::new(fleet.devices()[0].mlx5.as_ref().unwrap()).unwrap()
    }

    fn uid_of(ctx: &dyn SimContext) -> u16 {
        u32::from_ne_bytes(ctx.info()[0..4].try_into().unwrap()) as u16
    }

    #[test]
    fn the_driver_overwrites_the_callers_uid_with_its_own() {
        let driver = driver("connectx7-healthy");
        let _first = driver.open_uctx().unwrap();
        let mut ctx = driver.open_uctx().unwrap();
        let uid = uid_of(ctx.as_ref());
        let mut forged = vec![0u8; 16];
        header::OPCODE.set(&mut forged, 0x10a);
        header::UID.set(&mut forged, 0xbeef);
        let out = ctx.fw_rpc(Scope::DebugReadOnly, &forged, 112).unwrap();
        assert_eq!(out[0], 0, "firmware knows the forced uid");
        assert_eq!(lock(&driver.firmware).last_uid, uid);
        assert_ne!(uid, 0xbeef);
    }

    #[test]
    fn closing_a_handle_destroys_its_user_context() {
        let driver = driver("connectx6dx-healthy");
        let a = driver.open_uctx().unwrap();
        let b = driver.open_uctx().unwrap();
        let (ua, ub) = (uid_of(a.as_ref()), uid_of(b.as_ref()));
        assert!(ua != 0 && ub != 0 && ua != ub);
        assert_eq!(driver.live_uids(), vec![ua, ub]);
        drop(a);
        assert_eq!(driver.live_uids(), vec![ub]);
        drop(b);
        assert!(driver.live_uids().is_empty());
    }

    #[test]
    fn a_command_interface_that_goes_down_fails_rpcs_with_enxio_and_opens_with_enolink() {
        let driver = driver("connectx7-healthy");
        let mut ctx = driver.open_uctx().unwrap();
        let mut nop = vec![0u8; 16];
        header::OPCODE.set(&mut nop, 0x80d);
        assert!(ctx.fw_rpc(Scope::DebugReadOnly, &nop, 16).is_ok());
        lock(&driver.firmware).set_command_interface_down(true);
        assert_eq!(ctx.fw_rpc(Scope::DebugReadOnly, &nop, 16).err(), Some(Errno::ENXIO));
        // The driver's checks still come first.
        assert_eq!(ctx.fw_rpc(Scope::DebugReadOnly, &nop[..15], 16).err(), Some(Errno::EMSGSIZE));
        assert_eq!(ctx.fw_rpc(Scope::Configuration, &nop, 16).err(), Some(Errno::EBADMSG));
        assert_eq!(driver.open_uctx().err(), Some(Errno::ENOLINK));
    }

    #[test]
    fn info_is_uid_then_caps_in_host_order() {
        let driver = driver("connectx7-healthy");
        let ctx = driver.open_uctx().unwrap();
        let info = ctx.info();
        assert_eq!(info.len(), 8);
        assert_eq!(u32::from_ne_bytes(info[4..8].try_into().unwrap()), UCTX_CAP_TOOLS_RESOURCES);
        assert_eq!(u32::from_ne_bytes(info[0..4].try_into().unwrap()), 1, "the first uid of a fresh device");
    }
}
