//! One module per subcommand: its arguments and its `execute()`, as in wasmtime's CLI.

pub mod fleet;
pub mod inspect;
pub mod keygen;
pub mod list;
pub mod login;
pub mod man;
pub mod manifest;
pub mod npd;
pub mod plugin;
pub mod pull;
pub mod push;
pub mod rpc;
pub mod run;
pub mod serve;
pub mod sign;
pub mod test;
pub mod trust;
pub mod verify;
