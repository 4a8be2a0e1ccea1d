//! The compile cache: native code compiled from verified components, kept so the next run
//! skips Cranelift, and loaded only when this host can prove it made it.
//!
//! Loading a compiled artifact runs its machine code, so an artifact is code as much as a
//! plugin is, and the cache directory would otherwise be a way around signature checks:
//! an artifact swapped into another entry (or planted by another user in a directory
//! root was pointed at through an inherited `HOME`) would run under the grant of the
//! plugin whose entry it sits in. So:
//!
//! - the directory must be a real directory owned by the effective user that no one else
//!   can write (it is created 0700); otherwise the cache is not used, and the run says
//!   why;
//! - each entry is named by the SHA-256 of the verified component and the engine's
//!   compatibility hash, and carries an HMAC-SHA256, under a key only this user can
//!   read (`key`, 0600, created once), over that digest and the artifact; an entry
//!   whose tag does not match (swapped, edited, truncated) is discarded and the component
//!   compiled again;
//! - files are created new with mode 0600 and never followed through symlinks.
//!
//! One of the two `unsafe` calls outside the ioctl module is here (the other maps the audit
//! journal): wasmtime's deserialisation, whose contract (the bytes came from this
//! wasmtime's own serialisation) the HMAC makes checkable. wasmtime's built-in cache makes
//! the same call on unauthenticated files.

use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

/// The first bytes of every entry: format and version.
const MAGIC: &[u8; 8] = b"fwctlc1\n";
const TAG_LEN: usize = 32;
const KEY_LEN: usize = 32;

/// Why the cache cannot be used (the run goes on, compiling every component).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory (or its key) could not be created or read.
    #[error("cannot use the compile cache {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another user could change what runs.
    #[error("not using the compile cache {}: {why}", path.display())]
    Untrusted {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with its owner or mode.
        why: String,
    },
}

/// An opened, checked cache directory.
#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
    hits: AtomicUsize,
    misses: AtomicUsize,
    rejected: AtomicUsize,
}

/// How a component was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// An authenticated entry was loaded.
    Hit,
    /// No usable entry: compiled (and stored).
    Miss,
    /// An entry was there but failed authentication: discarded, compiled again.
    Rejected,
}

impl CompileCache {
    /// Opens (creating it 0700 if absent) and checks `dir`, and reads (creating it once)
    /// the key.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CacheError::Io { path, source }
        };
        match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(dir)(e)),
        }
        let meta = std::fs::symlink_metadata(dir).map_err(io(dir))?;
        if !meta.is_dir() {
            return Err(untrusted(dir, "it is not a directory (a symlink is not followed)"));
        }
        check_owner_and_mode(dir, &meta, DIR_FORBIDDEN)?;
        let key = read_or_create_key(&dir.join("key"))?;
        Ok(Self {
            dir: dir.to_owned(),
            key,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hits and misses so far (rejected entries count as misses).
    pub fn stats(&self) -> (usize, usize) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed) + self.rejected.load(Ordering::Relaxed))
    }

    /// Entries discarded because they failed authentication.
    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The component compiled from `wasm`, whose SHA-256 is `digest` (computed once when
    /// the plugin was loaded): from an authenticated entry, else compiled with `engine`
    /// and stored. Storing is best effort (a full disk costs speed, not the run).
    pub fn component(&self, engine: &Engine, wasm: &[u8], digest: [u8; 32]) -> wasmtime::Result<(Component, Lookup)> {
        let entry = self.dir.join(entry_name(engine, &digest));
        let mut lookup = Lookup::Miss;
        if let Some(bytes) = read_entry(&entry) {
            match self.authenticated(&digest, &bytes) {
                Some(artifact) => {
                    // SAFETY: `artifact` is, byte for byte, what `Component::serialize`
                    // returned in this cache for this component: the HMAC over the
                    // component's digest and these bytes verifies under a key that only
                    // this user can read (checked in `open`), so no one else made or
                    // changed them. wasmtime itself refuses artifacts from another engine
                    // configuration or version (an `Err`, handled as a miss).
                    if let Ok(component) = unsafe { Component::deserialize(engine, artifact) } {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok((component, Lookup::Hit));
                    }
                }
                None => {
                    lookup = Lookup::Rejected;
                    let _ = std::fs::remove_file(&entry);
                }
            }
        }
        match lookup {
            Lookup::Rejected => self.rejected.fetch_add(1, Ordering::Relaxed),
            _ => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        let component = Component::new(engine, wasm)?;
        if let Ok(artifact) = component.serialize() {
            self.store(&entry, &digest, &artifact);
        }
        Ok((component, lookup))
    }

    /// The artifact inside an entry, when its tag verifies.
    fn authenticated<'a>(&self, digest: &[u8; 32], entry: &'a [u8]) -> Option<&'a [u8]> {
        let rest = entry.strip_prefix(MAGIC.as_slice())?;
        let (tag, artifact) = rest.split_at_checked(TAG_LEN)?;
        self.mac(digest, artifact).verify_slice(tag).ok()?;
        Some(artifact)
    }

    fn mac(&self, digest: &[u8; 32], artifact: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(MAGIC);
        mac.update(digest);
        mac.update(artifact);
        mac
    }

    /// Writes an entry (0600) through the shared atomic replace: a crash or a concurrent
    /// writer leaves a whole entry or none, and a failure only costs the next run a compile.
    fn store(&self, entry: &Path, digest: &[u8; 32], artifact: &[u8]) {
        let tag = self.mac(digest, artifact).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(MAGIC.len() + tag.len() + artifact.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&tag);
        bytes.extend_from_slice(artifact);
        let _ = crate::atomic_file::replace(entry, &bytes, 0o600);
    }
}

/// `<component sha256>-<engine compatibility hash>.cwasm`.
fn entry_name(engine: &Engine, digest: &[u8; 32]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("{}-{:016x}.cwasm", hex::encode(digest), hasher.finish())
}

fn untrusted(path: &Path, why: impl Into<String>) -> CacheError {
    CacheError::Untrusted { path: path.to_owned(), why: why.into() }
}

/// Owned by the effective user, and closed to group and others as far as `forbidden`
/// says: the directory must not be writable by them (0o022), the key not even readable
/// (0o077).
fn check_owner_and_mode(path: &Path, meta: &std::fs::Metadata, forbidden: u32) -> Result<(), CacheError> {
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid {
        return Err(untrusted(path, format!("it is owned by uid {}, not by this user (uid {euid})", meta.uid())));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & forbidden != 0 {
        let what = if forbidden == DIR_FORBIDDEN { "write" } else { "read" };
        return Err(untrusted(path, format!("its mode {mode:04o} lets other users {what} it (chmod go-rwx)")));
    }
    Ok(())
}

/// Group and others must not write the directory.
const DIR_FORBIDDEN: u32 = 0o022;
/// Group and others must not read (or write) the key.
const KEY_FORBIDDEN: u32 = 0o077;

fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc_nofollow()).open(path)
}

fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc_nofollow()).open(path)
}

/// `O_NOFOLLOW`: a symlink in place of a cache file is an error, not a redirection.
fn libc_nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

/// The key, created with 32 bytes from the kernel's CSPRNG the first time.
fn read_or_create_key(path: &Path) -> Result<[u8; KEY_LEN], CacheError> {
    let io = |source| CacheError::Io { path: path.to_owned(), source };
    let mut file = match create_private(path) {
        Ok(mut file) => {
            let mut key = [0u8; KEY_LEN];
            File::open("/dev/urandom").and_then(|mut r| r.read_exact(&mut key)).map_err(io)?;
            file.write_all(&key).and_then(|()| file.sync_all()).map_err(io)?;
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => open_private(path).map_err(io)?,
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    check_owner_and_mode(path, &meta, KEY_FORBIDDEN)?;
    let mut key = [0u8; KEY_LEN];
    file.read_exact(&mut key).map_err(io)?;
    Ok(key)
}

fn read_entry(path: &Path) -> Option<Vec<u8>> {
    let mut file = open_private(path).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Two components that differ in what they export (text form: the engine parses it).
    const A: &str = r#"(component (core module $m (func (export "f"))) (core instance $i (instantiate $m))
        (func (export "a") (canon lift (core func $i "f"))))"#;
    const B: &str = r#"(component (core module $m (func (export "f"))) (core instance $i (instantiate $m))
        (func (export "b") (canon lift (core func $i "f"))))"#;

    fn engine() -> Engine {
        Engine::default()
    }

    fn entry_of(cache: &CompileCache, engine: &Engine, wat: &str) -> PathBuf {
        let digest: [u8; 32] = Sha256::digest(wat.as_bytes()).into();
        cache.dir().join(entry_name(engine, &digest))
    }

    #[test]
    fn a_second_lookup_hits_an_authenticated_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(&dir.path().join("c")).unwrap();
        let engine = engine();
        let a = A.as_bytes();
        assert_eq!(cache.component(&engine, a, Sha256::digest(a).into()).unwrap().1, Lookup::Miss);
        assert_eq!(cache.component(&engine, a, Sha256::digest(a).into()).unwrap().1, Lookup::Hit);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("c")), 0o700);
        assert_eq!(mode(&dir.path().join("c/key")), 0o600);
        assert_eq!(mode(&entry_of(&cache, &engine, A)), 0o600);
    }

    #[test]
    fn an_artifact_swapped_into_another_entry_is_refused_and_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path()).unwrap();
        let engine = engine();
        let (a, b) = (A.as_bytes(), B.as_bytes());
        cache.component(&engine, a, Sha256::digest(a).into()).unwrap();
        cache.component(&engine, b, Sha256::digest(b).into()).unwrap();
        // B's artifact, tag and all, in A's place.
        std::fs::copy(entry_of(&cache, &engine, B), entry_of(&cache, &engine, A)).unwrap();
        let (component, lookup) = cache.component(&engine, a, Sha256::digest(a).into()).unwrap();
        assert_eq!(lookup, Lookup::Rejected);
        let exports: Vec<String> =
            component.component_type().exports(&engine).map(|(name, _)| name.to_string()).collect();
        assert_eq!(exports, ["a"], "A's code, not B's");
        // Recompiled and stored again: the next lookup is an authenticated hit.
        assert_eq!(cache.component(&engine, a, Sha256::digest(a).into()).unwrap().1, Lookup::Hit);
        assert_eq!(cache.rejected(), 1);

        // A flipped byte, and a truncated file, fail the same way.
        let path = entry_of(&cache, &engine, A);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.component(&engine, a, Sha256::digest(a).into()).unwrap().1, Lookup::Rejected);
        std::fs::write(&path, &bytes[..20]).unwrap();
        assert_eq!(cache.component(&engine, a, Sha256::digest(a).into()).unwrap().1, Lookup::Rejected);
    }

    #[test]
    fn a_directory_other_users_can_reach_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = CompileCache::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("mode 0777 lets other users write it"), "{err}");

        let link = dir.path().join("link");
        let real = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(real.path(), &link).unwrap();
        let err = CompileCache::open(&link).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");

        // Another user's directory: chown needs root, which the suite has on CI.
        if nix::unistd::geteuid().is_root() {
            let theirs = tempfile::tempdir().unwrap();
            std::fs::set_permissions(theirs.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).unwrap();
            let err = CompileCache::open(theirs.path()).unwrap_err().to_string();
            assert!(err.contains("owned by uid 65534"), "{err}");
        }
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        CompileCache::open(dir.path()).unwrap();
        std::fs::set_permissions(dir.path().join("key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = CompileCache::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("key") && err.contains("mode 0644 lets other users read it"), "{err}");
    }
}
