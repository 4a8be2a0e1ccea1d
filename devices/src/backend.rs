//! The one interface between fwctl-run and a device: discover, open, `FWCTL_INFO`, `FWCTL_RPC`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::uapi;

/// An RPC or open failure, exactly as the kernel reports it: an errno.
///
/// Both backends speak errno so that callers see the same failure for the same fault,
/// whether a kernel driver or the simulator produced it. `ENODEV` means the device was
/// removed; every later call on the same handle fails the same way.
pub type DeviceError = nix::errno::Errno;

/// A place that has fwctl devices: the running kernel, or a simulated fleet.
pub trait Backend: Send + Sync {
    /// A short name for reports: `kernel` or `simulator`.
    fn name(&self) -> &'static str;

    /// Lists the devices present now, sorted by node name.
    fn discover(&self) -> Result<Vec<DeviceDescriptor>, DiscoveryError>;

    /// Opens a device, like `open("/dev/fwctl/fwctlN")`: the driver creates its per-FD
    /// context here (for mlx5, a firmware user context and its `uid`).
    fn open(&self, device: &DeviceDescriptor) -> Result<Box<dyn DeviceHandle>, DeviceError>;
}

/// An open fwctl device (one file descriptor's worth of state).
pub trait DeviceHandle: Send {
    /// `FWCTL_INFO`: the device type and the driver's device data, in full.
    fn info(&mut self) -> Result<FwctlInfo, DeviceError>;

    /// `FWCTL_RPC` with the raw `scope` value (so that invalid scopes reach the same checks
    /// the kernel makes).
    ///
    /// On success returns the response length the driver reported; only
    /// `min(response.len(), that length)` bytes of `response` were written. A length larger
    /// than `response.len()` is not an error, exactly as with the ioctl.
    fn rpc(&mut self, scope: u32, request: &[u8], response: &mut [u8]) -> Result<usize, DeviceError>;

    /// Whether an RPC may hold the calling thread for long: a kernel ioctl waits for the
    /// firmware, an in-memory simulated device answers at once (unless it simulates a
    /// slow firmware). Async callers move the ones that may block off their executor.
    fn may_block(&self) -> bool {
        true
    }
}

/// What `FWCTL_INFO` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FwctlInfo {
    /// `out_device_type`: one of `uapi::DEVICE_TYPE_*`.
    pub device_type: u32,
    /// The driver-specific device data (mlx5: `struct fwctl_info_mlx5`, 8 bytes; CXL: none).
    pub device_data: Vec<u8>,
}

/// A device found by discovery: where it is and what it is, before anyone opens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceDescriptor {
    /// The fwctl node name, e.g. `fwctl0`.
    pub name: String,
    /// The driver family.
    pub kind: DeviceKind,
    /// The parent device's sysfs name (a PCI address, or a CXL memdev such as `mem0`).
    pub parent: String,
    /// The PCI function the parent is or sits below, when there is one.
    pub pci_address: Option<String>,
    /// The CXL memdev, for CXL devices.
    pub cxl_memdev: Option<String>,
    /// The kernel driver bound to the parent (`mlx5_core`, `cxl_mem`, ...).
    pub driver: Option<String>,
    /// The RDMA device on the same PCI function (`mlx5_0`), when there is one: the name
    /// `node_exporter`'s infiniband collector labels the same adapter with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdma_device: Option<String>,
    /// The character device to open (`/dev/fwctl/fwctl0`), or `simulated:<profile>`.
    pub node: String,
    /// A human description when one is known (the simulated model, for instance).
    pub model: Option<String>,
    /// True for simulator devices.
    pub simulated: bool,
}

/// Why discovery failed as a whole (a single unreadable device is skipped, not fatal).
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The sysfs class directory exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The directory or file that failed.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A simulator profile was invalid.
    #[error("simulator profile: {0}")]
    Profile(String),
}

/// The fwctl driver family of a device (`enum fwctl_device_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// `FWCTL_DEVICE_TYPE_MLX5`.
    Mlx5,
    /// `FWCTL_DEVICE_TYPE_CXL`.
    Cxl,
    /// `FWCTL_DEVICE_TYPE_BNXT`.
    Bnxt,
    /// `FWCTL_DEVICE_TYPE_PDS`.
    Pds,
}

impl DeviceKind {
    /// All kinds, in uAPI order.
    pub const ALL: [DeviceKind; 4] = [Self::Mlx5, Self::Cxl, Self::Bnxt, Self::Pds];

    /// Maps `out_device_type`; `None` for `FWCTL_DEVICE_TYPE_ERROR` and values this build
    /// does not know.
    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            uapi::DEVICE_TYPE_MLX5 => Some(Self::Mlx5),
            uapi::DEVICE_TYPE_CXL => Some(Self::Cxl),
            uapi::DEVICE_TYPE_BNXT => Some(Self::Bnxt),
            uapi::DEVICE_TYPE_PDS => Some(Self::Pds),
            _ => None,
        }
    }

    /// The uAPI value.
    pub fn raw(self) -> u32 {
        match self {
            Self::Mlx5 => uapi::DEVICE_TYPE_MLX5,
            Self::Cxl => uapi::DEVICE_TYPE_CXL,
            Self::Bnxt => uapi::DEVICE_TYPE_BNXT,
            Self::Pds => uapi::DEVICE_TYPE_PDS,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// `FWCTL_RPC_CONFIGURATION`.
    Configuration,
    /// `FWCTL_RPC_DEBUG_READ_ONLY`.
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
            Self::Configuration => uapi::RPC_CONFIGURATION,
            Self::DebugReadOnly => uapi::RPC_DEBUG_READ_ONLY,
            Self::DebugWrite => uapi::RPC_DEBUG_WRITE,
            Self::DebugWriteFull => uapi::RPC_DEBUG_WRITE_FULL,
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
        for kind in DeviceKind::ALL {
            assert_eq!(DeviceKind::from_raw(kind.raw()), Some(kind));
            assert_eq!(kind.as_str().parse::<DeviceKind>(), Ok(kind));
        }
        assert_eq!(DeviceKind::from_raw(uapi::DEVICE_TYPE_ERROR), None);
    }
}
