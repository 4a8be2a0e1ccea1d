//! OCI distribution end to end, against a real registry: Debian's `docker-registry`,
//! started here on 127.0.0.1 over plain HTTP and stopped when the test ends. A scripted
//! in-process registry ([`fake`]) stands in only where a real one cannot misbehave: wrong
//! bytes, redirects elsewhere, endless bodies, token challenges. No network beyond
//! 127.0.0.1 is used.

mod fake;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::common::{fwctl_run, json, plugin_dir, stderr, stdout};
use fake::{Artifact, Reply, ScriptedServer};

/// `docker-registry serve` on a free loopback port, with its storage in a temporary
/// directory; killed on drop.
pub struct LocalRegistry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    pub fn start() -> Self {
        Self::start_with_htpasswd(None)
    }

    /// With `htpasswd` (the file's text), the registry asks for Basic auth.
    pub fn start_with_htpasswd(htpasswd: Option<&str>) -> Self {
        let binary = Path::new("/usr/bin/docker-registry");
        assert!(
            binary.exists(),
            "the OCI tests need Debian's docker-registry package (apt-get install docker-registry; .ci/run installs it)"
        );
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some(users) = htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, users).unwrap();
            text.push_str(&format!("auth:\n  htpasswd:\n    realm: fwctl-test\n    path: {}\n", file.display()));
        }
        std::fs::write(&config, text).unwrap();
        let child = Command::new(binary)
            .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let registry = Self { child, port, _dir: dir };
        let started = Instant::now();
        let up = if htpasswd.is_some() { 401 } else { 200 };
        while http_status(port, "/v2/") != Some(up) {
            assert!(started.elapsed() < Duration::from_secs(20), "docker-registry did not answer on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    pub fn reference(&self, repository_and_tag: &str) -> String {
        format!("oci://127.0.0.1:{}/{repository_and_tag}", self.port)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The status code of a plain GET, or None when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A store and lock file of the test's own, plus an audit log.
struct Client {
    dir: tempfile::TempDir,
}

impl Client {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn lock(&self) -> PathBuf {
        self.dir.path().join("plugins.lock")
    }

    /// `fwctl-run ARGS --store … --lock … --audit …`, with a fresh audit log each time.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let (store, lock, audit) = (self.path("store"), self.path("plugins.lock"), self.path("audit.jsonl"));
        let _ = std::fs::remove_file(&audit);
        let mut all = args.to_vec();
        let insert_at = all.iter().position(|a| *a == "--").unwrap_or(all.len());
        for (i, arg) in ["--store", &store, "--lock", &lock, "--audit", &audit].into_iter().enumerate() {
            all.insert(insert_at + i, arg);
        }
        fwctl_run(&all)
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Asserts a refusal: exit 2, `why` on stderr, one audit line saying so, nothing run.
    fn assert_refused(&self, output: &std::process::Output, why: &str) {
        let err = stderr(output);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains(why), "expected `{why}` in: {err}");
        let audit = self.audit();
        let last = audit.last().unwrap_or_else(|| panic!("no audit line for: {err}"));
        assert_eq!(last["outcome"], "refused", "{last:#}");
        assert!(last["reason"].as_str().unwrap().contains(why), "{last:#}");
        assert!(audit.iter().all(|r| r["outcome"] == "refused"), "no RPC was made: {audit:#?}");
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The digest after `label` in push/pull output (`  manifest sha256:…`).
fn digest_after(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|d| d.trim().to_string()))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
}

fn push(registry: &LocalRegistry, plugin: &str, reference: &str) -> String {
    let file = plugin_dir().join(plugin);
    let output = fwctl_run(&["push", file.to_str().unwrap(), &registry.reference(reference)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    digest_after(&stdout(&output), "manifest")
}

#[test]
fn a_pushed_plugin_pulls_locks_and_runs_from_the_store_with_the_registry_gone() {
    let registry = LocalRegistry::start();
    let manifest = push(&registry, "cxl-features.wasm", "vendor/cxl-features:1.0");
    let wasm = sha256(&std::fs::read(plugin_dir().join("cxl-features.wasm")).unwrap());
    let client = Client::new();
    let tag = registry.reference("vendor/cxl-features:1.0");

    let pulled = client.run(&["pull", &tag]);
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    assert_eq!(digest_after(&stdout(&pulled), "manifest"), manifest);
    assert_eq!(digest_after(&stdout(&pulled), "wasm"), wasm, "the bytes pulled are the bytes pushed");
    let lock = std::fs::read_to_string(client.lock()).unwrap();
    assert!(lock.contains(&tag) && lock.contains(&manifest) && lock.contains(&wasm), "{lock}");
    let stored = Path::new(&client.path("store")).join("blobs/sha256").join(&wasm[7..]);
    assert!(stored.is_file(), "the component is in the content-addressed store");

    // A second pull of the locked tag downloads nothing.
    let again = client.run(&["pull", &tag]);
    assert!(stdout(&again).starts_with("up to date:"), "{}", stdout(&again));

    // With the registry stopped, the tag (through the lock) and the digest still run.
    drop(registry);
    let pinned = format!("{}@{manifest}", tag.rsplit_once(':').unwrap().0);
    for name in [&tag, &pinned] {
        let output = client.run(&[name, "--sim=cxl-test-mock", "--json", "--", "list"]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        let report = json(&output);
        assert_eq!(report["plugin"]["digest"], wasm.as_str(), "{report:#}");
        assert_eq!(report["runs"][0]["facts"]["feature-count"], 1, "{report:#}");
    }
}

#[test]
fn a_tag_moved_after_locking_is_refused_until_the_operator_updates() {
    let registry = LocalRegistry::start();
    let first = push(&registry, "cxl-features.wasm", "vendor/diag:stable");
    let client = Client::new();
    let tag = registry.reference("vendor/diag:stable");
    assert_eq!(client.run(&["pull", &tag]).status.code(), Some(0));

    let second = push(&registry, "mlx5-diag.wasm", "vendor/diag:stable");
    assert_ne!(first, second);
    let moved = client.run(&["pull", &tag]);
    client.assert_refused(&moved, "the tag now names");
    assert!(stderr(&moved).contains(&first) && stderr(&moved).contains(&second), "{}", stderr(&moved));
    // Runs keep using what was locked, without asking the registry.
    let run = client.run(&[&tag, "--sim=cxl-test-mock", "--json", "--", "list"]);
    assert_eq!(json(&run)["plugin"]["name"], "cxl-features");

    let updated = client.run(&["pull", "--update", &tag]);
    assert_eq!(updated.status.code(), Some(0), "{}", stderr(&updated));
    assert_eq!(digest_after(&stdout(&updated), "manifest"), second);
    assert!(std::fs::read_to_string(client.lock()).unwrap().contains(&second));
}

#[test]
fn tags_never_pulled_and_stores_edited_behind_our_back_are_refused() {
    let registry = LocalRegistry::start();
    let manifest = push(&registry, "cxl-features.wasm", "vendor/cxl-features:2.0");
    let client = Client::new();
    let tag = registry.reference("vendor/cxl-features:2.0");

    // Running a tag nobody pulled would resolve it silently: refused.
    client.assert_refused(&client.run(&[&tag, "--sim=cxl-test-mock"]), "is not in the lock file");

    // A digest is its own pin: it is fetched on first use.
    let pinned = format!("{}@{manifest}", tag.rsplit_once(':').unwrap().0);
    let output = client.run(&[&pinned, "--sim=cxl-test-mock", "--json", "--", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // One byte of the stored component changed: refused, naming the file.
    let wasm = sha256(&std::fs::read(plugin_dir().join("cxl-features.wasm")).unwrap());
    let stored = Path::new(&client.path("store")).join("blobs/sha256").join(&wasm[7..]);
    let mut bytes = std::fs::read(&stored).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    client.assert_refused(&client.run(&[&pinned, "--sim=cxl-test-mock"]), "does not match its digest");
}

#[test]
fn a_registry_serving_a_blob_that_does_not_match_its_digest_is_refused() {
    let component = std::fs::read(plugin_dir().join("cxl-features.wasm")).unwrap();
    let mut swapped = component.clone();
    *swapped.last_mut().unwrap() ^= 1;
    let artifact = Artifact::of(&component);
    let digest = artifact.manifest_digest.clone();
    let fake = ScriptedServer::start(move |request| artifact.serve(request, &swapped));
    let client = Client::new();
    let reference = format!("oci://127.0.0.1:{}/vendor/evil@{digest}", fake.port);

    let output = client.run(&[&reference, "--sim=cxl-test-mock"]);
    client.assert_refused(&output, &format!("sent a blob for {}", sha256(&component)));
    let blobs = Path::new(&client.path("store")).join("blobs/sha256");
    assert!(!blobs.join(&sha256(&component)[7..]).exists(), "nothing unverified is kept");
}

#[test]
fn a_blob_redirected_to_storage_on_loopback_is_followed_and_checked() {
    // Registries hand blobs to object storage with a redirect; within what the reference
    // allows (here: loopback to loopback), that works.
    let component = std::fs::read(plugin_dir().join("cxl-features.wasm")).unwrap();
    let artifact = Artifact::of(&component);
    let (digest, layer) = (artifact.manifest_digest.clone(), artifact.layer_digest.clone());
    let storage = ScriptedServer::start(move |_| Reply::ok("application/octet-stream", &component));
    let to = format!("http://127.0.0.1:{}/storage/{layer}", storage.port);
    let fake = ScriptedServer::start(move |request| {
        if request.path.contains("/blobs/") { Reply::redirect(&to) } else { artifact.serve(request, b"") }
    });
    let client = Client::new();
    let reference = format!("oci://127.0.0.1:{}/vendor/diag@{digest}", fake.port);
    let output = client.run(&[&reference, "--sim=cxl-test-mock", "--json", "--", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(storage.requests().len(), 1);
}

#[test]
fn a_registry_redirecting_to_plain_http_elsewhere_is_not_followed() {
    // 192.0.2.1 is TEST-NET-1: were the redirect followed, the error would be a connect
    // failure or timeout, not the refusal this test expects.
    let component = std::fs::read(plugin_dir().join("cxl-features.wasm")).unwrap();
    let artifact = Artifact::of(&component);
    let digest = artifact.manifest_digest.clone();
    let fake = ScriptedServer::start(move |request| {
        if request.path.contains("/blobs/") {
            Reply::redirect("http://192.0.2.1/stolen-or-swapped")
        } else {
            artifact.serve(request, b"")
        }
    });
    let client = Client::new();
    let reference = format!("oci://127.0.0.1:{}/vendor/diag@{digest}", fake.port);
    let started = Instant::now();
    let output = client.run(&[&reference, "--sim=cxl-test-mock"]);
    client.assert_refused(&output, "redirected to http://192.0.2.1/stolen-or-swapped, which is not followed");
    assert!(started.elapsed() < Duration::from_secs(5), "refused without trying: {:?}", started.elapsed());
}

#[test]
fn a_manifest_larger_than_the_cap_is_cut_off_before_it_fills_memory() {
    // One registry declares 2 GiB; another sends zeros with no length at all.
    for declared in [Some(2u64 << 30), None] {
        let fake = ScriptedServer::start(move |request| {
            if request.path.contains("/manifests/") { Reply::Endless { declared } } else { Reply::not_found() }
        });
        let client = Client::new();
        let started = Instant::now();
        let reference = format!("oci://127.0.0.1:{}/vendor/huge@sha256:{}", fake.port, "ab".repeat(32));
        let output = client.run(&["pull", &reference]);
        client.assert_refused(&output, "larger than the 4194304 bytes allowed for a manifest");
        assert!(started.elapsed() < Duration::from_secs(10), "{declared:?}: {:?}", started.elapsed());
    }
}

/// A fake registry serving cxl-features behind a Bearer challenge whose realm is its own
/// `/token`: `answer` gives the token answer for a token request (`None`: 401), and the
/// registry wants `Bearer TOKEN`. Returns the server and the manifest digest.
fn token_registry(
    token: &'static str,
    answer: impl Fn(&fake::Request) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (ScriptedServer, String) {
    let component = std::fs::read(plugin_dir().join("cxl-features.wasm")).unwrap();
    let artifact = Artifact::of(&component);
    let digest = artifact.manifest_digest.clone();
    let port = Arc::new(std::sync::OnceLock::<u16>::new());
    let realm_port = port.clone();
    let fake = ScriptedServer::start(move |request| {
        if request.path.starts_with("/token?") {
            return match answer(request) {
                Some(body) => Reply::ok("application/json", &body),
                None => Reply::Bytes { status: "401 Unauthorized", headers: vec![], body: b"{}".to_vec() },
            };
        }
        if request.header("authorization") != Some(&format!("Bearer {token}")) {
            let challenge = format!(
                r#"Bearer realm="http://127.0.0.1:{}/token",service="fake",scope="repository:vendor/diag:pull""#,
                realm_port.get().unwrap()
            );
            return Reply::Bytes {
                status: "401 Unauthorized",
                headers: vec![("WWW-Authenticate".into(), challenge)],
                body: br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
            };
        }
        artifact.serve(request, &component)
    });
    port.set(fake.port).unwrap();
    (fake, digest)
}

#[test]
fn a_registry_that_asks_for_an_anonymous_token_gets_one_and_sends_it_to_itself_only() {
    // As public registries do: 401 with a Bearer challenge; the token endpoint hands one
    // to anyone who asks for the pull scope.
    let (fake, digest) = token_registry("t0k3n", |_| Some(br#"{"token":"t0k3n","expires_in":300}"#.to_vec()));
    let client = Client::new();
    let reference = format!("oci://127.0.0.1:{}/vendor/diag@{digest}", fake.port);
    let output = client.run(&[&reference, "--sim=cxl-test-mock", "--json", "--", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let requests = fake.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/token?")).collect();
    assert!(!tokens.is_empty(), "{requests:?}");
    assert!(
        tokens
            .iter()
            .all(|r| r.path.contains("service=fake") && r.path.contains("scope=repository%3Avendor%2Fdiag%3Apull")),
        "{tokens:?}"
    );
    assert!(tokens.iter().all(|r| r.header("authorization").is_none()), "the token request itself is anonymous");
}

#[test]
fn a_registry_whose_token_realm_wants_credentials_gets_them_and_the_registry_only_the_token() {
    // As private registries with a token server do: the realm hands a token only to a
    // user it knows (Basic auth on the token request); the registry then wants the token.
    // base64("ci:s3cret")
    let (fake, digest) = token_registry("pr1vate", |token_request| {
        (token_request.header("authorization") == Some("Basic Y2k6czNjcmV0"))
            .then(|| br#"{"access_token":"pr1vate","expires_in":300}"#.to_vec())
    });
    let client = Client::new();
    let reference = format!("oci://127.0.0.1:{}/vendor/diag@{digest}", fake.port);
    let anonymous = client.run(&["pull", &reference, "--authfile", &client.path("none.json")]);
    assert_eq!(anonymous.status.code(), Some(2));
    assert!(stderr(&anonymous).contains("from the token realm"), "{}", stderr(&anonymous));

    let authfile = client.path("auth.json");
    std::fs::write(&authfile, format!(r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"Y2k6czNjcmV0"}}}}}}"#, fake.port))
        .unwrap();
    let pulled = client.run(&["pull", &reference, "--authfile", &authfile]);
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    let requests = fake.requests();
    let registry_calls: Vec<_> = requests.iter().filter(|r| !r.path.starts_with("/token?")).collect();
    assert!(
        registry_calls.iter().all(|r| r.header("authorization").is_none_or(|a| a == "Bearer pr1vate")),
        "the password goes to the realm only, the registry sees the token: {registry_calls:?}"
    );
    assert!(!stdout(&pulled).contains("s3cret") && !stderr(&pulled).contains("pr1vate"));
}

#[test]
fn a_signed_plugin_keeps_its_signature_through_the_registry() {
    use crate::signing::{Store as TrustStore, signed_copy};
    let registry = LocalRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let signed = signed_copy(work.path(), &["vendor"]);
    let output = fwctl_run(&["push", signed.to_str().unwrap(), &registry.reference("acme/mlx5-diag:1.0")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let client = Client::new();
    let tag = registry.reference("acme/mlx5-diag:1.0");
    assert_eq!(client.run(&["pull", &tag]).status.code(), Some(0));

    // The signature travelled inside the component: it verifies from the store, and a
    // trust store without the vendor's key refuses the same bytes.
    let trusted = TrustStore::new(&[("acme", "vendor", "")]);
    let run = client.run(&[&tag, "--sim=connectx7-healthy", "--json", "--require-signed", "--trust", trusted.path()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(client.audit().iter().all(|l| l["plugin"]["signer"] == "acme (key 11c5160e84cf3096fc79ec5a)"));
    let strangers = TrustStore::new(&[("someone", "stranger", "")]);
    let refused = client.run(&[&tag, "--sim=connectx7-healthy", "--require-signed", "--trust", strangers.path()]);
    client.assert_refused(&refused, "does not hold (key ids: 11c5160e84cf3096fc79ec5a), and --require-signed requires");
}

#[test]
fn a_registry_that_dribbles_its_answer_cannot_hang_a_pull() {
    let fake = ScriptedServer::start(|_| Reply::Dribble);
    let port = fake.port;
    let client = Client::new();
    let started = std::time::Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args([
            "pull",
            &format!("oci://127.0.0.1:{port}/vendor/diag:1"),
            "--store",
            &client.path("store"),
            "--lock",
            &client.path("lock"),
            "--audit",
            &client.path("audit.jsonl"),
        ])
        .env("FWCTL_RUN_REGISTRY_TIMEOUT_SECS", "3")
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "hung for {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("did not finish within 3 s"), "{}", stderr(&output));
}
