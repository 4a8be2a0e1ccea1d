//! `fwctl-run serve`: the fleet on a schedule, its last completed run served to
//! Prometheus and to Kubernetes' probes. Plugins are admitted and compiled once (again on
//! SIGHUP); devices are discovered again at every run, so hot-plugged devices come and
//! go with their series.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use fwctl_run::admission::Admitted;
use fwctl_run::audit::AuditLog;
use fwctl_run::fleet::{FleetOptions, FleetPlugin, FleetResult, Stop};
use fwctl_run::report::{ExitStatus, FleetReport, Refusal};
use fwctl_run::serve::http::{AccessControl, Listener};
use fwctl_run::serve::schedule::Schedule;
use fwctl_run::serve::web_config::WebConfig;
use fwctl_run::serve::{Exporter, RunCollector, RunOutcome};
use nix::sys::signal::{SigSet, Signal};
use tokio::sync::watch;

use super::fleet::{FleetCommon, Progress, Sink, admit_plugins, open_devices, prepare, run_checks};
use crate::options::{StateArgs, warn_about_taint};

/// The port of `--listen` unless given: the gap in the 10000s of Prometheus's "Default
/// port allocations" list (9100–9999 is full; the list's rule is to fill a gap first).
pub const DEFAULT_PORT: u16 = 10025;

/// How `serve` logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// `fwctl-run serve`.
#[derive(Debug, Args)]
pub struct ServeCommand {
    #[command(flatten)]
    pub common: FleetCommon,

    /// Address and port to serve on. An address other than loopback needs --web-config
    /// with TLS or users, or --insecure-listen.
    #[arg(long, value_name = "ADDR:PORT", default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    pub listen: SocketAddr,

    /// Web configuration in the Prometheus exporter-toolkit format (tls_server_config,
    /// basic_auth_users with bcrypt hashes).
    #[arg(long, value_name = "FILE")]
    pub web_config: Option<PathBuf>,

    /// Serve plain HTTP without users on an address other than loopback.
    #[arg(long)]
    pub insecure_listen: bool,

    /// Time between fleet runs (the first runs at start), e.g. `5m`, `30s`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_interval)]
    pub interval: Duration,

    /// The most a run starts after its interval's point, as a fraction of the interval,
    /// so that a cluster's hosts do not reach their devices in the same second.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.1, value_parser = parse_jitter)]
    pub jitter: f64,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if interval < Duration::from_millis(10) {
        return Err("an interval under 10ms would keep the devices busy".into());
    }
    Ok(interval)
}

fn parse_jitter(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if (0.0..1.0).contains(&f) => Ok(f),
        _ => Err(format!("{text:?} is not a fraction in [0, 1)")),
    }
}

/// What the signal thread tells the schedule.
enum Event {
    /// SIGHUP: admit and compile the plugins again.
    Reload,
    /// SIGTERM or SIGINT: finish the run in flight, then exit.
    Stop,
}

/// The admitted, compiled plugins and those refused.
struct Loaded {
    plugins: Vec<FleetPlugin>,
    refused: Vec<Refusal>,
}

impl ServeCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        // Before any thread starts: they inherit the blocked signals.
        let (stop_sender, stop) = watch::channel(Stop::Running);
        let events = watch_signals(stop_sender)?;
        init_logging(self.log_format);

        let web = self.web_config.as_deref().map(WebConfig::load).transpose()?;
        let listener = Listener::bind(self.listen, web, self.insecure_listen)?;
        let address = listener.local_addr().context("the listening address")?;
        let exporter = Arc::new(Exporter::new());
        let access = listener.access_control();
        listener.spawn(Arc::clone(&exporter))?;
        tracing::info!(%address, "listening");

        let audit_log = self.common.admission.audit.open()?;
        let mut loaded = self.load(&audit_log)?;
        if loaded.plugins.is_empty() {
            bail!("no plugin could run; see the refusals above");
        }
        let jobs = self.common.jobs();
        let host =
            nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
        let options = FleetOptions { jobs, host, retain: false, gather: fwctl_run::fleet::GATHER };

        let schedule = Schedule::new(Instant::now(), self.interval, self.jitter);
        let mut tick = 0u64;
        let mut last_success = None;
        let mut stopping = false;
        while !stopping {
            // Wait for this run's time, reloading on SIGHUP meanwhile.
            let start = if tick == 0 { Instant::now() } else { schedule.start_of(tick, fastrand::f64()) };
            loop {
                match events.recv_timeout(start.saturating_duration_since(Instant::now())) {
                    Ok(Event::Reload) => {
                        let (reloaded, ok) = self.reload(loaded, &audit_log, &access);
                        loaded = reloaded;
                        exporter.reloaded(ok);
                    }
                    Ok(Event::Stop) => stopping = true,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => stopping = true,
                }
                if stopping {
                    break;
                }
            }
            if stopping {
                break;
            }
            let ran = self.run_once(&loaded, &options, stop.clone(), &exporter, &mut last_success);
            if let Err(error) = ran {
                exporter.failed();
                tracing::error!("fleet run failed: {error:#}");
            }
            // A stop asked for during the run: it has drained; exit.
            stopping |= *stop.borrow() != Stop::Running;
            let next = schedule.after(tick, Instant::now());
            if next.skipped > 0 {
                exporter.skipped(next.skipped);
                tracing::warn!(
                    skipped = next.skipped,
                    "the run outlasted its interval: {} interval(s) skipped",
                    next.skipped
                );
            }
            tick = next.tick;
        }
        tracing::info!("stopping");
        if let Err(error) = audit_log.finish() {
            tracing::error!("the audit log: {error}");
            return Ok(ExitStatus::CouldNotRun);
        }
        Ok(ExitStatus::Done)
    }

    /// Admits and compiles the plugins: the named ones, else every installed one.
    fn load(&self, audit_log: &Arc<AuditLog>) -> Result<Loaded> {
        let (admitted, mut refused) = admit_plugins(&self.common, None, audit_log)?;
        let jobs = self.common.jobs();
        let mut own_args = self.common.own_args()?;
        let mut plugins =
            prepare(admitted_with_warnings(admitted), &self.common.admission, jobs, audit_log, &mut refused)?;
        for plugin in &mut plugins {
            plugin.args = own_args.remove(&plugin.plugin.name).map_or_else(|| self.common.args.clone(), |(own, _)| own);
        }
        // A plugin refused (a revoked signer, say) may still have its entry: said, and
        // never a reason to keep a refused plugin running or to stop serving the others.
        for (name, (_, source)) in own_args {
            tracing::warn!(plugin = %name, "{source} names `{name}`, which is not a plugin being served");
        }
        for refusal in &refused {
            tracing::warn!(plugin = %refusal.plugin, "plugin refused: {}", refusal.reason);
        }
        let names: Vec<&str> = plugins.iter().map(|p| p.plugin.name.as_str()).collect();
        if names.is_empty() {
            tracing::warn!("no plugin is admitted: runs will check no device");
        } else {
            tracing::info!(plugins = %names.join(","), "serving {}", names.join(", "));
        }
        Ok(Loaded { plugins, refused })
    }

    /// SIGHUP: the web configuration, policy, trust store and plugins read again. A
    /// plugin that no longer verifies is dropped (logged, and on the audit trail by
    /// admission), even the last one. When the policy or trust store cannot be read,
    /// nothing runs until a reload succeeds: the plugins admitted before may be the very
    /// ones the edit meant to stop. A web configuration that does not load leaves the one
    /// in force. Returns the plugins to run and whether everything loaded.
    fn reload(&self, before: Loaded, audit_log: &Arc<AuditLog>, access: &AccessControl) -> (Loaded, bool) {
        tracing::info!("SIGHUP: reloading the web configuration, policy, trust store and plugins");
        let mut ok = true;
        if let Some(path) = &self.web_config {
            let replaced =
                WebConfig::load(path).map_err(anyhow::Error::from).and_then(|web| Ok(access.replace(Some(web))?));
            if let Err(error) = replaced {
                ok = false;
                tracing::error!("the web configuration in force stays: {error:#}");
            }
        }
        match self.load(audit_log) {
            Ok(loaded) => {
                let now: BTreeSet<&str> = loaded.plugins.iter().map(|p| p.plugin.name.as_str()).collect();
                for dropped in before.plugins.iter().filter(|p| !now.contains(p.plugin.name.as_str())) {
                    tracing::warn!(plugin = %dropped.plugin.name, "plugin dropped on reload");
                }
                (loaded, ok)
            }
            Err(error) => {
                tracing::error!("reload failed; no plugin runs until a reload succeeds: {error:#}");
                (Loaded { plugins: Vec::new(), refused: Vec::new() }, false)
            }
        }
    }

    /// One fleet run, published to `exporter` when it completes.
    fn run_once(
        &self,
        loaded: &Loaded,
        options: &FleetOptions,
        stop: watch::Receiver<Stop>,
        exporter: &Exporter,
        last_success: &mut Option<f64>,
    ) -> Result<()> {
        let source = open_devices(&self.common)?;
        let mut collector = Collected(RunCollector::default());
        let outcome =
            run_checks(&source, loaded.plugins.clone(), options, (stop, None), Progress::Hidden, &mut collector)?;
        StateArgs::finish(loaded.plugins.iter().filter_map(|p| p.state.clone()));
        let summary = outcome.summary;
        let exit = FleetReport::new(source.info, Vec::new(), Vec::new(), Vec::new(), summary.clone()).exit;
        let result = if exit == ExitStatus::CouldNotRun { RunOutcome::Failure } else { RunOutcome::Success };
        if result == RunOutcome::Success {
            *last_success = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs_f64());
        }
        let exposition = collector.0.finish(*last_success);
        for dropped in &exposition.dropped {
            tracing::warn!("metric {dropped}");
        }
        exporter.publish(&exposition, result);
        tracing::info!(
            devices = summary.devices,
            healthy = summary.healthy,
            with_findings = summary.with_findings,
            failed = summary.failed,
            checks = summary.checks,
            refused = loaded.refused.len(),
            duration_seconds = summary.wall.as_secs_f64(),
            unsupported = summary.unsupported,
            "fleet run completed"
        );
        Ok(())
    }
}

fn admitted_with_warnings(mut admitted: Vec<Admitted>) -> Vec<Admitted> {
    for Admitted { grant, .. } in &mut admitted {
        warn_about_taint(grant);
    }
    admitted
}

/// A run's results, gathered for publication.
struct Collected(RunCollector);

impl Sink for Collected {
    fn result(&mut self, result: &FleetResult) {
        self.0.add(result);
    }
}

/// SIGHUP, SIGTERM and SIGINT, blocked in every thread and taken by one that waits for
/// them, as `fleet` does. A first SIGTERM or SIGINT drains the run in flight, a second
/// abandons it.
fn watch_signals(stop: watch::Sender<Stop>) -> Result<mpsc::Receiver<Event>> {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(signal);
    }
    signals.thread_block().context("blocking signals")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("fwctl-run-signals".into())
        .spawn(move || {
            while let Ok(signal) = signals.wait() {
                let event = if signal == Signal::SIGHUP {
                    Event::Reload
                } else {
                    let next = if *stop.borrow() == Stop::Running { Stop::Drain } else { Stop::Abort };
                    stop.send_replace(next);
                    Event::Stop
                };
                if sender.send(event).is_err() {
                    return;
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(receiver)
}

fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
