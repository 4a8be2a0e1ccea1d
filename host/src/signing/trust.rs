//! The operator's trust store, kept apart from policy: who signs plugins, with which
//! keys (several, so a rotation can overlap), when each key is valid, which are revoked,
//! and plugin digests that must never run whoever signed them.
//!
//! A directory holding `trust.toml` and the public key files it names:
//!
//! ```toml
//! trust-version = 1
//! denied-digests = ["sha256:…"]   # a file's digest, or what was signed (`fwctl-run verify` shows both)
//!
//! [[signer]]
//! name = "nvidia"
//! [[signer.key]]
//! file = "nvidia-2026.pub"              # any format wasmsign2 reads (raw, PEM, DER, OpenSSH)
//! valid-from = "2026-01-01T00:00:00Z"    # optional
//! valid-until = "2027-06-30T00:00:00Z"   # optional
//! revoked = false                        # optional
//! ```
//!
//! A key a plugin carries is never trusted: only keys from this store are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;
use wasmsign2::PublicKey;

/// The format this build reads.
const TRUST_VERSION: u32 = 1;

/// Signers, their keys, and denied digests.
#[derive(Debug, Default)]
pub struct TrustStore {
    /// Where it came from (a directory, or `empty`).
    pub origin: String,
    /// The signers.
    pub signers: Vec<Signer>,
    /// `sha256:<hex>` digests refused outright.
    pub denied_digests: BTreeSet<String>,
}

/// One signer.
#[derive(Debug)]
pub struct Signer {
    /// The name policy entries use (`[signer.NAME]`).
    pub name: String,
    /// Its keys.
    pub keys: Vec<TrustedKey>,
}

/// One of a signer's keys.
#[derive(Debug)]
pub struct TrustedKey {
    /// The key.
    pub key: PublicKey,
    /// Its id: the first 8 bytes of SHA-256 of the raw key, in hex.
    pub key_id: String,
    /// Not valid before.
    pub valid_from: Option<SystemTime>,
    /// Not valid after.
    pub valid_until: Option<SystemTime>,
    /// Revoked: signatures by it are refused.
    pub revoked: bool,
}

/// The id fwctl-run shows for a public key.
pub fn key_id(key: &PublicKey) -> String {
    hex::encode(key_id_bytes(key))
}

/// A key's id as wasmsign2 computes it by default (`attach_default_key_id`: 12 bytes of
/// an HMAC of the key): what `sign` writes into a signature and what the wasmsign2 tool
/// matches signatures by, so the id a refusal names is the one `keygen`, `trust add` and
/// the trust store show.
pub(crate) fn key_id_bytes(key: &PublicKey) -> Vec<u8> {
    let bare = PublicKey { pk: key.pk, key_id: None };
    bare.attach_default_key_id().key_id().cloned().expect("a default key id was attached")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TrustFile {
    trust_version: u32,
    #[serde(default)]
    denied_digests: Vec<String>,
    #[serde(default)]
    signer: Vec<SignerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SignerEntry {
    name: String,
    key: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KeyEntry {
    file: PathBuf,
    valid_from: Option<String>,
    valid_until: Option<String>,
    #[serde(default)]
    revoked: bool,
}

/// Why a trust store could not be read; the message names the file or field.
#[derive(Debug, thiserror::Error)]
#[error("trust store {origin}: {reason}")]
pub struct TrustError {
    /// The store.
    pub origin: String,
    /// What is wrong.
    pub reason: String,
}

impl TrustStore {
    /// `--trust DIR` if given, else [`crate::paths::TRUST_DIR`] if it exists, else an empty
    /// store (every signature is then from an unknown key).
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, TrustError> {
        match explicit {
            Some(dir) => Self::load(dir),
            None if Path::new(crate::paths::TRUST_DIR).join("trust.toml").exists() => {
                Self::load(Path::new(crate::paths::TRUST_DIR))
            }
            None => Ok(Self::empty()),
        }
    }

    /// No signer at all: every signature is from an unknown key.
    pub fn empty() -> Self {
        Self { origin: "empty (no trust store)".into(), ..Self::default() }
    }

    /// Reads `DIR/trust.toml` and the key files it names.
    pub fn load(dir: &Path) -> Result<Self, TrustError> {
        let origin = dir.display().to_string();
        let fail = |reason: String| TrustError { origin: origin.clone(), reason };
        let file = dir.join("trust.toml");
        let text = std::fs::read_to_string(&file).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "; a trust store is a directory with a trust.toml: create one with `fwctl-run trust init {}`",
                    dir.display()
                ),
                _ => String::new(),
            };
            fail(format!("cannot read {}: {e}{hint}", file.display()))
        })?;
        let parsed: TrustFile = toml::from_str(&text).map_err(|e| fail(e.message().to_string()))?;
        if parsed.trust_version != TRUST_VERSION {
            return Err(fail(format!(
                "field `trust-version` is {}, this fwctl-run reads {TRUST_VERSION}",
                parsed.trust_version
            )));
        }
        let time = |field: &str, name: &str, value: &Option<String>| -> Result<Option<SystemTime>, TrustError> {
            value
                .as_deref()
                .map(|v| {
                    humantime::parse_rfc3339_weak(v)
                        .map_err(|e| fail(format!("signer `{name}`: `{field}` = {v:?}: {e}")))
                })
                .transpose()
        };
        // Several tables with one name are one signer with all their keys (what
        // `trust add` appends).
        let mut signers: Vec<Signer> = Vec::new();
        for entry in &parsed.signer {
            let mut keys = Vec::new();
            for k in &entry.key {
                let path = dir.join(&k.file);
                let key = PublicKey::from_any_file(&path)
                    .map_err(|e| fail(format!("signer `{}`: key {}: {e}", entry.name, path.display())))?;
                keys.push(TrustedKey {
                    key_id: key_id(&key),
                    key,
                    valid_from: time("valid-from", &entry.name, &k.valid_from)?,
                    valid_until: time("valid-until", &entry.name, &k.valid_until)?,
                    revoked: k.revoked,
                });
            }
            match signers.iter_mut().find(|s| s.name == entry.name) {
                Some(signer) => signer.keys.extend(keys),
                None => signers.push(Signer { name: entry.name.clone(), keys }),
            }
        }
        // Entries are compared as text: malformed ones would load and never match.
        let mut denied_digests = BTreeSet::new();
        for entry in &parsed.denied_digests {
            let hex =
                entry.strip_prefix("sha256:").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            let Some(hex) = hex else {
                return Err(fail(format!("`denied-digests`: `{entry}` is not sha256:<64 hex digits>")));
            };
            denied_digests.insert(format!("sha256:{}", hex.to_ascii_lowercase()));
        }
        Ok(Self { origin, signers, denied_digests })
    }

    /// Every key with its signer.
    pub fn keys(&self) -> impl Iterator<Item = (&Signer, &TrustedKey)> {
        self.signers.iter().flat_map(|s| s.keys.iter().map(move |k| (s, k)))
    }
}

impl TrustedKey {
    /// Why the key may not vouch for anything at `now`, if it may not.
    pub fn unusable(&self, now: SystemTime) -> Option<String> {
        let at = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
        if self.revoked {
            Some("revoked".into())
        } else if let Some(until) = self.valid_until.filter(|u| now > *u) {
            Some(format!("expired (valid until {})", at(until)))
        } else {
            self.valid_from.filter(|f| now < *f).map(|from| format!("not valid before {}", at(from)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(denied: &str) -> Result<TrustStore, TrustError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trust.toml"), format!("trust-version = 1\ndenied-digests = [{denied}]\n"))
            .unwrap();
        TrustStore::load(dir.path())
    }

    #[test]
    fn denylist_entries_are_normalised_or_refused_never_silently_dead() {
        let upper = format!("\"sha256:{}\"", "AB".repeat(32));
        let store = load_with(&upper).unwrap();
        assert!(store.denied_digests.contains(&format!("sha256:{}", "ab".repeat(32))), "{:?}", store.denied_digests);
        for bad in
            [format!("\"sha256:{}\"", "zz".repeat(32)), "\"sha256:abc\"".into(), format!("\"md5:{}\"", "ab".repeat(32))]
        {
            let err = load_with(&bad).unwrap_err().to_string();
            assert!(err.contains("is not sha256:<64 hex digits>"), "{err}");
        }
    }
}
