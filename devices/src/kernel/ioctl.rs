//! The fwctl ioctls and the structs they pass: fwctl-run's `unsafe` code (the one other
//! call is wasmtime's deserialisation of an authenticated artifact, in the host's
//! `sandbox/compile_cache.rs`).
//!
//! Both ioctls are plain `_IO(0x9A, n)`: the kernel reads the struct's `size` field first
//! and copies that many bytes (`copy_struct_from_user`), so the structs below must match
//! `include/uapi/fwctl/fwctl.h` exactly; the layout tests at the bottom pin them.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

use crate::uapi::{FWCTL_CMD_INFO, FWCTL_CMD_RPC, FWCTL_TYPE};

/// `struct fwctl_info`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct FwctlInfo {
    /// sizeof(struct fwctl_info), so the kernel knows which fields we know.
    pub size: u32,
    /// Must be 0.
    pub flags: u32,
    /// Out: `FWCTL_DEVICE_TYPE_*`.
    pub out_device_type: u32,
    /// In: bytes at `out_device_data`; out: the driver's full device-data length.
    pub device_data_len: u32,
    /// User pointer for the device data.
    pub out_device_data: u64,
}

/// `struct fwctl_rpc`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct FwctlRpc {
    /// sizeof(struct fwctl_rpc).
    pub size: u32,
    /// `enum fwctl_rpc_scope`.
    pub scope: u32,
    /// Bytes at `in`.
    pub in_len: u32,
    /// In: bytes at `out`; out: the response length the driver produced (may be larger).
    pub out_len: u32,
    /// User pointer to the request.
    pub in_: u64,
    /// User pointer to the response buffer.
    pub out: u64,
}

/// The raw ioctl functions, kept private: callers use the safe wrappers below.
mod raw {
    use super::{FWCTL_CMD_INFO, FWCTL_CMD_RPC, FWCTL_TYPE, FwctlInfo, FwctlRpc};

    // Plain `_IO` numbers (no size encoded) but read-write structs: the `_bad` forms.
    nix::ioctl_readwrite_bad!(fwctl_info, nix::request_code_none!(FWCTL_TYPE, FWCTL_CMD_INFO), FwctlInfo);
    nix::ioctl_readwrite_bad!(fwctl_rpc, nix::request_code_none!(FWCTL_TYPE, FWCTL_CMD_RPC), FwctlRpc);
}

/// `FWCTL_INFO`: fills `device_data` (zero-padded by the kernel when the driver has
/// less) and returns the device type and the driver's full device-data length, which may
/// exceed `device_data.len()`.
pub fn info(fd: BorrowedFd<'_>, device_data: &mut [u8]) -> Result<(u32, usize), Errno> {
    let mut cmd = FwctlInfo {
        size: size_of::<FwctlInfo>() as u32,
        device_data_len: u32::try_from(device_data.len()).map_err(|_| Errno::EINVAL)?,
        out_device_data: device_data.as_mut_ptr() as u64,
        ..FwctlInfo::default()
    };
    // SAFETY: `cmd` is a valid `struct fwctl_info` whose `size` says exactly how much of
    // it the kernel may read and write back; `out_device_data` points at `device_data`,
    // writable for `device_data_len` bytes, which the kernel never exceeds. Both live
    // until the ioctl returns.
    unsafe { raw::fwctl_info(fd.as_raw_fd(), &mut cmd) }?;
    Ok((cmd.out_device_type, cmd.device_data_len as usize))
}

/// `FWCTL_RPC`: sends `request` at `scope` and returns the response length the driver
/// reported. Only `min(output.len(), that length)` bytes of `output` were written.
pub fn rpc(fd: BorrowedFd<'_>, scope: u32, request: &[u8], output: &mut [u8]) -> Result<usize, Errno> {
    let mut cmd = FwctlRpc {
        size: size_of::<FwctlRpc>() as u32,
        scope,
        in_len: u32::try_from(request.len()).map_err(|_| Errno::EMSGSIZE)?,
        out_len: u32::try_from(output.len()).map_err(|_| Errno::EMSGSIZE)?,
        in_: request.as_ptr() as u64,
        out: output.as_mut_ptr() as u64,
    };
    // SAFETY: `cmd` is a valid `struct fwctl_rpc` sized by its `size` field; `in_` points
    // at `in_len` readable bytes of `request`, `out` at `out_len` writable bytes of
    // `output`, and the kernel copies at most `min(out_len, response)` bytes into it. The
    // buffers outlive the call.
    unsafe { raw::fwctl_rpc(fd.as_raw_fd(), &mut cmd) }?;
    Ok(cmd.out_len as usize)
}

#[cfg(test)]
mod tests {
    use std::mem::{align_of, offset_of, size_of};

    use super::*;

    #[test]
    fn fwctl_info_matches_the_uapi_layout() {
        assert_eq!(size_of::<FwctlInfo>(), 24);
        assert_eq!(align_of::<FwctlInfo>(), 8, "__aligned_u64");
        assert_eq!(offset_of!(FwctlInfo, size), 0);
        assert_eq!(offset_of!(FwctlInfo, flags), 4);
        assert_eq!(offset_of!(FwctlInfo, out_device_type), 8);
        assert_eq!(offset_of!(FwctlInfo, device_data_len), 12);
        assert_eq!(offset_of!(FwctlInfo, out_device_data), 16);
    }

    #[test]
    fn fwctl_rpc_matches_the_uapi_layout() {
        assert_eq!(size_of::<FwctlRpc>(), 32);
        assert_eq!(align_of::<FwctlRpc>(), 8);
        assert_eq!(offset_of!(FwctlRpc, size), 0);
        assert_eq!(offset_of!(FwctlRpc, scope), 4);
        assert_eq!(offset_of!(FwctlRpc, in_len), 8);
        assert_eq!(offset_of!(FwctlRpc, out_len), 12);
        assert_eq!(offset_of!(FwctlRpc, in_), 16);
        assert_eq!(offset_of!(FwctlRpc, out), 24);
    }

    #[test]
    fn request_numbers_are_plain_io_on_type_0x9a() {
        assert_eq!(nix::request_code_none!(FWCTL_TYPE, FWCTL_CMD_INFO) as u32, 0x9a00);
        assert_eq!(nix::request_code_none!(FWCTL_TYPE, FWCTL_CMD_RPC) as u32, 0x9a01);
    }

    #[test]
    fn the_ioctls_on_a_file_that_is_not_a_fwctl_node_fail_with_enotty() {
        let file = tempfile::tempfile().unwrap();
        let fd = std::os::fd::AsFd::as_fd(&file);
        assert_eq!(info(fd, &mut [0u8; 8]), Err(Errno::ENOTTY));
        assert_eq!(rpc(fd, 1, &[0u8; 16], &mut [0u8; 16]), Err(Errno::ENOTTY));
    }
}
