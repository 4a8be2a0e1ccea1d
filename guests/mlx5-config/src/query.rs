//! `query`: each parameter's default, current and next-boot value, as mlxconfig's
//! "Default / Current / Next Boot" columns, one fact each; a value that changes at the
//! next reset is a finding too.

use fwctl_sdk::mlx5::Mlx5;
use fwctl_sdk::mlx5::nvconfig::Parameter;
use fwctl_sdk::{Severity, fact, finding};

use crate::reading::{Reader, Values};

pub fn run(mlx5: &Mlx5, parameters: &[&'static Parameter]) -> Result<(), String> {
    let mut reader = Reader::new(mlx5);
    for p in parameters {
        match reader.values(p)? {
            Values::NotSupported => fact(p.name, "not supported by this device"),
            Values::Present { default, current, next, writable } => {
                fact(format!("{}.default", p.name), p.show(default));
                fact(format!("{}.current", p.name), p.show(current));
                fact(format!("{}.next", p.name), p.show(next));
                if !writable {
                    fact(format!("{}.read-only", p.name), true);
                }
                if next != current {
                    finding(
                        Severity::Info,
                        "mlx5.config.pending",
                        format!(
                            "{} is {} now and {} after the next firmware reset or reboot",
                            p.name,
                            p.show(current),
                            p.show(next)
                        ),
                    )
                    .detail("parameter", p.name)
                    .report();
                }
            }
        }
    }
    Ok(())
}
