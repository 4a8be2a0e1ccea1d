//! The end-to-end suite: real plugins, built for wasm32-wasip2 by the suite itself, run
//! through the `fwctl-run` binary and through the library against simulated devices.

mod bad_input;
mod cli;
mod common;
mod cxl_features;
mod debian_package;
mod deploy;
mod docs;
mod fleet;
mod golden;
mod hostile;
mod kernel_source;
mod kernel_vm;
mod library;
mod metrics;
mod mlx5_config;
mod mlx5_diag;
mod npd;
mod plugin_install;
mod plugin_state;
pub mod registry;
mod registry_auth;
mod sdk_example;
pub mod serve;
pub mod signing;
mod vendor_guide;
mod wit_versions;
