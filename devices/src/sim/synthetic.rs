//! Large simulated fleets for fleet runs, tests and benchmarks (`--sim-fleet N[:MIX]`).
//!
//! Each device is a copy of a one-device built-in profile, drawn by weight from a mix
//! with a seeded generator, so the same spec and seed always give the same fleet. Each
//! copy gets its own PCI address (mlx5) or memdev (CXL), as distinct adapters would.

use std::fmt;
use std::str::FromStr;

use super::profile::{DeviceProfile, Fleet};
use crate::backend::DeviceKind;

/// The largest fleet `--sim-fleet` builds: far above any real host, low enough that a
/// typo cannot ask for a billion devices.
pub const MAX_DEVICES: usize = 1_000_000;

/// The mix used when a spec names none: mostly healthy adapters, a few CXL memory
/// devices, and one of each single-fault profile, roughly what a large site sees.
pub const DEFAULT_MIX: &[(&str, u32)] = &[
    ("connectx7-healthy", 12),
    ("connectx6dx-healthy", 4),
    ("cxl-type3", 2),
    ("connectx7-hot-module", 1),
    ("connectx7-pcie-degraded", 1),
    ("connectx7-link-down", 1),
    ("connectx7-fec-errors", 1),
    ("connectx6dx-old-firmware", 1),
];

/// `N[:PROFILE[=WEIGHT],...]`: how many devices, drawn from which profiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// How many devices.
    pub count: usize,
    /// Built-in profile names with their relative weights (at least one, all > 0).
    pub mix: Vec<(String, u32)>,
}

impl SyntheticSpec {
    /// `count` devices from the default mix.
    pub fn with_default_mix(count: usize) -> Self {
        Self { count, mix: DEFAULT_MIX.iter().map(|(n, w)| (n.to_string(), *w)).collect() }
    }

    /// Builds the fleet: device `i` is drawn from the mix by the `i`-th draw of a
    /// generator seeded with `seed`.
    pub fn build(&self, seed: u64) -> Result<Fleet, String> {
        let templates = self
            .mix
            .iter()
            .map(|(name, weight)| template(name).map(|profile| (profile, *weight)))
            .collect::<Result<Vec<_>, _>>()?;
        let total: u64 = templates.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut rng = fastrand::Rng::with_seed(seed);
        let (mut functions, mut memdevs) = (0usize, 0usize);
        let devices = (0..self.count)
            .map(|_| {
                let mut draw = rng.u64(0..total);
                let (template, _) = templates
                    .iter()
                    .find(|(_, weight)| {
                        let hit = draw < u64::from(*weight);
                        draw = draw.saturating_sub(u64::from(*weight));
                        hit
                    })
                    .expect("the draw is below the total weight");
                let mut device = template.clone();
                match device.kind {
                    DeviceKind::Cxl => {
                        device.parent = format!("mem{memdevs}");
                        device.pci_address = Some(pci_address(0x100, memdevs));
                        memdevs += 1;
                    }
                    _ => {
                        device.parent = pci_address(0, functions);
                        device.rdma_device = None;
                        functions += 1;
                    }
                }
                device
            })
            .collect();
        Ok(Fleet::from_devices(devices))
    }
}

/// The one device of a built-in profile, or of a profile file (a name with a `/` or
/// ending in `.toml`), so that tests can mix in faults no built-in has.
fn template(name: &str) -> Result<DeviceProfile, String> {
    let fleet = match Fleet::builtin(name) {
        Some(parsed) => parsed?,
        None if name.contains('/') || name.ends_with(".toml") => {
            let text =
                std::fs::read_to_string(name).map_err(|e| format!("--sim-fleet: cannot read profile {name}: {e}"))?;
            Fleet::from_toml(&text, name)?
        }
        None => {
            let names: Vec<_> = Fleet::builtin_names().filter(|n| *n != "default").collect();
            return Err(format!(
                "--sim-fleet: `{name}` is not a built-in profile (one of: {}) nor a profile file",
                names.join(", ")
            ));
        }
    };
    match fleet.devices() {
        [one] => Ok(one.clone()),
        many => {
            Err(format!("--sim-fleet: profile `{name}` has {} devices; a mix takes one-device profiles", many.len()))
        }
    }
}

/// The `index`-th PCI function of a synthetic fleet in PCI domain `domain_base` and up:
/// 32 devices per bus, 256 buses per domain, function 0.
fn pci_address(domain_base: usize, index: usize) -> String {
    let (domain, rest) = (domain_base + index / (256 * 32), index % (256 * 32));
    format!("{domain:04x}:{:02x}:{:02x}.0", rest / 32, rest % 32)
}

impl FromStr for SyntheticSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (count, mix) = match text.split_once(':') {
            Some((count, mix)) => (count, Some(mix)),
            None => (text, None),
        };
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: expected N or N:PROFILE[=WEIGHT],... with N a device count"))?;
        if count == 0 || count > MAX_DEVICES {
            return Err(format!("`{text}`: the device count must be between 1 and {MAX_DEVICES}"));
        }
        let Some(mix) = mix else { return Ok(Self::with_default_mix(count)) };
        let entries =
            mix.split(',')
                .map(|entry| {
                    let (name, weight) =
                        match entry.split_once('=') {
                            Some((name, weight)) => {
                                let weight =
                                    weight.trim().parse::<u32>().ok().filter(|w| *w > 0).ok_or_else(|| {
                                        format!("`{entry}`: the weight must be a whole number above 0")
                                    })?;
                                (name.trim(), weight)
                            }
                            None => (entry.trim(), 1),
                        };
                    if name.is_empty() {
                        return Err(format!("`{text}`: an empty profile name in the mix"));
                    }
                    Ok((name.to_string(), weight))
                })
                .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { count, mix: entries })
    }
}

impl fmt::Display for SyntheticSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mix: Vec<String> = self.mix.iter().map(|(n, w)| format!("{n}={w}")).collect();
        write!(f, "{}:{}", self.count, mix.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models(fleet: &Fleet) -> Vec<String> {
        fleet.devices().iter().map(|d| d.model.clone()).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_fleet_and_another_seed_another() {
        let spec: SyntheticSpec = "200".parse().unwrap();
        let a = spec.build(7).unwrap();
        assert_eq!(models(&a), models(&spec.build(7).unwrap()));
        assert_ne!(models(&a), models(&spec.build(8).unwrap()));
        assert_eq!(a.devices().len(), 200);
    }

    #[test]
    fn the_default_mix_has_healthy_and_faulty_devices_of_both_kinds() {
        let fleet: Fleet = "400".parse::<SyntheticSpec>().unwrap().build(0).unwrap();
        let models = models(&fleet);
        assert!(models.iter().any(|m| m.contains("healthy")));
        assert!(models.iter().any(|m| m.contains("link down")), "{models:?}");
        assert!(fleet.devices().iter().any(|d| d.kind == DeviceKind::Cxl));
    }

    #[test]
    fn every_device_has_its_own_parent_and_rdma_name() {
        let fleet = "10000:connectx7-healthy=3,cxl-type3=1".parse::<SyntheticSpec>().unwrap().build(1).unwrap();
        let mut parents: Vec<_> = fleet.devices().iter().map(|d| d.parent.clone()).collect();
        parents.sort();
        parents.dedup();
        assert_eq!(parents.len(), 10_000);
        let rdma: Vec<_> = fleet.devices().iter().filter_map(|d| d.rdma_device.clone()).collect();
        assert_eq!(rdma.first().map(String::as_str), Some("mlx5_0"));
        assert_eq!(rdma.iter().collect::<std::collections::BTreeSet<_>>().len(), rdma.len());
        assert!(parents.iter().all(|p| p.starts_with("mem") || p.len() == "0000:00:00.0".len()), "{:?}", &parents[..3]);
    }

    #[test]
    fn weights_steer_the_draw() {
        let fleet =
            "1000:connectx7-healthy=99,connectx7-link-down=1".parse::<SyntheticSpec>().unwrap().build(3).unwrap();
        let down = models(&fleet).iter().filter(|m| m.contains("link down")).count();
        assert!((1..=40).contains(&down), "{down} of 1000 drawn at weight 1/100");
    }

    #[test]
    fn profile_files_join_the_mix() {
        let dir = std::env::temp_dir().join(format!("fwctl-synthetic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vanishing.toml");
        let healthy = include_str!("../../profiles/connectx7-healthy.toml");
        std::fs::write(&file, format!("{healthy}\n[device.faults]\nvanish_after_rpcs = 3\n")).unwrap();
        let spec: SyntheticSpec = format!("4:{}", file.display()).parse().unwrap();
        let fleet = spec.build(0).unwrap();
        assert!(fleet.devices().iter().all(|d| d.faults.vanish_after_rpcs == Some(3)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_specs_are_refused_by_name() {
        for (spec, says) in [
            ("0", "between 1 and"),
            ("many", "expected N"),
            ("5:connectx7-healthy=0", "above 0"),
            ("5:connectx7-healthy=x", "above 0"),
            ("5:,connectx7-healthy", "empty profile name"),
        ] {
            let error = spec.parse::<SyntheticSpec>().unwrap_err();
            assert!(error.contains(says), "{spec}: {error}");
        }
        let unknown = "5:no-such-nic".parse::<SyntheticSpec>().unwrap().build(0).unwrap_err();
        assert!(
            unknown.contains("`no-such-nic` is not a built-in profile") && unknown.contains("cxl-type3"),
            "{unknown}"
        );
        let missing = "5:./no/such.toml".parse::<SyntheticSpec>().unwrap().build(0).unwrap_err();
        assert!(missing.contains("cannot read profile ./no/such.toml"), "{missing}");
        let whole_fleet = "5:default".parse::<SyntheticSpec>().unwrap().build(0).unwrap_err();
        assert!(whole_fleet.contains("has 3 devices"), "{whole_fleet}");
    }
}
