//! RPCs per second against the real kernel: inside the Linux 7.3 VM of the kernel test
//! (`cxl_test`'s mock memdevs, QEMU TCG), a plugin's loop of Get Supported Features
//! through `fwctl-run` against a native loop of the same `FWCTL_RPC` on the same node.
//!
//! Both loops time themselves (the plugin with the monotonic clock WASI gives it), so
//! neither figure includes process start or plugin compilation. Rounds alternate native
//! and plugin so that drift in the emulator hits both alike; each figure is the median.
//! Prints a Markdown table for BENCHMARKS.md.
//!
//! Run with `cargo bench -p fwctl-run --bench kernel_vm` (builds the kernel once, like the
//! kernel VM test, and boots it once).

use fwctl_test_support::vm::{Scenario, Shape, boot, release_build};

const RPCS: u64 = 5_000;
const ROUNDS: usize = 5;
const NODE: &str = "fwctl0";
/// Get Supported Features asking for no entries: the 16-byte header and an 8-byte payload.
const GSF_HEADER_ONLY: &str = "000500000000000008000000000000000000000000000000";
/// Room for the response header and the GSF header.
const OUT_LEN: &str = "16";

fn main() {
    let native =
        release_build(&["-p", "fwctl-devices", "--example", "native_rpc_loop"], "release/examples/native_rpc_loop");
    let mut s = Scenario::default();
    s.binary(&native);
    s.step("load-cxl-test", &["modprobe", "cxl_test"]);
    s.step("load-cxl-mock-mem", &["modprobe", "cxl_mock_mem"]);
    s.shell_step("wait-for-nodes", "wait_for '/dev/fwctl/fwctl*' 60 && sleep 2");
    let node = format!("/dev/fwctl/{NODE}");
    let count = RPCS.to_string();
    let budget = (RPCS + 1).to_string();
    // A first plugin run fills the compile cache; the rounds then measure warm runs.
    s.step("warm-up", &plugin_args(&count, &budget));
    for round in 0..ROUNDS {
        s.step(
            &format!("native-{round}"),
            &["native_rpc_loop", &node, &count, "debug-read-only", GSF_HEADER_ONLY, OUT_LEN],
        );
        s.step(&format!("plugin-{round}"), &plugin_args(&count, &budget));
    }

    let vm = boot(Shape::TwoNumaNodes, &s);
    assert!(vm.completed, "the benchmark VM did not finish\n{}", vm.context());
    for step in ["load-cxl-test", "load-cxl-mock-mem", "wait-for-nodes", "warm-up"] {
        vm.expect_rc(step, 0);
    }
    let native: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let out = &vm.expect_rc(&format!("native-{round}"), 0).output;
            let ns = out.trim().strip_prefix(&format!("rpcs={RPCS} ns=")).and_then(|n| n.parse::<f64>().ok());
            ns.unwrap_or_else(|| panic!("native loop printed `{out}`")) / RPCS as f64
        })
        .collect();
    let plugin: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let report = vm.json(&format!("plugin-{round}"), 0);
            let run = &report["runs"][0];
            assert_eq!(run["rpcs"], RPCS, "every RPC of the loop went through: {report:#}");
            run["facts"]["loop-ns"].as_f64().unwrap_or_else(|| panic!("no loop-ns fact: {report:#}")) / RPCS as f64
        })
        .collect();
    let rounds = |values: &[f64]| values.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(" / ");
    let each = format!("native {} ns, plugin {} ns", rounds(&native), rounds(&plugin));
    let (native, plugin) = (median(native), median(plugin));

    println!(
        "Linux {} under QEMU TCG, cxl_test mock memdev {NODE}, {RPCS} RPCs per loop, median of {ROUNDS}:",
        fwctl_test_support::vm::kernel().release
    );
    println!();
    println!("| measurement | value | ratio |");
    println!("|---|---|---|");
    println!(
        "| native loop: `FWCTL_RPC` (Get Supported Features, header only) straight from Rust | {:.0} ns/call ({:.0} RPC/s) | 1.0 |",
        native,
        1e9 / native
    );
    println!(
        "| the same RPC from a plugin through `fwctl-run` (grant check, audit line per RPC) | {:.0} ns/call ({:.0} RPC/s) | {:.2}× native |",
        plugin,
        1e9 / plugin,
        plugin / native
    );
    println!();
    println!("Each round, in order: {each}.");
}

fn plugin_args(count: &str, budget: &str) -> Vec<String> {
    [
        "fwctl-run",
        "/plugins/hostile.wasm",
        "--kernel",
        "--device",
        NODE,
        "--json",
        "--rpc-budget",
        budget,
        "--",
        "rpc-loop",
        count,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
