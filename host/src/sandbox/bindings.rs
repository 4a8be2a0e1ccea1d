//! Host bindings generated from `wit/fwctl.wit`, kept apart from the code that uses them.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Host functions may end the run (RPC budget, output flood), which is a trap. They
    // are synchronous: an RPC is made in place, on the run's own thread when the device
    // may block (`runner::run_on_own_thread`), with no hop to another thread and back.
    imports: { default: trappable },
    // `run` is called asynchronously so that epoch ticks can yield to other runs.
    exports: { default: async },
    with: {
        "fwctl:plugin/device.device": crate::sandbox::device::GrantedDevice,
    },
});

pub use fwctl::plugin::types;
