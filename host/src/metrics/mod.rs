//! Metrics: the samples plugins report through the WIT (checked by [`sample`]), and the
//! fleet's results as Prometheus text or OpenMetrics ([`exposition`]), written for
//! node_exporter's textfile collector by [`textfile`].

pub mod exposition;
pub mod sample;
pub mod textfile;

pub use self::exposition::Exposition;
pub use self::sample::{Metric, MetricKind};
pub use self::textfile::{TEXTFILE_NAME, previous_last_success, write_textfile};
