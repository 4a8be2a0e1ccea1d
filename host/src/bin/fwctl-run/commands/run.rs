//! `fwctl-run PLUGIN [-- ARGS]`: the main job. load → verify → grant → discover → run →
//! render and audit, for one plugin on every device it is granted.

use anyhow::{Context, Result, bail};
use clap::Args;
use fwctl_run::admission::Admitted;
use fwctl_run::audit::AuditTrail;
use fwctl_run::devices::DeviceDescriptor;
use fwctl_run::report::{self, CompileInfo, Detail, ExitStatus, PluginSummary, RunReport};
use fwctl_run::runner;
use fwctl_run::sandbox::{Sandbox, SandboxOptions};
use fwctl_run::source::DeviceSource;

use crate::options::{AdmissionArgs, SourceArgs, StateArgs, warn_about_cache, warn_about_taint};

/// `fwctl-run PLUGIN`.
#[derive(Debug, Args, Default)]
pub struct RunCommand {
    /// Plugin file or name (e.g. mlx5-diag.wasm).
    pub plugin: Option<String>,

    /// Run only on these devices (node names such as fwctl0); repeatable.
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub admission: AdmissionArgs,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Also print plugin logs and captured stdout/stderr.
    #[arg(long, short)]
    pub verbose: bool,

    /// Arguments for the plugin.
    #[arg(last = true)]
    pub args: Vec<String>,
}

impl RunCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let Some(name) = self.plugin.as_deref() else {
            bail!("no plugin given; try `fwctl-run mlx5-diag.wasm` or `fwctl-run --help`");
        };
        // The trail is opened before anything else: a run that cannot be audited does not start.
        let audit_log = self.admission.audit.open()?;
        let (policy, trust) = self.admission.policy_and_trust()?;
        let admission = self.admission.admission(&policy, &trust)?;
        let Admitted { plugin, identity, grant, signature } = admission.admit(name, &audit_log).inspect_err(|_| {
            let _ = audit_log.finish();
        })?;
        warn_about_taint(&grant);

        let source = DeviceSource::open(&self.source.choice())?;
        let devices = select_devices(&source, &self.devices)?;

        let sandbox = Sandbox::new(&SandboxOptions { cache_dir: self.admission.cache.dir(), ..Default::default() })?;
        let started = std::time::Instant::now();
        let prepared = sandbox.prepare(&plugin).with_context(|| plugin.path.display().to_string())?;
        warn_about_cache(&sandbox);
        let compile = CompileInfo::of(&sandbox, started.elapsed());
        let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
        let job = runner::Job {
            plugin_name: &plugin.manifest.name,
            prepared: &prepared,
            grant: &grant,
            args: &self.args,
            state: StateArgs::for_plugin(self.admission.state.store().as_ref(), &identity),
            audit: Some(AuditTrail::new(audit_log.clone(), identity)),
        };
        let runs = runtime.block_on(runner::run_on_devices(&job, source.backend.clone(), &devices));
        // A device that never answered still holds a blocking thread in its ioctl; its run is
        // already reported as timed out, so do not wait for it on the way out.
        runtime.shutdown_background();
        StateArgs::finish(job.state.clone());
        // The report is shown even when the record failed: what ran is exactly what an
        // operator needs to see then; the failure decides the exit status.
        let audited = audit_log.finish();

        let report = RunReport::new(PluginSummary::of(&plugin, signature), source.info, grant, compile, runs);
        if self.json {
            println!("{}", report.to_json());
        } else {
            print!("{}", report::render_run(&report, if self.verbose { Detail::Verbose } else { Detail::Summary }));
        }
        if let Err(error) = audited {
            eprintln!("fwctl-run: error: {error}");
            return Ok(ExitStatus::CouldNotRun);
        }
        Ok(report.exit)
    }
}

/// The devices named by `--device`, all of them when none is.
fn select_devices(source: &DeviceSource, wanted: &[String]) -> Result<Vec<DeviceDescriptor>> {
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
