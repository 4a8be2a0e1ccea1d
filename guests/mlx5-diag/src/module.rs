//! The module in a port's cage, as `mlxlink -m` shows it: type and temperature (MCIA,
//! MTMP), vendor, part and serial number, and per lane the Rx power, Tx power and Tx bias
//! against the module's own alarm and warning thresholds (MCIA, through the SDK's
//! [`ModuleDiagnostics`]). A finding names the lane; nothing here clears a latched flag.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::module::{Level, ModuleDiagnostics, Thresholds};
use fwctl_sdk::mlx5::registers::module_type_name;
use fwctl_sdk::{Severity, fact, finding, gauge};

use crate::decimal::fixed;
use crate::device::temperature_metrics;
use crate::options::Options;
use crate::text::{joined, listed, numbered};
use crate::{failed, port_key, sample};

/// MTMP sensor index of module N.
const MODULE_SENSOR_BASE: u16 = fwctl_sdk::mlx5::registers::MTMP_MODULE_SENSOR_BASE;

/// The module in the port's cage: presence and type (MCIA), temperature (MTMP), then its
/// own diagnostics.
pub fn check(mlx5: &Mlx5, options: &Options, port: u8) {
    let p = numbered("port", port);
    let index = port - 1;
    let mcia = match mlx5.mcia(index, 0, 1) {
        Ok(m) => m,
        Err(e) => return failed(&format!("port {port} module (MCIA)"), &e),
    };
    if !mcia.present() {
        fact(port_key(&p, "module"), "absent");
        return;
    }
    let kind = mcia.identifier().map_or(mcia.status_name(), module_type_name);
    fact(port_key(&p, "module"), kind);
    if let Some(identifier) = mcia.identifier() {
        diagnostics(mlx5, port, identifier);
    }
    let sensor = match mlx5.mtmp(MODULE_SENSOR_BASE + index as u16) {
        Ok(t) => t,
        Err(e) => return failed(&format!("port {port} module temperature (MTMP)"), &e),
    };
    fact(port_key(&p, "module-temperature-celsius"), sensor.celsius);
    if sensor.threshold_hi_celsius > 0.0 {
        fact(port_key(&p, "module-temperature-warn-celsius"), sensor.threshold_hi_celsius);
    }
    temperature_metrics(
        &numbered("module", port),
        sensor.celsius,
        sensor.threshold_hi_celsius,
        options.module_temp_critical,
    );
    let level = if sensor.celsius >= options.module_temp_critical {
        Some((Severity::Critical, options.module_temp_critical, "critical"))
    } else if sensor.threshold_hi_celsius > 0.0 && sensor.celsius >= sensor.threshold_hi_celsius {
        Some((Severity::Warning, sensor.threshold_hi_celsius, "warning"))
    } else {
        None
    };
    if let Some((severity, threshold, name)) = level {
        finding(
            severity,
            "mlx5.module.temperature.high",
            format!(
                "port {port} module at {:.1} °C, at or above the {name} threshold {threshold:.1} °C",
                sensor.celsius
            ),
        )
        .detail("port", port as u64)
        .detail("temperature-celsius", sensor.celsius)
        .detail("threshold-celsius", threshold)
        .report();
    }
}

/// A monitored quantity: its finding code part, words, unit and how a value reads.
struct Quantity {
    code: &'static str,
    name: &'static str,
    metric: &'static str,
    unit: &'static str,
    help: &'static str,
    /// The metric of the module's thresholds for it, and that metric's help.
    threshold_metric: &'static str,
    threshold_help: &'static str,
    show: fn(&mut String, f64),
}

impl Quantity {
    /// `value` as a reading of this quantity: `1.234 mW (0.9 dBm)`.
    fn shown(&self, value: f64) -> String {
        let mut text = String::new();
        (self.show)(&mut text, value);
        text
    }
}

const RX_POWER: Quantity = Quantity {
    code: "rx-power",
    name: "Rx power",
    metric: "module_rx_power",
    unit: "watts",
    help: "Optical power a module lane receives.",
    threshold_metric: "module_rx_power_threshold",
    threshold_help: "The module's own alarm and warning thresholds of its Rx power.",
    show: milliwatts,
};
const TX_POWER: Quantity = Quantity {
    code: "tx-power",
    name: "Tx power",
    metric: "module_tx_power",
    unit: "watts",
    help: "Optical power a module lane transmits.",
    threshold_metric: "module_tx_power_threshold",
    threshold_help: "The module's own alarm and warning thresholds of its Tx power.",
    show: milliwatts,
};
const TX_BIAS: Quantity = Quantity {
    code: "tx-bias",
    name: "Tx bias",
    metric: "module_tx_bias",
    unit: "amperes",
    help: "Laser bias current of a module lane.",
    threshold_metric: "module_tx_bias_threshold",
    threshold_help: "The module's own alarm and warning thresholds of its Tx bias.",
    show: milliamperes,
};
const VOLTAGE: Quantity = Quantity {
    code: "voltage",
    name: "supply voltage",
    metric: "module_supply_voltage",
    unit: "volts",
    help: "Supply voltage a module measures.",
    threshold_metric: "module_supply_voltage_threshold",
    threshold_help: "The module's own alarm and warning thresholds of its supply voltage.",
    show: volts,
};

/// `1.234 mW (0.9 dBm)`.
fn milliwatts(out: &mut String, watts: f64) {
    fixed(watts * 1e3, 3).push_to(out);
    if watts > 0.0 {
        out.push_str(" mW (");
        fixed(10.0 * (watts * 1e3).log10(), 1).push_to(out);
        out.push_str(" dBm)");
    } else {
        out.push_str(" mW (-inf dBm)");
    }
}

/// `6.50 mA`.
fn milliamperes(out: &mut String, amperes: f64) {
    fixed(amperes * 1e3, 2).push_to(out);
    out.push_str(" mA");
}

/// `3.300 V`.
fn volts(out: &mut String, volts: f64) {
    fixed(volts, 3).push_to(out);
    out.push_str(" V");
}

/// Identity, monitors and thresholds of a module with a memory map the SDK reads.
fn diagnostics(mlx5: &Mlx5, port: u8, identifier: u8) {
    let p = numbered("port", port);
    let module = match ModuleDiagnostics::read(mlx5, port - 1, identifier) {
        Ok(Some(module)) => module,
        Ok(None) => return,
        Err(e) => return failed(&format!("port {port} module diagnostics (MCIA)"), &e),
    };
    for (key, value) in
        [("vendor", &module.vendor), ("part-number", &module.part_number), ("serial-number", &module.serial_number)]
    {
        if !value.is_empty() {
            fact(joined(&[p.as_str(), "-module-", key]), value.as_str());
        }
    }
    // A passive copper cable measures nothing and sets no thresholds.
    if !module.rx_power_thresholds.present() {
        fact(port_key(&p, "module-monitors"), "none");
        return;
    }
    let sensor = numbered("module", port);
    if let Some(v) = module.volts {
        fact(port_key(&p, "module-supply-volts"), v);
        monitor(port, &sensor, None, &VOLTAGE, v, &module.vcc_thresholds);
        limits(&sensor, &VOLTAGE, &module.vcc_thresholds);
    }
    let list = |value: fn(&fwctl_sdk::mlx5::module::Lane) -> f64, quantity: &Quantity| {
        listed(&module.lanes, |out, lane| (quantity.show)(out, value(lane)))
    };
    fact(port_key(&p, "module-rx-power"), list(|l| l.rx_power_watts, &RX_POWER));
    fact(port_key(&p, "module-tx-power"), list(|l| l.tx_power_watts, &TX_POWER));
    fact(port_key(&p, "module-tx-bias"), list(|l| l.tx_bias_amperes, &TX_BIAS));
    for (i, lane) in module.lanes.iter().enumerate() {
        let lane_number = Some(i + 1);
        monitor(port, &sensor, lane_number, &RX_POWER, lane.rx_power_watts, &module.rx_power_thresholds);
        monitor(port, &sensor, lane_number, &TX_POWER, lane.tx_power_watts, &module.tx_power_thresholds);
        monitor(port, &sensor, lane_number, &TX_BIAS, lane.tx_bias_amperes, &module.tx_bias_thresholds);
    }
    limits(&sensor, &RX_POWER, &module.rx_power_thresholds);
    limits(&sensor, &TX_POWER, &module.tx_power_thresholds);
    limits(&sensor, &TX_BIAS, &module.tx_bias_thresholds);
}

/// One monitor's sample, and a finding when it is past a threshold: a warning past a
/// warning threshold, critical past an alarm one.
fn monitor(port: u8, sensor: &str, lane: Option<usize>, quantity: &Quantity, value: f64, thresholds: &Thresholds) {
    let mut metric = gauge(quantity.metric, quantity.unit, quantity.help).label("module", sensor);
    if let Some(lane) = lane {
        metric = metric.label("lane", lane);
    }
    sample(metric, value);
    let (severity, high, threshold, kind) = match thresholds.level(value) {
        Level::Normal => return,
        Level::Warning { high: true } => (Severity::Warning, true, thresholds.high_warning, "high warning"),
        Level::Warning { high: false } => (Severity::Warning, false, thresholds.low_warning, "low warning"),
        Level::Alarm { high: true } => (Severity::Critical, true, thresholds.high_alarm, "high alarm"),
        Level::Alarm { high: false } => (Severity::Critical, false, thresholds.low_alarm, "low alarm"),
    };
    let direction = if high { "high" } else { "low" };
    let place = lane.map_or(format!("port {port} module"), |lane| format!("port {port} module lane {lane}"));
    let side = if high { "at or above" } else { "at or below" };
    let mut report = finding(
        severity,
        format!("mlx5.module.{}.{direction}", quantity.code),
        format!(
            "{place}: {} {}, {side} the module's {kind} threshold {}",
            quantity.name,
            quantity.shown(value),
            quantity.shown(threshold)
        ),
    )
    .detail("port", port as u64)
    .detail("value", value)
    .detail("threshold", threshold);
    if let Some(lane) = lane {
        report = report.detail("lane", lane as u64);
    }
    report.report();
}

/// The module's thresholds for a quantity, as samples to alert on.
fn limits(sensor: &str, quantity: &Quantity, thresholds: &Thresholds) {
    let (name, help) = (quantity.threshold_metric, quantity.threshold_help);
    for (level, value) in [
        ("high-alarm", thresholds.high_alarm),
        ("high-warning", thresholds.high_warning),
        ("low-warning", thresholds.low_warning),
        ("low-alarm", thresholds.low_alarm),
    ] {
        sample(gauge(name, quantity.unit, help).label("module", sensor).label("level", level), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_quantity_names_its_thresholds_after_itself() {
        for quantity in [RX_POWER, TX_POWER, TX_BIAS, VOLTAGE] {
            assert_eq!(quantity.threshold_metric, format!("{}_threshold", quantity.metric));
            assert_eq!(
                quantity.threshold_help,
                format!("The module's own alarm and warning thresholds of its {}.", quantity.name)
            );
        }
    }

    #[test]
    fn readings_read_as_their_formatted_text() {
        for (watts, text) in [(0.001_234_5, "1.234 mW (0.9 dBm)"), (0.0, "0.000 mW (-inf dBm)")] {
            assert_eq!(RX_POWER.shown(watts), text);
        }
        assert_eq!(TX_BIAS.shown(0.0065), "6.50 mA");
        assert_eq!(VOLTAGE.shown(3.3), "3.300 V");
    }
}
