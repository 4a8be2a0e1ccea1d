//! The exporter's HTTP endpoints, on hyper (HTTP/1.1), behind TLS (OpenSSL) and basic
//! auth when the web configuration asks for them.
//!
//! - `/metrics`: the last completed run's families, in the format the scraper weighs
//!   highest ([`super::negotiate`]), gzip'd when it takes gzip; 503 before the first run
//!   completes.
//! - `/health`: 200 while the process serves; `/ready`: 200 once a run has completed,
//!   503 before. Both answer without credentials (they tell only that), so that
//!   kubelet's probes need no secret; TLS still applies to them.
//! - `/`: a page linking the others.
//!
//! The server runs on a thread of its own with a single-threaded runtime: a scrape is
//! answered while a fleet run keeps every other core busy, and from shared buffers, so
//! its cost does not grow with the fleet.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use super::auth::BasicAuth;
use super::exposure::{ExposureError, check_listen, exposure_warnings};
use super::negotiate::{accepts_gzip, negotiate};
use super::web_config::{Acceptors, WebConfig};
use super::{Encoding, Exporter};

/// Connections served at once; more wait for a slot.
const MAX_CONNECTIONS: usize = 64;
/// How long a client has to send its request headers, and to finish a TLS handshake.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection is kept at most: a client that stops reading cannot hold a
/// slot for ever (a scraper connects again).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// bcrypt checks at once; more are answered 429 (a remembered password needs none).
const BCRYPT_AT_ONCE: usize = 2;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address is not protected enough.
    #[error(transparent)]
    Exposure(#[from] ExposureError),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server thread or its runtime could not start.
    #[error("cannot start the HTTP server: {0}")]
    Start(std::io::Error),
}

/// A bound listener, not yet serving.
pub struct Listener {
    socket: TcpListener,
    access: Arc<AccessControl>,
}

/// Who may scrape, replaceable while serving (SIGHUP reads the web configuration again).
pub struct AccessControl {
    address: SocketAddr,
    insecure: bool,
    current: RwLock<Arc<Access>>,
}

/// One web configuration, ready for connections.
struct Access {
    acceptors: Acceptors,
    auth: Option<Arc<BasicAuth>>,
}

impl Access {
    fn of(web: Option<WebConfig>) -> Self {
        let auth = web.as_ref().filter(|w| w.requires_auth()).map(|w| Arc::new(BasicAuth::new(w.users.clone())));
        Self { acceptors: Acceptors::new(web.unwrap_or_default()), auth }
    }
}

impl AccessControl {
    /// Puts `web` in force for new connections, if [`check_listen`] allows it on this
    /// address; otherwise the configuration in force stays.
    pub fn replace(&self, web: Option<WebConfig>) -> Result<(), ExposureError> {
        check_listen(self.address, web.as_ref(), self.insecure)?;
        for warning in exposure_warnings(self.address, web.as_ref()) {
            tracing::warn!("{warning}");
        }
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Access::of(web));
        Ok(())
    }

    fn current(&self) -> Arc<Access> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Listener {
    /// Binds `address` when [`check_listen`] allows it with `web`.
    pub fn bind(address: SocketAddr, web: Option<WebConfig>, insecure: bool) -> Result<Self, ListenError> {
        check_listen(address, web.as_ref(), insecure)?;
        for warning in exposure_warnings(address, web.as_ref()) {
            tracing::warn!("{warning}");
        }
        let socket = TcpListener::bind(address).map_err(|source| ListenError::Bind { address, source })?;
        socket.set_nonblocking(true).map_err(|source| ListenError::Bind { address, source })?;
        let access = Arc::new(AccessControl { address, insecure, current: RwLock::new(Arc::new(Access::of(web))) });
        Ok(Self { socket, access })
    }

    /// Where to put a new web configuration in force while serving.
    pub fn access_control(&self) -> Arc<AccessControl> {
        Arc::clone(&self.access)
    }

    /// The address bound (with the port the kernel chose, for `:0`).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves `exporter` on a thread of its own until the process ends.
    pub fn spawn(self, exporter: Arc<Exporter>) -> Result<(), ListenError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .thread_name("fwctl-run-http")
            .build()
            .map_err(ListenError::Start)?;
        std::thread::Builder::new()
            .name("fwctl-run-http".into())
            .spawn(move || runtime.block_on(self.accept(exporter)))
            .map_err(ListenError::Start)?;
        Ok(())
    }

    async fn accept(self, exporter: Arc<Exporter>) {
        let listener = match tokio::net::TcpListener::from_std(self.socket) {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!("cannot serve: {error}");
                return;
            }
        };
        let shared =
            Arc::new(Shared { exporter, access: self.access, hashing: Arc::new(Semaphore::new(BCRYPT_AT_ONCE)) });
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::warn!("accepting a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                if tokio::time::timeout(CONNECTION_LIFETIME, shared.connection(stream, peer)).await.is_err() {
                    tracing::debug!("connection from {peer} closed after {CONNECTION_LIFETIME:?}");
                }
                drop(slot);
            });
        }
    }
}

/// What every connection shares.
struct Shared {
    exporter: Arc<Exporter>,
    access: Arc<AccessControl>,
    /// Permits for bcrypt checks.
    hashing: Arc<Semaphore>,
}

impl Shared {
    async fn connection(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let access = self.access.current();
        let acceptor = match access.acceptors.current() {
            Ok(acceptor) => acceptor,
            Err(error) => {
                // A renewed certificate that does not load: said, and this client turned away.
                tracing::error!("TLS for {peer}: {error}");
                return;
            }
        };
        let service = {
            let (shared, access) = (Arc::clone(&self), Arc::clone(&access));
            service_fn(move |request| Arc::clone(&shared).respond(request, Arc::clone(&access)))
        };
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(CLIENT_TIMEOUT);
        let served = match acceptor {
            None => http.serve_connection(TokioIo::new(stream), service).await,
            Some(acceptor) => {
                let tls = match openssl::ssl::Ssl::new(acceptor.context())
                    .and_then(|ssl| tokio_openssl::SslStream::new(ssl, stream))
                {
                    Ok(tls) => tls,
                    Err(error) => {
                        tracing::error!("TLS for {peer}: {error}");
                        return;
                    }
                };
                let mut tls = Box::pin(tls);
                match tokio::time::timeout(CLIENT_TIMEOUT, tls.as_mut().accept()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::debug!("TLS handshake with {peer} failed: {error}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake with {peer} timed out");
                        return;
                    }
                }
                http.serve_connection(TokioIo::new(tls), service).await
            }
        };
        if let Err(error) = served {
            tracing::debug!("connection from {peer}: {error}");
        }
    }

    async fn respond(
        self: Arc<Self>,
        request: Request<Incoming>,
        access: Arc<Access>,
    ) -> Result<Response<Chunks>, Infallible> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD are served\n");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Ok(response);
        }
        let path = request.uri().path();
        let needs_auth = !matches!(path, "/health" | "/ready");
        if needs_auth && let Some(auth) = &access.auth {
            let given = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
            if !auth.remembered(given.as_deref()) {
                // bcrypt takes milliseconds: off the thread that answers the other scrapes,
                // and only a few at once, so guessing cannot take the cores from the runs.
                let Ok(permit) = Arc::clone(&self.hashing).try_acquire_owned() else {
                    let mut response = plain(StatusCode::TOO_MANY_REQUESTS, "Too many password checks at once\n");
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return Ok(response);
                };
                let auth = Arc::clone(auth);
                let checked = tokio::task::spawn_blocking(move || {
                    let checked = auth.check(given.as_deref());
                    drop(permit);
                    checked
                })
                .await;
                if !matches!(checked, Ok(Ok(()))) {
                    let mut response = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"fwctl-run\""));
                    return Ok(response);
                }
            }
        }
        Ok(match path {
            "/metrics" => {
                let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
                let format = negotiate(accept);
                let gzip = accepts_gzip(request.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));
                let encoding = if gzip { Encoding::Gzip } else { Encoding::Identity };
                match self.exporter.scrape(format, encoding) {
                    Some(chunks) => {
                        let mut response = Response::new(Chunks::new(chunks));
                        let headers = response.headers_mut();
                        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
                        headers.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
                        if gzip {
                            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                        }
                        response
                    }
                    None => plain(StatusCode::SERVICE_UNAVAILABLE, "the first fleet run has not completed yet\n"),
                }
            }
            "/health" => plain(StatusCode::OK, "ok\n"),
            "/ready" if self.exporter.ready() => plain(StatusCode::OK, "ready\n"),
            "/ready" => plain(StatusCode::SERVICE_UNAVAILABLE, "the first fleet run has not completed yet\n"),
            "/" => {
                let mut response = plain(StatusCode::OK, INDEX);
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
                response
            }
            _ => plain(StatusCode::NOT_FOUND, "not found: try /metrics, /health, /ready\n"),
        })
    }
}

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>fwctl-run exporter</title></head><body>\n\
<h1>fwctl-run exporter</h1>\n<p>Health of this host's fwctl devices, as checked by its plugins.</p>\n<ul>\n\
<li><a href=\"/metrics\">/metrics</a>: the last completed fleet run</li>\n\
<li><a href=\"/health\">/health</a>: the process is alive</li>\n\
<li><a href=\"/ready\">/ready</a>: a fleet run has completed</li>\n</ul>\n</body></html>\n";

fn plain(status: StatusCode, text: &'static str) -> Response<Chunks> {
    let mut response = Response::new(Chunks::new(vec![Bytes::from_static(text.as_bytes())]));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// A response body of buffers sent one after another: the run's families are shared by
/// every scrape, never copied into one buffer per scrape.
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl Chunks {
    fn new(chunks: Vec<Bytes>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Self { chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(), remaining }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.chunks.pop_front();
        if let Some(chunk) = &next {
            self.remaining -= chunk.len() as u64;
        }
        Poll::Ready(next.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
