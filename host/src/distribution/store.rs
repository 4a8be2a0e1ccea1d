//! The content-addressed store: `DIR/blobs/sha256/HEX`, as in an OCI image layout.
//!
//! A blob enters only through [`Store::put`], which writes a temporary file in the same
//! directory, checks the digest of what it wrote, syncs it and renames it into place, so
//! a reader never sees half a blob and a blob never sits under a name it does not hash
//! to. Reading hashes again: a store edited behind our back is an error, not a plugin.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// The store's root directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A name that is not a digest, so no path is made of it.
    #[error("`{0}` is not a sha256 digest (sha256: and 64 lowercase hex digits)")]
    BadDigest(String),
    /// Bytes that do not hash to the digest they are kept or asked for under.
    #[error("{what} does not match its digest: expected {expected}, the bytes hash to {actual}")]
    Mismatch {
        /// What was checked.
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// The store's files could not be read or written.
    #[error("store {}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// `sha256:HEX` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits, the only form kept or requested.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

impl Store {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob named `digest` lives.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, StoreError> {
        if !is_sha256_digest(digest) {
            return Err(StoreError::BadDigest(digest.to_string()));
        }
        Ok(self.root.join("blobs/sha256").join(&digest["sha256:".len()..]))
    }

    /// Keeps `bytes` under `digest`, refusing them if they do not hash to it.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let path = self.blob_path(digest)?;
        check(digest, bytes, &format!("the blob for {digest}"))?;
        let dir = path.parent().expect("blob paths have a directory");
        let io = |error| StoreError::Io { path: dir.to_path_buf(), error };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut temp = tempfile::Builder::new().prefix(".incoming-").tempfile_in(dir).map_err(io)?;
        temp.write_all(bytes).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        // What reached the disk is what was checked: read it back through the file.
        let written = std::fs::read(temp.path()).map_err(io)?;
        check(digest, &written, &format!("the file written for {digest}"))?;
        temp.persist(&path).map_err(|e| io(e.error))?;
        // The rename is durable once the directory is synced.
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(path)
    }

    /// The blob named `digest`, hashed again; `None` when the store lacks it.
    pub fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.blob_path(digest)?;
        match std::fs::read(&path) {
            Ok(bytes) => {
                check(digest, &bytes, &format!("stored blob {}", path.display()))?;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Io { path, error }),
        }
    }

    /// The path of the blob named `digest` if the store has it intact.
    pub fn path_if_present(&self, digest: &str) -> Result<Option<PathBuf>, StoreError> {
        Ok(self.get(digest)?.map(|_| self.blob_path(digest).expect("checked by get")))
    }
}

fn check(expected: &str, bytes: &[u8], what: &str) -> Result<(), StoreError> {
    let actual = sha256_digest(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(StoreError::Mismatch { what: what.to_string(), expected: expected.to_string(), actual })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_kept_under_their_digest_and_hashed_again_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let digest = sha256_digest(b"component");
        assert_eq!(store.get(&digest).unwrap(), None);
        let path = store.put(&digest, b"component").unwrap();
        assert_eq!(path, dir.path().join("blobs/sha256").join(&digest[7..]));
        assert_eq!(store.get(&digest).unwrap().as_deref(), Some(&b"component"[..]));

        // Edited behind the store's back: reading it is an error naming the file.
        std::fs::write(&path, b"tampered").unwrap();
        let error = store.get(&digest).unwrap_err().to_string();
        assert!(error.contains("does not match its digest") && error.contains(&digest), "{error}");
    }

    #[test]
    fn bytes_that_do_not_hash_to_their_name_never_enter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let digest = sha256_digest(b"what the manifest promised");
        let error = store.put(&digest, b"what the registry sent").unwrap_err().to_string();
        assert!(error.contains(&digest) && error.contains(&sha256_digest(b"what the registry sent")), "{error}");
        assert_eq!(store.get(&digest).unwrap(), None);
        assert!(!store.blob_path(&digest).unwrap().exists());
        assert!(matches!(store.put("sha256:XYZ", b""), Err(StoreError::BadDigest(_))));
    }
}
