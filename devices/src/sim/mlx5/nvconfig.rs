//! The firmware's non-volatile configuration, what `mlxconfig` queries and sets: MNVDA
//! reads (default, current or next-boot value of one item) and writes (the next-boot
//! value), MNVQC (whether an item can be read and written), MNVIA (every next-boot value
//! back to its default). Layouts and parameters are `fwctl_proto::mlx5::nvconfig`.
//!
//! Each item is kept three times. A write changes only the next-boot copy; a firmware
//! reset ([`NvConfig::reset`], what `mlxfwreset` or a reboot does) makes it current.
//! Real firmware's status for an unknown item, a wrong length or a read-only item is not
//! public (mstflint maps them all through BAD_PARAM); the model answers BAD_PARAM with a
//! syndrome of its own for each, so tests can tell them apart.

use std::collections::BTreeMap;

use fwctl_proto::mlx5::nvconfig::{
    self, AccessMode, Class, GLOBAL_PCI_CAP, ITEMS, Item, ItemType, PARAMETERS, Parameter, VPI_LINK_TYPE,
    global_pci_cap, header, mnvia, mnvqc,
};

use super::firmware::{Failure, Outcome, syndrome};
use super::profile::{Mlx5Profile, NvValue, PortType};

/// One item: its three copies and whether firmware lets it be written.
#[derive(Clone, Debug)]
struct Stored {
    item: &'static Item,
    writable: bool,
    default: Vec<u8>,
    current: Vec<u8>,
    next: Vec<u8>,
}

impl Stored {
    fn copy(&self, mode: AccessMode) -> &[u8] {
        match mode {
            AccessMode::Default => &self.default,
            AccessMode::Current => &self.current,
            AccessMode::Next => &self.next,
        }
    }
}

/// The configuration of one device.
#[derive(Clone, Debug)]
pub struct NvConfig {
    items: BTreeMap<ItemType, Stored>,
    /// The profile's fault: writes are acknowledged and forgotten.
    ignores_writes: bool,
    max_vfs: u16,
}

/// Stores `value` for `p` in one copy of its item, with the bit that says it is meant.
fn set_parameter(items: &mut BTreeMap<ItemType, Stored>, p: &Parameter, value: u32, copy: AccessMode) {
    if let Some(stored) = items.get_mut(&p.item_type()) {
        let data = match copy {
            AccessMode::Default => &mut stored.default,
            AccessMode::Current => &mut stored.current,
            AccessMode::Next => &mut stored.next,
        };
        p.field.set(data, value);
        if let Some(valid) = p.valid {
            valid.set(data, 1);
        }
    }
}

impl NvConfig {
    /// The configuration a (validated) profile describes: factory defaults, then what
    /// the device runs with (SR-IOV as `pcie.num_vfs` says, the profile's `current`), then
    /// what it boots with next (the profile's `next`).
    pub fn new(profile: &Mlx5Profile) -> Self {
        let nv = &profile.nvconfig;
        let mut items = BTreeMap::new();
        let mut add = |item: &'static Item, port: u8| {
            let data = vec![0u8; item.size];
            let writable = !item.capability;
            let stored = Stored { item, writable, default: data.clone(), current: data.clone(), next: data };
            items.insert(item.type_word(port), stored);
        };
        for item in ITEMS.iter().filter(|i| i.class != Class::PerPort) {
            add(item, 0);
        }
        if nv.vpi {
            for port in 1..=profile.ports.len() as u8 {
                add(&VPI_LINK_TYPE, port);
            }
        }
        let mut config = Self { items, ignores_writes: nv.ignores_writes, max_vfs: nv.max_vfs };
        config.set_capabilities();
        let link_type = match profile.port_type {
            PortType::Eth => 2,
            PortType::Ib => 1,
        };
        for mode in [AccessMode::Default, AccessMode::Current] {
            for p in PARAMETERS.iter().filter(|p| p.item == &VPI_LINK_TYPE) {
                set_parameter(&mut config.items, p, link_type, mode);
            }
        }
        if profile.pcie.num_vfs > 0 {
            let sriov = [("SRIOV_EN", 1), ("NUM_OF_VFS", u32::from(profile.pcie.num_vfs))];
            for (name, value) in sriov {
                set_parameter(&mut config.items, nvconfig::parameter(name).expect("known"), value, AccessMode::Current);
            }
        }
        for (name, value) in &nv.current {
            let (p, value) = resolve(name, value).expect("validated profile");
            set_parameter(&mut config.items, p, value, AccessMode::Current);
        }
        for stored in config.items.values_mut() {
            stored.next = stored.current.clone();
        }
        for (name, value) in &nv.next {
            let (p, value) = resolve(name, value).expect("validated profile");
            set_parameter(&mut config.items, p, value, AccessMode::Next);
        }
        for name in &nv.read_only {
            let p = nvconfig::parameter(name).expect("validated profile");
            if let Some(stored) = config.items.get_mut(&p.item_type()) {
                stored.writable = false;
            }
        }
        config
    }

    /// `nv_global_pci_cap`: SR-IOV supported, per PF, up to `max_vfs` VFs a PF.
    fn set_capabilities(&mut self) {
        let max_vfs = u32::from(self.max_vfs);
        if let Some(cap) = self.items.get_mut(&GLOBAL_PCI_CAP.type_word(0)) {
            for data in [&mut cap.default, &mut cap.current, &mut cap.next] {
                global_pci_cap::SRIOV_SUPPORT.set(data, 1);
                global_pci_cap::PER_PF_TOTAL_VF_SUPPORTED.set(data, 1);
                global_pci_cap::MAX_VFS_PER_PF_VALID.set(data, 1);
                global_pci_cap::MAX_VFS_PER_PF.set(data, max_vfs);
            }
        }
    }

    /// A firmware reset: the next-boot values become current.
    pub fn reset(&mut self) {
        for stored in self.items.values_mut() {
            stored.current = stored.next.clone();
        }
    }

    /// MNVDA read: the header comes back with the item's length and version, then the
    /// copy `access_mode` names.
    pub fn read(&self, request: &[u8], reply: &mut [u8]) -> Outcome {
        let stored = self.lookup(request)?;
        let mode =
            AccessMode::from_bits(header::ACCESS_MODE.get(request)).ok_or(Failure::param(syndrome::BAD_FIELD))?;
        reply[..nvconfig::HEADER_LEN].copy_from_slice(&request[..nvconfig::HEADER_LEN]);
        header::LENGTH.set(reply, stored.item.size as u32);
        header::VERSION.set(reply, stored.item.version);
        let data = stored.copy(mode);
        reply[nvconfig::HEADER_LEN..nvconfig::HEADER_LEN + data.len()].copy_from_slice(data);
        Ok(())
    }

    /// MNVDA write: the next-boot value of a writable item, whole, checked.
    pub fn write(&mut self, request: &[u8], reply: &mut [u8]) -> Outcome {
        let max_vfs = self.max_vfs;
        let ignores_writes = self.ignores_writes;
        let stored = self.lookup_mut(request)?;
        if !stored.writable {
            return Err(Failure::param(syndrome::NV_READ_ONLY));
        }
        if header::LENGTH.get(request) as usize != stored.item.size {
            return Err(Failure::param(syndrome::NV_BAD_LENGTH));
        }
        let data = &request[nvconfig::HEADER_LEN..nvconfig::HEADER_LEN + stored.item.size];
        check_values(stored.item, data, max_vfs)?;
        if !ignores_writes {
            stored.next = data.to_vec();
        }
        reply[..nvconfig::HEADER_LEN].copy_from_slice(&request[..nvconfig::HEADER_LEN]);
        Ok(())
    }

    /// MNVQC: whether the item can be read and written, and its version; an item this
    /// firmware does not have reads as all zero (not supported), as mlxconfig expects.
    pub fn query_capability(&self, request: &[u8], reply: &mut [u8]) -> Outcome {
        let ty = ItemType(mnvqc::TYPE.get(request));
        mnvqc::TYPE.set(reply, ty.0);
        if let Some(stored) = self.items.get(&ty) {
            mnvqc::SUPPORT_RD.set(reply, 1);
            mnvqc::SUPPORT_WR.set(reply, u32::from(stored.writable));
            mnvqc::VERSION.set(reply, stored.item.version);
        }
        Ok(())
    }

    /// MNVIA: every writable item's next-boot value back to its default.
    pub fn invalidate(&mut self, request: &[u8], reply: &mut [u8]) -> Outcome {
        if mnvia::TARGET.get(request) != 0 {
            return Err(Failure::param(syndrome::BAD_FIELD));
        }
        if !self.ignores_writes {
            for stored in self.items.values_mut().filter(|s| s.writable) {
                stored.next = stored.default.clone();
            }
        }
        reply[..nvconfig::MNVIA_SIZE].copy_from_slice(&request[..nvconfig::MNVIA_SIZE]);
        Ok(())
    }

    fn lookup(&self, request: &[u8]) -> Result<&Stored, Failure> {
        self.items.get(&ItemType(header::TYPE.get(request))).ok_or(Failure::param(syndrome::NV_UNKNOWN_ITEM))
    }

    fn lookup_mut(&mut self, request: &[u8]) -> Result<&mut Stored, Failure> {
        self.items.get_mut(&ItemType(header::TYPE.get(request))).ok_or(Failure::param(syndrome::NV_UNKNOWN_ITEM))
    }
}

/// What firmware refuses to store: more VFs than a PF may have, a link type that is
/// neither IB nor ETH.
fn check_values(item: &Item, data: &[u8], max_vfs: u16) -> Outcome {
    let out_of_range = PARAMETERS.iter().filter(|p| p.item == item).any(|p| {
        let value = p.field.get(data);
        match p.name {
            "NUM_OF_VFS" => value > u32::from(max_vfs),
            _ => match p.values {
                nvconfig::Values::Named(names) => !names.iter().any(|(_, n)| *n == value),
                _ => false,
            },
        }
    });
    if out_of_range { Err(Failure::param(syndrome::BAD_FIELD)) } else { Ok(()) }
}

/// A profile's `NAME = value` as a parameter and its field value.
pub fn resolve(name: &str, value: &NvValue) -> Result<(&'static Parameter, u32), String> {
    let p = nvconfig::parameter(name).ok_or_else(|| {
        let known: Vec<&str> = PARAMETERS.iter().map(|p| p.name).collect();
        format!("nvconfig parameter `{name}` is not one of {}", known.join(", "))
    })?;
    let text = match value {
        NvValue::Bool(b) => b.to_string(),
        NvValue::Number(n) => n.to_string(),
        NvValue::Name(s) => s.clone(),
    };
    Ok((p, p.parse(&text)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Fleet;
    use fwctl_proto::mlx5::nvconfig::{MNVDA_SIZE, SW_OFFLOAD_CONF, parameter};

    fn config(extra: &str) -> NvConfig {
        let healthy = include_str!("../../../profiles/connectx7-healthy.toml");
        let fleet = Fleet::from_toml(&format!("{healthy}\n[device.mlx5.nvconfig]\n{extra}\n"), "test").unwrap();
        NvConfig::new(fleet.devices()[0].mlx5.as_ref().unwrap())
    }

    fn request(p: &Parameter, mode: AccessMode) -> Vec<u8> {
        let mut r = vec![0u8; MNVDA_SIZE];
        header::TYPE.set(&mut r, p.item_type().0);
        header::LENGTH.set(&mut r, p.item.size as u32);
        header::ACCESS_MODE.set(&mut r, mode as u32);
        r
    }

    fn value(nv: &NvConfig, name: &str, mode: AccessMode) -> u32 {
        let p = parameter(name).unwrap();
        let mut reply = vec![0u8; MNVDA_SIZE];
        nv.read(&request(p, mode), &mut reply).unwrap();
        p.field.get(&reply[nvconfig::HEADER_LEN..])
    }

    #[test]
    fn a_write_changes_the_next_boot_value_and_a_reset_makes_it_current() {
        let mut nv = config("vpi = true");
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Current), 8, "pcie.num_vfs of the profile");
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Default), 0);
        let p = parameter("NUM_OF_VFS").unwrap();
        let mut write = request(p, AccessMode::Next);
        let mut reply = vec![0u8; MNVDA_SIZE];
        nv.read(&write.clone(), &mut reply).unwrap();
        write[nvconfig::HEADER_LEN..].copy_from_slice(&reply[nvconfig::HEADER_LEN..]);
        p.field.set(&mut write[nvconfig::HEADER_LEN..], 16);
        nv.write(&write, &mut reply).unwrap();
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Next), 16);
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Current), 8);
        nv.reset();
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Current), 16);
        assert_eq!(value(&nv, "LINK_TYPE_P2", AccessMode::Current), 2, "an Ethernet port");
    }

    #[test]
    fn firmware_refuses_unknown_items_wrong_lengths_read_only_items_and_out_of_range_values() {
        let mut nv = config("read_only = [\"CQE_COMPRESSION\"]\nmax_vfs = 16");
        let mut reply = vec![0u8; MNVDA_SIZE];
        let link = request(parameter("LINK_TYPE_P1").unwrap(), AccessMode::Current);
        assert_eq!(nv.read(&link, &mut reply), Err(Failure::param(syndrome::NV_UNKNOWN_ITEM)), "not a VPI adapter");
        let mut short = request(parameter("NUM_OF_VFS").unwrap(), AccessMode::Next);
        header::LENGTH.set(&mut short, 8);
        assert_eq!(nv.write(&short, &mut reply), Err(Failure::param(syndrome::NV_BAD_LENGTH)));
        let cqe = request(parameter("CQE_COMPRESSION").unwrap(), AccessMode::Next);
        assert_eq!(nv.write(&cqe, &mut reply), Err(Failure::param(syndrome::NV_READ_ONLY)));
        let mut too_many = request(parameter("NUM_OF_VFS").unwrap(), AccessMode::Next);
        parameter("NUM_OF_VFS").unwrap().field.set(&mut too_many[nvconfig::HEADER_LEN..], 17);
        assert_eq!(nv.write(&too_many, &mut reply), Err(Failure::param(syndrome::BAD_FIELD)));
        let mut cap = vec![0u8; nvconfig::MNVQC_SIZE];
        mnvqc::TYPE.set(&mut cap, SW_OFFLOAD_CONF.type_word(0).0);
        let mut answer = vec![0u8; nvconfig::MNVQC_SIZE];
        nv.query_capability(&cap, &mut answer).unwrap();
        assert_eq!((mnvqc::SUPPORT_RD.get(&answer), mnvqc::SUPPORT_WR.get(&answer)), (1, 0));
        assert_eq!(mnvqc::VERSION.get(&answer), 1);
    }

    #[test]
    fn a_firmware_that_ignores_writes_acknowledges_them_and_keeps_nothing() {
        let mut nv = config("ignores_writes = true");
        let p = parameter("SRIOV_EN").unwrap();
        let mut write = request(p, AccessMode::Next);
        p.field.set(&mut write[nvconfig::HEADER_LEN..], 0);
        let mut reply = vec![0u8; MNVDA_SIZE];
        assert_eq!(nv.write(&write, &mut reply), Ok(()));
        assert_eq!(value(&nv, "SRIOV_EN", AccessMode::Next), 1);
    }

    #[test]
    fn invalidate_returns_every_next_boot_value_to_its_default() {
        let mut nv = config("next = { CQE_COMPRESSION = \"AGGRESSIVE\" }");
        assert_eq!(value(&nv, "CQE_COMPRESSION", AccessMode::Next), 1);
        let mut reply = vec![0u8; nvconfig::MNVIA_SIZE];
        nv.invalidate(&[0u8; nvconfig::MNVIA_SIZE], &mut reply).unwrap();
        assert_eq!(value(&nv, "CQE_COMPRESSION", AccessMode::Next), 0);
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Next), 0);
        assert_eq!(value(&nv, "NUM_OF_VFS", AccessMode::Current), 8, "until the next reset");
    }
}
