//! `fwctl-run manifest set`: puts a manifest into a component, replacing any it carried.
//!
//! Every `fwctl-manifest` section is removed, at the top level and inside nested core
//! modules (where the SDK's macro puts it), and the new one is appended at the top
//! level, so the result carries exactly one. Any other byte is kept as it was. A plugin
//! rewritten this way is a different file: a signature made before no longer covers it
//! and it must be signed again.

use wasm_encoder::{Component, CustomSection, Module, RawSection};
use wasmparser::{Chunk, Parser, Payload};

use super::manifest::{MANIFEST_SECTION, Manifest, ManifestError};

/// Why a manifest could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The manifest itself is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The file is not a component.
    #[error("not a WebAssembly component (embed manifests into components, after `wasm-tools component new`)")]
    NotComponent,
    /// The component is malformed.
    #[error("malformed component: {0}")]
    Malformed(String),
}

/// Returns `component` with `manifest` (TOML, checked first) as its only manifest.
pub fn set_manifest(component: &[u8], manifest: &str) -> Result<Vec<u8>, EmbedError> {
    Manifest::from_toml(manifest)?;
    if !Parser::is_component(component) {
        return Err(EmbedError::NotComponent);
    }
    let mut out = rewrite_component(component)?;
    out.section(&CustomSection { name: MANIFEST_SECTION.into(), data: manifest.as_bytes().into() });
    Ok(out.finish())
}

fn malformed(e: impl ToString) -> EmbedError {
    EmbedError::Malformed(e.to_string())
}

/// Copies a component's sections, minus manifests, rewriting nested modules and
/// components the same way.
fn rewrite_component(bytes: &[u8]) -> Result<Component, EmbedError> {
    let mut out = Component::new();
    let mut parser = Parser::new(0);
    let mut offset = 0;
    loop {
        let (payload, consumed) = match parser.parse(&bytes[offset..], true).map_err(malformed)? {
            Chunk::NeedMoreData(_) => return Err(malformed("truncated")),
            Chunk::Parsed { payload, consumed } => (payload, consumed),
        };
        offset += consumed;
        match payload {
            Payload::End(_) => return Ok(out),
            Payload::CustomSection(c) if c.name() == MANIFEST_SECTION => {}
            Payload::ModuleSection { unchecked_range, .. } => {
                let module = rewrite_module(&bytes[unchecked_range.clone()])?;
                out.section(&wasm_encoder::ModuleSection(&module));
                // The outer parser resumes after the nested binary, which it did not read.
                offset += unchecked_range.len();
            }
            Payload::ComponentSection { unchecked_range, .. } => {
                let nested = rewrite_component(&bytes[unchecked_range.clone()])?;
                out.section(&wasm_encoder::NestedComponentSection(&nested));
                offset += unchecked_range.len();
            }
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&RawSection { id, data: &bytes[range] });
                }
            }
        }
    }
}

/// Copies a core module's sections, minus manifests.
fn rewrite_module(bytes: &[u8]) -> Result<Module, EmbedError> {
    let mut out = Module::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::CustomSection(c) if c.name() == MANIFEST_SECTION => {}
            // Function bodies belong to the code section copied whole at its start.
            Payload::CodeSectionEntry(_) => {}
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&RawSection { id, data: &bytes[range] });
                }
            }
        }
    }
    Ok(out)
}
