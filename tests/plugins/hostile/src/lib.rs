//! A deliberately hostile plugin. The first argument picks the misbehaviour; a second,
//! `only=fwctlN`, limits it to one device so tests can show the others are unharmed.
//! Written against the raw bindings (not the SDK) so the sandbox is tested on its own.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use fwctl::plugin::report;
use fwctl::plugin::types::{Field, Finding, LogLevel, RpcError, Scope, Severity, Value};

#[used]
#[unsafe(link_section = "fwctl-manifest")]
static MANIFEST: [u8; include_bytes!("../fwctl-plugin.toml").len()] = *include_bytes!("../fwctl-plugin.toml");

struct Hostile;

/// An mlx5 QUERY_ISSI mailbox (opcode 0x10a), a harmless read.
const QUERY_ISSI: [u8; 16] = [0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

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
        if let Some(only) = args.iter().find_map(|a| a.strip_prefix("only=")) {
            if info.name != only {
                report::set_fact(&Field { key: "behaved".into(), value: Value::Boolean(true) });
                return Ok(());
            }
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
            "escalate" => report_rpc("escalate", rpc(Scope::DebugWriteFull, 112)),
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
            // Not hostile: a steady stream of cheap RPCs, for the boundary benchmark.
            "rpc-loop" => {
                let count: u64 = args.get(1).and_then(|n| n.parse().ok()).ok_or("rpc-loop needs a count")?;
                for _ in 0..count {
                    rpc(Scope::DebugReadOnly, 112).map_err(|e| format!("{e:?}"))?;
                }
            }
            other => return Err(format!("unknown behaviour `{other}`")),
        }
        Ok(())
    }
}

export!(Hostile);
