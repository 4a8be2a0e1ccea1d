//! The audit trail: every RPC a plugin attempts, allowed or denied, as one JSON line.
//!
//! The log is opened (created, appended to) before any plugin runs, so a run that cannot
//! write it does not start; it is fsynced when the run ends. Should a write fail
//! mid-run, later RPCs are denied rather than made off the record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use fwctl_devices::{DeviceDescriptor, DeviceKind, Scope};
use fwctl_proto::effect::Classification;
use fwctl_proto::envelope::{CxlRequest, Mlx5Request, cxl_retval, mlx5_status};
use serde::Serialize;

/// Where root's runs log when `--audit` is not given.
pub const SYSTEM_AUDIT_PATH: &str = "/var/log/fwctl-run/audit.jsonl";

/// Overrides the default audit log path (for services and test harnesses).
pub const AUDIT_ENV: &str = "FWCTL_RUN_AUDIT";

/// The default audit log: `$FWCTL_RUN_AUDIT`, else [`SYSTEM_AUDIT_PATH`] for root, else
/// `$XDG_STATE_HOME/fwctl-run/audit.jsonl` (`~/.local/state/...`).
pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os(AUDIT_ENV) {
        return PathBuf::from(path);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(SYSTEM_AUDIT_PATH);
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("fwctl-run/audit.jsonl")
}

/// Why the audit log could not be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log {}: {source}", path.display())]
pub struct AuditError {
    /// The log.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    broken: AtomicBool,
}

impl AuditLog {
    /// Opens (creating it and its directory) for appending.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let fail = |source| AuditError {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            broken: AtomicBool::new(false),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a write has failed; RPCs are refused from then on.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Appends one record as one line (one `write` call, so lines from concurrent runs
    /// never interleave).
    pub fn append(&self, record: &AuditRecord) {
        self.append_line(record);
    }

    fn append_line(&self, record: &impl Serialize) {
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if file.write_all(&line).is_err() {
            self.broken.store(true, Ordering::Relaxed);
        }
    }

    /// Flushes to stable storage; reports a write that failed during the run.
    pub fn finish(&self) -> Result<(), AuditError> {
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.sync_all().map_err(|source| AuditError {
            path: self.path.clone(),
            source,
        })?;
        if self.is_broken() {
            let source =
                std::io::Error::other("a record could not be written; later RPCs were refused");
            return Err(AuditError {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }
}

/// Who made the calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginIdentity {
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// `sha256:<hex>` of the component.
    pub sha256: String,
    /// The verified signer, once signatures exist; `null` for unsigned plugins.
    pub signer: Option<String>,
}

/// A log plus the plugin whose calls go into it; one per run, cloned into each device.
#[derive(Clone, Debug)]
pub struct AuditTrail {
    log: Arc<AuditLog>,
    plugin: Arc<PluginIdentity>,
}

/// How one RPC attempt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The device answered; `status` is the firmware status (mlx5) or mailbox return
    /// code (CXL) inside the answer, when there is one.
    Ok {
        /// Bytes the driver reported.
        response_len: usize,
        /// Firmware status / return code; 0 is success.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u32>,
        /// mlx5 syndrome, when the status is not 0.
        #[serde(skip_serializing_if = "Option::is_none")]
        syndrome: Option<String>,
    },
    /// The kernel (or simulator) refused it.
    Errno {
        /// Symbolic errno, e.g. `EINVAL`.
        errno: String,
    },
    /// The host refused it; it never reached a backend.
    Denied {
        /// Why.
        reason: String,
    },
    /// The device was removed.
    Gone,
}

/// One RPC attempt, as the plugin made it and the host classified it.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The scope asked for.
    pub scope: Scope,
    /// The request bytes.
    pub request: &'a [u8],
    /// The response capacity asked for.
    pub response_capacity: usize,
    /// What the request does (`crate::policy::classify`).
    pub classification: &'a Classification,
}

/// One line of the audit log.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339, UTC, microseconds.
    pub time: String,
    /// Who.
    pub plugin: &'a PluginIdentity,
    /// fwctl node name.
    pub device: &'a str,
    /// The parent device (PCI function or CXL memdev).
    pub parent: &'a str,
    /// Device kind.
    pub kind: DeviceKind,
    /// The scope asked for.
    pub scope: Scope,
    /// Opcode, `0x....`, when the request is long enough to carry one.
    pub opcode: Option<String>,
    /// mlx5 op_mod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op_mod: Option<u16>,
    /// mlx5 register id of a register access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<String>,
    /// CXL Feature UUID of a Get/Set Feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// What the host judged the RPC does: `read`, `write` or `unknown`.
    pub effect: &'static str,
    /// For a write or unknown RPC, what it does in words (the grant check's reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'a str>,
    /// Request bytes.
    pub request_len: usize,
    /// Response capacity asked for.
    pub response_capacity: usize,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Time spent in the backend, in microseconds (0 for a denial).
    pub duration_us: u64,
}

impl AuditTrail {
    /// A trail into `log` for `plugin`'s calls.
    pub fn new(log: Arc<AuditLog>, plugin: PluginIdentity) -> Self {
        Self {
            log,
            plugin: Arc::new(plugin),
        }
    }

    /// Whether RPCs must be refused because the log stopped accepting records.
    pub fn is_broken(&self) -> bool {
        self.log.is_broken()
    }

    /// Records that the plugin was refused before it ran (signature, policy), and why.
    pub fn record_refusal(&self, reason: &str) {
        #[derive(Serialize)]
        struct Refusal<'a> {
            time: String,
            plugin: &'a PluginIdentity,
            outcome: &'static str,
            reason: &'a str,
        }
        let line = Refusal {
            time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            plugin: &self.plugin,
            outcome: "refused",
            reason,
        };
        self.log.append_line(&line);
    }

    /// Records one attempt.
    pub fn record(&self, device: &DeviceDescriptor, attempt: Attempt<'_>, outcome: Outcome, duration: Duration) {
        let Attempt { scope, request, response_capacity, classification } = attempt;
        let mut record = AuditRecord {
            time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            plugin: &self.plugin,
            device: &device.name,
            parent: &device.parent,
            kind: device.kind,
            scope,
            opcode: None,
            op_mod: None,
            register: None,
            feature: None,
            effect: classification.effect.as_str(),
            action: classification.changes_state().then_some(classification.action.as_str()),
            request_len: request.len(),
            response_capacity,
            outcome,
            duration_us: duration.as_micros() as u64,
        };
        match device.kind {
            DeviceKind::Mlx5 => {
                if let Some(rpc) = Mlx5Request::parse(request) {
                    record.opcode = Some(format!("{:#06x}", rpc.opcode));
                    record.op_mod = Some(rpc.op_mod);
                    record.register = rpc.register_id.map(|r| format!("{r:#06x}"));
                }
            }
            DeviceKind::Cxl => {
                if let Some(rpc) = CxlRequest::parse(request) {
                    record.opcode = Some(format!("{:#06x}", rpc.opcode));
                    record.feature = rpc.feature.map(|u| u.to_string());
                }
            }
            DeviceKind::Bnxt | DeviceKind::Pds => {}
        }
        self.log.append(&record);
    }
}

/// The `ok` outcome of an answer: the firmware status inside it, by device kind.
pub fn answered(kind: DeviceKind, response: &[u8], response_len: usize) -> Outcome {
    let (status, syndrome) = match kind {
        DeviceKind::Mlx5 => match mlx5_status(response) {
            Some((status, syndrome)) => (
                Some(u32::from(status)),
                (status != 0).then(|| format!("{syndrome:#010x}")),
            ),
            None => (None, None),
        },
        DeviceKind::Cxl => (cxl_retval(response), None),
        DeviceKind::Bnxt | DeviceKind::Pds => (None, None),
    };
    Outcome::Ok {
        response_len,
        status,
        syndrome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(kind: DeviceKind) -> DeviceDescriptor {
        DeviceDescriptor {
            name: "fwctl0".into(),
            rdma_device: None,
            node: "/dev/fwctl/fwctl0".into(),
            kind,
            parent: "0000:08:00.0".into(),
            pci_address: None,
            cxl_memdev: None,
            driver: Some("mlx5_core".into()),
            model: None,
            simulated: true,
        }
    }

    #[test]
    fn records_are_one_json_line_each_with_what_the_rpc_targeted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let plugin = PluginIdentity {
            name: "p".into(),
            version: "1".into(),
            sha256: "sha256:00".into(),
            signer: None,
        };
        let trail = AuditTrail::new(log.clone(), plugin);
        let mut mgir = vec![0u8; 16];
        mgir[0..2].copy_from_slice(&0x805u16.to_be_bytes());
        mgir[6..8].copy_from_slice(&1u16.to_be_bytes());
        mgir[10..12].copy_from_slice(&0x9020u16.to_be_bytes());
        let mut answer = vec![0u8; 16];
        answer[0] = 3;
        answer[4..8].copy_from_slice(&0x1234u32.to_be_bytes());
        let outcome = answered(DeviceKind::Mlx5, &answer, 16);
        let read = fwctl_proto::effect::classify_mlx5(&mgir);
        let attempt =
            Attempt { scope: Scope::DebugReadOnly, request: &mgir, response_capacity: 16, classification: &read };
        trail.record(&device(DeviceKind::Mlx5), attempt, outcome, Duration::from_micros(7));
        let short = fwctl_proto::effect::classify_mlx5(&[1, 2]);
        let attempt = Attempt { scope: Scope::DebugWrite, request: &[1, 2], response_capacity: 8, classification: &short };
        trail.record(&device(DeviceKind::Mlx5), attempt, Outcome::Denied { reason: "no".into() }, Duration::ZERO);
        log.finish().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(
            (first["opcode"].as_str(), first["register"].as_str()),
            (Some("0x0805"), Some("0x9020"))
        );
        assert_eq!((first["effect"].as_str(), first.get("action")), (Some("read"), None));
        assert_eq!(lines[1]["effect"], "unknown");
        assert_eq!(lines[1]["action"], "an mlx5 request shorter than its 8-byte command header");
        assert_eq!(
            (first["outcome"].as_str(), first["status"].as_u64()),
            (Some("ok"), Some(3))
        );
        assert_eq!(first["syndrome"], "0x00001234");
        assert_eq!(first["plugin"]["sha256"], "sha256:00");
        assert_eq!(first["duration_us"], 7);
        assert!(first["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            (lines[1]["outcome"].as_str(), lines[1]["reason"].as_str()),
            (Some("denied"), Some("no"))
        );
        assert_eq!(lines[1]["opcode"], serde_json::Value::Null);
    }

    #[test]
    fn an_unwritable_log_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let err = AuditLog::open(&blocker.join("audit.jsonl")).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot write the audit log"),
            "{err}"
        );
    }
}
