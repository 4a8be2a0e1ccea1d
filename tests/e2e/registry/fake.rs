//! A registry that misbehaves on purpose: an HTTP/1.1 server on 127.0.0.1 whose every
//! answer a test scripts, for what a real (content-addressed, well-behaved) registry never
//! does: wrong bytes, redirects elsewhere, endless bodies, token challenges.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::sha256;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
pub enum Reply {
    /// Status line text (`"200 OK"`), extra headers, body.
    Bytes { status: &'static str, headers: Vec<(String, String)>, body: Vec<u8> },
    /// `200 OK` and zeros until the client hangs up, announcing `declared` as the length
    /// when given (else no length: the body ends when the connection does).
    Endless { declared: Option<u64> },
    /// A status line, then one byte of a header every 500 ms, for ever: each read gets
    /// something, so only an end-to-end deadline ends it.
    Dribble,
}

impl Reply {
    pub fn ok(content_type: &str, body: &[u8]) -> Self {
        Reply::Bytes {
            status: "200 OK",
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_vec(),
        }
    }

    pub fn not_found() -> Self {
        Reply::Bytes { status: "404 Not Found", headers: vec![], body: b"{}".to_vec() }
    }

    pub fn redirect(to: &str) -> Self {
        Reply::Bytes { status: "307 Temporary Redirect", headers: vec![("Location".into(), to.into())], body: vec![] }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// The server; its thread lives as long as the test process (each test uses its own port).
pub struct ScriptedServer {
    pub port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl ScriptedServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, log) = (handler.clone(), log.clone());
                std::thread::spawn(move || {
                    let Some(request) = read_request(&stream) else { return };
                    log.lock().unwrap().push(request.clone());
                    answer(stream, &request, handler(&request));
                });
            }
        });
        Self { port, seen }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(mut stream: TcpStream, request: &Request, reply: Reply) {
    match reply {
        Reply::Bytes { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            if request.method != "HEAD" {
                let _ = stream.write_all(&body);
            }
        }
        Reply::Dribble => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Slow: ");
            while stream.write_all(b"x").is_ok() {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
        Reply::Endless { declared } => {
            let length = declared.map(|n| format!("Content-Length: {n}\r\n")).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n{length}Connection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let zeros = vec![0u8; 64 << 10];
            while stream.write_all(&zeros).is_ok() {}
        }
    }
}

/// The request line and headers of one request (no bodies are expected).
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut words = first.split_whitespace();
    let (method, path) = (words.next()?.to_string(), words.next()?.to_string());
    let mut headers = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).ok()? > 2 {
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        line.clear();
    }
    Some(Request { method, path, headers })
}

/// A Wasm artifact (config, manifest, layer) as a registry would hold it.
pub struct Artifact {
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    pub layer_digest: String,
}

impl Artifact {
    pub fn of(component: &[u8]) -> Self {
        let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[],"component":null,"created":"2026-01-01T00:00:00Z"}"#.to_vec();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": sha256(&config), "size": config.len()},
            "layers": [{"mediaType": "application/wasm", "digest": sha256(component), "size": component.len()}],
        })
        .to_string()
        .into_bytes();
        Self { manifest_digest: sha256(&manifest), layer_digest: sha256(component), config, manifest }
    }

    /// The honest answer to `request` for this artifact under any repository: the manifest
    /// (by digest or any tag), the config, and `layer` for the layer.
    pub fn serve(&self, request: &Request, layer: &[u8]) -> Reply {
        let path = request.path.as_str();
        if path == "/v2/" {
            Reply::ok("application/json", b"{}")
        } else if path.contains("/manifests/") {
            let mut reply = Reply::ok("application/vnd.oci.image.manifest.v1+json", &self.manifest);
            if let Reply::Bytes { headers, .. } = &mut reply {
                headers.push(("Docker-Content-Digest".into(), self.manifest_digest.clone()));
            }
            reply
        } else if path.ends_with(&format!("/blobs/{}", self.layer_digest)) {
            Reply::ok("application/octet-stream", layer)
        } else if path.ends_with(&format!("/blobs/{}", sha256(&self.config))) {
            Reply::ok("application/octet-stream", &self.config)
        } else {
            Reply::not_found()
        }
    }
}
