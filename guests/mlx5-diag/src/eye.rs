//! Each lane's receive eye (SLRG), as `mlxlink -e` shows it, in the terms of the board's
//! SerDes: figures of merit of the eye-opening monitor on 7 nm (ConnectX-7), a grade and
//! the middle eye's height and width on 16 nm (ConnectX-6 Dx). Neither has a published
//! scale or limit, so a lane is reported only below a threshold the operator gives
//! (`--eye-fom-min`, `--eye-grade-min`); the metrics let a fleet compare lanes, ports and
//! boards of one kind. Read only while the link is up: a down link has no eye.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::registers::{EYE_COMPOSITE, EYE_LOWER, EYE_MIDDLE, EYE_UPPER, LaneEye, Slrg, slrg_fom_mode_name};
use fwctl_sdk::{Metric, Severity, fact, finding, gauge};

use crate::options::Options;
use crate::{failed, sample};

/// The link's lanes, as PTYS's operating mode gives them.
pub struct Link {
    pub lanes: u8,
    /// PAM4 (50 Gb/s a lane and up): three eyes a lane; NRZ has one.
    pub pam4: bool,
}

pub fn check(mlx5: &Mlx5, options: &Options, port: u8, link: &Link) {
    let measure = EYE_COMPOSITE | if link.pam4 { EYE_UPPER | EYE_MIDDLE | EYE_LOWER } else { 0 };
    let mut lanes = Vec::new();
    for lane in 0..link.lanes {
        match mlx5.slrg(port, lane, measure) {
            Ok(slrg) => lanes.push(slrg),
            Err(e) => return failed(&format!("port {port} lane {lane} receive eye (SLRG)"), &e),
        }
    }
    let Some(first) = lanes.first() else { return };
    let p = format!("port{port}");
    match first.eye {
        LaneEye::FigureOfMerit { mode, .. } => {
            fact(format!("{p}-eye-fom-mode"), slrg_fom_mode_name(mode));
            figures_of_merit(&p, port, options, &lanes);
        }
        LaneEye::Grade { .. } => grades(&p, port, options, &lanes),
        LaneEye::Undecoded => fact(format!("{p}-eye"), format!("not decoded ({} SerDes)", first.generation())),
        LaneEye::NotMeasured => fact(format!("{p}-eye"), "not measured"),
    }
}

/// A per-lane metric of the port.
fn on_lane(metric: Metric, port: u8, lane: u8) -> Metric {
    metric.label("port", port).label("lane", lane)
}

/// `12, 40, 41, 39`: one value a lane, `-` where a lane has none.
fn per_lane<T: ToString>(values: impl Iterator<Item = Option<T>>) -> String {
    values.map(|v| v.map_or("-".to_string(), |v| v.to_string())).collect::<Vec<_>>().join(", ")
}

/// 7 nm: each eye's figure of merit, and the worst eye of each lane against `--eye-fom-min`.
fn figures_of_merit(p: &str, port: u8, options: &Options, lanes: &[Slrg]) {
    let eyes = |slrg: &Slrg| match slrg.eye {
        LaneEye::FigureOfMerit { upper, middle, lower, composite, .. } => {
            [("upper", upper), ("middle", middle), ("lower", lower), ("composite", composite)]
        }
        _ => [("upper", None), ("middle", None), ("lower", None), ("composite", None)],
    };
    let initial = |slrg: &Slrg| match slrg.eye {
        LaneEye::FigureOfMerit { initial, .. } => Some(initial),
        _ => None,
    };
    fact(format!("{p}-eye-fom-initial"), per_lane(lanes.iter().map(initial)));
    for (index, name) in ["upper", "middle", "lower", "composite"].into_iter().enumerate() {
        let values: Vec<Option<u8>> = lanes.iter().map(|l| eyes(l)[index].1).collect();
        if values.iter().any(Option::is_some) {
            let key = if name == "composite" { format!("{p}-eye-fom") } else { format!("{p}-eye-fom-{name}") };
            fact(key, per_lane(values.into_iter()));
        }
    }
    for slrg in lanes {
        for (eye, value) in eyes(slrg).into_iter().filter_map(|(eye, v)| Some((eye, v?))) {
            let metric = gauge(
                "port_lane_eye_fom",
                "",
                "Figure of merit of one eye of a lane's receiver, from the 7 nm eye-opening monitor (higher is better).",
            );
            sample(on_lane(metric, port, slrg.lane).label("eye", eye), f64::from(value));
        }
        let Some(min) = options.eye_fom_min else { continue };
        let worst = eyes(slrg).into_iter().filter_map(|(eye, v)| Some((eye, v?))).min_by_key(|(_, v)| *v);
        if let Some((eye, value)) = worst.filter(|(_, v)| f64::from(*v) < min) {
            finding(
                Severity::Warning,
                "mlx5.lane.eye-low",
                format!("port {port} lane {}: {eye} eye figure of merit {value} is below {min}", slrg.lane),
            )
            .detail("port", port as u64)
            .detail("lane", slrg.lane as u64)
            .detail("eye", eye)
            .detail("figure-of-merit", value as u64)
            .detail("threshold", min)
            .report();
        }
    }
}

/// 16 nm: each lane's grade and middle-eye opening, the grade against `--eye-grade-min`.
fn grades(p: &str, port: u8, options: &Options, lanes: &[Slrg]) {
    let figures: Vec<Option<(u32, i32, i32)>> = lanes
        .iter()
        .map(|l| match l.eye {
            LaneEye::Grade { grade, height_mv, phase_ps } => Some((grade, height_mv, phase_ps)),
            _ => None,
        })
        .collect();
    fact(format!("{p}-eye-grade"), per_lane(figures.iter().map(|f| f.map(|f| f.0))));
    fact(format!("{p}-eye-height-mv"), per_lane(figures.iter().map(|f| f.map(|f| f.1))));
    fact(format!("{p}-eye-phase-ps"), per_lane(figures.iter().map(|f| f.map(|f| f.2))));
    for (slrg, figure) in lanes.iter().zip(&figures) {
        let Some((grade, height_mv, phase_ps)) = *figure else { continue };
        let lane = slrg.lane;
        let metric = gauge("port_lane_eye_grade", "", "Grade of a lane's receiver, from the 16 nm SerDes.");
        sample(on_lane(metric, port, lane), f64::from(grade));
        let height = gauge("port_lane_eye_height", "volts", "Height of the middle eye of a lane's receiver.");
        sample(on_lane(height, port, lane), f64::from(height_mv) / 1e3);
        let width = gauge("port_lane_eye_width", "seconds", "Width (phase) of the middle eye of a lane's receiver.");
        sample(on_lane(width, port, lane), f64::from(phase_ps) / 1e12);
        if let Some(min) = options.eye_grade_min.filter(|min| f64::from(grade) < *min) {
            finding(
                Severity::Warning,
                "mlx5.lane.eye-low",
                format!("port {port} lane {lane}: receive grade {grade} is below {min}"),
            )
            .detail("port", port as u64)
            .detail("lane", lane as u64)
            .detail("grade", grade as u64)
            .detail("height-mv", height_mv as i64)
            .detail("phase-ps", phase_ps as i64)
            .detail("threshold", min)
            .report();
        }
    }
}
