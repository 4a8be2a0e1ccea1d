//! `fwctl-run fleet`: admit the plugins, open the devices, run every check, report.
//! [`check_fleet`] is shared with `npd`, which answers from the same run.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use fwctl_run::admission::Admitted;
use fwctl_run::audit::{AuditError, AuditLog, AuditTrail};
use fwctl_run::devices::DeviceKind;
use fwctl_run::devices::sim::SyntheticSpec;
use fwctl_run::fleet::{self, FleetOptions, FleetPlugin, FleetResult, PluginRef, Stop};
use fwctl_run::plugin::PluginSearchPath;
use fwctl_run::report::{self, ExitStatus, Exposition, FleetReport, FleetTable, JsonDocument, Refusal};
use fwctl_run::sandbox::{InstancePool, Sandbox, SandboxOptions};
use fwctl_run::source::{DeviceSource, SourceChoice, SourceInfo};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nix::sys::signal::{SigSet, Signal};
use tokio::sync::watch;

use crate::options::{AdmissionArgs, SourceArgs, StateArgs, warn_about_cache, warn_about_taint};

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
pub struct FleetCommand {
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
    pub admission: AdmissionArgs,

    /// Arguments for one plugin, by its manifest name, split as a shell would:
    /// `--plugin-args mlx5-diag='--ber-threshold 1e-12'` (repeatable; `NAME=` for none).
    /// A plugin without its own gets the arguments after `--`.
    #[arg(long = "plugin-args", value_name = "NAME=ARGS")]
    pub plugin_args: Vec<String>,

    /// Fleet configuration (TOML) with each plugin's own arguments,
    /// `[plugins.mlx5-diag] args = ["--ber-threshold", "1e-12"]`; --plugin-args for the
    /// same plugin replaces its entry.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Arguments for every plugin that has no --plugin-args of its own.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// A fleet configuration file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetConfig {
    /// Per plugin, by manifest name.
    #[serde(default)]
    plugins: std::collections::BTreeMap<String, PluginConfig>,
}

/// One plugin's entry in the fleet configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginConfig {
    /// Its arguments, one word each (no shell splitting).
    args: Vec<String>,
}

/// Each plugin's own arguments, and where they were given (for a refusal that names it).
type OwnArgs = std::collections::BTreeMap<String, (Vec<String>, String)>;

impl FleetCommon {
    /// Checks at once: `--jobs`, else the number of CPUs.
    pub(crate) fn jobs(&self) -> usize {
        self.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get), |j| j as usize)
    }

    /// Each plugin's own arguments, by name: the configuration file's, then those of
    /// `--plugin-args`, which replace them.
    pub(crate) fn own_args(&self) -> Result<OwnArgs> {
        let mut own = OwnArgs::new();
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the fleet configuration {}", path.display()))?;
            let config: FleetConfig =
                toml::from_str(&text).with_context(|| format!("the fleet configuration {}", path.display()))?;
            for (name, plugin) in config.plugins {
                own.insert(name, (plugin.args, format!("the fleet configuration {}", path.display())));
            }
        }
        let mut given_here = std::collections::BTreeSet::new();
        for given in &self.plugin_args {
            let (name, args) =
                given.split_once('=').with_context(|| format!("--plugin-args {given:?}: expected NAME=ARGS"))?;
            let args = shlex::split(args)
                .with_context(|| format!("--plugin-args {given:?}: unbalanced quotes in the arguments"))?;
            if !given_here.insert(name.to_string()) {
                bail!("--plugin-args names `{name}` twice");
            }
            own.insert(name.to_string(), (args, "--plugin-args".to_string()));
        }
        Ok(own)
    }
}

/// How one fleet run is carried out, besides its flags.
pub struct Conduct {
    /// Bounds the whole run; each check's own deadline is cut to fit.
    pub deadline: Option<Duration>,
    /// Whether a progress bar may be drawn (on a terminal only).
    pub progress: Progress,
    /// Whether every result is kept for the report, or only the summary.
    pub results: Retention,
}

/// Whether a fleet run shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A bar on stderr when it is a terminal.
    Bar,
    /// Nothing.
    Hidden,
}

/// What a fleet run keeps of its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Every result, for a report that lists them.
    All,
    /// Only the summary: results are handed over as they end and then dropped.
    SummaryOnly,
}

impl FleetCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        // Every format is written as results arrive or kept compact: a fleet's memory does
        // not grow with what each check reported.
        let mut outputs = Outputs {
            format: self.format,
            json: None,
            table: FleetTable::default(),
            exposition: (self.textfile.is_some() || self.format == FleetFormat::Openmetrics).then(Exposition::default),
        };
        let conduct = Conduct { deadline: None, progress: Progress::Bar, results: Retention::SummaryOnly };
        let (report, audited) = check_fleet(&self.common, &conduct, &mut outputs)?;
        let metrics = outputs.exposition.take().map(|e| finish_exposition(e, &report, self.textfile.as_deref()));
        if let (Some(dir), Some(metrics)) = (&self.textfile, &metrics) {
            report::write_textfile_with(dir, |out| metrics.write_prometheus(out))?;
        }
        match self.format {
            FleetFormat::Human => {
                print!("{}", outputs.table.render(&report.source, &report.refused, &report.summary, report.exit))
            }
            FleetFormat::Json => match outputs.json {
                Some(document) => document.end(&report.summary, report.exit)?,
                None => println!("{}", report.to_json()),
            },
            FleetFormat::Jsonl => println!("{}", report.summary_line()),
            FleetFormat::Openmetrics => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                let metrics = metrics.as_ref().expect("built for this format");
                metrics.write_openmetrics(&mut out).and_then(|()| out.flush())?;
            }
        }
        if self.format != FleetFormat::Human && std::io::stderr().is_terminal() {
            eprintln!("{}", report.summary.line());
        }
        // The results were shown whatever the record's fate; its failure decides the status.
        if let Err(error) = audited {
            eprintln!("fwctl-run: error: {error}");
            return Ok(ExitStatus::CouldNotRun);
        }
        Ok(report.exit)
    }
}

/// What a fleet run's results go to as they arrive.
pub trait Sink {
    /// Once, after admission and discovery, before the first check.
    fn start(&mut self, _source: &SourceInfo, _plugins: &[PluginRef], _refused: &[Refusal]) {}
    /// Each result, as its check ends.
    fn result(&mut self, result: &FleetResult);
}

/// The outputs of `fleet`, fed as results arrive.
struct Outputs {
    format: FleetFormat,
    /// The JSON document, once its header is written.
    json: Option<JsonDocument<std::io::Stdout>>,
    /// What the table shows of each result.
    table: FleetTable,
    /// The samples, for the textfile or OpenMetrics.
    exposition: Option<Exposition>,
}

impl Sink for Outputs {
    fn start(&mut self, source: &SourceInfo, plugins: &[PluginRef], refused: &[Refusal]) {
        if self.format == FleetFormat::Json {
            self.json = JsonDocument::begin(std::io::stdout(), source, plugins, refused).ok();
        }
    }

    fn result(&mut self, result: &FleetResult) {
        match self.format {
            FleetFormat::Human => self.table.push(result),
            FleetFormat::Json => {
                if let Some(document) = &mut self.json {
                    let _ = document.result(result);
                }
            }
            FleetFormat::Jsonl => {
                let mut line = report::result_line(result);
                line.push(b'\n');
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&line);
                let _ = out.flush();
            }
            FleetFormat::Openmetrics => {}
        }
        if let Some(exposition) = &mut self.exposition {
            exposition.add_result(result);
        }
    }
}

/// Admits the plugins, opens the devices and runs every check; `sink` sees the run's
/// plugins and refusals before the first check and each result as it ends. The report comes back with the audit log's fate.
pub fn check_fleet(
    args: &FleetCommon,
    conduct: &Conduct,
    sink: &mut impl Sink,
) -> Result<(FleetReport, Result<(), AuditError>)> {
    let started = Instant::now();
    // First of all, before any thread is started (the epoch ticker, the runtime's): they
    // inherit the blocked signal mask.
    let (stop_sender, stop) = watch::channel(Stop::Running);
    let stop_sender_for_deadline = stop_sender.clone();
    forward_stop_signals(stop_sender);
    let audit_log = args.admission.audit.open()?;
    let source = open_devices(args)?;
    let kinds: BTreeSet<DeviceKind> = source.devices.iter().map(|d| d.kind).collect();
    let (mut admitted, mut refused) = admit_plugins(args, Some(&kinds), &audit_log)?;
    for Admitted { grant, .. } in &mut admitted {
        warn_about_taint(grant);
        if let Some(deadline) = conduct.deadline {
            grant.limits.fit_within(deadline);
        }
    }
    let jobs = args.jobs();
    let mut own_args = args.own_args()?;
    let mut plugins = prepare(admitted, &args.admission, jobs, &audit_log, &mut refused)?;
    for plugin in &mut plugins {
        plugin.args = own_args.remove(&plugin.plugin.name).map_or_else(|| args.args.clone(), |(own, _)| own);
    }
    if let Some((name, (_, source))) = own_args.iter().next() {
        let names: Vec<&str> = plugins.iter().map(|p| p.plugin.name.as_str()).collect();
        let _ = audit_log.finish();
        bail!("{source} names `{name}`, which is not a plugin of this run (they are: {})", names.join(", "));
    }
    if plugins.is_empty() {
        let reasons: Vec<String> = refused.iter().map(|r| format!("{}: {}", r.plugin, r.reason)).collect();
        let _ = audit_log.finish();
        bail!("no plugin could run:\n  {}", reasons.join("\n  "));
    }

    let host =
        nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
    let options = FleetOptions { jobs, host, retain: conduct.results == Retention::All, gather: fleet::GATHER };
    let plugin_refs: Vec<PluginRef> = plugins.iter().map(|p| p.plugin.clone()).collect();
    let deadline = conduct.deadline.map(|after| (started + after, stop_sender_for_deadline));
    sink.start(&source.info, &plugin_refs, &refused);
    let states: Vec<_> = plugins.iter().filter_map(|p| p.state.clone()).collect();
    let outcome = run_checks(&source, plugins, &options, (stop, deadline), conduct.progress, sink)?;
    StateArgs::finish(states);
    let audited = audit_log.finish();
    Ok((FleetReport::new(source.info, plugin_refs, refused, outcome.results, outcome.summary), audited))
}

/// Runs every check of `plugins` on `source`'s devices until done or stopped (by a signal,
/// or at the deadline's instant, through its sender).
pub(crate) fn run_checks(
    source: &DeviceSource,
    plugins: Vec<FleetPlugin>,
    options: &FleetOptions,
    (stop, deadline): (watch::Receiver<Stop>, Option<(Instant, watch::Sender<Stop>)>),
    shown: Progress,
    sink: &mut impl Sink,
) -> Result<fleet::FleetOutcome> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    if let Some((at, stopper)) = deadline {
        // The deadline counts from the start: admission and compilation are part of it.
        let at = tokio::time::Instant::from_std(at);
        runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            stopper.send_replace(Stop::Abort);
        });
    }
    let checks: usize =
        source.devices.iter().map(|d| plugins.iter().filter(|p| p.grant.for_kind(d.kind).is_some()).count()).sum();
    let progress = match shown {
        Progress::Bar => progress_bar(checks as u64),
        Progress::Hidden => ProgressBar::hidden(),
    };
    let outcome = runtime.block_on(fleet::run_fleet(
        plugins.into(),
        source.backend.clone(),
        &source.devices,
        options,
        stop,
        |result| {
            if result.plugin.is_some() {
                progress.inc(1);
            }
            progress.suspend(|| sink.result(result));
        },
    ));
    progress.finish_and_clear();
    // A device that never answered still holds a blocking thread in its ioctl; its check
    // is already reported as timed out, so do not wait for it on the way out.
    runtime.shutdown_background();
    Ok(outcome)
}

/// The kernel's devices, the simulator, or a simulated fleet. Monitoring reports on
/// hardware only: the simulator only when asked for (`--sim`), never because the host
/// happens to have no fwctl device.
pub(crate) fn open_devices(args: &FleetCommon) -> Result<DeviceSource> {
    Ok(match &args.sim_fleet {
        Some(spec) => {
            let spec: SyntheticSpec = spec.parse().map_err(|e: String| anyhow::anyhow!("--sim-fleet {e}"))?;
            DeviceSource::synthetic(&spec, args.seed)?
        }
        None => DeviceSource::open(&match args.source.choice() {
            SourceChoice::Auto => SourceChoice::Kernel,
            chosen => chosen,
        })?,
    })
}

/// load → verify → grant, per plugin: the ones named, else every installed one (that
/// handles one of `kinds`, when given). One refused plugin does not stop the others.
pub(crate) fn admit_plugins(
    args: &FleetCommon,
    kinds: Option<&BTreeSet<DeviceKind>>,
    audit_log: &Arc<AuditLog>,
) -> Result<(Vec<Admitted>, Vec<Refusal>)> {
    let explicit = !args.plugins.is_empty();
    let search = PluginSearchPath::from_env();
    let names: Vec<String> = if explicit {
        args.plugins.clone()
    } else {
        search.installed().iter().map(|p| p.display().to_string()).collect()
    };
    let (policy, trust) = args.admission.policy_and_trust()?;
    let admission = args.admission.admission(&policy, &trust)?;
    let (mut admitted, refused) = admission.admit_all(&names, audit_log);
    let refused: Vec<Refusal> =
        refused.into_iter().map(|(plugin, error)| Refusal { plugin, reason: error.to_string() }).collect();
    if !explicit && let Some(kinds) = kinds {
        // Installed plugins for kinds of device this host does not have are not needed.
        admitted.retain(|a| a.plugin.manifest.devices.keys().any(|k| kinds.contains(k)));
        if admitted.is_empty() && refused.is_empty() {
            let dirs: Vec<String> = search.plugin_dirs().map(|d| d.display().to_string()).collect();
            let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
            bail!(
                "no plugin given, and none of the {} installed in {} handles this host's devices ({}); name plugins, e.g. `fwctl-run fleet mlx5-diag.wasm`",
                names.len(),
                dirs.join(", "),
                if kinds.is_empty() { "none found".into() } else { kinds.join(", ") }
            );
        }
    }
    Ok((admitted, refused))
}

/// Compiles each admitted plugin once, into a sandbox whose instance pool fits `jobs`
/// checks at once; one that does not compile joins `refused`.
pub(crate) fn prepare(
    admitted: Vec<Admitted>,
    args: &AdmissionArgs,
    jobs: usize,
    audit_log: &Arc<AuditLog>,
    refused: &mut Vec<Refusal>,
) -> Result<Vec<FleetPlugin>> {
    let states = args.state.store();
    let sandbox = Sandbox::new(&SandboxOptions {
        cache_dir: args.cache.dir(),
        pool: Some(InstancePool {
            concurrent_runs: jobs as u32,
            max_memory_bytes: admitted.iter().map(|a| a.grant.limits.memory_bytes).max().unwrap_or(0),
        }),
    })?;
    let mut plugins = Vec::new();
    for Admitted { plugin, identity, grant, .. } in admitted {
        match sandbox.prepare(&plugin) {
            Ok(prepared) => plugins.push(FleetPlugin {
                plugin: PluginRef {
                    name: plugin.manifest.name.clone(),
                    version: plugin.manifest.version.clone(),
                    digest: plugin.digest.clone(),
                },
                prepared,
                grant,
                state: StateArgs::for_plugin(states.as_ref(), &identity),
                audit: Some(AuditTrail::new(audit_log.clone(), identity)),
                args: Vec::new(),
            }),
            Err(error) => {
                refused.push(Refusal { plugin: plugin.path.display().to_string(), reason: error.to_string() })
            }
        }
    }
    warn_about_cache(&sandbox);
    Ok(plugins)
}

/// The report's metric families. The last-success time is now when every device was
/// checked, else whatever the previous textfile recorded.
fn finish_exposition(exposition: Exposition, report: &FleetReport, textfile: Option<&std::path::Path>) -> Exposition {
    let last_success = if report.exit == ExitStatus::CouldNotRun {
        textfile.and_then(report::previous_last_success)
    } else {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as f64)
    };
    let exposition = exposition.finish(last_success);
    for dropped in &exposition.dropped {
        eprintln!("fwctl-run: metric {dropped}");
    }
    exposition
}

/// A progress bar on stderr that draws only when stderr is a terminal, so machine
/// output and logs never see it.
fn progress_bar(checks: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(checks), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} checking {pos}/{len} [{bar:30}] {elapsed} (eta {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Ctrl-C or SIGTERM once: start nothing new, let checks in flight finish. Twice:
/// abandon those too. Either way the results so far are written.
///
/// The signals are blocked in every thread and taken by one that waits for them
/// (`sigwait`): no handler, no self-pipe, so it works on any kernel (tokio's signal
/// driver needs AF_UNIX sockets, which a minimal kernel may lack).
fn forward_stop_signals(stop: watch::Sender<Stop>) {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    let waiter = signals.thread_block().map(|()| {
        std::thread::Builder::new().name("fwctl-run-signals".into()).spawn(move || {
            while signals.wait().is_ok() {
                let next = if *stop.borrow() == Stop::Running { Stop::Drain } else { Stop::Abort };
                eprintln!(
                    "fwctl-run: {}",
                    match next {
                        Stop::Drain => "interrupted: finishing the checks in flight (again to abandon them)",
                        _ => "interrupted again: abandoning the checks in flight",
                    }
                );
                stop.send_replace(next);
            }
        })
    });
    if !matches!(waiter, Ok(Ok(_))) {
        eprintln!("fwctl-run: cannot watch for Ctrl-C; an interrupt will end the process without a report");
    }
}
