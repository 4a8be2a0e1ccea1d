//! `fwctl-run`: a thin binary over the `fwctl_run` library. It parses the command line,
//! calls the library in the order load → grant → discover → run → render, and turns the
//! result into an exit status.

mod args;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use fwctl_run::devices::Scope;
use fwctl_run::plugin::{Plugin, PluginSearchPath};
use fwctl_run::policy::{self, LimitOverrides, Policy};
use fwctl_run::report::{self, CompileInfo, DeviceListing, ExitStatus, PluginSummary, RunReport};
use fwctl_run::runner;
use fwctl_run::sandbox::{Sandbox, SandboxOptions};
use fwctl_run::source::{DeviceSource, SourceChoice};

use self::args::{Cli, Command, RunArgs, SourceArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::List { source, json }) => list(&source, json),
        Some(Command::Inspect { plugin, json }) => inspect(&plugin, json),
        Some(Command::Rpc { device, scope, request, out_len, source, json }) => {
            rpc(&device, &scope, &request, out_len, &source, json)
        }
        None => run(cli.run),
    };
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            eprintln!("fwctl-run: error: {error:#}");
            ExitCode::from(ExitStatus::CouldNotRun.code())
        }
    }
}

fn source_choice(source: &SourceArgs) -> SourceChoice {
    match &source.sim {
        Some(profile) if profile == "default" => SourceChoice::Simulated(None),
        Some(profile) => SourceChoice::Simulated(Some(profile.clone())),
        None => SourceChoice::Auto,
    }
}

fn cache_dir(args: &RunArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    args.cache_dir.clone().or_else(default_cache_dir)
}

/// `$FWCTL_RUN_CACHE_DIR`, else `$XDG_CACHE_HOME/fwctl-run`, else `~/.cache/fwctl-run`.
fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("FWCTL_RUN_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("fwctl-run")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/fwctl-run")))
}

fn run(args: RunArgs) -> Result<ExitStatus> {
    let Some(name) = args.plugin.as_deref() else {
        bail!("no plugin given; try `fwctl-run mlx5-diag.wasm` or `fwctl-run --help`");
    };
    // load (signature verification will sit here) → grant → discover → run → render
    let plugin = Plugin::find(name, &PluginSearchPath::from_env())?;
    let overrides =
        LimitOverrides { memory_mib: args.memory_mib, timeout_ms: args.timeout, rpcs: args.rpc_budget };
    let grant = policy::grant(&plugin.manifest, &Policy::builtin(), &overrides)
        .with_context(|| format!("{} was refused before it ran", plugin.manifest.name))?;

    let source = DeviceSource::open(&source_choice(&args.source))?;
    let devices = select_devices(&source, &args.devices)?;

    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: cache_dir(&args) })?;
    let started = std::time::Instant::now();
    let prepared = sandbox.prepare(&plugin.bytes).with_context(|| plugin.path.display().to_string())?;
    let compile = CompileInfo {
        cache: match sandbox.cache_stats() {
            None => "disabled",
            Some((hits, _)) if hits > 0 => "hit",
            Some(_) => "miss",
        },
        prepare_ms: started.elapsed().as_secs_f64() * 1e3,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let runs = runtime.block_on(runner::run_on_devices(
        &plugin.manifest.name,
        &prepared,
        &grant,
        source.backend.clone(),
        &devices,
        &args.args,
    ));
    // A device that never answered still holds a blocking thread in its ioctl; its run is
    // already reported as timed out, so do not wait for it on the way out.
    runtime.shutdown_background();

    let summary = PluginSummary {
        name: plugin.manifest.name.clone(),
        version: plugin.manifest.version.clone(),
        vendor: plugin.manifest.vendor.clone(),
        digest: plugin.digest.clone(),
        path: plugin.path.display().to_string(),
    };
    let report = RunReport::new(summary, source.info, grant, compile, runs);
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report::render_run(&report, args.verbose));
    }
    Ok(report.exit)
}

fn select_devices(
    source: &DeviceSource,
    wanted: &[String],
) -> Result<Vec<fwctl_run::devices::DeviceDescriptor>> {
    if wanted.is_empty() {
        return Ok(source.devices.clone());
    }
    let present: Vec<_> = source.devices.iter().map(|d| d.name.as_str()).collect();
    for name in wanted {
        if !present.contains(&name.as_str()) {
            bail!("no device `{name}`; present: {}", present.join(", "));
        }
    }
    Ok(source.devices.iter().filter(|d| wanted.contains(&d.name)).cloned().collect())
}

fn list(source: &SourceArgs, json: bool) -> Result<ExitStatus> {
    let source = DeviceSource::open(&source_choice(source))?;
    let listings: Vec<_> = source
        .devices
        .iter()
        .map(|d| {
            let info = source.backend.open(d).and_then(|mut h| h.info()).map(|i| i.device_data);
            DeviceListing::new(d.clone(), info)
        })
        .collect();
    if json {
        let doc = serde_json::json!({ "source": source.info, "devices": listings });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", report::render_device_list(&source.info, &listings));
    }
    Ok(ExitStatus::Healthy)
}

fn inspect(name: &str, json: bool) -> Result<ExitStatus> {
    let plugin = Plugin::find(name, &PluginSearchPath::from_env())?;
    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: default_cache_dir() })?;
    let shape = sandbox.describe(&plugin.bytes)?;
    let world_ok = sandbox.prepare(&plugin.bytes).map(|_| ()).map_err(|e| e.to_string());
    let grant = policy::grant(&plugin.manifest, &Policy::builtin(), &LimitOverrides::default())
        .map_err(|e| e.to_string());
    if json {
        let doc = serde_json::json!({
            "path": plugin.path.display().to_string(),
            "digest": plugin.digest,
            "size": plugin.bytes.len(),
            "manifest": plugin.manifest,
            "world": { "matches": world_ok.is_ok(), "error": world_ok.as_ref().err(), "name": "fwctl:plugin/plugin@0.1.0" },
            "imports": shape.imports,
            "exports": shape.exports,
            "grant": grant.as_ref().ok(),
            "grant_refused": grant.as_ref().err(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let m = &plugin.manifest;
        println!("{} {} by {}", m.name, m.version, m.vendor);
        if !m.description.is_empty() {
            println!("  {}", m.description);
        }
        println!("file:    {} ({} bytes)", plugin.path.display(), plugin.bytes.len());
        println!("digest:  {}", plugin.digest);
        match &world_ok {
            Ok(()) => println!("world:   fwctl:plugin/plugin@0.1.0 (matches)"),
            Err(e) => println!("world:   does NOT match fwctl:plugin/plugin@0.1.0: {e}"),
        }
        println!("imports: {}", shape.imports.join(", "));
        println!("exports: {}", shape.exports.join(", "));
        for (kind, request) in &m.devices {
            println!("asks:    {kind} at {}", request.scope);
        }
        match &grant {
            Ok(g) => {
                let scopes: Vec<_> = g.scopes.iter().map(|(k, s)| format!("{k} at {s}")).collect();
                println!(
                    "grant:   {} (memory {} MiB, timeout {} ms, {} RPCs)",
                    scopes.join(", "),
                    g.limits.memory_bytes >> 20,
                    g.limits.timeout.as_millis(),
                    g.limits.rpc_budget
                );
            }
            Err(e) => println!("grant:   refused: {e}"),
        }
    }
    Ok(if world_ok.is_ok() && grant.is_ok() { ExitStatus::Healthy } else { ExitStatus::CouldNotRun })
}

fn rpc(device: &str, scope: &str, request: &[String], out_len: u32, source: &SourceArgs, json: bool) -> Result<ExitStatus> {
    let scope: Scope = scope.parse().map_err(anyhow::Error::msg)?;
    let hex_text: String = request.concat().chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
    let input = hex::decode(hex_text.trim_start_matches("0x")).context("the request is not valid hex")?;
    let source = DeviceSource::open(&source_choice(source))?;
    let descriptor = source
        .devices
        .iter()
        .find(|d| d.name == device)
        .with_context(|| format!("no device `{device}`"))?;
    let mut handle = source.backend.open(descriptor).with_context(|| format!("opening {}", descriptor.node))?;
    let mut response = vec![0u8; out_len as usize];
    match handle.rpc(scope.raw(), &input, &mut response) {
        Ok(length) => {
            response.truncate(length.min(out_len as usize));
            if json {
                let doc = serde_json::json!({ "device": device, "scope": scope, "out_len": length, "response": hex::encode(&response), "simulated": source.info.simulated });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                let note = if source.info.simulated { " (simulated device)" } else { "" };
                println!("out_len {length}{note}");
                for (row, chunk) in response.chunks(16).enumerate() {
                    println!("{:06x}  {}", row * 16, hex::encode(chunk));
                }
            }
            Ok(ExitStatus::Healthy)
        }
        Err(errno) => bail!("FWCTL_RPC on {device} failed: {errno:?}: {}", fwctl_run::devices::errno::meaning(errno)),
    }
}
