//! fwctl wire formats, written once and used on both sides of the sandbox: by the
//! simulator that produces device answers and by the SDK that plugins decode them with.
//!
//! - [`uapi`]: the fwctl user API's values: device kinds, RPC scopes, ioctl numbers;
//! - [`mlx5::bits`]: big-endian PRM bit fields (the one place they are read and written);
//! - [`cxl`]: Feature UUIDs and the Features the kernel keeps for itself;
//! - [`mlx5::commands`], [`mlx5::registers`]: the commands the mlx5 fwctl driver passes
//!   and the access registers, with what each does to the device;
//! - [`envelope`]: what a request targets and how the device answered, for the host's
//!   grant checks and audit trail;
//! - [`effect`]: whether an RPC reads, writes or cannot be classified;
//! - [`errno`]: what each errno fwctl returns means.

#![warn(missing_docs)]

pub mod cxl;
pub mod effect;
pub mod envelope;
pub mod errno;
pub mod mlx5;
pub mod module;
pub mod uapi;
