//! HTTP basic authentication against the web configuration's bcrypt hashes.
//!
//! bcrypt is slow on purpose (milliseconds to hundreds of them, by cost), and Prometheus
//! sends the same credentials every scrape: a verified (user, password) pair is
//! remembered, by a keyed hash of it, so a scrape costs a lookup ([`BasicAuth::remembered`],
//! cheap enough for the thread that answers scrapes). Anything else needs bcrypt
//! ([`BasicAuth::check`], blocking), which the server runs at most a few at a time. An
//! unknown user is checked against a stand-in hash at the highest cost any user has, so
//! the answer's timing does not tell which user names exist. A password is never logged
//! or kept in clear.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, PoisonError};

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
    /// What an unknown user's password is checked against.
    stand_in: String,
    /// Keyed hashes of (user, password, hash) pairs that verified.
    verified: Mutex<HashSet<[u8; 32]>>,
    /// A per-process random key for those hashes.
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
    /// The users (name → bcrypt hash) of a web configuration. Makes the stand-in hash:
    /// one bcrypt at the highest cost among the users.
    pub fn new(users: BTreeMap<String, String>) -> Self {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key).expect("the system's random source");
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|parts| parts.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let mut secret = [0u8; 24];
        openssl::rand::rand_bytes(&mut secret).expect("the system's random source");
        let stand_in = bcrypt::hash(secret, cost).expect("a cost taken from a valid hash");
        Self { users, stand_in, verified: Mutex::new(HashSet::new()), key }
    }

    /// Whether `authorization` is a pair that verified before: a lookup, no bcrypt.
    pub fn remembered(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else { return false };
        let Some(hash) = self.users.get(&user) else { return false };
        let pair = self.pair(&user, &password, hash);
        self.verified.lock().unwrap_or_else(PoisonError::into_inner).contains(&pair)
    }

    /// Whether `authorization` (the header's value, if any) names a configured user with
    /// the right password. Blocking: bcrypt runs on the caller's thread.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        let (user, password) = authorization.and_then(parse_basic).ok_or(Denied::NoCredentials)?;
        if self.remembered(authorization) {
            return Ok(());
        }
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.as_str(), true),
            None => (self.stand_in.as_str(), false),
        };
        let right = bcrypt::verify(&password, hash).unwrap_or(false);
        if !(known && right) {
            return Err(Denied::Wrong);
        }
        let pair = self.pair(&user, &password, hash);
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
    use std::time::Instant;

    use super::*;

    fn auth(cost: u32) -> BasicAuth {
        let hash = bcrypt::hash("right horse", cost).unwrap();
        BasicAuth::new(BTreeMap::from([("prometheus".to_string(), hash)]))
    }

    fn basic(credentials: &str) -> Vec<u8> {
        format!("Basic {}", BASE64.encode(credentials)).into_bytes()
    }

    #[test]
    fn the_right_password_is_let_in_and_then_remembered_without_bcrypt() {
        let auth = auth(4);
        let header = basic("prometheus:right horse");
        assert!(!auth.remembered(Some(&header)));
        assert_eq!(auth.check(Some(&header)), Ok(()));
        assert!(auth.remembered(Some(&header)));
        assert!(!auth.remembered(Some(&basic("prometheus:wrong"))));
    }

    #[test]
    fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
        let auth = auth(4);
        assert_eq!(auth.check(Some(&basic("prometheus:wrong"))), Err(Denied::Wrong));
        assert_eq!(auth.check(Some(&basic("root:right horse"))), Err(Denied::Wrong));
        assert!(auth.verified.lock().unwrap().is_empty(), "a failure is not remembered as a success");
    }

    #[test]
    fn an_unknown_user_costs_the_bcrypt_of_a_known_one() {
        // At cost 10 a bcrypt takes tens of milliseconds: an unknown user that skipped it
        // (or used a cheaper stand-in) would answer in microseconds.
        let auth = auth(10);
        let time = |credentials: &str| {
            let started = Instant::now();
            let _ = auth.check(Some(&basic(credentials)));
            started.elapsed()
        };
        let (known, unknown) = (time("prometheus:wrong"), time("nobody:wrong"));
        let ratio = unknown.as_secs_f64() / known.as_secs_f64();
        assert!((0.5..2.0).contains(&ratio), "known user {known:?}, unknown user {unknown:?}");
        assert!(auth.stand_in.starts_with("$2b$10$"), "{}", auth.stand_in);
    }

    #[test]
    fn a_missing_or_malformed_header_is_no_credentials() {
        let auth = auth(4);
        assert_eq!(auth.check(None), Err(Denied::NoCredentials));
        assert_eq!(auth.check(Some(b"Bearer abc")), Err(Denied::NoCredentials));
        assert_eq!(auth.check(Some(b"Basic !!!!")), Err(Denied::NoCredentials));
        assert_eq!(auth.check(Some(&basic("no-colon"))), Err(Denied::NoCredentials));
    }
}
