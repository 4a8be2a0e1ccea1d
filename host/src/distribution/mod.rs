//! Plugins from OCI registries: `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:…`.
//!
//! A tag is resolved once, by `fwctl-run pull`, and the manifest digest it named is written
//! to a [lock file](lock); from then on only digests travel over the network and every
//! byte fetched is hashed again before it is kept. What is fetched lands in a
//! content-addressed [store] (temporary file, digest check, rename), from which runs load
//! the component as they would any file: the signature inside it is then verified like
//! any other plugin's. The artifact follows the CNCF Wasm OCI layout (config
//! `application/vnd.wasm.config.v0+json`, one `application/wasm` layer), so registries
//! and tools that know Wasm artifacts see ours as such.
//!
//! This is the first step of "load": nothing here decides what a plugin may do.

pub mod credentials;
pub mod lock;
pub mod reference;
pub mod registry;
pub mod store;
pub mod transport;

use std::path::PathBuf;

pub use credentials::{Credential, CredentialError, CredentialSource};
pub use lock::{LockFile, Locked};
pub use reference::OciReference;
pub use registry::{Registry, RegistryError};
pub use store::{Store, StoreError};

/// Why an `oci://` plugin could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The registry failed, or sent what it should not.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The local store failed, or holds what it should not.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lock file could not be used.
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// The registry's credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The tag names another manifest than the one locked.
    #[error(
        "{reference}: the tag now names {now}, but {lock} pinned {locked}; refusing the moved tag \
         (pull with --update to accept the new content)"
    )]
    TagMoved {
        /// The reference as given.
        reference: String,
        /// The manifest digest the lock file holds.
        locked: String,
        /// The manifest digest the tag names now.
        now: String,
        /// The lock file.
        lock: String,
    },
    /// A tag nobody has pulled: running it would resolve it silently, so the operator
    /// pulls (and so locks) it first.
    #[error("{reference} is not in the lock file {lock}; run `fwctl-run pull {reference}` first")]
    NotLocked {
        /// The reference as given.
        reference: String,
        /// The lock file.
        lock: String,
    },
}

/// A plugin fetched into the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The reference as given.
    pub reference: String,
    /// `sha256:…` of the OCI manifest (what a tag resolves to).
    pub manifest: String,
    /// `sha256:…` of the component.
    pub wasm: String,
    /// The component in the store.
    pub path: PathBuf,
    /// Whether anything had to be downloaded.
    pub downloaded: bool,
}

/// What a tag may resolve to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagResolution {
    /// Only the digest the lock file holds for it; the registry is not asked (a run).
    LockedOnly,
    /// What the registry names now; a tag never pulled is locked, one that moved since it
    /// was locked is refused (`pull`).
    Resolve,
    /// What the registry names now, replacing what was locked (`pull --update`).
    Update,
}

/// Fetches `reference` into `store`: by its digest, or by the digest its tag resolves to
/// as `tags` allows.
pub async fn fetch(
    reference: &OciReference,
    store: &Store,
    lock: &mut LockFile,
    tags: TagResolution,
    auth_file: Option<&std::path::Path>,
) -> Result<Fetched, FetchError> {
    let resolve = tags != TagResolution::LockedOnly;
    let registry = Registry::new(reference, credentials::CredentialSource::new(reference.registry(), auth_file))?;
    let locked = lock.get(&reference.to_string()).cloned();
    let manifest_digest = match (reference.digest(), &locked) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(locked)) if !resolve => locked.manifest.clone(),
        (None, _) if !resolve => {
            return Err(FetchError::NotLocked {
                reference: reference.to_string(),
                lock: lock.path().display().to_string(),
            });
        }
        (None, locked) => {
            let now = registry.resolve_tag(reference).await?;
            match locked {
                Some(locked) if locked.manifest != now && tags != TagResolution::Update => {
                    return Err(FetchError::TagMoved {
                        reference: reference.to_string(),
                        locked: locked.manifest.clone(),
                        now,
                        lock: lock.path().display().to_string(),
                    });
                }
                _ => now,
            }
        }
    };

    let mut downloaded = false;
    // The manifest: from the store when it is there (hashed again on reading), else by digest.
    let manifest_bytes = match store.get(&manifest_digest)? {
        Some(bytes) => bytes,
        None => {
            let bytes = registry.manifest_by_digest(&manifest_digest).await?;
            store.put(&manifest_digest, &bytes)?;
            downloaded = true;
            bytes
        }
    };
    let layer = registry::wasm_layer(&manifest_bytes, &manifest_digest)?;
    let path = match store.path_if_present(&layer.digest)? {
        Some(path) => path,
        None => {
            let bytes = registry.blob(&layer).await?;
            downloaded = true;
            store.put(&layer.digest, &bytes)?
        }
    };
    if reference.digest().is_none() {
        lock.set(reference.to_string(), Locked { manifest: manifest_digest.clone(), wasm: layer.digest.clone() });
        lock.save()?;
    }
    Ok(Fetched { reference: reference.to_string(), manifest: manifest_digest, wasm: layer.digest, path, downloaded })
}
