//! `fwctl-run plugin install | list | update | remove`: the plugins `fleet`, `npd` and
//! `serve` run, managed as an operator manages packages. Nothing is installed before its
//! grant under the current policy has been shown and confirmed (`--yes` for scripts).

use std::io::{BufRead as _, IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use fwctl_run::admission::{Admission, Admitted};
use fwctl_run::audit::{AuditLog, AuditTrail, PluginIdentity};
use fwctl_run::distribution::{self, Fetched, LockFile, Locked, OciReference, Store, TagResolution};
use fwctl_run::install::{self, InstallRecord, Installed};
use fwctl_run::plugin::PluginSearchPath;
use fwctl_run::policy::{Policy, widening};
use fwctl_run::report::{ExitStatus, grant_lines};
use fwctl_run::signing::{self, TrustStore};

use crate::options::AdmissionArgs;

/// `fwctl-run plugin`.
#[derive(Debug, Args)]
pub struct PluginCommand {
    #[command(subcommand)]
    pub action: PluginAction,
}

/// What to do with installed plugins.
#[derive(Debug, Subcommand)]
pub enum PluginAction {
    /// Verify a plugin (a file or oci://REF), show the grant it gets under the current
    /// policy, and install it where fleet, npd and serve find it.
    Install(InstallArgs),
    /// The installed plugins: version, source, digest, signer and grant, or why one no
    /// longer verifies.
    List(ListArgs),
    /// Resolve the tags plugins were installed from again and show what changed
    /// (version, digest, signer, grant) before installing the newer one.
    Update(UpdateArgs),
    /// Remove an installed plugin.
    Remove(RemoveArgs),
}

/// `plugin install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A component file, or oci://REGISTRY/REPOSITORY:TAG (or @sha256:DIGEST).
    pub source: String,
    /// Install without asking (the grant is still printed).
    #[arg(long, short)]
    pub yes: bool,
    /// Install into DIR (default: the first plugin directory: $FWCTL_RUN_PLUGIN_PATH's
    /// first, else ~/.local/share/fwctl-run/plugins, or /usr/local/lib/fwctl-run/plugins for
    /// root).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub admission: AdmissionArgs,
}

/// `plugin list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON document.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub admission: AdmissionArgs,
}

/// `plugin update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Plugins to update, by name (default: every one installed from a registry tag).
    pub names: Vec<String>,
    /// Show what would change; install nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Install without asking.
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub admission: AdmissionArgs,
}

/// `plugin remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The plugin's name.
    pub name: String,
    #[command(flatten)]
    pub admission: AdmissionArgs,
}

impl PluginCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        match self.action {
            PluginAction::Install(args) => args.execute(),
            PluginAction::List(args) => args.execute(),
            PluginAction::Update(args) => args.execute(),
            PluginAction::Remove(args) => args.execute(),
        }
    }
}

/// The policy, trust store and audit log every action decides and records with.
struct Decision {
    policy: Policy,
    trust: TrustStore,
    audit: Arc<AuditLog>,
}

impl Decision {
    fn open(args: &AdmissionArgs) -> Result<Self> {
        let (policy, trust) = args.policy_and_trust()?;
        Ok(Self { policy, trust, audit: args.audit.open()? })
    }

    fn admission<'a>(&'a self, args: &AdmissionArgs) -> Result<Admission<'a>> {
        args.admission(&self.policy, &self.trust)
    }
}

/// Fetches `source` when it is a registry reference (`tags` deciding what a tag may
/// resolve to), then admits it: load → verify → grant. A tag is resolved against a copy
/// of the lock file and the plugin admitted by the digest it resolved to: the real lock
/// moves only when the operator confirms ([`commit_lock`]), so a preview or a refusal
/// never changes what `oci://…:TAG` runs.
fn admit_source(
    source: &str,
    args: &AdmissionArgs,
    admission: &Admission<'_>,
    audit: &Arc<AuditLog>,
    tags: TagResolution,
) -> Result<(Admitted, Option<Fetched>)> {
    if source.starts_with("oci://") {
        let reference: OciReference = source.parse()?;
        let places = args.store.places()?;
        let scratch = tempfile::tempdir().context("a scratch directory for the lock file")?;
        let scratch_lock = scratch.path().join("plugins.lock");
        if places.lock.exists() {
            std::fs::copy(&places.lock, &scratch_lock).with_context(|| format!("copying {}", places.lock.display()))?;
        }
        let store = Store::new(places.store.clone());
        let mut lock = LockFile::open(&scratch_lock)?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
        let fetched =
            runtime.block_on(distribution::fetch(&reference, &store, &mut lock, tags, places.auth_file.as_deref()))?;
        let pinned = format!("oci://{}/{}@{}", reference.registry(), reference.repository(), fetched.manifest);
        let admitted = admission.admit(&pinned, audit)?;
        return Ok((admitted, Some(fetched)));
    }
    // A file: named as a path, so that the plugin directories are not searched.
    let path = if source.contains('/') { source.to_string() } else { format!("./{source}") };
    Ok((admission.admit(&path, audit)?, None))
}

/// Pins a confirmed tag in the real lock file, as `pull` would have.
fn commit_lock(source: &str, args: &AdmissionArgs, fetched: Option<&Fetched>) -> Result<()> {
    let Some(fetched) = fetched else { return Ok(()) };
    let reference: OciReference = source.parse()?;
    if reference.digest().is_some() {
        return Ok(());
    }
    let places = args.store.places()?;
    let mut lock = LockFile::open(&places.lock)?;
    lock.set(reference.to_string(), Locked { manifest: fetched.manifest.clone(), wasm: fetched.wasm.clone() });
    lock.save()?;
    Ok(())
}

/// A detached signature (`FILE.sig`) beside `path`, if any: it travels with the component.
fn detached_signature(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(signing::detached_signature_path(path)).ok()
}

/// The plugin and its grant, as the operator confirms them.
fn describe(admitted: &Admitted) -> String {
    let m = &admitted.plugin.manifest;
    let mut out = format!("{} {} by {}\n", m.name, m.version, m.vendor);
    out.push_str(&format!("  digest   {}\n", admitted.plugin.digest));
    out.push_str(&format!("  signed   {}\n", admitted.signature.describe()));
    for line in grant_lines(&admitted.grant) {
        out.push_str(&format!("  grant    {line}\n"));
    }
    out
}

/// Asks `question` on a terminal; without one, only `--yes` says yes.
fn confirmed(yes: bool, question: &str) -> bool {
    if yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("fwctl-run: not confirmed: stdin is not a terminal; pass --yes to {question}");
        return false;
    }
    eprint!("{question}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn record_of(source: &str, admitted: &Admitted, fetched: Option<&Fetched>) -> InstallRecord {
    InstallRecord {
        name: admitted.plugin.manifest.name.clone(),
        version: admitted.plugin.manifest.version.clone(),
        source: source.to_string(),
        manifest: fetched.map(|f| f.manifest.clone()),
        sha256: admitted.plugin.digest.clone(),
        signer: admitted.identity.signer.clone(),
        installed_at: now_rfc3339(),
    }
}

impl InstallArgs {
    fn execute(self) -> Result<ExitStatus> {
        let context = Decision::open(&self.admission)?;
        let admission = context.admission(&self.admission)?;
        let (admitted, fetched) =
            admit_source(&self.source, &self.admission, &admission, &context.audit, TagResolution::Resolve)?;
        let name = &admitted.plugin.manifest.name;
        let dir = install::install_dir(self.dir.as_deref(), &PluginSearchPath::from_env())?;
        let target = dir.join(install::file_name(name)?);
        let existing = std::fs::read(&target).ok();
        if existing.as_ref().is_some_and(|bytes| sha256(bytes) == admitted.plugin.digest) {
            // Nothing to do (and nothing for a configuration tool to report as changed).
            println!("already installed: {name} {} as {}", admitted.plugin.manifest.version, target.display());
            context.audit.finish()?;
            return Ok(ExitStatus::Done);
        }
        print!("{}", describe(&admitted));
        if existing.is_some() {
            let before = install::read_record(&target).and_then(Result::ok);
            let what = before.map_or_else(
                || "a plugin fwctl-run did not install".to_string(),
                |r| format!("{} {} from {}", r.name, r.version, r.source),
            );
            println!("  REPLACES {what} ({})", target.display());
        }
        if !confirmed(self.yes, &format!("install {name} with this grant")) {
            context.audit.finish()?;
            return Ok(ExitStatus::CouldNotRun);
        }
        // A file is recorded by its absolute path, a reference as given.
        let source = match std::fs::canonicalize(&self.source) {
            Ok(path) if !self.source.starts_with("oci://") => path.display().to_string(),
            _ => self.source.clone(),
        };
        let record = record_of(&source, &admitted, fetched.as_ref());
        let signature = if fetched.is_none() { detached_signature(&admitted.plugin.path) } else { None };
        let path = install::install(&dir, &admitted.plugin.bytes, signature.as_deref(), &record)?;
        commit_lock(&self.source, &self.admission, fetched.as_ref())?;
        AuditTrail::new(context.audit.clone(), admitted.identity.clone())
            .record_lifecycle("installed", &format!("from {} as {}", self.source, path.display()));
        context.audit.finish()?;
        println!("installed {name} {} as {}", record.version, path.display());
        Ok(ExitStatus::Done)
    }
}

impl ListArgs {
    fn execute(self) -> Result<ExitStatus> {
        let (policy, trust) = self.admission.policy_and_trust()?;
        let admission = self.admission.admission(&policy, &trust)?;
        // Listing runs nothing: what it finds refused is shown, not put on the record.
        let quiet = Arc::new(AuditLog::open(Path::new("/dev/null"))?);
        let mut rows = Vec::new();
        for installed in install::installed(&PluginSearchPath::from_env()) {
            rows.push(Row::of(&installed, &admission, &quiet));
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else if rows.is_empty() {
            println!("no plugin is installed");
        }
        if !self.json {
            for row in &rows {
                print!("{}", row.render());
            }
        }
        Ok(if rows.iter().all(|r| r.verified) { ExitStatus::Done } else { ExitStatus::CouldNotRun })
    }
}

/// One installed plugin as `list` shows it.
#[derive(serde::Serialize)]
struct Row {
    path: String,
    name: Option<String>,
    version: Option<String>,
    source: Option<String>,
    sha256: Option<String>,
    signer: Option<String>,
    installed_at: Option<String>,
    verified: bool,
    /// Why it does not verify (or no longer matches what was installed).
    problem: Option<String>,
    grant: Vec<String>,
}

impl Row {
    fn of(installed: &Installed, admission: &Admission<'_>, audit: &Arc<AuditLog>) -> Self {
        let record = installed.record.as_ref().and_then(|r| r.as_ref().ok());
        let mut row = Row {
            path: installed.path.display().to_string(),
            name: record.map(|r| r.name.clone()),
            version: record.map(|r| r.version.clone()),
            source: record.map(|r| r.source.clone()),
            sha256: record.map(|r| r.sha256.clone()),
            signer: record.and_then(|r| r.signer.clone()),
            installed_at: record.map(|r| r.installed_at.clone()),
            verified: false,
            problem: installed.record.as_ref().and_then(|r| r.as_ref().err().cloned()),
            grant: Vec::new(),
        };
        match admission.admit(&installed.path.display().to_string(), audit) {
            Ok(admitted) => {
                row.name = Some(admitted.plugin.manifest.name.clone());
                row.version = Some(admitted.plugin.manifest.version.clone());
                row.signer = admitted.identity.signer.clone();
                row.grant = grant_lines(&admitted.grant);
                row.verified = true;
                if let Some(recorded) = record.filter(|r| r.sha256 != admitted.plugin.digest) {
                    row.verified = false;
                    row.problem = Some(format!(
                        "the file changed since it was installed ({} then, {} now)",
                        recorded.sha256, admitted.plugin.digest
                    ));
                }
                row.sha256 = Some(admitted.plugin.digest);
            }
            Err(error) => row.problem = Some(error.to_string()),
        }
        if matches!(installed.record, Some(Err(_))) {
            row.verified = false;
        }
        row
    }

    fn render(&self) -> String {
        let name = self.name.as_deref().unwrap_or("?");
        let mut out = format!("{name} {}\n", self.version.as_deref().unwrap_or("?"));
        out.push_str(&format!("  file     {}\n", self.path));
        out.push_str(&format!("  source   {}\n", self.source.as_deref().unwrap_or("(not installed by fwctl-run)")));
        if let Some(digest) = &self.sha256 {
            out.push_str(&format!("  digest   {digest}\n"));
        }
        out.push_str(&format!("  signer   {}\n", self.signer.as_deref().unwrap_or("(unsigned)")));
        match &self.problem {
            Some(problem) => {
                out.push_str(&format!("  NOT VERIFIED: {problem}\n"));
                out.push_str("  (version, digest and signer above are what the install record says)\n");
            }
            None => {
                for line in &self.grant {
                    out.push_str(&format!("  grant    {line}\n"));
                }
            }
        }
        out
    }
}

impl UpdateArgs {
    fn execute(self) -> Result<ExitStatus> {
        let context = Decision::open(&self.admission)?;
        let admission = context.admission(&self.admission)?;
        let search = PluginSearchPath::from_env();
        let candidates: Vec<Installed> = if self.names.is_empty() {
            install::installed(&search)
                .into_iter()
                .filter(|i| i.record.as_ref().is_some_and(|r| r.as_ref().is_ok_and(InstallRecord::follows_a_tag)))
                .collect()
        } else {
            self.names.iter().map(|n| install::find(&search, n)).collect::<Result<_, _>>()?
        };
        let quiet = Arc::new(AuditLog::open(Path::new("/dev/null"))?);
        let mut status = ExitStatus::Done;
        for installed in candidates {
            let Some(Ok(record)) = installed.record.clone() else {
                println!("{}: not installed by fwctl-run (no record): nothing to update", installed.path.display());
                continue;
            };
            if !record.follows_a_tag() {
                println!("{}: installed from {}, not a registry tag: nothing to update", record.name, record.source);
                continue;
            }
            let (newer, fetched) =
                admit_source(&record.source, &self.admission, &admission, &context.audit, TagResolution::Update)?;
            let on_disk = std::fs::read(&installed.path).map(|b| sha256(&b)).unwrap_or_default();
            if newer.plugin.digest == on_disk {
                println!("{} {}: up to date ({})", record.name, record.version, record.source);
                continue;
            }
            if newer.plugin.manifest.name != record.name {
                println!(
                    "{}: {} now names another plugin, `{}`: not installed (install it by its own name if it is wanted)",
                    record.name, record.source, newer.plugin.manifest.name
                );
                status = ExitStatus::CouldNotRun;
                continue;
            }
            let downgrade =
                match (semver::Version::parse(&record.version), semver::Version::parse(&newer.plugin.manifest.version))
                {
                    (Ok(old), Ok(new)) => new < old,
                    _ => false,
                };
            let before = admission.admit(&installed.path.display().to_string(), &quiet);
            print!("{}", changes(&record, before.as_ref().ok(), &newer));
            if downgrade {
                println!("  DOWNGRADE: the tag names an older version than the one installed");
            }
            if self.dry_run {
                continue;
            }
            // A registry chooses what a tag names: going back is asked for by a person.
            if downgrade && self.yes {
                println!("  not installed: a downgrade is not taken with --yes; confirm it on a terminal");
                status = ExitStatus::CouldNotRun;
                continue;
            }
            if !confirmed(self.yes, &format!("update {}", record.name)) {
                status = ExitStatus::CouldNotRun;
                continue;
            }
            let dir = installed.path.parent().expect("an installed file is in a directory");
            let updated = record_of(&record.source, &newer, fetched.as_ref());
            let path = install::install(dir, &newer.plugin.bytes, None, &updated)?;
            commit_lock(&record.source, &self.admission, fetched.as_ref())?;
            AuditTrail::new(context.audit.clone(), newer.identity.clone()).record_lifecycle(
                "updated",
                &format!(
                    "{} {} ({}) to {} from {}",
                    record.name, record.version, record.sha256, updated.version, record.source
                ),
            );
            println!("updated {} to {} as {}", record.name, updated.version, path.display());
        }
        context.audit.finish()?;
        Ok(status)
    }
}

/// What an update changes: version, digest, signer, and the grant line by line, with
/// what the new grant allows beyond the old called out.
fn changes(record: &InstallRecord, before: Option<&Admitted>, newer: &Admitted) -> String {
    let m = &newer.plugin.manifest;
    let mut out = format!("{}: {} → {}\n", record.name, record.version, m.version);
    out.push_str(&format!("  digest   {} → {}\n", record.sha256, newer.plugin.digest));
    if record.signer != newer.identity.signer {
        let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "(unsigned)".into());
        out.push_str(&format!("  SIGNER CHANGED: {} → {}\n", show(&record.signer), show(&newer.identity.signer)));
    }
    let new_lines = grant_lines(&newer.grant);
    match before {
        None => {
            out.push_str("  the installed version no longer verifies; the new grant:\n");
            for line in &new_lines {
                out.push_str(&format!("  grant    {line}\n"));
            }
        }
        Some(before) => {
            let old_lines = grant_lines(&before.grant);
            for line in old_lines.iter().filter(|l| !new_lines.contains(l)) {
                out.push_str(&format!("  grant  - {line}\n"));
            }
            for line in new_lines.iter().filter(|l| !old_lines.contains(l)) {
                out.push_str(&format!("  grant  + {line}\n"));
            }
            if old_lines == new_lines {
                out.push_str("  grant    unchanged\n");
            }
            for wider in widening(&before.grant, &newer.grant) {
                out.push_str(&format!("  WIDER GRANT: {wider}\n"));
            }
        }
    }
    out
}

impl RemoveArgs {
    fn execute(self) -> Result<ExitStatus> {
        let audit = self.admission.audit.open()?;
        let installed = install::find(&PluginSearchPath::from_env(), &self.name)?;
        let record = installed.record.clone().and_then(Result::ok);
        let Some(record) = record else {
            bail!(
                "{} was not installed by fwctl-run (no record beside it); remove it as it was put there (a package, by hand)",
                installed.path.display()
            );
        };
        install::remove(&installed)?;
        let identity = PluginIdentity {
            name: record.name.clone(),
            version: record.version.clone(),
            digest: record.sha256.clone(),
            signer: record.signer.clone(),
        };
        AuditTrail::new(audit.clone(), identity)
            .record_lifecycle("removed", &format!("{} (installed from {})", installed.path.display(), record.source));
        audit.finish()?;
        println!("removed {} {} ({})", record.name, record.version, installed.path.display());
        Ok(ExitStatus::Done)
    }
}
