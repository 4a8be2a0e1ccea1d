//! The command line: parsing only. Every decision is made by the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  every device was checked and nothing of warning or worse was found
  1  every device was checked and at least one finding is a warning or worse
  2  could not run: bad plugin, refused grant, a run failed on a device (trap,
     timeout, limit, device gone), or no device matched the plugin

A plugin named oci://REGISTRY/REPO@sha256:DIGEST (or a :TAG pulled before) runs from the
local store, fetched by digest when the store lacks it. Plugins named without a '/' are looked up in $FWCTL_RUN_PLUGIN_PATH (colon-separated;
default ~/.local/share/fwctl-run/plugins, /usr/local/lib/fwctl-run/plugins,
/usr/lib/fwctl-run/plugins), then in the current directory. Without fwctl devices
(/sys/class/fwctl empty) the built-in simulated fleet is used, and reports say so.";

/// Run sandboxed WebAssembly plugins against Linux fwctl devices, real or simulated.
#[derive(Debug, Parser)]
#[command(name = "fwctl-run", version, after_help = EXIT_STATUS_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List fwctl devices: kind, parent, driver, and FWCTL_INFO device data decoded.
    List {
        #[command(flatten)]
        source: SourceArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a plugin's manifest, WIT world, imports, exports, digest, and the grant it
    /// would get under a policy, without running it.
    Inspect {
        /// Plugin file or name.
        plugin: String,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Trust store directory (see `verify`).
        #[arg(long, value_name = "DIR")]
        trust: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an Ed25519 key pair for signing plugins: PREFIX.key and PREFIX.pub.
    Keygen {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
    /// Sign a plugin (adds to its signatures: a second signer countersigns).
    Sign {
        /// Plugin component file.
        plugin: PathBuf,
        /// Secret key file (from `keygen`, or any format wasmsign2 reads).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Write here instead of replacing PLUGIN.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write the signature to PLUGIN.sig and leave the plugin's bytes alone.
        #[arg(long)]
        detached: bool,
    },
    /// Check a plugin's signatures: who signed, with which key, trusted or why not.
    Verify {
        /// Plugin file or name.
        plugin: String,
        /// Trust store directory (default /etc/fwctl-run/trust; without one, no key is trusted).
        #[arg(long, value_name = "DIR")]
        trust: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Work with the manifest a plugin carries.
    Manifest {
        #[command(subcommand)]
        action: ManifestAction,
    },
    /// Send one raw firmware RPC and print the response (for operators, like mlx5ctl).
    Rpc(RpcArgs),
    /// Fetch a plugin from an OCI registry into the local store. A tag is resolved once and
    /// pinned in the lock file; later pulls and runs fetch that digest only, and a tag that
    /// has since moved is refused (unless --update).
    Pull {
        /// oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST
        reference: String,
        /// Accept what the tag names now, replacing the locked digest.
        #[arg(long)]
        update: bool,
        #[command(flatten)]
        store: StoreArgs,
        /// Audit log (see the run's --audit); refused pulls are on the record.
        #[arg(long, value_name = "FILE")]
        audit: Option<PathBuf>,
    },
    /// Check every fwctl device of this host with every plugin that handles it, each
    /// plugin-and-device pair in its own sandbox, --jobs at a time, and report in the
    /// format operators' tools read.
    Fleet(FleetArgs),
    /// Check every device as `fleet` does and answer as a Kubernetes node-problem-detector
    /// custom plugin: exit 0 (OK), 1 (a problem) or 2 (Unknown), one line of at most
    /// --max-output bytes on stdout, most severe first, within --deadline.
    Npd(NpdArgs),
    /// Print the manual page (roff) generated from this command line, for packagers.
    #[command(hide = true)]
    Man,
    /// Push a plugin to an OCI registry as a Wasm artifact (config
    /// application/vnd.wasm.config.v0+json, one application/wasm layer). Sign it first:
    /// the signature travels inside the component.
    Push {
        /// Plugin component file.
        plugin: PathBuf,
        /// oci://REGISTRY/REPOSITORY:TAG
        reference: String,
    },
}

/// Where registry plugins are kept.
#[derive(Debug, Args, Default)]
pub struct StoreArgs {
    /// Content-addressed plugin store (default $FWCTL_RUN_STORE, else
    /// ~/.local/share/fwctl-run/store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Lock file of pulled tags (default $FWCTL_RUN_LOCK, else plugins.lock beside the store).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ManifestAction {
    /// Embed MANIFEST.toml in PLUGIN, replacing the manifest it carried. The plugin is
    /// rewritten (a signature made before no longer covers it: sign it again).
    Set {
        /// Plugin component file.
        plugin: PathBuf,
        /// Manifest TOML file.
        manifest: PathBuf,
        /// Write here instead of replacing PLUGIN.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// What decides the grant.
#[derive(Debug, Args, Default)]
pub struct PolicyArgs {
    /// Operator policy file (default /etc/fwctl-run/policy.toml if present, else the
    /// built-in policy: debug-read-only at most, no tainting scope).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Allow scopes that taint the kernel (debug-write, debug-write-full), where policy
    /// also allows them.
    #[arg(long)]
    pub allow_taint: bool,
}

#[derive(Debug, Args, Default)]
pub struct SourceArgs {
    /// Use simulated devices: `--sim` for the default fleet, `--sim=NAME` for a built-in
    /// profile, `--sim=FILE` for a profile file. (The `=` keeps a following argument from
    /// being taken as the profile.)
    #[arg(long, value_name = "PROFILE", num_args = 0..=1, require_equals = true, default_missing_value = "default")]
    pub sim: Option<String>,
    /// Use the kernel's fwctl devices only, never the simulator, even when there are none.
    #[arg(long, conflicts_with = "sim")]
    pub kernel: bool,
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Plugin file or name (e.g. mlx5-diag.wasm).
    pub plugin: Option<String>,

    /// Run only on these devices (node names such as fwctl0); repeatable.
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub signature: SignatureArgs,

    /// Audit log: every RPC attempt as one JSON line, appended (default $FWCTL_RUN_AUDIT,
    /// else /var/log/fwctl-run/audit.jsonl for root, else
    /// ~/.local/state/fwctl-run/audit.jsonl). A run that cannot write it does not start.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Also print plugin logs and captured stdout/stderr.
    #[arg(long, short)]
    pub verbose: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Arguments for the plugin.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Which signatures count.
#[derive(Debug, Args, Default)]
pub struct SignatureArgs {
    /// Trust store directory: signers and their public keys (default /etc/fwctl-run/trust
    /// if present; without one, no signature is trusted).
    #[arg(long, value_name = "DIR")]
    pub trust: Option<PathBuf>,

    /// Refuse to run a plugin that no trusted key signed.
    #[arg(long)]
    pub require_signed: bool,
}

/// Per-device limits, within what policy allows.
#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    /// Wall-clock limit per device, in milliseconds (default 10000).
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,

    /// Memory limit per device, in MiB (default 64).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u64>,

    /// RPC budget per device (default 10000).
    #[arg(long, value_name = "N")]
    pub rpc_budget: Option<u64>,
}

/// `fwctl-run rpc`: one raw RPC, from the operator.
#[derive(Debug, Args)]
pub struct RpcArgs {
    /// Device node name, e.g. fwctl0.
    pub device: String,
    /// RPC scope: configuration, debug-read-only, debug-write, debug-write-full.
    #[arg(long, default_value = "debug-read-only")]
    pub scope: String,
    /// Request bytes in hex (spaces and underscores allowed).
    pub request: Vec<String>,
    /// Response buffer size in bytes (out_len), at most fwctl's 2 MiB.
    #[arg(long, default_value_t = 4096)]
    pub out_len: u32,
    /// The policy (its allow-taint applies) and --allow-taint.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Audit log (see the run's --audit); raw RPCs are on the record too.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The compile cache.
#[derive(Debug, Args, Default)]
pub struct CacheArgs {
    /// Compile cache directory (default $FWCTL_RUN_CACHE_DIR, else /var/cache/fwctl-run for
    /// root, else ~/.cache/fwctl-run); refused when another user owns or can write it.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the plugin every time.
    #[arg(long)]
    pub no_cache: bool,
}

/// How `fleet` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFormat {
    /// A table, one line per device and plugin, findings underneath.
    #[default]
    Human,
    /// One JSON document (schema fwctl-run.fleet/v1).
    Json,
    /// One JSON line per result as it ends, then a summary line.
    Jsonl,
    /// OpenMetrics text: the same samples as --textfile writes.
    Openmetrics,
}

/// `fwctl-run fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub common: FleetCommon,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormat::Human)]
    pub format: FleetFormat,

    /// Also write DIR/fwctl.prom for node_exporter's textfile collector (classic
    /// Prometheus text, no timestamps), replacing it whole and atomically.
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,
}

/// `fwctl-run npd`: a Kubernetes node-problem-detector custom plugin.
#[derive(Debug, Args)]
pub struct NpdArgs {
    #[command(flatten)]
    pub common: FleetCommon,

    /// Give up and answer Unknown after this long (e.g. `45s`); keep it below the NPD
    /// rule's `timeout`, past which NPD kills the plugin and learns nothing.
    #[arg(long, value_name = "DURATION", default_value = "45s", value_parser = humantime::parse_duration)]
    pub deadline: std::time::Duration,

    /// The most bytes of output NPD keeps (its `max_output_length`).
    #[arg(long, value_name = "BYTES", default_value_t = 80, value_parser = clap::value_parser!(u16).range(16..))]
    pub max_output: u16,

    /// The least severe finding that is a node problem.
    #[arg(long, value_enum, default_value_t = ProblemSeverity::Error)]
    pub min_severity: ProblemSeverity,
}

/// `--min-severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProblemSeverity {
    /// Warnings and worse.
    Warning,
    /// Errors and worse.
    Error,
    /// Critical findings only.
    Critical,
}

/// What every fleet run needs: the devices, the plugins and their limits.
#[derive(Debug, Args)]
pub struct FleetCommon {
    /// Plugin files or names (default: every installed plugin whose manifest names a kind
    /// of device this host has).
    pub plugins: Vec<String>,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Simulate N devices drawn from built-in profiles, e.g. `1000` or
    /// `100:connectx7-healthy=9,connectx7-link-down=1` (deterministic for a --seed).
    #[arg(long, value_name = "N[:PROFILE[=WEIGHT],...]", conflicts_with_all = ["sim", "kernel"])]
    pub sim_fleet: Option<String>,

    /// Seed of the --sim-fleet draw.
    #[arg(long, default_value_t = 0, requires = "sim_fleet")]
    pub seed: u64,

    /// Checks that run at once (default: the number of CPUs).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub jobs: Option<u32>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub signature: SignatureArgs,

    /// Audit log (see the run's --audit).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Arguments for every plugin.
    #[arg(last = true)]
    pub args: Vec<String>,
}
