//! A reading with a fixed number of decimals: the text `format!("{x:.N}")` writes,
//! without core's exact float formatting.
//!
//! Core formats the exact binary value of `x` (Grisu, falling back to big-number
//! Dragon4): about 2,700 wasm instructions a number, and a module's monitors are written
//! two numbers a lane. Scaling by 10^N and rounding to an integer gives the same digits
//! whenever the scaled value is not within 10^-6 of a half (its rounding error is below
//! 1.2 × 10^-7 under 10^9, so it cannot cross the half); near a half, and for large or
//! non-finite values, this defers to core. The tests hold it to core's text for every
//! reading a module can report.

use std::fmt;

use crate::text::push_integer;

/// `value` with `decimals` digits after the point (more than 6 are left to core).
pub fn fixed(value: f64, decimals: usize) -> Fixed {
    Fixed { value, decimals }
}

/// See [`fixed`].
pub struct Fixed {
    value: f64,
    decimals: usize,
}

impl Fixed {
    /// Pushes the text onto `out`: the digits pushed in pieces (see `crate::text`), core's
    /// formatting only where this defers to it.
    pub fn push_to(&self, out: &mut String) {
        let Self { value, decimals } = *self;
        if decimals > 6 {
            return core_writes(out, value, decimals);
        }
        let scale = 10u64.pow(decimals as u32);
        let scaled = value * scale as f64;
        let from_half = (scaled.abs().fract() - 0.5).abs();
        if !scaled.is_finite() || scaled.abs() >= 1e9 || from_half < 1e-6 {
            return core_writes(out, value, decimals);
        }
        let units = scaled.abs().round() as u64;
        // Core keeps the sign of a negative value that rounds to zero ("-0.0").
        if value.is_sign_negative() {
            out.push('-');
        }
        push_integer(out, units / scale);
        if decimals > 0 {
            out.push('.');
            let mut digits = itoa::Buffer::new();
            let fraction = digits.format(units % scale);
            out.extend(std::iter::repeat_n('0', decimals - fraction.len()));
            out.push_str(fraction);
        }
    }
}

/// Core's exact formatting of `value` to `decimals` places.
fn core_writes(out: &mut String, value: f64, decimals: usize) {
    use std::fmt::Write as _;
    // Writing into a String cannot fail.
    let _ = write!(out, "{value:.decimals$}");
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use fwctl_sdk::mlx5::module::layout;

    use super::fixed;

    fn same_as_core(value: f64, decimals: usize) {
        assert_eq!(fixed(value, decimals).to_string(), format!("{value:.decimals$}"), "{value:?} to {decimals}");
    }

    #[test]
    fn every_reading_a_module_reports_reads_as_core_writes_it() {
        for word in 0..=u16::MAX {
            let word = word.to_be_bytes();
            let milliwatts = layout::watts(word) * 1e3;
            same_as_core(milliwatts, 3);
            if milliwatts > 0.0 {
                same_as_core(10.0 * milliwatts.log10(), 1);
            }
            same_as_core(layout::amperes(word) * 1e3, 2);
            same_as_core(layout::volts(word), 3);
        }
    }

    #[test]
    fn halves_signs_and_the_out_of_range_read_as_core_writes_them() {
        for value in [0.0, -0.0, -0.04, -2.94, 0.5, 1.5, 2.5, 0.125, 2.0625, 1e9, -1e12, 123.456_789] {
            for decimals in 0..=6 {
                same_as_core(value, decimals);
            }
        }
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN_POSITIVE] {
            same_as_core(value, 3);
        }
        same_as_core(0.123_456_789_123, 9);
        // Decimal halves, and the doubles either side of each: where rounding the scaled
        // value could part from rounding the exact one.
        for decimals in 0..=6 {
            for k in [0i64, 1, 2, 7, 267, 1_000, 99_999, -1, -268] {
                let half = (k as f64 + 0.5) / 10f64.powi(decimals as i32);
                for value in [half.next_down(), half, half.next_up()] {
                    same_as_core(value, decimals);
                }
            }
        }
        // A spread of magnitudes, from a fixed generator (an LCG), to every precision.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
            let value = (mantissa - 0.5) * 10f64.powi((state % 14) as i32 - 4);
            same_as_core(value, (state >> 60) as usize % 7);
        }
    }
}
