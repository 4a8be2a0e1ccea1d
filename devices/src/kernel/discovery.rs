//! Discovery: what `/sys/class/fwctl` says about each fwctl node.
//!
//! The driver core places each fwctl class device below its parent
//! (`<parent>/fwctl/fwctlN`), and `class/fwctl/fwctlN` links there; its `device` link
//! leads back to the parent the driver registered. That parent is the PCI function for
//! mlx5 (`&mdev->pdev->dev`, not the `mlx5_core.fwctl.N` auxiliary device the driver binds
//! to), bnxt and pds, and the `memN` memdev for CXL, which sits below its PCI endpoint (or
//! below a platform device under `cxl_test`). The parent's `driver` link names the bound
//! driver. Nothing is opened here.

use std::path::{Path, PathBuf};

use crate::backend::DiscoveryError;

/// What sysfs says about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysfsNode {
    /// `fwctlN`.
    pub name: String,
    /// The parent's sysfs name (`0000:3b:00.0`, `mem2`).
    pub parent: String,
    /// The parent, or its nearest ancestor, that is a PCI function.
    pub pci_address: Option<String>,
    /// The parent when it is a CXL memdev.
    pub cxl_memdev: Option<String>,
    /// The driver bound to the parent.
    pub driver: Option<String>,
    /// The RDMA device registered on the PCI function (`<pci>/infiniband/mlx5_0`).
    pub rdma_device: Option<String>,
    /// The device's own serial number: a CXL memdev's `serial` attribute, else the `SN`
    /// keyword of the PCI function's VPD (a board's serial; readable by root).
    pub serial: Option<String>,
}

/// Whether `<sysfs>/class/fwctl` lists at least one `fwctlN` node. An unreadable or
/// missing class directory counts as none; [`scan`] reports why it could not be read.
pub fn has_nodes(sysfs_root: &Path) -> bool {
    std::fs::read_dir(sysfs_root.join("class/fwctl"))
        .is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| is_node_name(&e.file_name().to_string_lossy()))))
}

/// Lists `<sysfs>/class/fwctl/*`, in node order. A missing class directory means the
/// kernel has no fwctl devices (or no fwctl at all): an empty list, not an error.
pub fn scan(sysfs_root: &Path) -> Result<Vec<SysfsNode>, DiscoveryError> {
    let class = sysfs_root.join("class/fwctl");
    let entries = match std::fs::read_dir(&class) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(DiscoveryError::Io { path: class.display().to_string(), source }),
    };
    let mut nodes = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DiscoveryError::Io { path: class.display().to_string(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Only the class's own `fwctlN` entries; anything else is not a node.
        if !is_node_name(&name) {
            continue;
        }
        nodes.push(describe(&entry.path(), name));
    }
    nodes.sort_by_key(|n| node_number(&n.name));
    Ok(nodes)
}

/// A CXL memdev that has no fwctl node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BareMemdev {
    /// `memN`.
    pub name: String,
    /// Its PCI endpoint, when it has one (a mock memdev under `cxl_test` does not).
    pub pci_address: Option<String>,
}

/// CXL memdevs (`<sysfs>/bus/cxl/devices/memN`) that no node in `nodes` belongs to. The
/// CXL driver registers fwctl only for a memdev with at least one Feature user space may
/// change (`devm_cxl_setup_fwctl` gives up when `num_user_features` is 0), so a memdev
/// whose Features are all kernel-owned (patrol scrub, ECS, sparing) has none. That is
/// the kernel's decision, not a fault; callers say so instead of reporting nothing.
pub fn memdevs_without_node(sysfs_root: &Path, nodes: &[SysfsNode]) -> Vec<BareMemdev> {
    let Ok(entries) = std::fs::read_dir(sysfs_root.join("bus/cxl/devices")) else {
        return Vec::new();
    };
    let mut bare: Vec<BareMemdev> = entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| is_memdev(name))
        .filter(|(name, _)| !nodes.iter().any(|n| n.cxl_memdev.as_deref() == Some(name.as_str())))
        .map(|(name, link)| {
            let path = std::fs::canonicalize(&link).ok();
            let pci_address = path
                .as_deref()
                .and_then(|p| p.ancestors().filter_map(file_name).find(|component| is_pci_address(component)));
            BareMemdev { name, pci_address }
        })
        .collect();
    bare.sort_by_key(|m| m.name.trim_start_matches("mem").parse::<u64>().unwrap_or(u64::MAX));
    bare
}

fn describe(node_dir: &Path, name: String) -> SysfsNode {
    let parent_path = std::fs::canonicalize(node_dir.join("device")).ok();
    let parent = parent_path.as_deref().and_then(file_name).unwrap_or_default();
    let driver =
        parent_path.as_ref().and_then(|p| std::fs::read_link(p.join("driver")).ok()).as_deref().and_then(file_name);
    let pci_address = parent_path
        .as_deref()
        .and_then(|p| p.ancestors().filter_map(file_name).find(|component| is_pci_address(component)));
    let cxl_memdev = is_memdev(&parent).then(|| parent.clone());
    // mlx5's fwctl node hangs off an auxiliary device; the RDMA device is registered on
    // the PCI function above it, so look there (and for the board's VPD).
    let function =
        parent_path.as_deref().and_then(|p| p.ancestors().find(|a| file_name(a).is_some_and(|n| is_pci_address(&n))));
    let rdma_device = function.and_then(|function| first_entry(&function.join("infiniband")));
    let serial = parent_path
        .as_deref()
        .filter(|_| cxl_memdev.is_some())
        .and_then(|p| std::fs::read_to_string(p.join("serial")).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| function.and_then(|f| std::fs::read(f.join("vpd")).ok()).and_then(|vpd| vpd_serial(&vpd)));
    SysfsNode { name, parent, pci_address, cxl_memdev, driver, rdma_device, serial }
}

/// The `SN` keyword of PCI VPD (PCI Local Bus spec, VPD large resources: 0x82 the
/// identifier string, 0x90 the read-only keywords `KK len data`, 0x78 the end).
pub fn vpd_serial(vpd: &[u8]) -> Option<String> {
    let mut at = 0;
    while at + 3 <= vpd.len() {
        let tag = vpd[at];
        if tag == 0x78 || tag & 0x80 == 0 {
            return None; // the end tag, or a small resource where a large one belongs
        }
        let len = u16::from_le_bytes([vpd[at + 1], vpd[at + 2]]) as usize;
        let body = vpd.get(at + 3..at + 3 + len)?;
        if tag == 0x90 {
            let mut k = 0;
            while k + 3 <= body.len() {
                let (key, n) = (&body[k..k + 2], body[k + 2] as usize);
                let data = body.get(k + 3..k + 3 + n)?;
                if key == b"SN" {
                    let text = String::from_utf8_lossy(data)
                        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                        .to_string();
                    return (!text.is_empty()).then_some(text);
                }
                k += 3 + n;
            }
        }
        at += 3 + len;
    }
    None
}

/// The alphabetically first entry of a directory, if it exists and has one.
fn first_entry(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).ok()?.flatten().filter_map(|e| file_name(&e.path())).collect();
    names.sort();
    names.into_iter().next()
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// `DDDD:BB:DD.F`, as the PCI core names functions.
fn is_pci_address(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && [4, 7].iter().all(|&i| b[i] == b':')
        && b[10] == b'.'
        && b.iter().enumerate().all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
}

/// `memN`, as the CXL core names memdevs.
fn is_memdev(s: &str) -> bool {
    s.strip_prefix("mem").is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// `fwctlN`, as the fwctl core names its devices (and so its `/dev/fwctl` nodes).
fn is_node_name(s: &str) -> bool {
    s.strip_prefix("fwctl").is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// Sort key: `fwctl2` before `fwctl10`.
fn node_number(name: &str) -> u64 {
    name.trim_start_matches("fwctl").parse().unwrap_or(u64::MAX)
}

/// The character device for a node under a dev root (`/dev/fwctl/fwctlN`).
pub fn node_path(dev_root: &Path, name: &str) -> PathBuf {
    dev_root.join("fwctl").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vpd_serial_is_the_sn_keyword_of_the_read_only_section() {
        let mut vpd = vec![0x82, 4, 0, b'C', b'X', b'-', b'7'];
        let keywords = [b"PN".as_slice(), &[3], b"MCX", b"SN", &[12], b"MT2330X01234", b"RV", &[1], &[0]].concat();
        vpd.extend([0x90, keywords.len() as u8, 0]);
        vpd.extend(&keywords);
        vpd.push(0x78);
        assert_eq!(vpd_serial(&vpd).as_deref(), Some("MT2330X01234"));
        assert_eq!(vpd_serial(&vpd[..vpd.len() - 5]), None, "cut short: nothing, no panic");
        assert_eq!(vpd_serial(&[0x78]), None);
    }

    #[test]
    fn recognises_pci_addresses_and_memdevs() {
        assert!(is_pci_address("0000:3b:00.0"));
        assert!(is_pci_address("0000:af:1f.7"));
        assert!(!is_pci_address("pci0000:00"));
        assert!(!is_pci_address("0000:3b:00"));
        assert!(is_memdev("mem0") && is_memdev("mem12"));
        assert!(!is_memdev("mem") && !is_memdev("memory0"));
        assert!(node_number("fwctl2") < node_number("fwctl10"));
        assert!(is_node_name("fwctl0") && is_node_name("fwctl17"));
        assert!(!is_node_name("fwctl") && !is_node_name("fwctl0.bak") && !is_node_name("uevent"));
    }
}
