//! Registries that need a login, end to end: Debian's docker-registry with htpasswd
//! (bcrypt) auth on 127.0.0.1, credentials from `fwctl-run login`, from a Docker
//! config.json and from a credential helper (a script speaking Docker's helper protocol),
//! and the password never in output or on the audit trail.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{cache_dir, fresh_state_dir, plugin_dir, stderr, stdout};
use crate::registry::LocalRegistry;

const PASSWORD: &str = "correct-horse-battery";

fn htpasswd() -> String {
    let output = Command::new("htpasswd").args(["-nbB", "-C", "5", "ci", PASSWORD]).output().expect("htpasswd");
    String::from_utf8(output.stdout).unwrap()
}

/// `fwctl-run ARGS` with its own store, lock, audit log and PATH (for credential helpers),
/// `stdin` given.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fwctl-run"));
    command.args(args);
    if matches!(args.first(), Some(&"pull") | Some(&"plugin")) {
        for (flag, name) in [("--store", "store"), ("--lock", "plugins.lock"), ("--audit", "audit.jsonl")] {
            command.arg(flag).arg(dir.join(name));
        }
    }
    let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    command
        .env("PATH", path)
        .env("FWCTL_RUN_PLUGIN_PATH", dir.join("plugins"))
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_STATE_DIR", fresh_state_dir())
        .env("FWCTL_RUN_AUDIT", dir.join("audit.jsonl"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn assert_never_shows_the_password(dir: &Path, outputs: &[&Output]) {
    for output in outputs {
        assert!(!stdout(output).contains(PASSWORD) && !stderr(output).contains(PASSWORD));
    }
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default();
    assert!(!audit.contains(PASSWORD), "the password is not on the audit trail");
}

#[test]
fn login_then_push_pull_and_install_and_a_wrong_or_missing_login_is_refused_by_name() {
    let registry = LocalRegistry::start_with_htpasswd(Some(&htpasswd()));
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let host = registry.reference("x").trim_start_matches("oci://").trim_end_matches("/x").to_string();
    let tag = registry.reference("acme/cxl-features:1");
    let plugin = plugin_dir().join("cxl-features.wasm");

    let anonymous = run(dir, &["push", plugin.to_str().unwrap(), &tag], &[], "");
    assert_eq!(anonymous.status.code(), Some(2));
    assert!(stderr(&anonymous).contains("401"), "{}", stderr(&anonymous));
    let anonymous_pull = run(dir, &["pull", &tag], &[], "");
    assert!(stderr(&anonymous_pull).contains("needs credentials (401): log in"), "{}", stderr(&anonymous_pull));

    // The password from stdin, into $DOCKER_CONFIG/config.json, 0600.
    let login = run(dir, &["login", &host, "--username", "ci", "--password-stdin"], &[], &format!("{PASSWORD}\n"));
    assert_eq!(login.status.code(), Some(0), "{}", stderr(&login));
    let config = dir.join("docker/config.json");
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
    let pushed = run(dir, &["push", plugin.to_str().unwrap(), &tag], &[], "");
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    let pulled = run(dir, &["pull", &tag], &[], "");
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    let installed = run(dir, &["plugin", "install", &tag, "--yes"], &[], "");
    assert_eq!(installed.status.code(), Some(0), "{}", stderr(&installed));
    assert!(dir.join("plugins/cxl-features.wasm").is_file());

    // A wrong password is refused, naming the user, not the password.
    let wrong = run(dir, &["login", &host, "-u", "ci"], &[], "wrong-horse\n");
    assert_eq!(wrong.status.code(), Some(0));
    let refused = run(dir, &["pull", &tag, "--update"], &[], "");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("refused the credentials for user `ci`"), "{}", stderr(&refused));
    assert!(!stderr(&refused).contains("wrong-horse"));

    let logout = run(dir, &["logout", &host], &[], "");
    assert!(stdout(&logout).contains("logged out"), "{}", stdout(&logout));
    assert!(!std::fs::read_to_string(&config).unwrap().contains(&host));
    assert_never_shows_the_password(dir, &[&login, &pushed, &pulled, &installed, &refused]);
}

#[test]
fn a_credential_helper_and_an_authfile_are_asked_as_docker_and_podman_ask_them() {
    let registry = LocalRegistry::start_with_htpasswd(Some(&htpasswd()));
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let host = registry.reference("x").trim_start_matches("oci://").trim_end_matches("/x").to_string();
    let tag = registry.reference("acme/mlx5-diag:1");

    // A helper speaking Docker's protocol: the server on stdin, JSON on stdout.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-fwtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" >> {}\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"ci\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n",
            dir.join("helper-asked").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(dir.join("docker/config.json"), format!(r#"{{"credHelpers":{{"{host}":"fwtest"}}}}"#)).unwrap();

    let plugin = plugin_dir().join("mlx5-diag.wasm");
    let pushed = run(dir, &["push", plugin.to_str().unwrap(), &tag], &[], "");
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    let pulled = run(dir, &["pull", &tag], &[], "");
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    let asked = std::fs::read_to_string(dir.join("helper-asked")).unwrap();
    assert!(asked.lines().all(|l| l == host) && !asked.is_empty(), "the helper was asked for {host}: {asked}");

    // --authfile (podman's auth.json) wins over the Docker config, as REGISTRY_AUTH_FILE would.
    let authfile = dir.join("auth.json");
    let empty = run(dir, &["pull", &tag, "--update", "--authfile", authfile.to_str().unwrap()], &[], "");
    assert!(stderr(&empty).contains("needs credentials"), "an empty auth file means no login: {}", stderr(&empty));
    let login = run(dir, &["login", &host, "-u", "ci", "--authfile", authfile.to_str().unwrap()], &[], PASSWORD);
    assert_eq!(login.status.code(), Some(0), "{}", stderr(&login));
    let by_env = run(dir, &["pull", &tag, "--update"], &[("REGISTRY_AUTH_FILE", authfile.to_str().unwrap())], "");
    assert_eq!(by_env.status.code(), Some(0), "{}", stderr(&by_env));

    // A helper that fails is named, and what it printed is not repeated.
    std::fs::write(&helper, format!("#!/bin/sh\nread server\necho 'leaked {PASSWORD}'\nexit 3\n")).unwrap();
    let failed = run(dir, &["pull", &tag, "--update"], &[], "");
    assert_eq!(failed.status.code(), Some(2));
    assert!(stderr(&failed).contains("docker-credential-fwtest failed"), "{}", stderr(&failed));
    assert_never_shows_the_password(dir, &[&pushed, &pulled, &login, &by_env, &failed]);
}

#[test]
fn a_creds_store_with_nothing_for_a_public_registry_is_anonymous_and_asked_only_on_a_401() {
    let registry = LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let tag = registry.reference("acme/cxl-features:1");
    let pushed = run(dir, &["push", plugin_dir().join("cxl-features.wasm").to_str().unwrap(), &tag], &[], "");
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    // A store like docker-credential-secretservice's, which holds nothing for this registry.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-fwnone");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho asked >> {}\necho 'credentials not found in native keychain'\nexit 1\n",
            dir.join("asked").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(dir.join("docker/config.json"), r#"{"credsStore":"fwnone"}"#).unwrap();

    let pulled = run(dir, &["pull", &tag], &[], "");
    assert_eq!(pulled.status.code(), Some(0), "a public registry needs no credential: {}", stderr(&pulled));
    assert!(!dir.join("asked").exists(), "a registry that asked for nothing got no helper run");

    // A registry that does ask: the store is asked, has nothing, and that is a missing
    // login (what to do), not a failed helper.
    let private = LocalRegistry::start_with_htpasswd(Some(&htpasswd()));
    let refused = run(dir, &["pull", &private.reference("acme/cxl-features:1")], &[], "");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("needs credentials (401): log in"), "{}", stderr(&refused));
    assert!(dir.join("asked").exists(), "the store was asked on the 401");
}
