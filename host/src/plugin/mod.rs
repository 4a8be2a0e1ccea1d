//! Loading a plugin: find the file, read it, check that it is a WebAssembly component,
//! and read the manifest it carries. Nothing here runs plugin code.

mod embed;
mod locate;
mod manifest;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use self::embed::{EmbedError, set_manifest};
pub use self::locate::PluginSearchPath;
pub use self::manifest::{ANY_FEATURE, DeviceRequest, MANIFEST_SECTION, Manifest, ManifestError, RequestedLimits};

/// A plugin file, read and checked, with its manifest.
#[derive(Clone, Debug)]
pub struct Plugin {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes, exactly as read (what the sandbox compiles and the digest covers).
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// What it declares about itself.
    pub manifest: Manifest,
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A bare name was not found in the plugin path or the current directory.
    #[error("plugin `{name}` not found; looked in: {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// What the user typed.
        name: String,
        /// Every file tried, in order.
        searched: Vec<PathBuf>,
    },
    /// The file could not be read.
    #[error("cannot read plugin {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with the WebAssembly magic number.
    #[error("{} is not a WebAssembly file (no \\0asm header)", path.display())]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file is a core module; plugins must be components.
    #[error(
        "{} is a core WebAssembly module, not a component; build plugins for wasm32-wasip2 (or wrap the module with `wasm-tools component new`)",
        path.display()
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The binary is malformed.
    #[error("{} is not a valid WebAssembly component: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The manifest section is missing or invalid.
    #[error("{}: {source}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What was wrong with the manifest.
        source: ManifestError,
    },
}

impl Plugin {
    /// Resolves `name` with `search`, then [`Plugin::load`]s it.
    pub fn find(name: &str, search: &PluginSearchPath) -> Result<Self, LoadError> {
        Self::load(&search.resolve(name)?)
    }

    /// Reads and checks a plugin file.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
        Self::from_bytes(path, bytes)
    }

    /// Checks plugin bytes that came from `path`.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, LoadError> {
        let path = path.to_owned();
        if !wasmparser::Parser::is_component(&bytes) {
            return Err(if wasmparser::Parser::is_core_wasm(&bytes) {
                LoadError::CoreModule { path }
            } else {
                LoadError::NotWasm { path }
            });
        }
        let section =
            manifest::find_section(&bytes).map_err(|reason| LoadError::Malformed { path: path.clone(), reason })?;
        let manifest = Manifest::from_section(section.as_deref())
            .map_err(|source| LoadError::Manifest { path: path.clone(), source })?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        Ok(Self { path, bytes, digest, manifest })
    }
}
