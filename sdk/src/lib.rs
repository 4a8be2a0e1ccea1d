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
//! and [`cxl`] (Features); [`state`] keeps values between runs on a device.

#![warn(missing_docs)]

pub mod cxl;
mod device;
pub mod mlx5;
mod report;
pub mod state;

pub use device::{Device, DeviceInfo, DeviceKind, Response, RpcError, Scope};
pub use report::{Finding, LabelValue, Metric, MetricKind, Severity, Value, counter, fact, finding, gauge, log};

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
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

/// A fwctl-run plugin.
pub trait Plugin {
    /// Runs against one granted device. `args` are the operator's arguments (after `--`).
    /// Return `Err` when the plugin cannot do its job; report what it finds with
    /// [`finding`] and [`fact`].
    fn run(device: &Device, args: &[String]) -> Result<(), String>;
}

/// Embeds a plugin manifest in the `fwctl-manifest` custom section of the component.
///
/// `$path` is relative to the file invoking the macro, as with `include_bytes!`. The
/// bytes land in a `#[used]` static placed in that section; the linker keeps the custom
/// section and `wasm-component-ld` carries it, unchanged, inside the component's core
/// module, where the host looks for it. [`export_plugin!`] calls this for you; use it
/// directly only when you write the export yourself.
///
/// The manifest is checked at compile time: it must be UTF-8 and its top-level
/// `version` must equal the crate's version (`CARGO_PKG_VERSION`), so a release never
/// ships a manifest that describes another one.
#[macro_export]
macro_rules! manifest {
    ($path:literal) => {
        const _: () = {
            assert!(
                ::core::str::from_utf8(include_bytes!($path)).is_ok(),
                concat!("the fwctl manifest ", $path, " is not UTF-8")
            );
            assert!(
                $crate::__manifest_version_is(include_bytes!($path), env!("CARGO_PKG_VERSION")),
                concat!(
                    "the fwctl manifest ",
                    $path,
                    " must say `version = \"",
                    env!("CARGO_PKG_VERSION"),
                    "\"` (the crate version) before its first table"
                )
            );
        };

        #[used]
        #[unsafe(link_section = "fwctl-manifest")]
        static __FWCTL_MANIFEST: [u8; include_bytes!($path).len()] = *include_bytes!($path);
    };
}

/// Exports a [`Plugin`] and embeds its manifest (see [`manifest!`]).
///
/// `manifest` is a path relative to the file invoking the macro, as with `include_bytes!`.
/// The manifest lands in the component's `fwctl-manifest` custom section.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty, manifest = $manifest:literal) => {
        $crate::manifest!($manifest);

        struct __FwctlPluginExport;

        impl $crate::bindings::Guest for __FwctlPluginExport {
            fn run(
                target: &$crate::bindings::Device,
                args: ::std::vec::Vec<::std::string::String>,
            ) -> ::std::result::Result<(), ::std::string::String> {
                <$plugin as $crate::Plugin>::run(&$crate::Device::from_binding(target), &args)
            }
        }

        $crate::bindings::__export_plugin_bindings!(__FwctlPluginExport with_types_in $crate::bindings);
    };
}

/// Whether the top-level table of a TOML `manifest` has `version = "<version>"`
/// (used by [`manifest!`] at compile time; not a TOML parser: one line, one basic string).
#[doc(hidden)]
pub const fn __manifest_version_is(manifest: &[u8], version: &str) -> bool {
    let version = version.as_bytes();
    let mut line = 0;
    while line < manifest.len() {
        let mut i = skip_blanks(manifest, line);
        if i < manifest.len() && manifest[i] == b'[' {
            return false; // tables begin: the key was not at top level
        }
        if starts_with(manifest, i, b"version") {
            i = skip_blanks(manifest, i + 7);
            if i < manifest.len() && manifest[i] == b'=' {
                i = skip_blanks(manifest, i + 1);
                return i < manifest.len()
                    && manifest[i] == b'"'
                    && starts_with(manifest, i + 1, version)
                    && i + 1 + version.len() < manifest.len()
                    && manifest[i + 1 + version.len()] == b'"';
            }
        }
        while line < manifest.len() && manifest[line] != b'\n' {
            line += 1;
        }
        line += 1;
    }
    false
}

const fn skip_blanks(text: &[u8], mut at: usize) -> usize {
    while at < text.len() && (text[at] == b' ' || text[at] == b'\t') {
        at += 1;
    }
    at
}

const fn starts_with(text: &[u8], at: usize, prefix: &[u8]) -> bool {
    if at + prefix.len() > text.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if text[at + i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::__manifest_version_is as version_is;

    #[test]
    fn the_manifest_version_is_found_at_top_level_only() {
        let m = b"manifest-version = 1\nname = \"x\"\nversion = \"0.1.0\"\n[limits]\n";
        assert!(version_is(m, "0.1.0"));
        assert!(!version_is(m, "0.1.1"));
        assert!(!version_is(m, "0.1"));
        assert!(version_is(b"  version=\"1.2.3\"", "1.2.3"));
        assert!(!version_is(b"manifest-version = 1\n[devices.mlx5]\nversion = \"0.1.0\"\n", "0.1.0"));
        assert!(!version_is(b"", "0.1.0"));
    }
}
