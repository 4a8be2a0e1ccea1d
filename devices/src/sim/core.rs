//! The fwctl core of the simulator: what `drivers/fwctl/main.c` does around every driver.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;

use super::profile::{DeviceProfile, Faults, Fleet};
use super::{SimContext, SimDriver};
use crate::backend::{Backend, DeviceDescriptor, DeviceError, DeviceHandle, DiscoveryError, FwctlInfo, Scope};
use crate::credentials::Credentials;
use crate::uapi::MAX_RPC_LEN;

/// A simulated device: its description, its driver, and its life.
struct SimDevice {
    descriptor: DeviceDescriptor,
    driver: Box<dyn SimDriver>,
    faults: Faults,
    /// RPCs the device has served, across all handles (for `vanish_after_rpcs`).
    rpcs_served: AtomicU64,
    /// Set once the device is "hot-unplugged": open fails, every handle gets ENODEV.
    removed: AtomicBool,
}

/// A fleet of simulated devices behind the [`Backend`] trait.
pub struct SimBackend {
    devices: Vec<Arc<SimDevice>>,
    credentials: Credentials,
    /// The simulated kernel's `fwctl_tainted` bit (set by the first tainting RPC).
    tainted: Arc<AtomicBool>,
    /// Messages the simulated kernel would have logged (`dev_warn` on taint).
    kernel_log: Arc<Mutex<Vec<String>>>,
}

impl SimBackend {
    /// Builds the devices a fleet describes, with this process's credentials.
    pub fn new(fleet: &Fleet) -> Result<Self, DiscoveryError> {
        Self::with_credentials(fleet, Credentials::of_current_process())
    }

    /// Builds the devices a fleet describes, as seen by a caller with `credentials`.
    pub fn with_credentials(fleet: &Fleet, credentials: Credentials) -> Result<Self, DiscoveryError> {
        let devices = fleet
            .devices()
            .iter()
            .enumerate()
            .map(|(index, profile)| build_device(index, profile).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { devices, credentials, tainted: Arc::new(AtomicBool::new(false)), kernel_log: Arc::default() })
    }

    /// The built-in default fleet: two ConnectX-class NICs and one CXL memory device.
    pub fn default_fleet() -> Self {
        Self::new(&Fleet::builtin_default()).expect("the built-in fleet is valid")
    }

    /// Whether a tainting RPC has been made (`/proc/sys/kernel/tainted` bit 19).
    pub fn tainted(&self) -> bool {
        self.tainted.load(Ordering::SeqCst)
    }

    /// What the simulated kernel logged, oldest first.
    pub fn kernel_log(&self) -> Vec<String> {
        self.kernel_log.lock().expect("kernel log lock").clone()
    }

    /// Hot-unplugs a device by node name, as `fwctl_unregister()` would: handles stay
    /// open but every call fails with `ENODEV`. Returns false for an unknown name.
    pub fn remove(&self, name: &str) -> bool {
        match self.devices.iter().find(|d| d.descriptor.name == name) {
            Some(device) => {
                device.removed.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

impl SimBackend {
    /// The device named `name`: `fwctlN` is the N-th device of the fleet, so a fleet of
    /// thousands is not searched once per open.
    fn find(&self, name: &str) -> Option<&Arc<SimDevice>> {
        let index = name.strip_prefix("fwctl").and_then(|n| n.parse::<usize>().ok());
        index
            .and_then(|i| self.devices.get(i))
            .filter(|d| d.descriptor.name == name)
            .or_else(|| self.devices.iter().find(|d| d.descriptor.name == name))
    }
}

fn build_device(index: usize, profile: &DeviceProfile) -> Result<SimDevice, DiscoveryError> {
    let descriptor = profile.descriptor(index);
    let driver = profile.build_driver().map_err(DiscoveryError::Profile)?;
    Ok(SimDevice {
        descriptor,
        driver,
        faults: profile.faults.clone(),
        rpcs_served: AtomicU64::new(0),
        removed: AtomicBool::new(false),
    })
}

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn discover(&self) -> Result<Vec<DeviceDescriptor>, DiscoveryError> {
        let mut found: Vec<_> =
            self.devices.iter().filter(|d| !d.removed.load(Ordering::SeqCst)).map(|d| d.descriptor.clone()).collect();
        found.sort_by(|a, b| natural_node_order(&a.name, &b.name));
        Ok(found)
    }

    fn open(&self, device: &DeviceDescriptor) -> Result<Box<dyn DeviceHandle>, DeviceError> {
        let Some(sim) = self.find(&device.name) else {
            return Err(Errno::ENOENT);
        };
        // A removed device has no node left to open.
        if sim.removed.load(Ordering::SeqCst) {
            return Err(Errno::ENOENT);
        }
        let context = sim.driver.open_uctx()?;
        Ok(Box::new(SimHandle {
            device: Arc::clone(sim),
            context,
            credentials: self.credentials,
            tainted: Arc::clone(&self.tainted),
            kernel_log: Arc::clone(&self.kernel_log),
        }))
    }
}

/// `fwctl2` before `fwctl10`.
fn natural_node_order(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| {
        let digits = s.trim_start_matches(|c: char| !c.is_ascii_digit());
        (s.len() - digits.len(), digits.parse::<u64>().unwrap_or(u64::MAX))
    };
    split(a).cmp(&split(b)).then_with(|| a.cmp(b))
}

/// One open simulated node.
struct SimHandle {
    device: Arc<SimDevice>,
    context: Box<dyn SimContext>,
    credentials: Credentials,
    tainted: Arc<AtomicBool>,
    kernel_log: Arc<Mutex<Vec<String>>>,
}

impl SimHandle {
    fn ensure_present(&self) -> Result<(), Errno> {
        if self.device.removed.load(Ordering::SeqCst) { Err(Errno::ENODEV) } else { Ok(()) }
    }
}

impl DeviceHandle for SimHandle {
    fn may_block(&self) -> bool {
        self.device.faults.rpc_delay_ms > 0
    }

    fn info(&mut self) -> Result<FwctlInfo, DeviceError> {
        self.ensure_present()?;
        Ok(FwctlInfo { device_type: self.device.driver.device_type(), device_data: self.context.info() })
    }

    fn rpc(&mut self, scope: u32, request: &[u8], response: &mut [u8]) -> Result<usize, DeviceError> {
        self.ensure_present()?;
        // fwctl_cmd_rpc(), in the kernel's order: sizes, then scope.
        if request.len() > MAX_RPC_LEN || response.len() > MAX_RPC_LEN {
            return Err(Errno::EMSGSIZE);
        }
        let Some(scope) = Scope::from_raw(scope) else {
            return Err(Errno::EOPNOTSUPP);
        };
        if scope == Scope::DebugWriteFull && !self.credentials.cap_sys_rawio {
            return Err(Errno::EPERM);
        }
        if scope.taints_kernel() && !self.tainted.swap(true, Ordering::SeqCst) {
            self.kernel_log.lock().expect("kernel log lock").push(format!(
                "fwctl {}: has requested full access to the physical device",
                self.device.descriptor.name
            ));
        }

        let faults = &self.device.faults;
        let served = self.device.rpcs_served.fetch_add(1, Ordering::SeqCst);
        if faults.vanish_after_rpcs.is_some_and(|limit| served >= limit) {
            self.device.removed.store(true, Ordering::SeqCst);
            return Err(Errno::ENODEV);
        }
        if faults.eio_after_rpcs.is_some_and(|limit| served >= limit) {
            return Err(Errno::EIO);
        }
        if faults.rpc_delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(faults.rpc_delay_ms));
        }

        let out = self.context.fw_rpc(scope, request, response.len())?;
        let copied = out.len().min(response.len());
        response[..copied].copy_from_slice(&out[..copied]);
        Ok(out.len())
    }
}
