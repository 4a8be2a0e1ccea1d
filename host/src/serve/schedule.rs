//! When `serve` runs the fleet: at start, then on a fixed grid of intervals, each run
//! delayed by a random part of the jitter so that the hosts of a cluster do not all
//! reach their devices in the same second. Runs never overlap: a run that outlasts its
//! interval makes the next grid points pass unused, and they are counted.

use std::time::{Duration, Instant};

/// The grid of run times.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// When the first run was due.
    origin: Instant,
    /// Between two grid points.
    interval: Duration,
    /// The most a run is delayed past its grid point, as a fraction of the interval.
    jitter: f64,
}

/// What comes after a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    /// The grid point of the next run.
    pub tick: u64,
    /// Grid points that passed while the run went on, with no run of their own.
    pub skipped: u64,
}

impl Schedule {
    /// A grid that starts at `origin`; `jitter` is clamped to [0, 1).
    pub fn new(origin: Instant, interval: Duration, jitter: f64) -> Self {
        let interval = interval.max(Duration::from_millis(1));
        Self { origin, interval, jitter: jitter.clamp(0.0, 0.999) }
    }

    /// After the run of grid point `ran` ended at `ended`: the next grid point still
    /// ahead, and how many were passed over.
    pub fn after(&self, ran: u64, ended: Instant) -> Next {
        let elapsed = ended.saturating_duration_since(self.origin);
        let current = (elapsed.as_nanos() / self.interval.as_nanos()) as u64;
        let tick = current.max(ran) + 1;
        Next { tick, skipped: tick - ran - 1 }
    }

    /// When the run of grid point `tick` starts, `random` in [0, 1) picking its delay.
    pub fn start_of(&self, tick: u64, random: f64) -> Instant {
        let grid = self.interval.saturating_mul(u32::try_from(tick).unwrap_or(u32::MAX));
        let delay = self.interval.mul_f64(self.jitter * random.clamp(0.0, 1.0));
        self.origin + grid + delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five_minutes() -> (Instant, Schedule) {
        let origin = Instant::now();
        (origin, Schedule::new(origin, Duration::from_secs(300), 0.1))
    }

    #[test]
    fn a_run_shorter_than_its_interval_is_followed_by_the_next_grid_point() {
        let (origin, schedule) = five_minutes();
        assert_eq!(schedule.after(0, origin + Duration::from_secs(20)), Next { tick: 1, skipped: 0 });
        assert_eq!(schedule.after(1, origin + Duration::from_secs(320)), Next { tick: 2, skipped: 0 });
    }

    #[test]
    fn a_run_longer_than_its_interval_skips_the_points_it_covered_and_counts_them() {
        let (origin, schedule) = five_minutes();
        assert_eq!(schedule.after(0, origin + Duration::from_secs(750)), Next { tick: 3, skipped: 2 });
    }

    #[test]
    fn a_jittered_start_stays_within_the_jitter_of_its_grid_point() {
        let (origin, schedule) = five_minutes();
        assert_eq!(schedule.start_of(2, 0.0), origin + Duration::from_secs(600));
        let latest = schedule.start_of(2, 0.999_999);
        assert!(latest > origin + Duration::from_secs(629) && latest <= origin + Duration::from_secs(630));
    }

    #[test]
    fn a_run_that_started_late_by_its_jitter_is_not_counted_as_skipping() {
        let (origin, schedule) = five_minutes();
        // Grid point 1, started 29 s late, took 10 s: the next is point 2, none skipped.
        assert_eq!(schedule.after(1, origin + Duration::from_secs(339)), Next { tick: 2, skipped: 0 });
    }
}
