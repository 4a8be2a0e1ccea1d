//! Sends a corpus of requests to one fwctl node, in order, and prints one answer line per
//! request (`fwctl_devices::differential`): the kernel VM test runs it in the guest on a
//! `cxl_test` node and compares its lines with the simulator's for the same corpus.
//!
//! `rpc_corpus /dev/fwctl/fwctlN CORPUS-FILE`

use std::os::fd::AsFd;
use std::process::ExitCode;

use fwctl_devices::differential::{MARKER, Request, answer_line};
use fwctl_devices::kernel::ioctl;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [node, corpus] = args.as_slice() else {
        eprintln!("usage: rpc_corpus NODE CORPUS-FILE");
        return ExitCode::FAILURE;
    };
    let run = || -> Result<(), String> {
        let text = std::fs::read_to_string(corpus).map_err(|e| format!("reading {corpus}: {e}"))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(node)
            .map_err(|e| format!("opening {node}: {e}"))?;
        for (n, line) in text.lines().enumerate() {
            let request = Request::from_line(line).ok_or_else(|| format!("{corpus}:{}: not a request", n + 1))?;
            let mut output = vec![MARKER; request.out_len];
            let result = ioctl::rpc(file.as_fd(), request.scope, &request.bytes, &mut output);
            println!("{}", answer_line(result, &output));
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rpc_corpus: {message}");
            ExitCode::FAILURE
        }
    }
}
