//! `check`: the running configuration against a baseline. Each parameter that differs
//! is a finding (a warning; a pending reset that would fix it is said), and the number
//! of them a metric, so an operator can alert on a host whose configuration drifted.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::{Severity, fact, finding, gauge};

use crate::command::{Baseline, Change};
use crate::reading::{Reader, Values};

pub fn run(mlx5: &Mlx5, baseline: &Baseline) -> Result<(), String> {
    let psid = mlx5.adapter().map_err(|e| format!("QUERY_ADAPTER (the board's PSID): {e}"))?.psid;
    fact("psid", psid.as_str());
    // The PSID's own values win over the common ones.
    let mut expected: Vec<&Change> = baseline.expect.iter().collect();
    if let Some((_, own)) = baseline.by_psid.iter().find(|(p, _)| *p == psid) {
        expected.retain(|c| !own.iter().any(|o| o.parameter == c.parameter));
        expected.extend(own);
    }
    let mut reader = Reader::new(mlx5);
    let mut drifted = 0u32;
    for Change { parameter: p, value } in expected {
        let deviation = match reader.values(p)? {
            Values::NotSupported => {
                Some(format!("{} is expected to be {} but this device does not have it", p.name, p.show(*value)))
            }
            Values::Present { current, next, .. } if current != *value => {
                let pending = if next == *value {
                    "; the next-boot value matches, so a firmware reset would fix it".to_string()
                } else {
                    String::new()
                };
                Some(format!("{} is {}, the baseline expects {}{pending}", p.name, p.show(current), p.show(*value)))
            }
            Values::Present { next, .. } if next != *value => {
                Some(format!("{} is as expected now but becomes {} at the next firmware reset", p.name, p.show(next)))
            }
            Values::Present { .. } => None,
        };
        fact(format!("{}.expected", p.name), p.show(*value));
        if let Some(summary) = deviation {
            drifted += 1;
            finding(Severity::Warning, "mlx5.config.drift", summary).detail("parameter", p.name).report();
        }
    }
    gauge("config_drift_parameters", "", "Non-volatile configuration parameters that differ from the baseline.")
        .report(f64::from(drifted))?;
    Ok(())
}
