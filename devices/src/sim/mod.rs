//! Simulated fwctl devices that behave like the kernel and the firmware behind it.
//!
//! The layering copies the kernel's so that every check sits where the kernel makes it:
//!
//! - [`core`] is `drivers/fwctl/main.c`: ioctl-level size limits, scope validation,
//!   `CAP_SYS_RAWIO`, the taint, orphaned handles after removal (`ENODEV`), and the
//!   copy-out of `min(out_len, response length)` bytes;
//! - [`mlx5`] and [`cxl`] are the drivers (`drivers/fwctl/mlx5/main.c`,
//!   `drivers/cxl/core/features.c`) together with a model of the firmware or device they
//!   forward to;
//! - [`profile`] describes a fleet of devices in TOML, with faults to inject;
//! - [`synthetic`] builds large fleets (`--sim-fleet N`) from a weighted mix of profiles.
//!
//! A driver implements [`SimDriver`]: one value per simulated device, shared by every
//! handle opened on it, which hands out a [`SimContext`] per open (the kernel's
//! `fwctl_uctx`).

pub mod core;
pub mod cxl;
pub mod mlx5;
pub mod profile;
pub mod synthetic;

use nix::errno::Errno;

use crate::backend::Scope;

pub use self::core::SimBackend;
pub use self::profile::{DeviceProfile, Faults, Fleet};
pub use self::synthetic::SyntheticSpec;

/// A simulated driver bound to one device (the kernel's `struct fwctl_ops` + device).
pub trait SimDriver: Send + Sync {
    /// `fwctl_ops.device_type`.
    fn device_type(&self) -> u32;

    /// `fwctl_ops.open_uctx`: per-open driver state. mlx5 creates a firmware user
    /// context here.
    fn open_uctx(&self) -> Result<Box<dyn SimContext>, Errno>;
}

/// One open handle's driver state (the kernel's `fwctl_uctx`).
pub trait SimContext: Send {
    /// `fwctl_ops.info`: the driver's device data, in full (the core truncates or pads).
    fn info(&self) -> Vec<u8>;

    /// `fwctl_ops.fw_rpc`: the driver's checks and the device's answer.
    ///
    /// `scope` has already passed the core's validation. `out_len` is the caller's
    /// `out_len`. Returns the response buffer; its length is the `out_len` the kernel
    /// reports back (it may exceed the caller's `out_len`; the core copies only what fits).
    fn fw_rpc(&mut self, scope: Scope, input: &[u8], out_len: usize) -> Result<Vec<u8>, Errno>;
}
