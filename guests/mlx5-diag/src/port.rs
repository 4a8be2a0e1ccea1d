//! Per port: link state, speed and protocol (PAOS/PTYS), MTU (PMTU), the firmware's
//! troubleshooting message (PDDR), the active FEC (PPLM), error counters, BER and the
//! corrected bits of each lane (PPCNT); each lane's receive eye is [`crate::eye`]'s, the
//! module in the cage [`crate::module`]'s.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::registers;
use fwctl_sdk::{Metric, Severity, counter, fact, finding, gauge};

use crate::options::Options;
use crate::rates::Rates;
use crate::text::{listed, numbered, push_integer};
use crate::{Support, failed, port_key, sample};

/// A per-port metric.
fn on_port(metric: Metric, port: u8) -> Metric {
    metric.label("port", port)
}

pub fn check(mlx5: &Mlx5, support: &Support, options: &Options, rates: &mut Rates, port: u8) {
    let p = numbered("port", port);
    let troubleshooting = support
        .has(registers::PDDR)
        .then(|| mlx5.pddr_troubleshooting(port))
        .and_then(|r| r.map_err(|e| failed(&format!("port {port} troubleshooting (PDDR)"), &e)).ok());
    if let Some(t) = &troubleshooting {
        fact(port_key(&p, "troubleshooting"), t.message.as_str());
    }

    let mut link_up = false;
    match mlx5.paos(port) {
        Ok(paos) => {
            link_up = paos.oper_up();
            let state = |up| if up { "up" } else { "down" };
            fact(port_key(&p, "admin-state"), state(paos.admin_up()));
            fact(port_key(&p, "oper-state"), state(paos.oper_up()));
            let up = gauge("link_up", "", "1 when the port's link is up.");
            sample(on_port(up, port), if paos.oper_up() { 1.0 } else { 0.0 });
            if paos.admin_up() && !paos.oper_up() {
                let why = troubleshooting.as_ref().map_or("", |t| t.message.as_str());
                let mut f = finding(
                    Severity::Error,
                    "mlx5.link.down",
                    format!("port {port} is administratively up but its link is down"),
                )
                .detail("port", port as u64);
                if !why.is_empty() {
                    f = f.detail("troubleshooting", why);
                }
                f.report();
            }
        }
        Err(e) => failed(&format!("port {port} state (PAOS)"), &e),
    }
    let mut lanes = None;
    match mlx5.ptys(port) {
        Ok(ptys) => {
            lanes = ptys.lanes();
            if let Some(speed) = ptys.speed() {
                fact(port_key(&p, "speed"), speed);
            }
            if let Some(gbps) = ptys.speed_gbps() {
                fact(port_key(&p, "speed-gbps"), gbps as u64);
                let speed = gauge("link_speed", "bytes", "Operational link speed in bytes per second.");
                sample(on_port(speed, port), gbps as f64 * 1e9 / 8.0);
            }
            fact(port_key(&p, "autoneg"), ptys.an_status_name());
        }
        Err(e) => failed(&format!("port {port} speed (PTYS)"), &e),
    }
    if support.has(registers::PMTU) {
        match mlx5.pmtu(port) {
            Ok(mtu) => {
                fact(port_key(&p, "mtu"), mtu.oper_mtu as u64);
                fact(port_key(&p, "max-mtu"), mtu.max_mtu as u64);
            }
            Err(e) => failed(&format!("port {port} MTU (PMTU)"), &e),
        }
    }
    if support.has(registers::PPLM) {
        fec(mlx5, port);
    }
    if options.eye && link_up && support.has(registers::SLRG) {
        match lanes {
            Some(lanes) => crate::eye::check(mlx5, options, port, lanes),
            None => fact(port_key(&p, "eye"), "not read: the operating mode gives no lane count"),
        }
    }
    if options.counters && support.has(registers::PPCNT) {
        counters(mlx5, options, rates, port);
    }
    if options.modules && support.has(registers::MCIA) {
        crate::module::check(mlx5, options, port);
    }
}

/// Error counters and BER; read-only (PPCNT `clr` is never set).
fn counters(mlx5: &Mlx5, options: &Options, rates: &mut Rates, port: u8) {
    let p = numbered("port", port);
    match mlx5.ppcnt_physical(port) {
        Ok(phy) => {
            fact(port_key(&p, "symbol-errors"), phy.symbol_errors);
            fact(port_key(&p, "fec-corrected-blocks"), phy.fec_corrected_blocks);
            fact(port_key(&p, "fec-uncorrectable-blocks"), phy.fec_uncorrectable_blocks);
            fact(port_key(&p, "link-down-events"), phy.link_down_events as u64);
            fact(port_key(&p, "link-recovery-events"), phy.successful_recovery_events as u64);
            let down = counter("link_down", "", "Times the port's link went down.");
            sample(on_port(down, port), phy.link_down_events as f64);
            let recovered =
                counter("link_error_recovery", "", "Link errors the port recovered from without going down.");
            sample(on_port(recovered, port), phy.successful_recovery_events as f64);
            let symbols = counter("port_symbol_errors", "", "Symbol errors on the port's physical layer.");
            sample(on_port(symbols, port), phy.symbol_errors as f64);
            rates.judge(options, port, (&phy).into());
        }
        Err(e) => failed(&format!("port {port} physical counters (PPCNT)"), &e),
    }
    match mlx5.ppcnt_statistical(port) {
        Ok(stats) => {
            if let Some(raw) = stats.raw_ber() {
                fact(port_key(&p, "raw-ber"), raw);
            }
            // Which lane the FEC works hardest on: a dirty connector or a bad lane shows
            // as one lane's count far above the others.
            let lanes = listed(&stats.lane_corrected_bits, |out, &bits| push_integer(out, bits));
            fact(port_key(&p, "lane-corrected-bits"), lanes);
            for (lane, bits) in stats.lane_corrected_bits.iter().enumerate() {
                let metric = counter(
                    "port_lane_raw_errors",
                    "",
                    "Bit errors FEC corrected on one lane of the port (raw physical errors).",
                );
                sample(on_port(metric, port).label("lane", lane), *bits as f64);
            }
            if let Some(ber) = stats.effective_ber() {
                fact(port_key(&p, "effective-ber"), ber);
                let effective = gauge("link_effective_ber", "", "Bit error rate after forward error correction.");
                sample(on_port(effective, port), ber);
                if ber > options.ber_threshold {
                    finding(
                        Severity::Warning,
                        "mlx5.link.ber-high",
                        format!("port {port} effective BER {ber:.2e} is above {:.0e}", options.ber_threshold),
                    )
                    .detail("port", port as u64)
                    .detail("effective-ber", ber)
                    .detail("symbol-errors", stats.symbol_errors)
                    .detail("received-bits", stats.received_bits)
                    .report();
                }
            }
        }
        Err(e) => failed(&format!("port {port} BER counters (PPCNT)"), &e),
    }
    match mlx5.ppcnt_ieee(port) {
        Ok(ieee) => fact(port_key(&p, "fcs-errors"), ieee.fcs_errors),
        Err(e) => failed(&format!("port {port} IEEE 802.3 counters (PPCNT)"), &e),
    }
}

/// The active forward error correction (PPLM), as a fact and an info-style metric.
fn fec(mlx5: &Mlx5, port: u8) {
    match mlx5.pplm(port) {
        Ok(pplm) => {
            let mode = pplm.mode();
            fact(port_key(&numbered("port", port), "fec-mode"), mode.as_deref().unwrap_or("none (link down)"));
            if let Some(mode) = mode {
                let info = gauge("port_fec_mode", "", "The port's active forward error correction (1).");
                sample(on_port(info, port).label("mode", mode), 1.0);
            }
        }
        Err(e) => failed(&format!("port {port} FEC mode (PPLM)"), &e),
    }
}
