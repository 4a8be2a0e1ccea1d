//! Who may reach the exporter: the rule that decides whether an address may be listened
//! on with what the web configuration protects it with.
//!
//! Metrics name devices, firmware versions and faults: worth keeping from a network
//! neighbour. Without TLS or users, fwctl-run serves loopback only; anything wider must
//! be asked for by name (`--insecure-listen`), so that exposing plain HTTP is a decision
//! and never a default.

use std::net::SocketAddr;

use super::web_config::{ClientAuth, WebConfig};

/// Why an address may not be listened on.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExposureError {
    /// A non-loopback address with neither TLS nor users.
    #[error(
        "--listen {0}: plain HTTP without users would serve every host that reaches this address; \
         protect it with --web-config (TLS or basic_auth_users), listen on loopback (127.0.0.1, [::1]), \
         or pass --insecure-listen"
    )]
    Unprotected(SocketAddr),
}

/// Whether `address` may be listened on with `web` (if any), `insecure` being the
/// operator's explicit `--insecure-listen`.
pub fn check_listen(address: SocketAddr, web: Option<&WebConfig>, insecure: bool) -> Result<(), ExposureError> {
    let protected = web.is_some_and(|w| w.tls.is_some() || w.requires_auth());
    if address.ip().is_loopback() || protected || insecure { Ok(()) } else { Err(ExposureError::Unprotected(address)) }
}

/// What an allowed configuration still leaves open, for the log: TLS without users or
/// verified client certificates lets anyone who reaches the address read the metrics;
/// users without TLS send their passwords in clear.
pub fn exposure_warnings(address: SocketAddr, web: Option<&WebConfig>) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(web) = web else { return warnings };
    let verifies_clients = web.tls.as_ref().is_some_and(|t| t.client_auth == ClientAuth::RequireAndVerifyClientCert);
    if !address.ip().is_loopback() && web.tls.is_some() && !web.requires_auth() && !verifies_clients {
        warnings.push(format!(
            "{address}: TLS without basic_auth_users or client certificates: anyone who reaches it can read the metrics"
        ));
    }
    if web.requires_auth() && web.tls.is_none() && !address.ip().is_loopback() {
        warnings.push(format!("{address}: basic_auth_users without TLS: passwords cross the network in clear"));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    fn with_users() -> WebConfig {
        WebConfig { users: BTreeMap::from([("p".into(), "$2b$04$x".into())]), ..WebConfig::default() }
    }

    #[test]
    fn loopback_is_served_without_protection() {
        assert_eq!(check_listen("127.0.0.1:10025".parse().unwrap(), None, false), Ok(()));
        assert_eq!(check_listen("[::1]:10025".parse().unwrap(), None, false), Ok(()));
    }

    #[test]
    fn every_other_address_needs_tls_users_or_an_explicit_flag() {
        for address in ["0.0.0.0:10025", "[::]:10025", "10.0.0.7:10025"] {
            let address: SocketAddr = address.parse().unwrap();
            assert_eq!(check_listen(address, None, false), Err(ExposureError::Unprotected(address)));
            assert_eq!(
                check_listen(address, Some(&WebConfig::default()), false),
                Err(ExposureError::Unprotected(address))
            );
            assert_eq!(check_listen(address, Some(&with_users()), false), Ok(()));
            assert_eq!(check_listen(address, None, true), Ok(()));
        }
    }

    #[test]
    fn tls_alone_protects_an_address_and_says_what_it_leaves_open() {
        let web = WebConfig::parse("tls_server_config:\n  cert_file: c\n  key_file: k\n", Path::new("/w.yml")).unwrap();
        let wide: SocketAddr = "0.0.0.0:10025".parse().unwrap();
        assert_eq!(check_listen(wide, Some(&web), false), Ok(()));
        assert!(exposure_warnings(wide, Some(&web))[0].contains("anyone who reaches it"));
        assert!(exposure_warnings("127.0.0.1:10025".parse().unwrap(), Some(&web)).is_empty());
        assert!(exposure_warnings(wide, Some(&with_users()))[0].contains("in clear"));
    }
}
