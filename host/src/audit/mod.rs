//! The audit trail: every RPC a plugin attempts, allowed or denied, as JSON lines.
//!
//! The log is opened (created, appended to) before any plugin runs, so a run that cannot
//! write it does not start. An RPC the host lets through is recorded as `sent` *before*
//! it reaches the device (so it is on the record even if fwctl-run is killed while the
//! device works), and is in the log file and fsynced first when it changes device state
//! or taints the kernel (so not even a host crash loses it); its outcome follows as a
//! second line with the same `seq`, or `abandoned` when the run was cut off mid-call.
//! Should a write fail, later RPCs are denied rather than made off the record.
//!
//! Recording costs no system call: an entry is copied into this process's
//! [`journal`], a memory-mapped file beside the log whose pages outlive the process
//! however it ends, and a flusher thread turns entries into JSON lines and appends them to
//! the log in batches (every [`FLUSH_EVERY`], or sooner when [`FLUSH_AT`] bytes wait).
//! What a killed process left in its journal is appended by the next process that opens
//! the log. A log that is not a regular file (a pipe, a device) is written line by line.

mod entry;
mod journal;
mod record;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use fwctl_devices::DeviceDescriptor;
use fwctl_proto::effect::Classification;
use fwctl_proto::envelope::{cxl_retval, mlx5_status};

use entry::{Entry, Outcome, RpcEntry};
use journal::Journal;
use record::LineWriter;
pub use record::{PluginIdentity, RpcOutcome};

/// How long an entry waits in the journal at most before the flusher moves it to the log
/// (what a reader tailing the log may lag behind).
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Pending journal bytes that wake the flusher before [`FLUSH_EVERY`].
pub const FLUSH_AT: u64 = 64 << 10;

/// Why the audit log could not be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log {}: {source}", path.display())]
pub struct AuditError {
    /// The log.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// An append-only JSON-lines file, and this process's journal for it.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    shared: Arc<Shared>,
    flusher: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The flusher, to wake when entries pile up.
    waker: Option<std::thread::Thread>,
    next_seq: AtomicU64,
    /// Tells this log's [`Sent`] records from another's: a place in one journal means
    /// nothing in another.
    id: u64,
    notes: Vec<String>,
}

/// What the writers and the flusher thread share.
#[derive(Debug)]
struct Shared {
    /// The log file; its lock is also the flush lock, so batches reach the file in the
    /// order their entries were journaled.
    log: Mutex<LogFile>,
    /// `None` when the log is written line by line.
    journal: Option<Mutex<Journal>>,
    /// Signalled when a flush has made room in the journal.
    room: Condvar,
    broken: AtomicBool,
    stop: AtomicBool,
}

/// The log file, whether the next line must first end a line a failed write left torn,
/// and the buffers a flush reuses.
#[derive(Debug)]
struct LogFile {
    file: File,
    torn: bool,
    batch: Vec<u8>,
    lines: Vec<u8>,
    writer: LineWriter,
    /// Entries of this process that could not be written as made (always 0 but for a
    /// bug; the tests hold it there).
    misrecorded: usize,
}

/// Whether a line must be on stable storage before the caller goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    PageCache,
    Disk,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AuditLog {
    /// Opens (creating it and its directory) for appending, after moving into it what
    /// earlier processes left in their journals.
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
        let mut notes = Vec::new();
        let journal = if file.metadata().map_err(fail)?.is_file() {
            let dir = journal::directory_for(path);
            match journal::usable_directory(&dir) {
                Ok(()) => {
                    if torn {
                        file.write_all(b"\n").map_err(fail)?;
                    }
                    let recovered = journal::recover(&dir, &mut file).map_err(fail)?;
                    if recovered.lines > 0 {
                        notes.push(format!(
                            "{} audit lines that a run which did not end cleanly had recorded were moved from \
                             its journal into {}",
                            recovered.lines,
                            path.display()
                        ));
                    }
                    notes.extend(recovered.notes);
                    match Journal::create(&dir) {
                        Ok(journal) => Some(Mutex::new(journal)),
                        // A file system that cannot map a shared file still takes writes.
                        Err(error) => {
                            notes.push(format!(
                                "cannot make an audit journal in {}: {error}; each record is written as made",
                                dir.display()
                            ));
                            None
                        }
                    }
                }
                Err(why) => {
                    notes.push(format!("{why}: the audit journal is not used, each record is written as made"));
                    None
                }
            }
        } else {
            None
        };
        let torn = torn && journal.is_none();
        let log = Mutex::new(LogFile {
            file,
            torn,
            batch: Vec::new(),
            lines: Vec::new(),
            writer: LineWriter::default(),
            misrecorded: 0,
        });
        let shared = Arc::new(Shared {
            log,
            journal,
            room: Condvar::new(),
            broken: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let flusher = match shared.journal {
            Some(_) => {
                let shared = shared.clone();
                let spawned = std::thread::Builder::new().name("audit-flush".into()).spawn(move || {
                    while !shared.stop.load(Ordering::Acquire) {
                        // A backlog is worked off batch by batch, without sleeping, while
                        // the runs go on adding to it (unless the log is broken: then
                        // the backlog stays in the journal for a later process).
                        if shared.pending() < FLUSH_AT || shared.broken.load(Ordering::Relaxed) {
                            std::thread::park_timeout(FLUSH_EVERY);
                        }
                        drop(shared.flush_locked(lock(&shared.log), Durability::PageCache, FLUSH_AT as usize));
                    }
                });
                Some(spawned.map_err(fail)?)
            }
            None => None,
        };
        let waker = flusher.as_ref().map(|f: &std::thread::JoinHandle<()>| f.thread().clone());
        Ok(Self {
            path: path.to_owned(),
            shared,
            flusher: Mutex::new(flusher),
            waker,
            next_seq: AtomicU64::new(0),
            id: {
                static OPENED: AtomicU64 = AtomicU64::new(0);
                OPENED.fetch_add(1, Ordering::Relaxed)
            },
            notes,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening the log found worth telling the operator: lines recovered from a
    /// journal, a journal directory that could not be used.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Whether a write has failed; RPCs are refused from then on.
    pub fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::Relaxed)
    }

    /// Records one entry; with [`Durability::Disk`], returns only once its line is in the
    /// log on stable storage. [`Appended::Refused`] when it could not be recorded (the
    /// log is then broken).
    fn append(&self, entry: &Entry<'_>, durability: Durability) -> Appended {
        if self.is_broken() {
            return Appended::Refused;
        }
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER.with_borrow_mut(|buffer| {
            let Some(journal) = &self.shared.journal else {
                let mut log = lock(&self.shared.log);
                buffer.clear();
                entry.write_line(&mut log.writer, buffer);
                return Appended::logged(self.shared.write_lines(&mut log, buffer, durability));
            };
            entry::encode(entry, buffer);
            if buffer.is_empty() {
                // Not encodable (a bug): refused rather than journaled as nothing.
                return Appended::Refused;
            }
            if !journal::fits(buffer.len()) {
                // Larger than the whole ring (a denial reason of a megabyte): written
                // directly, after everything journaled before it.
                let mut log = self.shared.flush_locked(lock(&self.shared.log), Durability::PageCache, usize::MAX);
                let mut line = Vec::new();
                learn_listed(&lock(journal), &mut log.writer);
                entry.write_line(&mut log.writer, &mut line);
                return Appended::logged(self.shared.write_lines(&mut log, &line, durability));
            }
            let (at, pending) = {
                let mut ring = lock(journal);
                loop {
                    if let Some(at) = ring.append(buffer) {
                        break (at, ring.pending());
                    }
                    if self.is_broken() {
                        return Appended::Refused;
                    }
                    // Full: the flusher makes room batch by batch. Should it not within a
                    // while (it is gone, or stuck behind a slow disk), this writer does.
                    self.wake_flusher();
                    let (guard, waited) =
                        self.shared.room.wait_timeout(ring, FLUSH_EVERY).unwrap_or_else(PoisonError::into_inner);
                    ring = guard;
                    if waited.timed_out() {
                        drop(ring);
                        if !self.shared.flush(Durability::PageCache) {
                            return Appended::Refused;
                        }
                        ring = lock(journal);
                    }
                }
            };
            if durability == Durability::Disk {
                return Appended::logged(self.shared.flush(Durability::Disk));
            }
            // Crossing the mark wakes the flusher, once.
            if pending >= FLUSH_AT && pending - (buffer.len() as u64) < FLUSH_AT + 4 {
                self.wake_flusher();
            }
            Appended::Journaled(at)
        })
    }

    /// Fills in the answer of the `sent` entry journaled at `at`; `false` when it is too
    /// late (the entry may be on its way to the log): the answer then needs its own entry.
    fn complete(&self, at: u64, answer: &entry::AnswerBlock) -> bool {
        let Some(journal) = &self.shared.journal else { return false };
        !self.is_broken() && lock(journal).complete(at, entry::ANSWER_AT, answer)
    }

    /// The place of `plugin` in the journal's plugin table, adding it when new; `None`
    /// without a journal, or with a full table (entries then spell the plugin out).
    fn list(&self, plugin: &PluginIdentity) -> Option<u32> {
        let journal = self.shared.journal.as_ref()?;
        let mut encoded = Vec::new();
        entry::encode_identity(&plugin.as_ref(), &mut encoded);
        lock(journal).list(&encoded)
    }

    fn wake_flusher(&self) {
        if let Some(flusher) = &self.waker {
            flusher.unpark();
        }
    }

    /// Moves everything recorded so far into the log and flushes it to stable storage;
    /// reports a write that failed during the run.
    pub fn finish(&self) -> Result<(), AuditError> {
        let log = self.shared.flush_locked(lock(&self.shared.log), Durability::PageCache, usize::MAX);
        log.file.sync_all().map_err(|source| AuditError { path: self.path.clone(), source })?;
        if self.is_broken() {
            let source = std::io::Error::other("a record could not be written; later RPCs were refused");
            return Err(AuditError { path: self.path.clone(), source });
        }
        Ok(())
    }
}

impl Drop for AuditLog {
    /// Whatever is journaled goes to the log however the log goes away; the journal file
    /// is removed once it is empty (a failed write leaves it for the next process).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(flusher) = lock(&self.flusher).take() {
            flusher.thread().unpark();
            let _ = flusher.join();
        }
        self.shared.flush(Durability::PageCache);
        if let Some(journal) = &self.shared.journal {
            lock(journal).remove();
        }
    }
}

/// Gives `writer` the plugins listed in `journal`'s table since it last looked.
fn learn_listed(journal: &Journal, writer: &mut LineWriter) {
    for identity in journal.listed_from(writer.listed()) {
        writer.list(entry::decode_identity(identity));
    }
}

impl Shared {
    /// Moves the journaled entries into the log; `false` when the log is broken.
    fn flush(&self, durability: Durability) -> bool {
        let log = self.flush_locked(lock(&self.log), durability, usize::MAX);
        !log.torn && !self.broken.load(Ordering::Relaxed)
    }

    /// Bytes in the journal not yet in the log.
    fn pending(&self) -> u64 {
        self.journal.as_ref().map_or(0, |journal| lock(journal).pending())
    }

    /// Moves the oldest journaled entries, about `limit` bytes of them, into the log, with
    /// the log's lock already held; hands the lock back.
    fn flush_locked<'a>(
        &self,
        mut log: MutexGuard<'a, LogFile>,
        durability: Durability,
        limit: usize,
    ) -> MutexGuard<'a, LogFile> {
        let Some(journal) = &self.journal else { return log };
        if self.broken.load(Ordering::Relaxed) {
            return log;
        }
        let log_file = &mut *log;
        let upto = {
            // Under one lock: every plugin an entry taken here names is learnt with it.
            let mut journal = lock(journal);
            learn_listed(&journal, &mut log_file.writer);
            journal.take_pending(&mut log_file.batch, limit)
        };
        if log_file.batch.is_empty() && durability == Durability::PageCache {
            return log;
        }
        log_file.lines.clear();
        // A line is about four times its entry: grown once, not by doubling and copying.
        log_file.lines.reserve(log_file.batch.len() * 5);
        let mut framing_broken = false;
        for framed in journal::entries(&log_file.batch) {
            // This process wrote every entry: one that does not decode, or names a plugin
            // the writer has not learnt, is a bug. The first is skipped rather than ending
            // the run's record, the second written with a null plugin; both are counted.
            // Broken framing would lose the entries after it: they stay in the journal
            // for the next process, and the log takes no more records.
            match framed.map(entry::decode) {
                Ok(Some(entry)) => {
                    if !entry.write_line(&mut log_file.writer, &mut log_file.lines) || entry.has_unreadable_answer() {
                        log_file.misrecorded += 1;
                    }
                }
                Ok(None) => log_file.misrecorded += 1,
                Err(_) => {
                    framing_broken = true;
                    break;
                }
            }
        }
        if framing_broken {
            self.broken.store(true, Ordering::Relaxed);
            return log;
        }
        let lines = std::mem::take(&mut log_file.lines);
        if self.write_lines(log_file, &lines, durability) {
            lock(journal).mark_flushed(upto);
            self.room.notify_all();
        }
        log_file.lines = lines;
        log
    }

    /// Writes whole lines to the file; `false` (and the log broken) when that failed.
    fn write_lines(&self, log: &mut LogFile, lines: &[u8], durability: Durability) -> bool {
        if lines.is_empty() && durability == Durability::PageCache {
            return !log.torn;
        }
        // A write that failed part-way (a full volume) left half a line: end it, so
        // these records are not glued onto it.
        let ended = if log.torn { log.file.write_all(b"\n") } else { Ok(()) };
        let written = ended.and_then(|()| log.file.write_all(lines)).and_then(|()| match durability {
            Durability::Disk => log.file.sync_data(),
            Durability::PageCache => Ok(()),
        });
        log.torn = written.is_err();
        if log.torn {
            self.broken.store(true, Ordering::Relaxed);
        }
        !log.torn
    }
}

/// Whether a non-empty file's last byte is not a newline (a line left torn).
fn ends_without_newline(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(meta.len() - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Where [`AuditLog::append`] put an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Appended {
    /// Nowhere: the log is broken.
    Refused,
    /// Straight into the log (no journal, an entry larger than the ring, or one that
    /// had to reach the disk at once).
    Logged,
    /// Into the journal's ring, at this place.
    Journaled(u64),
}

impl Appended {
    fn logged(written: bool) -> Self {
        if written { Self::Logged } else { Self::Refused }
    }
}

/// An RPC on the record as `sent`: its `seq`, and where its entry waits in the journal
/// for the answer to be filled in (`None`: the answer gets an entry of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The `seq` its lines share.
    pub seq: u64,
    /// When it was sent: its answer's time is this plus the call's duration, so an RPC
    /// reads the clock of the day once.
    unix_micros: u64,
    /// The log's id and the entry's place in its journal.
    at: Option<(u64, u64)>,
}

/// A log plus the plugin whose calls go into it; one per run, cloned into each device.
#[derive(Clone, Debug)]
pub struct AuditTrail {
    log: Arc<AuditLog>,
    plugin: Arc<PluginIdentity>,
    /// The plugin's place in the journal's table, when it has one: taken at its first RPC,
    /// so that a plugin refused before it ran takes no room there.
    listed: Arc<OnceLock<Option<u32>>>,
}

/// One RPC attempt, as the plugin made it and the host classified it.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The scope asked for.
    pub scope: fwctl_devices::Scope,
    /// The request bytes.
    pub request: &'a [u8],
    /// The response capacity asked for.
    pub response_capacity: usize,
    /// What the request does (`crate::policy::classify`).
    pub classification: &'a Classification,
}

impl AuditTrail {
    /// A trail into `log` for `plugin`'s calls.
    pub fn new(log: Arc<AuditLog>, plugin: PluginIdentity) -> Self {
        Self { log, plugin: Arc::new(plugin), listed: Arc::default() }
    }

    /// Whether RPCs must be refused because the log stopped accepting records.
    pub fn is_broken(&self) -> bool {
        self.log.is_broken()
    }

    /// Records that the plugin was refused before it ran (signature, policy), and why.
    pub fn record_refusal(&self, reason: &str) {
        let entry =
            Entry::Refusal { unix_micros: entry::unix_micros_now(), plugin: self.plugin.as_ref().as_ref(), reason };
        self.log.append(&entry, Durability::PageCache);
    }

    /// Records that the operator installed, updated or removed the plugin (`action`:
    /// `installed`, `updated`, `removed`), with where from and to in `detail`; on stable
    /// storage before this returns, as it changes what runs on the host.
    pub fn record_lifecycle(&self, action: &str, detail: &str) {
        let entry = Entry::Lifecycle {
            unix_micros: entry::unix_micros_now(),
            plugin: self.plugin.as_ref().as_ref(),
            action,
            detail,
        };
        self.log.append(&entry, Durability::Disk);
    }

    /// Records that an admitted RPC is about to reach the device, or says `None` when
    /// the record could not be made, in which case the RPC must not be sent. A
    /// state-changing or tainting RPC is in the log on stable storage before this
    /// returns. The answer goes on the record with [`Self::record_answer`].
    pub fn record_sent(&self, device: &DeviceDescriptor, attempt: Attempt<'_>) -> Option<Sent> {
        let seq = self.log.next_seq.fetch_add(1, Ordering::Relaxed);
        let durable = attempt.classification.changes_state() || attempt.scope.taints_kernel();
        let durability = if durable { Durability::Disk } else { Durability::PageCache };
        let unix_micros = entry::unix_micros_now();
        let entry = match self.entry(unix_micros, device, attempt, Some(seq), Outcome::Sent, Duration::ZERO) {
            // Journaled with room for its answer: the usual RPC makes one entry, not two.
            Entry::Listed(rpc) if durability == Durability::PageCache => Entry::Sent(rpc, entry::AnswerSlot::Open),
            other => other,
        };
        match self.log.append(&entry, durability) {
            Appended::Refused => None,
            Appended::Logged => Some(Sent { seq, unix_micros, at: None }),
            Appended::Journaled(at) => {
                Some(Sent { seq, unix_micros, at: matches!(entry, Entry::Sent(..)).then_some((self.log.id, at)) })
            }
        }
    }

    /// Records the answer to an RPC [`Self::record_sent`] put on the record: filled into
    /// its `sent` entry while that still waits in the journal (its two lines are then
    /// written together), else as an entry of its own.
    pub fn record_answer(
        &self,
        device: &DeviceDescriptor,
        attempt: Attempt<'_>,
        sent: Sent,
        outcome: RpcOutcome,
        duration: Duration,
    ) {
        let outcome_entry = Outcome::from(&outcome);
        if let Some((log, at)) = sent.at
            && log == self.log.id
            && let Some(answer) = entry::answer_block(
                sent.unix_micros + duration.as_micros() as u64,
                duration.as_micros() as u64,
                outcome_entry,
            )
            && self.log.complete(at, &answer)
        {
            return;
        }
        self.record(device, attempt, Some(sent.seq), outcome, duration);
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
        let entry = self.entry(entry::unix_micros_now(), device, attempt, seq, Outcome::from(&outcome), duration);
        self.log.append(&entry, Durability::PageCache);
    }

    fn entry<'a>(
        &'a self,
        unix_micros: u64,
        device: &'a DeviceDescriptor,
        attempt: Attempt<'a>,
        seq: Option<u64>,
        outcome: Outcome<'a>,
        duration: Duration,
    ) -> Entry<'a> {
        match *self.listed.get_or_init(|| self.log.list(&self.plugin)) {
            Some(place) => Entry::Listed(rpc_entry(place, unix_micros, device, attempt, seq, outcome, duration)),
            None => Entry::Rpc(rpc_entry(
                self.plugin.as_ref().as_ref(),
                unix_micros,
                device,
                attempt,
                seq,
                outcome,
                duration,
            )),
        }
    }
}

/// An RPC entry's facts, naming the plugin as `plugin`.
fn rpc_entry<'a, P>(
    plugin: P,
    unix_micros: u64,
    device: &'a DeviceDescriptor,
    attempt: Attempt<'a>,
    seq: Option<u64>,
    outcome: Outcome<'a>,
    duration: Duration,
) -> RpcEntry<'a, P> {
    let Attempt { scope, request, response_capacity, classification } = attempt;
    RpcEntry {
        unix_micros,
        seq,
        plugin,
        device: &device.name,
        parent: &device.parent,
        kind: device.kind,
        scope,
        request_head: &request[..request.len().min(entry::REQUEST_HEAD)],
        request_len: request.len() as u64,
        response_capacity: response_capacity as u64,
        effect: classification.effect.as_str(),
        action: classification.changes_state().then_some(&*classification.action),
        outcome,
        duration_us: duration.as_micros() as u64,
    }
}

/// The `ok` outcome of an answer: the firmware status inside it, by device kind.
pub fn answered(kind: fwctl_devices::DeviceKind, response: &[u8], response_len: usize) -> RpcOutcome {
    use fwctl_devices::DeviceKind;
    let (status, syndrome) = match kind {
        DeviceKind::Mlx5 => match mlx5_status(response) {
            Some((status, syndrome)) => (Some(u32::from(status)), (status != 0).then_some(syndrome)),
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
    use fwctl_devices::{DeviceKind, Scope};

    fn identity() -> PluginIdentity {
        PluginIdentity { name: "p".into(), version: "1".into(), digest: "sha256:00".into(), signer: None }
    }

    /// An mlx5 QUERY_ISSI read as the host records it, `sent` then its outcome.
    fn record_read(trail: &AuditTrail) -> Option<u64> {
        let request = [0x01, 0x0a, 0, 0, 0, 0, 0, 0];
        let read = fwctl_proto::effect::classify_mlx5(&request);
        let attempt =
            Attempt { scope: Scope::DebugReadOnly, request: &request, response_capacity: 16, classification: &read };
        let sent = trail.record_sent(&device(DeviceKind::Mlx5), attempt)?;
        let outcome = answered(DeviceKind::Mlx5, &[0; 16], 16);
        trail.record_answer(&device(DeviceKind::Mlx5), attempt, sent, outcome, Duration::ZERO);
        Some(sent.seq)
    }

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"))).collect()
    }

    /// What a process killed mid-run leaves: a journal with entries no one flushed, no
    /// longer locked.
    fn journal_of_a_killed_run(log: &Path, reasons: &[&str]) -> PathBuf {
        let dir = journal::directory_for(log);
        journal::usable_directory(&dir).unwrap();
        let mut ring = Journal::create(&dir).unwrap();
        let (mut buffer, plugin) = (Vec::new(), identity());
        for reason in reasons {
            let entry = Entry::Refusal { unix_micros: 1, plugin: plugin.as_ref(), reason };
            entry::encode(&entry, &mut buffer);
            assert!(ring.append(&buffer).is_some());
        }
        drop(ring);
        let left: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(left.len(), 1, "{left:?}");
        left[0].clone()
    }

    #[test]
    fn what_a_killed_run_left_in_its_journal_is_moved_into_the_log_by_the_next_process_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let left = journal_of_a_killed_run(&path, &["first", "second"]);
        let log = AuditLog::open(&path).unwrap();
        assert!(log.notes()[0].starts_with("2 audit lines"), "{:?}", log.notes());
        assert!(!left.exists(), "the journal is removed once its lines are in the log");
        drop(log);
        let reasons: Vec<_> = lines(&path).iter().map(|l| l["reason"].clone()).collect();
        assert_eq!(reasons, [serde_json::Value::Null, "first".into(), "second".into()]);
        // Opened again: nothing is replayed twice.
        drop(AuditLog::open(&path).unwrap());
        assert_eq!(lines(&path).len(), 3);
    }

    #[test]
    fn a_live_process_journal_is_left_to_it_and_every_line_appears_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let first = Arc::new(AuditLog::open(&path).unwrap());
        let first_trail = AuditTrail::new(first.clone(), identity());
        for _ in 0..100 {
            record_read(&first_trail);
        }
        // A second fwctl-run opens the same log while the first still runs.
        let second = Arc::new(AuditLog::open(&path).unwrap());
        assert!(second.notes().is_empty(), "{:?}", second.notes());
        record_read(&AuditTrail::new(second.clone(), identity()));
        second.finish().unwrap();
        first.finish().unwrap();
        drop((first_trail, first, second));
        let all = lines(&path);
        assert_eq!(all.len(), 202, "each line once");
        let journals = std::fs::read_dir(journal::directory_for(&path)).unwrap().count();
        assert_eq!(journals, 0, "both journals removed at the end");
    }

    #[test]
    fn a_run_longer_than_the_journal_loses_nothing_and_keeps_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let trail = AuditTrail::new(log.clone(), identity());
        // Well over the ring's megabyte, faster than the flusher's interval.
        let rpcs = 3 * journal::CAPACITY / 200;
        for _ in 0..rpcs {
            record_read(&trail);
        }
        log.finish().unwrap();
        let all = lines(&path);
        assert_eq!(all.len(), 2 * rpcs);
        for (i, pair) in all.chunks(2).enumerate() {
            assert_eq!((pair[0]["seq"].as_u64(), pair[0]["outcome"].as_str()), (Some(i as u64), Some("sent")));
            assert_eq!((pair[1]["seq"].as_u64(), pair[1]["outcome"].as_str()), (Some(i as u64), Some("ok")));
        }
    }

    #[test]
    fn an_answer_given_after_its_sent_line_is_in_the_log_gets_a_line_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let trail = AuditTrail::new(log.clone(), identity());
        let request = [0x01, 0x0a, 0, 0, 0, 0, 0, 0];
        let read = fwctl_proto::effect::classify_mlx5(&request);
        let attempt =
            Attempt { scope: Scope::DebugReadOnly, request: &request, response_capacity: 16, classification: &read };
        let mlx5 = device(DeviceKind::Mlx5);
        let sent = trail.record_sent(&mlx5, attempt).unwrap();
        // The flusher takes the `sent` entry while the device still holds the RPC.
        assert!(log.shared.flush(Durability::PageCache));
        assert_eq!(lines(&path).len(), 1, "the sent line is in the log");
        trail.record_answer(&mlx5, attempt, sent, answered(DeviceKind::Mlx5, &[0; 16], 16), Duration::from_micros(3));
        // And one answered while its entry waits: both lines together.
        let next = trail.record_sent(&mlx5, attempt).unwrap();
        trail.record_answer(&mlx5, attempt, next, RpcOutcome::Errno(nix::errno::Errno::EIO), Duration::ZERO);
        log.finish().unwrap();
        let seen: Vec<_> = lines(&path).iter().map(|l| (l["seq"].as_u64(), l["outcome"].clone())).collect();
        let seen: Vec<_> = seen.iter().map(|(seq, outcome)| (*seq, outcome.as_str())).collect();
        assert_eq!(
            seen,
            [
                (Some(sent.seq), Some("sent")),
                (Some(sent.seq), Some("ok")),
                (Some(next.seq), Some("sent")),
                (Some(next.seq), Some("errno"))
            ]
        );
    }

    #[test]
    fn a_sent_record_of_one_log_never_fills_an_entry_of_another() {
        let dir = tempfile::tempdir().unwrap();
        let (one, other) = (dir.path().join("one.jsonl"), dir.path().join("other.jsonl"));
        let (one_log, other_log) = (Arc::new(AuditLog::open(&one).unwrap()), Arc::new(AuditLog::open(&other).unwrap()));
        let (one_trail, other_trail) =
            (AuditTrail::new(one_log.clone(), identity()), AuditTrail::new(other_log.clone(), identity()));
        let attempt = |request: &'static [u8], read| Attempt {
            scope: Scope::DebugReadOnly,
            request,
            response_capacity: 16,
            classification: read,
        };
        let (issi, hca): (&[u8], &[u8]) = (&[0x01, 0x0a, 0, 0, 0, 0, 0, 0], &[0x01, 0x00, 0, 0, 0, 0, 0, 0]);
        let (issi_read, hca_read) = (fwctl_proto::effect::classify_mlx5(issi), fwctl_proto::effect::classify_mlx5(hca));
        let mlx5 = device(DeviceKind::Mlx5);
        // Two entries at the same place of their journals, about different commands; the
        // other log's flusher held off, so its entry could still be filled.
        let held_off = lock(&other_log.shared.log);
        other_trail.record_sent(&mlx5, attempt(hca, &hca_read)).unwrap();
        let sent = one_trail.record_sent(&mlx5, attempt(issi, &issi_read)).unwrap();
        other_trail.record_answer(&mlx5, attempt(issi, &issi_read), sent, RpcOutcome::Gone, Duration::ZERO);
        drop(held_off);
        one_log.finish().unwrap();
        other_log.finish().unwrap();
        let seen = |path: &Path| {
            lines(path)
                .iter()
                .map(|l| format!("{} {}", l["opcode"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(seen(&one), ["0x010a sent"]);
        assert_eq!(
            seen(&other),
            ["0x0100 sent", "0x010a gone"],
            "the other's entry untouched, the answer a line of its own"
        );
    }

    #[test]
    fn plugins_beyond_a_full_plugin_table_are_spelled_out_in_each_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let plugin = |i: usize| PluginIdentity { name: format!("plugin-{i}"), ..identity() };
        let trails: Vec<AuditTrail> =
            (0..journal::TABLE / 16).map(|i| AuditTrail::new(log.clone(), plugin(i))).collect();
        for trail in &trails {
            record_read(trail);
        }
        let (first, last) = (&trails[0], trails.last().unwrap());
        assert_eq!((first.listed.get(), last.listed.get()), (Some(&Some(0)), Some(&None)));
        let again = AuditTrail::new(log.clone(), plugin(0));
        record_read(&again);
        assert_eq!(again.listed.get(), Some(&Some(0)), "the same plugin, the same place");
        log.finish().unwrap();
        let names: Vec<_> = lines(&path).iter().map(|l| l["plugin"]["name"].as_str().unwrap().to_owned()).collect();
        let expected: Vec<String> =
            (0..trails.len()).chain([0]).flat_map(|i| [format!("plugin-{i}"), format!("plugin-{i}")]).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn plugins_listed_while_the_flusher_works_are_named_in_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        // New plugins' first RPCs on some threads while others flush: an entry must never
        // reach the flusher before the plugin it names.
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let log = log.clone();
                scope.spawn(move || {
                    for i in 0..500 {
                        let plugin = PluginIdentity { name: format!("p-{thread}-{i}"), ..identity() };
                        record_read(&AuditTrail::new(log.clone(), plugin));
                        log.shared.flush(Durability::PageCache);
                    }
                });
            }
        });
        log.finish().unwrap();
        assert_eq!(lock(&log.shared.log).misrecorded, 0);
        let all = lines(&path);
        assert_eq!(all.len(), 4 * 500 * 2);
        assert!(all.iter().all(|l| l["plugin"]["name"].is_string()), "every line names its plugin");
    }

    #[test]
    fn a_plugin_refused_before_it_ran_takes_no_place_in_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).unwrap());
        let refused = AuditTrail::new(log.clone(), PluginIdentity { name: "refused".into(), ..identity() });
        refused.record_refusal("unsigned");
        let ran = AuditTrail::new(log.clone(), identity());
        record_read(&ran);
        assert_eq!((refused.listed.get(), ran.listed.get()), (None, Some(&Some(0))));
    }

    #[test]
    fn a_state_changing_rpc_is_in_the_log_file_itself_before_it_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let trail = AuditTrail::new(log.clone(), identity());
        // ACCESS_REG, op_mod 0: a register write.
        let mut write = vec![0u8; 16];
        write[0..2].copy_from_slice(&0x805u16.to_be_bytes());
        write[10..12].copy_from_slice(&0x9024u16.to_be_bytes());
        let classification = fwctl_proto::effect::classify_mlx5(&write);
        assert!(classification.changes_state());
        let attempt = Attempt {
            scope: Scope::Configuration,
            request: &write,
            response_capacity: 16,
            classification: &classification,
        };
        trail.record_sent(&device(DeviceKind::Mlx5), attempt).unwrap();
        // No flush, no finish: the line is already in the file.
        let all = lines(&path);
        assert_eq!((all.len(), all[0]["effect"].as_str()), (1, Some("write")), "{all:?}");
    }

    #[test]
    fn a_damaged_journal_gives_up_what_it_can_and_is_kept_for_inspection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let left = journal_of_a_killed_run(&path, &["unreadable", "readable"]);
        let mut bytes = std::fs::read(&left).unwrap();
        // The first entry's encoding byte (after its frame) is one no entry has; its
        // frame is whole, so the entry after it is still found.
        let ring = 64 + journal::TABLE;
        bytes[ring + 4] = 9;
        // A third entry of garbage, and `written` claiming it.
        let written = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
        let at = ring + written as usize;
        bytes[at..at + 8].copy_from_slice(&[3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        bytes[24..32].copy_from_slice(&(written + 7).to_le_bytes());
        std::fs::write(&left, &bytes).unwrap();
        let log = AuditLog::open(&path).unwrap();
        let notes = log.notes().join("\n");
        assert!(notes.contains("is damaged (2 entries that do not decode)"), "{notes}");
        assert!(left.with_extension("damaged").exists(), "{notes}");
        drop(log);
        let replayed: Vec<_> = lines(&path).iter().map(|l| l["reason"].clone()).collect();
        assert_eq!(replayed, ["readable"]);
    }

    #[test]
    fn a_journal_directory_others_may_write_is_not_trusted_and_the_log_is_written_directly() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let planted = journal_of_a_killed_run(&path, &["forged by another user"]);
        let journals = journal::directory_for(&path);
        std::fs::set_permissions(&journals, std::fs::Permissions::from_mode(0o777)).unwrap();
        let log = Arc::new(AuditLog::open(&path).unwrap());
        assert!(log.notes()[0].contains("may be written by other users"), "{:?}", log.notes());
        record_read(&AuditTrail::new(log.clone(), identity()));
        // Written as made, with no journal and no flush.
        assert_eq!(lines(&path).len(), 2);
        drop(log);
        assert!(planted.exists(), "left unread");
        assert!(lines(&path).iter().all(|l| l["reason"].is_null()), "nothing planted reached the log");
    }

    #[test]
    fn a_journal_planted_by_another_user_is_never_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let planted = journal_of_a_killed_run(&path, &["forged"]);
        if !nix::unistd::geteuid().is_root() {
            eprintln!("a file owned by another user needs root to make; checked where the suite runs as root");
            return;
        }
        nix::unistd::chown(&planted, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let log = AuditLog::open(&path).unwrap();
        assert!(log.notes()[0].contains("is not this user's journal"), "{:?}", log.notes());
        drop(log);
        assert!(planted.exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "nothing planted reached the log");
    }

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
        let sent = trail.record_sent(&device(DeviceKind::Mlx5), attempt).unwrap();
        trail.record_answer(&device(DeviceKind::Mlx5), attempt, sent, outcome, Duration::from_micros(7));
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
