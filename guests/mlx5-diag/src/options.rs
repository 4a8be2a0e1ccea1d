//! The plugin's arguments: which sections to run and the thresholds findings use.

/// What the operator asked for.
#[derive(Debug, PartialEq)]
pub struct Options {
    pub ports: bool,
    pub counters: bool,
    pub modules: bool,
    pub pcie: bool,
    pub temperature: bool,
    /// ASIC warning threshold; `None`: the firmware's own.
    pub temp_warn: Option<f64>,
    pub temp_critical: f64,
    /// Module critical threshold (the warning one is the firmware's).
    pub module_temp_critical: f64,
    /// Effective (post-FEC) BER above which a link is reported.
    pub ber_threshold: f64,
    /// Rates since the previous run above which a port is reported (per hour).
    pub symbol_errors_per_hour: f64,
    pub fec_uncorrectable_per_hour: f64,
    pub link_down_per_hour: f64,
    pub link_recovery_per_hour: f64,
    pub pcie_errors_per_hour: f64,
    pub pcie_recovery_per_hour: f64,
    /// Each lane's receive eye (SLRG).
    pub eye: bool,
    /// 7 nm: a lane whose figure of merit is below this is reported. No default: no
    /// published limit exists.
    pub eye_fom_min: Option<f64>,
    /// 16 nm: a lane whose grade is below this is reported (no default either).
    pub eye_grade_min: Option<f64>,
}

const USAGE: &str = "expected --no-ports, --no-counters, --no-modules, --no-pcie, --no-temperature, --no-eye, \
                     --eye-fom-min N, --eye-grade-min N, \
                     --temp-warn-celsius N, --temp-critical-celsius N, --module-temp-critical-celsius N, \
                     --ber-threshold X, --symbol-errors-per-hour N, --fec-uncorrectable-per-hour N, \
                     --link-down-per-hour N, --link-recovery-per-hour N, --pcie-errors-per-hour N, --pcie-recovery-per-hour N";

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options {
            ports: true,
            counters: true,
            modules: true,
            pcie: true,
            temperature: true,
            temp_warn: None,
            temp_critical: 120.0,
            module_temp_critical: 85.0,
            ber_threshold: 1e-10,
            // A healthy link at 100G+ sees some symbol errors (FEC corrects them); any
            // uncorrectable block or link flap is worth a look; recoveries in bursts.
            symbol_errors_per_hour: 1000.0,
            fec_uncorrectable_per_hour: 0.0,
            link_down_per_hour: 0.0,
            link_recovery_per_hour: 10.0,
            // Correctable PCIe errors happen; a steady stream of them, or of retrains, does not.
            pcie_errors_per_hour: 10.0,
            pcie_recovery_per_hour: 10.0,
            eye: true,
            eye_fom_min: None,
            eye_grade_min: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |what: &str| -> Result<f64, String> {
                it.next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{arg} needs {what}"))
            };
            match arg.as_str() {
                "--no-ports" => o.ports = false,
                "--no-counters" => o.counters = false,
                "--no-modules" => o.modules = false,
                "--no-pcie" => o.pcie = false,
                "--no-temperature" => o.temperature = false,
                "--no-eye" => o.eye = false,
                "--eye-fom-min" => o.eye_fom_min = Some(number("a figure of merit")?),
                "--eye-grade-min" => o.eye_grade_min = Some(number("a grade")?),
                "--temp-warn-celsius" => o.temp_warn = Some(number("a number of degrees Celsius")?),
                "--temp-critical-celsius" => o.temp_critical = number("a number of degrees Celsius")?,
                "--module-temp-critical-celsius" => o.module_temp_critical = number("a number of degrees Celsius")?,
                "--ber-threshold" => o.ber_threshold = number("a bit error ratio such as 1e-12")?,
                "--symbol-errors-per-hour" => o.symbol_errors_per_hour = number("a number per hour")?,
                "--fec-uncorrectable-per-hour" => o.fec_uncorrectable_per_hour = number("a number per hour")?,
                "--link-down-per-hour" => o.link_down_per_hour = number("a number per hour")?,
                "--link-recovery-per-hour" => o.link_recovery_per_hour = number("a number per hour")?,
                "--pcie-errors-per-hour" => o.pcie_errors_per_hour = number("a number per hour")?,
                "--pcie-recovery-per-hour" => o.pcie_recovery_per_hour = number("a number per hour")?,
                other => return Err(format!("unknown argument `{other}` ({USAGE})")),
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn arguments_select_sections_and_thresholds() {
        let o = Options::parse(&args(&["--no-pcie", "--temp-warn-celsius", "80", "--ber-threshold", "1e-12"])).unwrap();
        assert!(o.ports && o.counters && !o.pcie && o.temperature);
        assert_eq!((o.temp_warn, o.temp_critical, o.ber_threshold), (Some(80.0), 120.0, 1e-12));
        for bad in [
            &["--temp-warn-celsius"][..],
            &["--temp-warn-celsius", "hot"],
            &["--ber-threshold", "NaN"],
            &["--ber-threshold", "-1"],
        ] {
            assert!(Options::parse(&args(bad)).unwrap_err().contains("needs"), "{bad:?}");
        }
        assert!(Options::parse(&args(&["--frobnicate"])).unwrap_err().contains("unknown argument `--frobnicate`"));
        let o = Options::parse(&args(&["--no-ports", "--no-counters", "--no-modules", "--no-temperature"])).unwrap();
        assert!(!o.ports && !o.counters && !o.modules && o.pcie && !o.temperature);
        let o = Options::parse(&args(&["--eye-fom-min", "30"])).unwrap();
        assert_eq!((o.eye, o.eye_fom_min, o.eye_grade_min), (true, Some(30.0), None));
        assert!(!Options::parse(&args(&["--no-eye"])).unwrap().eye);
        assert!(Options::parse(&args(&["--eye-grade-min", "low"])).unwrap_err().contains("needs a grade"));
    }
}
