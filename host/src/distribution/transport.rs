//! The HTTP a pull speaks to a registry, with the limits a hostile registry meets.
//!
//! Pulling needs three requests of the OCI distribution API (resolve a tag, fetch a manifest,
//! fetch a blob) and the authentication registries ask for: the anonymous bearer-token
//! exchange of public pulls, or, with a [`Credential`], Basic auth or a token requested with
//! it. A credential goes only to the registry itself and to its token realm, both https (or
//! loopback for a loopback registry), and never into a message.
//! They are made here, on `reqwest` directly, because a general registry client gives no say
//! over the three things that matter when the registry is not trusted:
//! - **Redirects** are followed only to `https`, or to plain HTTP on a loopback address when
//!   the reference itself is a loopback registry; a blob's redirect to a CDN works, a
//!   downgrade to plain HTTP elsewhere is refused by name. The token realm obeys the same rule.
//! - **Bodies** are read against a limit, before anything is kept: a manifest or token
//!   answer larger than its cap is cut off at the cap, a blob at the size its manifest
//!   declared.
//! - **Time**: connect and per-read timeouts here; [`Registry`](super::Registry) adds the
//!   end-to-end deadline that stops a server dribbling one byte at a time.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::redirect::{Attempt, Policy};
use reqwest::{Method, StatusCode, Url};

use super::credentials::{Credential, CredentialSource};

/// The largest manifest accepted. The distribution spec asks registries to accept manifests
/// of at least 4 MiB, so no honest artifact is larger; a plugin's is under 1 KiB.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// The largest token answer accepted (a JSON object holding a JWT).
const MAX_TOKEN_BYTES: u64 = 64 << 10;

/// Redirect hops followed for one request; registries use one (blob to storage).
const MAX_REDIRECTS: usize = 5;

/// What went wrong on the wire. [`Registry`](super::Registry) adds the registry's name and
/// what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A redirect to where the reference does not allow (plain HTTP elsewhere).
    #[error("redirected to {to}, which is not followed: only https, or plain HTTP to a loopback registry")]
    RedirectRefused {
        /// Where it pointed.
        to: String,
    },
    /// A chain of redirects longer than any registry needs.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// A body past its cap.
    #[error("the answer is larger than the {limit} bytes allowed for {what}; refusing it")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// The cap, in bytes.
        limit: u64,
    },
    /// An HTTP status other than success.
    #[error("answered {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the registry's explanation, if any.
        detail: Option<String>,
    },
    /// A token realm the reference does not allow.
    #[error("asked for a token at {realm}, which is not https (or loopback for a loopback registry)")]
    InsecureRealm {
        /// The realm's URL.
        realm: String,
    },
    /// A challenge that needs credentials, or is not understood.
    #[error("the authentication challenge `{0}` is not an anonymous bearer token challenge")]
    Challenge(String),
    /// The registry asks for credentials and none are configured.
    #[error(
        "the registry needs credentials (401): log in with `fwctl-run login REGISTRY`, or name an auth file with --authfile"
    )]
    NeedsLogin,
    /// The credentials could not be read (the auth file, a helper).
    #[error("{0}")]
    Credentials(String),
    /// The registry refused the credentials it was given.
    #[error("the registry refused the credentials for user `{0}` (401); log in again with `fwctl-run login`")]
    CredentialsRefused(String),
    /// A token answer without a usable token.
    #[error("the token answer is not JSON with a token: {0}")]
    Token(String),
    /// The connection failed (the cause chain as text).
    #[error("{0}")]
    Http(String),
}

/// One registry's endpoint and the client that talks to it.
pub struct Transport {
    client: reqwest::Client,
    base: String,
    repository: String,
    loopback: bool,
    credentials: CredentialSource,
}

/// Whether plain HTTP to `url` is allowed: only to a loopback address, and only when the
/// registry itself is on loopback (a local test or mirror registry).
fn allowed(url: &Url, loopback_registry: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => loopback_registry && is_loopback_host(url),
        _ => false,
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The chain of causes of a `reqwest` error, with ours named as ours.
fn transport_error(error: reqwest::Error) -> TransportError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&error);
    while let Some(cause) = source {
        if let Some(ours) = cause.downcast_ref::<RedirectVeto>() {
            return match ours {
                RedirectVeto::Refused(to) => TransportError::RedirectRefused { to: to.clone() },
                RedirectVeto::TooMany => TransportError::TooManyRedirects,
            };
        }
        source = cause.source();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    TransportError::Http(text)
}

/// Why the redirect policy stopped a request (carried through `reqwest`'s error).
#[derive(Debug, thiserror::Error)]
enum RedirectVeto {
    #[error("redirect to {0} refused")]
    Refused(String),
    #[error("too many redirects")]
    TooMany,
}

impl Transport {
    /// A transport for `registry` (`host[:port]`), plain HTTP when `loopback`, showing
    /// what `credentials` hold when the registry itself asks for it.
    pub fn new(
        registry: &str,
        repository: &str,
        loopback: bool,
        credentials: CredentialSource,
    ) -> Result<Self, TransportError> {
        let policy = Policy::custom(move |attempt: Attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(RedirectVeto::TooMany)
            } else if allowed(attempt.url(), loopback) {
                attempt.follow()
            } else {
                let to = attempt.url().to_string();
                attempt.error(RedirectVeto::Refused(to))
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .user_agent(concat!("fwctl-run/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport_error)?;
        let scheme = if loopback { "http" } else { "https" };
        Ok(Self {
            client,
            base: format!("{scheme}://{registry}"),
            repository: repository.to_string(),
            loopback,
            credentials,
        })
    }

    /// `HEAD` of a manifest: the `Docker-Content-Digest` the registry names for it, if any.
    pub async fn manifest_digest(&self, reference: &str, accept: &str) -> Result<Option<String>, TransportError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let response = self.send(Method::HEAD, &url, accept).await?;
        Ok(response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_string))
    }

    /// A manifest's bytes, at most [`MAX_MANIFEST_BYTES`].
    pub async fn manifest(&self, reference: &str, accept: &str) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let response = self.send(Method::GET, &url, accept).await?;
        read_capped(response, MAX_MANIFEST_BYTES, "a manifest").await
    }

    /// A blob's bytes, at most `limit` (the size its manifest declared).
    pub async fn blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let response = self.send(Method::GET, &url, "*/*").await?;
        read_capped(response, limit, "this blob (the size its manifest declares)").await
    }

    /// Sends a request; on a challenge, answers it (a token, or Basic auth with the
    /// credential) and sends it once more.
    async fn send(&self, method: Method, url: &str, accept: &str) -> Result<reqwest::Response, TransportError> {
        let request = || self.client.request(method.clone(), url).header(ACCEPT, accept);
        let response = request().send().await.map_err(transport_error)?;
        let response = if response.status() == StatusCode::UNAUTHORIZED {
            let challenge =
                response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            // Credentials answer the registry's own challenge only, never one from where a
            // redirect led (a blob's storage).
            let credential = if self.same_origin(response.url()) {
                self.credentials.get().map_err(TransportError::Credentials)?
            } else {
                None
            };
            let retried = match (challenge_scheme(&challenge).as_deref(), credential) {
                (Some("basic"), Some(Credential::Basic { username, password })) => {
                    request().basic_auth(username, Some(password)).send().await.map_err(transport_error)?
                }
                (Some("basic"), _) => return Err(TransportError::NeedsLogin),
                (_, credential) => {
                    let token = self.token(response.headers(), credential).await?;
                    request().header(AUTHORIZATION, format!("Bearer {token}")).send().await.map_err(transport_error)?
                }
            };
            if retried.status() == StatusCode::UNAUTHORIZED {
                return Err(match credential {
                    Some(Credential::Basic { username, .. }) => TransportError::CredentialsRefused(username.clone()),
                    Some(Credential::IdentityToken(_)) => TransportError::CredentialsRefused("<token>".into()),
                    None => TransportError::NeedsLogin,
                });
            }
            retried
        } else {
            response
        };
        if response.status().is_success() {
            Ok(response)
        } else {
            let status = response.status();
            // A short excerpt of the registry's explanation; it is shown escaped like any
            // other untrusted text.
            let detail = read_capped(response, 512, "an error answer")
                .await
                .ok()
                .map(|body| String::from_utf8_lossy(&body).trim().chars().take(200).collect::<String>())
                .filter(|d| !d.is_empty());
            Err(TransportError::Status { status, detail })
        }
    }

    /// Whether `url` is the registry itself (scheme, host and port of the reference).
    fn same_origin(&self, url: &Url) -> bool {
        Url::parse(&self.base).is_ok_and(|base| base.origin() == url.origin())
    }

    /// The token a `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge offers:
    /// to anyone, as registries do for public pulls, or for the credential (Basic auth on
    /// the token request, or an identity token as an OAuth2 refresh token).
    async fn token(&self, headers: &HeaderMap, credential: Option<&Credential>) -> Result<String, TransportError> {
        let challenge = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let parameters = bearer_parameters(&challenge).ok_or_else(|| TransportError::Challenge(challenge.clone()))?;
        let realm = parameters.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.clone());
        let realm = realm.ok_or_else(|| TransportError::Challenge(challenge.clone()))?;
        let realm_url = Url::parse(&realm).map_err(|_| TransportError::Challenge(challenge.clone()))?;
        if !allowed(&realm_url, self.loopback) {
            return Err(TransportError::InsecureRealm { realm });
        }
        let mut query: Vec<(String, String)> =
            parameters.into_iter().filter(|(k, _)| k == "service" || k == "scope").collect();
        if !query.iter().any(|(k, _)| k == "scope") {
            query.push(("scope".into(), format!("repository:{}:pull", self.repository)));
        }
        let asked = match credential {
            None => self.client.get(realm_url).query(&query),
            Some(Credential::Basic { username, password }) => {
                self.client.get(realm_url).query(&query).basic_auth(username, Some(password))
            }
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = query.clone();
                form.extend([
                    ("grant_type".to_string(), "refresh_token".to_string()),
                    ("refresh_token".to_string(), refresh.clone()),
                    ("client_id".to_string(), "fwctl-run".to_string()),
                ]);
                self.client.post(realm_url).form(&form)
            }
        };
        let response = asked.header(ACCEPT, "application/json").send().await.map_err(transport_error)?;
        if response.status() == StatusCode::UNAUTHORIZED && credential.is_some() {
            return Err(TransportError::CredentialsRefused(match credential {
                Some(Credential::Basic { username, .. }) => username.clone(),
                _ => "<token>".into(),
            }));
        }
        if !response.status().is_success() {
            return Err(TransportError::Status {
                status: response.status(),
                detail: Some("from the token realm".into()),
            });
        }
        let body = read_capped(response, MAX_TOKEN_BYTES, "a token").await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| TransportError::Token(e.to_string()))?;
        let token = answer.token.or(answer.access_token).ok_or_else(|| TransportError::Token("no token".into()))?;
        // A header value cannot carry control characters; refuse rather than let reqwest panic.
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TransportError::Token("the token is not printable ASCII".into()));
        }
        Ok(token)
    }
}

/// A challenge's scheme, lower case.
fn challenge_scheme(challenge: &str) -> Option<String> {
    challenge.split_whitespace().next().map(str::to_ascii_lowercase)
}

/// The `key="value"` pairs of a `Bearer` challenge, or `None` for another scheme.
fn bearer_parameters(challenge: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = challenge.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parameters = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            after.split_once(',').map_or((after, ""), |(v, t)| (v, t))
        };
        parameters.push((key.trim().to_ascii_lowercase(), value.to_string()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(parameters)
}

/// The body of `response`, refused as soon as it would pass `limit`: a declared length
/// over the limit is refused before a byte is read.
async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, TransportError> {
    if response.content_length().is_some_and(|length| length > limit) {
        return Err(TransportError::TooLarge { what, limit });
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(limit) as usize);
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(TransportError::TooLarge { what, limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_followed_only_to_loopback_and_only_for_a_loopback_registry() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(allowed(&url("https://cdn.example.com/blob"), false));
        assert!(allowed(&url("http://127.0.0.1:5000/blob"), true));
        assert!(allowed(&url("http://[::1]:5000/blob"), true));
        assert!(allowed(&url("http://localhost/blob"), true));
        assert!(!allowed(&url("http://127.0.0.1:5000/blob"), false), "no downgrade from a TLS registry");
        assert!(!allowed(&url("http://192.0.2.1/blob"), true), "not loopback");
        assert!(!allowed(&url("http://127.example.com/blob"), true), "a name is not an address");
        assert!(!allowed(&url("ftp://127.0.0.1/blob"), true));
        assert!(!allowed(&url("file:///etc/shadow"), true));
    }

    #[test]
    fn bearer_challenges_are_read_as_registries_send_them() {
        let parameters = bearer_parameters(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:acme/diag:pull""#,
        )
        .unwrap();
        assert_eq!(
            parameters,
            [
                ("realm".to_string(), "https://auth.example.com/token".to_string()),
                ("service".to_string(), "registry.example.com".to_string()),
                ("scope".to_string(), "repository:acme/diag:pull".to_string()),
            ]
        );
        assert_eq!(bearer_parameters("Bearer realm=https://a/t").unwrap()[0].1, "https://a/t");
        assert!(bearer_parameters(r#"Basic realm="registry""#).is_none(), "basic auth needs credentials");
        assert!(bearer_parameters("Bearer").is_none());
        assert!(bearer_parameters(r#"Bearer realm="unterminated"#).is_none());
    }
}
