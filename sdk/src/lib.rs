//! Write fwctl-run plugins in Rust.
//!
//! A plugin implements [`Plugin`] and exports it with [`export_plugin!`], which also embeds
//! the plugin's manifest (a TOML file, see the README) in the component. The host calls
//! [`Plugin::run`] once per device it granted, each time in a fresh sandbox:
//!
//! ```no_run
//! use fwctl_sdk::{Device, Plugin, Scope, Severity, finding, fact};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn run(device: &Device, _args: &[String]) -> Result<(), String> {
//!         let info = device.info();
//!         fact("node", info.name.as_str());
//!         // An mlx5 NOP at debug-read-only: 16-byte mailboxes in and out.
//!         let nop = fwctl_sdk::mlx5::Mailbox::new(fwctl_sdk::mlx5::opcode::NOP, 0).into_bytes();
//!         match device.rpc(Scope::DebugReadOnly, &nop, 16) {
//!             Ok(_) => finding(Severity::Info, "hello.nop.ok", "the firmware answered").report(),
//!             Err(e) => finding(Severity::Error, "hello.nop.failed", format!("NOP failed: {e}")).report(),
//!         }
//!         Ok(())
//!     }
//! }
//!
//! fwctl_sdk::export_plugin!(Hello, manifest = "../example-manifest.toml");
//! ```
//!
//! Device-specific helpers: [`mlx5`] (mailboxes, firmware status, capabilities, registers)
//! and [`cxl`] (Features).

pub mod cxl;
mod device;
pub mod mlx5;
mod report;

pub use device::{Device, DeviceInfo, DeviceKind, Response, RpcError, Scope};
pub use report::{Finding, Severity, Value, fact, finding, log};

/// The generated bindings of `wit/fwctl.wit`. Not part of the SDK's API: use [`Device`],
/// [`finding`], [`fact`] and [`log`] instead.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_bindings",
        default_bindings_module: "fwctl_sdk::bindings",
    });
}

/// A fwctl-run plugin.
pub trait Plugin {
    /// Runs against one granted device. `args` are the operator's arguments (after `--`).
    /// Return `Err` when the plugin cannot do its job; report what it finds with
    /// [`finding`] and [`fact`].
    fn run(device: &Device, args: &[String]) -> Result<(), String>;
}

/// Exports a [`Plugin`] and embeds its manifest.
///
/// `manifest` is a path relative to the file invoking the macro, as with `include_bytes!`.
/// The manifest lands in the component's `fwctl-manifest` custom section.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty, manifest = $manifest:literal) => {
        #[used]
        #[unsafe(link_section = "fwctl-manifest")]
        static __FWCTL_MANIFEST: [u8; include_bytes!($manifest).len()] = *include_bytes!($manifest);

        struct __FwctlPluginExport;

        impl $crate::bindings::Guest for __FwctlPluginExport {
            fn run(target: &$crate::bindings::Device, args: ::std::vec::Vec<::std::string::String>) -> ::std::result::Result<(), ::std::string::String> {
                <$plugin as $crate::Plugin>::run(&$crate::Device::from_binding(target), &args)
            }
        }

        $crate::bindings::__export_plugin_bindings!(__FwctlPluginExport with_types_in $crate::bindings);
    };
}
