//! mlx5-diag: a ConnectX health report over fwctl, read-only (debug-read-only scope,
//! never clearing a counter).
//!
//! Facts: firmware version (MGIR, else MCQI as the kernel reads it) and PSID, device id,
//! port count and type, per-port link state and speed, PCIe link, ASIC temperature and
//! its warning threshold. Findings: a link down while administratively up
//! (`mlx5.link.down`), a degraded PCIe link (`mlx5.pcie.degraded`), a hot ASIC
//! (`mlx5.temperature.high`), firmware command errors (`mlx5.firmware.status`) and
//! refused RPCs (`mlx5.rpc.failed`).
//!
//! Arguments: `--no-ports`, `--no-pcie`, `--no-temperature` skip sections;
//! `--temp-warn-celsius N` and `--temp-critical-celsius N` override the thresholds
//! (default: the firmware's warning threshold, and 120 °C).

use fwctl_sdk::mlx5::{Error, Mlx5};
use fwctl_sdk::{Device, DeviceKind, Plugin, Severity, fact, finding, log};

struct Mlx5Diag;

/// What the operator asked for.
#[derive(Debug)]
struct Options {
    ports: bool,
    pcie: bool,
    temperature: bool,
    temp_warn: Option<f64>,
    temp_critical: f64,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options { ports: true, pcie: true, temperature: true, temp_warn: None, temp_critical: 120.0 };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> Result<f64, String> {
                it.next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("{name} needs a number of degrees Celsius"))
            };
            match arg.as_str() {
                "--no-ports" => o.ports = false,
                "--no-pcie" => o.pcie = false,
                "--no-temperature" => o.temperature = false,
                "--temp-warn-celsius" => o.temp_warn = Some(number(arg)?),
                "--temp-critical-celsius" => o.temp_critical = number(arg)?,
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (expected --no-ports, --no-pcie, --no-temperature, --temp-warn-celsius N, --temp-critical-celsius N)"
                    ));
                }
            }
        }
        Ok(o)
    }
}

/// Reports a failed command as a finding and carries on with the next section.
fn failed(section: &str, error: &Error) {
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

/// Firmware version, device id: MGIR, or the kernel's way (MCQI) when MGIR fails.
fn check_firmware(mlx5: &Mlx5) {
    let mgir_error = match mlx5.mgir() {
        Ok(mgir) => {
            fact("firmware-version", mgir.fw_version);
            fact("device-id", format!("{:#06x}", mgir.device_id));
            return;
        }
        Err(e) => e,
    };
    match mlx5.mcqi_version(0) {
        Ok(v) => {
            log::warn(format!("MGIR failed ({mgir_error}); firmware version read from MCQI"));
            fact("firmware-version", v.version());
        }
        Err(mcqi_error) => {
            failed("firmware version (MGIR)", &mgir_error);
            log::warn(format!("firmware version (MCQI) also failed: {mcqi_error}"));
        }
    }
}

impl Plugin for Mlx5Diag {
    fn run(device: &Device, args: &[String]) -> Result<(), String> {
        let options = Options::parse(args)?;
        let info = device.info();
        if info.kind != DeviceKind::Mlx5 {
            return Err(format!("{} is a {} device; mlx5-diag handles mlx5 only", info.name, info.kind));
        }
        let mlx5 = Mlx5::new(device);

        check_firmware(&mlx5);
        match mlx5.adapter() {
            Ok(adapter) => fact("psid", adapter.psid),
            Err(e) => failed("board identity (QUERY_ADAPTER)", &e),
        }
        // Without the capabilities there is no port count; the rest still runs.
        let caps = mlx5.general_caps(true).map_err(|e| failed("capabilities (QUERY_HCA_CAP)", &e)).ok();
        if let Some(caps) = &caps {
            fact("port-count", caps.num_ports as u64);
            fact("port-type", caps.port_type_name());
        }

        if options.ports {
            for port in 1..=caps.as_ref().map_or(0, |c| c.num_ports) {
                check_port(&mlx5, port);
            }
        }
        if options.pcie {
            check_pcie(&mlx5);
        }
        if options.temperature {
            check_temperature(&mlx5, &options);
        }
        Ok(())
    }
}

fn check_port(mlx5: &Mlx5, port: u8) {
    let paos = match mlx5.paos(port) {
        Ok(p) => p,
        Err(e) => return failed(&format!("port {port} state (PAOS)"), &e),
    };
    let state = |up| if up { "up" } else { "down" };
    fact(format!("port{port}-admin-state"), state(paos.admin_up()));
    fact(format!("port{port}-oper-state"), state(paos.oper_up()));
    if paos.admin_up() && !paos.oper_up() {
        finding(Severity::Error, "mlx5.link.down", format!("port {port} is administratively up but its link is down"))
            .detail("port", port as u64)
            .report();
    }
    match mlx5.ptys(port) {
        Ok(ptys) => {
            if let Some(speed) = ptys.speed() {
                fact(format!("port{port}-speed"), speed);
            }
        }
        Err(e) => failed(&format!("port {port} speed (PTYS)"), &e),
    }
}

fn check_pcie(mlx5: &Mlx5) {
    let mpein = match mlx5.mpein() {
        Ok(m) => m,
        Err(e) => return failed("PCIe link (MPEIN)", &e),
    };
    fact("pcie-link", mpein.active());
    if mpein.degraded() {
        finding(
            Severity::Warning,
            "mlx5.pcie.degraded",
            format!(
                "PCIe link trained at Gen{} x{}, below the enabled Gen{} x{}",
                mpein.gen_active, mpein.width_active, mpein.gen_enabled, mpein.width_enabled
            ),
        )
        .detail("gen-active", mpein.gen_active as u64)
        .detail("gen-enabled", mpein.gen_enabled as u64)
        .detail("width-active", mpein.width_active as u64)
        .detail("width-enabled", mpein.width_enabled as u64)
        .report();
    }
}

fn check_temperature(mlx5: &Mlx5, options: &Options) {
    let asic = match mlx5.mtmp(0) {
        Ok(t) => t,
        Err(e) => return failed("ASIC temperature (MTMP)", &e),
    };
    fact("asic-temperature-celsius", asic.celsius);
    if asic.threshold_hi_celsius > 0.0 {
        fact("asic-temperature-warn-celsius", asic.threshold_hi_celsius);
    }
    // The firmware's threshold (0: none set) unless the operator gave one.
    let warn = options.temp_warn.unwrap_or(asic.threshold_hi_celsius);
    let severity = if asic.celsius >= options.temp_critical {
        Some((Severity::Critical, options.temp_critical, "critical"))
    } else if warn > 0.0 && asic.celsius >= warn {
        Some((Severity::Warning, warn, "warning"))
    } else {
        None
    };
    if let Some((severity, threshold, level)) = severity {
        finding(
            severity,
            "mlx5.temperature.high",
            format!("ASIC temperature {:.1} °C is at or above the {level} threshold {threshold:.1} °C", asic.celsius),
        )
        .detail("temperature-celsius", asic.celsius)
        .detail("threshold-celsius", threshold)
        .report();
    }
}

fwctl_sdk::export_plugin!(Mlx5Diag, manifest = "../fwctl-plugin.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_select_sections_and_thresholds() {
        let o = Options::parse(&args(&["--no-pcie", "--temp-warn-celsius", "80"])).unwrap();
        assert!(o.ports && !o.pcie && o.temperature);
        assert_eq!((o.temp_warn, o.temp_critical), (Some(80.0), 120.0));
        assert!(Options::parse(&args(&["--temp-warn-celsius"])).unwrap_err().contains("needs a number"));
        assert!(Options::parse(&args(&["--temp-warn-celsius", "hot"])).unwrap_err().contains("needs a number"));
        assert!(Options::parse(&args(&["--temp-warn-celsius", "NaN"])).unwrap_err().contains("needs a number"));
        assert!(Options::parse(&args(&["--frobnicate"])).unwrap_err().contains("unknown argument `--frobnicate`"));
        let o = Options::parse(&args(&["--no-ports", "--no-temperature", "--temp-critical-celsius", "95.5"])).unwrap();
        assert!(!o.ports && o.pcie && !o.temperature);
        assert_eq!(o.temp_critical, 95.5);
    }
}
