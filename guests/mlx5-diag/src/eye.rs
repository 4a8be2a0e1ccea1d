//! Each lane's receive eye (SLRG), as `mlxlink -e` shows it, in the terms of the board's
//! SerDes: on 7 nm (ConnectX-7) the figure of merit the lane's eye-opening monitor measured
//! when its equaliser was trained, on 16 nm (ConnectX-6 Dx) a grade and the middle eye's
//! height and width. Read only: a fresh measurement (`fom_measurement`) starts the monitor,
//! which the host grants as a write, so it is never asked for. Neither figure has a
//! published scale or limit, so a lane is reported only below a threshold the operator
//! gives (`--eye-fom-min`, `--eye-grade-min`); the metrics let a fleet compare lanes, ports
//! and boards of one kind. Read only while the link is up: a down link has no eye.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::registers::{LaneEye, Slrg, slrg_fom_mode_name};
use fwctl_sdk::{Finding, Metric, Severity, fact, finding, gauge};

use crate::options::Options;
use crate::text::{listed, numbered, push_integer};
use crate::{failed, port_key, sample};

/// No eye is measured anew (`fom_measurement` zero): what the lane knows already.
const NO_MEASUREMENT: u32 = 0;

pub fn check(mlx5: &Mlx5, options: &Options, port: u8, lanes: u8) {
    let mut eyes = Vec::new();
    for lane in 0..lanes {
        match mlx5.slrg(port, lane, NO_MEASUREMENT) {
            // Labelled by the lane asked for, whatever the answer's index field says.
            Ok(slrg) => eyes.push((lane, slrg)),
            Err(e) => return failed(&format!("port {port} lane {lane} receive eye (SLRG)"), &e),
        }
    }
    let Some((_, first)) = eyes.first() else { return };
    let p = numbered("port", port);
    match first.eye {
        LaneEye::FigureOfMerit { mode, .. } => {
            fact(port_key(&p, "eye-fom-mode"), slrg_fom_mode_name(mode));
            figures_of_merit(&p, port, options, &eyes);
        }
        LaneEye::Grade { .. } => grades(&p, port, options, &eyes),
        LaneEye::Undecoded => fact(port_key(&p, "eye"), format!("not decoded ({} SerDes)", first.generation())),
        LaneEye::NotMeasured => fact(port_key(&p, "eye"), "not measured"),
    }
}

/// A per-lane metric of the port.
fn on_lane(metric: Metric, port: u8, lane: u8) -> Metric {
    metric.label("port", port).label("lane", lane)
}

/// `mlx5.lane.eye-low`: `what` of a lane is below the operator's `threshold`.
fn eye_low(port: u8, lane: u8, threshold: f64, what: String) -> Finding<'static> {
    finding(Severity::Warning, "mlx5.lane.eye-low", format!("port {port} lane {lane}: {what} is below {threshold}"))
        .detail("port", port as u64)
        .detail("lane", lane as u64)
        .detail("threshold", threshold)
}

/// `12, 40, 41, 39`: one value a lane, `-` where a lane has none.
fn per_lane<T: itoa::Integer>(values: impl Iterator<Item = Option<T>>) -> String {
    listed(values, |out, value| match value {
        Some(value) => push_integer(out, value),
        None => out.push('-'),
    })
}

/// 7 nm: each lane's figure of merit after training, against `--eye-fom-min`.
fn figures_of_merit(p: &str, port: u8, options: &Options, eyes: &[(u8, Slrg)]) {
    let initial = |slrg: &Slrg| match slrg.eye {
        LaneEye::FigureOfMerit { initial, .. } => Some(initial),
        _ => None,
    };
    fact(port_key(p, "eye-fom"), per_lane(eyes.iter().map(|(_, s)| initial(s))));
    for &(lane, ref slrg) in eyes {
        let Some(fom) = initial(slrg) else { continue };
        let metric = gauge(
            "port_lane_eye_fom",
            "",
            "Figure of merit of a lane's receive eye when its equaliser was trained (7 nm SerDes; higher is better).",
        );
        sample(on_lane(metric, port, lane), f64::from(fom));
        if let Some(min) = options.eye_fom_min.filter(|min| f64::from(fom) < *min) {
            eye_low(port, lane, min, format!("receive eye figure of merit {fom}"))
                .detail("figure-of-merit", fom as u64)
                .report();
        }
    }
}

/// A 16 nm lane's grade, and its middle eye's height (mV) and width (ps).
type Grade = (u32, i32, i32);

/// 16 nm: each lane's grade and middle-eye opening, the grade against `--eye-grade-min`.
fn grades(p: &str, port: u8, options: &Options, eyes: &[(u8, Slrg)]) {
    let figures: Vec<(u8, Option<Grade>)> = eyes
        .iter()
        .map(|(lane, slrg)| match slrg.eye {
            LaneEye::Grade { grade, height_mv, phase_ps } => (*lane, Some((grade, height_mv, phase_ps))),
            _ => (*lane, None),
        })
        .collect();
    fact(port_key(p, "eye-grade"), per_lane(figures.iter().map(|(_, f)| f.map(|f| f.0))));
    fact(port_key(p, "eye-height-mv"), per_lane(figures.iter().map(|(_, f)| f.map(|f| f.1))));
    fact(port_key(p, "eye-phase-ps"), per_lane(figures.iter().map(|(_, f)| f.map(|f| f.2))));
    for &(lane, figure) in &figures {
        let Some((grade, height_mv, phase_ps)) = figure else { continue };
        let metric = gauge("port_lane_eye_grade", "", "Grade of a lane's receiver, from the 16 nm SerDes.");
        sample(on_lane(metric, port, lane), f64::from(grade));
        let height = gauge("port_lane_eye_height", "volts", "Height of the middle eye of a lane's receiver.");
        sample(on_lane(height, port, lane), f64::from(height_mv) / 1e3);
        let width = gauge("port_lane_eye_width", "seconds", "Width (phase) of the middle eye of a lane's receiver.");
        sample(on_lane(width, port, lane), f64::from(phase_ps) / 1e12);
        if let Some(min) = options.eye_grade_min.filter(|min| f64::from(grade) < *min) {
            eye_low(port, lane, min, format!("receive grade {grade}"))
                .detail("grade", grade as u64)
                .detail("height-mv", height_mv as i64)
                .detail("phase-ps", phase_ps as i64)
                .report();
        }
    }
}
