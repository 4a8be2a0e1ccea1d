//! HTTP basic authentication against the web configuration's bcrypt hashes.
//!
//! bcrypt is slow on purpose (tens of milliseconds at the usual cost), and Prometheus
//! sends the same credentials every scrape: a verified (user, password) pair is
//! remembered, by a keyed hash of it, so a scrape costs a lookup. An unknown user is
//! checked against a hash of its own all the same, so the answer's timing does not tell
//! which user names exist. A password is never logged or kept in clear.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, OnceLock, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Verified pairs remembered at most; past it the memory starts over (a scraper's
/// credentials are verified again, once).
const REMEMBERED: usize = 128;

/// Checks `Authorization: Basic` headers against a set of users.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Keyed hashes of (user, password, hash) pairs that verified.
    verified: Mutex<HashSet<[u8; 32]>>,
    /// A per-process key for those hashes.
    key: [u8; 32],
}

/// Why a request was not let in.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization` header, or not `Basic` with valid base64 of `user:password`.
    NoCredentials,
    /// A user that is not configured, or a wrong password (not told apart).
    Wrong,
}

impl BasicAuth {
    /// The users (name → bcrypt hash) of a web configuration.
    pub fn new(users: BTreeMap<String, String>) -> Self {
        let mut key = [0u8; 32];
        // The key only keeps the remembered pairs from being looked up offline.
        for (i, chunk) in key.chunks_mut(8).enumerate() {
            let noise = fastrand::u64(..) ^ (std::process::id() as u64).rotate_left(i as u32 * 8);
            chunk.copy_from_slice(&noise.to_le_bytes());
        }
        Self { users, verified: Mutex::new(HashSet::new()), key }
    }

    /// Whether `authorization` (the header's value, if any) names a configured user with
    /// the right password. Blocking: bcrypt runs on the caller's thread.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let (user, password) = authorization.and_then(parse_basic).ok_or(Denied::NoCredentials)?;
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.as_str(), true),
            None => (unknown_user_hash(), false),
        };
        let pair = self.pair(&user, &password, hash);
        if known && self.verified.lock().unwrap_or_else(PoisonError::into_inner).contains(&pair) {
            return Ok(());
        }
        let right = bcrypt::verify(&password, hash).unwrap_or(false);
        if !(known && right) {
            return Err(Denied::Wrong);
        }
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= REMEMBERED {
            verified.clear();
        }
        verified.insert(pair);
        Ok(())
    }

    fn pair(&self, user: &str, password: &str, hash: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in [user, password, hash] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// A hash that no password is known to match, made at the default cost so that checking
/// an unknown user takes as long as checking a known one.
fn unknown_user_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let secret: String = std::iter::repeat_with(fastrand::alphanumeric).take(32).collect();
        bcrypt::hash(secret, bcrypt::DEFAULT_COST).unwrap_or_default()
    })
}

/// `Basic base64(user:password)` → (user, password).
fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        let hash = bcrypt::hash("right horse", 4).unwrap();
        BasicAuth::new(BTreeMap::from([("prometheus".to_string(), hash)]))
    }

    fn basic(credentials: &str) -> Vec<u8> {
        format!("Basic {}", BASE64.encode(credentials)).into_bytes()
    }

    #[test]
    fn the_right_password_is_let_in_and_remembered() {
        let auth = auth();
        assert_eq!(auth.check(Some(&basic("prometheus:right horse"))), Ok(()));
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        assert_eq!(auth.check(Some(&basic("prometheus:right horse"))), Ok(()));
    }

    #[test]
    fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
        let auth = auth();
        assert_eq!(auth.check(Some(&basic("prometheus:wrong"))), Err(Denied::Wrong));
        assert_eq!(auth.check(Some(&basic("root:right horse"))), Err(Denied::Wrong));
        assert!(auth.verified.lock().unwrap().is_empty(), "a failure is not remembered as a success");
    }

    #[test]
    fn a_missing_or_malformed_header_is_no_credentials() {
        let auth = auth();
        assert_eq!(auth.check(None), Err(Denied::NoCredentials));
        assert_eq!(auth.check(Some(b"Bearer abc")), Err(Denied::NoCredentials));
        assert_eq!(auth.check(Some(b"Basic !!!!")), Err(Denied::NoCredentials));
        assert_eq!(auth.check(Some(&basic("no-colon"))), Err(Denied::NoCredentials));
    }
}
