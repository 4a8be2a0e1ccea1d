//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX]`: which registry, which artifact.

use std::fmt;
use std::str::FromStr;

use oci_client::Reference;

/// The scheme that marks a plugin name as a registry reference.
pub const SCHEME: &str = "oci://";

/// A parsed `oci://` reference. The registry must be named: a bare `repo:tag` would
/// silently mean Docker Hub, which is never what an operator of a device fleet meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciReference {
    inner: Reference,
}

/// Why a reference was not understood.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{text}` is not an OCI plugin reference ({why}); expected oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST"
)]
pub struct ReferenceError {
    text: String,
    why: String,
}

impl OciReference {
    /// Whether `name` is meant as a registry reference rather than a file or plugin name.
    pub fn is_reference(name: &str) -> bool {
        name.starts_with(SCHEME)
    }

    /// `host[:port]`.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The repository path inside the registry.
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The tag, when the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// `sha256:…`, when the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The same artifact pinned to `digest` (what is fetched once a tag is resolved).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(self.registry().to_string(), self.repository().to_string(), digest.to_string())
    }

    /// The client library's form.
    pub fn as_client_reference(&self) -> &Reference {
        &self.inner
    }

    /// Registries on the loopback interface are spoken to over plain HTTP (as Docker does
    /// by default); everything else needs TLS. Decided by address: `localhost`, or an IP
    /// literal in 127.0.0.0/8 or `::1` (a name such as `127.example.com` is not loopback).
    pub fn is_loopback(&self) -> bool {
        let host = self.registry().rsplit_once(':').map_or(self.registry(), |(host, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) { host } else { self.registry() }
        });
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        host == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl FromStr for OciReference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |why: &str| ReferenceError { text: text.to_string(), why: why.to_string() };
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| fail("it does not start with oci://"))?;
        let (first, _) = rest.split_once('/').ok_or_else(|| fail("no registry before the repository"))?;
        // As in Docker's grammar: the first component is a registry only if it looks like a host.
        if !(first.contains('.') || first.contains(':') || first == "localhost") {
            return Err(fail("the first component is not a registry host (add one, e.g. registry.example.com/...)"));
        }
        // Checked before the general grammar, so a bad digest is named as such.
        if let Some((_, digest)) = rest.rsplit_once('@') {
            let hex = digest.strip_prefix("sha256:").ok_or_else(|| fail("only sha256 digests are accepted"))?;
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(fail("a sha256 digest is 64 lowercase hex digits"));
            }
        }
        let inner: Reference = rest.parse().map_err(|e| fail(&format!("{e}")))?;
        Ok(Self { inner })
    }
}

impl fmt::Display for OciReference {
    /// The canonical form, scheme included: the key of the lock file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry(), self.repository())?;
        if let Some(tag) = self.tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = self.digest() {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests_parse_and_print_back() {
        let tagged: OciReference = "oci://127.0.0.1:5000/vendor/mlx5-diag:1.2".parse().unwrap();
        assert_eq!(
            (tagged.registry(), tagged.repository(), tagged.tag()),
            ("127.0.0.1:5000", "vendor/mlx5-diag", Some("1.2"))
        );
        assert_eq!(tagged.digest(), None);
        assert_eq!(tagged.to_string(), "oci://127.0.0.1:5000/vendor/mlx5-diag:1.2");
        assert!(tagged.is_loopback());

        let digest = format!("sha256:{}", "ab".repeat(32));
        let pinned: OciReference = format!("oci://registry.example.com/diag@{digest}").parse().unwrap();
        assert_eq!((pinned.tag(), pinned.digest()), (None, Some(digest.as_str())));
        assert!(!pinned.is_loopback());
        assert_eq!(pinned.to_string(), format!("oci://registry.example.com/diag@{digest}"));
    }

    #[test]
    fn references_without_a_registry_or_with_a_bad_digest_are_refused_by_name() {
        for (text, why) in [
            ("127.0.0.1:5000/diag:1", "does not start with oci://"),
            ("oci://vendor/diag:1", "not a registry host"),
            ("oci://diag", "no registry"),
            ("oci://example.com/diag@sha256:abc", "64 lowercase hex"),
            ("oci://example.com/diag@md5:0123456789abcdef0123456789abcdef", "digest"),
        ] {
            let error = text.parse::<OciReference>().unwrap_err().to_string();
            assert!(error.contains(text) && error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn loopback_is_decided_by_address_not_by_name_prefix() {
        for (text, loopback) in [
            ("oci://127.0.0.1:5000/a:1", true),
            ("oci://127.3.4.5/a:1", true),
            ("oci://localhost:5000/a:1", true),
            ("oci://127.example.com/a:1", false),
            ("oci://127.0.0.1.nip.io:5000/a:1", false),
            ("oci://registry.example.com/a:1", false),
        ] {
            let reference: OciReference = text.parse().unwrap();
            assert_eq!(reference.is_loopback(), loopback, "{text}");
        }
    }
}
