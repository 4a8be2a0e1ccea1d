//! The kernel backend: real fwctl devices through `/sys/class/fwctl` and `/dev/fwctl`.
//!
//! Discovery reads sysfs and, where the node can be opened, asks `FWCTL_INFO` for the
//! device type; everything else is the two ioctls of [`ioctl`] on an owned descriptor.

mod discovery;
pub mod ioctl;

pub use discovery::BareMemdev;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

use crate::backend::{Backend, DeviceDescriptor, DeviceError, DeviceHandle, DeviceKind, DiscoveryError, FwctlInfo};

/// Devices the running kernel's fwctl drivers registered.
#[derive(Clone, Debug)]
pub struct KernelBackend {
    sysfs_root: PathBuf,
    dev_root: PathBuf,
}

impl Default for KernelBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl KernelBackend {
    /// The real system: `/sys` and `/dev`.
    pub fn new() -> Self {
        Self::with_roots("/sys", "/dev")
    }

    /// Another tree shaped like `/sys` and `/dev` (tests point this at a fake one).
    pub fn with_roots(sysfs_root: impl Into<PathBuf>, dev_root: impl Into<PathBuf>) -> Self {
        Self { sysfs_root: sysfs_root.into(), dev_root: dev_root.into() }
    }

    /// Whether the kernel lists any fwctl node at all (`<sysfs>/class/fwctl/fwctlN`),
    /// without opening anything; the CLI uses it to choose between real devices and the
    /// simulator. A node of a kind this build does not know still counts: it is real, and
    /// [`Self::discover_with_warnings`] says why it is left out.
    pub fn has_devices(&self) -> bool {
        discovery::has_nodes(&self.sysfs_root)
    }

    /// CXL memdevs the kernel gave no fwctl node (see [`discovery::memdevs_without_node`]).
    pub fn memdevs_without_fwctl(&self) -> Result<Vec<BareMemdev>, DiscoveryError> {
        let nodes = discovery::scan(&self.sysfs_root)?;
        Ok(discovery::memdevs_without_node(&self.sysfs_root, &nodes))
    }

    /// Discovers devices and also returns, as text, the nodes that had to be skipped
    /// (their kind could be learned neither from `FWCTL_INFO` nor from the parent's
    /// driver), since [`DeviceDescriptor::kind`] cannot say "unknown".
    pub fn discover_with_warnings(&self) -> Result<(Vec<DeviceDescriptor>, Vec<String>), DiscoveryError> {
        let mut devices = Vec::new();
        let mut warnings = Vec::new();
        for node in discovery::scan(&self.sysfs_root)? {
            let path = discovery::node_path(&self.dev_root, &node.name);
            // The device type comes from the driver itself when the node can be opened;
            // without permission, the parent's driver tells the family just as well. An
            // empty buffer is enough: the type is reported whatever the data length.
            let reported_type = open_node(&path).and_then(|fd| ioctl::info(fd.as_fd(), &mut [])).ok().map(|(t, _)| t);
            let kind = reported_type
                .and_then(DeviceKind::from_raw)
                .or_else(|| node.driver.as_deref().and_then(DeviceKind::from_parent_driver));
            let Some(kind) = kind else {
                let reported = reported_type.map(|t| format!(", FWCTL_INFO type {t}")).unwrap_or_default();
                warnings.push(format!(
                    "{}: skipped, unknown device type (parent {}, driver {}{reported})",
                    node.name,
                    if node.parent.is_empty() { "unknown" } else { &node.parent },
                    node.driver.as_deref().unwrap_or("none")
                ));
                continue;
            };
            devices.push(DeviceDescriptor {
                name: node.name,
                kind,
                parent: node.parent,
                pci_address: node.pci_address,
                cxl_memdev: node.cxl_memdev,
                driver: node.driver,
                rdma_device: node.rdma_device,
                node: path.display().to_string(),
                model: None,
                simulated: false,
                serial: node.serial,
            });
        }
        Ok((devices, warnings))
    }
}

/// Opens a node the way the fwctl core expects (read-write); close-on-exec so that the
/// descriptor never leaks into a child process.
fn open_node(path: &Path) -> Result<OwnedFd, Errno> {
    open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
}

impl Backend for KernelBackend {
    fn name(&self) -> &'static str {
        "kernel"
    }

    fn discover(&self) -> Result<Vec<DeviceDescriptor>, DiscoveryError> {
        self.discover_with_warnings().map(|(devices, _)| devices)
    }

    fn open(&self, device: &DeviceDescriptor) -> Result<Box<dyn DeviceHandle>, DeviceError> {
        // A simulated device's name could match a real node; never open the wrong one.
        if device.simulated {
            return Err(Errno::ENODEV);
        }
        let fd = open_node(&discovery::node_path(&self.dev_root, &device.name))?;
        Ok(Box::new(KernelHandle { fd }))
    }
}

/// The device-data buffer of the first `FWCTL_INFO` call: room for every current driver
/// (mlx5 has 8 bytes, CXL none), so one call is the usual case.
const FIRST_INFO_LEN: usize = 64;

/// An open `/dev/fwctl/fwctlN`; the kernel's user context lives as long as the fd.
struct KernelHandle {
    fd: OwnedFd,
}

impl DeviceHandle for KernelHandle {
    fn info(&mut self) -> Result<FwctlInfo, DeviceError> {
        // Ask with a small buffer first; the kernel reports the full length, so a driver
        // with more device data gets a second, exact-sized call. The first buffer must not
        // be empty: with `device_data_len == 0` the kernel skips the driver and reports 0.
        let mut data = vec![0u8; FIRST_INFO_LEN];
        let (mut device_type, mut length) = ioctl::info(self.fd.as_fd(), &mut data)?;
        if length > data.len() {
            data.resize(length, 0);
            (device_type, length) = ioctl::info(self.fd.as_fd(), &mut data)?;
        }
        // The second answer is the one the buffer holds; `truncate` keeps all of it.
        data.truncate(length);
        Ok(FwctlInfo { device_type, device_data: data })
    }

    fn rpc(&mut self, scope: u32, request: &[u8], response: &mut [u8]) -> Result<usize, DeviceError> {
        ioctl::rpc(self.fd.as_fd(), scope, request, response)
    }
}
