//! What a plugin keeps between its runs on one device (the WIT `state` interface, since
//! `fwctl:plugin@0.1.2`): counters to judge by their rate, a baseline to compare with.
//!
//! One file per plugin under a directory of the operator's (`--state-dir`, else
//! [`crate::paths::state_dir`]), named by a hash of the plugin's manifest name and trusted
//! signer (an unsigned plugin cannot prove who it is, so unsigned plugins of one name
//! share); inside, one entry per device, keyed by a hash of its kind, PCI address (or
//! parent) and its own serial number, so a board replaced in the same slot starts
//! afresh. No name or serial can steer a path.
//!
//! A run reads the file once and writes it once, at the end, whatever the number of
//! devices: 10,000 files written per fleet run cost seconds in directory operations and
//! writeback. The write merges with what another fwctl-run process may have written in
//! the meantime (under an exclusive lock, then renamed into place), so concurrent runs
//! on different devices keep each other's entries. Files are readable by their owner
//! only. A file that cannot be read or is not one of ours is a warning and a fresh start,
//! never a failed run. The state is data, not firmware access: nothing of it goes on the
//! audit trail.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::audit::PluginIdentity;
use crate::devices::DeviceDescriptor;

/// The most bytes one plugin keeps for one device.
pub const MAX_STATE_BYTES: usize = 64 << 10;

/// The first line of every state file, what it is and its format; then entries of a
/// 32-byte device key, the time it was saved (u64 seconds), the data's length (u32),
/// both little-endian, and the data.
const MAGIC: &[u8] = b"fwctl-run plugin state 3\n";

/// Where states are kept.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
    /// Added to the host's clock when judging a state's age (tests: "an hour later").
    clock_shift: Duration,
}

/// What a previous run saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    /// The bytes.
    pub data: Vec<u8>,
    /// How long ago.
    pub age: Duration,
}

/// Why a state could not be saved (a write that fails at the end of the run is a
/// warning of [`PluginStates::finish`], not the plugin's concern).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// Over [`MAX_STATE_BYTES`].
    #[error("{len} bytes is more than the {MAX_STATE_BYTES} the host keeps for a plugin on a device")]
    TooLarge {
        /// What was offered.
        len: usize,
    },
}

/// One device's entry: when it was saved (seconds since the epoch) and the data.
type Entry = (u64, Vec<u8>);

/// One plugin's states, read once for the run and written once at its end.
#[derive(Debug)]
pub struct PluginStates {
    path: PathBuf,
    clock_shift: Duration,
    /// What the file held when the run began, by device key.
    previous: BTreeMap<[u8; 32], Entry>,
    /// Why the file was set aside, if it was.
    problem: Option<String>,
    /// What this run saved, by device key.
    saved: Mutex<BTreeMap<[u8; 32], Entry>>,
}

/// One plugin's state on one device.
#[derive(Clone, Debug)]
pub struct StateSlot {
    states: Arc<PluginStates>,
    key: [u8; 32],
}

fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn now_secs(shift: Duration) -> u64 {
    (SystemTime::now() + shift).duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl StateStore {
    /// The store in `dir` (created, owner-only, when first written).
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned(), clock_shift: Duration::ZERO }
    }

    /// Judges ages as if `shift` more time had passed (for tests of rates over time).
    pub fn shifted(mut self, shift: Duration) -> Self {
        self.clock_shift = shift;
        self
    }

    /// Where the store is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `plugin`'s states, read from its file.
    pub fn for_plugin(&self, plugin: &PluginIdentity) -> Arc<PluginStates> {
        let signer = plugin.signer.as_deref().map_or("unsigned", |s| s.split(" (key").next().unwrap_or(s));
        let name = hex::encode(&hash(&format!("{}\0{signer}", plugin.name))[..16]);
        let path = self.dir.join(format!("{name}.state"));
        let (previous, problem) = match read_entries(&path) {
            Ok(entries) => (entries, None),
            Err(problem) => (BTreeMap::new(), Some(problem)),
        };
        Arc::new(PluginStates { path, clock_shift: self.clock_shift, previous, problem, saved: Mutex::default() })
    }
}

/// The entries of a state file; none when there is no file yet.
fn read_entries(path: &Path) -> Result<BTreeMap<[u8; 32], Entry>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let not_ours = || format!("{} is not a state file fwctl-run wrote", path.display());
    let mut rest = bytes.strip_prefix(MAGIC).ok_or_else(not_ours)?;
    let mut entries = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_at_checked(32).ok_or_else(not_ours)?;
        let (stamp, after) = after.split_at_checked(8).ok_or_else(not_ours)?;
        let (len, after) = after.split_at_checked(4).ok_or_else(not_ours)?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        if len > MAX_STATE_BYTES {
            return Err(not_ours());
        }
        let (data, after) = after.split_at_checked(len).ok_or_else(not_ours)?;
        let stamp = u64::from_le_bytes(stamp.try_into().expect("8 bytes"));
        entries.insert(key.try_into().expect("32 bytes"), (stamp, data.to_vec()));
        rest = after;
    }
    Ok(entries)
}

impl PluginStates {
    /// The plugin's slot on `device`.
    pub fn slot(self: &Arc<Self>, device: &DeviceDescriptor) -> StateSlot {
        let place = device.pci_address.as_deref().unwrap_or(&device.parent);
        let key = hash(&format!("{}\0{place}\0{}", device.kind, device.serial.as_deref().unwrap_or("")));
        StateSlot { states: Arc::clone(self), key }
    }

    /// Writes what this run saved, merged into what the file holds now (another process
    /// may have written it since this run read it), under an exclusive lock; renamed into
    /// place, so a reader sees the old file or the new one. Nothing saved: nothing written.
    pub fn finish(&self) -> Result<(), String> {
        let saved = std::mem::take(&mut *self.saved.lock().unwrap_or_else(PoisonError::into_inner));
        if saved.is_empty() {
            return Ok(());
        }
        let dir = self.path.parent().expect("a state file sits in a directory");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| format!("cannot lock {}: {e}", lock_path.display()))?;
        // A file set aside at the start is replaced; one that broke since is too.
        let mut entries = read_entries(&self.path).unwrap_or_default();
        entries.extend(saved);
        let mut contents = MAGIC.to_vec();
        for (key, (stamp, data)) in &entries {
            contents.extend_from_slice(key);
            contents.extend_from_slice(&stamp.to_le_bytes());
            contents.extend_from_slice(&(data.len() as u32).to_le_bytes());
            contents.extend_from_slice(data);
        }
        crate::atomic_file::replace(&self.path, &contents, 0o600).map_err(|e| e.to_string())
    }
}

impl StateSlot {
    /// What the previous run saved, if anything; a warning instead when the plugin's file
    /// is there but cannot be used (the run then starts afresh).
    pub fn load(&self) -> Result<Option<Saved>, String> {
        if let Some(problem) = &self.states.problem {
            return Err(problem.clone());
        }
        Ok(self.states.previous.get(&self.key).map(|(stamp, data)| {
            let now = now_secs(self.states.clock_shift);
            // A clock set back makes a state from "the future": call it new.
            Saved { data: data.clone(), age: Duration::from_secs(now.saturating_sub(*stamp)) }
        }))
    }

    /// Keeps `data` for the next run, replacing what was kept; written when the run ends
    /// ([`PluginStates::finish`]).
    pub fn save(&self, data: &[u8]) -> Result<(), SaveError> {
        if data.len() > MAX_STATE_BYTES {
            return Err(SaveError::TooLarge { len: data.len() });
        }
        let entry = (now_secs(self.states.clock_shift), data.to_vec());
        self.states.saved.lock().unwrap_or_else(PoisonError::into_inner).insert(self.key, entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::DeviceKind;

    fn device(serial: Option<&str>) -> DeviceDescriptor {
        DeviceDescriptor {
            name: "fwctl0".into(),
            kind: DeviceKind::Mlx5,
            parent: "0000:3b:00.0".into(),
            pci_address: Some("0000:3b:00.0".into()),
            cxl_memdev: None,
            driver: None,
            rdma_device: None,
            node: "simulated:x".into(),
            model: None,
            simulated: true,
            serial: serial.map(Into::into),
        }
    }

    fn plugin(name: &str, signer: Option<&str>) -> PluginIdentity {
        PluginIdentity {
            name: name.into(),
            version: "1".into(),
            digest: "sha256:00".into(),
            signer: signer.map(Into::into),
        }
    }

    #[test]
    fn a_saved_state_comes_back_with_its_age_and_only_to_its_plugin_and_device() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let states = store.for_plugin(&plugin("diag", None));
        assert_eq!(states.slot(&device(Some("A"))).load(), Ok(None));
        states.slot(&device(Some("A"))).save(b"counters").unwrap();
        states.finish().unwrap();
        let later = StateStore::new(dir.path()).shifted(Duration::from_secs(3600));
        let saved = later.for_plugin(&plugin("diag", None)).slot(&device(Some("A"))).load().unwrap().unwrap();
        assert_eq!(saved.data, b"counters");
        assert!((3600..3610).contains(&saved.age.as_secs()), "{:?}", saved.age);
        // Another plugin, another signer, another board in the same slot: nothing.
        for (who, board) in [("other", None), ("diag", Some("vendor (key 1234)"))]
            .map(|(n, s)| (plugin(n, s), "A"))
            .into_iter()
            .chain([(plugin("diag", None), "B")])
        {
            assert_eq!(store.for_plugin(&who).slot(&device(Some(board))).load(), Ok(None));
        }
    }

    #[test]
    fn runs_on_different_devices_keep_each_others_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let (first, second) = (store.for_plugin(&plugin("diag", None)), store.for_plugin(&plugin("diag", None)));
        first.slot(&device(Some("A"))).save(b"a").unwrap();
        second.slot(&device(Some("B"))).save(b"b").unwrap();
        first.finish().unwrap();
        second.finish().unwrap();
        let states = store.for_plugin(&plugin("diag", None));
        assert_eq!(states.slot(&device(Some("A"))).load().unwrap().unwrap().data, b"a");
        assert_eq!(states.slot(&device(Some("B"))).load().unwrap().unwrap().data, b"b");
    }

    #[test]
    fn a_hostile_name_cannot_steer_the_path_and_a_broken_file_is_a_warning_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let who = plugin("../../etc/x", None);
        let states = store.for_plugin(&who);
        states.slot(&device(Some("../y"))).save(b"x").unwrap();
        states.finish().unwrap();
        assert!(states.path.starts_with(dir.path()));
        // Cut short, as a crash mid-write of another tool would leave it.
        let whole = std::fs::read(&states.path).unwrap();
        std::fs::write(&states.path, &whole[..whole.len() - 1]).unwrap();
        let broken = store.for_plugin(&who);
        assert!(broken.slot(&device(Some("../y"))).load().unwrap_err().contains("is not a state file fwctl-run wrote"));
        broken.slot(&device(Some("../y"))).save(b"fresh").unwrap();
        broken.finish().unwrap();
        assert_eq!(store.for_plugin(&who).slot(&device(Some("../y"))).load().unwrap().unwrap().data, b"fresh");
        let slot = store.for_plugin(&who).slot(&device(None));
        assert_eq!(slot.save(&vec![0; MAX_STATE_BYTES + 1]), Err(SaveError::TooLarge { len: MAX_STATE_BYTES + 1 }));
    }
}
