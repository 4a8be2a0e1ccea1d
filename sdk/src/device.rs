//! The device handle a plugin is given, and what an RPC returns.

use std::fmt;

use crate::bindings::Device as RawDevice;
use crate::bindings::fwctl::plugin::types;

pub use fwctl_proto::uapi::{DeviceKind, Scope};

/// The WIT form of a scope.
fn scope_to_wit(scope: Scope) -> types::Scope {
    match scope {
        Scope::Configuration => types::Scope::Configuration,
        Scope::DebugReadOnly => types::Scope::DebugReadOnly,
        Scope::DebugWrite => types::Scope::DebugWrite,
        Scope::DebugWriteFull => types::Scope::DebugWriteFull,
    }
}

/// A scope from its WIT form.
fn scope_from_wit(scope: types::Scope) -> Scope {
    match scope {
        types::Scope::Configuration => Scope::Configuration,
        types::Scope::DebugReadOnly => Scope::DebugReadOnly,
        types::Scope::DebugWrite => Scope::DebugWrite,
        types::Scope::DebugWriteFull => Scope::DebugWriteFull,
    }
}

/// What the host says about the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Node name, e.g. `fwctl0`.
    pub name: String,
    /// Driver family.
    pub kind: DeviceKind,
    /// Parent device's sysfs name.
    pub parent: String,
    /// PCI address, when there is one.
    pub pci_address: Option<String>,
    /// CXL memdev, for CXL devices.
    pub cxl_memdev: Option<String>,
    /// Driver bound to the parent.
    pub driver: Option<String>,
    /// FWCTL_INFO device data, verbatim.
    pub device_data: Vec<u8>,
    /// The highest scope granted on this device.
    pub granted_scope: Scope,
    /// Whether the device is simulated.
    pub simulated: bool,
}

/// A successful RPC: the response bytes and the length the driver reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The bytes copied back (at most the capacity asked for).
    pub data: Vec<u8>,
    /// The length the driver reported; larger than `data.len()` when truncated.
    pub length: usize,
}

impl Response {
    /// Whether the driver had more to say than the buffer held.
    pub fn truncated(&self) -> bool {
        self.length > self.data.len()
    }
}

/// Why an RPC failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcError {
    /// The host refused it (outside the grant); it never reached the device.
    NotGranted(String),
    /// The kernel refused it with this errno.
    Kernel {
        /// errno value.
        code: u32,
        /// Symbolic name, e.g. `EBADMSG`.
        name: String,
    },
    /// The device is gone.
    DeviceGone,
    /// Request or capacity above fwctl's limit (bytes).
    TooLarge(u32),
}

impl RpcError {
    /// The errno, when the kernel refused the call.
    pub fn errno(&self) -> Option<u32> {
        match self {
            Self::Kernel { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGranted(why) => write!(f, "not granted: {why}"),
            Self::Kernel { code, name } => match fwctl_proto::errno::meaning(name) {
                Some(meaning) => write!(f, "kernel refused the RPC: {name} ({code}): {meaning}"),
                None => write!(f, "kernel refused the RPC: {name} ({code})"),
            },
            Self::DeviceGone => f.write_str("the device is gone"),
            Self::TooLarge(limit) => write!(f, "request or response larger than fwctl's {limit}-byte limit"),
        }
    }
}

impl std::error::Error for RpcError {}

/// The device this run was granted.
pub struct Device<'a> {
    raw: &'a RawDevice,
}

impl<'a> Device<'a> {
    /// Wraps the generated handle; used by [`export_plugin!`](crate::export_plugin).
    #[doc(hidden)]
    pub fn from_binding(raw: &'a RawDevice) -> Self {
        Self { raw }
    }

    /// Describes the device.
    pub fn info(&self) -> DeviceInfo {
        let i = self.raw.info();
        DeviceInfo {
            name: i.name,
            kind: match i.kind {
                types::DeviceKind::Mlx5 => DeviceKind::Mlx5,
                types::DeviceKind::Cxl => DeviceKind::Cxl,
                types::DeviceKind::Bnxt => DeviceKind::Bnxt,
                types::DeviceKind::Pds => DeviceKind::Pds,
            },
            parent: i.parent,
            pci_address: i.pci_address,
            cxl_memdev: i.cxl_memdev,
            driver: i.driver,
            device_data: i.device_data,
            granted_scope: scope_from_wit(i.granted_scope),
            simulated: i.simulated,
        }
    }

    /// Sends one firmware RPC with a response buffer of `capacity` bytes.
    ///
    /// `request` is the driver's input mailbox, sent as is. Firmware-level failures (an
    /// mlx5 status, a CXL return code) come back inside `Ok`: decode them with
    /// [`mlx5`](crate::mlx5) or [`cxl`](crate::cxl). A capacity above `u32::MAX` is sent as
    /// `u32::MAX`, which the host refuses with [`RpcError::TooLarge`].
    pub fn rpc(&self, scope: Scope, request: &[u8], capacity: usize) -> Result<Response, RpcError> {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        match self.raw.rpc(scope_to_wit(scope), request, capacity) {
            Ok(r) => Ok(Response { data: r.data, length: r.length as usize }),
            Err(types::RpcError::NotGranted(why)) => Err(RpcError::NotGranted(why)),
            Err(types::RpcError::Kernel(e)) => Err(RpcError::Kernel { code: e.code, name: e.name }),
            Err(types::RpcError::DeviceGone) => Err(RpcError::DeviceGone),
            Err(types::RpcError::TooLarge(limit)) => Err(RpcError::TooLarge(limit)),
        }
    }
}
