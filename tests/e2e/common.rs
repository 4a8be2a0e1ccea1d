//! The suite's helpers live in `fwctl-test-support` (shared with the benchmarks); only
//! running this package's binary is defined here, where cargo names it.

pub use fwctl_test_support::{
    audit_log, cache_dir, device_run, fresh_state_dir, json, plugin_dir, stderr, stdout, workspace_root,
};

/// Runs `fwctl-run` with the suite's plugin path, cache and audit log.
pub fn fwctl_run(args: &[&str]) -> std::process::Output {
    fwctl_test_support::run_binary(env!("CARGO_BIN_EXE_fwctl-run"), args)
}
