//! Registry credentials, where Docker and Podman keep them: an auth file (`--authfile`,
//! `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`)
//! with base64 `auths`, `credHelpers` and a `credsStore`, read through the
//! `docker_credential` crate (which runs `docker-credential-NAME get` as Docker does).
//!
//! A secret never appears in a message, a log or the audit trail: [`Credential`]'s
//! `Debug` shows the user name only, and errors name the file and helper, not what they
//! returned.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use docker_credential::{CredentialRetrievalError, DockerCredential};

use crate::atomic_file;

/// What a registry is shown to prove who we are.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or personal access token), for Basic auth or a token
    /// request.
    Basic {
        /// The user.
        username: String,
        /// The secret.
        password: String,
    },
    /// An OAuth2 refresh token, as `docker login` keeps for some registries.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username}, <secret>)"),
            Self::IdentityToken(_) => write!(f, "IdentityToken(<secret>)"),
        }
    }
}

/// Why credentials could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The file could not be read or parsed, or a helper failed.
    #[error("registry credentials for {registry} from {file}: {why}")]
    Read {
        /// The registry.
        registry: String,
        /// The auth file.
        file: PathBuf,
        /// What went wrong, without any secret.
        why: String,
    },
    /// The file could not be written.
    #[error("writing registry credentials to {file}: {why}")]
    Write {
        /// The auth file.
        file: PathBuf,
        /// Why.
        why: String,
    },
}

/// The auth file: `explicit`, else `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`,
/// else `config.json` in the `.docker` directory of the home the password database gives
/// this user (never an inherited `$HOME` for a privileged process).
pub fn auth_file(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(file) = explicit {
        return Some(file.to_path_buf());
    }
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(file) = env("REGISTRY_AUTH_FILE") {
        return Some(file);
    }
    if let Some(dir) = env("DOCKER_CONFIG") {
        return Some(dir.join("config.json"));
    }
    let home = if crate::paths::privileged() {
        nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.dir)
    } else {
        env("HOME")
    };
    home.map(|home| home.join(".docker/config.json"))
}

/// Where a registry's credential is, read only when the registry asks for one: a pull of
/// a public plugin, or of one already in the store, runs no credential helper.
#[derive(Debug)]
pub struct CredentialSource {
    registry: String,
    file: Option<PathBuf>,
    loaded: std::sync::OnceLock<Result<Option<Credential>, String>>,
}

impl CredentialSource {
    /// The credential `file` (if any) holds for `registry`, looked up on first use.
    pub fn new(registry: &str, file: Option<&Path>) -> Self {
        Self { registry: registry.to_string(), file: file.map(Path::to_path_buf), loaded: Default::default() }
    }

    /// Anonymous access only.
    pub fn anonymous() -> Self {
        Self::new("", None)
    }

    /// The credential, read now if it was not read before.
    pub fn get(&self) -> Result<Option<&Credential>, String> {
        self.loaded
            .get_or_init(|| credential_for(&self.registry, self.file.as_deref()).map_err(|e| e.to_string()))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }
}

/// The credential `file` holds for `registry` (`host[:port]`), if any. A missing file, or
/// one with nothing for this registry (a credential helper that has none included), is no
/// credential (anonymous access).
pub fn credential_for(registry: &str, file: Option<&Path>) -> Result<Option<Credential>, CredentialError> {
    let Some(file) = file else { return Ok(None) };
    let fail = |why: String| CredentialError::Read { registry: registry.into(), file: file.into(), why };
    let text = match std::fs::read(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    if crate::paths::privileged() {
        trusted_by_a_privileged_process(file).map_err(&fail)?;
    }
    helper_names_are_plain(&text).map_err(&fail)?;
    match docker_credential::get_credential_from_reader(&text[..], registry) {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(Some(Credential::Basic { username, password }))
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(Some(Credential::IdentityToken(token))),
        Err(CredentialRetrievalError::NoCredentialConfigured) => Ok(None),
        // A helper's output may hold a secret: only its name is told. Docker's helpers
        // say "credentials not found" for a registry they hold nothing for: anonymous.
        Err(CredentialRetrievalError::HelperFailure { helper, stdout, .. }) => {
            if stdout.to_ascii_lowercase().contains("credentials not found") {
                Ok(None)
            } else {
                Err(fail(format!("the credential helper {helper} failed")))
            }
        }
        Err(CredentialRetrievalError::HelperCommunicationError) => {
            Err(fail("the credential helper could not be run (is docker-credential-NAME on PATH?)".into()))
        }
        Err(other) => Err(fail(other.to_string())),
    }
}

/// A privileged process reads only an auth file that it or root owns and others cannot
/// write: the file names programs it runs (credential helpers).
fn trusted_by_a_privileged_process(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(file).map_err(|e| e.to_string())?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!("owned by uid {}, not this user or root: not read by a privileged process", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err("writable by others: not read by a privileged process".into());
    }
    Ok(())
}

/// The helpers a config names become `docker-credential-NAME` commands: a name with a
/// `/` or anything unusual would run a program of someone's choosing.
fn helper_names_are_plain(text: &[u8]) -> Result<(), String> {
    let config: serde_json::Value = serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut names: Vec<&str> = config.get("credsStore").and_then(|v| v.as_str()).into_iter().collect();
    if let Some(helpers) = config.get("credHelpers").and_then(|v| v.as_object()) {
        names.extend(helpers.values().filter_map(|v| v.as_str()));
    }
    for name in names {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(format!("the credential helper name {name:?} is not a plain name"));
        }
    }
    Ok(())
}

/// Stores `username` and `password` for `registry` in `file` as Docker does (`auths`, the
/// pair in base64), keeping everything else the file holds; the file is 0600.
pub fn login(file: &Path, registry: &str, username: &str, password: &str) -> Result<(), CredentialError> {
    edit(file, |auths| {
        let encoded = BASE64.encode(format!("{username}:{password}"));
        auths.insert(registry.to_string(), serde_json::json!({ "auth": encoded }));
        true
    })
    .map(|_| ())
}

/// Forgets what `file` stores for `registry`; whether there was anything.
pub fn logout(file: &Path, registry: &str) -> Result<bool, CredentialError> {
    if !file.exists() {
        return Ok(false);
    }
    edit(file, |auths| auths.remove(registry).is_some())
}

fn edit(
    file: &Path,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>) -> bool,
) -> Result<bool, CredentialError> {
    let fail = |why: String| CredentialError::Write { file: file.into(), why };
    let mut config: serde_json::Value = match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| fail(format!("not JSON: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(fail(e.to_string())),
    };
    let object = config.as_object_mut().ok_or_else(|| fail("not a JSON object".into()))?;
    let auths = object.entry("auths").or_insert_with(|| serde_json::json!({}));
    let auths = auths.as_object_mut().ok_or_else(|| fail("`auths` is not an object".into()))?;
    let changed = change(auths);
    if changed {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let text = serde_json::to_vec_pretty(&config).expect("JSON serialises");
        atomic_file::replace(file, &text, 0o600).map_err(|e| fail(e.to_string()))?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_read_back_and_a_logout_forgets_it_keeping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker/config.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, r#"{"auths":{"other.example":{"auth":"dTpw"}},"credHelpers":{"gcr.io":"gcloud"}}"#)
            .unwrap();
        login(&file, "127.0.0.1:5000", "ci", "s3cret:with colon").unwrap();
        let credential = credential_for("127.0.0.1:5000", Some(&file)).unwrap();
        assert_eq!(credential, Some(Credential::Basic { username: "ci".into(), password: "s3cret:with colon".into() }));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(logout(&file, "127.0.0.1:5000").unwrap());
        assert!(!logout(&file, "127.0.0.1:5000").unwrap());
        assert_eq!(credential_for("127.0.0.1:5000", Some(&file)).unwrap(), None);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("other.example") && text.contains("gcloud"), "{text}");
    }

    #[test]
    fn a_helper_name_that_is_a_path_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, r#"{"credHelpers":{"r.example":"../../tmp/evil"}}"#).unwrap();
        let error = credential_for("r.example", Some(&file)).unwrap_err().to_string();
        assert!(error.contains("not a plain name"), "{error}");
    }

    #[test]
    fn no_file_or_no_entry_is_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(credential_for("r.example", Some(&dir.path().join("none.json"))).unwrap(), None);
        assert_eq!(credential_for("r.example", None).unwrap(), None);
    }

    #[test]
    fn a_secret_never_shows_in_debug_or_errors() {
        let credential = Credential::Basic { username: "ci".into(), password: "hunter2".into() };
        assert!(!format!("{credential:?}").contains("hunter2"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, r#"{"auths":{"r.example":{"auth":"!!notbase64hunter2"}}}"#).unwrap();
        let error = credential_for("r.example", Some(&file)).unwrap_err().to_string();
        assert!(error.contains("r.example") && !error.contains("hunter2"), "{error}");
    }
}
