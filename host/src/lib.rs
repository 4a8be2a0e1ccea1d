//! fwctl-run: run sandboxed WebAssembly plugins against Linux fwctl devices.
//!
//! One invocation flows one way through these modules:
//!
//! 1. [`plugin`]: locate the file (or fetch it from a registry through [`distribution`]),
//!    read it, check it is a component, read its manifest; [`signing`] verifies it;
//! 2. [`policy`]: intersect what the manifest asks with what the operator allows (the grant);
//! 3. [`source`]: discover devices, on the kernel or, without fwctl hardware, the simulator;
//! 4. [`runner`] and [`sandbox`]: one isolated, limited store per granted device, run
//!    concurrently;
//! 5. [`report`]: render the [`outcome`] for people or machines and pick the exit status;
//!    [`audit`] records every RPC attempt on the way.
//!
//! [`fleet`] runs every admitted plugin on every device it handles, a bounded number at
//! a time, for `fwctl-run fleet` and the outputs operators' tools read.
//!
//! [`testing`] runs a plugin on simulated devices from a Rust test.
//!
//! Device access goes through [`fwctl_devices`] (re-exported as [`devices`]); wire
//! formats, and what each RPC does, come from [`fwctl_proto`] (re-exported as [`proto`]).

#![warn(missing_docs)]

pub use fwctl_devices as devices;
pub use fwctl_proto as proto;

pub mod admission;
pub mod atomic_file;
pub mod audit;
pub mod distribution;
pub mod expectations;
pub mod fleet;
pub mod install;
pub mod json_text;
pub mod outcome;
pub mod paths;
pub mod plugin;
pub mod plugin_state;
pub mod policy;
pub mod raw_rpc;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod serve;
pub mod signing;
pub mod source;
pub mod testing;
