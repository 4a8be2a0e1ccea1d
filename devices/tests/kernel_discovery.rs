//! Kernel discovery against fake sysfs trees shaped like real ones.

use std::os::unix::fs::symlink;
use std::path::Path;

use fwctl_devices::kernel::KernelBackend;
use fwctl_devices::{Backend, DeviceKind};
use nix::errno::Errno;

/// Creates `sys/devices/<parent>` with a `driver` link and `sys/class/fwctl/<node>/device`
/// pointing at it, as the driver core lays them out.
fn add_node(sys: &Path, node: &str, parent_path: &str, driver: Option<&str>) {
    let parent = sys.join("devices").join(parent_path);
    std::fs::create_dir_all(&parent).unwrap();
    if let Some(driver) = driver {
        let driver_dir = sys.join("bus/drivers").join(driver);
        std::fs::create_dir_all(&driver_dir).unwrap();
        symlink(&driver_dir, parent.join("driver")).unwrap();
    }
    let class = sys.join("class/fwctl").join(node);
    std::fs::create_dir_all(&class).unwrap();
    symlink(&parent, class.join("device")).unwrap();
}

#[test]
fn discovers_mlx5_and_cxl_nodes_with_their_parents() {
    let root = tempfile::tempdir().unwrap();
    let sys = root.path().join("sys");
    add_node(&sys, "fwctl10", "pci0000:00/0000:00:03.0/0000:5e:00.1", Some("mlx5_core"));
    add_node(&sys, "fwctl2", "pci0000:00/0000:00:02.0/0000:3b:00.0", Some("mlx5_core"));
    add_node(
        &sys,
        "fwctl3",
        "platform/ACPI0017:00/root0/port1/pci0000:0c/0000:0c:00.0/0000:0d:00.0/mem2",
        Some("cxl_mem"),
    );
    let backend = KernelBackend::with_roots(&sys, root.path().join("dev"));
    let devices = backend.discover().unwrap();

    let names: Vec<_> = devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["fwctl2", "fwctl3", "fwctl10"], "numeric node order");

    let nic = &devices[0];
    assert_eq!(nic.kind, DeviceKind::Mlx5);
    assert_eq!(nic.parent, "0000:3b:00.0");
    assert_eq!(nic.pci_address.as_deref(), Some("0000:3b:00.0"));
    assert_eq!(nic.cxl_memdev, None);
    assert_eq!(nic.driver.as_deref(), Some("mlx5_core"));
    assert_eq!(nic.node, root.path().join("dev/fwctl/fwctl2").display().to_string());
    assert!(!nic.simulated);

    let cxl = &devices[1];
    assert_eq!(cxl.kind, DeviceKind::Cxl);
    assert_eq!(cxl.parent, "mem2");
    assert_eq!(cxl.cxl_memdev.as_deref(), Some("mem2"));
    assert_eq!(cxl.pci_address.as_deref(), Some("0000:0d:00.0"), "the endpoint above the memdev");
    assert_eq!(cxl.driver.as_deref(), Some("cxl_mem"));
}

#[test]
fn a_node_of_unknown_kind_is_skipped_with_a_warning() {
    let root = tempfile::tempdir().unwrap();
    let sys = root.path().join("sys");
    add_node(&sys, "fwctl0", "pci0000:00/0000:00:04.0/0000:11:00.0", Some("mystery_nic"));
    add_node(&sys, "fwctl1", "pci0000:00/0000:00:05.0/0000:12:00.0", None);
    let (devices, warnings) = KernelBackend::with_roots(&sys, root.path().join("dev")).discover_with_warnings().unwrap();
    assert!(devices.is_empty());
    assert_eq!(warnings.len(), 2);
    assert!(warnings[0].contains("fwctl0: skipped, unknown device type (parent 0000:11:00.0, driver mystery_nic)"), "{warnings:?}");
    assert!(warnings[1].contains("driver none"), "{warnings:?}");
}

#[test]
fn no_class_directory_means_no_devices() {
    let root = tempfile::tempdir().unwrap();
    let backend = KernelBackend::with_roots(root.path().join("sys"), root.path().join("dev"));
    assert_eq!(backend.discover().unwrap(), vec![]);
}

#[test]
fn opening_fails_with_the_kernels_errno() {
    let root = tempfile::tempdir().unwrap();
    let sys = root.path().join("sys");
    add_node(&sys, "fwctl0", "pci0000:00/0000:00:02.0/0000:3b:00.0", Some("mlx5_core"));
    let dev = root.path().join("dev");
    let backend = KernelBackend::with_roots(&sys, &dev);
    let device = backend.discover().unwrap().remove(0);

    // The node vanished between discovery and open.
    assert_eq!(backend.open(&device).err(), Some(Errno::ENOENT));

    // A regular file where the node should be: opens, but the ioctls are not its own.
    std::fs::create_dir_all(dev.join("fwctl")).unwrap();
    std::fs::write(dev.join("fwctl/fwctl0"), b"").unwrap();
    let mut handle = backend.open(&device).unwrap();
    assert_eq!(handle.info().err(), Some(Errno::ENOTTY));
    assert_eq!(handle.rpc(1, &[0; 16], &mut [0; 16]).err(), Some(Errno::ENOTTY));
}
