//! Loading a plugin: find the file, read it, check that it is a WebAssembly component,
//! and read the manifest it carries. Nothing here runs plugin code.

mod digests;
mod embed;
mod locate;
mod manifest;
pub mod sections;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

pub use self::embed::{EmbedError, set_manifest};
pub use self::locate::PluginSearchPath;
pub use self::manifest::{ANY_FEATURE, DeviceRequest, MANIFEST_SECTION, Manifest, ManifestError, RequestedLimits};
use self::sections::SignedContent;

/// From this size on, a component that carries a signature has its file digest and its
/// signed content hashed side by side on two threads ([`digests`]); below it, starting a
/// thread costs about what it saves.
const HASH_IN_PARALLEL_FROM: usize = 256 << 10;

/// A plugin file, read and checked, with its manifest.
#[derive(Clone, Debug)]
pub struct Plugin {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes, exactly as read (what the sandbox compiles and the digest covers);
    /// shared, so that a hashing helper never has to be waited for.
    pub bytes: Arc<Vec<u8>>,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// What it declares about itself.
    pub manifest: Manifest,
    /// The SHA-256 of the bytes, as bytes (the compile cache's key).
    sha256: [u8; 32],
    /// The sections a signature covers and their hashes: computed at load for a signed
    /// component, on first use otherwise (an unsigned plugin with no `.sig` never needs it).
    signed_content: OnceLock<Result<SignedContent, String>>,
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
        let bytes = Arc::new(bytes);
        if !wasmparser::Parser::is_component(&bytes) {
            return Err(if wasmparser::Parser::is_core_wasm(&bytes) {
                LoadError::CoreModule { path }
            } else {
                LoadError::NotWasm { path }
            });
        }
        let read_manifest = || -> Result<Manifest, LoadError> {
            let section =
                manifest::find_section(&bytes).map_err(|reason| LoadError::Malformed { path: path.clone(), reason })?;
            Manifest::from_section(section.as_deref())
                .map_err(|source| LoadError::Manifest { path: path.clone(), source })
        };
        let signed_content = OnceLock::new();
        let (manifest, sha256) = if bytes.len() >= HASH_IN_PARALLEL_FROM && sections::starts_with_signature(&bytes) {
            // Read here while the hashing helper starts.
            let (manifest, sha256, content) = digests::file_and_content(&bytes, read_manifest);
            let _ = signed_content.set(content);
            (manifest?, sha256)
        } else {
            (read_manifest()?, Sha256::digest(bytes.as_slice()).into())
        };
        let digest = format!("sha256:{}", hex::encode(sha256));
        Ok(Self { path, bytes, digest, manifest, sha256, signed_content })
    }

    /// The SHA-256 of the plugin's bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The component's sections and the hashes a signature over them records; an error
    /// says where the component cannot be read as sections.
    pub fn signed_content(&self) -> Result<&SignedContent, String> {
        self.signed_content.get_or_init(|| SignedContent::read(&self.bytes)).as_ref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component of `size` bytes or more: a manifest and a padding custom section.
    fn component(size: usize) -> Vec<u8> {
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        let manifest = b"manifest-version = 1\nname = \"big\"\nversion = \"1.0.0\"\nvendor = \"Example\"\n[devices.mlx5]\nscope = \"debug-read-only\"\n";
        for (name, data) in [(MANIFEST_SECTION.as_bytes(), &manifest[..]), (b"padding", &vec![0xa5; size][..])] {
            let mut payload = vec![name.len() as u8];
            payload.extend_from_slice(name);
            payload.extend_from_slice(data);
            bytes.push(0);
            sections::put_leb128(&mut bytes, payload.len() as u64);
            bytes.extend(payload);
        }
        bytes
    }

    #[test]
    fn a_large_signed_component_hashed_on_two_threads_gets_the_hashes_of_one() {
        let key = wasmsign2::KeyPair::generate();
        let (signed, _) =
            crate::signing::sign(&component(HASH_IN_PARALLEL_FROM), &key.sk, crate::signing::SignatureLayout::Embedded)
                .unwrap();
        assert!(sections::starts_with_signature(&signed));
        let plugin = Plugin::from_bytes(Path::new("big.wasm"), signed.clone()).unwrap();
        // Filled at load, not on first use.
        assert!(plugin.signed_content.get().is_some());
        assert_eq!(plugin.signed_content().unwrap(), &SignedContent::read(&signed).unwrap());
        assert_eq!(plugin.digest, format!("sha256:{}", hex::encode(Sha256::digest(&signed))));
        assert_eq!(plugin.sha256(), <[u8; 32]>::from(Sha256::digest(&signed)));
    }

    #[test]
    fn an_unsigned_component_reads_its_sections_only_when_asked() {
        let plugin = Plugin::from_bytes(Path::new("big.wasm"), component(HASH_IN_PARALLEL_FROM)).unwrap();
        assert!(plugin.signed_content.get().is_none());
        assert_eq!(plugin.signed_content().unwrap().sections.len(), 2);
    }
}
