//! What a plugin keeps between its runs on one device: read what the previous run saved
//! (with how long ago: the sandbox has no clock of its own) and save for the next.
//!
//! The host keeps up to 64 KiB per plugin and device, under the device's own identity
//! (a replaced board starts afresh), and none when the operator runs with `--no-state`.
//! Values go through serde as JSON, so a plugin can change what it keeps: a previous
//! value that no longer fits the type reads as none (a fresh start), never an error.
//!
//! ```no_run
//! use fwctl_sdk::state;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Counters { symbol_errors: u64 }
//!
//! if let Some(previous) = state::previous::<Counters>() {
//!     let hours = previous.age.as_secs_f64() / 3600.0;
//!     // judge the change since then by its rate...
//! }
//! let _ = state::save(&Counters { symbol_errors: 7 });
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::fwctl::plugin::state as wit;

/// What the previous run saved.
#[derive(Clone, Debug, PartialEq)]
pub struct Previous<T> {
    /// The value.
    pub value: T,
    /// How long ago it was saved, by the host's clock.
    pub age: Duration,
}

/// Why a value was not saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// Larger than the host keeps (the limit, in bytes).
    TooLarge(u32),
    /// The host keeps no state for this run, or could not write it.
    Unavailable(String),
    /// The value could not be serialised.
    Encode(String),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(limit) => write!(f, "the state is larger than the {limit} bytes the host keeps"),
            Self::Unavailable(why) => write!(f, "no state is kept: {why}"),
            Self::Encode(why) => write!(f, "the state could not be serialised: {why}"),
        }
    }
}

/// The value the previous run on this device saved, if any and if it still reads as a
/// `T`.
pub fn previous<T: DeserializeOwned>() -> Option<Previous<T>> {
    let saved = wit::previous()?;
    let value = serde_json::from_slice(&saved.data).ok()?;
    Some(Previous { value, age: Duration::from_secs(saved.age_seconds) })
}

/// Saves `value` for the next run on this device, replacing what was saved.
pub fn save<T: Serialize>(value: &T) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StateError::Encode(e.to_string()))?;
    wit::save(&bytes).map_err(|e| match e {
        wit::StateError::TooLarge(limit) => StateError::TooLarge(limit),
        wit::StateError::Unavailable(why) => StateError::Unavailable(why),
    })
}
