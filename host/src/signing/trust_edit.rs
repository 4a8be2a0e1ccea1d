//! Writing a trust store: `fwctl-run trust init` (a commented `trust.toml`) and
//! `fwctl-run trust add` (a signer's key, copied in and named). Reading it is `trust.rs`.
//!
//! Added keys are appended as a `[[signer]]` table of their own, so the operator's
//! comments and layout stay as they were; several tables with one name are one signer.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use wasmsign2::PublicKey;

use super::trust::{TrustError, TrustStore, key_id};

/// What `trust init` writes.
pub const TEMPLATE: &str = r#"# fwctl-run trust store: who may sign plugins for this host, and with which keys.
# Policy entries `[signer.NAME]` (policy.toml) refer to the names given here. A key a
# plugin carries is never trusted: only the keys listed here are.
trust-version = 1

# Plugins that never run, whoever signed them: a file's digest, or the digest of what
# was signed (`fwctl-run verify PLUGIN` shows both).
denied-digests = []

# One table per signer key; `fwctl-run trust add DIR --signer NAME KEY.pub` appends one.
# A signer may have several keys (a rotation can overlap), each in its own table.
#
# [[signer]]
# name = "example-vendor"
# [[signer.key]]
# file = "example-vendor.pub"           # raw, PEM, DER or OpenSSH Ed25519 public key
# valid-from = "2026-01-01T00:00:00Z"   # optional
# valid-until = "2027-06-30T00:00:00Z"  # optional
# revoked = false                       # optional: true refuses its signatures
"#;

/// A key `trust add` put in the store.
#[derive(Debug)]
pub struct AddedKey {
    /// The key file, inside the store.
    pub file: PathBuf,
    /// Its id.
    pub key_id: String,
}

fn fail(dir: &Path, reason: String) -> TrustError {
    TrustError { origin: dir.display().to_string(), reason }
}

/// Creates `dir` (if need be) with a commented `trust.toml` and no signers; an existing
/// `trust.toml` is left alone.
pub fn init(dir: &Path) -> Result<PathBuf, TrustError> {
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, format!("cannot create the directory: {e}")))?;
    let file = dir.join("trust.toml");
    write_new(&file, TEMPLATE.as_bytes()).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            fail(dir, format!("{} already exists; `trust init` never overwrites it", file.display()))
        }
        _ => fail(dir, format!("cannot write {}: {e}", file.display())),
    })?;
    Ok(file)
}

/// Adds the public key in `key_file` to `dir`'s store as a key of `signer`: the file is
/// copied in as `SIGNER-KEYID.pub` and a table naming it appended to `trust.toml`. The
/// store is read again afterwards, so a mistake shows now, not at the next run.
pub fn add(dir: &Path, signer: &str, key_file: &Path) -> Result<AddedKey, TrustError> {
    if signer.is_empty() || !signer.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(fail(
            dir,
            format!("signer name `{signer}`: use letters, digits, `-` and `_` (it is a policy key)"),
        ));
    }
    let store = TrustStore::load(dir)?;
    let key = PublicKey::from_any_file(key_file)
        .map_err(|e| fail(dir, format!("{} is not a public key fwctl-run reads: {e}", key_file.display())))?;
    let id = key_id(&key);
    if let Some((holder, _)) = store.keys().find(|(_, k)| k.key_id == id) {
        return Err(fail(dir, format!("key {id} is already in the store, as a key of `{}`", holder.name)));
    }
    let name = format!("{signer}-{id}.pub");
    let copy = dir.join(&name);
    let bytes = std::fs::read(key_file).map_err(|e| fail(dir, format!("reading {}: {e}", key_file.display())))?;
    write_new(&copy, &bytes).map_err(|e| fail(dir, format!("cannot write {}: {e}", copy.display())))?;
    let table = format!("\n[[signer]]\nname = \"{signer}\"\n[[signer.key]]\nfile = \"{name}\"\n");
    let toml = dir.join("trust.toml");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&toml)
        .and_then(|mut f| f.write_all(table.as_bytes()).and_then(|()| f.sync_all()))
        .map_err(|e| fail(dir, format!("cannot append to {}: {e}", toml.display())))?;
    TrustStore::load(dir)?;
    Ok(AddedKey { file: copy, key_id: id })
}

/// Creates `path` with `bytes`, readable by all (0644: public keys and the store's list
/// are not secrets), never over an existing file or through a symlink.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_loads_empty_and_a_second_init_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("trust");
        init(&store).unwrap();
        assert!(TrustStore::load(&store).unwrap().signers.is_empty());
        assert!(init(&store).unwrap_err().to_string().contains("never overwrites"));
    }

    #[test]
    fn added_keys_join_their_signer_and_a_key_is_added_once() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let (first, second) = (wasmsign2::KeyPair::generate(), wasmsign2::KeyPair::generate());
        let write = |name: &str, key: &wasmsign2::KeyPair| {
            let path = dir.path().join(name);
            std::fs::write(&path, key.pk.to_bytes()).unwrap();
            path
        };
        let (a, b) = (write("a.key.pub", &first), write("b.key.pub", &second));
        let added = add(dir.path(), "vendor", &a).unwrap();
        add(dir.path(), "vendor", &b).unwrap();
        let store = TrustStore::load(dir.path()).unwrap();
        assert_eq!(store.signers.len(), 1, "one signer with both keys");
        assert_eq!(store.signers[0].keys.len(), 2);
        assert_eq!(added.key_id, key_id(&first.pk));
        assert!(add(dir.path(), "other", &a).unwrap_err().to_string().contains("already in the store"));
        assert!(add(dir.path(), "bad name", &a).unwrap_err().to_string().contains("signer name"));
    }
}
