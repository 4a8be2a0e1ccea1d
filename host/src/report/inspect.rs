//! `fwctl-run inspect`: what a plugin is and what it would be granted, without running it.

use std::fmt::Write as _;

use super::ExitStatus;
use super::terminal::visible;
use crate::plugin::Plugin;
use crate::policy::{Grant, WriteGrant};
use crate::proto::mlx5::{commands, registers};
use crate::sandbox::{ComponentShape, PLUGIN_WORLD};
use crate::signing::SignatureStatus;

/// Everything `inspect` found out about one plugin; each check that failed says why.
pub struct Inspection<'a> {
    /// The plugin file.
    pub plugin: &'a Plugin,
    /// Its imports and exports.
    pub shape: &'a ComponentShape,
    /// Whether it matches the plugin world, or why not.
    pub world: Result<(), String>,
    /// Its signature, or why it was refused.
    pub signature: Result<SignatureStatus, String>,
    /// The grant it would get, or why it would get none.
    pub grant: Result<Grant, String>,
}

impl Inspection<'_> {
    /// 0 when it could run, 2 when it could not.
    pub fn exit(&self) -> ExitStatus {
        if self.world.is_ok() && self.grant.is_ok() { ExitStatus::Done } else { ExitStatus::CouldNotRun }
    }

    /// The JSON document of `inspect --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.plugin.path.display().to_string(),
            "digest": self.plugin.digest,
            "size": self.plugin.bytes.len(),
            "manifest": self.plugin.manifest,
            "world": { "matches": self.world.is_ok(), "error": self.world.as_ref().err(), "name": PLUGIN_WORLD },
            "imports": self.shape.imports,
            "exports": self.shape.exports,
            "signature": self.signature.as_ref().ok(),
            "signature_refused": self.signature.as_ref().err(),
            "grant": self.grant.as_ref().ok(),
            "grant_refused": self.grant.as_ref().err(),
        })
    }

    /// The text of `inspect`, one aspect a line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let m = &self.plugin.manifest;
        let _ = writeln!(out, "{} {} by {}", m.name, m.version, m.vendor);
        if !m.description.is_empty() {
            let _ = writeln!(out, "  {}", visible(&m.description));
        }
        let _ = writeln!(out, "file:    {} ({} bytes)", self.plugin.path.display(), self.plugin.bytes.len());
        let _ = writeln!(out, "digest:  {}", self.plugin.digest);
        let _ = match &self.signature {
            Ok(SignatureStatus::Unsigned) => writeln!(out, "signed:  no"),
            Ok(status) => writeln!(out, "signed:  {}", status.describe().trim_start_matches("signed ")),
            Err(e) => writeln!(out, "signed:  refused: {e}"),
        };
        let _ = match &self.world {
            Ok(()) => writeln!(out, "world:   {PLUGIN_WORLD} (matches)"),
            Err(e) => writeln!(out, "world:   does NOT match {PLUGIN_WORLD}: {e}"),
        };
        let _ = writeln!(out, "imports: {}", self.shape.imports.join(", "));
        let _ = writeln!(out, "exports: {}", self.shape.exports.join(", "));
        for (kind, request) in &m.devices {
            let optional = match request.max_scope {
                Some(max) if max > request.scope => format!(", up to {max} when allowed"),
                _ => String::new(),
            };
            let _ = writeln!(out, "asks:    {kind} at {}{optional}", request.scope);
        }
        match &self.grant {
            Ok(g) => {
                let scopes: Vec<_> = g.devices.iter().map(|(k, kg)| format!("{k} at {}", kg.scope)).collect();
                let _ = writeln!(
                    out,
                    "grant:   {} under policy entry `{}`, {} (memory {} MiB, timeout {} ms, {} RPCs)",
                    scopes.join(", "),
                    g.policy_entry,
                    g.entry_reason,
                    g.limits.memory_bytes >> 20,
                    g.limits.timeout.as_millis(),
                    g.limits.rpc_budget
                );
                for (kind, kg) in &g.devices {
                    if let Some(why) = &kg.withheld {
                        let _ = writeln!(out, "         {kind}: less than asked: {why}");
                    }
                    let _ = writeln!(out, "         {kind}: {}", describe_writes(&kg.writes));
                }
            }
            Err(e) => {
                let _ = writeln!(out, "grant:   refused: {e}");
            }
        }
        out
    }
}

/// A grant as lines, one fact each: what `plugin install` shows before installing, and
/// what `plugin update` compares line by line.
pub fn grant_lines(grant: &Grant) -> Vec<String> {
    let mut lines = Vec::new();
    for (kind, kg) in &grant.devices {
        let taints = if kg.scope.taints_kernel() { " (taints the kernel)" } else { "" };
        lines.push(format!("{kind}: scope {}{taints}", kg.scope));
        if let Some(why) = &kg.withheld {
            lines.push(format!("{kind}: less than asked: {why}"));
        }
        let list = |set: &Option<std::collections::BTreeSet<u16>>| match set {
            None => "any".to_string(),
            Some(set) => set.iter().map(|v| format!("{v:#06x}")).collect::<Vec<_>>().join(", "),
        };
        lines.push(format!("{kind}: opcodes {}", list(&kg.opcodes)));
        if kg.access_reg_read.is_some() {
            lines.push(format!("{kind}: registers read {}", list(&kg.access_reg_read)));
        }
        lines.push(format!("{kind}: {}", describe_writes(&kg.writes)));
    }
    lines.push(format!(
        "limits: memory {} MiB, timeout {} ms, {} RPCs (policy entry `{}`)",
        grant.limits.memory_bytes >> 20,
        grant.limits.timeout.as_millis(),
        grant.limits.rpc_budget,
        grant.policy_entry
    ));
    lines
}

/// What a plugin may write on one kind of device.
fn describe_writes(writes: &WriteGrant) -> String {
    if writes.declares_nothing() {
        return "writes: none (reads only)".into();
    }
    let mut targets: Vec<String> = writes
        .opcodes
        .iter()
        .map(|&op| commands::name(op).map_or_else(|| format!("opcode {op:#06x}"), |n| format!("{n} ({op:#06x})")))
        .collect();
    targets.extend(writes.registers.iter().map(|&r| registers::describe(r).to_string()));
    targets.extend(writes.features.iter().map(|u| format!("Feature {}", crate::proto::cxl::Uuid(*u))));
    if writes.any_feature {
        targets.push("any changeable Feature".into());
    }
    match &writes.withheld {
        None => format!("writes granted: {}", targets.join(", ")),
        Some(why) => format!("writes declared but not granted ({why}): {}", targets.join(", ")),
    }
}
