//! `fwctl-run serve` under scrape: 1,000 simulated ConnectX through mlx5-diag, `--jobs 2`,
//! the release binary as an operator runs it. Scrapes of `/metrics` (a new connection
//! each, as a scraper's first) are timed twice: while fleet runs follow one another with
//! no pause (`--interval 10ms`, so a run is in flight nearly all the time and both cores
//! are busy with it), and with the exporter idle between runs; gzip'd, as Prometheus
//! asks, and plain, as curl asks. Time to the first byte of
//! the answer and to its last byte; median, 90th and 99th percentile of each; the ratio of
//! in-flight to idle medians. Prints a Markdown table for BENCHMARKS.md.
//!
//! Run with `cargo bench -p fwctl-run --bench serve`.

use fwctl_test_support as common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEVICES: usize = 1_000;
const MIX: &str = "connectx7-healthy=12,connectx6dx-healthy=4,connectx7-hot-module=1,connectx7-pcie-degraded=1,\
                   connectx7-link-down=1,connectx7-fec-errors=1,connectx6dx-old-firmware=1";
const SCRAPES: usize = 400;

struct Exporter {
    child: Child,
    address: String,
    log: std::path::PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(scratch: &Path, interval: &str) -> Self {
        let log = scratch.join(format!("serve-{interval}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
            .arg("serve")
            .arg(common::plugin_dir().join("mlx5-diag.wasm"))
            .args(["--sim-fleet", &format!("{DEVICES}:{MIX}"), "--jobs", "2", "--listen", "127.0.0.1:0"])
            .args(["--interval", interval, "--jitter", "0", "--log-format", "json"])
            .arg("--audit")
            .arg(scratch.join("audit.jsonl"))
            .env("FWCTL_RUN_CACHE_DIR", scratch.join("cache"))
            .env("FWCTL_RUN_STATE_DIR", scratch.join("state"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting fwctl-run serve");
        let mut exporter = Self { child, address: String::new(), log };
        let listening = exporter.wait_for("listening", 1);
        let event: serde_json::Value = serde_json::from_str(&listening).unwrap();
        exporter.address = event["address"].as_str().unwrap().to_string();
        exporter.wait_for("fleet run completed", 1);
        exporter
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap().lines().filter(|l| l.contains("fleet run completed")).count()
    }

    fn wait_for(&mut self, needle: &str, count: usize) -> String {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap();
            let found: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
            if found.len() >= count {
                return found[count - 1].to_string();
            }
            assert!(self.child.try_wait().unwrap().is_none(), "serve exited:\n{text}");
            assert!(started.elapsed() < Duration::from_secs(300), "no {needle:?}:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One scrape on a new connection: (time to first byte, time to last byte, bytes).
    fn scrape(&self, encoding: &str) -> (Duration, Duration, usize) {
        let started = Instant::now();
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .write_all(
                format!(
                    "GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept: text/plain;version=0.0.4\r\nAccept-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).unwrap();
        let first_byte = started.elapsed();
        let mut rest = Vec::with_capacity(4 << 20);
        stream.read_to_end(&mut rest).unwrap();
        let last_byte = started.elapsed();
        assert!(rest.starts_with(b"TTP/1.1 200"), "{}", String::from_utf8_lossy(&rest[..rest.len().min(200)]));
        (first_byte, last_byte, rest.len() + 1)
    }
}

struct Timings {
    first: Vec<Duration>,
    last: Vec<Duration>,
    bytes: usize,
    runs_during: usize,
}

fn measure(exporter: &Exporter, encoding: &str) -> Timings {
    for _ in 0..20 {
        exporter.scrape(encoding);
    }
    let runs_before = exporter.runs();
    let (mut first, mut last, mut bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..SCRAPES {
        let (f, l, b) = exporter.scrape(encoding);
        first.push(f);
        last.push(l);
        bytes = b;
        // Spread over several runs, as scrapes are.
        std::thread::sleep(Duration::from_millis(2));
    }
    first.sort();
    last.sort();
    Timings { first, last, bytes, runs_during: exporter.runs() - runs_before }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let (busy, busy_plain) = {
        let exporter = Exporter::start(scratch.path(), "10ms");
        (measure(&exporter, "gzip"), measure(&exporter, "identity"))
    };
    let (idle, idle_plain) = {
        let exporter = Exporter::start(scratch.path(), "1h");
        (measure(&exporter, "gzip"), measure(&exporter, "identity"))
    };
    println!(
        "| {DEVICES} devices, mlx5-diag, --jobs 2 | first byte: median / p90 / p99 | last byte: median / p90 / p99 | body sent | fleet runs completed during the {SCRAPES} scrapes |"
    );
    println!("|---|---|---|---|---|");
    for (label, t) in [
        ("runs in flight back to back, gzip (as Prometheus asks)", &busy),
        ("idle between runs, gzip", &idle),
        ("runs in flight back to back, identity", &busy_plain),
        ("idle between runs, identity", &idle_plain),
    ] {
        println!(
            "| {label} | {} / {} / {} | {} / {} / {} | {:.2} MiB | {} |",
            micros(percentile(&t.first, 0.5)),
            micros(percentile(&t.first, 0.9)),
            micros(percentile(&t.first, 0.99)),
            micros(percentile(&t.last, 0.5)),
            micros(percentile(&t.last, 0.9)),
            micros(percentile(&t.last, 0.99)),
            t.bytes as f64 / (1 << 20) as f64,
            t.runs_during,
        );
    }
    let ratio = |a: &[Duration], b: &[Duration]| percentile(a, 0.5).as_secs_f64() / percentile(b, 0.5).as_secs_f64();
    println!(
        "\nin flight vs idle, median: first byte {:.2}×, last byte {:.2}×",
        ratio(&busy.first, &idle.first),
        ratio(&busy.last, &idle.last)
    );
}
