//! The floor a plugin's RPC rate is measured against: a loop of `FWCTL_RPC` ioctls on
//! one node, straight from Rust, with nothing between the caller and the kernel.
//!
//! `native_rpc_loop /dev/fwctl/fwctlN COUNT SCOPE HEX-REQUEST OUT-LEN` prints one line,
//! `rpcs=COUNT ns=TOTAL`, timing only the loop (the kernel VM benchmark runs it inside the
//! guest, next to a plugin sending the same request).

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::Instant;

use fwctl_devices::Scope;
use fwctl_devices::kernel::ioctl;

fn main() -> ExitCode {
    match run(&std::env::args().skip(1).collect::<Vec<_>>()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("native_rpc_loop: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [node, count, scope, request, out_len] = args else {
        return Err("usage: native_rpc_loop NODE COUNT SCOPE HEX-REQUEST OUT-LEN".into());
    };
    let count: u64 = count.parse().map_err(|e| format!("COUNT `{count}`: {e}"))?;
    let scope: Scope = scope.parse().map_err(|e| format!("SCOPE `{scope}`: {e}"))?;
    let request = decode_hex(request)?;
    let out_len: usize = out_len.parse().map_err(|e| format!("OUT-LEN `{out_len}`: {e}"))?;
    let file =
        std::fs::OpenOptions::new().read(true).write(true).open(node).map_err(|e| format!("opening {node}: {e}"))?;
    let mut output = vec![0u8; out_len];
    let started = Instant::now();
    for n in 0..count {
        ioctl::rpc(file.as_fd(), scope.raw(), &request, &mut output)
            .map_err(|errno| format!("RPC {n} of {count} on {node} failed: {errno}"))?;
    }
    println!("rpcs={count} ns={}", started.elapsed().as_nanos());
    Ok(())
}

fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("HEX-REQUEST has an odd number of digits ({})", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| format!("HEX-REQUEST at {i}: {e}")))
        .collect()
}
