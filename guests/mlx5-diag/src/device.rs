//! Device-wide sections: firmware identity (MGIR or MCQI, QUERY_ADAPTER), the board's
//! identity (MSGI), the PCIe link (MPEIN) and the ASIC temperature (MTMP).

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::registers;
use fwctl_sdk::{Severity, counter, fact, finding, gauge, log};

use crate::options::Options;
use crate::rates::Rates;
use crate::{Support, failed, sample};

/// Firmware version and device id: MGIR, or the kernel's way (MCQI) when MGIR fails.
pub fn firmware(mlx5: &Mlx5) {
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

/// The board's serial number, product name and revision (MSGI), for inventory; its part
/// number too when QUERY_ADAPTER's VSD gave none (`part_known`).
pub fn board(mlx5: &Mlx5, part_known: bool) {
    let msgi = match mlx5.msgi() {
        Ok(m) => m,
        Err(e) => return failed("board identity (MSGI)", &e),
    };
    for (key, value, wanted) in [
        ("serial-number", &msgi.serial_number, true),
        ("part-number", &msgi.part_number, !part_known),
        ("product-name", &msgi.product_name, true),
        ("board-revision", &msgi.revision, true),
    ] {
        if wanted && !value.is_empty() {
            fact(key, value.as_str());
        }
    }
    let identity = gauge("board_identity", "", "The board's part and serial number and product name (1).")
        .label("part_number", msgi.part_number.as_str())
        .label("serial_number", msgi.serial_number.as_str())
        .label("product", msgi.product_name.as_str());
    sample(identity, 1.0);
}

pub fn pcie(mlx5: &Mlx5, support: &Support, options: &Options, rates: &mut Rates) {
    link(mlx5, support);
    if support.has(registers::MPCNT) {
        errors(mlx5, options, rates);
    }
}

/// The PCIe link's error counters (MPCNT, never cleared), judged by rate.
fn errors(mlx5: &Mlx5, options: &Options, rates: &mut Rates) {
    let counters = match mlx5.mpcnt_pcie() {
        Ok(c) => c,
        Err(e) => return failed("PCIe error counters (MPCNT)", &e),
    };
    fact("pcie-rx-errors", u64::from(counters.rx_errors));
    fact("pcie-tx-errors", u64::from(counters.tx_errors));
    fact("pcie-crc-errors", u64::from(counters.crc_error_dllp) + u64::from(counters.crc_error_tlp));
    fact("pcie-recoveries", counters.recoveries);
    for (kind, value) in [
        ("rx", counters.rx_errors),
        ("tx", counters.tx_errors),
        ("crc_dllp", counters.crc_error_dllp),
        ("crc_tlp", counters.crc_error_tlp),
    ] {
        let metric = counter("pcie_errors", "", "Errors on the device's PCIe link, by type.").label("error", kind);
        sample(metric, f64::from(value));
    }
    let recoveries = counter("pcie_link_recoveries", "", "Times the PCIe link left L0 for recovery.");
    sample(recoveries, counters.recoveries as f64);
    rates.judge_pcie(options, &counters);
}

/// The PCIe link as trained and as capable (MPEIN).
fn link(mlx5: &Mlx5, support: &Support) {
    if !support.has(registers::MPEIN) {
        return;
    }
    let mpein = match mlx5.mpein() {
        Ok(m) => m,
        Err(e) => return failed("PCIe link (MPEIN)", &e),
    };
    fact("pcie-link", mpein.active());
    fact("pcie-width-active", mpein.width_active as u64);
    fact("pcie-width-enabled", mpein.width_enabled as u64);
    fact("pcie-gen-active", mpein.gen_active as u64);
    fact("pcie-gen-enabled", mpein.gen_enabled as u64);
    let width = |state| {
        gauge("pcie_link_width", "", "PCIe link width in lanes, as trained (active) and as capable (enabled).")
            .label("state", state)
    };
    sample(width("active"), mpein.width_active as f64);
    sample(width("enabled"), mpein.width_enabled as f64);
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

pub fn asic_temperature(mlx5: &Mlx5, options: &Options) {
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
    temperature_metrics("asic", asic.celsius, warn, options.temp_critical);
    let level = if asic.celsius >= options.temp_critical {
        Some((Severity::Critical, options.temp_critical, "critical"))
    } else if warn > 0.0 && asic.celsius >= warn {
        Some((Severity::Warning, warn, "warning"))
    } else {
        None
    };
    if let Some((severity, threshold, name)) = level {
        finding(
            severity,
            "mlx5.temperature.high",
            format!("ASIC temperature {:.1} °C is at or above the {name} threshold {threshold:.1} °C", asic.celsius),
        )
        .detail("temperature-celsius", asic.celsius)
        .detail("threshold-celsius", threshold)
        .report();
    }
}

/// A sensor's temperature with its warning (`_max`, as hwmon's `temp_max`) and critical
/// (`_crit`) thresholds, in the shape of node_exporter's hwmon collector.
pub fn temperature_metrics(sensor: &str, celsius: f64, warn: f64, critical: f64) {
    sample(gauge("device_temperature", "celsius", "Temperature of a device sensor.").label("sensor", sensor), celsius);
    if warn > 0.0 {
        sample(
            gauge("device_temperature_max", "celsius", "Warning threshold of a device sensor.").label("sensor", sensor),
            warn,
        );
    }
    sample(
        gauge("device_temperature_crit", "celsius", "Critical threshold of a device sensor.").label("sensor", sensor),
        critical,
    );
}
