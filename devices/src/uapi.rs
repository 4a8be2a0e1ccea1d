//! Constants of the fwctl user API (`include/uapi/fwctl/fwctl.h`), shared by both backends.
//!
//! The ioctl structs themselves live in [`crate::kernel::ioctl`], the only place that hands
//! memory to the kernel; this module holds plain numbers only.

/// The ioctl type byte of fwctl (`FWCTL_TYPE`).
pub const FWCTL_TYPE: u8 = 0x9a;
/// `_IOC_NR` of `FWCTL_INFO` (`FWCTL_CMD_INFO`).
pub const FWCTL_CMD_INFO: u8 = 0;
/// `_IOC_NR` of `FWCTL_RPC` (`FWCTL_CMD_RPC`).
pub const FWCTL_CMD_RPC: u8 = 1;

/// The largest `in_len` or `out_len` the core accepts (`MAX_RPC_LEN`, 2 MiB); above it
/// `FWCTL_RPC` fails with `EMSGSIZE` before any driver sees the call.
pub const MAX_RPC_LEN: usize = 2 * 1024 * 1024;

/// `FWCTL_DEVICE_TYPE_ERROR`: never reported by a working driver.
pub const DEVICE_TYPE_ERROR: u32 = 0;
/// `FWCTL_DEVICE_TYPE_MLX5`.
pub const DEVICE_TYPE_MLX5: u32 = 1;
/// `FWCTL_DEVICE_TYPE_CXL`.
pub const DEVICE_TYPE_CXL: u32 = 2;
/// `FWCTL_DEVICE_TYPE_BNXT`.
pub const DEVICE_TYPE_BNXT: u32 = 3;
/// `FWCTL_DEVICE_TYPE_PDS`.
pub const DEVICE_TYPE_PDS: u32 = 4;

/// `FWCTL_RPC_CONFIGURATION`.
pub const RPC_CONFIGURATION: u32 = 0;
/// `FWCTL_RPC_DEBUG_READ_ONLY`.
pub const RPC_DEBUG_READ_ONLY: u32 = 1;
/// `FWCTL_RPC_DEBUG_WRITE`: taints the kernel.
pub const RPC_DEBUG_WRITE: u32 = 2;
/// `FWCTL_RPC_DEBUG_WRITE_FULL`: taints the kernel, needs `CAP_SYS_RAWIO`.
pub const RPC_DEBUG_WRITE_FULL: u32 = 3;
