//! The one interface between fwctl-run and a device: discover, open, `FWCTL_INFO`, `FWCTL_RPC`.

use serde::Serialize;

pub use fwctl_proto::uapi::{DeviceKind, Scope};

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
    /// slow firmware). Async callers keep the ones that may block off their executor
    /// (fwctl-run gives each such run a thread of its own).
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
    /// The device's own serial number, when discovery can read it: part of its identity
    /// (a board replaced in the same slot is another device). Not in reports yet.
    #[serde(skip)]
    pub serial: Option<String>,
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
