//! Host bindings generated from `wit/fwctl.wit`, kept apart from the code that uses them.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Host functions may end the run (RPC budget, output flood), which is a trap. An RPC
    // is a blocking ioctl (or a slow simulated firmware): it runs off the async executor
    // so that the other devices' runs keep going meanwhile.
    imports: {
        "fwctl:plugin/device.[method]device.rpc": async | trappable,
        default: trappable,
    },
    // `run` is called asynchronously so that epoch ticks can yield to other runs.
    exports: { default: async },
    with: {
        "fwctl:plugin/device.device": crate::sandbox::device::GrantedDevice,
    },
});

pub use fwctl::plugin::types;
