//! The lock file: each pulled tag and the digests it resolved to, so that every later
//! fetch asks the registry for exactly those bytes.
//!
//! ```toml
//! lock-version = 1
//!
//! [plugins."oci://registry.example.com/vendor/mlx5-diag:1.2"]
//! manifest = "sha256:…"
//! wasm = "sha256:…"
//! ```
//!
//! Written whole to a temporary file beside it and renamed, so a crash leaves the old
//! lock or the new one, never half of either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

/// What a tag was locked to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    /// The OCI manifest's digest.
    pub manifest: String,
    /// The component's digest (the manifest's one layer).
    pub wasm: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Contents {
    lock_version: u32,
    #[serde(default)]
    plugins: BTreeMap<String, Locked>,
}

/// A lock file, read (or empty when it does not exist yet).
#[derive(Debug)]
pub struct LockFile {
    path: PathBuf,
    contents: Contents,
}

/// Why the lock file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// It could not be read or written.
    #[error("lock file {}: {error}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// It is not a lock file this version reads.
    #[error("lock file {}: {reason}", path.display())]
    Invalid {
        /// The lock file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
}

impl LockFile {
    /// Reads `path`; a missing file is an empty lock.
    pub fn open(path: &Path) -> Result<Self, LockError> {
        let contents = match std::fs::read_to_string(path) {
            Ok(text) => {
                let contents: Contents = toml::from_str(&text)
                    .map_err(|e| LockError::Invalid { path: path.to_path_buf(), reason: e.to_string() })?;
                if contents.lock_version != VERSION {
                    return Err(LockError::Invalid {
                        path: path.to_path_buf(),
                        reason: format!("lock-version {} (this fwctl-run reads {VERSION})", contents.lock_version),
                    });
                }
                contents
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Contents { lock_version: VERSION, ..Contents::default() }
            }
            Err(error) => return Err(LockError::Io { path: path.to_path_buf(), error }),
        };
        Ok(Self { path: path.to_path_buf(), contents })
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry for a tag reference (`oci://…:TAG`).
    pub fn get(&self, reference: &str) -> Option<&Locked> {
        self.contents.plugins.get(reference)
    }

    /// Records (or replaces) a tag's entry; [`save`](Self::save) writes it.
    pub fn set(&mut self, reference: String, locked: Locked) {
        self.contents.plugins.insert(reference, locked);
    }

    /// Writes the lock: temporary file, sync, rename.
    pub fn save(&self) -> Result<(), LockError> {
        let io = |error| LockError::Io { path: self.path.clone(), error };
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = toml::to_string(&self.contents).expect("the lock serialises");
        let contents = format!("# Written by `fwctl-run pull`: each tag and the digests it resolved to.\n{text}");
        crate::atomic_file::replace(&self.path, contents.as_bytes(), 0o644)
            .map_err(|e| LockError::Io { path: e.path, error: e.source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_save_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins.lock");
        let mut lock = LockFile::open(&path).unwrap();
        assert_eq!(lock.get("oci://r.example/a:1"), None);
        let locked =
            Locked { manifest: format!("sha256:{}", "1".repeat(64)), wasm: format!("sha256:{}", "2".repeat(64)) };
        lock.set("oci://r.example/a:1".into(), locked.clone());
        lock.save().unwrap();
        assert_eq!(LockFile::open(&path).unwrap().get("oci://r.example/a:1"), Some(&locked));
    }

    #[test]
    fn a_damaged_or_newer_lock_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins.lock");
        std::fs::write(&path, "lock-version = 1\n[plugins.x]\nmanifest = 3\n").unwrap();
        let error = LockFile::open(&path).unwrap_err().to_string();
        assert!(error.contains("plugins.lock"), "{error}");
        std::fs::write(&path, "lock-version = 2\n").unwrap();
        let error = LockFile::open(&path).unwrap_err().to_string();
        assert!(error.contains("lock-version 2"), "{error}");
    }
}
