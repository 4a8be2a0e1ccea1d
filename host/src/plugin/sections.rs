//! A component's top-level sections, read in place, and the running SHA-256 that a
//! vendor signature covers.
//!
//! The convention is wasmsign2's (WebAssembly tool-conventions): every section but the
//! `signature` header is hashed in its canonical encoding, and the running hash is
//! recorded after each `signature_delimiter` section and at the end. Reading the sections
//! where they lie, rather than through `wasmsign2::Module`, hashes the 2 MiB of a large
//! component once without copying it, and lets the loader do it while another thread
//! computes the file's own digest.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// The name of the custom section that holds the signatures.
pub const SIGNATURE_SECTION: &str = "signature";
/// The name of the custom sections that close a separately hashed part.
pub const DELIMITER_SECTION: &str = "signature_delimiter";

/// The 8-byte preamble: magic and version (core module or component layer).
const PREAMBLE: usize = 8;

/// One top-level section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section id (0 for a custom section).
    pub id: u8,
    /// A custom section's name.
    pub name: Option<String>,
    /// The whole section in the file: id, size and contents.
    pub range: Range<usize>,
    /// What follows the size and, for a custom section, the name.
    pub data: Range<usize>,
}

impl Section {
    /// Whether this is the custom section `name`.
    pub fn is_custom(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
}

/// The sections of a component and the hashes a signature over them records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedContent {
    /// Every top-level section, in order.
    pub sections: Vec<Section>,
    /// For each delimiter section (by index in `sections`), the running hash through it.
    pub delimiter_hashes: Vec<(usize, [u8; 32])>,
    /// The running hash through the last section.
    pub end_hash: [u8; 32],
}

impl SignedContent {
    /// Reads the sections of `component` and hashes them. An error names the offset and
    /// what was wrong there; a component the reference verifier could not read is refused
    /// here too, so the two never judge different bytes.
    pub fn read(component: &[u8]) -> Result<Self, String> {
        Ok(ContentPass::new(component)?.finish())
    }
}

/// The running hash over a component's signed content, advanced a bounded number of
/// bytes at a time, so that the loader can take turns between it and the file's digest
/// until a second thread is there to take one of them.
pub struct ContentPass<'a> {
    component: &'a [u8],
    sections: Vec<Section>,
    hasher: Sha256,
    delimiter_hashes: Vec<(usize, [u8; 32])>,
    /// The section being hashed.
    section: usize,
    /// How far into the file its contents have been hashed: `None` until its canonical
    /// header has been.
    at: Option<usize>,
    /// Room for a canonical header, kept from section to section.
    header: Vec<u8>,
}

impl<'a> ContentPass<'a> {
    /// Reads the sections of `component` (an error names the offset and what was wrong
    /// there); nothing is hashed yet.
    pub fn new(component: &'a [u8]) -> Result<Self, String> {
        Ok(Self {
            component,
            sections: read_sections(component)?,
            hasher: Sha256::new(),
            delimiter_hashes: Vec::new(),
            section: 0,
            at: None,
            header: Vec::with_capacity(16),
        })
    }

    /// Hashes about `budget` more bytes of section contents (headers are not counted);
    /// `false` once everything is hashed.
    pub fn advance(&mut self, mut budget: usize) -> bool {
        while let Some(section) = self.sections.get(self.section) {
            if section.is_custom(SIGNATURE_SECTION) {
                self.section += 1;
                continue;
            }
            let at = match self.at {
                Some(at) => at,
                None => {
                    canonical_header(section, &mut self.header);
                    self.hasher.update(&self.header);
                    section.data.start
                }
            };
            if budget == 0 {
                self.at = Some(at);
                return true;
            }
            let end = section.data.end.min(at.saturating_add(budget));
            self.hasher.update(&self.component[at..end]);
            budget -= end - at;
            if end < section.data.end {
                self.at = Some(end);
                return true;
            }
            if section.is_custom(DELIMITER_SECTION) {
                self.delimiter_hashes.push((self.section, self.hasher.clone().finalize().into()));
            }
            self.section += 1;
            self.at = None;
        }
        false
    }

    /// Hashes what is left and returns the sections with their hashes.
    pub fn finish(mut self) -> SignedContent {
        self.advance(usize::MAX);
        let Self { sections, hasher, delimiter_hashes, .. } = self;
        SignedContent { sections, delimiter_hashes, end_hash: hasher.finalize().into() }
    }
}

/// A section's id, size and name in their canonical encoding, into `header`: what
/// wasmsign2 re-serialises before hashing. The same bytes as the file's for every encoder
/// that writes minimal LEB128 sizes.
fn canonical_header(section: &Section, header: &mut Vec<u8>) {
    header.clear();
    header.push(section.id);
    let data_len = section.data.len();
    match &section.name {
        Some(name) => {
            let name_len = leb128_len(name.len() as u64);
            put_leb128(header, (name_len + name.len() + data_len) as u64);
            put_leb128(header, name.len() as u64);
            header.extend_from_slice(name.as_bytes());
        }
        None => put_leb128(header, data_len as u64),
    }
}

/// How many bytes [`put_leb128`] writes for `value`.
fn leb128_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Whether `component`'s first section is the `signature` custom section (read from its
/// first few bytes only).
pub fn starts_with_signature(component: &[u8]) -> bool {
    let mut at = PREAMBLE;
    let first = (|| {
        let id = *component.get(at)?;
        at += 1;
        let _size = get_leb128_u32(component, &mut at).ok()?;
        let name_len = get_leb128_u32(component, &mut at).ok()? as usize;
        Some(id == 0 && component.get(at..at.checked_add(name_len)?)? == SIGNATURE_SECTION.as_bytes())
    })();
    first.unwrap_or(false)
}

fn read_sections(component: &[u8]) -> Result<Vec<Section>, String> {
    if component.len() < PREAMBLE {
        return Err("shorter than the 8-byte WebAssembly preamble".into());
    }
    let mut sections = Vec::new();
    let mut at = PREAMBLE;
    while at < component.len() {
        let start = at;
        let id = component[at];
        if id & 0x80 != 0 {
            return Err(format!("section id {id:#04x} at offset {start} is not a 7-bit id"));
        }
        at += 1;
        let size = get_leb128_u32(component, &mut at).map_err(|e| format!("section at offset {start}: size {e}"))?;
        let end = at
            .checked_add(size as usize)
            .filter(|&end| end <= component.len())
            .ok_or_else(|| format!("section at offset {start} declares {size} bytes, past the end of the file"))?;
        let (name, data_start) = if id == 0 {
            let mut name_at = at;
            let name_len = get_leb128_u32(&component[..end], &mut name_at)
                .map_err(|e| format!("custom section at offset {start}: name length {e}"))?
                as usize;
            let name_end = name_at
                .checked_add(name_len)
                .filter(|&e| e <= end)
                .ok_or_else(|| format!("custom section at offset {start}: its name runs past the section"))?;
            let name = std::str::from_utf8(&component[name_at..name_end])
                .map_err(|_| format!("custom section at offset {start}: its name is not UTF-8"))?;
            (Some(name.to_string()), name_end)
        } else {
            (None, at)
        };
        sections.push(Section { id, name, range: start..end, data: data_start..end });
        at = end;
    }
    Ok(sections)
}

/// An unsigned LEB128 of at most 5 bytes, read as the reference verifier reads it
/// (bits past 32 are dropped, a sixth byte is an error).
fn get_leb128_u32(bytes: &[u8], at: &mut usize) -> Result<u32, &'static str> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let byte = *bytes.get(*at).ok_or("runs past the end")?;
        *at += 1;
        value |= u32::from(byte & 0x7f).wrapping_shl(i * 7);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("is longer than 5 bytes")
}

/// Appends `value` as a minimal unsigned LEB128.
pub(crate) fn put_leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        out.push(if value == 0 { byte } else { byte | 0x80 });
        if value == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_len_is_what_put_leb128_writes() {
        for value in [0, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_leb128(&mut out, value);
            assert_eq!(leb128_len(value), out.len(), "{value}");
        }
    }

    const PREAMBLE_BYTES: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn custom(name: &str, data: &[u8]) -> Vec<u8> {
        let mut payload = vec![name.len() as u8];
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(data);
        let mut out = vec![0];
        put_leb128(&mut out, payload.len() as u64);
        out.extend(payload);
        out
    }

    /// The hashes wasmsign2 itself computes: deserialise, re-serialise, hash.
    fn reference_hashes(component: &[u8]) -> (Vec<[u8; 32]>, [u8; 32]) {
        let module = wasmsign2::Module::deserialize(&mut &component[..]).unwrap();
        let mut hasher = Sha256::new();
        let mut at_delimiters = Vec::new();
        for section in &module.sections {
            if section.is_signature_header() {
                continue;
            }
            let mut bytes = Vec::new();
            section.serialize(&mut bytes).unwrap();
            hasher.update(&bytes);
            if section.is_signature_delimiter() {
                at_delimiters.push(hasher.clone().finalize().into());
            }
        }
        (at_delimiters, hasher.finalize().into())
    }

    #[test]
    fn the_hashes_are_the_reference_verifiers_for_a_delimited_component() {
        let mut component = PREAMBLE_BYTES.to_vec();
        component.extend(custom(SIGNATURE_SECTION, b"not parsed here"));
        component.extend([1, 3, 0xaa, 0xbb, 0xcc]);
        component.extend(custom(DELIMITER_SECTION, &[7; 16]));
        component.extend(custom("fwctl-manifest", b"name = \"x\""));
        component.extend(custom(DELIMITER_SECTION, &[9; 16]));
        let content = SignedContent::read(&component).unwrap();
        let (delimiters, end) = reference_hashes(&component);
        assert_eq!(content.delimiter_hashes.iter().map(|(_, h)| *h).collect::<Vec<_>>(), delimiters);
        assert_eq!(content.end_hash, end);
        assert_eq!(content.sections.len(), 5);
        assert!(starts_with_signature(&component));
    }

    #[test]
    fn a_padded_size_is_hashed_in_its_canonical_form_as_the_reference_verifier_does() {
        let mut component = PREAMBLE_BYTES.to_vec();
        // A standard section whose size is padded to 5 bytes, and a custom section whose
        // name length is padded to 2.
        component.extend([1, 0x83, 0x80, 0x80, 0x80, 0x00, 1, 2, 3]);
        component.extend([0, 0x05, 0x81, 0x00, b'n', 0xee, 0xff]);
        let content = SignedContent::read(&component).unwrap();
        assert_eq!(content.end_hash, reference_hashes(&component).1);
        assert_eq!(content.sections[1].name.as_deref(), Some("n"));
        assert!(!starts_with_signature(&component));
    }

    #[test]
    fn a_section_that_runs_past_the_end_is_refused_with_its_offset() {
        let mut component = PREAMBLE_BYTES.to_vec();
        component.extend([1, 0x10, 0xaa]);
        let err = SignedContent::read(&component).unwrap_err();
        assert!(err.contains("offset 8") && err.contains("past the end"), "{err}");
    }

    #[test]
    fn a_custom_name_that_is_not_utf8_is_refused_as_the_reference_verifier_refuses_it() {
        let mut component = PREAMBLE_BYTES.to_vec();
        component.extend([0, 3, 2, 0xff, 0xfe]);
        assert!(SignedContent::read(&component).unwrap_err().contains("not UTF-8"));
        assert!(wasmsign2::Module::deserialize(&mut &component[..]).is_err());
    }

    #[test]
    fn a_size_longer_than_five_bytes_is_refused() {
        let mut component = PREAMBLE_BYTES.to_vec();
        component.extend([1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
        assert!(SignedContent::read(&component).unwrap_err().contains("longer than 5 bytes"));
    }
}
