//! A deliberately hostile plugin. The first argument picks the misbehaviour; a second,
//! `only=fwctlN`, limits it to one device so tests can show the others are unharmed.
//! Written against the raw bindings (not the SDK) so the sandbox is tested on its own.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use fwctl::plugin::report;
use fwctl::plugin::types::{
    DeviceKind, Field, Finding, Label, LogLevel, Metric, MetricKind, RpcError, Scope, Severity, Value,
};

#[used]
#[unsafe(link_section = "fwctl-manifest")]
static MANIFEST: [u8; include_bytes!("../fwctl-plugin.toml").len()] = *include_bytes!("../fwctl-plugin.toml");

struct Hostile;

/// An mlx5 QUERY_ISSI mailbox (opcode 0x10a), a harmless read.
const QUERY_ISSI: [u8; 16] = [0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// A CXL Get Supported Features asking for no entries: the header only, a harmless read.
const GSF_HEADER_ONLY: [u8; 24] = [0x00, 0x05, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// QUERY_ADAPTER (0x101): allowed by the kernel, not by this plugin's manifest.
const QUERY_ADAPTER: [u8; 16] = [0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// An mlx5 ACCESS_REG mailbox for `register`; op_mod 1 reads, 0 writes.
fn access_reg(register: u16, op_mod: u16) -> Vec<u8> {
    let mut m = vec![0u8; 16 + 16];
    m[0..2].copy_from_slice(&0x805u16.to_be_bytes());
    m[6..8].copy_from_slice(&op_mod.to_be_bytes());
    m[10..12].copy_from_slice(&register.to_be_bytes());
    m
}

/// A CXL Set Feature of patrol scrub, a Feature the kernel keeps for itself.
fn set_patrol_scrub() -> Vec<u8> {
    let uuid = [0x96, 0xda, 0xd7, 0xd6, 0xfd, 0xe8, 0x48, 0x2b, 0xa7, 0x33, 0x75, 0x77, 0x4e, 0x06, 0xdb, 0x8a];
    let payload_len = 32 + 2;
    let mut r = vec![0u8; 16 + payload_len];
    r[0..2].copy_from_slice(&0x0502u16.to_le_bytes());
    r[8..12].copy_from_slice(&(payload_len as u32).to_le_bytes());
    r[16..32].copy_from_slice(&uuid);
    r[38] = 1; // set version
    r[48..50].copy_from_slice(&[12, 1]);
    r
}

/// One more page of linear memory, owned by no allocator.
#[cfg(target_arch = "wasm32")]
fn grow_one_page() -> Option<&'static mut [u8]> {
    let page = core::arch::wasm32::memory_grow(0, 1);
    // SAFETY: the page was just grown, so it is in bounds and nothing else refers to it;
    // wasm memory is always initialised (the spec says to zero).
    (page != usize::MAX).then(|| unsafe { std::slice::from_raw_parts_mut((page * 65536) as *mut u8, 65536) })
}

/// Plugins run as wasm only; a host build (clippy, tests of the crate) has no such memory.
#[cfg(not(target_arch = "wasm32"))]
fn grow_one_page() -> Option<&'static mut [u8]> {
    None
}

/// Decodes hex text (pairs of digits, nothing else).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Recurses without end; each frame keeps a buffer alive so it cannot be optimised away.
#[allow(unconditional_recursion, reason = "the point: it must hit the stack limit")]
fn descend(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    descend(depth + 1).wrapping_add(frame[depth as usize % 64])
}

fn report_rpc(name: &str, result: Result<fwctl::plugin::types::RpcResponse, RpcError>) {
    let (code, detail) = match result {
        Ok(response) => ("hostile.rpc.ok", format!("length={} copied={}", response.length, response.data.len())),
        Err(RpcError::NotGranted(why)) => ("hostile.rpc.not-granted", why),
        Err(RpcError::Kernel(errno)) => ("hostile.rpc.kernel", format!("{} {}", errno.name, errno.code)),
        Err(RpcError::DeviceGone) => ("hostile.rpc.device-gone", String::new()),
        Err(RpcError::TooLarge(limit)) => ("hostile.rpc.too-large", limit.to_string()),
    };
    report::add_finding(&Finding {
        severity: Severity::Info,
        code: code.to_string(),
        summary: format!("{name}: {detail}"),
        detail: vec![Field { key: "detail".into(), value: Value::Text(detail) }],
    });
}

impl Guest for Hostile {
    fn run(target: &Device, args: Vec<String>) -> Result<(), String> {
        let info = target.info();
        if let Some(only) = args.iter().find_map(|a| a.strip_prefix("only="))
            && info.name != only
        {
            report::set_fact(&Field { key: "behaved".into(), value: Value::Boolean(true) });
            return Ok(());
        }
        let rpc = |scope, capacity| target.rpc(scope, &QUERY_ISSI, capacity);
        match args.first().map(String::as_str).unwrap_or("") {
            // abort() is a bare `unreachable` trap on wasm32: no panic message, no unwinding.
            "trap" => std::process::abort(),
            "panic" => panic!("hostile plugin panicked on purpose"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xa5; 1 << 20]);
                }
            }
            "rpc-flood" => loop {
                let _ = rpc(Scope::DebugReadOnly, 112);
            },
            "report-flood" => loop {
                report::log(LogLevel::Info, "again");
            },
            // Terminal control in everything a person reads: it must be shown, not obeyed.
            "terminal" => {
                let tricks = "\r\x1b[2K\x1b[1A\x1b[8mok\x1b]0;title\x07\x1b]52;c;ZXZpbA==\x07\x1b[?1049h\u{202e}";
                report::add_finding(&Finding {
                    severity: Severity::Warning,
                    code: "hostile.terminal".into(),
                    summary: format!("summary{tricks}\nfwctl0  mlx5  healthy"),
                    detail: vec![Field { key: format!("k{tricks}"), value: Value::Text(format!("v{tricks}")) }],
                });
                report::set_fact(&Field { key: "fact".into(), value: Value::Text(format!("f{tricks}")) });
                report::log(LogLevel::Warn, &format!("log{tricks}"));
                println!("stdout{tricks}");
                return Err(format!("error{tricks}"));
            }
            // A finding code built to forge output lines: newlines, then a fake result row.
            "forged-code" => report::add_finding(&Finding {
                severity: Severity::Warning,
                code: format!("{}mlx5-diag fwctl9 ok", "\n".repeat(30)),
                summary: "forged".into(),
                detail: Vec::new(),
            }),
            // Few reports, each huge: 48 log lines of 32 MiB (1.5 GiB if the host kept them).
            "log-bomb" => {
                let line = "x".repeat(32 << 20);
                for _ in 0..48 {
                    report::log(LogLevel::Info, &line);
                }
            }
            "escalate" => report_rpc("escalate", rpc(Scope::DebugWriteFull, 112)),
            "opcode" => report_rpc("opcode", target.rpc(Scope::DebugReadOnly, &QUERY_ADAPTER, 256)),
            "register" => report_rpc("register", target.rpc(Scope::DebugReadOnly, &access_reg(0x5006, 1), 32)),
            "register-write" => {
                report_rpc("register-write", target.rpc(Scope::Configuration, &access_reg(0x5006, 0), 32))
            }
            "kernel-feature" => report_rpc("kernel-feature", target.rpc(Scope::DebugWrite, &set_patrol_scrub(), 16)),
            "huge-request" => report_rpc("huge-request", target.rpc(Scope::DebugReadOnly, &vec![0u8; 3 << 20], 112)),
            "forge" => {
                // A handle the host never gave: the resource table refuses it.
                // SAFETY: not sound by design: this plugin forges a handle to prove the host
                // refuses it; the host validates every handle, so nothing is reached.
                let forged = unsafe { Device::from_handle(target.handle().wrapping_add(41)) };
                let result = forged.rpc(Scope::DebugReadOnly, &QUERY_ISSI, 112);
                std::mem::forget(forged);
                report_rpc("forge", result);
            }
            "recurse" => {
                report::set_fact(&Field { key: "depth".into(), value: Value::Unsigned(descend(0)) });
            }
            "too-large" => report_rpc("too-large", rpc(Scope::DebugReadOnly, 3 << 20)),
            "short-buffer" => report_rpc("short-buffer", rpc(Scope::DebugReadOnly, 16)),
            "until-gone" => {
                for n in 0..64 {
                    if let Err(RpcError::DeviceGone) = rpc(Scope::DebugReadOnly, 112) {
                        report::set_fact(&Field { key: "gone-after".into(), value: Value::Unsigned(n) });
                        return Err(format!("device {} vanished after {n} RPCs", info.name));
                    }
                }
                Ok::<(), String>(())?;
            }
            "stdout" => {
                println!("hello from the sandbox");
                eprintln!("and from its stderr");
            }
            "ambient" => {
                // Everything here must be absent inside the sandbox.
                let env = std::env::vars().count() as u64;
                let files = std::fs::read_dir("/").is_ok();
                let net = std::net::TcpStream::connect("127.0.0.1:22").is_ok();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(u64::MAX);
                for (key, value) in [
                    ("env-vars", Value::Unsigned(env)),
                    ("root-readable", Value::Boolean(files)),
                    ("network", Value::Boolean(net)),
                    ("wall-clock-secs", Value::Unsigned(now)),
                ] {
                    report::set_fact(&Field { key: key.into(), value });
                }
            }
            "fail" => return Err("the plugin gave up on purpose".into()),
            // Metrics that break each of the host's rules, then one that keeps them all:
            // each answer is reported as a fact named after the attempt.
            "metrics" => {
                let metric = |name: &str, unit: &str, kind, labels: &[(&str, &str)], value| Metric {
                    name: name.into(),
                    unit: unit.into(),
                    kind,
                    help: "hostile".into(),
                    labels: labels.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }).collect(),
                    value,
                };
                let attempts = [
                    ("upper-case", metric("Temp", "", MetricKind::Gauge, &[], 1.0)),
                    ("host-name", metric("plugin_up", "", MetricKind::Gauge, &[], 1.0)),
                    ("total-suffix", metric("errors_total", "", MetricKind::Counter, &[], 1.0)),
                    ("bad-unit", metric("speed", "gbps", MetricKind::Gauge, &[], 1.0)),
                    ("host-label", metric("speed", "", MetricKind::Gauge, &[("device", "mlx5_9")], 1.0)),
                    ("nan", metric("speed", "", MetricKind::Gauge, &[], f64::NAN)),
                    ("negative-counter", metric("errors", "", MetricKind::Counter, &[], -1.0)),
                    ("good", metric("hostile_probe", "seconds", MetricKind::Gauge, &[("lane", "0")], 0.25)),
                    ("duplicate", metric("hostile_probe", "seconds", MetricKind::Gauge, &[("lane", "0")], 0.5)),
                    ("other-labels", metric("hostile_probe", "seconds", MetricKind::Gauge, &[("path", "a")], 0.5)),
                    ("other-kind", metric("hostile_probe", "seconds", MetricKind::Counter, &[("lane", "1")], 0.5)),
                    (
                        "label-twice",
                        metric("hostile_probe", "seconds", MetricKind::Gauge, &[("lane", "2"), ("lane", "3")], 0.5),
                    ),
                ];
                for (name, attempt) in attempts {
                    let answer = match report::add_metric(&attempt) {
                        Ok(()) => "accepted".to_string(),
                        Err(why) => why,
                    };
                    report::set_fact(&Field { key: format!("metric-{name}"), value: Value::Text(answer) });
                }
            }
            // Samples of one metric, each with its own label, as many as asked, then the
            // first one again: the host checks each against the others, and must refuse
            // only the repeat. Times itself, like `rpc-loop`.
            "metric-flood" => {
                let count: u32 = args.get(1).and_then(|n| n.parse().ok()).ok_or("metric-flood needs a count")?;
                let sample = |lane: u32| Metric {
                    name: "hostile_lane_errors".into(),
                    unit: String::new(),
                    kind: MetricKind::Gauge,
                    help: "hostile".into(),
                    labels: vec![Label { name: "lane".into(), value: lane.to_string() }],
                    value: 1.0,
                };
                let started = std::time::Instant::now();
                for lane in 0..count {
                    report::add_metric(&sample(lane))?;
                }
                let elapsed = started.elapsed().as_nanos() as u64;
                let repeat = report::add_metric(&sample(0)).err().unwrap_or_else(|| "accepted".into());
                report::set_fact(&Field { key: "loop-ns".into(), value: Value::Unsigned(elapsed) });
                report::set_fact(&Field { key: "repeat".into(), value: Value::Text(repeat) });
            }
            // Not hostile: a steady stream of cheap reads, for the benchmarks. The loop
            // times itself (monotonic time is the one clock plugins have), so the figure
            // excludes instantiation and is comparable with a native loop's.
            "rpc-loop" => {
                let count: u64 = args.get(1).and_then(|n| n.parse().ok()).ok_or("rpc-loop needs a count")?;
                let (request, capacity) = match info.kind {
                    DeviceKind::Cxl => (GSF_HEADER_ONLY.to_vec(), 16),
                    _ => (QUERY_ISSI.to_vec(), 112),
                };
                let started = std::time::Instant::now();
                for _ in 0..count {
                    target.rpc(Scope::DebugReadOnly, &request, capacity).map_err(|e| format!("{e:?}"))?;
                }
                report::set_fact(&Field {
                    key: "loop-ns".into(),
                    value: Value::Unsigned(started.elapsed().as_nanos() as u64),
                });
            }
            // Any bytes at any scope: `send SCOPE HEX`, for the grant's hostile cases.
            "send" => {
                let scope = match args.get(1).map(String::as_str) {
                    Some("configuration") => Scope::Configuration,
                    Some("debug-read-only") => Scope::DebugReadOnly,
                    Some("debug-write") => Scope::DebugWrite,
                    Some("debug-write-full") => Scope::DebugWriteFull,
                    other => return Err(format!("send needs a scope, not {other:?}")),
                };
                let request = args.get(2).and_then(|h| decode_hex(h)).ok_or("send needs the request in hex")?;
                report_rpc("send", target.rpc(scope, &request, 1024));
            }
            // Looks for what an earlier run (on another device, in the same pooled
            // instance slot) left in memory: a static in the image, and a page grown at
            // run time. Both must read as zero in a fresh instance; then marks them.
            "leftovers" => {
                static mut SCRATCH: [u8; 4096] = [0; 4096];
                // SAFETY: one run, one thread; nothing else touches SCRATCH.
                let scratch = unsafe { &mut *std::ptr::addr_of_mut!(SCRATCH) };
                let grown = grow_one_page().ok_or("memory.grow refused one page")?;
                let dirty = scratch.iter().chain(grown.iter()).filter(|&&b| b != 0).count();
                report::set_fact(&Field { key: "leftover-bytes".into(), value: Value::Unsigned(dirty as u64) });
                scratch.fill(0xa5);
                grown.fill(0x5a);
            }
            // What the previous run on this device kept, then one more `x` kept for the
            // next (WIT `state`, 0.1.2).
            "remember" => {
                let previous = fwctl::plugin::state::previous();
                let kept = previous.as_ref().map(|s| String::from_utf8_lossy(&s.data).into_owned());
                report::set_fact(&Field {
                    key: "previous".into(),
                    value: Value::Text(kept.clone().unwrap_or_else(|| "none".into())),
                });
                if let Some(saved) = &previous {
                    report::set_fact(&Field { key: "age-seconds".into(), value: Value::Unsigned(saved.age_seconds) });
                }
                let next = kept.unwrap_or_default() + "x";
                let answer = match fwctl::plugin::state::save(next.as_bytes()) {
                    Ok(()) => "saved".to_string(),
                    Err(fwctl::plugin::state::StateError::TooLarge(limit)) => format!("too-large {limit}"),
                    Err(fwctl::plugin::state::StateError::Unavailable(why)) => format!("unavailable: {why}"),
                };
                report::set_fact(&Field { key: "save".into(), value: Value::Text(answer) });
            }
            // More than the host keeps.
            "hoard" => {
                let answer = match fwctl::plugin::state::save(&vec![0u8; (64 << 10) + 1]) {
                    Ok(()) => "saved".to_string(),
                    Err(fwctl::plugin::state::StateError::TooLarge(limit)) => format!("too-large {limit}"),
                    Err(fwctl::plugin::state::StateError::Unavailable(why)) => format!("unavailable: {why}"),
                };
                report::set_fact(&Field { key: "save".into(), value: Value::Text(answer) });
            }
            other => return Err(format!("unknown behaviour `{other}`")),
        }
        Ok(())
    }
}

export!(Hostile);
