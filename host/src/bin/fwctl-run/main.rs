//! `fwctl-run`: a thin binary over the `fwctl_run` library. It parses the command line,
//! hands each subcommand's arguments to its module under [`commands`], and turns the
//! result into an exit status. Every decision (admission, policy, signatures, what runs)
//! is made by the library.

mod commands;
mod options;

use std::process::ExitCode;

/// Workers allocate what the main thread frees (reports, metrics, audit lines); glibc's
/// arenas contend on that pattern, mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use fwctl_run::report::ExitStatus;

use self::commands::{
    fleet, inspect, keygen, list, login, man, manifest, npd, plugin, pull, push, rpc, run, serve, sign, test, trust,
    verify,
};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  every device was checked and nothing of warning or worse was found
  1  every device was checked and at least one finding is a warning or worse
  2  could not run: bad plugin, refused grant, a run failed on a device (trap,
     timeout, limit, device gone), or no device matched the plugin

A plugin named oci://REGISTRY/REPO@sha256:DIGEST (or a :TAG pulled before) runs from the
local store, fetched by digest when the store lacks it. Plugins named without a '/' are
looked up in $FWCTL_RUN_PLUGIN_PATH (colon-separated; default
~/.local/share/fwctl-run/plugins, /usr/local/lib/fwctl-run/plugins,
/usr/lib/fwctl-run/plugins), then in the current directory (neither the first nor the
current directory for root). Without fwctl devices (/sys/class/fwctl empty) the
built-in simulated fleet is used, and reports say so.";

/// Run sandboxed WebAssembly plugins against Linux fwctl devices, real or simulated.
#[derive(Debug, Parser)]
#[command(name = "fwctl-run", version, after_help = EXIT_STATUS_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    run: run::RunCommand,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List fwctl devices: kind, parent, driver, and FWCTL_INFO device data decoded.
    List(list::ListCommand),
    /// Show a plugin's manifest, WIT world, imports, exports, digest, and the grant it
    /// would get under a policy, without running it.
    Inspect(inspect::InspectCommand),
    /// Create an Ed25519 key pair for signing plugins: PREFIX.key and PREFIX.pub.
    Keygen(keygen::KeygenCommand),
    /// Sign a plugin (adds to its signatures: a second signer countersigns).
    Sign(sign::SignCommand),
    /// Check a plugin's signatures: who signed, with which key, trusted or why not.
    Verify(verify::VerifyCommand),
    /// Make a trust store and add signers' public keys to it.
    Trust(trust::TrustCommand),
    /// Check a plugin against expected facts and findings on simulated profiles (for a
    /// vendor's CI: no Rust toolchain for the host needed). Exit 0 when every case passes.
    Test(test::TestCommand),
    /// Work with the manifest a plugin carries.
    Manifest(manifest::ManifestCommand),
    /// Store credentials for a registry in the auth file Docker and Podman use (the
    /// password from stdin).
    Login(login::LoginCommand),
    /// Forget the credentials stored for a registry.
    Logout(login::LogoutCommand),
    /// Install, list, update and remove the plugins fleet, npd and serve run; each install
    /// shows the grant under the current policy first.
    Plugin(plugin::PluginCommand),
    /// Send one raw firmware RPC and print the response (for operators, like mlx5ctl).
    Rpc(rpc::RpcCommand),
    /// Fetch a plugin from an OCI registry into the local store. A tag is resolved once and
    /// pinned in the lock file; later pulls and runs fetch that digest only, and a tag that
    /// has since moved is refused (unless --update).
    Pull(pull::PullCommand),
    /// Check every fwctl device of this host with every plugin that handles it, each
    /// plugin-and-device pair in its own sandbox, --jobs at a time, and report in the
    /// format operators' tools read.
    Fleet(fleet::FleetCommand),
    /// Check every device as `fleet` does and answer as a Kubernetes node-problem-detector
    /// custom plugin: exit 0 (OK), 1 (a problem) or 2 (Unknown), one line of at most
    /// --max-output bytes on stdout, most severe first, within --deadline.
    Npd(npd::NpdCommand),
    /// Run the fleet every --interval and serve the last completed run's metrics over
    /// HTTP for Prometheus (/metrics), with /health and /ready for Kubernetes' probes. A
    /// scrape never reaches a device. SIGHUP reloads policy, trust store and plugins;
    /// SIGTERM finishes the run in flight and exits 0.
    Serve(serve::ServeCommand),
    /// Print the manual page (roff) generated from this command line, for packagers.
    #[command(hide = true)]
    Man(man::ManCommand),
    /// Push a plugin to an OCI registry as a Wasm artifact (config
    /// application/vnd.wasm.config.v0+json, one application/wasm layer). Sign it first:
    /// the signature travels inside the component.
    Push(push::PushCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::List(c)) => c.execute(),
        Some(Command::Inspect(c)) => c.execute(),
        Some(Command::Keygen(c)) => c.execute(),
        Some(Command::Sign(c)) => c.execute(),
        Some(Command::Verify(c)) => c.execute(),
        Some(Command::Trust(c)) => c.execute(),
        Some(Command::Test(c)) => c.execute(),
        Some(Command::Manifest(c)) => c.execute(),
        Some(Command::Rpc(c)) => c.execute(),
        Some(Command::Plugin(c)) => c.execute(),
        Some(Command::Login(c)) => c.execute(),
        Some(Command::Logout(c)) => c.execute(),
        Some(Command::Pull(c)) => c.execute(),
        Some(Command::Fleet(c)) => c.execute(),
        Some(Command::Npd(c)) => c.execute(),
        Some(Command::Serve(c)) => c.execute(),
        Some(Command::Man(c)) => c.execute(),
        Some(Command::Push(c)) => c.execute(),
        None => cli.run.execute(),
    };
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            eprintln!("fwctl-run: error: {error:#}");
            ExitCode::from(ExitStatus::CouldNotRun.code())
        }
    }
}
