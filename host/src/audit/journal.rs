//! The per-process audit journal: a ring of entries in a memory-mapped file beside the
//! log, so that recording an RPC is a copy into the page cache, with no system call.
//!
//! A store into a shared file mapping is in the kernel's page cache the moment it is
//! made: it outlives the process however it ends (SIGKILL included), exactly as a
//! `write(2)` to the log would have. The log (`audit.jsonl`) stays the one file readers
//! and shippers see, appended with `O_APPEND` by every process; the journal is only a
//! staging area. Whatever a process could not move into the log before it died is moved
//! there by the next process that opens the same log ([`recover`]).
//!
//! Layout (little-endian): a 64-byte header (`magic`, `capacity`, `flushed`, `written`,
//! `listed`, `table`; `flushed` and `written` are positions that only grow, taken modulo
//! `capacity`), then the plugin table (`table` bytes, of which `listed` are used), then
//! `capacity` bytes of ring. Table and ring hold entries framed as `u32 length` + bytes.
//! `written` is stored after the entry it covers, so a process killed in the middle of a
//! copy leaves that entry out; `flushed` is stored after the entries it covers are in
//! the log; `listed` is stored after the plugin it adds, and before any entry names it.
//!
//! The table holds the identity of each plugin whose RPCs the journal records, once: an
//! RPC entry names its plugin by place, so that the identity's strings are copied once per
//! journal instead of twice per RPC, and a journal read after a crash still has them
//! however far the ring has moved on. Journals of the first layout (`FWAUDJ01`, no table)
//! are still read.
//!
//! An RPC's `sent` entry has room for its answer, filled in place ([`Journal::complete`])
//! while the entry still waits in the ring, so the usual RPC is one entry, not two; its
//! outcome line then follows its `sent` line directly, ahead of lines recorded while the
//! device worked. Once a flush has copied the entry out it is never changed: the answer
//! becomes an entry of its own. The log gets the same two lines either way.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, compiler_fence};

use memmap2::MmapMut;
use nix::fcntl::{Flock, FlockArg};

const MAGIC: &[u8; 8] = b"FWAUDJ02";
/// The first layout: no plugin table.
const MAGIC_WITHOUT_TABLE: &[u8; 8] = b"FWAUDJ01";
const HEADER: usize = 64;
const CAPACITY_AT: usize = 8;
const FLUSHED_AT: usize = 16;
const WRITTEN_AT: usize = 24;
const LISTED_AT: usize = 32;
const TABLE_AT: usize = 40;
const FRAME: usize = 4;

/// The plugin table's size: a plugin's identity takes about 120 bytes, so some 500
/// different plugins fit. Once it is full, entries spell their plugin out.
pub(super) const TABLE: usize = 64 << 10;

/// The ring's size: at about 250 bytes an entry, some 4,000 entries wait here at most
/// before a writer flushes them itself.
pub(super) const CAPACITY: usize = 1 << 20;

/// Whether an entry of `len` bytes could ever fit in the ring.
pub(super) fn fits(len: usize) -> bool {
    FRAME + len <= CAPACITY
}

/// Where the journals of the log at `log` live: a hidden directory beside it.
pub(super) fn directory_for(log: &Path) -> PathBuf {
    let name = log.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    log.with_file_name(format!(".{name}.journal"))
}

/// This process's journal, locked (`flock`) for as long as it lives: the lock is how
/// [`recover`] tells a live writer's journal from a dead one's.
#[derive(Debug)]
pub(super) struct Journal {
    path: PathBuf,
    map: MmapMut,
    capacity: u64,
    flushed: u64,
    written: u64,
    /// Where the last entries copied out for the log end: an entry before it may be in
    /// a batch on its way to the log, so it is not changed in place any more.
    taken: u64,
    /// The encoded identities in the table, in order.
    listed: Vec<Vec<u8>>,
    /// Bytes of the table used.
    table_used: usize,
    _lock: Flock<File>,
}

impl Journal {
    /// Creates a journal in `dir` (which [`usable_directory`] has checked). Its blocks are
    /// allocated now: a store into a mapped page of a sparse file on a full volume would
    /// kill the process with SIGBUS instead of failing a write.
    pub(super) fn create(dir: &Path) -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let path = dir.join(format!("{}-{}.journal", std::process::id(), nanos.as_nanos()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| std::io::Error::from(errno))?;
        let made = (|| {
            nix::fcntl::posix_fallocate(&*lock, 0, (HEADER + TABLE + CAPACITY) as i64)?;
            // SAFETY: the mapping is of a file this process just created with O_EXCL,
            // mode 0600, in a directory only its owner may write, and holds an exclusive
            // flock on: no one else is meant to change it while it is mapped. Should the
            // owner do so anyway, the ring holds only bytes (no references or
            // invariants the program relies on); reading them back goes through
            // `decode`, which accepts any bytes.
            let mut map = unsafe { MmapMut::map_mut(&*lock)? };
            map[..8].copy_from_slice(MAGIC);
            map[CAPACITY_AT..CAPACITY_AT + 8].copy_from_slice(&(CAPACITY as u64).to_le_bytes());
            map[TABLE_AT..TABLE_AT + 8].copy_from_slice(&(TABLE as u64).to_le_bytes());
            Ok::<_, std::io::Error>(map)
        })();
        match made {
            Ok(map) => Ok(Self {
                path,
                map,
                capacity: CAPACITY as u64,
                flushed: 0,
                written: 0,
                taken: 0,
                listed: Vec::new(),
                table_used: 0,
                _lock: lock,
            }),
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(error)
            }
        }
    }

    /// Copies one entry in and returns its place (for [`Self::complete`]); `None` when
    /// the ring has no room for it until a flush.
    pub(super) fn append(&mut self, entry: &[u8]) -> Option<u64> {
        let framed = (FRAME + entry.len()) as u64;
        if self.written - self.flushed + framed > self.capacity {
            return None;
        }
        let at = self.written;
        self.put(at, &(entry.len() as u32).to_le_bytes());
        self.put(at + FRAME as u64, entry);
        self.written = at + framed;
        // The entry's bytes are stored before the position that covers them.
        compiler_fence(Ordering::Release);
        self.map[WRITTEN_AT..WRITTEN_AT + 8].copy_from_slice(&self.written.to_le_bytes());
        Some(at)
    }

    /// Writes `block` over the bytes at `offset` of the entry appended at `at`, first
    /// byte last (it says the block is filled in), and says `true`; `false`, changing
    /// nothing, once the entry may be in a batch on its way to the log, or when its
    /// block is filled in already (an answer is given once). The entry's length is the
    /// caller's: the block must lie within it.
    pub(super) fn complete(&mut self, at: u64, offset: usize, block: &[u8]) -> bool {
        if at < self.taken || at < self.flushed || at >= self.written {
            return false;
        }
        let start = at + (FRAME + offset) as u64;
        let Some((first, rest)) = block.split_first() else { return true };
        if self.map[HEADER + TABLE + (start % self.capacity) as usize] != 0 {
            return false;
        }
        self.put(start + 1, rest);
        // A process killed between the two stores leaves the block marked unfilled.
        compiler_fence(Ordering::Release);
        self.put(start, &[*first]);
        true
    }

    /// The place of an encoded plugin identity in the table, adding it when new; `None`
    /// when the table has no room for it.
    pub(super) fn list(&mut self, identity: &[u8]) -> Option<u32> {
        if let Some(place) = self.listed.iter().position(|listed| listed == identity) {
            return Some(place as u32);
        }
        let framed = FRAME + identity.len();
        if self.table_used + framed > TABLE {
            return None;
        }
        let at = HEADER + self.table_used;
        self.map[at..at + FRAME].copy_from_slice(&(identity.len() as u32).to_le_bytes());
        self.map[at + FRAME..at + framed].copy_from_slice(identity);
        self.table_used += framed;
        // The identity's bytes are stored before the length that covers them.
        compiler_fence(Ordering::Release);
        self.map[LISTED_AT..LISTED_AT + 8].copy_from_slice(&(self.table_used as u64).to_le_bytes());
        self.listed.push(identity.to_vec());
        Some((self.listed.len() - 1) as u32)
    }

    /// The encoded identities in the table from place `from` on.
    pub(super) fn listed_from(&self, from: usize) -> &[Vec<u8>] {
        self.listed.get(from..).unwrap_or_default()
    }

    /// Bytes waiting to be flushed.
    pub(super) fn pending(&self) -> u64 {
        self.written - self.flushed
    }

    /// Copies the oldest framed entries not yet flushed, whole and about `limit` bytes of
    /// them (at least one), into `out` (cleared first), and returns the position to pass
    /// to [`Self::mark_flushed`] once they are in the log.
    pub(super) fn take_pending(&mut self, out: &mut Vec<u8>, limit: usize) -> u64 {
        out.clear();
        let ring = &self.map[HEADER + TABLE..];
        let mut end = self.flushed;
        while end < self.written {
            let next = end + (FRAME + frame_length(ring, end)) as u64;
            if end > self.flushed && next - self.flushed > limit as u64 {
                break;
            }
            end = next;
        }
        copy_ring(ring, self.flushed, end, out);
        self.taken = self.taken.max(end);
        end
    }

    /// Everything up to `position` is in the log.
    pub(super) fn mark_flushed(&mut self, position: u64) {
        self.flushed = position.clamp(self.flushed, self.written);
        compiler_fence(Ordering::Release);
        self.map[FLUSHED_AT..FLUSHED_AT + 8].copy_from_slice(&self.flushed.to_le_bytes());
    }

    /// Removes the file: only once everything is in the log.
    pub(super) fn remove(&self) {
        if self.pending() == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn put(&mut self, position: u64, bytes: &[u8]) {
        let ring = &mut self.map[HEADER + TABLE..];
        let start = (position % self.capacity) as usize;
        let first = bytes.len().min(ring.len() - start);
        ring[start..start + first].copy_from_slice(&bytes[..first]);
        ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
    }
}

/// Appends the ring's bytes between two positions to `out`, unwrapping.
fn copy_ring(ring: &[u8], from: u64, to: u64, out: &mut Vec<u8>) {
    let capacity = ring.len() as u64;
    let (start, len) = ((from % capacity) as usize, (to - from) as usize);
    let first = len.min(ring.len() - start);
    out.extend_from_slice(&ring[start..start + first]);
    out.extend_from_slice(&ring[..len - first]);
}

/// The length in the frame header at `position` of the ring.
fn frame_length(ring: &[u8], position: u64) -> usize {
    let mut header = [0u8; FRAME];
    for (i, byte) in header.iter_mut().enumerate() {
        *byte = ring[((position + i as u64) % ring.len() as u64) as usize];
    }
    u32::from_le_bytes(header) as usize
}

/// The framed entries in `bytes`, in order; an `Err` names where the framing broke.
pub(super) fn entries(bytes: &[u8]) -> impl Iterator<Item = Result<&[u8], String>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((len, body)) = rest.split_first_chunk::<FRAME>() else {
            rest = &[];
            return Some(Err("a truncated entry header".to_string()));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len == 0 || len > body.len() {
            rest = &[];
            return Some(Err(format!("an entry length of {len} with {} bytes left", body.len())));
        }
        let (entry, after) = body.split_at(len);
        rest = after;
        Some(Ok(entry))
    })
}

/// Whether `dir` (created 0700 when missing) may hold this process's journals and be
/// trusted for the records in it: a directory, not a symlink, owned by this user or
/// root, writable by no one else. `Err` says why not; the log is then written directly.
pub(super) fn usable_directory(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(format!("cannot create {}: {error}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let euid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(format!("{} is owned by uid {}, not by this user or root", dir.display(), meta.uid()));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(format!("{} may be written by other users (mode {:o})", dir.display(), meta.mode() & 0o7777));
    }
    Ok(())
}

/// What recovering the journals of dead processes did, for the operator.
#[derive(Debug, Default)]
pub(super) struct Recovered {
    /// Lines appended to the log.
    pub lines: usize,
    /// One sentence per journal that could not be used whole.
    pub notes: Vec<String>,
}

/// Moves into `log` what the journals in `dir` hold and their (dead) writers did not
/// flush, then removes them. A journal whose writer still runs is locked and left
/// alone; one that is not ours (another owner, not a regular file) is not read. Lines
/// of a batch a writer had written to the log but not yet marked flushed when it died
/// appear twice; none is lost.
pub(super) fn recover(dir: &Path, log: &mut File) -> std::io::Result<Recovered> {
    let mut recovered = Recovered::default();
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Ok(recovered);
    };
    let euid = nix::unistd::geteuid().as_raw();
    for item in listing.flatten() {
        let path = item.path();
        if path.extension().is_none_or(|ext| ext != "journal") {
            continue;
        }
        let Ok(file) = OpenOptions::new().read(true).write(true).custom_flags(nix::libc::O_NOFOLLOW).open(&path) else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() || (meta.uid() != euid && meta.uid() != 0) {
            recovered.notes.push(format!("{} is not this user's journal; left unread", path.display()));
            continue;
        }
        // Locked: its writer is alive. Unlinked meanwhile: another process recovered it.
        let Ok(mut file) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else { continue };
        if file.metadata().map_or(true, |m| m.nlink() == 0) {
            continue;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (lines, damage) = pending_lines(&bytes);
        if !lines.is_empty() {
            log.write_all(&lines)?;
            log.sync_data()?;
            recovered.lines += lines.iter().filter(|&&b| b == b'\n').count();
        }
        match damage {
            None => {
                // Mark it empty before removing it: a second recoverer that opened it
                // before the unlink then finds nothing left to replay.
                if bytes.len() >= HEADER {
                    file.seek(SeekFrom::Start(FLUSHED_AT as u64))?;
                    file.write_all(&bytes[WRITTEN_AT..WRITTEN_AT + 8])?;
                }
                std::fs::remove_file(&path)?;
            }
            Some(damage) => {
                let kept = path.with_extension("damaged");
                let _ = std::fs::rename(&path, &kept);
                recovered.notes.push(format!(
                    "the audit journal {} of a run that did not end cleanly is damaged ({damage}); what could be \
                     read is in the log, the file is kept as {}",
                    path.display(),
                    kept.display()
                ));
            }
        }
    }
    Ok(recovered)
}

/// The JSON lines of a journal file's unflushed entries, and what was wrong with the
/// file if it could not be read whole.
fn pending_lines(bytes: &[u8]) -> (Vec<u8>, Option<String>) {
    let mut lines = Vec::new();
    let has_table = match bytes.get(..8) {
        Some(magic) if bytes.len() >= HEADER && magic == MAGIC => true,
        Some(magic) if bytes.len() >= HEADER && magic == MAGIC_WITHOUT_TABLE => false,
        _ => return (lines, Some("not an audit journal".into())),
    };
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (capacity, flushed, written) = (word(CAPACITY_AT), word(FLUSHED_AT), word(WRITTEN_AT));
    let (table, listed) = if has_table { (word(TABLE_AT), word(LISTED_AT)) } else { (0, 0) };
    if listed > table || table > (bytes.len() - HEADER) as u64 {
        return (lines, Some(format!("a plugin table of {listed} of {table} bytes in a file of {}", bytes.len())));
    }
    let ring = &bytes[HEADER + table as usize..];
    if capacity == 0 || capacity != ring.len() as u64 {
        return (lines, Some(format!("a ring of {capacity} bytes in a file of {}", bytes.len())));
    }
    if flushed > written || written - flushed > capacity {
        return (lines, Some(format!("positions flushed {flushed} and written {written} do not fit the ring")));
    }
    // What can be read is replayed: an unreadable identity costs its lines their plugin,
    // not the lines.
    let mut damage = Vec::new();
    let mut writer = super::record::LineWriter::default();
    for identity in entries(&bytes[HEADER..HEADER + listed as usize]) {
        match identity {
            Ok(identity) => {
                let decoded = super::entry::decode_identity(identity);
                if decoded.is_none() {
                    damage.push(format!("plugin {} in its table does not decode", writer.listed()));
                }
                writer.list(decoded);
            }
            Err(framing) => {
                damage.push(format!("its plugin table has {framing}"));
                break;
            }
        }
    }
    let mut pending = Vec::new();
    copy_ring(ring, flushed, written, &mut pending);
    let decode = if has_table { super::entry::decode } else { super::entry::decode_first_layout };
    let (mut unknown_plugins, mut undecodable, mut unreadable_answers) = (0, 0, 0);
    for entry in entries(&pending) {
        match entry.map(decode) {
            Ok(Some(entry)) => {
                unknown_plugins += usize::from(!entry.write_line(&mut writer, &mut lines));
                unreadable_answers += usize::from(entry.has_unreadable_answer());
            }
            // Its frame is whole: the entries after it are still found.
            Ok(None) => undecodable += 1,
            Err(framing) => {
                damage.push(framing);
                break;
            }
        }
    }
    if undecodable > 0 {
        damage.insert(0, format!("{undecodable} entries that do not decode"));
    }
    if unreadable_answers > 0 {
        damage.push(format!("{unreadable_answers} answers that do not decode (their sent lines are kept)"));
    }
    if unknown_plugins > 0 {
        damage.push(format!("{unknown_plugins} entries name a plugin its table does not hold (their plugin is null)"));
    }
    (lines, (!damage.is_empty()).then(|| damage.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::{self, Entry, Outcome, RpcEntry};
    use crate::audit::record::PluginRef;
    use fwctl_devices::{DeviceKind, Scope};

    const PLUGIN: PluginRef<'static> =
        PluginRef { name: "mlx5-diag", version: "0.1.0", sha256: "sha256:ab", signer: Some("vendor") };

    /// A `sent` entry of an mlx5 QUERY_ISSI naming its plugin as `plugin`.
    fn sent<P>(plugin: P, seq: u64) -> RpcEntry<'static, P> {
        RpcEntry {
            unix_micros: 1_764_504_000_000_000,
            seq: Some(seq),
            plugin,
            device: "fwctl0",
            parent: "0000:08:00.0",
            kind: DeviceKind::Mlx5,
            scope: Scope::DebugReadOnly,
            request_head: &[0x01, 0x0a, 0, 0, 0, 0, 0, 0],
            request_len: 16,
            response_capacity: 16,
            effect: "read",
            action: None,
            outcome: Outcome::Sent,
            duration_us: 0,
        }
    }

    fn encoded(entry: &Entry<'_>) -> Vec<u8> {
        let mut bytes = Vec::new();
        entry::encode(entry, &mut bytes);
        bytes
    }

    fn identity(plugin: &PluginRef<'_>) -> Vec<u8> {
        let mut bytes = Vec::new();
        entry::encode_identity(plugin, &mut bytes);
        bytes
    }

    fn journal() -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path()).unwrap();
        (dir, journal)
    }

    fn text(lines: &[u8]) -> Vec<serde_json::Value> {
        std::str::from_utf8(lines).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn a_plugin_is_listed_once_however_often_it_is_listed() {
        let (_dir, mut journal) = journal();
        let other = PluginRef { name: "cxl-features", ..PLUGIN };
        assert_eq!(journal.list(&identity(&PLUGIN)), Some(0));
        assert_eq!(journal.list(&identity(&other)), Some(1));
        assert_eq!(journal.list(&identity(&PLUGIN)), Some(0));
        assert_eq!(journal.listed_from(1), [identity(&other)]);
    }

    #[test]
    fn a_full_plugin_table_lists_no_more() {
        let (_dir, mut journal) = journal();
        let names: Vec<String> = (0..TABLE).map(|i| format!("plugin-{i}")).collect();
        let refused = names.iter().position(|name| journal.list(&identity(&PluginRef { name, ..PLUGIN })).is_none());
        let refused = refused.expect("the table fills up");
        assert!(refused > 400, "only {refused} plugins fit");
        // What was listed stays listed.
        assert_eq!(journal.list(&identity(&PluginRef { name: &names[0], ..PLUGIN })), Some(0));
    }

    #[test]
    fn the_entries_a_killed_process_left_name_their_plugin_from_its_table() {
        let (dir, mut journal) = journal();
        let place = journal.list(&identity(&PLUGIN)).unwrap();
        for seq in 0..10 {
            assert!(journal.append(&encoded(&Entry::Listed(sent(place, seq)))).is_some());
        }
        // Those are in the log; the ring moves on past the plugin's first entries.
        let upto = journal.take_pending(&mut Vec::new(), usize::MAX);
        journal.mark_flushed(upto);
        assert!(journal.append(&encoded(&Entry::Listed(sent(place, 10)))).is_some());
        assert!(journal.append(&encoded(&Entry::Rpc(sent(PluginRef { name: "inline", ..PLUGIN }, 11)))).is_some());
        drop(journal);
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let (lines, damage) = pending_lines(&std::fs::read(file).unwrap());
        assert_eq!(damage, None);
        let lines = text(&lines);
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0]["seq"].as_u64(), lines[0]["plugin"]["name"].as_str()), (Some(10), Some("mlx5-diag")));
        assert_eq!(lines[0]["plugin"]["signer"], "vendor");
        assert_eq!(lines[1]["plugin"]["name"], "inline");
    }

    /// Everything pending is in the log.
    fn flush_all(journal: &mut Journal) {
        let upto = journal.take_pending(&mut Vec::new(), usize::MAX);
        journal.mark_flushed(upto);
    }

    /// The lines a killed process's journal leaves for the next one.
    fn replayed(dir: &Path) -> Vec<serde_json::Value> {
        let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
        let (lines, damage) = pending_lines(&std::fs::read(file).unwrap());
        assert_eq!(damage, None);
        text(&lines)
    }

    fn answer(response_len: u64) -> entry::AnswerBlock {
        let ok = Outcome::Ok { response_len, status: Some(0), syndrome: None };
        entry::answer_block(1_764_504_000_999_999, 42, ok).unwrap()
    }

    #[test]
    fn an_answer_fills_its_sent_entry_only_until_the_entry_is_taken_for_the_log() {
        let (dir, mut journal) = journal();
        let place = journal.list(&identity(&PLUGIN)).unwrap();
        let first = journal.append(&encoded(&Entry::Sent(sent(place, 0), entry::AnswerSlot::Open))).unwrap();
        assert!(journal.complete(first, entry::ANSWER_AT, &answer(16)));
        assert!(!journal.complete(first, entry::ANSWER_AT, &answer(77)), "an answer is given once");
        let mut batch = Vec::new();
        let upto = journal.take_pending(&mut batch, usize::MAX);
        let taken = batch.clone();
        // On its way to the log: changing it now would change nothing the log gets.
        assert!(!journal.complete(first, entry::ANSWER_AT, &answer(99)));
        assert_eq!(journal.take_pending(&mut batch, usize::MAX), upto);
        assert_eq!(batch, taken, "the taken entry is as it was");
        // A later entry is still open, until it too is taken; a flushed one never is.
        let second = journal.append(&encoded(&Entry::Sent(sent(place, 1), entry::AnswerSlot::Open))).unwrap();
        journal.mark_flushed(upto);
        assert!(!journal.complete(first, entry::ANSWER_AT, &answer(99)));
        assert!(journal.complete(second, entry::ANSWER_AT, &answer(8)));
        assert!(!journal.complete(second + 1_000_000, entry::ANSWER_AT, &answer(8)), "past what was written");
        drop(journal);
        let lines = replayed(dir.path());
        let seen: Vec<_> =
            lines.iter().map(|l| (l["seq"].as_u64(), l["outcome"].as_str(), l["response_len"].as_u64())).collect();
        assert_eq!(seen, [(Some(1), Some("sent"), None), (Some(1), Some("ok"), Some(8))]);
        assert_eq!(
            (lines[1]["duration_us"].as_u64(), lines[1]["time"].as_str()),
            (Some(42), Some("2025-11-30T12:00:00.999999Z"))
        );
    }

    #[test]
    fn an_answer_block_across_the_end_of_the_ring_is_filled_in_both_pieces() {
        let (dir, mut journal) = journal();
        let place = journal.list(&identity(&PLUGIN)).unwrap();
        // Filler moves the ring on until the next entry's answer block straddles its end.
        while journal.written + 70_000 < journal.capacity {
            journal.append(&[0xaa; 65_536]).unwrap();
            flush_all(&mut journal);
        }
        let gap = (journal.capacity - journal.written) as usize - 10;
        journal.append(&vec![0xaa; gap - FRAME]).unwrap();
        flush_all(&mut journal);
        let at = journal.append(&encoded(&Entry::Sent(sent(place, 3), entry::AnswerSlot::Open))).unwrap();
        assert!(at % journal.capacity + (FRAME + entry::ANSWER_AT + 35) as u64 > journal.capacity, "it straddles");
        assert!(journal.complete(at, entry::ANSWER_AT, &answer(64)));
        drop(journal);
        let lines = replayed(dir.path());
        let seen: Vec<_> = lines.iter().map(|l| (l["outcome"].as_str(), l["response_len"].as_u64())).collect();
        assert_eq!(seen, [(Some("sent"), None), (Some("ok"), Some(64))]);
    }

    #[test]
    fn a_process_killed_while_filling_in_an_answer_leaves_its_sent_line_and_a_damaged_block_only_a_note() {
        let (dir, mut journal) = journal();
        let place = journal.list(&identity(&PLUGIN)).unwrap();
        let killed = journal.append(&encoded(&Entry::Sent(sent(place, 1), entry::AnswerSlot::Open))).unwrap();
        let damaged = journal.append(&encoded(&Entry::Sent(sent(place, 2), entry::AnswerSlot::Open))).unwrap();
        // What `complete` had stored when the kill came: all but the first byte.
        let start = |at: u64| at + (FRAME + entry::ANSWER_AT) as u64;
        journal.put(start(killed) + 1, &answer(16)[1..]);
        let mut garbage = answer(16);
        garbage[1] = 0xee;
        journal.put(start(damaged), &garbage);
        drop(journal);
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let (lines, damage) = pending_lines(&std::fs::read(file).unwrap());
        assert_eq!(damage.as_deref(), Some("1 answers that do not decode (their sent lines are kept)"));
        let seen: Vec<_> =
            text(&lines).iter().map(|l| (l["seq"].as_u64(), l["outcome"].as_str().map(String::from))).collect();
        assert_eq!(seen, [(Some(1), Some("sent".into())), (Some(2), Some("sent".into()))]);
    }

    #[test]
    fn a_sent_entry_over_old_ring_bytes_starts_with_its_answer_open() {
        let (dir, mut journal) = journal();
        let place = journal.list(&identity(&PLUGIN)).unwrap();
        // The ring's first bytes hold something else, then the ring comes round to them.
        journal.append(&[0xff; 4096]).unwrap();
        flush_all(&mut journal);
        while journal.written % journal.capacity != 0 {
            let room = (journal.capacity - journal.written % journal.capacity) as usize;
            journal.append(&vec![0xaa; room.min(65_536) - FRAME]).unwrap();
            flush_all(&mut journal);
        }
        let at = journal.append(&encoded(&Entry::Sent(sent(place, 8), entry::AnswerSlot::Open))).unwrap();
        assert_eq!(at % journal.capacity, 0, "over the old bytes");
        drop(journal);
        let lines = replayed(dir.path());
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0]["seq"].as_u64(), lines[0]["outcome"].as_str()), (Some(8), Some("sent")));
    }

    #[test]
    fn a_sent_entry_left_unanswered_by_a_killed_process_replays_as_sent_alone() {
        let (dir, mut journal) = journal();
        let place = journal.list(&identity(&PLUGIN)).unwrap();
        journal.append(&encoded(&Entry::Sent(sent(place, 5), entry::AnswerSlot::Open))).unwrap();
        drop(journal);
        let lines = replayed(dir.path());
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0]["seq"].as_u64(), lines[0]["outcome"].as_str()), (Some(5), Some("sent")));
    }

    #[test]
    fn an_entry_naming_a_plugin_the_table_lacks_keeps_its_line_with_a_null_plugin() {
        let (dir, mut journal) = journal();
        journal.list(&identity(&PLUGIN)).unwrap();
        assert!(journal.append(&encoded(&Entry::Listed(sent(0, 0)))).is_some());
        assert!(journal.append(&encoded(&Entry::Listed(sent(7, 1)))).is_some());
        drop(journal);
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let (lines, damage) = pending_lines(&std::fs::read(file).unwrap());
        assert_eq!(damage.as_deref(), Some("1 entries name a plugin its table does not hold (their plugin is null)"));
        let lines = text(&lines);
        assert_eq!(lines.len(), 2, "no line is lost");
        assert_eq!((lines[0]["plugin"]["name"].as_str(), lines[1]["seq"].as_u64()), (Some("mlx5-diag"), Some(1)));
        assert_eq!(lines[1]["plugin"], serde_json::Value::Null);
    }

    #[test]
    fn an_unreadable_plugin_in_the_table_costs_its_lines_their_plugin_not_the_lines() {
        let (dir, mut journal) = journal();
        journal.list(&identity(&PLUGIN)).unwrap();
        assert!(journal.append(&encoded(&Entry::Listed(sent(0, 0)))).is_some());
        assert!(journal.append(&encoded(&Entry::Rpc(sent(PluginRef { name: "inline", ..PLUGIN }, 1)))).is_some());
        drop(journal);
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let mut bytes = std::fs::read(file).unwrap();
        // The identity's name length (after the frame) claims more than the identity holds.
        bytes[HEADER + FRAME] = 0x7f;
        let (lines, damage) = pending_lines(&bytes);
        let damage = damage.unwrap();
        assert!(damage.starts_with("plugin 0 in its table does not decode"), "{damage}");
        let lines = text(&lines);
        assert_eq!(lines.len(), 2, "both lines replayed");
        assert_eq!((lines[0]["seq"].as_u64(), &lines[0]["plugin"]), (Some(0), &serde_json::Value::Null));
        assert_eq!(lines[1]["plugin"]["name"], "inline");
    }

    #[test]
    fn a_journal_of_the_first_layout_without_a_table_is_still_read() {
        // An RPC entry exactly as processes of the first layout wrote it (postcard: variant
        // 0, then the fields in order, the plugin spelled out).
        let entry: &[u8] = &[
            0, 128, 224, 255, 208, 233, 153, 145, 3, 1, 3, 9, b'm', b'l', b'x', b'5', b'-', b'd', b'i', b'a', b'g', 5,
            b'0', b'.', b'1', b'.', b'0', 9, b's', b'h', b'a', b'2', b'5', b'6', b':', b'a', b'b', 1, 6, b'v', b'e',
            b'n', b'd', b'o', b'r', 6, b'f', b'w', b'c', b't', b'l', b'0', 12, b'0', b'0', b'0', b'0', b':', b'0',
            b'8', b':', b'0', b'0', b'.', b'0', 0, 1, 8, 1, 10, 0, 0, 0, 0, 0, 0, 16, 16, 4, b'r', b'e', b'a', b'd', 0,
            4, 0,
        ];
        let first_layout = postcard::to_stdvec(&Entry::Rpc(sent(PLUGIN, 3))).unwrap();
        assert_eq!(entry, first_layout, "entries spelling their plugin out keep the first layout's bytes");
        let capacity = 256usize;
        let mut file = vec![0u8; HEADER + capacity];
        file[..8].copy_from_slice(MAGIC_WITHOUT_TABLE);
        file[CAPACITY_AT..CAPACITY_AT + 8].copy_from_slice(&(capacity as u64).to_le_bytes());
        file[WRITTEN_AT..WRITTEN_AT + 8].copy_from_slice(&((FRAME + entry.len()) as u64).to_le_bytes());
        file[HEADER..HEADER + FRAME].copy_from_slice(&(entry.len() as u32).to_le_bytes());
        file[HEADER + FRAME..HEADER + FRAME + entry.len()].copy_from_slice(entry);
        let (lines, damage) = pending_lines(&file);
        assert_eq!(damage, None);
        let lines = text(&lines);
        assert_eq!((lines[0]["seq"].as_u64(), lines[0]["plugin"]["sha256"].as_str()), (Some(3), Some("sha256:ab")));
    }

    #[test]
    fn a_plugin_table_larger_than_the_file_is_damage() {
        let (dir, journal) = journal();
        drop(journal);
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let mut bytes = std::fs::read(file).unwrap();
        bytes[TABLE_AT..TABLE_AT + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let (_, damage) = pending_lines(&bytes);
        assert!(damage.unwrap().starts_with("a plugin table of 0 of 18446744073709551615 bytes"));
        bytes[TABLE_AT..TABLE_AT + 8].copy_from_slice(&(TABLE as u64).to_le_bytes());
        bytes[LISTED_AT..LISTED_AT + 8].copy_from_slice(&(TABLE as u64 + 1).to_le_bytes());
        assert!(pending_lines(&bytes).1.unwrap().starts_with("a plugin table of 65537 of 65536 bytes"));
    }
}
