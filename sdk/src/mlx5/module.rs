//! A pluggable module's diagnostics (what `mlxlink -m` shows): identity, supply voltage,
//! and per lane Rx power, Tx power and Tx bias, each with the module's own alarm and
//! warning thresholds, read through MCIA from the memory map of the module's standard
//! ([`fwctl_proto::module`], re-exported as [`layout`]).
//!
//! Every read stays inside the module memory the host knows not to change when read:
//! monitors, identity and thresholds, never the latched flags.
//!
//! The lanes whose Rx power is past a threshold (the guide's example):
//!
//! ```
//! use fwctl_sdk::mlx5::module::{Level, ModuleDiagnostics};
//!
//! fn weak_lanes(mlx5: &fwctl_sdk::mlx5::Mlx5, cage: u8, identifier: u8) -> Vec<usize> {
//!     let Ok(Some(module)) = ModuleDiagnostics::read(mlx5, cage, identifier) else { return Vec::new() };
//!     let rx = module.rx_power_thresholds;
//!     (0..module.lanes.len()).filter(|&n| rx.level(module.lanes[n].rx_power_watts) != Level::Normal).collect()
//! }
//! ```

pub use fwctl_proto::module as layout;

use layout::At;

use super::{Error, Mlx5};

/// One quantity's thresholds, in its unit (°C, V, W or A).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or above: an alarm.
    pub high_alarm: f64,
    /// At or below: an alarm.
    pub low_alarm: f64,
    /// At or above: a warning.
    pub high_warning: f64,
    /// At or below: a warning.
    pub low_warning: f64,
}

/// Where a value stands against its thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Between the warnings.
    Normal,
    /// Past a warning threshold, `high` or not.
    Warning {
        /// Above (`true`) or below.
        high: bool,
    },
    /// Past an alarm threshold.
    Alarm {
        /// Above (`true`) or below.
        high: bool,
    },
}

impl Thresholds {
    /// From the four words of a threshold block, each converted by `unit`.
    pub fn decode(block: &[u8], unit: fn([u8; 2]) -> f64) -> Self {
        let word = |i: usize| unit([block[2 * i], block[2 * i + 1]]);
        Self { high_alarm: word(0), low_alarm: word(1), high_warning: word(2), low_warning: word(3) }
    }

    /// Whether the module sets any (a passive copper cable has none: all zero).
    pub fn present(&self) -> bool {
        [self.high_alarm, self.low_alarm, self.high_warning, self.low_warning].iter().any(|v| *v != 0.0)
    }

    /// Where `value` stands; [`Level::Normal`] when the module sets no thresholds.
    pub fn level(&self, value: f64) -> Level {
        if !self.present() {
            Level::Normal
        } else if value >= self.high_alarm {
            Level::Alarm { high: true }
        } else if value <= self.low_alarm {
            Level::Alarm { high: false }
        } else if value >= self.high_warning {
            Level::Warning { high: true }
        } else if value <= self.low_warning {
            Level::Warning { high: false }
        } else {
            Level::Normal
        }
    }
}

/// One lane's monitors, in watts and amperes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lane {
    /// Received optical power.
    pub rx_power_watts: f64,
    /// Transmitted optical power.
    pub tx_power_watts: f64,
    /// Laser bias current.
    pub tx_bias_amperes: f64,
}

/// What a module reports about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleDiagnostics {
    /// `SFF-8636` or `CMIS`.
    pub standard: &'static str,
    /// Vendor name, part number, serial number (trimmed).
    pub vendor: String,
    /// See [`Self::vendor`].
    pub part_number: String,
    /// See [`Self::vendor`].
    pub serial_number: String,
    /// Supply voltage, where the host may read it (SFF-8636).
    pub volts: Option<f64>,
    /// Lane 1 first.
    pub lanes: Vec<Lane>,
    /// Thresholds of the supply voltage.
    pub vcc_thresholds: Thresholds,
    /// Thresholds of each lane's Rx power.
    pub rx_power_thresholds: Thresholds,
    /// Thresholds of each lane's Tx power.
    pub tx_power_thresholds: Thresholds,
    /// Thresholds of each lane's Tx bias.
    pub tx_bias_thresholds: Thresholds,
}

impl ModuleDiagnostics {
    /// Reads module `module` (cage index) whose SFF-8024 identifier is `identifier`;
    /// `Ok(None)` for a module type without a map here (SFP).
    pub fn read(mlx5: &Mlx5, module: u8, identifier: u8) -> Result<Option<Self>, Error> {
        let Some(map) = layout::memory_map(identifier) else { return Ok(None) };
        let identity = span(mlx5, module, map.vendor_name, map.serial_number, 16)?;
        let t = map.thresholds;
        let blocks = [t.temperature, t.vcc, t.rx_power, t.tx_power, t.tx_bias];
        let thresholds = span(mlx5, module, first(&blocks), last(&blocks), 8)?;
        // The lane monitors, and the supply voltage where it sits on the same page before
        // them (SFF-8636's lower memory), in one read.
        let lanes = [map.rx_power, map.tx_power, map.tx_bias];
        let vcc = map.vcc.filter(|at| at.page == map.rx_power.page && at.offset < first(&lanes).offset);
        let start = vcc.unwrap_or(first(&lanes));
        let monitors = span(mlx5, module, start, last(&lanes), 2 * map.lanes)?;
        let text = |at: At| {
            let bytes = identity.get(&at, 16);
            String::from_utf8_lossy(bytes).trim_matches(|c: char| c == ' ' || c == '\0').to_string()
        };
        let block = |at: At, unit| Thresholds::decode(thresholds.get(&at, 8), unit);
        let lane_word = |at: At, lane: usize| {
            let bytes = monitors.get(&At { offset: at.offset + 2 * lane as u16, ..at }, 2);
            [bytes[0], bytes[1]]
        };
        let volts = vcc.map(|at| {
            let bytes = monitors.get(&at, 2);
            layout::volts([bytes[0], bytes[1]])
        });
        Ok(Some(Self {
            standard: map.name,
            vendor: text(map.vendor_name),
            part_number: text(map.part_number),
            serial_number: text(map.serial_number),
            volts,
            lanes: (0..map.lanes)
                .map(|lane| Lane {
                    rx_power_watts: layout::watts(lane_word(map.rx_power, lane)),
                    tx_power_watts: layout::watts(lane_word(map.tx_power, lane)),
                    tx_bias_amperes: layout::amperes(lane_word(map.tx_bias, lane)),
                })
                .collect(),
            vcc_thresholds: block(t.vcc, layout::volts),
            rx_power_thresholds: block(t.rx_power, layout::watts),
            tx_power_thresholds: block(t.tx_power, layout::watts),
            tx_bias_thresholds: block(t.tx_bias, layout::amperes),
        }))
    }
}

/// The first of blocks that lie together on one page (in an order each map chooses).
fn first(blocks: &[At]) -> At {
    *blocks.iter().min_by_key(|at| at.offset).expect("blocks")
}

/// The last of them.
fn last(blocks: &[At]) -> At {
    *blocks.iter().max_by_key(|at| at.offset).expect("blocks")
}

/// Bytes read in one MCIA access from `first` to `last` plus `last_len` bytes (same page).
struct Span {
    start: At,
    bytes: Vec<u8>,
}

impl Span {
    /// `len` bytes at `at`, or zeros when the module answered short.
    fn get(&self, at: &At, len: usize) -> &[u8] {
        const ZEROS: [u8; 16] = [0; 16];
        let from = usize::from(at.offset - self.start.offset);
        self.bytes.get(from..from + len).unwrap_or(&ZEROS[..len])
    }
}

fn span(mlx5: &Mlx5, module: u8, first: At, last: At, last_len: usize) -> Result<Span, Error> {
    debug_assert_eq!(first.page, last.page);
    let size = usize::from(last.offset - first.offset) + last_len;
    let mcia = mlx5.mcia_at(module, first.page, first.offset, size as u16)?;
    Ok(Span { start: first, bytes: mcia.data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_judged_against_the_module_s_own_thresholds() {
        let rx = Thresholds { high_alarm: 3.4e-3, low_alarm: 0.05e-3, high_warning: 2.7e-3, low_warning: 0.1e-3 };
        assert_eq!(rx.level(0.8e-3), Level::Normal);
        assert_eq!(rx.level(0.08e-3), Level::Warning { high: false });
        assert_eq!(rx.level(0.04e-3), Level::Alarm { high: false });
        assert_eq!(rx.level(3.0e-3), Level::Warning { high: true });
        let none = Thresholds::decode(&[0; 8], layout::watts);
        assert!(!none.present());
        assert_eq!(none.level(0.0), Level::Normal, "a copper cable has no thresholds to cross");
        let block = [0x84, 0xd0, 0x01, 0xf4, 0x69, 0x78, 0x03, 0xe8];
        let decoded = Thresholds::decode(&block, layout::watts);
        assert!((decoded.high_alarm - 3.4e-3).abs() < 1e-9 && (decoded.low_warning - 0.1e-3).abs() < 1e-9);
    }
}
