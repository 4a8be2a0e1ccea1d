//! mlx5-diag: a ConnectX health report over fwctl, read-only (debug-read-only scope,
//! never clearing a counter).
//!
//! Per device: firmware version (MGIR, else MCQI) and PSID (QUERY_ADAPTER), the board's
//! serial number and product name (MSGI), ports from the HCA capabilities, the PCIe link
//! (MPEIN) and the ASIC temperature (MTMP); per port (`port`): link state, speed, MTU, the
//! firmware's troubleshooting message, error counters and BER, each lane's receive eye
//! (`eye`), and the module with its temperature. Registers the firmware does not
//! implement (per MCAM/PCAM) are reported as unsupported, not as failures.
//!
//! Error counters are judged by their rate since the previous run on the device (`rates`,
//! with the host's plugin state): `mlx5.link.{symbol-errors,fec-uncorrectable,link-down,
//! link-recovery}-rate`, and `mlx5.counters.baseline` / `mlx5.counters.reset` (info).
//! Other findings: `mlx5.link.down`, `mlx5.link.ber-high`,
//! `mlx5.pcie.degraded`, `mlx5.temperature.high`, `mlx5.module.temperature.high`,
//! `mlx5.lane.eye-low` (only below a threshold the operator gives),
//! `mlx5.firmware.status` and `mlx5.rpc.failed` (a command that failed), and
//! `mlx5.register.unsupported` (info). Arguments: see `options`.

mod decimal;
mod device;
mod eye;
mod module;
mod options;
mod port;
mod rates;
mod text;

use fwctl_sdk::mlx5::registers::{self, AccessRegMask};
use fwctl_sdk::mlx5::{Error, Mlx5};
use fwctl_sdk::{Device, DeviceKind, Plugin, Severity, fact, finding};

use crate::options::Options;

struct Mlx5Diag;

/// Which registers the firmware implements, from MCAM (management) and PCAM (port).
/// Firmware without MCAM/PCAM predates them; every register is then assumed present.
pub struct Support {
    mcam: Option<AccessRegMask>,
    pcam: Option<AccessRegMask>,
}

impl Support {
    fn read(mlx5: &Mlx5) -> Self {
        Self { mcam: mlx5.mcam().ok(), pcam: mlx5.pcam().ok() }
    }

    /// Whether `register` may be read; an unsupported one is reported once, as info.
    pub fn has(&self, register: u16) -> bool {
        let mask = if register >= registers::MCAM_BASE { &self.mcam } else { &self.pcam };
        let supported = mask.as_ref().is_none_or(|m| m.supports(register));
        if !supported {
            report_unsupported(register);
        }
        supported
    }
}

/// Reports an unsupported register once per run.
fn report_unsupported(register: u16) {
    static REPORTED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut reported = REPORTED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if reported.contains(&register) {
        return;
    }
    reported.push(register);
    let name = register_name(register);
    fact("unsupported-registers", reported.iter().map(|&r| register_name(r)).collect::<Vec<_>>().join(","));
    finding(
        Severity::Info,
        "mlx5.register.unsupported",
        format!("the firmware does not implement {name}; that section is skipped"),
    )
    .detail("register", format!("{register:#06x}"))
    .detail("name", name)
    .report();
}

fn register_name(register: u16) -> &'static str {
    registers::name(register).unwrap_or("register")
}

/// A per-port fact's key, `port1-mtu` (a device has some seventy: see `text`).
pub fn port_key(port: &str, name: &str) -> String {
    text::joined(&[port, "-", name])
}

/// Reports a metric sample. A refusal is already on the host's record (as a warning in
/// the run's log), and one missing sample is no reason to stop the check.
pub fn sample(metric: fwctl_sdk::Metric, value: f64) {
    let _ = metric.report(value);
}

/// Reports a failed command as a finding and carries on with the next section.
pub fn failed(section: &str, error: &Error) {
    let code = match error {
        Error::Firmware { .. } | Error::Short { .. } => "mlx5.firmware.status",
        Error::Rpc(_) => "mlx5.rpc.failed",
    };
    let mut f = finding(Severity::Error, code, format!("{section}: {error}"));
    if let Error::Firmware { opcode, status, syndrome } = error {
        f = f
            .detail("opcode", format!("{opcode:#06x}"))
            .detail("status", *status)
            .detail("status-name", error.status_name().unwrap_or("UNKNOWN"))
            .detail("syndrome", format!("{syndrome:#010x}"));
    }
    f.report();
}

impl Plugin for Mlx5Diag {
    fn run(device: &Device, args: &[String]) -> Result<(), String> {
        let options = Options::parse(args)?;
        let info = device.info();
        if info.kind != DeviceKind::Mlx5 {
            return Err(format!("{} is a {} device; mlx5-diag handles mlx5 only", info.name, info.kind));
        }
        let mlx5 = Mlx5::new(device);

        device::firmware(&mlx5);
        let mut part_known = false;
        match mlx5.adapter() {
            Ok(adapter) => {
                fact("psid", adapter.psid);
                // NVIDIA boards carry their part number (e.g. MCX75310AAS-NEAT) in the VSD.
                if !adapter.vsd.is_empty() {
                    fact("part-number", adapter.vsd);
                    part_known = true;
                }
            }
            Err(e) => failed("board identity (QUERY_ADAPTER)", &e),
        }
        // Without the capabilities there is no port count; the rest still runs.
        let caps = mlx5.general_caps(true).map_err(|e| failed("capabilities (QUERY_HCA_CAP)", &e)).ok();
        if let Some(caps) = &caps {
            fact("port-count", caps.num_ports as u64);
            fact("port-type", caps.port_type_name());
        }
        let support = Support::read(&mlx5);
        if support.has(registers::MSGI) {
            device::board(&mlx5, part_known);
        }
        let mut rates = rates::Rates::load();
        if options.ports {
            for port in 1..=caps.as_ref().map_or(0, |c| c.num_ports) {
                port::check(&mlx5, &support, &options, &mut rates, port);
            }
        }
        if options.pcie {
            device::pcie(&mlx5, &support, &options, &mut rates);
        }
        rates.keep();
        if options.temperature {
            device::asic_temperature(&mlx5, &options);
        }
        Ok(())
    }
}

fwctl_sdk::export_plugin!(Mlx5Diag, manifest = "../fwctl-plugin.toml");
