//! A plugin built against a frozen copy of `fwctl:plugin@0.1.0` (`wit/fwctl.wit` here,
//! never to be edited): the host promises to keep running plugins built against every
//! earlier compatible version of its WIT, and this is the proof.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use fwctl::plugin::report;
use fwctl::plugin::types::{Field, Finding, Scope, Severity, Value};

#[used]
#[unsafe(link_section = "fwctl-manifest")]
static MANIFEST: [u8; include_bytes!("../fwctl-plugin.toml").len()] = *include_bytes!("../fwctl-plugin.toml");

/// An mlx5 QUERY_ISSI mailbox (opcode 0x10a).
const QUERY_ISSI: [u8; 16] = [0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

struct Old;

impl Guest for Old {
    fn run(target: &Device, _args: Vec<String>) -> Result<(), String> {
        let response = target.rpc(Scope::DebugReadOnly, &QUERY_ISSI, 112).map_err(|e| format!("{e:?}"))?;
        report::add_finding(&Finding {
            severity: Severity::Info,
            code: "wit-0.1.0.ran".into(),
            summary: format!("{} answered {} bytes", target.info().name, response.length),
            detail: vec![Field { key: "length".into(), value: Value::Unsigned(response.length.into()) }],
        });
        Ok(())
    }
}

export!(Old);
