//! The fwctl user API (`include/uapi/fwctl/fwctl.h`) as values: the ioctl numbers, the
//! device types and RPC scopes with their names, in one place for the kernel backend, the
//! simulator, the host and the SDK.
//!
//! The ioctl structs themselves live in `fwctl_devices::kernel::ioctl`, the only place that
//! hands memory to the kernel; this module holds plain values only.

use std::fmt;
use std::str::FromStr;

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

/// The fwctl driver family of a device (`enum fwctl_device_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "lowercase"))]
pub enum DeviceKind {
    /// `FWCTL_DEVICE_TYPE_MLX5`: NVIDIA ConnectX.
    Mlx5,
    /// `FWCTL_DEVICE_TYPE_CXL`: a CXL memory device.
    Cxl,
    /// `FWCTL_DEVICE_TYPE_BNXT`: Broadcom NetXtreme.
    Bnxt,
    /// `FWCTL_DEVICE_TYPE_PDS`: AMD/Pensando.
    Pds,
}

impl DeviceKind {
    /// All kinds, in uAPI order.
    pub const ALL: [DeviceKind; 4] = [Self::Mlx5, Self::Cxl, Self::Bnxt, Self::Pds];

    /// Maps `out_device_type`; `None` for `FWCTL_DEVICE_TYPE_ERROR` and values this build
    /// does not know.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.raw() == raw)
    }

    /// The uAPI value.
    pub fn raw(self) -> u32 {
        match self {
            Self::Mlx5 => DEVICE_TYPE_MLX5,
            Self::Cxl => DEVICE_TYPE_CXL,
            Self::Bnxt => DEVICE_TYPE_BNXT,
            Self::Pds => DEVICE_TYPE_PDS,
        }
    }

    /// The lowercase name used in manifests, policies and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mlx5 => "mlx5",
            Self::Cxl => "cxl",
            Self::Bnxt => "bnxt",
            Self::Pds => "pds",
        }
    }

    /// Why a plugin's request bytes must never reach this kind's driver, if they must not.
    ///
    /// pds (`struct fwctl_rpc_pds`: `in.payload`, `out.payload`, `drivers/fwctl/pds/main.c`
    /// `pdsfc_fw_rpc`) and bnxt (the host-address fields of the HWRM commands in
    /// `bnxtctl_dma_cmds`, `drivers/fwctl/bnxt/main.c`) carry user-space addresses that the
    /// kernel copies from and to. Bytes a plugin chose would have the kernel read or write
    /// whatever memory of the calling process those addresses name. Only envelopes the host
    /// builds itself, with buffers it owns, could be safe; fwctl-run builds none yet.
    pub fn carries_user_addresses(self) -> Option<&'static str> {
        match self {
            Self::Mlx5 | Self::Cxl => None,
            Self::Bnxt => Some(
                "bnxt requests carry host memory addresses (the HWRM DMA fields) that the kernel copies to and from, so a plugin's bytes could make the kernel read or write fwctl-run's own memory",
            ),
            Self::Pds => Some(
                "pds requests carry user-space pointers (`in.payload`, `out.payload`) that the kernel copies to and from, so a plugin's bytes could make the kernel read or write fwctl-run's own memory",
            ),
        }
    }

    /// The kind a parent's bound driver implies; discovery uses it when `FWCTL_INFO`
    /// cannot be asked (no permission to open the node).
    pub fn from_parent_driver(driver: &str) -> Option<Self> {
        match driver {
            "mlx5_core" => Some(Self::Mlx5),
            "cxl_mem" | "cxl_mock_mem" => Some(Self::Cxl),
            "bnxt_en" => Some(Self::Bnxt),
            "pds_core" => Some(Self::Pds),
            _ => None,
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown device kind `{s}` (expected one of mlx5, cxl, bnxt, pds)"))
    }
}

/// The scope of an RPC (`enum fwctl_rpc_scope`), ordered from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "kebab-case"))]
pub enum Scope {
    /// `FWCTL_RPC_CONFIGURATION`: device configuration meant to be changed.
    Configuration,
    /// `FWCTL_RPC_DEBUG_READ_ONLY`: read-only debug information (what diagnostics use).
    DebugReadOnly,
    /// `FWCTL_RPC_DEBUG_WRITE`: taints the kernel.
    DebugWrite,
    /// `FWCTL_RPC_DEBUG_WRITE_FULL`: taints the kernel and needs `CAP_SYS_RAWIO`.
    DebugWriteFull,
}

impl Scope {
    /// All scopes, least powerful first.
    pub const ALL: [Scope; 4] = [Self::Configuration, Self::DebugReadOnly, Self::DebugWrite, Self::DebugWriteFull];

    /// The uAPI value.
    pub fn raw(self) -> u32 {
        match self {
            Self::Configuration => RPC_CONFIGURATION,
            Self::DebugReadOnly => RPC_DEBUG_READ_ONLY,
            Self::DebugWrite => RPC_DEBUG_WRITE,
            Self::DebugWriteFull => RPC_DEBUG_WRITE_FULL,
        }
    }

    /// Maps a uAPI value; `None` for values the kernel refuses with `EOPNOTSUPP`.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.raw() == raw)
    }

    /// Whether an RPC at this scope taints the kernel (`TAINT_FWCTL`).
    pub fn taints_kernel(self) -> bool {
        self >= Self::DebugWrite
    }

    /// The kebab-case name used in manifests, policies and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Configuration => "configuration",
            Self::DebugReadOnly => "debug-read-only",
            Self::DebugWrite => "debug-write",
            Self::DebugWriteFull => "debug-write-full",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            format!("unknown scope `{s}` (expected configuration, debug-read-only, debug-write or debug-write-full)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_order_and_raw_values_follow_the_uapi() {
        assert_eq!(Scope::ALL.map(Scope::raw), [0, 1, 2, 3]);
        assert!(Scope::DebugReadOnly < Scope::DebugWrite);
        assert!(!Scope::DebugReadOnly.taints_kernel());
        assert!(Scope::DebugWrite.taints_kernel() && Scope::DebugWriteFull.taints_kernel());
        assert_eq!(Scope::from_raw(7), None);
        assert_eq!("debug-write-full".parse::<Scope>(), Ok(Scope::DebugWriteFull));
        assert!("root".parse::<Scope>().unwrap_err().contains("`root`"));
    }

    #[test]
    fn device_kinds_round_trip_through_raw_values() {
        assert_eq!(DeviceKind::ALL.map(DeviceKind::raw), [1, 2, 3, 4]);
        for kind in DeviceKind::ALL {
            assert_eq!(DeviceKind::from_raw(kind.raw()), Some(kind));
            assert_eq!(kind.as_str().parse::<DeviceKind>(), Ok(kind));
        }
        assert_eq!(DeviceKind::from_raw(DEVICE_TYPE_ERROR), None);
    }
}
