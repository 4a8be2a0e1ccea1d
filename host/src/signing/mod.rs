//! Vendor signatures, in the WebAssembly tool-conventions format through the `wasmsign2`
//! crate: a `signature` custom section, first in the component, holding Ed25519
//! signatures over SHA-256 hashes of everything after it, so the embedded manifest is
//! covered by construction. The same bytes may sit beside the plugin as `PLUGIN.sig`.
//!
//! `sign` splits the component with delimiters after every section, so a signature
//! records a hash per section prefix. Verification can then name the first section that
//! changed since signing, and tell content appended after signing (a partial signature,
//! refused unless policy allows it) from content altered. Several signatures coexist: a
//! countersignature signs the same hashes.
//!
//! The bytes verified are the bytes the sandbox compiles: the loader reads a plugin
//! once, and both the digest and this check work on that buffer.

mod layout;
mod trust;
pub mod trust_edit;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
pub use wasmsign2::PublicKey;
use wasmsign2::{CustomSection, KeyPair, Module, SecretKey, SignatureData};

use self::layout::{Coverage, Layout};
pub use self::trust::{Signer, TrustError, TrustStore, TrustedKey, key_id};
use crate::plugin::sections::{SIGNATURE_SECTION, Section, SignedContent};

/// What a signature check concluded about a plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// No signature at all.
    Unsigned,
    /// Signed, but only by keys this host's trust store does not hold: judged exactly as
    /// an unsigned plugin (a signature never makes a plugin less usable), and refused
    /// only where signatures are required.
    Untrusted {
        /// The key ids the signatures name (`(none given)` for one that names none).
        key_ids: Vec<String>,
    },
    /// Signed by at least one trusted, valid key over the whole component.
    Verified {
        /// The signers, trusted and valid, in trust-store order; the first is the one
        /// whose policy entry applies.
        signers: Vec<VerifiedSigner>,
        /// Signatures present but not from a trusted, valid key (ignored).
        ignored: Vec<String>,
    },
}

impl SignatureStatus {
    /// The signer whose policy entry applies, if any.
    pub fn signer(&self) -> Option<&VerifiedSigner> {
        match self {
            Self::Verified { signers, .. } => signers.first(),
            Self::Unsigned | Self::Untrusted { .. } => None,
        }
    }

    /// One line for reports: who signed it, as this host sees it.
    pub fn describe(&self) -> String {
        match self {
            Self::Unsigned => "unsigned".into(),
            Self::Untrusted { key_ids } => {
                format!("signed only by keys this host does not trust ({}): judged as unsigned", key_ids.join(", "))
            }
            Self::Verified { signers, .. } => {
                let who: Vec<String> = signers
                    .iter()
                    .map(|s| format!("{} (key {}{})", s.name, s.key_id, if s.partial { ", partial" } else { "" }))
                    .collect();
                format!("signed by {}", who.join(", "))
            }
        }
    }
}

/// A trusted key that signed the plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedSigner {
    /// The signer's name in the trust store.
    pub name: String,
    /// The key's id.
    pub key_id: String,
    /// Whether only a prefix of the component is covered (allowed by policy).
    pub partial: bool,
}

/// Why a signed plugin was refused. Each names its reason; nothing runs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The digest is on the trust store's denylist.
    #[error("{digest} is on the trust store's denylist")]
    Denylisted {
        /// The digest.
        digest: String,
    },
    /// The signature section is not the first section.
    #[error(
        "the `signature` section is section {position}, not the first: a signature must come before everything it covers"
    )]
    NotFirst {
        /// Its position (0-based).
        position: usize,
    },
    /// A trusted key signed it, but the key is revoked, expired or not yet valid.
    #[error("signed by {signer} with key {key_id}, which is {why}")]
    KeyUnusable {
        /// The signer.
        signer: String,
        /// The key id.
        key_id: String,
        /// Revoked, expired, not yet valid.
        why: String,
    },
    /// The content changed after a trusted key signed it.
    #[error(
        "tampered: {what} changed since {signer} (key {key_id}) signed it; a plugin rewritten after signing (`manifest set`, composition, optimisation) must be signed again"
    )]
    Tampered {
        /// The signer.
        signer: String,
        /// The key id.
        key_id: String,
        /// The first section that differs, or why it cannot be named.
        what: String,
    },
    /// The manifest (what the grant is computed from) lies outside the signed part.
    #[error(
        "{signer} (key {key_id}) did not sign the manifest: it is in {rest}, added after signing; the grant depends on it, so the signature cannot vouch for this plugin"
    )]
    UnsignedManifest {
        /// The signer.
        signer: String,
        /// The key id.
        key_id: String,
        /// The unsigned part.
        rest: String,
    },
    /// Only a prefix is signed and policy does not allow partial signatures.
    #[error(
        "partial signature: {signer} (key {key_id}) signed {covered}, and {rest} was added after; policy does not allow partial signatures"
    )]
    Partial {
        /// The signer.
        signer: String,
        /// The key id.
        key_id: String,
        /// What is covered.
        covered: String,
        /// What is not.
        rest: String,
    },
    /// The binary or the signature section cannot be read.
    #[error("unreadable signature: {0}")]
    Malformed(String),
}

fn malformed(e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Malformed(e.to_string())
}

/// How signatures are judged besides the trust store.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Whether a signature over a prefix of the component (content appended after
    /// signing) counts, as the policy's `allow-partial-signatures` says.
    pub allow_partial: bool,
    /// The time keys' validity is judged at.
    pub now: SystemTime,
}

/// Checks `component`'s signatures (embedded, or `detached`) against `trust`.
/// `content` is the component read as sections with their hashes
/// ([`Plugin::signed_content`](crate::plugin::Plugin::signed_content)), `digest` the
/// file's own.
pub fn verify(
    component: &[u8],
    digest: &str,
    content: &SignedContent,
    detached: Option<&[u8]>,
    trust: &TrustStore,
    options: &VerifyOptions,
) -> Result<SignatureStatus, VerifyError> {
    let VerifyOptions { allow_partial, now } = *options;
    if trust.denied_digests.contains(digest) {
        return Err(VerifyError::Denylisted { digest: digest.into() });
    }
    let is_header = |s: &Section| s.is_custom(SIGNATURE_SECTION);
    let position = content.sections.iter().position(is_header);
    if let Some(position) = position.filter(|&p| p != 0) {
        return Err(VerifyError::NotFirst { position });
    }
    // One signature section, first: a second one would be content that hashes as
    // nothing here but as something to the reference verifier.
    if let Some(second) = content.sections.iter().enumerate().skip(1).find(|(_, s)| is_header(s)) {
        return Err(malformed(format!("a second `signature` section at position {}", second.0)));
    }
    let signature_bytes = match (detached, position) {
        (Some(bytes), _) => bytes.to_vec(),
        (None, Some(_)) => component[content.sections[0].data.clone()].to_vec(),
        (None, None) => return Ok(SignatureStatus::Unsigned),
    };
    let data: SignatureData =
        CustomSection::new(SIGNATURE_SECTION.into(), signature_bytes).signature_data().map_err(malformed)?;
    let layout = Layout::of(content);
    // Denied by what was signed too, not only by the file's bytes: countersigning with a
    // throwaway key, or appending unsigned sections, changes the file but not that. (The
    // digests are spelled out only when there is a denylist to hold them against.)
    if !trust.denied_digests.is_empty() {
        let signed_digests = data
            .signed_hashes_set
            .iter()
            .flat_map(|s| s.hashes.iter().map(|h| format!("sha256:{}", hex::encode(h))))
            .chain(layout.content_digest());
        for signed in signed_digests {
            if trust.denied_digests.contains(&signed) {
                return Err(VerifyError::Denylisted { digest: signed });
            }
        }
    }

    // Every (trusted key, signed hash list) whose Ed25519 signature is genuine.
    let mut findings = Vec::new();
    for (signer, key) in trust.keys() {
        for signed in &data.signed_hashes_set {
            if genuine(&key.key, &signed.hashes, &signed.signatures) {
                findings.push((signer, key, layout.coverage(&signed.hashes)));
            }
        }
    }
    if findings.is_empty() {
        return Ok(SignatureStatus::Untrusted { key_ids: named_key_ids(&data) });
    }

    let mut signers = Vec::new();
    let mut ignored = Vec::new();
    let mut refusal = None;
    for (signer, key, coverage) in &findings {
        let (name, key_id) = (signer.name.clone(), key.key_id.clone());
        if let Some(why) = key.unusable(now) {
            ignored.push(format!("{name} (key {key_id}): {why}"));
            refusal.get_or_insert(VerifyError::KeyUnusable { signer: name, key_id, why });
            continue;
        }
        match coverage {
            // The same hashes and Ed25519 check as wasmsign2's `verify`, which is not run
            // again here (it would hash the component a third time); the tests hold the
            // two to agreement, the wasmsign2 tool included.
            Coverage::Full => signers.push(VerifiedSigner { name, key_id, partial: false }),
            // What the grant depends on must be signed, partial signatures or not.
            Coverage::Prefix { rest, rest_sections, .. } if carries_manifest(component, content, rest_sections) => {
                refusal = Some(VerifyError::UnsignedManifest { signer: name, key_id, rest: rest.clone() });
            }
            Coverage::Prefix { .. } if allow_partial => {
                signers.push(VerifiedSigner { name, key_id, partial: true });
            }
            Coverage::Prefix { covered, rest, .. } => {
                refusal =
                    Some(VerifyError::Partial { signer: name, key_id, covered: covered.clone(), rest: rest.clone() });
            }
            Coverage::Changed { what } => {
                refusal = Some(VerifyError::Tampered { signer: name, key_id, what: what.clone() });
            }
        }
    }
    if signers.is_empty() {
        return Err(refusal.expect("a genuine signature was classified"));
    }
    // Full signatures vouch before partial ones.
    signers.sort_by_key(|s| s.partial);
    let untrusted = data.signed_hashes_set.iter().map(|s| s.signatures.len()).sum::<usize>() - findings.len();
    if untrusted > 0 {
        ignored.push(format!("{untrusted} signature(s) by keys not in the trust store"));
    }
    Ok(SignatureStatus::Verified { signers, ignored })
}

/// `sha256:<hex>` of a component without its signature section: what a signature over
/// the whole of it signs, unchanged by countersigning. `None` when it does not parse.
pub fn content_digest(content: &SignedContent) -> Option<String> {
    Layout::of(content).content_digest()
}

/// Whether any of `sections` is, or contains, a `fwctl-manifest` section (searched for
/// by name in the section's bytes: a nested module's custom section included, and a
/// false alarm refuses rather than admits).
fn carries_manifest(component: &[u8], content: &SignedContent, sections: &[usize]) -> bool {
    let name = crate::plugin::MANIFEST_SECTION.as_bytes();
    sections
        .iter()
        .filter_map(|&i| content.sections.get(i))
        .any(|section| component[section.range.clone()].windows(name.len()).any(|w| w == name))
}

/// Whether one of `signatures` is `key`'s Ed25519 signature over `hashes` (the
/// tool-conventions message: domain, version, content type, hash function, hashes).
fn genuine(key: &PublicKey, hashes: &[Vec<u8>], signatures: &[wasmsign2::SignatureForHashes]) -> bool {
    let mut message = b"wasmsig".to_vec();
    message.extend_from_slice(&[0x01, 0x01, 0x01]);
    for hash in hashes {
        message.extend_from_slice(hash);
    }
    signatures.iter().any(|s| {
        ed25519_compact::Signature::from_slice(&s.signature).is_ok_and(|sig| key.pk.verify(&message, &sig).is_ok())
    })
}

/// The key ids the signatures name, as the trust store writes them; a signature made
/// without one (the wasmsign2 tool's default) says so.
fn named_key_ids(data: &SignatureData) -> Vec<String> {
    let mut ids: Vec<String> = data
        .signed_hashes_set
        .iter()
        .flat_map(|s| &s.signatures)
        .map(|s| s.key_id.as_ref().map_or("(none given)".to_string(), hex::encode))
        .collect();
    ids.dedup();
    ids
}

/// Where a new signature goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureLayout {
    /// Inside the component, as its first section: it travels with the file.
    Embedded,
    /// In a separate `PLUGIN.sig`; the component's bytes are left alone.
    Detached,
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

/// Signs `component` with `key`, adding to any signatures it has (a countersignature
/// signs the same hashes). Embedded: returns the signed component and the signature
/// section's bytes. Detached: the component is left as it is and only the signature is
/// meaningful (for `PLUGIN.sig`).
///
/// An embedded signature first gets delimiters around every core module, nested
/// component and custom section, so it records a hash per part and verification can
/// name what changed. (`MAX_HASHES` is 64; a component has a handful of such parts.)
pub fn sign(component: &[u8], key: &SecretKey, layout: SignatureLayout) -> Result<(Vec<u8>, Vec<u8>), SignError> {
    let detached = layout == SignatureLayout::Detached;
    let fail = |e: wasmsign2::WSError| SignError(e.to_string());
    let mut module = Module::deserialize(&mut &component[..]).map_err(fail)?;
    if !detached && !module.sections.iter().any(wasmsign2::Section::is_signature_delimiter) {
        module.sections = delimit(std::mem::take(&mut module.sections))?;
    }
    // The key id our trust store shows (see `key_id`), so a refusal can name the key.
    let id = trust::key_id_bytes(&PublicKey { pk: key.sk.public_key(), key_id: None });
    let (signed, signature) = key.sign_multi(module, Some(&id), detached, false).map_err(fail)?;
    let mut out = Vec::new();
    signed.serialize(&mut out).map_err(fail)?;
    Ok((out, signature))
}

/// Inserts a delimiter after each core module, nested component and custom section, and
/// at the end. Delimiters carry 16 random bytes, as the format asks, so that no two
/// parts hash alike by accident.
fn delimit(sections: Vec<wasmsign2::Section>) -> Result<Vec<wasmsign2::Section>, SignError> {
    use wasmsign2::reexports::getrandom;
    let delimiter = || -> Result<wasmsign2::Section, SignError> {
        let mut nonce = vec![0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| SignError(format!("random delimiter: {e}")))?;
        Ok(wasmsign2::Section::Custom(CustomSection::new("signature_delimiter".into(), nonce)))
    };
    let mut out: Vec<wasmsign2::Section> = Vec::with_capacity(sections.len() * 2);
    for section in sections {
        let own_part = match &section {
            wasmsign2::Section::Custom(c) => !section.is_signature_header() && !c.is_signature_delimiter(),
            // Component section ids 1 (core module) and 4 (nested component).
            wasmsign2::Section::Standard(s) => matches!(u8::from(wasmsign2::SectionLike::id(s)), 1 | 4),
        };
        // Close the run of small sections before a part of its own, so it stands alone.
        let open_run = out.last().is_some_and(|s| !s.is_signature_header() && !s.is_signature_delimiter());
        if own_part && open_run {
            out.push(delimiter()?);
        }
        out.push(section);
        if own_part {
            out.push(delimiter()?);
        }
    }
    if !out.last().is_some_and(wasmsign2::Section::is_signature_delimiter) {
        out.push(delimiter()?);
    }
    Ok(out)
}

/// Writes a new key pair as `PREFIX.key` (secret) and `PREFIX.pub` (public).
///
/// Both files are created new, never over an existing file or through a symlink; the
/// secret key is readable by its owner only (0600), whatever the umask.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf), SignError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let pair = KeyPair::generate();
    let secret = prefix.with_extension("key");
    let public = prefix.with_extension("pub");
    let write_new = |path: &Path, mode: u32, bytes: &[u8]| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(path)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    SignError(format!("{}: already exists; keygen never overwrites a key", path.display()))
                }
                _ => SignError(format!("{}: {e}", path.display())),
            })
    };
    if public.symlink_metadata().is_ok() {
        return Err(SignError(format!("{}: already exists; keygen never overwrites a key", public.display())));
    }
    write_new(&secret, 0o600, &pair.sk.to_bytes())?;
    write_new(&public, 0o644, &pair.pk.to_bytes())?;
    Ok((secret, public))
}

/// Reads a secret key file (raw, PEM, DER or OpenSSH).
pub fn load_secret_key(path: &Path) -> Result<SecretKey, SignError> {
    SecretKey::from_any_file(path).map_err(|e| SignError(format!("{}: {e}", path.display())))
}

/// The detached signature file for a plugin, if there is one: `PLUGIN.sig`.
pub fn detached_signature_path(plugin: &Path) -> PathBuf {
    let mut name = plugin.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header alone.
    const EMPTY_COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    /// [`super::verify`] on bytes, their sections read here.
    fn verify(
        component: &[u8],
        digest: &str,
        detached: Option<&[u8]>,
        trust: &TrustStore,
        options: &VerifyOptions,
    ) -> Result<SignatureStatus, VerifyError> {
        let content = SignedContent::read(component).map_err(VerifyError::Malformed)?;
        super::verify(component, digest, &content, detached, trust, options)
    }

    fn store_with(key: &PublicKey) -> TrustStore {
        let key = PublicKey::from_bytes(&key.to_bytes()).unwrap();
        let trusted = TrustedKey { key_id: key_id(&key), key, valid_from: None, valid_until: None, revoked: false };
        TrustStore {
            origin: "test".into(),
            signers: vec![Signer { name: "t".into(), keys: vec![trusted] }],
            ..TrustStore::default()
        }
    }

    #[test]
    fn our_verdict_agrees_with_wasmsign2_on_signed_and_altered_components() {
        let pair = KeyPair::generate();
        let mut component = EMPTY_COMPONENT.to_vec();
        // A custom section `a` with one byte of payload.
        component.extend_from_slice(&[0x00, 0x03, 0x01, b'a', 0x07]);
        let (signed, _) = sign(&component, &pair.sk, SignatureLayout::Embedded).unwrap();
        let store = store_with(&pair.pk);
        let now = SystemTime::now();
        assert!(
            verify(&signed, "d", None, &store, &VerifyOptions { allow_partial: false, now })
                .unwrap()
                .signer()
                .is_some()
        );
        assert!(pair.pk.verify(&mut &signed[..], None).is_ok());

        let mut altered = signed.clone();
        let payload = altered.windows(2).position(|w| w == [b'a', 0x07]).unwrap() + 1;
        altered[payload] ^= 1;
        let err = verify(&altered, "d", None, &store, &VerifyOptions { allow_partial: false, now }).unwrap_err();
        assert!(matches!(&err, VerifyError::Tampered { what, .. } if what.contains("custom section `a`")), "{err}");
        assert!(pair.pk.verify(&mut &altered[..], None).is_err());

        assert_eq!(
            verify(&component, "d", None, &store, &VerifyOptions { allow_partial: false, now }),
            Ok(SignatureStatus::Unsigned)
        );
        // By a key the host does not hold: as good as unsigned, and the key is named.
        let other = KeyPair::generate();
        assert_eq!(
            verify(&signed, "d", None, &store_with(&other.pk), &VerifyOptions { allow_partial: false, now }),
            Ok(SignatureStatus::Untrusted { key_ids: vec![key_id(&pair.pk)] })
        );
    }

    #[test]
    fn keygen_keeps_the_secret_private_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = keygen(&dir.path().join("vendor")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&secret), mode(&public)), (0o600, 0o644));
        let before = std::fs::read(&secret).unwrap();
        let err = keygen(&dir.path().join("vendor")).unwrap_err().0;
        assert!(err.contains("already exists; keygen never overwrites a key"), "{err}");
        assert_eq!(std::fs::read(&secret).unwrap(), before);
        // A symlink planted where the secret would go is not followed.
        let target = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, dir.path().join("planted.key")).unwrap();
        assert!(keygen(&dir.path().join("planted")).is_err());
        assert!(!target.exists());
    }

    /// A custom section `name` with `payload`, as bytes.
    fn custom(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(payload);
        let mut section = vec![0x00, body.len() as u8];
        section.extend_from_slice(&body);
        section
    }

    fn denying(store: TrustStore, digest: String) -> TrustStore {
        TrustStore { denied_digests: [digest].into(), ..store }
    }

    #[test]
    fn the_denylist_matches_what_was_signed_not_only_the_file() {
        let (vendor, stranger) = (KeyPair::generate(), KeyPair::generate());
        let mut component = EMPTY_COMPONENT.to_vec();
        component.extend_from_slice(&custom("fwctl-manifest", b"name = 'bad'"));
        let (signed, _) = sign(&component, &vendor.sk, SignatureLayout::Embedded).unwrap();
        let now = SystemTime::now();
        let content = content_digest(&SignedContent::read(&signed).unwrap()).unwrap();
        let store = denying(store_with(&vendor.pk), content.clone());
        let denied = |bytes: &[u8], allow_partial| match verify(
            bytes,
            "sha256:file",
            None,
            &store,
            &VerifyOptions { allow_partial, now },
        ) {
            Err(VerifyError::Denylisted { digest }) => digest,
            other => panic!("not denied: {other:?}"),
        };
        assert_eq!(denied(&signed, false), content);
        // Countersigned with a throwaway key: a new file, the same signed content.
        let (countersigned, _) = sign(&signed, &stranger.sk, SignatureLayout::Embedded).unwrap();
        assert_ne!(countersigned, signed);
        denied(&countersigned, false);
        // An unsigned section appended: still the signed hash of the original content.
        let mut appended = signed.clone();
        appended.extend_from_slice(&custom("padding", b"x"));
        denied(&appended, true);
    }

    #[test]
    fn a_second_signature_section_is_refused() {
        let pair = KeyPair::generate();
        let (signed, _) = sign(&EMPTY_COMPONENT, &pair.sk, SignatureLayout::Embedded).unwrap();
        let mut twice = signed.clone();
        twice.extend_from_slice(&custom("signature", &[0x01]));
        let err = verify(
            &twice,
            "d",
            None,
            &store_with(&pair.pk),
            &VerifyOptions { allow_partial: true, now: SystemTime::now() },
        )
        .unwrap_err();
        assert!(err.to_string().contains("a second `signature` section"), "{err}");
    }

    #[test]
    fn a_manifest_appended_after_signing_never_gets_the_signers_grant() {
        let pair = KeyPair::generate();
        let mut component = EMPTY_COMPONENT.to_vec();
        component.extend_from_slice(&custom("code", b"signed"));
        let (signed, _) = sign(&component, &pair.sk, SignatureLayout::Embedded).unwrap();
        let mut appended = signed.clone();
        appended.extend_from_slice(&custom("fwctl-manifest", b"[devices.cxl]"));
        // Even where policy accepts partial signatures.
        let err = verify(
            &appended,
            "d",
            None,
            &store_with(&pair.pk),
            &VerifyOptions { allow_partial: true, now: SystemTime::now() },
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::UnsignedManifest { .. }), "{err}");
        // Other appended content is what allow-partial-signatures is for.
        let mut padded = signed.clone();
        padded.extend_from_slice(&custom("padding", b"x"));
        let status = verify(
            &padded,
            "d",
            None,
            &store_with(&pair.pk),
            &VerifyOptions { allow_partial: true, now: SystemTime::now() },
        )
        .unwrap();
        assert!(status.signer().unwrap().partial);
    }
}
