//! What a plugin keeps between its runs on one device (the WIT `state` interface, since
//! `fwctl:plugin@0.1.2`): counters to judge by their rate, a baseline to compare with.
//!
//! One file per plugin and device, under a directory of the operator's (`--state-dir`,
//! else [`crate::paths::state_dir`]): `<plugin>/<device>.state`, both names hashes, so a
//! plugin's name or a device's serial cannot steer the path. The plugin's part is its
//! manifest name and its trusted signer (an unsigned plugin cannot prove who it is, so
//! unsigned plugins of one name share); the device's part is its kind, PCI address (or
//! parent) and its own serial number, so a board replaced in the same slot starts
//! afresh. Files are replaced atomically and readable by their owner only. A file that
//! cannot be read or is not one of ours is a warning and a fresh start, never a failed
//! run. The state is data, not firmware access: nothing of it goes on the audit trail.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::audit::PluginIdentity;
use crate::devices::DeviceDescriptor;

/// The most bytes one plugin keeps for one device.
pub const MAX_STATE_BYTES: usize = 64 << 10;

/// The first line of every state file: what it is, and its format.
const MAGIC: &[u8] = b"fwctl-run plugin state 1\n";

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

/// Why a state could not be saved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// Over [`MAX_STATE_BYTES`].
    #[error("{len} bytes is more than the {MAX_STATE_BYTES} the host keeps for a plugin on a device")]
    TooLarge {
        /// What was offered.
        len: usize,
    },
    /// The host keeps no state for this run, or could not write it.
    #[error("{0}")]
    Unavailable(String),
}

/// One plugin's state on one device.
#[derive(Clone, Debug)]
pub struct StateSlot {
    path: PathBuf,
    clock_shift: Duration,
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
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

    /// The slot of `plugin` on `device`.
    pub fn slot(&self, plugin: &PluginIdentity, device: &DeviceDescriptor) -> StateSlot {
        let signer = plugin.signer.as_deref().map_or("unsigned", |s| s.split(" (key").next().unwrap_or(s));
        let who = short_hash(&format!("{}\0{signer}", plugin.name));
        let place = device.pci_address.as_deref().unwrap_or(&device.parent);
        let what = short_hash(&format!("{}\0{place}\0{}", device.kind, device.serial.as_deref().unwrap_or("")));
        StateSlot { path: self.dir.join(who).join(format!("{what}.state")), clock_shift: self.clock_shift }
    }
}

impl StateSlot {
    /// What the previous run saved, if anything; a warning instead when the file is there
    /// but cannot be used (the run then starts afresh).
    pub fn load(&self) -> Result<Option<Saved>, String> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        let not_ours = || format!("{} is not a state file fwctl-run wrote", self.path.display());
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(not_ours)?;
        let (stamp, data) = rest.split_at_checked(8).ok_or_else(not_ours)?;
        if data.len() > MAX_STATE_BYTES {
            return Err(not_ours());
        }
        let saved_at = UNIX_EPOCH + Duration::from_secs(u64::from_le_bytes(stamp.try_into().expect("8 bytes")));
        let now = SystemTime::now() + self.clock_shift;
        // A clock set back makes a state from "the future": call it new, not an error.
        let age = now.duration_since(saved_at).unwrap_or_default();
        Ok(Some(Saved { data: data.to_vec(), age }))
    }

    /// Keeps `data` for the next run, replacing what was kept (renamed into place: a
    /// reader sees the old state or the new one).
    pub fn save(&self, data: &[u8]) -> Result<(), SaveError> {
        if data.len() > MAX_STATE_BYTES {
            return Err(SaveError::TooLarge { len: data.len() });
        }
        let unavailable = |e: &dyn std::fmt::Display| SaveError::Unavailable(format!("cannot keep the state: {e}"));
        let dir = self.path.parent().expect("a slot sits in a directory");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| unavailable(&format!("{}: {e}", dir.display())))?;
        let now = (SystemTime::now() + self.clock_shift).duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let contents = [MAGIC, &now.to_le_bytes(), data].concat();
        // Renamed into place, not synced: losing a state in a crash costs a fresh start,
        // an fsync per device would cost a large fleet seconds.
        crate::atomic_file::replace_with(&self.path, &contents, 0o600, crate::atomic_file::Durability::Unsynced)
            .map_err(|e| unavailable(&e))
    }
}

/// One plugin's states: the store and who the plugin is.
#[derive(Clone, Debug)]
pub struct PluginStates {
    /// The store.
    pub store: StateStore,
    /// The plugin.
    pub plugin: PluginIdentity,
}

impl PluginStates {
    /// The plugin's slot on `device`.
    pub fn slot(&self, device: &DeviceDescriptor) -> StateSlot {
        self.store.slot(&self.plugin, device)
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
        let slot = store.slot(&plugin("diag", None), &device(Some("A")));
        assert_eq!(slot.load(), Ok(None));
        slot.save(b"counters").unwrap();
        let later = StateStore::new(dir.path()).shifted(Duration::from_secs(3600));
        let saved = later.slot(&plugin("diag", None), &device(Some("A"))).load().unwrap().unwrap();
        assert_eq!(saved.data, b"counters");
        assert!((3600..3610).contains(&saved.age.as_secs()), "{:?}", saved.age);
        // Another plugin, another signer, another board in the same slot: nothing.
        for other in [
            store.slot(&plugin("other", None), &device(Some("A"))),
            store.slot(&plugin("diag", Some("vendor (key 1234)")), &device(Some("A"))),
            store.slot(&plugin("diag", None), &device(Some("B"))),
        ] {
            assert_eq!(other.load(), Ok(None));
        }
    }

    #[test]
    fn a_hostile_name_cannot_steer_the_path_and_a_file_not_ours_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let slot = store.slot(&plugin("../../etc/x", None), &device(Some("../y")));
        slot.save(b"x").unwrap();
        assert!(slot.path.starts_with(dir.path()));
        std::fs::write(&slot.path, b"garbage").unwrap();
        assert!(slot.load().unwrap_err().contains("is not a state file fwctl-run wrote"));
        assert_eq!(slot.save(&vec![0; MAX_STATE_BYTES + 1]), Err(SaveError::TooLarge { len: MAX_STATE_BYTES + 1 }));
    }
}
