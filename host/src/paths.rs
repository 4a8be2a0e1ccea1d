//! Every place fwctl-run reads or writes by default, and every `FWCTL_RUN_*` variable that
//! moves one. The defaults the README and docs/ state are checked against this module by a
//! test.
//!
//! One rule runs through all of them: a **privileged** process (root, or set-uid) derives
//! nothing from `HOME`, `XDG_*` or the working directory. Under `sudo -E` those belong to
//! the user who ran it, who could have prepared whatever is found there. Root uses the
//! system locations below instead; a set-uid process that is not root has none of its own,
//! so it gets no compile cache and must be told where its audit log and store are.
//! The `FWCTL_RUN_*` variables are obeyed in every case: they are how a service unit or
//! a container says where things go, and whoever sets a privileged process's environment
//! already decides what it runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Replaces the default plugin directories (colon-separated).
pub const PLUGIN_PATH_ENV: &str = "FWCTL_RUN_PLUGIN_PATH";
/// Moves the audit log.
pub const AUDIT_ENV: &str = "FWCTL_RUN_AUDIT";
/// Moves the compile cache.
pub const CACHE_ENV: &str = "FWCTL_RUN_CACHE_DIR";
/// Moves the content-addressed store of registry plugins.
pub const STORE_ENV: &str = "FWCTL_RUN_STORE";
/// Moves the lock file of pulled tags.
pub const LOCK_ENV: &str = "FWCTL_RUN_LOCK";
/// Moves the directory of plugin state kept between runs.
pub const STATE_ENV: &str = "FWCTL_RUN_STATE_DIR";
/// How long one registry operation may take, in seconds.
pub const REGISTRY_TIMEOUT_ENV: &str = "FWCTL_RUN_REGISTRY_TIMEOUT_SECS";

/// The operator's policy, when present (else the built-in one).
pub const POLICY_FILE: &str = "/etc/fwctl-run/policy.toml";
/// The operator's trust store, when it holds a `trust.toml` (else none: no key is trusted).
pub const TRUST_DIR: &str = "/etc/fwctl-run/trust";
/// Plugin directories every process searches, after the user's own.
pub const SYSTEM_PLUGIN_DIRS: [&str; 2] = ["/usr/local/lib/fwctl-run/plugins", "/usr/lib/fwctl-run/plugins"];
/// Root's audit log.
pub const SYSTEM_AUDIT_LOG: &str = "/var/log/fwctl-run/audit.jsonl";
/// Root's compile cache.
pub const SYSTEM_CACHE_DIR: &str = "/var/cache/fwctl-run";
/// Root's store of registry plugins.
pub const SYSTEM_STORE_DIR: &str = "/var/lib/fwctl-run/store";
/// Root's plugin state (what plugins keep between runs on a device).
pub const SYSTEM_STATE_DIR: &str = "/var/lib/fwctl-run/state";
/// The registry deadline without [`REGISTRY_TIMEOUT_ENV`].
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether this process is privileged: root, or set-uid (effective and real uid differ).
pub fn privileged() -> bool {
    let euid = nix::unistd::geteuid();
    euid.is_root() || euid != nix::unistd::getuid()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `$XDG_<kind>_HOME`, else `~/<fallback>`, for an unprivileged process only.
fn user_dir(xdg: &str, fallback: &str) -> Option<PathBuf> {
    if privileged() {
        return None;
    }
    env_path(xdg).or_else(|| env_path("HOME").map(|home| home.join(fallback)))
}

/// The plugin directories: `$FWCTL_RUN_PLUGIN_PATH` when set, else the user's
/// (`$XDG_DATA_HOME/fwctl-run/plugins`, by default `~/.local/share/fwctl-run/plugins`;
/// not for a privileged process) and then [`SYSTEM_PLUGIN_DIRS`].
pub fn plugin_dirs() -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os(PLUGIN_PATH_ENV) {
        return std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect();
    }
    let mut dirs: Vec<PathBuf> =
        user_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("fwctl-run/plugins")).into_iter().collect();
    dirs.extend(SYSTEM_PLUGIN_DIRS.iter().map(PathBuf::from));
    dirs
}

/// Where a bare plugin name is tried last: the working directory, for an unprivileged
/// process only.
pub fn plugin_fallback_dir() -> Option<PathBuf> {
    if privileged() { None } else { std::env::current_dir().ok() }
}

/// The audit log: `$FWCTL_RUN_AUDIT`, else [`SYSTEM_AUDIT_LOG`] for root, else
/// `$XDG_STATE_HOME/fwctl-run/audit.jsonl` (by default `~/.local/state/…`). Never a shared
/// directory such as `$TMPDIR`, where another user could have placed the file first.
pub fn audit_log() -> Result<PathBuf, MissingDefault> {
    if let Some(path) = env_path(AUDIT_ENV) {
        return Ok(path);
    }
    if is_root() {
        return Ok(PathBuf::from(SYSTEM_AUDIT_LOG));
    }
    user_dir("XDG_STATE_HOME", ".local/state").map(|d| d.join("fwctl-run/audit.jsonl")).ok_or(MissingDefault {
        what: "audit log",
        flag: "--audit",
        env: AUDIT_ENV,
    })
}

/// The compile cache: `$FWCTL_RUN_CACHE_DIR`, else [`SYSTEM_CACHE_DIR`] for root, else
/// `$XDG_CACHE_HOME/fwctl-run` (by default `~/.cache/fwctl-run`); none for a set-uid
/// process (the cache itself refuses a directory another user owns or can write).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = env_path(CACHE_ENV) {
        return Some(dir);
    }
    if is_root() {
        return Some(PathBuf::from(SYSTEM_CACHE_DIR));
    }
    user_dir("XDG_CACHE_HOME", ".cache").map(|d| d.join("fwctl-run"))
}

/// The store of registry plugins: `$FWCTL_RUN_STORE`, else [`SYSTEM_STORE_DIR`] for root,
/// else `$XDG_DATA_HOME/fwctl-run/store` (by default `~/.local/share/fwctl-run/store`).
pub fn store_dir() -> Result<PathBuf, MissingDefault> {
    if let Some(dir) = env_path(STORE_ENV) {
        return Ok(dir);
    }
    if is_root() {
        return Ok(PathBuf::from(SYSTEM_STORE_DIR));
    }
    user_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("fwctl-run/store")).ok_or(MissingDefault {
        what: "plugin store",
        flag: "--store",
        env: STORE_ENV,
    })
}

/// Plugin state: `$FWCTL_RUN_STATE_DIR`, else [`SYSTEM_STATE_DIR`] for root, else
/// `$XDG_STATE_HOME/fwctl-run/state` (by default `~/.local/state/fwctl-run/state`).
pub fn state_dir() -> Result<PathBuf, MissingDefault> {
    if let Some(dir) = env_path(STATE_ENV) {
        return Ok(dir);
    }
    if is_root() {
        return Ok(PathBuf::from(SYSTEM_STATE_DIR));
    }
    user_dir("XDG_STATE_HOME", ".local/state").map(|d| d.join("fwctl-run/state")).ok_or(MissingDefault {
        what: "plugin state directory",
        flag: "--state-dir",
        env: STATE_ENV,
    })
}

/// The lock file of pulled tags: `$FWCTL_RUN_LOCK`, else `plugins.lock` beside `store`.
pub fn lock_file(store: &Path) -> PathBuf {
    env_path(LOCK_ENV).unwrap_or_else(|| store.parent().unwrap_or(store).join("plugins.lock"))
}

/// How long one registry operation may take: `$FWCTL_RUN_REGISTRY_TIMEOUT_SECS`, else
/// [`DEFAULT_REGISTRY_TIMEOUT`].
pub fn registry_timeout() -> Result<Duration, String> {
    match std::env::var(REGISTRY_TIMEOUT_ENV) {
        Err(_) => Ok(DEFAULT_REGISTRY_TIMEOUT),
        Ok(text) => text
            .parse()
            .ok()
            .filter(|&secs| secs > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{REGISTRY_TIMEOUT_ENV} is `{text}`, not a whole number of seconds above 0")),
    }
}

/// A location with no default for this process (a set-uid process, or one without
/// `HOME`): the operator names it.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("no default {what} for this process (privileged, or no HOME); pass {flag} or set {env}")]
pub struct MissingDefault {
    what: &'static str,
    flag: &'static str,
    env: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README and the pages under docs/ state each default; these are the words they
    /// must contain.
    #[test]
    fn the_docs_state_every_default_as_this_module_defines_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for page in std::fs::read_dir(root.join("docs")).unwrap() {
            readme.push_str(&std::fs::read_to_string(page.unwrap().path()).unwrap());
        }
        let mut stated = vec![
            POLICY_FILE.to_string(),
            TRUST_DIR.to_string(),
            SYSTEM_AUDIT_LOG.to_string(),
            SYSTEM_CACHE_DIR.to_string(),
            SYSTEM_STORE_DIR.to_string(),
            SYSTEM_STATE_DIR.to_string(),
            "~/.local/state/fwctl-run/state".into(),
            "~/.local/share/fwctl-run/plugins".into(),
            "~/.local/state/fwctl-run/audit.jsonl".into(),
            "~/.cache/fwctl-run".into(),
            "~/.local/share/fwctl-run/store".into(),
            "`plugins.lock` beside the store".into(),
            format!("{} s", DEFAULT_REGISTRY_TIMEOUT.as_secs()),
        ];
        stated.extend(SYSTEM_PLUGIN_DIRS.iter().map(std::string::ToString::to_string));
        stated.extend(
            [PLUGIN_PATH_ENV, AUDIT_ENV, CACHE_ENV, STORE_ENV, LOCK_ENV, REGISTRY_TIMEOUT_ENV, STATE_ENV]
                .map(|e| format!("${e}")),
        );
        let missing: Vec<_> = stated.iter().filter(|s| !readme.contains(s.as_str())).collect();
        assert!(missing.is_empty(), "neither the README nor docs/ states: {missing:?}");
    }

    #[test]
    fn the_lock_file_sits_beside_the_store_unless_moved() {
        if std::env::var_os(LOCK_ENV).is_none() {
            assert_eq!(lock_file(Path::new("/srv/fwctl/store")), Path::new("/srv/fwctl/plugins.lock"));
        }
    }
}
