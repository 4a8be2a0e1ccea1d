//! Enforcing the resource limits of one plugin run: what it holds, counted against its
//! [`Limits`] (decided by the grant), and the bounds no grant lifts.

use std::time::Duration;

use crate::policy::Limits;

/// Core instances, linear memories and tables one run may create: a Rust `wasm32-wasip2`
/// plugin has a handful of core instances and one or two of each; these bound what a
/// hostile component could make wasmtime allocate outside any memory limit.
pub const MAX_INSTANCES: usize = 32;
/// See [`MAX_INSTANCES`].
pub const MAX_MEMORIES: usize = 4;
/// See [`MAX_INSTANCES`].
pub const MAX_TABLES: usize = 16;

/// What the host accounts a table element at: a function reference is a pointer.
pub const TABLE_ELEMENT_BYTES: usize = 8;

/// The bytes one run holds: all of its linear memories and tables together, against
/// [`Limits::memory_bytes`], and its retained reports, against [`Limits::report_bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    memory: usize,
    tables: usize,
    reports: usize,
}

/// A growth or a report the run's budget does not cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// The limit, in bytes.
    pub limit: usize,
    /// What would have exceeded it.
    pub detail: String,
}

impl Usage {
    /// Accounts one linear memory growing from `current` to `desired` bytes.
    pub fn grow_memory(&mut self, current: usize, desired: usize, limits: &Limits) -> Result<(), OverBudget> {
        let memory = (self.memory - current.min(self.memory)).saturating_add(desired);
        self.admit(memory, self.tables, limits, || format!("a linear memory growing to {desired} bytes"))?;
        self.memory = memory;
        Ok(())
    }

    /// Accounts one table growing from `current` to `desired` elements.
    pub fn grow_table(&mut self, current: usize, desired: usize, limits: &Limits) -> Result<(), OverBudget> {
        let bytes = |elements: usize| elements.saturating_mul(TABLE_ELEMENT_BYTES);
        let tables = (self.tables - bytes(current).min(self.tables)).saturating_add(bytes(desired));
        self.admit(self.memory, tables, limits, || format!("a table growing to {desired} elements"))?;
        self.tables = tables;
        Ok(())
    }

    fn admit(
        &self,
        memory: usize,
        tables: usize,
        limits: &Limits,
        what: impl Fn() -> String,
    ) -> Result<(), OverBudget> {
        let total = memory.saturating_add(tables);
        if total > limits.memory_bytes {
            return Err(OverBudget {
                limit: limits.memory_bytes,
                detail: format!("{} would bring the run's memories and tables to {total} bytes", what()),
            });
        }
        Ok(())
    }

    /// Accounts `bytes` of reported text the host will keep.
    pub fn retain_report(&mut self, bytes: usize, limits: &Limits) -> Result<(), OverBudget> {
        let reports = self.reports.saturating_add(bytes);
        if reports > limits.report_bytes {
            return Err(OverBudget {
                limit: limits.report_bytes,
                detail: format!("a report of {bytes} bytes would bring what the run reported to {reports} bytes"),
            });
        }
        self.reports = reports;
        Ok(())
    }
}

/// How often the engine's epoch advances; the granularity of deadlines and of yielding
/// between concurrent runs.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory_bytes: usize) -> Limits {
        Limits { memory_bytes, report_bytes: 100, ..Limits::default() }
    }

    #[test]
    fn the_memory_limit_is_the_sum_over_every_memory_and_table() {
        let l = limits(64 << 20);
        let mut usage = Usage::default();
        // Two memories of 30 MiB fit; a third of 8 MiB does not.
        usage.grow_memory(0, 30 << 20, &l).unwrap();
        usage.grow_memory(0, 30 << 20, &l).unwrap();
        let over = usage.grow_memory(0, 8 << 20, &l).unwrap_err();
        assert!(over.detail.contains("memories and tables"), "{over:?}");
        // Growing one in place counts only the difference.
        usage.grow_memory(30 << 20, 33 << 20, &l).unwrap();
        // A table's elements count too: 128 Ki elements are 1 MiB.
        usage.grow_table(0, 128 << 10, &l).unwrap();
        assert_eq!(usage.grow_table(128 << 10, 128 << 20, &l).unwrap_err().limit, 64 << 20);
    }

    #[test]
    fn retained_report_bytes_have_a_budget() {
        let l = limits(1 << 20);
        let mut usage = Usage::default();
        usage.retain_report(60, &l).unwrap();
        let over = usage.retain_report(41, &l).unwrap_err();
        assert_eq!(over.limit, 100);
        usage.retain_report(40, &l).unwrap();
    }
}
