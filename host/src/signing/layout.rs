//! The hashes a signature covers, recomputed from the component, and how a signed hash
//! list compares with them.

use crate::plugin::sections::{DELIMITER_SECTION, SIGNATURE_SECTION, Section, SignedContent};

/// One part of the component between delimiters, with the hash of everything up to and
/// including its end (what `sign_multi` records).
struct Part {
    prefix_hash: [u8; 32],
    /// The sections in it (indices in the component), to name the part in messages and
    /// to inspect what a partial signature leaves out.
    sections: Vec<usize>,
}

/// The component as signatures see it.
pub struct Layout<'a> {
    content: &'a SignedContent,
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
    match &section.name {
        Some(name) => format!("section {index} (custom section `{name}`)"),
        None => {
            // Component section ids (plugins are components).
            let kind = match section.id {
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

impl<'a> Layout<'a> {
    /// Groups the sections after the signature header into the parts `sign_multi`
    /// records a hash for: one per delimiter, and the rest at the end.
    pub fn of(content: &'a SignedContent) -> Self {
        let mut parts = Vec::new();
        let mut indices: Vec<usize> = Vec::new();
        let mut delimiter_hashes = content.delimiter_hashes.iter();
        let mut ended_on_delimiter = false;
        for (index, section) in content.sections.iter().enumerate() {
            if section.is_custom(SIGNATURE_SECTION) {
                continue;
            }
            if section.is_custom(DELIMITER_SECTION) {
                let (_, hash) = delimiter_hashes.next().expect("a hash for every delimiter");
                parts.push(Part { prefix_hash: *hash, sections: std::mem::take(&mut indices) });
                ended_on_delimiter = true;
            } else {
                indices.push(index);
                ended_on_delimiter = false;
            }
        }
        let delimited = !parts.is_empty();
        if !ended_on_delimiter {
            parts.push(Part { prefix_hash: content.end_hash, sections: indices });
        }
        Self { content, parts, delimited }
    }

    /// A part's name in messages, from its sections (made only for a message: most
    /// verifications need none).
    fn label(&self, part: &Part) -> String {
        let describe = |&index: &usize| describe(index, &self.content.sections[index]);
        match part.sections.as_slice() {
            [] => "an empty part".into(),
            [one] => describe(one),
            [first, .., last] => format!("{} … {}", describe(first), describe(last)),
        }
    }

    /// `sha256:<hex>` of everything but the signature section: what a signature over the
    /// whole component signed, the same however often it is countersigned.
    pub fn content_digest(&self) -> Option<String> {
        self.parts.last().map(|p| format!("sha256:{}", hex::encode(p.prefix_hash)))
    }

    /// Compares a signed hash list with this component.
    pub fn coverage(&self, signed: &[Vec<u8>]) -> Coverage {
        if signed.is_empty() {
            return Coverage::Changed { what: "nothing (the signature lists no hashes)".into() };
        }
        let full = self.parts.last().map(|p| &p.prefix_hash[..]);
        if signed.last().map(Vec::as_slice) == full {
            return Coverage::Full;
        }
        for (i, hash) in signed.iter().enumerate() {
            match self.parts.get(i) {
                Some(part) if part.prefix_hash[..] == hash[..] => continue,
                Some(_) if !self.delimited => {
                    return Coverage::Changed {
                        what: "the content after the signature (signed without per-section hashes, so the section cannot be named)".into(),
                    };
                }
                Some(part) => return Coverage::Changed { what: self.label(part) },
                None => return Coverage::Changed { what: "the end of the component (sections were removed)".into() },
            }
        }
        // Every signed hash matches a prefix: content was appended after signing.
        let covered = self.label(&self.parts[signed.len() - 1]);
        let rest: Vec<String> = self.parts[signed.len()..].iter().map(|p| self.label(p)).collect();
        let rest_sections = self.parts[signed.len()..].iter().flat_map(|p| p.sections.iter().copied()).collect();
        Coverage::Prefix { covered: format!("everything up to {covered}"), rest: rest.join(", "), rest_sections }
    }
}
