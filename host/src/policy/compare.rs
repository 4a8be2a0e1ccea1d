//! What a new grant allows that an old one did not: what `plugin update` calls out before
//! a newer version replaces the one installed.

use std::collections::BTreeSet;

use super::grant::{Grant, KindGrant};

/// Each way `new` allows more than `old`, in words; empty when it allows nothing more.
pub fn widening(old: &Grant, new: &Grant) -> Vec<String> {
    let mut wider = Vec::new();
    for (kind, now) in &new.devices {
        let Some(before) = old.devices.get(kind) else {
            wider.push(format!("{kind} devices at {}: not granted before", now.scope));
            continue;
        };
        if now.scope > before.scope {
            wider.push(format!("{kind}: scope {} (was {})", now.scope, before.scope));
        }
        if loosened(before.opcodes.as_ref(), now.opcodes.as_ref()) {
            wider.push(format!("{kind}: opcodes beyond those allowed before"));
        }
        if loosened(before.access_reg_read.as_ref(), now.access_reg_read.as_ref()) {
            wider.push(format!("{kind}: register reads beyond those allowed before"));
        }
        if writes_beyond(before, now) {
            wider.push(format!("{kind}: writes beyond those granted before"));
        }
    }
    let (before, now) = (&old.limits, &new.limits);
    if now.memory_bytes > before.memory_bytes || now.timeout > before.timeout || now.rpc_budget > before.rpc_budget {
        wider.push("limits: higher memory, time or RPC budget".into());
    }
    wider
}

/// Whether an allow-list (`None`: anything) lets through something the old one did not.
fn loosened<T: Ord>(before: Option<&BTreeSet<T>>, now: Option<&BTreeSet<T>>) -> bool {
    match (before, now) {
        (_, Some(now)) => before.is_some_and(|before| !now.is_subset(before)),
        (Some(_), None) => true,
        (None, None) => false,
    }
}

fn writes_beyond(before: &KindGrant, now: &KindGrant) -> bool {
    if !now.writes.granted() {
        return false;
    }
    if !before.writes.granted() {
        return true;
    }
    let (b, n) = (&before.writes, &now.writes);
    !n.opcodes.is_subset(&b.opcodes)
        || !n.registers.is_subset(&b.registers)
        || !n.features.is_subset(&b.features)
        || (n.any_feature && !b.any_feature)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use fwctl_devices::{DeviceKind, Scope};

    use super::*;
    use crate::policy::{Limits, WriteGrant};

    /// A kind's grant as a test writes it: kind, scope, allowed opcodes (`None`: any),
    /// write opcodes.
    type Kind<'a> = (DeviceKind, Scope, Option<&'a [u16]>, &'a [u16]);

    fn grant(devices: &[Kind<'_>]) -> Grant {
        Grant {
            policy_entry: "unsigned".into(),
            entry_reason: "test".into(),
            devices: devices
                .iter()
                .map(|(kind, scope, opcodes, writes)| {
                    let writes = WriteGrant { opcodes: writes.iter().copied().collect(), ..WriteGrant::default() };
                    let opcodes = opcodes.map(|o| o.iter().copied().collect());
                    (*kind, KindGrant { scope: *scope, withheld: None, opcodes, access_reg_read: None, writes })
                })
                .collect::<BTreeMap<_, _>>(),
            limits: Limits::default(),
        }
    }

    #[test]
    fn the_same_or_a_narrower_grant_is_not_wider() {
        let old = grant(&[(DeviceKind::Mlx5, Scope::DebugReadOnly, Some(&[0x10a, 0x805]), &[])]);
        assert!(widening(&old, &old).is_empty());
        let narrower = grant(&[(DeviceKind::Mlx5, Scope::Configuration, Some(&[0x10a]), &[])]);
        assert!(widening(&old, &narrower).is_empty());
    }

    #[test]
    fn a_new_kind_a_higher_scope_more_opcodes_or_new_writes_are_each_named() {
        let old = grant(&[(DeviceKind::Mlx5, Scope::DebugReadOnly, Some(&[0x10a]), &[])]);
        let new = grant(&[
            (DeviceKind::Mlx5, Scope::DebugWrite, None, &[0x805]),
            (DeviceKind::Cxl, Scope::DebugReadOnly, None, &[]),
        ]);
        let wider = widening(&old, &new);
        assert_eq!(wider.len(), 4, "{wider:?}");
        assert!(wider.iter().any(|w| w.starts_with("cxl devices")), "{wider:?}");
        assert!(wider.iter().any(|w| w.contains("scope debug-write (was debug-read-only)")), "{wider:?}");
        assert!(wider.iter().any(|w| w.contains("opcodes beyond")), "{wider:?}");
        assert!(wider.iter().any(|w| w.contains("writes beyond")), "{wider:?}");
    }
}
