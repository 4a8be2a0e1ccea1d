//! The web configuration file of Prometheus exporters (exporter-toolkit's format): TLS
//! for the listener and basic-auth users with bcrypt hashes.
//!
//! An operator who runs node_exporter or the DCGM exporter already has this file; the
//! same file works here. Unknown keys are refused, as exporter-toolkit refuses them: a
//! setting that was silently ignored (a client-certificate requirement, say) would leave
//! the endpoint less protected than its operator believes. The keys exporter-toolkit
//! knows but fwctl-run does not carry out (`cipher_suites`, `curve_preferences`,
//! `client_allowed_sans`, `http2`, `headers`, `rate_limit`) are refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// What is wrong with a web configuration, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("cannot read the web configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not have the expected shape.
    #[error("the web configuration {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's words (line, column and the key it refused).
        message: String,
    },
    /// A field's value is not allowed.
    #[error("the web configuration {path}: `{field}` {problem}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field, as a YAML path.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The certificate, key or client CA could not be loaded.
    #[error("the web configuration {path}: TLS: {message}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// OpenSSL's account, with the file it was reading.
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    // exporter-toolkit's, not carried out here: refused by name when present.
    http_server_config: Option<IgnoredAny>,
    rate_limit: Option<IgnoredAny>,
}

/// `tls_server_config`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    /// Accepted for compatibility: OpenSSL's server cipher order is always preferred.
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    // exporter-toolkit's, not carried out here: refused by name when present.
    cipher_suites: Option<IgnoredAny>,
    curve_preferences: Option<IgnoredAny>,
    client_allowed_sans: Option<IgnoredAny>,
    cert: Option<IgnoredAny>,
    key: Option<IgnoredAny>,
    client_ca: Option<IgnoredAny>,
}

/// Whether and how a client presents a certificate (exporter-toolkit's names, which are
/// Go's `tls.ClientAuthType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate asked for.
    NoClientCert,
    /// Asked for, any (or none) accepted.
    RequestClientCert,
    /// Required, not verified.
    RequireAnyClientCert,
    /// Verified against the client CA when given.
    VerifyClientCertIfGiven,
    /// Required and verified against the client CA.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "" | "NoClientCert" => Self::NoClientCert,
            "RequestClientCert" => Self::RequestClientCert,
            "RequireAnyClientCert" | "RequireClientCert" => Self::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => Self::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => Self::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, Self::VerifyClientCertIfGiven | Self::RequireAndVerifyClientCert)
    }
}

/// The listener's TLS settings, checked.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// The certificate chain (PEM), read again when it changes, so that a renewed
    /// certificate is served without a restart.
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
    /// The CA that client certificates are verified against.
    pub client_ca_file: Option<PathBuf>,
    /// What is asked of clients.
    pub client_auth: ClientAuth,
    /// The lowest protocol version accepted (TLS 1.2 unless set).
    pub min_version: SslVersion,
    /// The highest (TLS 1.3 unless set).
    pub max_version: SslVersion,
}

/// A web configuration, checked.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// TLS on the listener, if configured.
    pub tls: Option<TlsSettings>,
    /// Users and their bcrypt hashes; empty: no authentication.
    pub users: BTreeMap<String, String>,
}

impl WebConfig {
    /// Reads and checks `path`; the certificate and key are loaded once here so that a
    /// mistake is found at start, not at the first scrape.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| WebConfigError::Read { path: path.into(), source })?;
        let config = Self::parse(&text, path)?;
        if config.tls.is_some() {
            config.acceptor()?;
        }
        Ok(config)
    }

    /// Checks the text of a web configuration read from `path` (no file is opened).
    pub fn parse(text: &str, path: &Path) -> Result<Self, WebConfigError> {
        let field = |field: &'static str, problem: String| WebConfigError::Field { path: path.into(), field, problem };
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text)
                .map_err(|e| WebConfigError::Syntax { path: path.into(), message: e.to_string() })?
        };
        let unsupported = |name: &'static str| field(name, "is not supported by fwctl-run; remove it".into());
        if file.http_server_config.is_some() {
            return Err(unsupported("http_server_config"));
        }
        if file.rate_limit.is_some() {
            return Err(unsupported("rate_limit"));
        }
        for (user, hash) in &file.basic_auth_users {
            if user.is_empty() || user.contains(':') {
                return Err(field(
                    "basic_auth_users",
                    format!("user {user:?}: a user name is not empty and has no `:`"),
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(field(
                    "basic_auth_users",
                    format!(
                        "user {user:?}: the password must be a bcrypt hash ($2a$, $2b$ or $2y$), as htpasswd -B makes"
                    ),
                ));
            }
        }
        let tls = match file.tls_server_config {
            None => None,
            Some(tls) => {
                for (present, name) in [
                    (tls.cipher_suites.is_some(), "tls_server_config.cipher_suites"),
                    (tls.curve_preferences.is_some(), "tls_server_config.curve_preferences"),
                    (tls.client_allowed_sans.is_some(), "tls_server_config.client_allowed_sans"),
                    (tls.cert.is_some(), "tls_server_config.cert (inline; use cert_file)"),
                    (tls.key.is_some(), "tls_server_config.key (inline; use key_file)"),
                    (tls.client_ca.is_some(), "tls_server_config.client_ca (inline; use client_ca_file)"),
                ] {
                    if present {
                        return Err(unsupported(name));
                    }
                }
                let (cert_file, key_file) = match (tls.cert_file, tls.key_file) {
                    (Some(cert), Some(key)) => (cert, key),
                    (None, _) => return Err(field("tls_server_config.cert_file", "is missing".into())),
                    (_, None) => return Err(field("tls_server_config.key_file", "is missing".into())),
                };
                let client_auth = match tls.client_auth_type.as_deref() {
                    None => ClientAuth::NoClientCert,
                    Some(name) => ClientAuth::parse(name).ok_or_else(|| {
                        field(
                            "tls_server_config.client_auth_type",
                            format!("{name:?} is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"),
                        )
                    })?,
                };
                if client_auth.verifies() && tls.client_ca_file.is_none() {
                    return Err(field(
                        "tls_server_config.client_ca_file",
                        format!("is needed to verify client certificates ({client_auth:?})"),
                    ));
                }
                if tls.client_ca_file.is_some() && !client_auth.verifies() {
                    return Err(field(
                        "tls_server_config.client_auth_type",
                        "must verify client certificates (VerifyClientCertIfGiven or RequireAndVerifyClientCert) when client_ca_file is given".into(),
                    ));
                }
                let version = |name: &'static str, given: Option<&str>, default: SslVersion| match given {
                    None => Ok(default),
                    Some(v) => tls_version(v).ok_or_else(|| {
                        field(name, format!("{v:?} is not one of TLS12, TLS13 (1.0 and 1.1 are not offered)"))
                    }),
                };
                let min_version =
                    version("tls_server_config.min_version", tls.min_version.as_deref(), SslVersion::TLS1_2)?;
                let max_version =
                    version("tls_server_config.max_version", tls.max_version.as_deref(), SslVersion::TLS1_3)?;
                if rank(min_version) > rank(max_version) {
                    return Err(field("tls_server_config.min_version", "is above max_version".into()));
                }
                let _ = tls.prefer_server_cipher_suites;
                Some(TlsSettings {
                    cert_file: relative_to(path, cert_file),
                    key_file: relative_to(path, key_file),
                    client_ca_file: tls.client_ca_file.map(|p| relative_to(path, p)),
                    client_auth,
                    min_version,
                    max_version,
                })
            }
        };
        Ok(Self { path: path.into(), tls, users: file.basic_auth_users })
    }

    /// Whether scrapes need a user and password.
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// An OpenSSL acceptor with the certificate and key as they are on disk now.
    pub fn acceptor(&self) -> Result<Option<SslAcceptor>, WebConfigError> {
        let Some(tls) = &self.tls else { return Ok(None) };
        let fail = |what: &str, file: &Path, e: openssl::error::ErrorStack| WebConfigError::Tls {
            path: self.path.clone(),
            message: format!("{what} {}: {e}", file.display()),
        };
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
            .map_err(|e| fail("setting up", &self.path, e))?;
        builder.set_certificate_chain_file(&tls.cert_file).map_err(|e| fail("the certificate", &tls.cert_file, e))?;
        builder.set_private_key_file(&tls.key_file, SslFiletype::PEM).map_err(|e| fail("the key", &tls.key_file, e))?;
        builder.check_private_key().map_err(|e| fail("the key does not match the certificate", &tls.key_file, e))?;
        builder.set_min_proto_version(Some(tls.min_version)).map_err(|e| fail("min_version", &self.path, e))?;
        builder.set_max_proto_version(Some(tls.max_version)).map_err(|e| fail("max_version", &self.path, e))?;
        if let Some(ca) = &tls.client_ca_file {
            builder.set_ca_file(ca).map_err(|e| fail("the client CA", ca, e))?;
        }
        match tls.client_auth {
            ClientAuth::NoClientCert => builder.set_verify(SslVerifyMode::NONE),
            ClientAuth::RequestClientCert => builder.set_verify_callback(SslVerifyMode::PEER, |_, _| true),
            ClientAuth::RequireAnyClientCert => {
                builder.set_verify_callback(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT, |_, _| true)
            }
            ClientAuth::VerifyClientCertIfGiven => builder.set_verify(SslVerifyMode::PEER),
            ClientAuth::RequireAndVerifyClientCert => {
                builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT)
            }
        }
        Ok(Some(builder.build()))
    }
}

fn tls_version(name: &str) -> Option<SslVersion> {
    // TLS 1.0 and 1.1 are not offered (Mozilla's intermediate profile): a configuration
    // asking for them is refused rather than silently not honoured.
    Some(match name {
        "TLS12" => SslVersion::TLS1_2,
        "TLS13" => SslVersion::TLS1_3,
        _ => return None,
    })
}

fn rank(version: SslVersion) -> u8 {
    [SslVersion::TLS1_2, SslVersion::TLS1_3].iter().position(|v| *v == version).unwrap_or(0) as u8
}

/// The acceptor for the certificate, key and client CA as they are on disk, made again
/// only when one of them changes (a renewed certificate is served without a restart, and
/// a connection costs three `stat`s, not a key parse).
pub struct Acceptors {
    config: WebConfig,
    built: Mutex<Option<(Vec<FileStamp>, SslAcceptor)>>,
}

/// What tells a file changed: its modification time and size.
type FileStamp = Option<(std::time::SystemTime, u64)>;

impl Acceptors {
    /// For `config`'s TLS settings (none: plain HTTP).
    pub fn new(config: WebConfig) -> Self {
        Self { config, built: Mutex::new(None) }
    }

    /// The acceptor to use now, `None` without TLS.
    pub fn current(&self) -> Result<Option<SslAcceptor>, WebConfigError> {
        let Some(tls) = &self.config.tls else { return Ok(None) };
        let stamp: Vec<FileStamp> = [Some(&tls.cert_file), Some(&tls.key_file), tls.client_ca_file.as_ref()]
            .into_iter()
            .flatten()
            .map(|file| std::fs::metadata(file).ok().and_then(|m| Some((m.modified().ok()?, m.len()))))
            .collect();
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((when, acceptor)) = built.as_ref()
            && *when == stamp
        {
            return Ok(Some(acceptor.clone()));
        }
        let acceptor = self.config.acceptor()?.expect("TLS is configured");
        *built = Some((stamp, acceptor.clone()));
        Ok(Some(acceptor))
    }
}

/// A relative file name in the configuration is relative to the configuration's own
/// directory, as in exporter-toolkit.
fn relative_to(config: &Path, file: PathBuf) -> PathBuf {
    match config.parent() {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2b$04$Kpq0UoWTxtkMJDtXxMpk1O9o7YqONiMDjM8VqsFO2URa38mGw6xVm";

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(text, Path::new("/etc/fwctl-run/web.yml"))
    }

    #[test]
    fn an_empty_file_means_plain_http_without_users() {
        let config = parse("").unwrap();
        assert!(config.tls.is_none() && !config.requires_auth());
    }

    #[test]
    fn users_and_tls_files_are_read_relative_to_the_file() {
        let config = parse(&format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: /keys/tls.key\nbasic_auth_users:\n  prometheus: '{HASH}'\n"
        ))
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert_file, Path::new("/etc/fwctl-run/tls.crt"));
        assert_eq!(tls.key_file, Path::new("/keys/tls.key"));
        assert_eq!(tls.min_version, SslVersion::TLS1_2);
        assert_eq!(config.users.get("prometheus").map(String::as_str), Some(HASH));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  ciphers: [x]\n").unwrap_err();
        assert!(error.to_string().contains("ciphers"), "{error}");
    }

    #[test]
    fn a_key_that_fwctl_run_does_not_carry_out_is_refused_not_ignored() {
        let error =
            parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n")
                .unwrap_err();
        assert!(error.to_string().contains("not supported"), "{error}");
        let error = parse("rate_limit:\n  interval: 1s\n").unwrap_err();
        assert!(error.to_string().contains("rate_limit"), "{error}");
    }

    #[test]
    fn a_password_in_clear_is_refused() {
        let error = parse("basic_auth_users:\n  prometheus: secret\n").unwrap_err();
        assert!(error.to_string().contains("bcrypt"), "{error}");
        assert!(!error.to_string().contains("secret"), "the password is not repeated: {error}");
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let error = parse("tls_server_config:\n  cert_file: a\n").unwrap_err();
        assert!(error.to_string().contains("tls_server_config.key_file"), "{error}");
    }

    #[test]
    fn verifying_client_certificates_needs_a_client_ca() {
        let error = parse(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("client_ca_file"), "{error}");
        let error = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: ca\n").unwrap_err();
        assert!(error.to_string().contains("client_auth_type"), "{error}");
    }

    #[test]
    fn an_unknown_tls_version_or_client_auth_type_is_named() {
        let error = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: SSL3\n").unwrap_err();
        assert!(error.to_string().contains("min_version"), "{error}");
        let error = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n").unwrap_err();
        assert!(error.to_string().contains("not offered"), "TLS 1.0 is refused, not ignored: {error}");
        let error =
            parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n").unwrap_err();
        assert!(error.to_string().contains("client_auth_type"), "{error}");
        let error =
            parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n")
                .unwrap_err();
        assert!(error.to_string().contains("above max_version"), "{error}");
    }
}
