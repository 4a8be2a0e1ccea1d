//! Kernel discovery against fake sysfs trees shaped like real ones.
//!
//! The trees follow the driver core's layout, relative links included: a device lives
//! under `devices/`, its `driver` link points into `bus/<bus>/drivers/`, the fwctl class
//! device sits below its parent as `<parent>/fwctl/fwctlN` with `device -> ../../../<parent>`,
//! and `class/fwctl/fwctlN` links to that directory.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use fwctl_devices::kernel::KernelBackend;
use fwctl_devices::{Backend, DeviceDescriptor, DeviceKind};
use nix::errno::Errno;

/// A temporary `/sys` and `/dev`.
struct FakeSystem {
    _dir: tempfile::TempDir,
    sys: PathBuf,
    dev: PathBuf,
}

impl FakeSystem {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (sys, dev) = (dir.path().join("sys"), dir.path().join("dev"));
        std::fs::create_dir_all(&sys).unwrap();
        std::fs::create_dir_all(&dev).unwrap();
        Self { _dir: dir, sys, dev }
    }

    fn backend(&self) -> KernelBackend {
        KernelBackend::with_roots(&self.sys, &self.dev)
    }

    /// `sys/devices/<path>`, bound to `driver` on `bus` when given.
    fn device(&self, path: &str, bus: &str, driver: Option<&str>) {
        let dir = self.sys.join("devices").join(path);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(driver) = driver {
            std::fs::create_dir_all(self.sys.join("bus").join(bus).join("drivers").join(driver)).unwrap();
            let up = "../".repeat(path.split('/').count() + 1);
            symlink(format!("{up}bus/{bus}/drivers/{driver}"), dir.join("driver")).unwrap();
        }
    }

    /// Lists the device at `path` on `bus` (`sys/bus/<bus>/devices/<name>`), as the driver
    /// core does for every device on a bus.
    fn on_bus(&self, path: &str, bus: &str) {
        let devices = self.sys.join("bus").join(bus).join("devices");
        std::fs::create_dir_all(&devices).unwrap();
        let name = path.rsplit('/').next().unwrap();
        symlink(format!("../../../devices/{path}"), devices.join(name)).unwrap();
    }

    /// The fwctl class device `node` below the device at `parent`.
    fn fwctl(&self, node: &str, parent: &str) {
        let dir = self.sys.join("devices").join(parent).join("fwctl").join(node);
        std::fs::create_dir_all(&dir).unwrap();
        let parent_name = parent.rsplit('/').next().unwrap();
        symlink(format!("../../../{parent_name}"), dir.join("device")).unwrap();
        std::fs::write(dir.join("dev"), "239:0\n").unwrap();
        let class = self.sys.join("class/fwctl");
        std::fs::create_dir_all(&class).unwrap();
        symlink(format!("../../devices/{parent}/fwctl/{node}"), class.join(node)).unwrap();
    }

    /// A regular file where `/dev/fwctl/<node>` should be: it opens, but knows no ioctls.
    fn regular_file_node(&self, node: &str) {
        std::fs::create_dir_all(self.dev.join("fwctl")).unwrap();
        std::fs::write(self.dev.join("fwctl").join(node), b"").unwrap();
    }

    fn node_path(&self, node: &str) -> String {
        self.dev.join("fwctl").join(node).display().to_string()
    }
}

fn kernel_device(
    name: &str,
    kind: DeviceKind,
    parent: &str,
    pci_address: Option<&str>,
    cxl_memdev: Option<&str>,
    driver: &str,
    node: String,
) -> DeviceDescriptor {
    DeviceDescriptor {
        name: name.into(),
        kind,
        parent: parent.into(),
        pci_address: pci_address.map(Into::into),
        cxl_memdev: cxl_memdev.map(Into::into),
        driver: Some(driver.into()),
        rdma_device: None,
        node,
        model: None,
        simulated: false,
        serial: None,
    }
}

#[test]
fn discovers_mlx5_and_cxl_nodes_with_every_field() {
    let fake = FakeSystem::new();

    // mlx5: the fwctl parent is the PCI function itself (`&mdev->pdev->dev`); the
    // `mlx5_core.fwctl.N` auxiliary device the fwctl driver binds to is only a sibling.
    let pf0 = "pci0000:00/0000:00:02.0/0000:3b:00.0";
    fake.device(pf0, "pci", Some("mlx5_core"));
    fake.device(&format!("{pf0}/mlx5_core.fwctl.0"), "auxiliary", Some("mlx5_fwctl.mlx5_fwctl"));
    fake.fwctl("fwctl2", pf0);
    // Its RDMA device, as mlx5_ib registers it on the function (`<pci>/infiniband/mlx5_0`).
    std::fs::create_dir_all(fake.sys.join("devices").join(pf0).join("infiniband/mlx5_0")).unwrap();
    let pf1 = "pci0000:00/0000:00:02.0/0000:3b:00.1";
    fake.device(pf1, "pci", Some("mlx5_core"));
    fake.device(&format!("{pf1}/mlx5_core.fwctl.1"), "auxiliary", Some("mlx5_fwctl.mlx5_fwctl"));
    fake.fwctl("fwctl10", pf1);
    // Its node opens but answers no ioctl: the kind must come from the driver instead.
    fake.regular_file_node("fwctl10");

    // CXL on real hardware: the memdev sits below its PCI endpoint (behind a root port).
    let endpoint = "pci0000:34/0000:34:00.0/0000:35:00.0";
    fake.device("pci0000:34/0000:34:00.0", "pci", Some("pcieport"));
    fake.device(endpoint, "pci", Some("cxl_pci"));
    fake.device(&format!("{endpoint}/mem0"), "cxl", Some("cxl_mem"));
    fake.fwctl("fwctl3", &format!("{endpoint}/mem0"));

    // CXL under cxl_test: the memdev's parent is a mock platform device, no PCI at all.
    let mock = "platform/cxl_host_bridge.0/cxl_root_port.0/cxl_switch_uport.0/cxl_switch_dport.0/cxl_mem.0";
    fake.device(mock, "platform", Some("cxl_mock_mem"));
    fake.device(&format!("{mock}/mem2"), "cxl", Some("cxl_mem"));
    fake.fwctl("fwctl4", &format!("{mock}/mem2"));

    let backend = fake.backend();
    assert!(backend.has_devices());
    let (devices, warnings) = backend.discover_with_warnings().unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        devices,
        [
            DeviceDescriptor {
                rdma_device: Some("mlx5_0".into()),
                ..kernel_device(
                    "fwctl2",
                    DeviceKind::Mlx5,
                    "0000:3b:00.0",
                    Some("0000:3b:00.0"),
                    None,
                    "mlx5_core",
                    fake.node_path("fwctl2"),
                )
            },
            kernel_device(
                "fwctl3",
                DeviceKind::Cxl,
                "mem0",
                Some("0000:35:00.0"),
                Some("mem0"),
                "cxl_mem",
                fake.node_path("fwctl3"),
            ),
            kernel_device("fwctl4", DeviceKind::Cxl, "mem2", None, Some("mem2"), "cxl_mem", fake.node_path("fwctl4")),
            kernel_device(
                "fwctl10",
                DeviceKind::Mlx5,
                "0000:3b:00.1",
                Some("0000:3b:00.1"),
                None,
                "mlx5_core",
                fake.node_path("fwctl10"),
            ),
        ],
        "numeric node order (fwctl2 before fwctl10) and every field"
    );
    assert_eq!(backend.discover().unwrap(), devices, "discover() is the same list");
    assert_eq!(backend.name(), "kernel");
}

#[test]
fn a_devices_serial_comes_from_the_memdev_or_the_boards_vpd() {
    let fake = FakeSystem::new();
    let nic = "pci0000:3a/0000:3a:00.0/0000:3b:00.0";
    fake.device(nic, "pci", Some("mlx5_core"));
    fake.fwctl("fwctl0", nic);
    let keywords = [b"SN".as_slice(), &[6], b"MT0001"].concat();
    let vpd = [&[0x90, keywords.len() as u8, 0][..], &keywords, &[0x78]].concat();
    std::fs::write(fake.sys.join("devices").join(nic).join("vpd"), vpd).unwrap();
    let endpoint = "pci0000:0c/0000:0c:00.0/0000:0d:00.0";
    fake.device(endpoint, "pci", Some("cxl_pci"));
    fake.device(&format!("{endpoint}/mem0"), "cxl", Some("cxl_mem"));
    std::fs::write(fake.sys.join("devices").join(endpoint).join("mem0/serial"), "0x5eed\n").unwrap();
    fake.fwctl("fwctl1", &format!("{endpoint}/mem0"));
    let devices = fake.backend().discover().unwrap();
    let serials: Vec<_> = devices.iter().map(|d| d.serial.as_deref()).collect();
    assert_eq!(serials, [Some("MT0001"), Some("0x5eed")]);
}

#[test]
fn a_node_of_unknown_kind_is_skipped_with_a_warning() {
    let fake = FakeSystem::new();
    let known = "pci0000:00/0000:00:03.0/0000:5e:00.0";
    fake.device(known, "pci", Some("mlx5_core"));
    fake.fwctl("fwctl0", known);
    let mystery = "pci0000:00/0000:00:04.0/0000:11:00.0";
    fake.device(mystery, "pci", Some("mystery_nic"));
    fake.fwctl("fwctl1", mystery);
    let unbound = "pci0000:00/0000:00:05.0/0000:12:00.0";
    fake.device(unbound, "pci", None);
    fake.fwctl("fwctl2", unbound);

    let backend = fake.backend();
    assert!(backend.has_devices(), "unknown nodes are still real nodes");
    let (devices, warnings) = backend.discover_with_warnings().unwrap();
    assert_eq!(devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["fwctl0"]);
    assert_eq!(
        warnings,
        [
            "fwctl1: skipped, unknown device type (parent 0000:11:00.0, driver mystery_nic)",
            "fwctl2: skipped, unknown device type (parent 0000:12:00.0, driver none)",
        ]
    );
}

#[test]
fn cxl_memdevs_without_a_node_are_named_not_dropped() {
    let fake = FakeSystem::new();
    // QEMU's emulated type-3 device: its Features are all kernel-owned, so no node.
    let qemu = "pci0000:0c/0000:0c:00.0/0000:0d:00.0";
    fake.device(qemu, "pci", Some("cxl_pci"));
    fake.device(&format!("{qemu}/mem0"), "cxl", Some("cxl_mem"));
    fake.on_bus(&format!("{qemu}/mem0"), "cxl");
    // A memdev with a user-changeable Feature, and so a node.
    let mock = "platform/cxl_host_bridge.0/cxl_mem.0";
    fake.device(mock, "platform", Some("cxl_mock_mem"));
    fake.device(&format!("{mock}/mem1"), "cxl", Some("cxl_mem"));
    fake.on_bus(&format!("{mock}/mem1"), "cxl");
    fake.fwctl("fwctl0", &format!("{mock}/mem1"));
    // Other devices on the CXL bus are not memdevs.
    fake.device("platform/ACPI0017:00/root0", "cxl", None);
    fake.on_bus("platform/ACPI0017:00/root0", "cxl");

    let backend = fake.backend();
    assert_eq!(backend.discover().unwrap().iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["fwctl0"]);
    let bare = backend.memdevs_without_fwctl().unwrap();
    assert_eq!(bare.len(), 1, "{bare:?}");
    assert_eq!(bare[0].name, "mem0");
    assert_eq!(bare[0].pci_address.as_deref(), Some("0000:0d:00.0"));

    // No CXL bus at all: nothing to say.
    assert_eq!(FakeSystem::new().backend().memdevs_without_fwctl().unwrap(), vec![]);
}

#[test]
fn no_class_directory_or_an_empty_one_means_no_devices() {
    let fake = FakeSystem::new();
    let backend = fake.backend();
    assert!(!backend.has_devices());
    assert_eq!(backend.discover_with_warnings().unwrap(), (vec![], vec![]));

    std::fs::create_dir_all(fake.sys.join("class/fwctl")).unwrap();
    // Not a node: nothing but `fwctlN` counts.
    std::fs::write(fake.sys.join("class/fwctl/fwctl.stale"), b"").unwrap();
    assert!(!backend.has_devices());
    assert_eq!(backend.discover().unwrap(), vec![]);
}

#[test]
fn opening_fails_with_the_kernels_errno() {
    let fake = FakeSystem::new();
    let pf = "pci0000:00/0000:00:02.0/0000:3b:00.0";
    fake.device(pf, "pci", Some("mlx5_core"));
    fake.fwctl("fwctl0", pf);
    let backend = fake.backend();
    let device = backend.discover().unwrap().remove(0);

    // The node vanished between discovery and open.
    assert_eq!(backend.open(&device).err(), Some(Errno::ENOENT));

    // A regular file where the node should be: it opens, but the ioctls are not its own.
    fake.regular_file_node("fwctl0");
    let mut handle = backend.open(&device).unwrap();
    assert_eq!(handle.info().err(), Some(Errno::ENOTTY));
    assert_eq!(handle.rpc(1, &[0; 16], &mut [0; 16]).err(), Some(Errno::ENOTTY));
}

#[test]
fn a_simulated_descriptor_never_opens_a_real_node() {
    let fake = FakeSystem::new();
    fake.regular_file_node("fwctl0");
    let simulated = DeviceDescriptor {
        name: "fwctl0".into(),
        kind: DeviceKind::Mlx5,
        parent: "0000:3b:00.0".into(),
        pci_address: Some("0000:3b:00.0".into()),
        cxl_memdev: None,
        driver: Some("mlx5_core".into()),
        rdma_device: None,
        node: "simulated:default".into(),
        model: None,
        simulated: true,
        serial: None,
    };
    assert_eq!(fake.backend().open(&simulated).err(), Some(Errno::ENODEV));
}

#[test]
fn the_real_backend_looks_at_sys_and_dev() {
    // Whatever this machine has, asking must not fail or panic.
    let backend = KernelBackend::new();
    let present = Path::new("/sys/class/fwctl").read_dir().is_ok_and(|mut d| d.next().is_some());
    if !present {
        assert!(!backend.has_devices());
        assert_eq!(backend.discover().unwrap(), vec![]);
    }
}
