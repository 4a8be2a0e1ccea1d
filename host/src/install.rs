//! Installed plugins: a component in a plugin directory, where `fleet`, `npd` and `serve`
//! find it, beside a small record of where it came from (`NAME.install.toml`).
//!
//! Installing is the end of the flow load → verify → grant: only an admitted plugin is
//! installed, under its manifest name, so the file a run later loads is the one whose
//! grant the operator saw. The record is information, not trust: every run verifies the
//! file again against the trust store, whatever the record says.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::plugin::PluginSearchPath;

/// Where a plugin came from and what was installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InstallRecord {
    /// Manifest name (the file is `NAME.wasm`).
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// What the operator named: a file, or `oci://REGISTRY/REPO:TAG` / `@sha256:…`.
    pub source: String,
    /// The registry manifest's digest, for a plugin from a registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// `sha256:…` of the component installed.
    pub sha256: String,
    /// Who signed it, as verified at install (`None`: unsigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// When, RFC 3339.
    pub installed_at: String,
}

impl InstallRecord {
    /// Whether an update should resolve `source` again: a registry tag, not a digest or a
    /// file.
    pub fn follows_a_tag(&self) -> bool {
        self.source.starts_with("oci://") && !self.source.contains("@sha256:")
    }
}

/// Why installing or removing failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A manifest name that cannot be a file name.
    #[error("the plugin's name {0:?} cannot name a file (letters, digits, `.`, `_`, `-`, not starting with `.`)")]
    Name(String),
    /// No directory to install into.
    #[error("no plugin directory to install into: give --dir, or set $FWCTL_RUN_PLUGIN_PATH")]
    NoDirectory,
    /// A file could not be written or removed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No installed plugin by that name.
    #[error("no plugin `{name}` is installed in {}", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotInstalled {
        /// The name asked for.
        name: String,
        /// The directories looked in.
        searched: Vec<PathBuf>,
    },
    /// A record that does not parse.
    #[error("the install record {path}: {message}")]
    Record {
        /// The record.
        path: PathBuf,
        /// The parser's words.
        message: String,
    },
}

/// One installed plugin file, with its record when it has one (a plugin put there by a
/// package or by hand has none).
#[derive(Clone, Debug)]
pub struct Installed {
    /// The component.
    pub path: PathBuf,
    /// Where it came from, if recorded.
    pub record: Option<Result<InstallRecord, String>>,
}

/// The directory `plugin install` writes to: `explicit`, else the first plugin directory
/// of the search path (the user's for a user, `/usr/local/lib/fwctl-run/plugins` for
/// root; `/usr/lib/...` belongs to the package manager).
pub fn install_dir(explicit: Option<&Path>, search: &PluginSearchPath) -> Result<PathBuf, InstallError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    search.plugin_dirs().next().map(Path::to_path_buf).ok_or(InstallError::NoDirectory)
}

/// The file name a manifest name installs as.
pub fn file_name(name: &str) -> Result<String, InstallError> {
    let safe = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if safe { Ok(format!("{name}.wasm")) } else { Err(InstallError::Name(name.to_string())) }
}

/// The record beside `wasm`.
pub fn record_path(wasm: &Path) -> PathBuf {
    wasm.with_extension("install.toml")
}

/// Writes `component` as `dir/NAME.wasm` (with its detached signature as `NAME.wasm.sig`
/// when it has one, and without a stale one when it has none) and its record, each
/// replaced whole (a crash leaves the old plugin or the new one, never half of one).
pub fn install(
    dir: &Path,
    component: &[u8],
    detached_signature: Option<&[u8]>,
    record: &InstallRecord,
) -> Result<PathBuf, InstallError> {
    let path = dir.join(file_name(&record.name)?);
    std::fs::create_dir_all(dir).map_err(|source| InstallError::Io {
        action: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let text = toml::to_string(record).expect("a record serialises");
    let signature = crate::signing::detached_signature_path(&path);
    match detached_signature {
        Some(bytes) => atomic_file::replace(&signature, bytes, 0o644).map_err(|e| InstallError::Io {
            action: "writing",
            path: signature.clone(),
            source: std::io::Error::other(e),
        })?,
        None => remove_if_present(&signature)?,
    }
    // The component before its record: a record never names a file that is not there.
    atomic_file::replace(&path, component, 0o644).map_err(|e| InstallError::Io {
        action: "writing",
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let record_file = record_path(&path);
    atomic_file::replace(&record_file, text.as_bytes(), 0o644).map_err(|e| InstallError::Io {
        action: "writing",
        path: record_file,
        source: std::io::Error::other(e),
    })?;
    Ok(path)
}

/// Reads the record beside `wasm`, if there is one.
pub fn read_record(wasm: &Path) -> Option<Result<InstallRecord, String>> {
    let path = record_path(wasm);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("{}: {e}", path.display()))),
    };
    Some(toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())))
}

/// Every installed plugin of `search`'s directories (the first of a file name wins, as
/// runs pick it).
pub fn installed(search: &PluginSearchPath) -> Vec<Installed> {
    search.installed().into_iter().map(|path| Installed { record: read_record(&path), path }).collect()
}

/// The installed plugin `name` (a manifest name: its file is `NAME.wasm`).
pub fn find(search: &PluginSearchPath, name: &str) -> Result<Installed, InstallError> {
    let file = file_name(name)?;
    installed(search).into_iter().find(|i| i.path.file_name().is_some_and(|f| f == file.as_str())).ok_or_else(|| {
        InstallError::NotInstalled {
            name: name.to_string(),
            searched: search.plugin_dirs().map(Path::to_path_buf).collect(),
        }
    })
}

/// Removes an installed plugin, its detached signature and its record.
pub fn remove(installed: &Installed) -> Result<(), InstallError> {
    std::fs::remove_file(&installed.path).map_err(|source| InstallError::Io {
        action: "removing",
        path: installed.path.clone(),
        source,
    })?;
    remove_if_present(&crate::signing::detached_signature_path(&installed.path))?;
    remove_if_present(&record_path(&installed.path))
}

fn remove_if_present(path: &Path) -> Result<(), InstallError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(InstallError::Io { action: "removing", path: path.to_path_buf(), source: e })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, source: &str) -> InstallRecord {
        InstallRecord {
            name: name.into(),
            version: "0.1.0".into(),
            source: source.into(),
            manifest: None,
            sha256: "sha256:00".into(),
            signer: Some("acme".into()),
            installed_at: "2026-11-30T12:00:00Z".into(),
        }
    }

    #[test]
    fn a_name_that_could_leave_the_directory_is_refused() {
        for name in ["../etc/passwd", "a/b", ".hidden", "", "name with space", "x\n"] {
            assert!(matches!(file_name(name), Err(InstallError::Name(_))), "{name:?}");
        }
        assert_eq!(file_name("mlx5-diag").unwrap(), "mlx5-diag.wasm");
    }

    #[test]
    fn an_installed_plugin_is_found_with_its_record_and_removed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let search = PluginSearchPath::new(vec![dir.path().into()], None);
        std::fs::write(dir.path().join("diag.wasm.sig"), b"stale").unwrap();
        let path = install(dir.path(), b"\0asm", None, &record("diag", "oci://r.example/diag:1")).unwrap();
        assert!(!dir.path().join("diag.wasm.sig").exists(), "a stale detached signature does not stay");
        assert_eq!(path, dir.path().join("diag.wasm"));
        let found = find(&search, "diag").unwrap();
        assert_eq!(found.record.unwrap().unwrap(), record("diag", "oci://r.example/diag:1"));
        remove(&find(&search, "diag").unwrap()).unwrap();
        assert!(matches!(find(&search, "diag"), Err(InstallError::NotInstalled { .. })));
        assert!(!record_path(&path).exists());
    }

    #[test]
    fn only_a_registry_tag_is_followed_by_update() {
        assert!(record("d", "oci://r.example/diag:1").follows_a_tag());
        assert!(!record("d", "oci://r.example/diag@sha256:ab").follows_a_tag());
        assert!(!record("d", "/tmp/diag.wasm").follows_a_tag());
    }

    #[test]
    fn a_damaged_record_is_reported_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("diag.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.path().join("diag.install.toml"), "name = 3").unwrap();
        let search = PluginSearchPath::new(vec![dir.path().into()], None);
        assert!(find(&search, "diag").unwrap().record.unwrap().is_err());
    }
}
