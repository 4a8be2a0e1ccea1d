//! `fwctl-run serve` end to end: the binary started on a free loopback port, scraped by
//! curl and by Debian's Prometheus server, signalled as systemd and kubelet signal it.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{cache_dir, fresh_state_dir, plugin_dir, workspace_root};
use crate::signing::{Store, signed_copy};

/// A `serve` process, killed on drop; its stderr goes to a file the test reads.
pub struct Served {
    child: Child,
    pub address: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn plugin(name: &str) -> String {
    plugin_dir().join(format!("{name}.wasm")).display().to_string()
}

/// A profile file: connectx7-healthy with `faults` (TOML lines of `[device.faults]`),
/// then the profiles named in `more`.
fn profile(dir: &Path, name: &str, faults: &str, more: &[&str]) -> PathBuf {
    let read = |p: &str| std::fs::read_to_string(workspace_root().join(format!("devices/profiles/{p}.toml"))).unwrap();
    let mut text = format!("{}\n[device.faults]\n{faults}\n", read("connectx7-healthy"));
    // Each further device in a slot of its own.
    for (slot, other) in more.iter().enumerate() {
        text.push_str(&read(other).replace("0000:3b:00.0", &format!("0000:{:02x}:00.0", 0x5e + slot)));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

impl Served {
    /// Starts `fwctl-run serve ARGS --listen 127.0.0.1:0` and waits until it listens.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(args, |_| {})
    }

    fn start_with(args: &[&str], extra: impl FnOnce(&mut Command)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_fwctl-run"));
        command
            .arg("serve")
            .args(args)
            .args(["--audit", dir.path().join("audit.jsonl").to_str().unwrap()])
            .env("FWCTL_RUN_PLUGIN_PATH", plugin_dir())
            .env("FWCTL_RUN_CACHE_DIR", cache_dir())
            .env("FWCTL_RUN_STATE_DIR", fresh_state_dir())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if !args.iter().any(|a| a.starts_with("--listen")) {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        extra(&mut command);
        let child = command.spawn().expect("starting fwctl-run serve");
        let mut served = Self { child, address: String::new(), log, _dir: dir };
        let address = served.wait_for_log("listening", Duration::from_secs(60));
        let json = serde_json::from_str::<serde_json::Value>(&address).ok();
        served.address = match json.as_ref().and_then(|event| event["address"].as_str()) {
            Some(given) => given.to_string(),
            None => address
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
                .unwrap_or_else(|| panic!("no address in {address}"))
                .to_string(),
        };
        served
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("audit.jsonl")).unwrap_or_default()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a log line containing `needle` (after those already seen), returns it.
    pub fn wait_for_log(&mut self, needle: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited ({status}) before logging {needle:?}:\n{}", self.log());
            }
            assert!(started.elapsed() < within, "no {needle:?} in the log within {within:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `count` log lines contain `needle`.
    fn wait_for_lines(&mut self, needle: &str, count: usize, within: Duration) {
        let started = Instant::now();
        while self.log().lines().filter(|l| l.contains(needle)).count() < count {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited ({status}):\n{}", self.log());
            }
            assert!(started.elapsed() < within, "fewer than {count} {needle:?} within {within:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), self.log());
            }
            assert!(started.elapsed() < within, "serve did not exit within {within:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What curl got: status, Content-Type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `curl` with `args`, then the URL; the status and Content-Type from `-w`.
pub fn curl(url: &str, args: &[&str]) -> Answer {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code} %{content_type}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl (Debian's curl; .ci/run installs it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, meta) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (status, content_type) = meta.split_once(' ').unwrap_or((meta, ""));
    Answer { status: status.parse().unwrap_or(0), content_type: content_type.to_string(), body: body.to_string() }
}

/// A sample's value in a classic-format body.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn ready_waits_for_the_first_run_and_metrics_serve_it_in_either_format() {
    let dir = tempfile::tempdir().unwrap();
    // ~35 RPCs of 40 ms: the first run takes over a second.
    let slow = profile(dir.path(), "slow", "rpc_delay_ms = 40", &["connectx7-link-down"]);
    let mut served = Served::start(&[&plugin("mlx5-diag"), &format!("--sim={}", slow.display()), "--interval", "1h"]);
    assert_eq!(curl(&served.url("/health"), &[]).status, 200);
    let ready = curl(&served.url("/ready"), &[]);
    assert_eq!(ready.status, 503, "not ready before the first run: {}", ready.body);
    assert_eq!(curl(&served.url("/metrics"), &[]).status, 503);

    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    assert_eq!(curl(&served.url("/ready"), &[]).status, 200);
    let text = curl(&served.url("/metrics"), &[]);
    assert_eq!(text.status, 200);
    assert_eq!(text.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        text.body
            .contains(r#"fwctl_finding{device="mlx5_1",plugin="mlx5-diag",code="mlx5.link.down",severity="error"} 1"#),
        "{}",
        text.body
    );
    assert_eq!(sample(&text.body, r#"fwctl_device_up{device="mlx5_0"}"#), Some(1.0), "{}", text.body);
    assert_eq!(sample(&text.body, r#"fwctl_run_runs_total{outcome="success"}"#), Some(1.0));
    assert!(sample(&text.body, "fwctl_run_last_run_age_seconds").is_some_and(|age| (0.0..60.0).contains(&age)));

    let accept = "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let open = curl(&served.url("/metrics"), &["-H", &format!("Accept: {accept}")]);
    assert_eq!(open.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert_eq!(open.body.matches("# EOF").count(), 1);

    // gzip, as Prometheus takes it: the same text once inflated (the age aside).
    let compressed = curl(&served.url("/metrics"), &["--compressed"]);
    let without_age =
        |t: &str| t.lines().filter(|l| !l.starts_with("fwctl_run_last_run_age")).collect::<Vec<_>>().join("\n");
    assert_eq!(without_age(&compressed.body), without_age(&text.body));
    let header = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "-H", "Accept-Encoding: gzip"])
        .arg(served.url("/metrics"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&header.stdout).to_ascii_lowercase().contains("content-encoding: gzip"));

    assert_eq!(curl(&served.url("/"), &[]).status, 200);
    assert_eq!(curl(&served.url("/nothing"), &[]).status, 404);
    assert_eq!(curl(&served.url("/metrics"), &["-X", "POST"]).status, 405);
}

#[test]
fn a_scrape_never_reaches_a_device() {
    let mut served = Served::start(&[&plugin("mlx5-diag"), "--sim", "--interval", "1h"]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    // The trail's flusher appends within 50 ms.
    let started = Instant::now();
    while served.audit().lines().count() == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the run's RPCs are on the audit trail");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let audited = served.audit().lines().count();
    for _ in 0..20 {
        assert_eq!(curl(&served.url("/metrics"), &[]).status, 200);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(served.audit().lines().count(), audited, "twenty scrapes, no firmware RPC");
}

#[test]
fn an_address_beyond_loopback_without_tls_or_users_is_refused_unless_asked_for() {
    let output = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .args(["serve", &plugin("mlx5-diag"), "--sim", "--listen", "0.0.0.0:0"])
        .env("FWCTL_RUN_STATE_DIR", fresh_state_dir())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("--listen 0.0.0.0:0") && err.contains("--insecure-listen"), "{err}");

    let served = Served::start(&[&plugin("mlx5-diag"), "--sim", "--listen", "0.0.0.0:0", "--insecure-listen"]);
    assert!(served.address.starts_with("0.0.0.0:"), "{}", served.address);
}

/// A self-signed certificate for 127.0.0.1 and its key, made by the openssl tool.
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=fwctl-run test", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap()])
        .output()
        .expect("openssl (Debian's openssl; .ci/run installs it)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (cert, key)
}

/// A bcrypt hash of `password`, made by Apache's htpasswd as operators make them.
pub fn bcrypt(password: &str) -> String {
    let output = Command::new("htpasswd")
        .args(["-nbB", "-C", "5", "prometheus", password])
        .output()
        .expect("htpasswd (Debian's apache2-utils; .ci/run installs it)");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().split_once(':').unwrap().1.to_string()
}

#[test]
fn tls_and_basic_auth_let_in_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  prometheus: '{}'\n",
            cert.display(),
            key.display(),
            bcrypt("correct horse")
        ),
    )
    .unwrap();
    // TLS and users protect a wildcard address: no --insecure-listen needed.
    let mut served = Served::start(&[
        &plugin("mlx5-diag"),
        "--sim",
        "--interval",
        "1h",
        "--web-config",
        web.to_str().unwrap(),
        "--listen",
        "0.0.0.0:0",
    ]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    let port = served.address.rsplit(':').next().unwrap().to_string();
    let https = format!("https://127.0.0.1:{port}/metrics");
    let cacert = ["--cacert", cert.to_str().unwrap()];

    let right = curl(&https, &[&cacert[..], &["-u", "prometheus:correct horse"]].concat());
    assert_eq!(right.status, 200, "{}", right.body);
    assert!(right.body.contains("fwctl_device_info"));
    let again = curl(&https, &[&cacert[..], &["-u", "prometheus:correct horse"]].concat());
    assert_eq!(again.status, 200, "a remembered password still works");

    let wrong = curl(&https, &[&cacert[..], &["-u", "prometheus:wrong horse"]].concat());
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("fwctl_device_info"));
    assert_eq!(curl(&https, &[&cacert[..], &["-u", "root:correct horse"]].concat()).status, 401);
    assert_eq!(curl(&https, &cacert).status, 401, "no credentials");
    let header = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--cacert", cert.to_str().unwrap(), &https])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&header.stdout).to_ascii_lowercase().contains("www-authenticate: basic"));

    // The probes answer without credentials, over TLS all the same.
    assert_eq!(curl(&format!("https://127.0.0.1:{port}/ready"), &cacert).status, 200);
    // Plain HTTP to the TLS port gets no answer.
    let plain = curl(&format!("http://127.0.0.1:{port}/health"), &[]);
    assert_ne!(plain.status, 200);
    assert!(!plain.body.contains("ok"));
    // Nor does a client that does not trust the certificate.
    assert_eq!(curl(&format!("https://127.0.0.1:{port}/health"), &[]).status, 0);
    assert!(!served.log().contains("correct horse"), "the password is never logged");

    // A renewed certificate (as cert-manager writes it) is served without a restart.
    let renewed = tempfile::tempdir().unwrap();
    let (new_cert, new_key) = certificate(renewed.path());
    std::fs::copy(&new_key, &key).unwrap();
    std::fs::copy(&new_cert, &cert).unwrap();
    let new_cacert = ["--cacert", new_cert.to_str().unwrap()];
    let renewed_answer = curl(&format!("https://127.0.0.1:{port}/health"), &new_cacert);
    assert_eq!(renewed_answer.status, 200, "the renewed certificate is the one served: {}", renewed_answer.body);
}

#[test]
fn a_broken_web_configuration_stops_serve_at_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "basic_auth_users:\n  prometheus: plaintext\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .args([
            "serve",
            &plugin("mlx5-diag"),
            "--sim",
            "--listen",
            "127.0.0.1:0",
            "--web-config",
            web.to_str().unwrap(),
        ])
        .env("FWCTL_RUN_STATE_DIR", fresh_state_dir())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("basic_auth_users") && err.contains("bcrypt") && err.contains("web.yml"), "{err}");
}

#[test]
fn a_run_longer_than_its_interval_passes_over_the_next_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let slow = profile(dir.path(), "slow", "rpc_delay_ms = 15", &[]);
    let mut served = Served::start(&[
        &plugin("mlx5-diag"),
        &format!("--sim={}", slow.display()),
        "--interval",
        "100ms",
        "--jitter",
        "0",
    ]);
    served.wait_for_lines("fleet run completed", 3, Duration::from_secs(60));
    let body = curl(&served.url("/metrics"), &[]).body;
    let runs = sample(&body, r#"fwctl_run_runs_total{outcome="success"}"#).unwrap();
    let skipped = sample(&body, "fwctl_run_intervals_skipped_total").unwrap();
    assert!(runs >= 3.0 && skipped >= runs - 1.0, "each run (~0.5 s) outlasts several 100 ms intervals: {body}");
    assert!(served.log().contains("interval(s) skipped"));
}

#[test]
fn runs_never_overlap_and_the_json_log_says_when_each_ran() {
    let dir = tempfile::tempdir().unwrap();
    let slow = profile(dir.path(), "slow", "rpc_delay_ms = 5", &[]);
    let mut served = Served::start(&[
        &plugin("mlx5-diag"),
        &format!("--sim={}", slow.display()),
        "--interval",
        "50ms",
        "--log-format",
        "json",
    ]);
    served.wait_for_lines("fleet run completed", 5, Duration::from_secs(60));
    let mut previous_end = None;
    for line in served.log().lines().filter(|l| l.contains("fleet run completed")) {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["devices"], 1);
        let end = humantime::parse_rfc3339(event["timestamp"].as_str().unwrap()).unwrap();
        let took = Duration::from_secs_f64(event["duration_seconds"].as_f64().unwrap());
        if let Some(previous) = previous_end {
            assert!(end - took >= previous, "a run started before the one before it ended: {line}");
        }
        previous_end = Some(end);
    }
}

#[test]
fn sigterm_finishes_the_run_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let slow = profile(dir.path(), "slow", "rpc_delay_ms = 40", &[]);
    let served = Served::start(&[&plugin("mlx5-diag"), &format!("--sim={}", slow.display()), "--interval", "1h"]);
    // The first RPC is on the record: the run is in flight.
    let started = Instant::now();
    while !served.audit().contains("\"sent\"") && !served.audit().contains("answered") {
        assert!(started.elapsed() < Duration::from_secs(60), "no RPC sent:\n{}", served.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    served.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, log) = served.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{log}");
    let completed = log.lines().position(|l| l.contains("fleet run completed") && l.contains("checks=1"));
    let stopping = log.lines().position(|l| l.contains("stopping"));
    assert!(completed.is_some() && completed < stopping, "the run in flight completed, then serve stopped:\n{log}");
}

#[test]
fn sighup_drops_a_plugin_whose_signer_was_revoked_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let mlx5 = signed_copy(&plugins, &["vendor"]);
    let cxl = plugins.join("cxl-features.wasm");
    std::fs::copy(plugin("cxl-features"), &cxl).unwrap();
    let signed = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .args(["sign", cxl.to_str().unwrap(), "--key"])
        .arg(workspace_root().join("tests/keys/TEST-ONLY-operator.key"))
        .output()
        .unwrap();
    assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    let store = Store::new(&[("acme", "vendor", ""), ("ops", "operator", "")]);
    let fleet = profile(dir.path(), "fleet", "", &["cxl-type3"]);
    // As the DaemonSet's ConfigMap does: the plugin to be revoked has arguments of its own.
    let config = dir.path().join("plugin-arguments.toml");
    std::fs::write(&config, "[plugins.mlx5-diag]\nargs = [\"--ber-threshold\", \"1e-12\"]\n").unwrap();
    let mut served = Served::start(&[
        mlx5.to_str().unwrap(),
        cxl.to_str().unwrap(),
        &format!("--sim={}", fleet.display()),
        "--trust",
        store.path(),
        "--require-signed",
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "300ms",
    ]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    let before = curl(&served.url("/metrics"), &[]).body;
    assert!(before.contains(r#"plugin="mlx5-diag""#) && before.contains(r#"plugin="cxl-features""#), "{before}");

    // The vendor's key is revoked in the trust store; SIGHUP reads it again.
    let trust = Path::new(store.path()).join("trust.toml");
    let text = std::fs::read_to_string(&trust).unwrap();
    std::fs::write(&trust, text.replacen("file = \"vendor.pub\"", "file = \"vendor.pub\"\nrevoked = true", 1)).unwrap();
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_for_log("plugin dropped on reload", Duration::from_secs(30));
    let runs_before = served.log().lines().filter(|l| l.contains("fleet run completed")).count();
    served.wait_for_lines("fleet run completed", runs_before + 2, Duration::from_secs(30));
    let after = curl(&served.url("/metrics"), &[]).body;
    assert!(!after.contains(r#"plugin="mlx5-diag""#), "the revoked signer's plugin is gone: {after}");
    assert!(after.contains(r#"fwctl_plugin_up{device="fwctl1",plugin="cxl-features"} 1"#), "{after}");
    assert!(served.log().contains("which is revoked"), "{}", served.log());
    let refusals = served.audit().lines().filter(|l| l.contains("\"refused\"") && l.contains("revoked")).count();
    assert_eq!(refusals, 1, "the drop is on the audit trail");
    assert_eq!(sample(&after, "fwctl_run_config_last_reload_successful"), Some(1.0));
}

#[test]
fn a_reload_that_cannot_read_the_trust_store_runs_no_plugin_until_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mlx5 = signed_copy(dir.path(), &["vendor"]);
    let store = Store::new(&[("acme", "vendor", "")]);
    let mut served = Served::start(&[
        mlx5.to_str().unwrap(),
        "--sim=connectx7-healthy",
        "--trust",
        store.path(),
        "--require-signed",
        "--interval",
        "200ms",
    ]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    let trust = Path::new(store.path()).join("trust.toml");
    let good = std::fs::read_to_string(&trust).unwrap();
    std::fs::write(&trust, "trust-version = 1\n[[signer]\n").unwrap();
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_for_log("no plugin runs until a reload succeeds", Duration::from_secs(30));
    let runs = served.log().lines().filter(|l| l.contains("fleet run completed")).count();
    served.wait_for_lines("fleet run completed", runs + 2, Duration::from_secs(30));
    let broken = curl(&served.url("/metrics"), &[]).body;
    assert!(!broken.contains(r#"plugin="mlx5-diag""#), "the plugin admitted before does not run on: {broken}");
    assert_eq!(sample(&broken, "fwctl_run_config_last_reload_successful"), Some(0.0), "{broken}");

    std::fs::write(&trust, good).unwrap();
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_for_lines("serving mlx5-diag", 2, Duration::from_secs(30));
    let runs = served.log().lines().filter(|l| l.contains("fleet run completed")).count();
    served.wait_for_lines("fleet run completed", runs + 2, Duration::from_secs(30));
    let fixed = curl(&served.url("/metrics"), &[]).body;
    assert!(fixed.contains(r#"fwctl_plugin_up{device="mlx5_0",plugin="mlx5-diag"} 1"#), "{fixed}");
    assert_eq!(sample(&fixed, "fwctl_run_config_last_reload_successful"), Some(1.0));
}

#[test]
fn sighup_puts_a_changed_password_in_force_and_password_guessing_is_rationed() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let users = |password: &str, cost: &str| {
        let output = Command::new("htpasswd").args(["-nbB", "-C", cost, "prometheus", password]).output().unwrap();
        let line = String::from_utf8(output.stdout).unwrap();
        format!("basic_auth_users:\n  prometheus: '{}'\n", line.trim().split_once(':').unwrap().1)
    };
    std::fs::write(&web, users("first", "12")).unwrap();
    let mut served = Served::start(&[
        &plugin("mlx5-diag"),
        "--sim=connectx7-healthy",
        "--interval",
        "1h",
        "--web-config",
        web.to_str().unwrap(),
    ]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    let metrics = served.url("/metrics");
    assert_eq!(curl(&metrics, &["-u", "prometheus:first"]).status, 200);

    // Wrong passwords at once: two bcrypt checks run, the rest are told to come back.
    let children: Vec<_> = (0..8)
        .map(|i| {
            Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", &format!("prometheus:guess{i}"), &metrics])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<String> =
        children.into_iter().map(|c| String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()).collect();
    assert!(codes.iter().all(|c| c == "401" || c == "429"), "{codes:?}");
    assert!(codes.iter().any(|c| c == "429"), "eight bcrypt checks at once were not rationed: {codes:?}");
    // A remembered password needs no bcrypt, so guessing does not lock Prometheus out.
    assert_eq!(curl(&metrics, &["-u", "prometheus:first"]).status, 200);

    std::fs::write(&web, users("second", "5")).unwrap();
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_for_lines("serving mlx5-diag", 2, Duration::from_secs(30));
    let started = Instant::now();
    while curl(&metrics, &["-u", "prometheus:second"]).status != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "the new password is not in force");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(curl(&metrics, &["-u", "prometheus:first"]).status, 401, "the old password is out");
}

#[test]
fn devices_that_come_and_go_bring_and_take_their_series() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = profile(dir.path(), "fleet", "", &["cxl-type3"]);
    let mut served = Served::start(&[
        &plugin("mlx5-diag"),
        &plugin("cxl-features"),
        &format!("--sim={}", fleet.display()),
        "--interval",
        "200ms",
    ]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    assert!(curl(&served.url("/metrics"), &[]).body.contains(r#"fwctl_device_up{device="fwctl1"} 1"#));

    // The CXL device is unplugged: the profile no longer has it.
    profile(dir.path(), "fleet", "", &[]);
    let seen = served.log().lines().filter(|l| l.contains("fleet run completed")).count();
    served.wait_for_lines("fleet run completed", seen + 2, Duration::from_secs(30));
    let body = curl(&served.url("/metrics"), &[]).body;
    assert!(!body.contains(r#"device="fwctl1""#), "no stale series of the vanished device: {body}");
    assert!(body.contains(r#"fwctl_device_up{device="mlx5_0"} 1"#), "{body}");
}

/// VmRSS of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    kib << 10
}

#[test]
fn memory_stays_flat_over_two_hundred_intervals() {
    let mut served = Served::start(&[
        &plugin("mlx5-diag"),
        &plugin("cxl-features"),
        "--sim-fleet",
        "20",
        "--interval",
        "20ms",
        "--jitter",
        "0",
    ]);
    served.wait_for_lines("fleet run completed", 20, Duration::from_secs(120));
    let _ = curl(&served.url("/metrics"), &[]);
    let early = rss(served.child.id());
    served.wait_for_lines("fleet run completed", 220, Duration::from_secs(300));
    for _ in 0..20 {
        let _ = curl(&served.url("/metrics"), &[]);
    }
    let late = rss(served.child.id());
    let grown = late.saturating_sub(early);
    eprintln!("serve RSS: {} KiB after 20 runs, {} KiB after 220", early >> 10, late >> 10);
    assert!(
        grown < 8 << 20,
        "RSS grew by {} KiB between run 20 ({} KiB) and run 220 ({} KiB)",
        grown >> 10,
        early >> 10,
        late >> 10
    );
}

/// Debian's Prometheus server on a free loopback port, scraping `target` every second.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: fwctl\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's prometheus (.ci/run installs it)");
        Self { child, port, _dir: dir }
    }

    /// The result vector of an instant query (empty until it matches).
    fn query(&self, query: &str) -> Vec<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let answer = curl(&url, &["-G", "--data-urlencode", &format!("query={query}")]);
        serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    fn wait_for(&self, query: &str) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let result = self.query(query);
            if !result.is_empty() {
                return result;
            }
            assert!(started.elapsed() < Duration::from_secs(90), "Prometheus found nothing for {query}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_serve_and_finds_a_faulty_devices_finding() {
    let mut served = Served::start(&[&plugin("mlx5-diag"), "--sim=connectx7-link-down", "--interval", "1h"]);
    served.wait_for_log("fleet run completed", Duration::from_secs(60));
    let prometheus = Prometheus::start(&served.address);
    let up = prometheus.wait_for(r#"up{job="fwctl"} == 1"#);
    assert_eq!(up.len(), 1, "{up:?}");
    let finding = prometheus.wait_for(r#"fwctl_finding{code="mlx5.link.down"}"#);
    assert_eq!(finding.len(), 1, "{finding:?}");
    assert_eq!(finding[0]["metric"]["severity"], "error");
    assert_eq!(finding[0]["metric"]["device"], "mlx5_0");
    assert_eq!(finding[0]["value"][1], "1");
    let up = prometheus.wait_for(r#"fwctl_device_up{device="mlx5_0"}"#);
    assert_eq!(up[0]["value"][1], "1");
    // Prometheus asked for OpenMetrics, and the families parsed: no scrape error.
    let samples = prometheus.query("scrape_samples_post_metric_relabeling{job=\"fwctl\"}");
    assert!(samples[0]["value"][1].as_str().unwrap().parse::<f64>().unwrap() > 10.0, "{samples:?}");
    let mut log = String::new();
    let _ = std::fs::File::open(&served.log).unwrap().read_to_string(&mut log);
    assert!(!log.contains("ERROR"), "{log}");
}
