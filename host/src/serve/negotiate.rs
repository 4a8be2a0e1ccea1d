//! Which exposition format a scrape gets, from its `Accept` header.
//!
//! Prometheus asks for OpenMetrics first and the classic text format after, with
//! weights; other scrapers (curl, node_exporter-era tools) ask for nothing or for
//! `text/plain`, and get the classic format.

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The classic Prometheus text format, version 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The format `accept` weighs highest among those served; the classic format when
/// nothing served is asked for (an exporter answers rather than refusing with 406).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else { return Format::Prometheus };
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut weight = 1.0f32;
        let mut version = None;
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else { continue };
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => weight = value.trim().parse().unwrap_or(0.0),
                "version" => version = Some(value.trim().trim_matches('"').to_string()),
                _ => {}
            }
        }
        let format = match (media.as_str(), version.as_deref()) {
            ("application/openmetrics-text", None | Some("1.0.0" | "0.0.1")) => Format::OpenMetrics,
            ("text/plain", None | Some("0.0.4")) | ("text/*" | "*/*", _) => Format::Prometheus,
            _ => continue,
        };
        if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, format));
        }
    }
    best.map_or(Format::Prometheus, |(_, format)| format)
}

/// Whether `accept_encoding` takes gzip (Prometheus always does): the run's families
/// are kept compressed, and sent so.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|header| {
        header.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let weight = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && weight > 0.0
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_used_when_the_scraper_takes_it() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("br, identity")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn prometheus_gets_openmetrics_when_it_weighs_it_highest() {
        let accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(negotiate(Some(accept)), Format::OpenMetrics);
    }

    #[test]
    fn a_scraper_that_asks_for_text_or_nothing_gets_the_classic_format() {
        assert_eq!(negotiate(None), Format::Prometheus);
        assert_eq!(negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Prometheus);
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5")),
            Format::Prometheus
        );
    }

    #[test]
    fn a_format_at_weight_zero_or_of_an_unknown_version_is_not_chosen() {
        assert_eq!(negotiate(Some("application/openmetrics-text;q=0")), Format::Prometheus);
        assert_eq!(negotiate(Some("application/openmetrics-text;version=9.9")), Format::Prometheus);
        assert_eq!(negotiate(Some("application/json")), Format::Prometheus);
    }
}
