//! Where `fwctl-run NAME` looks for a plugin.
//!
//! A name containing a `/` is a path and is used as given. A bare name (`mlx5-diag.wasm`,
//! or `mlx5-diag` with `.wasm` implied) is looked up in each directory of the plugin path,
//! then in the current directory (with a warning). The plugin path is
//! [`crate::paths::plugin_dirs`]; a privileged process (root, or set-uid) searches neither
//! the working directory nor anything derived from `HOME`/`XDG_*`: under `sudo` those are
//! another user's, who could have put a file of the expected name there.

use std::path::{Path, PathBuf};

use super::LoadError;

/// The directories searched for bare plugin names, in order, then the working directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginSearchPath {
    dirs: Vec<PathBuf>,
    cwd: Option<PathBuf>,
}

impl PluginSearchPath {
    /// The documented search path, from the environment.
    pub fn from_env() -> Self {
        Self { dirs: crate::paths::plugin_dirs(), cwd: crate::paths::plugin_fallback_dir() }
    }

    /// An explicit list (for tests and embedding), then `cwd` if given.
    pub fn new(dirs: Vec<PathBuf>, cwd: Option<PathBuf>) -> Self {
        Self { dirs, cwd }
    }

    /// The plugin directories, where plugins are installed (without the working directory).
    pub fn plugin_dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(PathBuf::as_path)
    }

    /// The directories, in search order (the working directory last).
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(PathBuf::as_path).chain(self.cwd.as_deref())
    }

    /// The installed plugins: every `*.wasm` file in the plugin directories (not the
    /// working directory), the first of each file name winning as for [`Self::resolve`],
    /// sorted by file name.
    pub fn installed(&self) -> Vec<PathBuf> {
        let mut found: std::collections::BTreeMap<std::ffi::OsString, PathBuf> = Default::default();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for path in entries.flatten().map(|e| e.path()) {
                if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
                    let name = path.file_name().expect("a file has a name").to_owned();
                    found.entry(name).or_insert(path);
                }
            }
        }
        found.into_values().collect()
    }

    /// Finds the file a plugin name stands for.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, LoadError> {
        if name.contains('/') {
            return Ok(PathBuf::from(name));
        }
        let file = if name.ends_with(".wasm") { name.to_string() } else { format!("{name}.wasm") };
        let mut searched = Vec::new();
        for dir in self.dirs() {
            let candidate = dir.join(&file);
            if candidate.is_file() {
                if self.cwd.as_deref() == Some(dir) {
                    eprintln!(
                        "fwctl-run: warning: {name} found in the working directory, not in a plugin directory; \
                         pass ./{file} to mean it"
                    );
                }
                return Ok(candidate);
            }
            searched.push(candidate);
        }
        Err(LoadError::NotFound { name: name.to_string(), searched })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_search_the_plugin_dirs_before_the_working_directory() {
        let plugins = tempfile::tempdir().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(cwd.path().join("diag.wasm"), b"cwd").unwrap();
        let search = PluginSearchPath::new(vec![plugins.path().into()], Some(cwd.path().into()));
        assert_eq!(search.resolve("diag.wasm").unwrap(), cwd.path().join("diag.wasm"));

        std::fs::write(plugins.path().join("diag.wasm"), b"dir").unwrap();
        assert_eq!(search.resolve("diag.wasm").unwrap(), plugins.path().join("diag.wasm"));
        assert_eq!(search.resolve("diag").unwrap(), plugins.path().join("diag.wasm"), ".wasm is implied");
    }

    #[test]
    fn installed_plugins_are_the_wasm_files_of_the_plugin_dirs_first_name_wins() {
        let (first, second, cwd) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(first.path().join("b.wasm"), b"1").unwrap();
        std::fs::write(second.path().join("b.wasm"), b"2").unwrap();
        std::fs::write(second.path().join("a.wasm"), b"2").unwrap();
        std::fs::write(second.path().join("notes.txt"), b"").unwrap();
        std::fs::write(cwd.path().join("c.wasm"), b"").unwrap();
        let search = PluginSearchPath::new(
            vec![first.path().into(), second.path().into(), "/nonexistent".into()],
            Some(cwd.path().into()),
        );
        assert_eq!(search.installed(), vec![second.path().join("a.wasm"), first.path().join("b.wasm")]);
    }

    #[test]
    fn paths_are_taken_as_given_and_misses_list_every_place_tried() {
        let dir = tempfile::tempdir().unwrap();
        let search = PluginSearchPath::new(vec![dir.path().into()], None);
        assert_eq!(search.resolve("./x/y.wasm").unwrap(), PathBuf::from("./x/y.wasm"));
        match search.resolve("missing") {
            Err(LoadError::NotFound { name, searched }) => {
                assert_eq!(name, "missing");
                assert_eq!(searched, vec![dir.path().join("missing.wasm")]);
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
}
