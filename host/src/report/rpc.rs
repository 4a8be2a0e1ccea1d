//! `fwctl-run rpc`: one raw firmware RPC's answer, as a hex dump or JSON.

use std::fmt::Write as _;

use crate::devices::Scope;

/// A raw RPC that the device answered.
pub struct RawAnswer<'a> {
    /// The device node name.
    pub device: &'a str,
    /// The scope it was sent at.
    pub scope: Scope,
    /// The length the driver reported (may exceed what fitted in the buffer).
    pub out_len: usize,
    /// The bytes that fitted.
    pub response: &'a [u8],
    /// Whether the device is simulated.
    pub simulated: bool,
}

impl RawAnswer<'_> {
    /// The JSON document of `rpc --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "device": self.device,
            "scope": self.scope,
            "out_len": self.out_len,
            "response": hex::encode(self.response),
            "simulated": self.simulated,
        })
    }

    /// `out_len N`, then 16 bytes a line with their offset.
    pub fn render(&self) -> String {
        let note = if self.simulated { " (simulated device)" } else { "" };
        let mut out = format!("out_len {}{note}\n", self.out_len);
        for (row, chunk) in self.response.chunks(16).enumerate() {
            let _ = writeln!(out, "{:06x}  {}", row * 16, hex::encode(chunk));
        }
        out
    }
}
