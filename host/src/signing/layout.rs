//! The hashes a signature covers, recomputed from the component, and how a signed hash
//! list compares with them.

use sha2::{Digest, Sha256};
use wasmsign2::{Module, Section, SectionLike};

/// One part of the component between delimiters, with the hash of everything up to and
/// including its end (what `sign_multi` records).
struct Part {
    label: String,
    prefix_hash: Vec<u8>,
    /// The sections in it (indices in the component), to inspect what a partial
    /// signature leaves out.
    sections: Vec<usize>,
}

/// The component as signatures see it.
pub struct Layout {
    parts: Vec<Part>,
    /// Whether the component carries delimiters (per-part hashes) at all.
    delimited: bool,
}

/// How much of the component a genuine signature covers.
pub enum Coverage {
    /// Everything.
    Full,
    /// A prefix; `rest` was added after signing, as the sections `rest_sections`.
    Prefix { covered: String, rest: String, rest_sections: Vec<usize> },
    /// Something it covered changed: `what` names the first part that differs.
    Changed { what: String },
}

/// A section's description for messages.
fn describe(index: usize, section: &Section) -> String {
    match section {
        Section::Custom(c) => format!("section {index} (custom section `{}`)", c.name()),
        Section::Standard(s) => {
            // Component section ids (plugins are components).
            let kind = match u8::from(s.id()) {
                1 => "core module",
                2 => "core instances",
                3 => "core types",
                4 => "nested component",
                5 => "instances",
                6 => "aliases",
                7 => "types",
                8 => "canonical functions",
                9 => "start function",
                10 => "imports",
                11 => "exports",
                _ => "section",
            };
            format!("section {index} ({kind})")
        }
    }
}

impl Layout {
    /// Hashes the sections after the signature header as `sign_multi` does: a running
    /// SHA-256, recorded after each delimiter and at the end.
    pub fn of(module: &Module) -> Result<Self, wasmsign2::WSError> {
        let mut hasher = Sha256::new();
        let mut parts = Vec::new();
        let mut members: Vec<String> = Vec::new();
        let mut indices: Vec<usize> = Vec::new();
        let mut ended_on_delimiter = false;
        let mut delimited = false;
        for (index, section) in module.sections.iter().enumerate() {
            if section.is_signature_header() {
                continue;
            }
            let mut bytes = Vec::new();
            section.serialize(&mut bytes)?;
            hasher.update(&bytes);
            if section.is_signature_delimiter() {
                parts.push(Part {
                    label: label(&members),
                    prefix_hash: hasher.clone().finalize().to_vec(),
                    sections: std::mem::take(&mut indices),
                });
                members.clear();
                ended_on_delimiter = true;
                delimited = true;
            } else {
                members.push(describe(index, section));
                indices.push(index);
                ended_on_delimiter = false;
            }
        }
        if !ended_on_delimiter {
            parts.push(Part { label: label(&members), prefix_hash: hasher.finalize().to_vec(), sections: indices });
        }
        Ok(Self { parts, delimited })
    }

    /// `sha256:<hex>` of everything but the signature section: what a signature over the
    /// whole component signed, the same however often it is countersigned.
    pub fn content_digest(&self) -> Option<String> {
        self.parts.last().map(|p| format!("sha256:{}", hex::encode(&p.prefix_hash)))
    }

    /// Compares a signed hash list with this component.
    pub fn coverage(&self, signed: &[Vec<u8>]) -> Coverage {
        if signed.is_empty() {
            return Coverage::Changed { what: "nothing (the signature lists no hashes)".into() };
        }
        let full = self.parts.last().map(|p| &p.prefix_hash);
        if signed.last() == full {
            return Coverage::Full;
        }
        for (i, hash) in signed.iter().enumerate() {
            match self.parts.get(i) {
                Some(part) if &part.prefix_hash == hash => continue,
                Some(_) if !self.delimited => {
                    return Coverage::Changed {
                        what: "the content after the signature (signed without per-section hashes, so the section cannot be named)".into(),
                    };
                }
                Some(part) => return Coverage::Changed { what: part.label.clone() },
                None => return Coverage::Changed { what: "the end of the component (sections were removed)".into() },
            }
        }
        // Every signed hash matches a prefix: content was appended after signing.
        let covered = self.parts[signed.len() - 1].label.clone();
        let rest: Vec<&str> = self.parts[signed.len()..].iter().map(|p| p.label.as_str()).collect();
        let rest_sections = self.parts[signed.len()..].iter().flat_map(|p| p.sections.iter().copied()).collect();
        Coverage::Prefix { covered: format!("everything up to {covered}"), rest: rest.join(", "), rest_sections }
    }
}

fn label(members: &[String]) -> String {
    match members {
        [] => "an empty part".into(),
        [one] => one.clone(),
        [first, .., last] => format!("{first} … {last}"),
    }
}
