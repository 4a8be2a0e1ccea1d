//! Device backends for fwctl-run.
//!
//! Everything above this crate talks to fwctl devices through one trait, [`Backend`], and
//! never learns which implementation answers:
//!
//! - [`kernel`]: the real thing. Discovery walks `/sys/class/fwctl` and `/dev/fwctl`; RPCs
//!   are `FWCTL_INFO` / `FWCTL_RPC` ioctls. The project's `unsafe` code lives in
//!   [`kernel::ioctl`], next to the structs it passes to the kernel; outside it there are
//!   two single calls, each with its SAFETY note: loading a compiled artifact
//!   (`host/src/sandbox/compile_cache.rs`) and mapping the audit journal
//!   (`host/src/audit/journal.rs`).
//! - [`sim`]: simulated devices that behave like the kernel drivers and their firmware,
//!   byte for byte and errno for errno, described by TOML profiles.
//!
//! The contract both follow is the kernel's (`drivers/fwctl/main.c`): an RPC either fails
//! with an errno, or succeeds and reports the response length the driver produced, which
//! may exceed the caller's buffer (only the part that fits is copied).

#![warn(missing_docs)]

pub mod backend;
pub mod credentials;
pub mod differential;
pub mod errno;
pub mod kernel;
pub mod sim;

/// The fwctl user API's values, from [`fwctl_proto`].
pub use fwctl_proto::uapi;

pub use backend::{Backend, DeviceDescriptor, DeviceError, DeviceHandle, DeviceKind, FwctlInfo, Scope};
pub use credentials::Credentials;
