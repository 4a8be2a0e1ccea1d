//! `fwctl-run`: a thin binary over the `fwctl_run` library. It parses the command line,
//! calls the library in the order load → grant → discover → run → render, and turns the
//! result into an exit status.

mod args;
mod distribute;
mod fleet;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::sync::Arc;

use fwctl_run::atomic_file;
use fwctl_run::audit::{self, AuditLog, AuditTrail, PluginIdentity};
use fwctl_run::devices::Scope;
use fwctl_run::devices::sim::Credentials;
use fwctl_run::distribution::OciReference;
use fwctl_run::plugin::{self as plugin_file, Plugin, PluginSearchPath};
use fwctl_run::policy::{self, Grant, LimitOverrides, OperatorOptions, Policy};
use fwctl_run::report::{self, CompileInfo, DeviceListing, ExitStatus, PluginSummary, RunReport};
use fwctl_run::runner;
use fwctl_run::sandbox::{Sandbox, SandboxOptions};
use fwctl_run::signing::{self, SignatureStatus, TrustStore};
use fwctl_run::source::{DeviceSource, SourceChoice};

use self::args::{
    CacheArgs, Cli, Command, LimitArgs, ManifestAction, PolicyArgs, RpcArgs, RunArgs, SignatureArgs, SourceArgs,
    StoreArgs,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::List { source, json }) => list(&source, json),
        Some(Command::Inspect { plugin, policy, trust, json }) => inspect(&plugin, &policy, trust.as_deref(), json),
        Some(Command::Keygen { prefix }) => keygen(&prefix),
        Some(Command::Sign { plugin, key, output, detached }) => sign(&plugin, &key, output.as_deref(), detached),
        Some(Command::Verify { plugin, trust, json }) => verify(&plugin, trust.as_deref(), json),
        Some(Command::Manifest { action: ManifestAction::Set { plugin, manifest, output } }) => {
            set_manifest(&plugin, &manifest, output.as_deref())
        }
        Some(Command::Rpc(args)) => rpc(&args),
        Some(Command::Pull { reference, update, store, audit }) => {
            open_audit(audit).and_then(|log| distribute::pull(&reference, update, &store, &log))
        }
        Some(Command::Push { plugin, reference }) => distribute::push(&plugin, &reference),
        Some(Command::Fleet(args)) => fleet::run(args),
        Some(Command::Npd(args)) => fleet::npd(args),
        Some(Command::Man) => man(),
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
        None if source.kernel => SourceChoice::Kernel,
        None => SourceChoice::Auto,
    }
}

fn cache_dir(args: &CacheArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    args.cache_dir.clone().or_else(default_cache_dir)
}

/// `$FWCTL_RUN_CACHE_DIR`, else for root [`SYSTEM_CACHE_DIR`], else
/// `$XDG_CACHE_HOME/fwctl-run`, else `~/.cache/fwctl-run`.
///
/// A privileged process (root, or set-uid) derives nothing from `HOME` or `XDG_*`: under
/// `sudo -E` those name the invoking user's directories. Whatever the path, the cache
/// itself refuses a directory another user owns or can write.
fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FWCTL_RUN_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let (euid, uid) = (nix::unistd::geteuid(), nix::unistd::getuid());
    if euid.is_root() {
        return Some(PathBuf::from(SYSTEM_CACHE_DIR));
    }
    if euid != uid {
        return None;
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(|d| PathBuf::from(d).join("fwctl-run"))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/fwctl-run")))
}

/// Root's compile cache.
const SYSTEM_CACHE_DIR: &str = "/var/cache/fwctl-run";

/// Says why the compile cache was not used or what it discarded, if anything.
fn warn_about_cache(sandbox: &Sandbox) {
    if let Some(problem) = sandbox.cache_problem() {
        eprintln!("fwctl-run: warning: {problem}");
    }
}

/// A plugin that passed load → verify → grant, ready to compile.
struct Admitted {
    plugin: Plugin,
    identity: PluginIdentity,
    grant: Grant,
}

/// What admission looks at besides the plugin itself.
struct AdmissionRules<'a> {
    policy: &'a Policy,
    policy_args: &'a PolicyArgs,
    trust: &'a TrustStore,
    require_signed: bool,
    limits: &'a LimitArgs,
    store: &'a StoreArgs,
}

impl<'a> AdmissionRules<'a> {
    /// The operator's policy and trust store, from the command line or their defaults.
    fn resolve(policy: &PolicyArgs, signature: &SignatureArgs) -> Result<(Policy, TrustStore)> {
        Ok((Policy::resolve(policy.policy.as_deref())?, TrustStore::resolve(signature.trust.as_deref())?))
    }

    fn new(
        policy: &'a Policy,
        trust: &'a TrustStore,
        policy_args: &'a PolicyArgs,
        signature: &SignatureArgs,
        limits: &'a LimitArgs,
        store: &'a StoreArgs,
    ) -> Self {
        Self { policy, policy_args, trust, require_signed: signature.require_signed, limits, store }
    }
}

/// load → verify → grant for one plugin name. A refusal is on the audit trail before
/// the error comes back.
fn admit(name: &str, rules: &AdmissionRules<'_>, audit_log: &Arc<AuditLog>) -> Result<Admitted> {
    let plugin = if OciReference::is_reference(name) {
        load_from_registry(name, rules.store, audit_log)?
    } else {
        Plugin::find(name, &PluginSearchPath::from_env())?
    };
    let mut identity = PluginIdentity {
        name: plugin.manifest.name.clone(),
        version: plugin.manifest.version.clone(),
        sha256: plugin.digest.clone(),
        signer: None,
    };
    let refused = |identity: &PluginIdentity, why: String| {
        AuditTrail::new(audit_log.clone(), identity.clone()).record_refusal(&why);
        anyhow::anyhow!("{} was refused before it ran: {why}", plugin.manifest.name)
    };
    let signature =
        check_signature(&plugin, rules.trust, rules.policy, rules.require_signed).map_err(|e| refused(&identity, e))?;
    identity.signer = signature.signer().map(|s| format!("{} (key {})", s.name, s.key_id));
    let overrides = LimitOverrides {
        memory_mib: rules.limits.memory_mib,
        timeout_ms: rules.limits.timeout,
        rpcs: rules.limits.rpc_budget,
    };
    let grant = grant_for(&plugin, rules.policy, rules.policy_args, overrides, &signature)
        .map_err(|e| refused(&identity, format!("{e:#}")))?;
    Ok(Admitted { plugin, identity, grant })
}

fn run(args: RunArgs) -> Result<ExitStatus> {
    let Some(name) = args.plugin.as_deref() else {
        bail!("no plugin given; try `fwctl-run mlx5-diag.wasm` or `fwctl-run --help`");
    };
    // The trail is opened before anything else: a run that cannot be audited does not start.
    let audit_log = open_audit(args.audit.clone())?;
    // load → verify → grant → discover → run → render and audit
    let (policy, trust) = AdmissionRules::resolve(&args.policy, &args.signature)?;
    let rules = AdmissionRules::new(&policy, &trust, &args.policy, &args.signature, &args.limits, &args.store);
    let Admitted { plugin, identity, grant } = admit(name, &rules, &audit_log).inspect_err(|_| {
        let _ = audit_log.finish();
    })?;
    warn_about_taint(&grant);

    let source = DeviceSource::open(&source_choice(&args.source))?;
    let devices = select_devices(&source, &args.devices)?;

    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: cache_dir(&args.cache), ..Default::default() })?;
    let started = std::time::Instant::now();
    let prepared = sandbox.prepare(&plugin.bytes).with_context(|| plugin.path.display().to_string())?;
    warn_about_cache(&sandbox);
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
        Some(AuditTrail::new(audit_log.clone(), identity)),
    ));
    // A device that never answered still holds a blocking thread in its ioctl; its run is
    // already reported as timed out, so do not wait for it on the way out.
    runtime.shutdown_background();
    // The report is shown even when the record failed: what ran is exactly what an
    // operator needs to see then; the failure decides the exit status.
    let audited = audit_log.finish();

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
    if let Err(error) = audited {
        eprintln!("fwctl-run: error: {error}");
        return Ok(ExitStatus::CouldNotRun);
    }
    Ok(report.exit)
}

/// `fwctl-run man`: the manual page, from the same definitions as `--help`.
fn man() -> Result<ExitStatus> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    std::io::Write::write_all(&mut std::io::stdout(), &page)?;
    Ok(ExitStatus::Healthy)
}

fn open_audit(path: Option<PathBuf>) -> Result<Arc<AuditLog>> {
    Ok(Arc::new(AuditLog::open(&path.unwrap_or_else(audit::default_path))?))
}

/// An `oci://` plugin from the store (fetched by digest if need be), refused on the
/// record when it cannot be had intact.
fn load_from_registry(reference: &str, store: &StoreArgs, audit_log: &Arc<AuditLog>) -> Result<Plugin> {
    let fetched = distribute::fetch_for_run(reference, store).map_err(|e| {
        distribute::record_refusal(audit_log, reference, None, &format!("{e:#}"));
        e.context(format!("{reference} was refused before it ran"))
    })?;
    let plugin = Plugin::load(&fetched.path)?;
    // The file may have changed since it was checked; what runs is what was verified.
    if plugin.digest != fetched.wasm {
        let why = format!(
            "{} changed after it was checked: it hashes to {}, not {}",
            fetched.path.display(),
            plugin.digest,
            fetched.wasm
        );
        distribute::record_refusal(audit_log, reference, Some(&fetched.wasm), &why);
        bail!("{reference} was refused before it ran: {why}");
    }
    Ok(plugin)
}

/// The plugin's signatures against the trust store (embedded, or a `PLUGIN.sig` beside
/// it), and whether an unsigned plugin may run at all.
fn check_signature(
    plugin: &Plugin,
    trust: &TrustStore,
    policy: &Policy,
    require_signed: bool,
) -> std::result::Result<SignatureStatus, String> {
    let sig_path = signing::detached_signature_path(&plugin.path);
    let detached = match std::fs::read(&sig_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", sig_path.display())),
    };
    let status = signing::verify(
        &plugin.bytes,
        &plugin.digest,
        detached.as_deref(),
        trust,
        policy.allow_partial_signatures,
        std::time::SystemTime::now(),
    )
    .map_err(|e| format!("signature: {e}"))?;
    if status == SignatureStatus::Unsigned && (require_signed || policy.require_signed) {
        let by = if require_signed { "--require-signed".to_string() } else { format!("policy {}", policy.origin) };
        return Err(format!("unsigned, and {by} requires a signature from a trusted key"));
    }
    Ok(status)
}

/// The grant under the operator's policy and choices, for the plugin's signer.
fn grant_for(
    plugin: &Plugin,
    policy: &Policy,
    args: &PolicyArgs,
    limits: LimitOverrides,
    signature: &SignatureStatus,
) -> Result<Grant> {
    let signers = match signature {
        SignatureStatus::Verified { signers, .. } => {
            signers.iter().map(|s| s.name.as_str()).collect::<std::collections::BTreeSet<_>>().len()
        }
        SignatureStatus::Unsigned => 0,
    };
    let options = OperatorOptions {
        limits,
        allow_taint: args.allow_taint,
        cap_sys_rawio: Credentials::of_current_process().cap_sys_rawio,
        signer: signature.signer().map(|s| s.name.clone()),
        signer_count: signers,
    };
    Ok(policy::grant(&plugin.manifest, policy, &options)?)
}

/// Says loudly, before anything runs, that this run may taint the kernel.
fn warn_about_taint(grant: &Grant) {
    for (kind, scope) in grant.tainting() {
        eprintln!(
            "fwctl-run: WARNING: this run is granted {scope} on {kind} devices; the first RPC at that scope \
             TAINTS THE KERNEL (TAINT_FWCTL) until the next reboot"
        );
    }
}

/// `fwctl-run manifest set`.
fn set_manifest(
    plugin: &std::path::Path,
    manifest: &std::path::Path,
    output: Option<&std::path::Path>,
) -> Result<ExitStatus> {
    let component = std::fs::read(plugin).with_context(|| format!("reading {}", plugin.display()))?;
    let toml = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let rewritten = plugin_file::set_manifest(&component, &toml)
        .with_context(|| format!("embedding {} in {}", manifest.display(), plugin.display()))?;
    let target = output.unwrap_or(plugin);
    // A crash leaves the old file whole; the plugin keeps its mode (readable by packagers).
    atomic_file::replace(target, &rewritten, atomic_file::mode_to_keep(target, plugin))?;
    let loaded = Plugin::load(target)?;
    println!(
        "{}: manifest of {} {} embedded ({})",
        target.display(),
        loaded.manifest.name,
        loaded.manifest.version,
        loaded.digest
    );
    println!("note: the file changed; a signature made before this no longer covers it");
    Ok(ExitStatus::Healthy)
}

/// `fwctl-run keygen PREFIX`.
fn keygen(prefix: &std::path::Path) -> Result<ExitStatus> {
    let (secret, public) = signing::keygen(prefix)?;
    let id = signing::key_id(&wasmsign2_public(&public)?);
    println!(
        "secret key: {} (keep it private)\npublic key: {} (key id {id}; add it to the trust store)",
        secret.display(),
        public.display()
    );
    Ok(ExitStatus::Healthy)
}

fn wasmsign2_public(path: &std::path::Path) -> Result<fwctl_run::signing::PublicKey> {
    fwctl_run::signing::PublicKey::from_any_file(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `fwctl-run sign PLUGIN --key KEY`.
fn sign(
    plugin: &std::path::Path,
    key: &std::path::Path,
    output: Option<&std::path::Path>,
    detached: bool,
) -> Result<ExitStatus> {
    let component = std::fs::read(plugin).with_context(|| format!("reading {}", plugin.display()))?;
    let secret = signing::load_secret_key(key)?;
    let (signed, signature) = signing::sign(&component, &secret, detached)?;
    let target = output.unwrap_or(plugin);
    if detached {
        // The plugin keeps its bytes; the signature goes beside it.
        let sig_path = signing::detached_signature_path(target);
        std::fs::write(&sig_path, &signature).with_context(|| format!("writing {}", sig_path.display()))?;
        println!("{}: detached signature written to {}", plugin.display(), sig_path.display());
    } else {
        atomic_file::replace(target, &signed, atomic_file::mode_to_keep(target, plugin))?;
        println!("{}: signed", target.display());
    }
    Ok(ExitStatus::Healthy)
}

/// `fwctl-run verify PLUGIN [--trust DIR]`.
fn verify(name: &str, trust_dir: Option<&std::path::Path>, json: bool) -> Result<ExitStatus> {
    let plugin = Plugin::find(name, &PluginSearchPath::from_env())?;
    let trust = TrustStore::resolve(trust_dir)?;
    let policy = Policy::resolve(None)?;
    let result = check_signature(&plugin, &trust, &policy, false);
    // What a denylist entry should name to deny the plugin however it is re-signed.
    let content = signing::content_digest(&plugin.bytes);
    if json {
        let doc = match &result {
            Ok(status) => {
                serde_json::json!({ "path": plugin.path, "digest": plugin.digest, "content_digest": content, "trust": trust.origin, "signature": status })
            }
            Err(reason) => {
                serde_json::json!({ "path": plugin.path, "digest": plugin.digest, "content_digest": content, "trust": trust.origin, "refused": reason })
            }
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{} ({})", plugin.path.display(), plugin.digest);
        if let Some(content) = &content {
            println!("content: {content} (without signatures: deny this to deny it however it is signed)");
        }
        match &result {
            Ok(SignatureStatus::Unsigned) => println!("unsigned"),
            Ok(SignatureStatus::Verified { signers, ignored }) => {
                for s in signers {
                    let partial = if s.partial { " (partial: policy allows it)" } else { "" };
                    println!("signed by {} (key {}): trusted{partial}", s.name, s.key_id);
                }
                for i in ignored {
                    println!("ignored: {i}");
                }
            }
            Err(reason) => println!("refused: {reason}"),
        }
    }
    Ok(match result {
        Ok(SignatureStatus::Verified { .. }) => ExitStatus::Healthy,
        _ => ExitStatus::CouldNotRun,
    })
}

fn select_devices(source: &DeviceSource, wanted: &[String]) -> Result<Vec<fwctl_run::devices::DeviceDescriptor>> {
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

fn inspect(
    name: &str,
    policy_args: &PolicyArgs,
    trust_dir: Option<&std::path::Path>,
    json: bool,
) -> Result<ExitStatus> {
    let plugin = Plugin::find(name, &PluginSearchPath::from_env())?;
    let sandbox = Sandbox::new(&SandboxOptions { cache_dir: default_cache_dir(), ..Default::default() })?;
    let shape = sandbox.describe(&plugin.bytes)?;
    let world_ok = sandbox.prepare(&plugin.bytes).map(|_| ()).map_err(|e| e.to_string());
    warn_about_cache(&sandbox);
    let policy = Policy::resolve(policy_args.policy.as_deref())?;
    let trust = TrustStore::resolve(trust_dir)?;
    let signature = check_signature(&plugin, &trust, &policy, false);
    let grant = match &signature {
        Ok(status) => {
            grant_for(&plugin, &policy, policy_args, LimitOverrides::default(), status).map_err(|e| format!("{e:#}"))
        }
        Err(e) => Err(e.clone()),
    };
    if json {
        let doc = serde_json::json!({
            "path": plugin.path.display().to_string(),
            "digest": plugin.digest,
            "size": plugin.bytes.len(),
            "manifest": plugin.manifest,
            "world": { "matches": world_ok.is_ok(), "error": world_ok.as_ref().err(), "name": fwctl_run::sandbox::PLUGIN_WORLD },
            "imports": shape.imports,
            "exports": shape.exports,
            "signature": signature.as_ref().ok(),
            "signature_refused": signature.as_ref().err(),
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
        match &signature {
            Ok(SignatureStatus::Unsigned) => println!("signed:  no"),
            Ok(SignatureStatus::Verified { signers, .. }) => {
                let who: Vec<_> = signers.iter().map(|s| format!("{} (key {})", s.name, s.key_id)).collect();
                println!("signed:  by {}", who.join(", "));
            }
            Err(e) => println!("signed:  refused: {e}"),
        }
        match &world_ok {
            Ok(()) => println!("world:   {} (matches)", fwctl_run::sandbox::PLUGIN_WORLD),
            Err(e) => println!("world:   does NOT match {}: {e}", fwctl_run::sandbox::PLUGIN_WORLD),
        }
        println!("imports: {}", shape.imports.join(", "));
        println!("exports: {}", shape.exports.join(", "));
        for (kind, request) in &m.devices {
            let optional = match request.max_scope {
                Some(max) if max > request.scope => format!(", up to {max} when allowed"),
                _ => String::new(),
            };
            println!("asks:    {kind} at {}{optional}", request.scope);
        }
        match &grant {
            Ok(g) => {
                let scopes: Vec<_> = g.devices.iter().map(|(k, kg)| format!("{k} at {}", kg.scope)).collect();
                println!(
                    "grant:   {} under policy entry `{}` (memory {} MiB, timeout {} ms, {} RPCs)",
                    scopes.join(", "),
                    g.policy_entry,
                    g.limits.memory_bytes >> 20,
                    g.limits.timeout.as_millis(),
                    g.limits.rpc_budget
                );
                for (kind, kg) in &g.devices {
                    if let Some(why) = &kg.withheld {
                        println!("         {kind}: less than asked: {why}");
                    }
                    println!("         {kind}: {}", describe_writes(&kg.writes));
                }
            }
            Err(e) => println!("grant:   refused: {e}"),
        }
    }
    Ok(if world_ok.is_ok() && grant.is_ok() { ExitStatus::Healthy } else { ExitStatus::CouldNotRun })
}

/// What a plugin may write on one kind, for `inspect`.
fn describe_writes(writes: &fwctl_run::policy::WriteGrant) -> String {
    use fwctl_run::proto::mlx5::{commands, registers};
    if writes.declares_nothing() {
        return "writes: none (reads only)".into();
    }
    let mut targets: Vec<String> = writes
        .opcodes
        .iter()
        .map(|&op| commands::name(op).map_or_else(|| format!("opcode {op:#06x}"), |n| format!("{n} ({op:#06x})")))
        .collect();
    targets.extend(writes.registers.iter().map(|&r| registers::describe(r)));
    targets.extend(writes.features.iter().map(|u| format!("Feature {}", fwctl_run::proto::cxl::Uuid(*u))));
    if writes.any_feature {
        targets.push("any changeable Feature".into());
    }
    match &writes.withheld {
        None => format!("writes granted: {}", targets.join(", ")),
        Some(why) => format!("writes declared but not granted ({why}): {}", targets.join(", ")),
    }
}

fn rpc(args: &RpcArgs) -> Result<ExitStatus> {
    let RpcArgs { device, scope, request, out_len, policy, audit, source, json } = args;
    let (device, out_len, json) = (device.as_str(), *out_len, *json);
    let scope: Scope = scope.parse().map_err(anyhow::Error::msg)?;
    // The same rules as for plugins: nothing taints the kernel unless the policy allows it
    // on this host and the operator says so for this call.
    if scope.taints_kernel() {
        let host_policy = Policy::resolve(policy.policy.as_deref())?;
        if !host_policy.allow_taint {
            bail!("scope {scope} taints the kernel, and policy {} sets allow-taint = false", host_policy.origin);
        }
        if !policy.allow_taint {
            bail!("scope {scope} taints the kernel; pass --allow-taint to send this RPC anyway");
        }
    }
    // Checked before anything is allocated: the kernel refuses more with EMSGSIZE anyway.
    if out_len as usize > fwctl_run::devices::uapi::MAX_RPC_LEN {
        bail!("--out-len {out_len} is above fwctl's {}-byte limit", fwctl_run::devices::uapi::MAX_RPC_LEN);
    }
    let audit_path = audit.clone();
    let hex_text: String = request.concat().chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
    let input = hex::decode(hex_text.trim_start_matches("0x")).context("the request is not valid hex")?;
    let source = DeviceSource::open(&source_choice(source))?;
    let descriptor =
        source.devices.iter().find(|d| d.name == device).with_context(|| format!("no device `{device}`"))?;
    if let Some(why) = descriptor.kind.carries_user_addresses() {
        bail!("fwctl-run sends no raw RPCs to {device}: {why}");
    }
    let audit_log = Arc::new(AuditLog::open(&audit_path.unwrap_or_else(audit::default_path))?);
    // The operator's own call: no plugin, so the tool itself is named.
    let operator = PluginIdentity {
        name: "fwctl-run rpc".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        sha256: String::new(),
        signer: None,
    };
    let trail = AuditTrail::new(audit_log.clone(), operator);
    let mut handle = source.backend.open(descriptor).with_context(|| format!("opening {}", descriptor.node))?;
    // The node may have been reused by another device since discovery (hot plug).
    let info = handle.info().with_context(|| format!("FWCTL_INFO on {}", descriptor.node))?;
    if fwctl_run::devices::DeviceKind::from_raw(info.device_type) != Some(descriptor.kind) {
        bail!(
            "{device} was discovered as a {} device but now answers as device type {}; nothing was sent",
            descriptor.kind,
            info.device_type
        );
    }
    let classification = fwctl_run::policy::classify(descriptor.kind, &input);
    let attempt =
        audit::Attempt { scope, request: &input, response_capacity: out_len as usize, classification: &classification };
    // On the record before it reaches the device, as for plugins.
    let Some(seq) = trail.record_sent(descriptor, attempt) else {
        let _ = audit_log.finish();
        bail!("cannot write the audit log {}, so the RPC was not sent", audit_log.path().display());
    };
    let mut response = vec![0u8; out_len as usize];
    let started = std::time::Instant::now();
    let result = handle.rpc(scope.raw(), &input, &mut response);
    let outcome = match &result {
        Ok(length) => audit::answered(descriptor.kind, &response, *length),
        Err(nix::errno::Errno::ENODEV) => audit::Outcome::Gone,
        Err(errno) => audit::Outcome::Errno { errno: format!("{errno:?}") },
    };
    trail.record(descriptor, attempt, Some(seq), outcome, started.elapsed());
    audit_log.finish()?;
    match result {
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
