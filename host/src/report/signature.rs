//! `fwctl-run verify`: who signed a plugin, with which key, and whether that counts here.

use std::fmt::Write as _;

use super::ExitStatus;
use crate::plugin::Plugin;
use crate::signing::SignatureStatus;

/// One plugin's signatures as checked against a trust store.
pub struct Verification<'a> {
    /// The plugin.
    pub plugin: &'a Plugin,
    /// The digest of its content without signatures, when it has any (what a denylist
    /// entry names to deny it however it is re-signed).
    pub content_digest: Option<String>,
    /// Where the trust store came from.
    pub trust: &'a str,
    /// The result, or why the plugin is refused.
    pub result: Result<SignatureStatus, String>,
}

impl Verification<'_> {
    /// 0 when a trusted key signed it, 2 otherwise (unsigned included).
    pub fn exit(&self) -> ExitStatus {
        match self.result {
            Ok(SignatureStatus::Verified { .. }) => ExitStatus::Done,
            _ => ExitStatus::CouldNotRun,
        }
    }

    /// The JSON document of `verify --json`.
    pub fn to_json(&self) -> serde_json::Value {
        let (path, digest, content, trust) = (&self.plugin.path, &self.plugin.digest, &self.content_digest, self.trust);
        match &self.result {
            Ok(status) => serde_json::json!({
                "path": path, "digest": digest, "content_digest": content, "trust": trust, "signature": status
            }),
            Err(reason) => serde_json::json!({
                "path": path, "digest": digest, "content_digest": content, "trust": trust, "refused": reason
            }),
        }
    }

    /// The text of `verify`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} ({})", self.plugin.path.display(), self.plugin.digest);
        if let Some(content) = &self.content_digest {
            let _ = writeln!(out, "content: {content} (without signatures: deny this to deny it however it is signed)");
        }
        match &self.result {
            Ok(SignatureStatus::Unsigned) => out.push_str("unsigned\n"),
            Ok(SignatureStatus::Untrusted { key_ids }) => {
                let _ = writeln!(
                    out,
                    "signed only by keys this trust store does not hold (key ids: {}): runs as an unsigned plugin would, refused where a trusted signature is required",
                    key_ids.join(", ")
                );
            }
            Ok(SignatureStatus::Verified { signers, ignored }) => {
                for s in signers {
                    let partial = if s.partial { " (partial: policy allows it)" } else { "" };
                    let _ = writeln!(out, "signed by {} (key {}): trusted{partial}", s.name, s.key_id);
                }
                for i in ignored {
                    let _ = writeln!(out, "ignored: {i}");
                }
            }
            Err(reason) => {
                let _ = writeln!(out, "refused: {reason}");
            }
        }
        out
    }
}
