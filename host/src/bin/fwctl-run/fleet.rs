//! `fwctl-run fleet`: admit the plugins, open the devices, run every check, report.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use fwctl_run::devices::DeviceKind;
use fwctl_run::devices::sim::SyntheticSpec;
use std::time::Duration;

use fwctl_run::fleet::{self, FleetOptions, FleetPlugin, FleetResult, PluginRef, Stop};
use fwctl_run::metrics::{self, Exposition};
use fwctl_run::outcome::Severity;
use fwctl_run::plugin::PluginSearchPath;
use fwctl_run::report::npd;
use fwctl_run::report::{self, ExitStatus, FleetReport, Refusal};
use fwctl_run::sandbox::{InstancePool, Sandbox, SandboxOptions};
use fwctl_run::source::{DeviceSource, SourceChoice};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nix::sys::signal::{SigSet, Signal};
use tokio::sync::watch;

use super::args::{FleetArgs, FleetCommon, FleetFormat, NpdArgs, ProblemSeverity};
use super::{AdmissionRules, Admitted, admit, cache_dir, open_audit, source_choice, warn_about_taint};

/// Runs `fwctl-run fleet`.
pub fn run(args: FleetArgs) -> Result<ExitStatus> {
    let stdout = std::io::stdout();
    let streaming = args.format == FleetFormat::Jsonl;
    // JSON lines need nothing kept: each result is written as it ends.
    let retain = args.format != FleetFormat::Jsonl || args.textfile.is_some();
    let (report, audited) = execute(&args.common, None, true, retain, |result| {
        if streaming {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{}", report::result_line(result));
            let _ = out.flush();
        }
    })?;
    let metrics = (args.textfile.is_some() || args.format == FleetFormat::Openmetrics)
        .then(|| exposition(&report, args.textfile.as_deref()));
    if let (Some(dir), Some(metrics)) = (&args.textfile, &metrics) {
        metrics::write_textfile(dir, &metrics.to_prometheus())?;
    }
    match args.format {
        FleetFormat::Human => print!("{}", report::render_fleet(&report)),
        FleetFormat::Json => println!("{}", report.to_json()),
        FleetFormat::Jsonl => println!("{}", report.summary_line()),
        FleetFormat::Openmetrics => print!("{}", metrics.as_ref().expect("built for this format").to_openmetrics()),
    }
    if args.format != FleetFormat::Human && std::io::stderr().is_terminal() {
        eprintln!("{}", report.summary.line());
    }
    // The results were shown whatever the record's fate; its failure decides the status.
    if let Err(error) = audited {
        eprintln!("fwctl-run: error: {error}");
        return Ok(ExitStatus::CouldNotRun);
    }
    Ok(report.exit)
}

/// Runs `fwctl-run npd`: whatever happens, one line on stdout and NPD's exit status.
pub fn npd(args: NpdArgs) -> Result<ExitStatus> {
    let min_severity = match args.min_severity {
        ProblemSeverity::Warning => Severity::Warning,
        ProblemSeverity::Error => Severity::Error,
        ProblemSeverity::Critical => Severity::Critical,
    };
    let max = usize::from(args.max_output);
    let verdict = match execute(&args.common, Some(args.deadline), false, true, |_| {}) {
        Ok((_, Err(audit))) => npd::Verdict::unknown(&format!("fwctl-run: {audit}"), max),
        Ok((report, Ok(()))) => npd::verdict(&report.results, &report.summary, min_severity, max),
        Err(error) => npd::Verdict::unknown(&format!("fwctl-run: {error:#}"), max),
    };
    println!("{}", verdict.line);
    Ok(verdict.exit)
}

/// Admits the plugins, opens the devices and runs every check; `deadline` bounds the
/// whole run (each check's own deadline is cut to fit), `on_result` sees each result
/// as it ends.
fn execute(
    args: &FleetCommon,
    deadline: Option<Duration>,
    show_progress: bool,
    retain: bool,
    mut on_result: impl FnMut(&FleetResult),
) -> Result<(FleetReport, Result<(), fwctl_run::audit::AuditError>)> {
    let started = std::time::Instant::now();
    // First of all, before any thread is started (the epoch ticker, the runtime's): they inherit the blocked signal mask.
    let (stop_sender, stop) = watch::channel(Stop::Running);
    let stop_sender_for_deadline = stop_sender.clone();
    forward_stop_signals(stop_sender);
    let audit_log = open_audit(args.audit.clone())?;
    // load → verify → grant, per plugin: the ones named, else every installed one. One
    // refused plugin does not stop the others.
    let explicit = !args.plugins.is_empty();
    let search = PluginSearchPath::from_env();
    let names: Vec<String> = if explicit {
        args.plugins.clone()
    } else {
        search.installed().iter().map(|p| p.display().to_string()).collect()
    };
    let (policy, trust) = AdmissionRules::resolve(&args.policy, &args.signature)?;
    let store = Default::default();
    let rules = AdmissionRules::new(&policy, &trust, &args.policy, &args.signature, &args.limits, &store);
    let mut refused = Vec::new();
    let mut admitted = Vec::new();
    for name in &names {
        match admit(name, &rules, &audit_log) {
            Ok(plugin) => admitted.push(plugin),
            Err(error) => refused.push(Refusal { plugin: name.clone(), reason: format!("{error:#}") }),
        }
    }
    // A plugin's name is its identity in every output (results, metrics' `plugin` label,
    // NPD): two with one name could pass for each other, so neither runs.
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for a in &admitted {
        by_name.entry(a.plugin.manifest.name.clone()).or_default().push(a.plugin.path.display().to_string());
    }
    admitted.retain(|a| {
        let same = &by_name[&a.plugin.manifest.name];
        if same.len() > 1 {
            let reason = format!(
                "{} plugins are named `{}` ({}); names identify plugins in every output, so none of them runs",
                same.len(),
                a.plugin.manifest.name,
                same.join(", ")
            );
            refused.push(Refusal { plugin: a.plugin.path.display().to_string(), reason });
        }
        same.len() == 1
    });

    // → discover: the kernel's devices, the simulator, or a simulated fleet.
    let source = match &args.sim_fleet {
        Some(spec) => {
            let spec: SyntheticSpec = spec.parse().map_err(|e: String| anyhow::anyhow!("--sim-fleet {e}"))?;
            DeviceSource::synthetic(&spec, args.seed)?
        }
        // Monitoring reports on hardware only: the simulator only when asked for (--sim),
        // never because the host happens to have no fwctl device.
        None => DeviceSource::open(&match source_choice(&args.source) {
            SourceChoice::Auto => SourceChoice::Kernel,
            chosen => chosen,
        })?,
    };
    let kinds: BTreeSet<DeviceKind> = source.devices.iter().map(|d| d.kind).collect();
    if !explicit {
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
    for Admitted { grant, .. } in &mut admitted {
        warn_about_taint(grant);
        // Within an overall deadline, a check that hangs must time out (and be reported
        // as such) before the whole run is abandoned at the deadline itself.
        if let Some(deadline) = deadline {
            grant.limits.timeout = grant.limits.timeout.min(deadline.mul_f64(0.8));
        }
    }

    let jobs = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize);
    let sandbox = Sandbox::new(&SandboxOptions {
        cache_dir: cache_dir(&args.cache),
        pool: Some(InstancePool {
            concurrent_runs: jobs as u32,
            max_memory_bytes: admitted.iter().map(|a| a.grant.limits.memory_bytes).max().unwrap_or(0),
        }),
    })?;
    let mut plugins = Vec::new();
    for Admitted { plugin, identity, grant } in admitted {
        match sandbox.prepare(&plugin.bytes) {
            Ok(prepared) => plugins.push(FleetPlugin {
                plugin: PluginRef {
                    name: plugin.manifest.name.clone(),
                    version: plugin.manifest.version.clone(),
                    digest: plugin.digest.clone(),
                },
                prepared,
                grant,
                audit: Some(fwctl_run::audit::AuditTrail::new(audit_log.clone(), identity)),
            }),
            Err(error) => {
                refused.push(Refusal { plugin: plugin.path.display().to_string(), reason: error.to_string() })
            }
        }
    }
    super::warn_about_cache(&sandbox);
    if plugins.is_empty() {
        let reasons: Vec<String> = refused.iter().map(|r| format!("{}: {}", r.plugin, r.reason)).collect();
        let _ = audit_log.finish();
        bail!("no plugin could run:\n  {}", reasons.join("\n  "));
    }

    let host =
        nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
    let options = FleetOptions { jobs, args: args.args.clone(), host, retain };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;

    if let Some(deadline) = deadline {
        // The deadline counts from the start: admission and compilation are part of it.
        let at = tokio::time::Instant::from_std(started + deadline);
        runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            stop_sender_for_deadline.send_replace(Stop::Abort);
        });
    }

    let checks: usize =
        source.devices.iter().map(|d| plugins.iter().filter(|p| p.grant.for_kind(d.kind).is_some()).count()).sum();
    let progress = if show_progress { progress_bar(checks as u64) } else { ProgressBar::hidden() };
    let plugin_refs: Vec<PluginRef> = plugins.iter().map(|p| p.plugin.clone()).collect();
    let outcome = runtime.block_on(fleet::run_fleet(
        plugins.into(),
        source.backend.clone(),
        &source.devices,
        &options,
        stop,
        |result| {
            if result.plugin.is_some() {
                progress.inc(1);
            }
            progress.suspend(|| on_result(result));
        },
    ));
    progress.finish_and_clear();
    // A device that never answered still holds a blocking thread in its ioctl; its check
    // is already reported as timed out, so do not wait for it on the way out.
    runtime.shutdown_background();
    let audited = audit_log.finish();

    Ok((FleetReport::new(source.info, plugin_refs, refused, outcome.results, outcome.summary), audited))
}

/// The report's metric families. The last-success time is now when every device was
/// checked, else whatever the previous textfile recorded.
fn exposition(report: &FleetReport, textfile: Option<&std::path::Path>) -> Exposition {
    let last_success = if report.exit == ExitStatus::CouldNotRun {
        textfile.and_then(metrics::previous_last_success)
    } else {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as f64)
    };
    let exposition = Exposition::of_fleet(&report.results, last_success);
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
