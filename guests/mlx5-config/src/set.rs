//! `set`: new next-boot values, the way mlxconfig sets them and then some.
//!
//! Before anything is written: each parameter must be supported and writable (MNVQC) and
//! within what the device allows (`nv_global_pci_cap` for SR-IOV). Each item is then
//! rewritten from its next-boot copy with only the named fields changed (the rest of the
//! item is kept), read back and compared. `--dry-run` stops before the first write and
//! lists the writes it would send.

use fwctl_sdk::mlx5::nvconfig::{AccessMode, GLOBAL_PCI_CAP, Item, ItemType, global_pci_cap};
use fwctl_sdk::mlx5::registers::{MNVDA, name};
use fwctl_sdk::mlx5::{Error, Mlx5};
use fwctl_sdk::{RpcError, Severity, fact, finding};

use crate::command::Change;
use crate::reading::Reader;

/// One item to write: where, its next-boot data now, and what it becomes.
struct Write {
    item: &'static Item,
    ty: ItemType,
    before: Vec<u8>,
    after: Vec<u8>,
}

pub fn run(mlx5: &Mlx5, changes: &[Change], dry_run: bool) -> Result<(), String> {
    let mut reader = Reader::new(mlx5);
    let mut writes: Vec<Write> = Vec::new();
    let mut currents: Vec<(&str, u32)> = Vec::new();
    for Change { parameter: p, value } in changes {
        let copies = reader.item(p)?.ok_or_else(|| format!("{} is not supported by this device", p.name))?;
        if !copies.capability.writable {
            return Err(format!("{} is read-only on this device (MNVQC: {} cannot be written)", p.name, p.item.name));
        }
        let (current, next) = (copies.current.value(p), copies.next.value(p));
        currents.push((p.name, current));
        fact(format!("{}.current", p.name), p.show(current));
        fact(format!("{}.next", p.name), p.show(next));
        fact(format!("{}.requested", p.name), p.show(*value));
        let ty = p.item_type();
        let index = match writes.iter().position(|w| w.ty == ty) {
            Some(index) => index,
            None => {
                let data = copies.next.data.clone();
                writes.push(Write { item: p.item, ty, before: data.clone(), after: data });
                writes.len() - 1
            }
        };
        p.field.set(&mut writes[index].after, *value);
        if let Some(valid) = p.valid {
            valid.set(&mut writes[index].after, 1);
        }
        if next == *value {
            finding(
                Severity::Info,
                "mlx5.config.unchanged",
                format!("{} is already {} for the next boot", p.name, p.show(next)),
            )
            .detail("parameter", p.name)
            .report();
        }
    }
    check_limits(mlx5, changes)?;
    writes.retain(|w| w.before != w.after);

    if dry_run {
        for w in &writes {
            fact(
                format!("would-write.{}", w.item.name),
                format!(
                    "ACCESS_REG write of {} ({MNVDA:#06x}) at configuration scope, item {:#010x}: {}",
                    name(MNVDA).unwrap_or("MNVDA"),
                    w.ty.0,
                    hex(&w.after)
                ),
            );
        }
        finding(
            Severity::Info,
            "mlx5.config.dry-run",
            format!("would write {} configuration item(s); nothing was sent", writes.len()),
        )
        .report();
        return Ok(());
    }

    for (done, w) in writes.iter().enumerate() {
        if let Err(e) = mlx5.nv_write(w.item, w.ty, &w.after) {
            if done > 0 {
                let written: Vec<&str> = writes[..done].iter().map(|w| w.item.name).collect();
                finding(
                    Severity::Error,
                    "mlx5.config.partly-written",
                    format!("{} were written before the write of {} failed", written.join(", "), w.item.name),
                )
                .report();
            }
            return Err(explain(w.item, e));
        }
    }
    // Read back what was written; a value that is not yet running needs a reset.
    let mut pending = Vec::new();
    for Change { parameter: p, value } in changes {
        let written = writes.iter().any(|w| w.ty == p.item_type());
        let back = if written {
            mlx5.nv_read(p.item, p.item_type(), AccessMode::Next)
                .map_err(|e| format!("reading {} back: {e}", p.item.name))?
                .value(p)
        } else {
            *value
        };
        if written {
            fact(format!("{}.next-after", p.name), p.show(back));
        }
        if back != *value {
            finding(
                Severity::Error,
                "mlx5.config.not-applied",
                format!(
                    "firmware accepted {}={} but the next-boot value reads back as {}",
                    p.name,
                    p.show(*value),
                    p.show(back)
                ),
            )
            .detail("parameter", p.name)
            .report();
        } else if currents.iter().any(|(name, current)| *name == p.name && current != value) {
            pending.push(format!("{}={}", p.name, p.show(back)));
        }
    }
    if !pending.is_empty() {
        finding(
            Severity::Info,
            "mlx5.config.reset-required",
            format!(
                "set for the next boot: {}; it takes effect after a firmware reset (mlxfwreset) or a reboot",
                pending.join(", ")
            ),
        )
        .report();
    }
    Ok(())
}

/// SR-IOV within what `nv_global_pci_cap` says the device supports.
fn check_limits(mlx5: &Mlx5, changes: &[Change]) -> Result<(), String> {
    let sriov = |name: &str| changes.iter().find(|c| c.parameter.name == name).map(|c| c.value);
    let (enable, vfs) = (sriov("SRIOV_EN"), sriov("NUM_OF_VFS"));
    if enable.is_none() && vfs.is_none() {
        return Ok(());
    }
    let cap = mlx5
        .nv_read(&GLOBAL_PCI_CAP, GLOBAL_PCI_CAP.type_word(0), AccessMode::Current)
        .map_err(|e| format!("reading {}: {e}", GLOBAL_PCI_CAP.name))?;
    if !global_pci_cap::SRIOV_SUPPORT.is_set(&cap.data) && (enable == Some(1) || vfs.is_some_and(|n| n > 0)) {
        return Err("this device does not support SR-IOV (nv_global_pci_cap.sriov_support is 0)".into());
    }
    let max = global_pci_cap::MAX_VFS_PER_PF.get(&cap.data);
    if let Some(n) = vfs.filter(|&n| global_pci_cap::MAX_VFS_PER_PF_VALID.is_set(&cap.data) && n > max) {
        return Err(format!("NUM_OF_VFS={n} is more than this device allows per PF ({max})"));
    }
    Ok(())
}

/// A failed write, for the operator.
fn explain(item: &Item, error: Error) -> String {
    match error {
        Error::Rpc(RpcError::NotGranted(reason)) => format!(
            "writing {} needs a write this run was not granted ({reason}); the operator's policy must grant \
             writes on mlx5 devices (`writes = [\"mlx5\"]`) to this plugin's signer",
            item.name
        ),
        other => format!("writing {}: {other}", item.name),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
