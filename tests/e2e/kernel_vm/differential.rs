//! Thousands of generated CXL fwctl requests, sent in the same order to a real `cxl_test`
//! node in the Linux 7.3 VM and to the simulator's `cxl-test-mock` profile from the same
//! initial state: every answer must be the same errno, or the same length and the same
//! bytes in the whole output buffer (pre-filled with a marker), and the taint bit must end
//! the same. A fixed seed keeps the corpus reproducible; a fresh one, printed, widens it
//! on every run. A corpus that finds a difference is written out to be kept as a
//! regression file.

use std::sync::Arc;

use fwctl_run::devices::differential::{MARKER, Request, answer_line, corpus};
use fwctl_run::devices::sim::{Fleet, SimBackend};
use fwctl_run::devices::{Backend, Credentials};
use fwctl_test_support::vm::{Scenario, Shape, boot, release_build};

use super::TAINT_FWCTL;
use crate::common::workspace_root;

/// The corpus every run sends (at least 5,000 requests), and how many more a fresh seed adds.
const FIXED_SEED: u64 = 0x5eed_f7c1;
const FIXED: usize = 5_000;
const FRESH: usize = 1_000;

/// The simulator's answers to `requests`, in order, from a fresh `cxl-test-mock` device,
/// for a caller with CAP_SYS_RAWIO (the guest runs as root); and whether it tainted.
fn simulator_answers(requests: &[Request]) -> (Vec<String>, bool) {
    let fleet = Fleet::builtin("cxl-test-mock").expect("a built-in profile").expect("it parses");
    let sim = Arc::new(SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio: true }).unwrap());
    let device = sim.discover().unwrap().remove(0);
    let mut handle = sim.open(&device).unwrap();
    let answers = requests
        .iter()
        .map(|request| {
            let mut output = vec![MARKER; request.out_len];
            let result = handle.rpc(request.scope, &request.bytes, &mut output);
            answer_line(result, &output)
        })
        .collect();
    (answers, sim.tainted())
}

/// Every request of the corpora kept in `regressions/`, file by file in name order.
fn regressions() -> Vec<Request> {
    let dir = workspace_root().join("tests/e2e/kernel_vm/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines()
                .map(|line| Request::from_line(line).unwrap_or_else(|| panic!("{}: `{line}`", file.display())))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn generated_rpcs_get_the_same_answers_from_the_kernel_and_the_simulator() {
    let fresh_seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("differential corpus: fixed seed {FIXED_SEED:#x} ({FIXED}), fresh seed {fresh_seed:#x} ({FRESH})");
    // The kept regressions first (each found a difference once), then the generated ones.
    let mut requests = regressions();
    requests.extend(corpus(FIXED_SEED, FIXED));
    requests.extend(corpus(fresh_seed, FRESH));
    let lines: String = requests.iter().map(|r| r.to_line() + "\n").collect();

    let runner = release_build(&["-p", "fwctl-devices", "--example", "rpc_corpus"], "release/examples/rpc_corpus");
    let mut s = Scenario::default();
    s.binary(&runner);
    s.file("/corpus.txt", lines.clone());
    s.step("load-cxl-test", &["modprobe", "cxl_test"]);
    s.step("load-cxl-mock-mem", &["modprobe", "cxl_mock_mem"]);
    s.shell_step("wait-for-nodes", "wait_for '/dev/fwctl/fwctl*' 60 && sleep 2 && ls /sys/class/fwctl");
    s.step("corpus", &["rpc_corpus", "/dev/fwctl/fwctl0", "/corpus.txt"]);
    s.step("taint-after", &["cat", "/proc/sys/kernel/tainted"]);
    let vm = boot(Shape::TwoNumaNodes, &s);
    assert!(vm.completed, "the guest did not finish the corpus\n{}", vm.context());
    let kernel = vm.expect_rc("corpus", 0);
    let kernel_answers: Vec<&str> = kernel.output.lines().collect();
    let kernel_tainted = vm.expect_rc("taint-after", 0).output.trim().parse::<u64>().unwrap() & TAINT_FWCTL != 0;

    let (sim_answers, sim_tainted) = simulator_answers(&requests);
    assert_eq!(kernel_answers.len(), requests.len(), "the guest answered every request\n{}", vm.context());
    if let Some(at) = (0..requests.len()).find(|&i| kernel_answers[i] != sim_answers[i]) {
        let keep = workspace_root().join(format!("target/e2e/differential-{fresh_seed:x}.corpus"));
        std::fs::write(&keep, &lines).unwrap();
        let kept = requests.len() - FIXED - FRESH;
        let seed = if at < kept {
            0
        } else if at < kept + FIXED {
            FIXED_SEED
        } else {
            fresh_seed
        };
        panic!(
            "request {at} (seed {seed:#x}) differs:\n  request   {}\n  kernel    {}\n  simulator {}\n\
             the corpus is in {} (keep it under tests/e2e/kernel_vm/regressions/)",
            requests[at].to_line(),
            kernel_answers[at],
            sim_answers[at],
            keep.display()
        );
    }
    assert_eq!(kernel_tainted, sim_tainted, "the taint bit after the corpus");
    let refused = kernel_answers.iter().filter(|a| a.starts_with("err")).count();
    println!(
        "differential corpus: all {} answers agree ({} regression, {FIXED} fixed-seed, {FRESH} fresh-seed requests; {refused} errnos, {} answered), taint bit {}",
        requests.len(),
        requests.len() - FIXED - FRESH,
        requests.len() - refused,
        if kernel_tainted { "set on both" } else { "clear on both" }
    );
}
