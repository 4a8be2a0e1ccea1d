//! Benchmarks, measured in one run and printed as a Markdown table for BENCHMARKS.md:
//!
//! 1. the cost of one RPC through the plugin boundary (guest → host → simulator → guest)
//!    against calling the simulator directly from Rust, without and with the audit trail
//!    (two entries per RPC, journaled, turned into JSON lines by the flusher thread);
//! 2. `fwctl-run mlx5-diag.wasm --sim` wall time with a cold and a warm compile cache;
//! 3. concurrency: mlx5-diag on 8 slow simulated devices against 1 (same per-device work);
//! 4. loading a signed 2 MiB component (digest, manifest, signature verification), against
//!    one SHA-256 pass over the same bytes and a warm `fwctl-run` run.
//!
//! Run with `cargo bench -p fwctl-run` (builds the plugins first, like the tests).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fwctl_run::admission::{Admission, Admitted};
use fwctl_run::audit::{AuditLog, AuditTrail, PluginIdentity};
use fwctl_run::devices::Backend;
use fwctl_run::devices::sim::SimBackend;
use fwctl_run::policy::{LimitOverrides, Policy};
use fwctl_run::runner::{Job, run_on_devices};
use fwctl_run::sandbox::{Sandbox, SandboxOptions};
use fwctl_run::signing::TrustStore;

/// The allocator the `fwctl-run` binary runs with, so that in-process figures are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `plugin` through admission as a run does it (built-in policy, no trust store), with
/// `limits` as if given on the command line.
fn admit(plugin: &Path, limits: LimitOverrides) -> Admitted {
    let (policy, trust) = (Policy::builtin(), TrustStore::empty());
    let scratch = tempfile::tempdir().unwrap();
    let audit = Arc::new(AuditLog::open(&scratch.path().join("admission.jsonl")).unwrap());
    let mut admission = Admission::new(&policy, &trust);
    admission.choices.limits = limits;
    admission.admit(plugin.to_str().unwrap(), &audit).unwrap()
}

/// An mlx5 QUERY_ISSI mailbox, the same request the guest sends.
const QUERY_ISSI: [u8; 16] = [0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const RPCS: u64 = 20_000;
const ROUNDS: usize = 5;

fn main() {
    let plugins = build_plugins();
    let direct = median(ROUNDS, || direct_rpcs(RPCS)) / RPCS as u32;
    let boundary = boundary_rpcs(&plugins.join("hostile.wasm"), false, Reach::Quick);
    let audited = boundary_rpcs(&plugins.join("hostile.wasm"), true, Reach::Quick);
    let blocking = boundary_rpcs(&plugins.join("hostile.wasm"), true, Reach::MayBlock);
    let record = median(ROUNDS, || audit_records(RPCS).0) / RPCS as u32;
    let record_in_log = median(ROUNDS, || audit_records(RPCS).1) / RPCS as u32;
    let (cold, warm) = cli_cold_and_warm(&plugins);
    let (verify_2mib, one_sha256, verified_size) = signed_component_checks(&plugins.join("mlx5-diag.wasm"));
    let one = median(ROUNDS, || slow_fleet(&plugins.join("mlx5-diag.wasm"), 1));
    let eight = median(ROUNDS, || slow_fleet(&plugins.join("mlx5-diag.wasm"), 8));

    println!("| measurement | value | ratio |");
    println!("|---|---|---|");
    println!("| RPC, simulator called directly from Rust | {} ns/call | 1.0 |", direct.as_nanos());
    println!(
        "| RPC through the plugin boundary (guest → host → simulator → guest) | {} ns/call | {:.1}× direct |",
        boundary.as_nanos(),
        boundary.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "| the same, each RPC written to the audit trail | {} ns/call | {:.1}× direct, {:.2}× unaudited |",
        audited.as_nanos(),
        audited.as_secs_f64() / direct.as_secs_f64(),
        audited.as_secs_f64() / boundary.as_secs_f64()
    );
    println!(
        "| the same on a device whose RPCs may block, as a kernel node's do (the run on a thread of its own, the RPC in flight where its watchdog sees it) | {} ns/call | {:.1}× direct, {:.2}× audited in place |",
        blocking.as_nanos(),
        blocking.as_secs_f64() / direct.as_secs_f64(),
        blocking.as_secs_f64() / audited.as_secs_f64()
    );
    println!(
        "| one audit record alone, as the RPC waits for it (`sent` + outcome into the journal) | {} ns/RPC | {:.3}× an unaudited boundary RPC |",
        record.as_nanos(),
        record.as_secs_f64() / boundary.as_secs_f64()
    );
    println!(
        "| the same until both JSON lines are in the log file | {} ns/RPC | {:.2}× the journaled record |",
        record_in_log.as_nanos(),
        record_in_log.as_secs_f64() / record.as_secs_f64()
    );
    println!("| `fwctl-run mlx5-diag.wasm --sim`, cold compile cache | {:.0} ms | 1.0 |", ms(cold));
    println!(
        "| `fwctl-run mlx5-diag.wasm --sim`, warm compile cache | {:.0} ms | {:.2}× cold ({:.1}× faster) |",
        ms(warm),
        warm.as_secs_f64() / cold.as_secs_f64(),
        cold.as_secs_f64() / warm.as_secs_f64()
    );
    let mib = verified_size as f64 / (1 << 20) as f64;
    println!("| one SHA-256 pass over a {mib:.1} MiB component | {:.2} ms | 1.0 |", ms(one_sha256));
    println!(
        "| load + verify a signed {mib:.1} MiB component (file digest, manifest, signature) | {:.2} ms | {:.2}× one SHA-256 pass, {:.2}× a warm run |",
        ms(verify_2mib),
        verify_2mib.as_secs_f64() / one_sha256.as_secs_f64(),
        verify_2mib.as_secs_f64() / warm.as_secs_f64()
    );
    println!("| mlx5-diag on 1 device answering each RPC in {SLOW_RPC_MS} ms | {:.0} ms | 1.0 |", ms(one));
    println!(
        "| mlx5-diag on 8 such devices at once | {:.0} ms | {:.2}× one device (sequential would be 8×) |",
        ms(eight),
        eight.as_secs_f64() / one.as_secs_f64()
    );
}

/// Simulated firmware latency for the concurrency measurement.
const SLOW_RPC_MS: u64 = 5;

/// Runs mlx5-diag (already compiled) over `devices` ConnectX devices whose firmware takes
/// [`SLOW_RPC_MS`] per command; returns the wall time of the whole run.
fn slow_fleet(plugin: &Path, devices: usize) -> Duration {
    let profile = include_str!("../../devices/profiles/connectx7-healthy.toml").replacen(
        "[[device]]",
        &format!("[[device]]\nfaults = {{ rpc_delay_ms = {SLOW_RPC_MS} }}"),
        1,
    );
    let fleet = fwctl_run::devices::sim::Fleet::from_toml(&vec![profile; devices].join("\n"), "bench").unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::new(&fleet).unwrap());
    let Admitted { plugin, grant, .. } = admit(plugin, LimitOverrides::default());
    let sandbox = Sandbox::new(&SandboxOptions::default()).unwrap();
    let prepared = sandbox.prepare(&plugin).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let all = backend.discover().unwrap();
    let started = Instant::now();
    let runs = runtime.block_on(run_on_devices(
        &Job { plugin_name: "mlx5-diag", prepared: &prepared, grant: &grant, args: &[], audit: None, state: None },
        backend,
        &all,
    ));
    let elapsed = started.elapsed();
    assert!(runs.iter().all(|r| r.status == fwctl_run::outcome::RunStatus::Completed));
    elapsed
}

/// Writes `count` audit records of a QUERY_ISSI answer, as the host does per RPC.
/// `count` RPCs' audit records (`sent` and outcome) as the host makes them: the time until
/// the last is recorded, and until every line is in the log file.
fn audit_records(count: u64) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).unwrap());
    let who = PluginIdentity { name: "bench".into(), version: "1".into(), digest: "sha256:00".into(), signer: None };
    let trail = AuditTrail::new(log.clone(), who);
    let sim = SimBackend::default_fleet();
    let device = sim.discover().unwrap().remove(0);
    let answer = [0u8; 112];
    let started = Instant::now();
    for _ in 0..count {
        let outcome = fwctl_run::audit::answered(device.kind, &answer, 112);
        let classification = fwctl_run::policy::classify(device.kind, &QUERY_ISSI);
        let attempt = fwctl_run::audit::Attempt {
            scope: fwctl_run::devices::Scope::DebugReadOnly,
            request: &QUERY_ISSI,
            response_capacity: 112,
            classification: &classification,
        };
        // As the host does per RPC: `sent` before the call, the outcome after.
        let sent = trail.record_sent(&device, attempt).expect("on the record");
        trail.record_answer(&device, attempt, sent, outcome, Duration::from_micros(1));
    }
    let recorded = started.elapsed();
    // Dropping the last handle flushes the journal into the file (no fsync, as in a run).
    drop((trail, log));
    (recorded, started.elapsed())
}

/// Pads mlx5-diag to 2 MiB with a custom section, signs it with the TEST-ONLY key, and
/// times what a run does before compiling (digest, manifest, signature), and one SHA-256
/// pass over the same bytes, alternating the two.
fn signed_component_checks(plugin: &Path) -> (Duration, Duration, usize) {
    use fwctl_run::signing::{self, TrustStore};
    let mut bytes = std::fs::read(plugin).unwrap();
    let pad = (2usize << 20) - bytes.len() - 16;
    let mut section = vec![0x00];
    let name = b"padding";
    let payload_len = 1 + name.len() + pad;
    let mut n = payload_len;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        section.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            break;
        }
    }
    section.push(name.len() as u8);
    section.extend_from_slice(name);
    section.resize(section.len() + pad, 0xa5);
    bytes.extend_from_slice(&section);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let key = signing::load_secret_key(&root.join("tests/keys/TEST-ONLY-vendor.key")).unwrap();
    let (signed, _) = signing::sign(&bytes, &key, signing::SignatureLayout::Embedded).unwrap();
    let store = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("tests/keys/TEST-ONLY-vendor.pub"), store.path().join("v.pub")).unwrap();
    std::fs::write(
        store.path().join("trust.toml"),
        "trust-version = 1\n[[signer]]\nname = \"v\"\n[[signer.key]]\nfile = \"v.pub\"\n",
    )
    .unwrap();
    let trust = TrustStore::load(store.path()).unwrap();
    const SAMPLES: usize = 41;
    let (mut checks, mut hashes) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let bytes = signed.clone();
        let started = Instant::now();
        let loaded = fwctl_run::plugin::Plugin::from_bytes(Path::new("bench.wasm"), bytes).unwrap();
        let status = signing::verify(
            &loaded.bytes,
            &loaded.digest,
            loaded.signed_content().unwrap(),
            None,
            &trust,
            &signing::VerifyOptions { allow_partial: false, now: std::time::SystemTime::now() },
        )
        .unwrap();
        assert!(status.signer().is_some());
        checks.push(started.elapsed());

        let started = Instant::now();
        std::hint::black_box(<sha2::Sha256 as sha2::Digest>::digest(std::hint::black_box(&signed)));
        hashes.push(started.elapsed());
    }
    checks.sort();
    hashes.sort();
    (checks[SAMPLES / 2], hashes[SAMPLES / 2], signed.len())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(rounds: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..rounds).map(|_| f()).collect();
    times.sort();
    times[rounds / 2]
}

fn direct_rpcs(count: u64) -> Duration {
    let sim = SimBackend::default_fleet();
    let device = sim.discover().unwrap().remove(0);
    let mut handle = sim.open(&device).unwrap();
    let mut response = vec![0u8; 112];
    let started = Instant::now();
    for _ in 0..count {
        let length = handle.rpc(1, std::hint::black_box(&QUERY_ISSI), &mut response).unwrap();
        assert_eq!(length, 112);
    }
    started.elapsed()
}

/// The way a run reaches its device.
#[derive(Clone, Copy)]
enum Reach {
    /// A simulated device answering at once: called in place on the async worker.
    Quick,
    /// The same device as one whose RPCs may block (as every kernel node's may): the run
    /// gets a thread of its own and each RPC is put where the watchdog can see it.
    MayBlock,
}

/// A backend whose devices answer as the simulator's do but say their RPCs may block, so
/// that runs take the path kernel devices take, without a kernel.
struct MayBlock(SimBackend);

struct MayBlockHandle(Box<dyn fwctl_run::devices::DeviceHandle>);

impl Backend for MayBlock {
    fn name(&self) -> &'static str {
        "simulator (may block)"
    }
    fn discover(
        &self,
    ) -> Result<Vec<fwctl_run::devices::DeviceDescriptor>, fwctl_run::devices::backend::DiscoveryError> {
        self.0.discover()
    }
    fn open(
        &self,
        device: &fwctl_run::devices::DeviceDescriptor,
    ) -> Result<Box<dyn fwctl_run::devices::DeviceHandle>, fwctl_run::devices::DeviceError> {
        Ok(Box::new(MayBlockHandle(self.0.open(device)?)))
    }
}

impl fwctl_run::devices::DeviceHandle for MayBlockHandle {
    fn info(&mut self) -> Result<fwctl_run::devices::FwctlInfo, fwctl_run::devices::DeviceError> {
        self.0.info()
    }
    fn rpc(
        &mut self,
        scope: u32,
        request: &[u8],
        response: &mut [u8],
    ) -> Result<usize, fwctl_run::devices::DeviceError> {
        self.0.rpc(scope, request, response)
    }
    fn may_block(&self) -> bool {
        true
    }
}

/// Per-RPC time through the boundary: a run doing `RPCS` RPCs minus a run doing none
/// (instantiation and call overhead cancel out), over the number of RPCs.
fn boundary_rpcs(plugin: &Path, audited: bool, reach: Reach) -> Duration {
    let overrides = LimitOverrides { rpcs: Some(RPCS + 1), timeout_ms: Some(120_000), memory_mib: None };
    let Admitted { plugin, grant, identity, .. } = admit(plugin, overrides);
    let audit_dir = tempfile::tempdir().unwrap();
    let trail = audited.then(|| {
        let log = Arc::new(AuditLog::open(&audit_dir.path().join("audit.jsonl")).unwrap());
        AuditTrail::new(log, identity)
    });
    let sandbox = Sandbox::new(&SandboxOptions::default()).unwrap();
    let prepared = sandbox.prepare(&plugin).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let timed = |count: u64| {
        median(ROUNDS, || {
            let backend: Arc<dyn Backend> = match reach {
                Reach::Quick => Arc::new(SimBackend::default_fleet()),
                Reach::MayBlock => Arc::new(MayBlock(SimBackend::default_fleet())),
            };
            let device = vec![backend.discover().unwrap().remove(0)];
            let args = vec!["rpc-loop".to_string(), count.to_string()];
            let started = Instant::now();
            let runs = runtime.block_on(run_on_devices(
                &Job {
                    plugin_name: "hostile",
                    prepared: &prepared,
                    grant: &grant,
                    args: &args,
                    audit: trail.clone(),
                    state: None,
                },
                backend,
                &device,
            ));
            let elapsed = started.elapsed();
            assert_eq!(runs[0].rpcs, count, "{:?}", runs[0].status);
            elapsed
        })
    };
    let empty = timed(0);
    let full = timed(RPCS);
    full.saturating_sub(empty) / RPCS as u32
}

fn cli_cold_and_warm(plugins: &Path) -> (Duration, Duration) {
    let binary = env!("CARGO_BIN_EXE_fwctl-run");
    let audit = tempfile::tempdir().unwrap();
    let run = |cache: &Path| {
        let started = Instant::now();
        let status = Command::new(binary)
            .args(["mlx5-diag.wasm", "--sim", "--cache-dir"])
            .arg(cache)
            .env("FWCTL_RUN_PLUGIN_PATH", plugins)
            .env("FWCTL_RUN_AUDIT", audit.path().join("audit.jsonl"))
            .env("FWCTL_RUN_STATE_DIR", audit.path().join("state"))
            .output()
            .unwrap()
            .status;
        assert!(status.code().is_some_and(|c| c <= 1), "fwctl-run failed: {status}");
        started.elapsed()
    };
    let cold = median(ROUNDS, || run(tempfile::tempdir().unwrap().path()));
    let warm_dir = tempfile::tempdir().unwrap();
    run(warm_dir.path());
    let warm = median(ROUNDS, || run(warm_dir.path()));
    (cold, warm)
}

fn build_plugins() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let target = root.join("target/e2e");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", "mlx5-diag", "-p", "hostile-plugin"])
        .status()
        .unwrap();
    assert!(status.success(), "building the plugins failed");
    let dir = target.join("bench-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for (package, file) in [("mlx5_diag", "mlx5-diag.wasm"), ("hostile_plugin", "hostile.wasm")] {
        std::fs::copy(target.join("wasm32-wasip2/release").join(format!("{package}.wasm")), dir.join(file)).unwrap();
    }
    dir
}
