//! Fleet scale: `fwctl-run fleet mlx5-diag.wasm --sim-fleet N` over 100, 1,000 and 10,000
//! simulated ConnectX devices with `--jobs` 1 and 2, through the release binary as an
//! operator runs it (JSON lines into a file, every RPC on the audit trail). Not into a
//! pipe this bench drains: 10,000 devices write ~200 MB of JSON lines, and reading them
//! into memory here took a share of the same two cores the fleet runs on.
//!
//! For each configuration: wall time (the binary's own figure, from the start of the first
//! check to the end of the last, and the whole process's), per-device cost, and peak
//! resident memory (the summary's `VmHWM`). Two reference rows per size say where the
//! time and memory go: the same fleet with a plugin that returns at once (the cost of a
//! sandbox per device, without the plugin's work), and with no check at all (the memory
//! of the simulated devices themselves, which a real host does not have). Each figure is
//! the median of the rounds; ratios are between figures of this one run. Prints a
//! Markdown table for BENCHMARKS.md.
//!
//! Run with `cargo bench -p fwctl-run --bench fleet`.

use fwctl_test_support as common;

use std::process::Command;
use std::time::Instant;

use serde_json::Value;

/// Only mlx5 profiles: every device gets a check.
const MIX: &str = "connectx7-healthy=12,connectx6dx-healthy=4,connectx7-hot-module=1,connectx7-pcie-degraded=1,\
                   connectx7-link-down=1,connectx7-fec-errors=1,connectx6dx-old-firmware=1";
const SIZES: &[usize] = &[100, 1_000, 10_000];
const JOBS: &[usize] = &[1, 2];
const ROUNDS: usize = 3;

/// What runs on each device.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Work {
    /// mlx5-diag, the real diagnostic.
    Diagnose,
    /// A plugin that returns at once: one sandbox per device and nothing else.
    Nothing,
    /// No plugin handles the devices: discovery and the simulated devices only.
    NoCheck,
}

struct Figures {
    work: Work,
    devices: usize,
    jobs: usize,
    fleet_s: f64,
    process_s: f64,
    peak_mib: f64,
    rpcs: u64,
}

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    // Untimed runs fill the compile cache, as on any host after the first run.
    for work in [Work::Diagnose, Work::Nothing] {
        run(work, scratch.path(), 10, 1);
    }
    let median = |work, devices, jobs| {
        let mut rounds: Vec<Figures> = (0..ROUNDS).map(|_| run(work, scratch.path(), devices, jobs)).collect();
        rounds.sort_by(|a, b| a.fleet_s.total_cmp(&b.fleet_s));
        rounds.swap_remove(ROUNDS / 2)
    };
    let mut rows = Vec::new();
    for &devices in SIZES {
        for &jobs in JOBS {
            rows.push(median(Work::Diagnose, devices, jobs));
        }
        if devices >= 1_000 {
            rows.push(median(Work::Nothing, devices, 2));
            rows.push(median(Work::NoCheck, devices, 2));
        }
    }
    let base = rows.iter().find(|r| r.devices == 1_000 && r.jobs == 1).unwrap();
    let (base_per_device, base_rss) = (base.fleet_s / 1_000.0, rows[0].peak_mib);
    println!(
        "| work | devices | --jobs | fleet wall | process wall | per device | RPCs | peak RSS | per-device cost vs 1,000 × 1 job | peak RSS vs 100 devices × 1 job |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let per_device = r.fleet_s / r.devices as f64;
        let work = match r.work {
            Work::Diagnose => "mlx5-diag",
            Work::Nothing => "plugin that returns at once",
            Work::NoCheck => "no check (simulated devices only)",
        };
        println!(
            "| {work} | {} | {} | {:.3} s | {:.3} s | {:.1} µs | {} | {:.1} MiB | {:.2}× | {:.2}× |",
            group(r.devices),
            r.jobs,
            r.fleet_s,
            r.process_s,
            per_device * 1e6,
            group(r.rpcs as usize),
            r.peak_mib,
            per_device / base_per_device,
            r.peak_mib / base_rss,
        );
    }
    peak_by_format(scratch.path());
}

/// Peak resident memory of one 10,000-device fleet (mlx5-diag, `--jobs 2`) per output
/// format: every format streams or keeps a compact form, so none should hold the results.
fn peak_by_format(scratch: &std::path::Path) {
    const DEVICES: usize = 10_000;
    println!("\n| output (10,000 devices, mlx5-diag, --jobs 2) | peak RSS | process wall |");
    println!("|---|---|---|");
    let textfile = scratch.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    let formats: [(&str, Vec<String>); 5] = [
        ("--format human", vec!["--format".into(), "human".into()]),
        ("--format json", vec!["--format".into(), "json".into()]),
        ("--format jsonl", vec!["--format".into(), "jsonl".into()]),
        ("--format openmetrics", vec!["--format".into(), "openmetrics".into()]),
        (
            "--format jsonl --textfile DIR",
            vec!["--format".into(), "jsonl".into(), "--textfile".into(), textfile.display().to_string()],
        ),
    ];
    for (label, args) in formats {
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
            .arg("fleet")
            .arg(common::plugin_dir().join("mlx5-diag.wasm"))
            .args(["--sim-fleet", &format!("{DEVICES}:{MIX}"), "--jobs", "2"])
            .args(&args)
            .arg("--audit")
            .arg(scratch.join("audit.jsonl"))
            .env("FWCTL_RUN_CACHE_DIR", scratch.join("cache"))
            .env("FWCTL_RUN_STATE_DIR", scratch.join("state"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("running fwctl-run fleet");
        let (output, peak) = common::wait_measuring_peak_rss(child);
        let exit = output.status;
        assert!(exit.code().is_some_and(|c| c <= 1), "{label}: {exit}");
        println!(
            "| `{label}` | {:.1} MiB | {:.2} s |",
            peak as f64 / (1 << 20) as f64,
            started.elapsed().as_secs_f64()
        );
    }
}

/// One fleet run; the figures come from its JSON-lines summary.
fn run(work: Work, scratch: &std::path::Path, devices: usize, jobs: usize) -> Figures {
    let audit = scratch.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let (plugin, plugin_args): (&str, &[&str]) = match work {
        Work::Diagnose => ("mlx5-diag.wasm", &[]),
        Work::Nothing => ("hostile.wasm", &["--", "nothing", "only=none"]),
        Work::NoCheck => ("cxl-features.wasm", &[]),
    };
    let results = scratch.join("results.jsonl");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .arg("fleet")
        .arg(common::plugin_dir().join(plugin))
        .args(["--sim-fleet", &format!("{devices}:{MIX}"), "--jobs", &jobs.to_string(), "--format", "jsonl"])
        .arg("--audit")
        .arg(&audit)
        .args(plugin_args)
        .env("FWCTL_RUN_CACHE_DIR", scratch.join("cache"))
        // Plugin state kept as an operator keeps it (mlx5-diag saves its counters).
        .env("FWCTL_RUN_STATE_DIR", scratch.join("state"))
        .stdout(std::fs::File::create(&results).unwrap())
        .output()
        .expect("running fwctl-run fleet");
    let process_s = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.last().expect("a summary line");
    assert_eq!(summary["record"], "summary", "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(summary["devices"], devices as u64);
    assert_eq!(summary["failed"], 0, "every check finished: {summary}");
    Figures {
        work,
        devices,
        jobs,
        fleet_s: summary["wall_ms"].as_f64().unwrap() / 1e3,
        process_s,
        peak_mib: summary["peak_rss_bytes"].as_f64().unwrap() / (1 << 20) as f64,
        rpcs: lines.iter().filter_map(|l| l["rpcs"].as_u64()).sum(),
    }
}

/// `10000` → `10,000`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
