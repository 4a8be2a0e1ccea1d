//! `fwctl-run rpc DEVICE HEX...`: one raw firmware RPC, for operators (like mlx5ctl).

use anyhow::{Context, Result};
use clap::Args;
use fwctl_run::devices::Scope;
use fwctl_run::policy::Policy;
use fwctl_run::raw_rpc::{self, RawRpc};
use fwctl_run::report::{ExitStatus, RawAnswer};
use fwctl_run::source::DeviceSource;

use crate::options::{AuditArgs, PolicyArgs, SourceArgs};

/// `fwctl-run rpc`.
#[derive(Debug, Args)]
pub struct RpcCommand {
    /// Device node name, e.g. fwctl0.
    pub device: String,
    /// RPC scope: configuration, debug-read-only, debug-write, debug-write-full.
    #[arg(long, default_value = "debug-read-only")]
    pub scope: String,
    /// Request bytes in hex (spaces and underscores allowed).
    pub request: Vec<String>,
    /// Response buffer size in bytes (out_len), at most fwctl's 2 MiB.
    #[arg(long, default_value_t = 4096)]
    pub out_len: u32,
    /// The policy (its allow-taint applies) and --allow-taint.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Raw RPCs are on the record too.
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl RpcCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let scope: Scope = self.scope.parse().map_err(anyhow::Error::msg)?;
        let hex_text: String = self.request.concat().chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
        let request = hex::decode(hex_text.trim_start_matches("0x")).context("the request is not valid hex")?;
        let policy = Policy::resolve(self.policy.policy.as_deref())?;
        let call = RawRpc {
            device: &self.device,
            scope,
            request: &request,
            out_len: self.out_len as usize,
            allow_taint: self.policy.allow_taint,
        };
        // The rules that need no device come first: nothing is opened for a refused call.
        raw_rpc::check(&call, &policy)?;
        let source = DeviceSource::open(&self.source.choice())?;
        let audit_log = self.audit.open()?;
        let answer = raw_rpc::send(&call, &policy, &source, &audit_log)?;
        let shown = RawAnswer {
            device: &self.device,
            scope,
            out_len: answer.out_len,
            response: &answer.response,
            simulated: source.info.simulated,
        };
        if self.json {
            println!("{}", serde_json::to_string_pretty(&shown.to_json())?);
        } else {
            print!("{}", shown.render());
        }
        Ok(ExitStatus::Done)
    }
}
