//! The audit trail: every RPC a plugin attempts, allowed or denied, as JSON lines.
//!
//! The log is opened (created, appended to) before any plugin runs, so a run that cannot
//! write it does not start. An RPC the host lets through is written as `sent` *before*
//! it reaches the device (so it is on the record even if fwctl-run is killed while the
//! device works), and fsynced first when it changes device state or taints the kernel
//! (so not even a host crash loses it); its outcome follows as a second line with the
//! same `seq`, or `abandoned` when the run was cut off mid-call. Should a write fail,
//! later RPCs are denied rather than made off the record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use fwctl_devices::{DeviceDescriptor, DeviceKind, Scope};
use fwctl_proto::effect::Classification;
use fwctl_proto::envelope::{CxlRequest, Mlx5Request, cxl_retval, mlx5_status};
use serde::Serialize;

/// Why the audit log could not be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log {}: {source}", path.display())]
pub struct AuditError {
    /// The log.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Appender>,
    broken: AtomicBool,
    next_seq: AtomicU64,
}

/// The file, whether the next line must first end a line a failed write left torn, and
/// the outcome lines not yet written.
#[derive(Debug)]
struct Appender {
    file: File,
    torn: bool,
    /// Outcome lines wait here for the next `sent` line (or the end of the run) and go to
    /// the file in the same `write`: one system call per RPC instead of two. Nothing that
    /// must precede a device's action waits: `sent` lines are written at once.
    deferred: Vec<u8>,
}

/// Deferred outcome lines are written once they reach this size, whatever comes next.
const DEFERRED_LIMIT: usize = 64 << 10;

impl AuditLog {
    /// Opens (creating it and its directory) for appending.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let fail = |source| AuditError { path: path.to_owned(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        // A symlink is followed only when it belongs to this user or root: one another
        // user planted would point the record wherever they like.
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && meta.file_type().is_symlink()
        {
            use std::os::unix::fs::MetadataExt;
            let euid = nix::unistd::geteuid().as_raw();
            if meta.uid() != euid && meta.uid() != 0 {
                return Err(fail(std::io::Error::other(format!(
                    "it is a symlink owned by uid {}, not by this user or root",
                    meta.uid()
                ))));
            }
        }
        let mut file = OpenOptions::new().create(true).append(true).read(true).open(path).map_err(fail)?;
        let torn = ends_without_newline(&mut file).map_err(fail)?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(Appender { file, torn, deferred: Vec::new() }),
            broken: AtomicBool::new(false),
            next_seq: AtomicU64::new(0),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a write has failed; RPCs are refused from then on.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    fn append_line(&self, record: &impl Serialize) -> bool {
        self.append(record, Durability::PageCache)
    }

    /// Appends one line, after any deferred ones, in one `write`; with
    /// [`Durability::Disk`], returns only once it is on stable storage. `false` when it
    /// could not be written (the log is then broken).
    fn append(&self, record: &impl Serialize, durability: Durability) -> bool {
        with_line(record, |line| {
            let mut appender = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            let mut lines = std::mem::take(&mut appender.deferred);
            lines.extend_from_slice(line);
            self.write(&mut appender, lines, durability)
        })
    }

    /// Keeps an outcome line for the next write (see [`Appender::deferred`]).
    fn defer(&self, record: &impl Serialize) {
        with_line(record, |line| self.defer_line(line));
    }

    fn defer_line(&self, line: &[u8]) {
        let mut appender = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        appender.deferred.extend_from_slice(line);
        if appender.deferred.len() >= DEFERRED_LIMIT {
            let lines = std::mem::take(&mut appender.deferred);
            self.write(&mut appender, lines, Durability::PageCache);
        }
    }

    /// Writes `lines` (whole lines) to the file.
    fn write(&self, appender: &mut Appender, mut lines: Vec<u8>, durability: Durability) -> bool {
        if lines.is_empty() {
            return !appender.torn;
        }
        if appender.torn {
            // A write that failed part-way (a full volume) left half a line: end it, so
            // this record is not glued onto it.
            lines.insert(0, b'\n');
        }
        let written = appender.file.write_all(&lines).and_then(|()| match durability {
            Durability::Disk => appender.file.sync_data(),
            Durability::PageCache => Ok(()),
        });
        match written {
            Ok(()) => appender.torn = false,
            Err(_) => {
                appender.torn = true;
                self.broken.store(true, Ordering::Relaxed);
            }
        }
        // Reuse the buffer for the next deferred lines.
        lines.clear();
        appender.deferred = lines;
        !appender.torn
    }

    /// Writes the deferred lines and flushes to stable storage; reports a write that
    /// failed during the run.
    pub fn finish(&self) -> Result<(), AuditError> {
        let mut appender = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let lines = std::mem::take(&mut appender.deferred);
        self.write(&mut appender, lines, Durability::PageCache);
        appender.file.sync_all().map_err(|source| AuditError { path: self.path.clone(), source })?;
        if self.is_broken() {
            let source = std::io::Error::other("a record could not be written; later RPCs were refused");
            return Err(AuditError { path: self.path.clone(), source });
        }
        Ok(())
    }
}

impl Drop for AuditLog {
    /// Deferred outcome lines are written however the log goes away.
    fn drop(&mut self) {
        let appender = self.file.get_mut().unwrap_or_else(PoisonError::into_inner);
        let lines = std::mem::take(&mut appender.deferred);
        if !lines.is_empty() {
            let torn = if appender.torn { &b"\n"[..] } else { &[] };
            let _ = appender.file.write_all(&[torn, &lines].concat());
        }
    }
}

/// Serialises `record` as one line into this thread's buffer and hands it to `then`: the
/// JSON is formatted before the log's lock is taken, so concurrent runs wait for each
/// other only for the `write` itself.
fn with_line<R>(record: &impl Serialize, then: impl FnOnce(&[u8]) -> R) -> R {
    thread_local! {
        static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    LINE.with_borrow_mut(|line| {
        line.clear();
        let _ = serde_json::to_writer(&mut *line, record);
        line.push(b'\n');
        then(line)
    })
}

/// A 16-bit id as the log writes it, `0x0805`: formatted straight into the line, with no
/// string allocated per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex16(pub u16);

impl Serialize for Hex16 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:#06x}", self.0))
    }
}

/// Writes a value's text form into the line without an intermediate string.
fn as_text<T: std::fmt::Display, S: serde::Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn as_optional_text<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// Whether a line must be on stable storage before the caller goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    PageCache,
    Disk,
}

/// Whether a non-empty file's last byte is not a newline (a line left torn).
fn ends_without_newline(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Who made the calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginIdentity {
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// `sha256:<hex>` of the component: `digest` as everywhere else in the code, `sha256`
    /// in the audit log's stable format.
    #[serde(rename = "sha256")]
    pub digest: String,
    /// The verified signer, once signatures exist; `null` for unsigned plugins.
    pub signer: Option<String>,
}

/// A log plus the plugin whose calls go into it; one per run, cloned into each device.
#[derive(Clone, Debug)]
pub struct AuditTrail {
    log: Arc<AuditLog>,
    plugin: Arc<PluginIdentity>,
}

/// How one RPC attempt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RpcOutcome {
    /// The device answered; `status` is the firmware status (mlx5) or mailbox return
    /// code (CXL) inside the answer, when there is one.
    Ok {
        /// Bytes the driver reported.
        response_len: usize,
        /// Firmware status / return code; 0 is success.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u32>,
        /// mlx5 syndrome, when the status is not 0.
        #[serde(skip_serializing_if = "Option::is_none")]
        syndrome: Option<String>,
    },
    /// The kernel (or simulator) refused it.
    Errno {
        /// Symbolic errno, e.g. `EINVAL`.
        errno: String,
    },
    /// The host refused it; it never reached a backend.
    Denied {
        /// Why.
        reason: String,
    },
    /// The device was removed.
    Gone,
    /// Written before the RPC reaches the device; its outcome follows with the same `seq`.
    Sent,
    /// The run was cut off (deadline, abort) while the device had the RPC: it may have
    /// acted on it, but no answer was taken.
    Abandoned,
}

/// One RPC attempt, as the plugin made it and the host classified it.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The scope asked for.
    pub scope: Scope,
    /// The request bytes.
    pub request: &'a [u8],
    /// The response capacity asked for.
    pub response_capacity: usize,
    /// What the request does (`crate::policy::classify`).
    pub classification: &'a Classification,
}

/// One line of the audit log.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339, UTC, microseconds.
    #[serde(serialize_with = "as_text")]
    pub time: humantime::Rfc3339Timestamp,
    /// Pairs an RPC's `sent` line with its outcome (unique within one process's log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Who.
    pub plugin: &'a PluginIdentity,
    /// fwctl node name.
    pub device: &'a str,
    /// The parent device (PCI function or CXL memdev).
    pub parent: &'a str,
    /// Device kind.
    pub kind: DeviceKind,
    /// The scope asked for.
    pub scope: Scope,
    /// Opcode, `0x....`, when the request is long enough to carry one.
    pub opcode: Option<Hex16>,
    /// mlx5 op_mod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op_mod: Option<u16>,
    /// mlx5 register id of a register access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<Hex16>,
    /// CXL Feature UUID of a Get/Set Feature.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_optional_text")]
    pub feature: Option<fwctl_proto::cxl::Uuid>,
    /// What the host judged the RPC does: `read`, `write` or `unknown`.
    pub effect: &'static str,
    /// For a write or unknown RPC, what it does in words (the grant check's reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'a str>,
    /// Request bytes.
    pub request_len: usize,
    /// Response capacity asked for.
    pub response_capacity: usize,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: RpcOutcome,
    /// Time spent in the backend, in microseconds (0 for a denial).
    pub duration_us: u64,
}

impl AuditTrail {
    /// A trail into `log` for `plugin`'s calls.
    pub fn new(log: Arc<AuditLog>, plugin: PluginIdentity) -> Self {
        Self { log, plugin: Arc::new(plugin) }
    }

    /// Whether RPCs must be refused because the log stopped accepting records.
    pub fn is_broken(&self) -> bool {
        self.log.is_broken()
    }

    /// Records that the plugin was refused before it ran (signature, policy), and why.
    pub fn record_refusal(&self, reason: &str) {
        #[derive(Serialize)]
        struct Refusal<'a> {
            time: String,
            plugin: &'a PluginIdentity,
            outcome: &'static str,
            reason: &'a str,
        }
        let line = Refusal {
            time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            plugin: &self.plugin,
            outcome: "refused",
            reason,
        };
        self.log.append_line(&line);
    }

    /// Records that an admitted RPC is about to reach the device and returns its `seq`,
    /// or `None` when the record could not be written, in which case the RPC must not be
    /// sent. A state-changing or tainting RPC is on stable storage before this returns.
    pub fn record_sent(&self, device: &DeviceDescriptor, attempt: Attempt<'_>) -> Option<u64> {
        let seq = self.log.next_seq.fetch_add(1, Ordering::Relaxed);
        let durable = attempt.classification.changes_state() || attempt.scope.taints_kernel();
        let durability = if durable { Durability::Disk } else { Durability::PageCache };
        let record = self.build(device, attempt, Some(seq), RpcOutcome::Sent, Duration::ZERO);
        self.log.append(&record, durability).then_some(seq)
    }

    /// Records one attempt's outcome (`seq` from [`Self::record_sent`] for one that was
    /// sent, `None` for one refused before it).
    pub fn record(
        &self,
        device: &DeviceDescriptor,
        attempt: Attempt<'_>,
        seq: Option<u64>,
        outcome: RpcOutcome,
        duration: Duration,
    ) {
        let record = self.build(device, attempt, seq, outcome, duration);
        // Its `sent` line, if it was sent, is already in the file: the outcome can wait
        // for the next write.
        self.log.defer(&record);
    }

    fn build<'a>(
        &'a self,
        device: &'a DeviceDescriptor,
        attempt: Attempt<'a>,
        seq: Option<u64>,
        outcome: RpcOutcome,
        duration: Duration,
    ) -> AuditRecord<'a> {
        let Attempt { scope, request, response_capacity, classification } = attempt;
        let mut record = AuditRecord {
            time: humantime::format_rfc3339_micros(SystemTime::now()),
            seq,
            plugin: &self.plugin,
            device: &device.name,
            parent: &device.parent,
            kind: device.kind,
            scope,
            opcode: None,
            op_mod: None,
            register: None,
            feature: None,
            effect: classification.effect.as_str(),
            action: classification.changes_state().then_some(&*classification.action),
            request_len: request.len(),
            response_capacity,
            outcome,
            duration_us: duration.as_micros() as u64,
        };
        match device.kind {
            DeviceKind::Mlx5 => {
                if let Some(rpc) = Mlx5Request::parse(request) {
                    record.opcode = Some(Hex16(rpc.opcode));
                    record.op_mod = Some(rpc.op_mod);
                    record.register = rpc.register_id.map(Hex16);
                }
            }
            DeviceKind::Cxl => {
                if let Some(rpc) = CxlRequest::parse(request) {
                    record.opcode = Some(Hex16(rpc.opcode));
                    record.feature = rpc.feature;
                }
            }
            DeviceKind::Bnxt | DeviceKind::Pds => {}
        }
        record
    }
}

/// The `ok` outcome of an answer: the firmware status inside it, by device kind.
pub fn answered(kind: DeviceKind, response: &[u8], response_len: usize) -> RpcOutcome {
    let (status, syndrome) = match kind {
        DeviceKind::Mlx5 => match mlx5_status(response) {
            Some((status, syndrome)) => (Some(u32::from(status)), (status != 0).then(|| format!("{syndrome:#010x}"))),
            None => (None, None),
        },
        DeviceKind::Cxl => (cxl_retval(response), None),
        DeviceKind::Bnxt | DeviceKind::Pds => (None, None),
    };
    RpcOutcome::Ok { response_len, status, syndrome }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(kind: DeviceKind) -> DeviceDescriptor {
        DeviceDescriptor {
            name: "fwctl0".into(),
            rdma_device: None,
            node: "/dev/fwctl/fwctl0".into(),
            kind,
            parent: "0000:08:00.0".into(),
            pci_address: None,
            cxl_memdev: None,
            driver: Some("mlx5_core".into()),
            model: None,
            simulated: true,
            serial: None,
        }
    }

    #[test]
    fn records_are_one_json_line_each_with_what_the_rpc_targeted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let plugin = PluginIdentity { name: "p".into(), version: "1".into(), digest: "sha256:00".into(), signer: None };
        let trail = AuditTrail::new(log.clone(), plugin);
        let mut mgir = vec![0u8; 16];
        mgir[0..2].copy_from_slice(&0x805u16.to_be_bytes());
        mgir[6..8].copy_from_slice(&1u16.to_be_bytes());
        mgir[10..12].copy_from_slice(&0x9020u16.to_be_bytes());
        let mut answer = vec![0u8; 16];
        answer[0] = 3;
        answer[4..8].copy_from_slice(&0x1234u32.to_be_bytes());
        let outcome = answered(DeviceKind::Mlx5, &answer, 16);
        let read = fwctl_proto::effect::classify_mlx5(&mgir);
        let attempt =
            Attempt { scope: Scope::DebugReadOnly, request: &mgir, response_capacity: 16, classification: &read };
        let seq = trail.record_sent(&device(DeviceKind::Mlx5), attempt);
        trail.record(&device(DeviceKind::Mlx5), attempt, seq, outcome, Duration::from_micros(7));
        let short = fwctl_proto::effect::classify_mlx5(&[1, 2]);
        let attempt =
            Attempt { scope: Scope::DebugWrite, request: &[1, 2], response_capacity: 8, classification: &short };
        trail.record(
            &device(DeviceKind::Mlx5),
            attempt,
            None,
            RpcOutcome::Denied { reason: "no".into() },
            Duration::ZERO,
        );
        log.finish().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "sent, its outcome, a denial");
        assert_eq!((lines[0]["outcome"].as_str(), lines[0]["seq"].as_u64()), (Some("sent"), Some(0)));
        assert_eq!(lines[1]["seq"], 0, "the outcome pairs with its `sent` line");
        let lines = &lines[1..];
        let first = &lines[0];
        assert_eq!((first["opcode"].as_str(), first["register"].as_str()), (Some("0x0805"), Some("0x9020")));
        assert_eq!((first["effect"].as_str(), first.get("action")), (Some("read"), None));
        assert_eq!(lines[1]["effect"], "unknown");
        assert_eq!(lines[1]["action"], "an mlx5 request shorter than its 8-byte command header");
        assert_eq!((first["outcome"].as_str(), first["status"].as_u64()), (Some("ok"), Some(3)));
        assert_eq!(first["syndrome"], "0x00001234");
        assert_eq!(first["plugin"]["sha256"], "sha256:00");
        assert_eq!(first["duration_us"], 7);
        assert!(first["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!((lines[1]["outcome"].as_str(), lines[1]["reason"].as_str()), (Some("denied"), Some("no")));
        assert_eq!(lines[1]["opcode"], serde_json::Value::Null);
        assert_eq!(lines[1].get("seq"), None, "a denial was never sent");
    }

    #[test]
    fn a_torn_last_line_is_ended_before_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        // What a write cut short by a full volume leaves behind.
        std::fs::write(&path, "{\"time\":\"2026-11-30T00:00:00Z\",\"outco").unwrap();
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let plugin = PluginIdentity { name: "p".into(), version: "1".into(), digest: String::new(), signer: None };
        AuditTrail::new(log.clone(), plugin).record_refusal("why");
        log.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["reason"], "why", "a whole line of its own: {text}");
    }

    #[test]
    fn a_symlink_another_user_planted_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // This user's own symlink is theirs to point where they like.
        AuditLog::open(&link).unwrap();
        assert!(target.exists());
        std::fs::remove_file(&target).unwrap();
        if !nix::unistd::geteuid().is_root() {
            eprintln!("a symlink owned by another user needs root to make; checked where the suite runs as root");
            return;
        }
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(nix::unistd::Uid::from_raw(65534)),
            None,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let err = AuditLog::open(&link).unwrap_err().to_string();
        assert!(err.contains("symlink owned by uid 65534"), "{err}");
        assert!(!target.exists());
    }

    #[test]
    fn an_unwritable_log_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let err = AuditLog::open(&blocker.join("audit.jsonl")).unwrap_err();
        assert!(err.to_string().starts_with("cannot write the audit log"), "{err}");
    }
}
