//! The mlx5 driver's allow-list, read from the kernel's own source at test time, against
//! the table the host and the simulator use (`fwctl_proto::mlx5::commands`). There is no
//! mlx5 device to boot against, so the source is the reference: every one of the 65,536
//! opcodes, with op_mod 0 and 1, must get the same lowest scope (or none) from both. A
//! kernel that changes `mlx5ctl_validate_rpc()` makes this fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use fwctl_run::proto::mlx5::commands::{DriverGate, gate};

/// Debian's `linux-source-7.3`, which `tests/vm/install-deps.sh` installs.
const SOURCE: &str = "/usr/src/linux-source-7.3.tar.xz";

/// `drivers/fwctl/mlx5/main.c` and `include/linux/mlx5/mlx5_ifc.h` from the tarball.
fn kernel_files() -> (String, String) {
    assert!(
        Path::new(SOURCE).exists(),
        "{SOURCE} is missing: the kernel source is the reference for the mlx5 allow-list \
         (tests/vm/install-deps.sh installs linux-source-7.3; cargo xtask test and .ci/run run it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .args(["-xf", SOURCE, "-C"])
        .arg(dir.path())
        .args(["--wildcards", "*/drivers/fwctl/mlx5/main.c", "*/include/linux/mlx5/mlx5_ifc.h"])
        .status()
        .expect("running tar");
    assert!(status.success(), "extracting from {SOURCE} failed ({status})");
    let root = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    (read("drivers/fwctl/mlx5/main.c"), read("include/linux/mlx5/mlx5_ifc.h"))
}

/// `MLX5_CMD_OP*_NAME = 0xNNN` of the opcode enums.
fn opcode_values(ifc: &str) -> BTreeMap<String, u16> {
    ifc.lines()
        .filter_map(|line| {
            let (name, value) = line.trim().trim_end_matches(',').split_once('=')?;
            let name = name.trim();
            let value = value.trim().strip_prefix("0x")?;
            (name.starts_with("MLX5_CMD_OP")).then(|| Some((name.to_string(), u16::from_str_radix(value, 16).ok()?)))?
        })
        .collect()
}

/// The lowest scope per opcode as `mlx5ctl_validate_rpc()` decides it; the op_mod rule
/// (0 writes at every scope, anything else reads from debug-read-only) for the register
/// accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelRule {
    Gate(DriverGate),
    ByOpMod,
}

fn kernel_rules(main_c: &str, values: &BTreeMap<String, u16>) -> BTreeMap<u16, KernelRule> {
    let body = &main_c[main_c.find("static bool mlx5ctl_validate_rpc").expect("mlx5ctl_validate_rpc() in main.c")..];
    let body = &body[..body.find("\n}\n").expect("the end of mlx5ctl_validate_rpc()")];
    let mut rules = BTreeMap::new();
    let mut pending: Vec<u16> = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(label) = line.strip_prefix("case ").and_then(|l| l.strip_suffix(':')) {
            let value = values.get(label).unwrap_or_else(|| panic!("{label} is not in mlx5_ifc.h"));
            pending.push(*value);
            continue;
        }
        let rule = if line.starts_with("return true") {
            KernelRule::Gate(DriverGate::Configuration)
        } else if line.starts_with("return scope >= FWCTL_RPC_DEBUG_READ_ONLY") {
            KernelRule::Gate(DriverGate::DebugReadOnly)
        } else if line.starts_with("return scope >= FWCTL_RPC_DEBUG_WRITE") {
            KernelRule::Gate(DriverGate::DebugWrite)
        } else if line.starts_with("if (op_mod == 0)") {
            KernelRule::ByOpMod
        } else {
            continue;
        };
        for opcode in pending.drain(..) {
            rules.insert(opcode, rule);
        }
    }
    assert!(pending.is_empty(), "case labels without a return: {pending:x?}");
    rules
}

#[test]
fn the_mlx5_allow_list_is_the_one_in_the_kernel_source_for_every_opcode() {
    let (main_c, ifc) = kernel_files();
    // The driver names some opcodes itself, in an enum at the top of main.c.
    let values = opcode_values(&format!("{ifc}\n{main_c}"));
    let rules = kernel_rules(&main_c, &values);
    assert!(rules.len() > 90, "the switch has its case labels: {}", rules.len());
    let mut differences = Vec::new();
    for opcode in 0..=u16::MAX {
        for op_mod in [0u16, 1] {
            let kernel = match rules.get(&opcode) {
                None => None,
                Some(KernelRule::Gate(g)) => Some(*g),
                Some(KernelRule::ByOpMod) if op_mod == 0 => Some(DriverGate::Configuration),
                Some(KernelRule::ByOpMod) => Some(DriverGate::DebugReadOnly),
            };
            let ours = gate(opcode, op_mod);
            if kernel != ours {
                differences.push(format!("opcode {opcode:#06x} op_mod {op_mod}: kernel {kernel:?}, ours {ours:?}"));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "the table differs from Linux 7.3's mlx5ctl_validate_rpc():\n{}",
        differences.join("\n")
    );
    println!("mlx5 allow-list: {} opcodes allowed by the kernel source, all 65,536 × 2 op_mods agree", rules.len());
}
