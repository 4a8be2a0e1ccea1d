//! The kernel backend: real fwctl devices through `/sys/class/fwctl` and `/dev/fwctl`.

mod discovery;
pub mod ioctl;

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

pub use self::discovery::SysfsNode;
use crate::backend::{
    Backend, DeviceDescriptor, DeviceError, DeviceHandle, DeviceInfo, DeviceKind, DiscoveryError,
};

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

    /// Discovers devices and also returns, as text, the nodes that had to be skipped
    /// (their kind could be learned neither from FWCTL_INFO nor from the parent's driver).
    pub fn discover_with_warnings(&self) -> Result<(Vec<DeviceDescriptor>, Vec<String>), DiscoveryError> {
        let mut devices = Vec::new();
        let mut warnings = Vec::new();
        for node in discovery::scan(&self.sysfs_root)? {
            let path = discovery::node_path(&self.dev_root, &node.name);
            // The device type comes from the driver itself when the node can be opened;
            // without permission, the parent's driver tells the family just as well.
            let from_info = open_node(&path)
                .and_then(|fd| ioctl::info(fd.as_fd(), &mut []))
                .ok()
                .and_then(|(device_type, _)| DeviceKind::from_raw(device_type));
            let kind = from_info.or_else(|| node.driver.as_deref().and_then(DeviceKind::from_parent_driver));
            let Some(kind) = kind else {
                warnings.push(format!(
                    "{}: skipped, unknown device type (parent {}, driver {})",
                    node.name,
                    node.parent,
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
                node: path.display().to_string(),
                model: None,
                simulated: false,
            });
        }
        Ok((devices, warnings))
    }
}

fn open_node(path: &std::path::Path) -> Result<OwnedFd, Errno> {
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
        let fd = open_node(&discovery::node_path(&self.dev_root, &device.name))?;
        Ok(Box::new(KernelHandle { fd }))
    }
}

/// An open `/dev/fwctl/fwctlN`; the kernel's user context lives as long as the fd.
struct KernelHandle {
    fd: OwnedFd,
}

impl DeviceHandle for KernelHandle {
    fn info(&mut self) -> Result<DeviceInfo, DeviceError> {
        // Ask with a small buffer first; the kernel reports the full length, so a driver
        // with more device data gets a second, exact-sized call.
        let mut data = vec![0u8; 64];
        let (device_type, length) = ioctl::info(self.fd.as_fd(), &mut data)?;
        if length > data.len() {
            data.resize(length, 0);
            ioctl::info(self.fd.as_fd(), &mut data)?;
        }
        data.truncate(length);
        Ok(DeviceInfo { device_type, device_data: data })
    }

    fn rpc(&mut self, scope: u32, request: &[u8], response: &mut [u8]) -> Result<usize, DeviceError> {
        ioctl::rpc(self.fd.as_fd(), scope, request, response)
    }
}
