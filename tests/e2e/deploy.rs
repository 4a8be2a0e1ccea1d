//! What ships under deploy/, each checked by the tool that consumes it: systemd's own
//! verifier and security analysis, a YAML parser for the DaemonSet (whose exporter command
//! is run as written), ansible-playbook for the playbook, and
//! fwctl-run itself for the NPD rule's arguments.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{audit_log, cache_dir, plugin_dir, workspace_root};

fn deploy(path: &str) -> PathBuf {
    workspace_root().join("deploy").join(path)
}

/// The unit files with ExecStart pointing at the binary under test (the verifier checks
/// that the command exists).
fn units_in(dir: &Path) -> Vec<PathBuf> {
    ["fwctl-run-fleet.service", "fwctl-run-fleet.timer", "fwctl-run-serve.service"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(deploy("systemd").join(name)).unwrap();
            let path = dir.join(name);
            std::fs::write(&path, text.replace("/usr/bin/fwctl-run", env!("CARGO_BIN_EXE_fwctl-run"))).unwrap();
            path
        })
        .collect()
}

fn systemd_verify(units: &[PathBuf]) -> String {
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(units)
        .output()
        .expect("systemd-analyze (Debian's systemd package) checks the units");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = units_in(dir.path());
    let said = systemd_verify(&units);
    assert!(said.trim().is_empty(), "systemd-analyze verify complains:\n{said}");

    // The verifier only warns (exit 0) on a bad key, so silence is what is checked; a
    // broken copy proves it would speak up.
    let broken = dir.path().join("broken.service");
    let text = std::fs::read_to_string(&units[0]).unwrap().replace("Type=oneshot", "Type=oneshoot");
    std::fs::write(&broken, text).unwrap();
    assert!(systemd_verify(&[broken]).contains("oneshoot"));

    let service = std::fs::read_to_string(deploy("systemd/fwctl-run-fleet.service")).unwrap();
    for line in [
        "Type=oneshot",
        "--textfile /var/lib/prometheus/node-exporter",
        "--config /etc/fwctl-run/fleet.toml",
        "CapabilityBoundingSet=",
        "DeviceAllow=char-fwctl rw",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(service.contains(line), "the service has {line}");
    }
    let timer = std::fs::read_to_string(deploy("systemd/fwctl-run-fleet.timer")).unwrap();
    assert!(timer.contains("RandomizedDelaySec=") && timer.contains("OnUnitActiveSec="));
    let serve = std::fs::read_to_string(deploy("systemd/fwctl-run-serve.service")).unwrap();
    for line in [
        "ExecStart=/usr/bin/fwctl-run serve --config /etc/fwctl-run/fleet.toml --listen 127.0.0.1:10025",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "IPAddressDeny=any",
        "IPAddressAllow=localhost",
        "DeviceAllow=char-fwctl rw",
    ] {
        assert!(serve.contains(line), "the serve unit has {line}");
    }
}

/// `systemd-analyze security --offline`'s overall exposure of a unit file (0 is best).
fn exposure(unit: &Path) -> f64 {
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for ")?.1.split_once(": ")?.1.split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no overall exposure in:\n{text}{}", String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn the_serve_unit_is_sandboxed_no_worse_than_the_timers_service() {
    let dir = tempfile::tempdir().unwrap();
    let units = units_in(dir.path());
    let fleet = exposure(&units[0]);
    let serve = exposure(&units[2]);
    assert!(serve <= fleet, "systemd-analyze security: serve {serve}, the timer's service {fleet}");
    // It would notice: the serve unit without its extra filters is worse.
    let loose = dir.path().join("loose.service");
    let text = std::fs::read_to_string(&units[2]).unwrap().replace("SystemCallFilter=~@privileged @resources\n", "");
    std::fs::write(&loose, text).unwrap();
    assert!(exposure(&loose) > fleet);
}

/// The documents of a YAML file, as JSON (parsed by PyYAML, Debian's python3-yaml).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let script = "import json, sys, yaml\nprint(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let output = Command::new("/usr/bin/python3").args(["-c", script]).arg(path).output().expect("python3 with PyYAML");
    assert!(output.status.success(), "{} does not parse: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_daemonset_parses_and_is_as_tight_as_privileged_allows() {
    let path = deploy("kubernetes/fwctl-run-daemonset.yaml");
    let docs = yaml_documents(&path);
    let config_map = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
    let daemon_set = docs.iter().find(|d| d["kind"] == "DaemonSet").expect("a DaemonSet");
    assert_eq!(daemon_set["apiVersion"], "apps/v1");

    // The NPD config in the ConfigMap is the one shipped in deploy/npd.
    let shipped: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("npd/fwctl-problem-monitor.json")).unwrap()).unwrap();
    let embedded: Value =
        serde_json::from_str(config_map["data"]["fwctl-problem-monitor.json"].as_str().unwrap()).unwrap();
    assert_eq!(embedded, shipped);

    let pod = &daemon_set["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    let host_path = |name: &str| {
        volumes.iter().find(|v| v["name"] == name).and_then(|v| v["hostPath"]["path"].as_str()).map(str::to_string)
    };
    assert_eq!(host_path("fwctl").as_deref(), Some("/dev/fwctl"));
    assert_eq!(host_path("sys").as_deref(), Some("/sys"));
    assert_eq!(host_path("state").as_deref(), Some("/var/lib/fwctl-run"));
    for container in pod["containers"].as_array().unwrap() {
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true, "{}", container["name"]);
        assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert!(security["capabilities"].get("add").is_none(), "no capability is added back");
        assert_eq!(security["privileged"], true, "a host char device needs privileged (see the comment)");
        for mount in container["volumeMounts"].as_array().unwrap() {
            if mount["name"] == "fwctl" || mount["name"] == "sys" {
                assert_eq!(mount["readOnly"], true, "{mount}");
            }
        }
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("without `privileged` (only a device plugin or CDI can)"),
        "the manifest says why it is privileged"
    );

    // One fwctl-run container besides NPD: `serve`, probed on its named port.
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    let exporter = containers.iter().find(|c| c["name"] == "exporter").expect("the exporter container");
    assert_eq!(exporter["command"][1], "serve");
    assert_eq!(exporter["ports"][0]["name"], "metrics");
    assert_eq!(exporter["ports"][0]["containerPort"], 10025);
    assert_eq!(exporter["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(exporter["readinessProbe"]["httpGet"]["path"], "/ready");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(exporter[probe]["httpGet"]["port"], "metrics");
        assert_eq!(exporter[probe]["httpGet"]["scheme"], "HTTPS");
    }
    let annotations = &daemon_set["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], "10025");
    assert_eq!(annotations["prometheus.io/scheme"], "https");

    let monitors = yaml_documents(&deploy("kubernetes/fwctl-run-podmonitor.yaml"));
    let endpoint = &monitors[0]["spec"]["podMetricsEndpoints"][0];
    assert_eq!(monitors[0]["kind"], "PodMonitor");
    assert_eq!(monitors[0]["spec"]["selector"]["matchLabels"], daemon_set["spec"]["selector"]["matchLabels"]);
    assert_eq!((endpoint["port"].as_str(), endpoint["scheme"].as_str()), (Some("metrics"), Some("https")));
    assert!(endpoint["basicAuth"].is_object() && endpoint["tlsConfig"].is_object());
}

#[test]
fn the_daemonsets_exporter_command_serves_with_its_configuration() {
    let docs = yaml_documents(&deploy("kubernetes/fwctl-run-daemonset.yaml"));
    let daemon_set = docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let fleet_map = docs.iter().find(|d| d["metadata"]["name"] == "fwctl-run-fleet").expect("the fleet ConfigMap");
    let exporter = daemon_set["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "exporter")
        .unwrap()
        .clone();

    // The Secret and the ConfigMap as files, as the volumes mount them.
    let dir = tempfile::tempdir().unwrap();
    // tls.crt and tls.key beside web.yml, which names them relative to itself.
    let (cert, _key) = crate::serve::certificate(dir.path());
    std::fs::write(
        dir.path().join("web.yml"),
        format!(
            "tls_server_config: {{ cert_file: tls.crt, key_file: tls.key }}\nbasic_auth_users: {{ prometheus: '{}' }}\n",
            crate::serve::bcrypt("scrape")
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("fleet.toml"), fleet_map["data"]["fleet.toml"].as_str().unwrap()).unwrap();
    let mut args: Vec<String> = exporter["command"].as_array().unwrap()[2..]
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .replace("/etc/fwctl-run/web", dir.path().to_str().unwrap())
                .replace("/etc/fwctl-run/fleet", dir.path().to_str().unwrap())
                .replace("0.0.0.0:10025", "0.0.0.0:0")
        })
        .collect();
    args.push("--sim".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut served = crate::serve::Served::start(&args);
    served.wait_for_log("fleet run completed", std::time::Duration::from_secs(60));
    let port = served.address.rsplit(':').next().unwrap();
    let cacert = ["--cacert", cert.to_str().unwrap()];
    let ready = crate::serve::curl(&format!("https://127.0.0.1:{port}/ready"), &cacert);
    assert_eq!(ready.status, 200, "the readiness probe's request: {}", ready.body);
    let metrics = crate::serve::curl(
        &format!("https://127.0.0.1:{port}/metrics"),
        &[&cacert[..], &["-u", "prometheus:scrape"]].concat(),
    );
    assert!(metrics.body.contains(r#"fwctl_plugin_up{device="mlx5_0",plugin="mlx5-diag"} 1"#), "{}", metrics.body);
}

#[test]
fn the_npd_rule_runs_within_its_timeout_and_its_arguments_work() {
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("npd/fwctl-problem-monitor.json")).unwrap()).unwrap();
    assert_eq!(config["plugin"], "custom");
    assert_eq!(config["conditions"][0]["type"], "FwctlDeviceProblem");
    let rule = &config["rules"][0];
    assert_eq!(rule["type"], "permanent");
    assert_eq!(rule["condition"], "FwctlDeviceProblem");
    let args: Vec<&str> = rule["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let after = |flag: &str| args.iter().position(|a| *a == flag).map(|i| args[i + 1]).unwrap();
    let deadline = humantime::parse_duration(after("--deadline")).unwrap();
    let timeout = humantime::parse_duration(rule["timeout"].as_str().unwrap()).unwrap();
    assert!(deadline < timeout, "the internal deadline {deadline:?} is below the rule's timeout {timeout:?}");
    assert_eq!(after("--max-output"), config["pluginConfig"]["max_output_length"].to_string());

    // The rule's exact arguments, on a simulated host.
    let mlx5 = plugin_dir().join("mlx5-diag.wasm");
    let output = Command::new(env!("CARGO_BIN_EXE_fwctl-run"))
        .env("FWCTL_RUN_STATE_DIR", crate::common::fresh_state_dir())
        .args(&args)
        .arg(&mlx5)
        .args(["--sim-fleet", "4:connectx7-healthy"])
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_AUDIT", audit_log())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "OK: 4 simulated fwctl devices healthy\n");
}

/// Runs the playbook against this machine with `fwctl_run_args`.
fn playbook(fwctl_run_args: &str) -> (Option<i32>, String) {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(plugin_dir().join("mlx5-diag.wasm"), plugins.path().join("mlx5-diag.wasm")).unwrap();
    playbook_in(plugins.path(), fwctl_run_args, &[])
}

/// The playbook with `plugins` as the plugin directory and `extra` variables (JSON).
fn playbook_in(plugins: &Path, fwctl_run_args: &str, extra: &[String]) -> (Option<i32>, String) {
    let output = Command::new("ansible-playbook")
        .args(["-i", "localhost,", "-c", "local", "-e", "ansible_become=false"])
        .arg("-e")
        .arg(format!("fwctl_run={}", env!("CARGO_BIN_EXE_fwctl-run")))
        .arg("-e")
        .arg(format!("fwctl_run_args='{fwctl_run_args}'"))
        .args(extra.iter().flat_map(|e| ["-e".to_string(), e.clone()]))
        .arg(deploy("ansible/fwctl-fleet-check.yml"))
        .env("FWCTL_RUN_PLUGIN_PATH", plugins)
        .env("FWCTL_RUN_CACHE_DIR", cache_dir())
        .env("FWCTL_RUN_AUDIT", audit_log())
        .env("FWCTL_RUN_STORE", plugins.join("store"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", plugins.join("ansible-tmp"))
        .output()
        .expect("ansible-playbook (Debian's ansible-core) runs the example playbook");
    (
        output.status.code(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

#[test]
fn the_ansible_playbook_fails_a_host_only_on_critical_findings_or_unchecked_devices() {
    let (code, said) = playbook("--sim-fleet 3:connectx7-healthy");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("fwctl0 (mlx5, 0000:00:00.0): ok") && said.contains("changed=0"), "{said}");

    // A link down is an error, not critical: reported, and the host passes.
    let (code, said) = playbook("--sim-fleet 2:connectx7-link-down");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("findings — mlx5.link.down"), "{said}");

    // A device that vanished could not be checked: the host fails, saying why.
    let dir = tempfile::tempdir().unwrap();
    let healthy = std::fs::read_to_string(workspace_root().join("devices/profiles/connectx7-healthy.toml")).unwrap();
    let gone = dir.path().join("gone.toml");
    std::fs::write(&gone, format!("{healthy}\n[device.faults]\nvanish_after_rpcs = 3\n")).unwrap();
    let (code, said) = playbook(&format!("--sim-fleet 2:{}", gone.display()));
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("2 device(s) could not be checked"), "{said}");
}

#[test]
fn the_ansible_playbook_installs_plugins_pinned_by_digest_once() {
    let registry = crate::registry::LocalRegistry::start();
    let tag = registry.reference("acme/mlx5-diag:1.0");
    let pushed = crate::common::fwctl_run(&["push", plugin_dir().join("mlx5-diag.wasm").to_str().unwrap(), &tag]);
    assert_eq!(pushed.status.code(), Some(0), "{}", crate::common::stderr(&pushed));
    let manifest = crate::common::stdout(&pushed)
        .lines()
        .find_map(|l| l.trim().strip_prefix("manifest ").map(str::to_string))
        .unwrap();
    let pinned = format!("{}@{manifest}", tag.rsplit_once(':').unwrap().0);
    let plugins = tempfile::tempdir().unwrap();
    let extra = [format!(r#"{{"fwctl_plugins": ["{pinned}"]}}"#)];
    let (code, said) = playbook_in(plugins.path(), "--sim-fleet 2:connectx7-healthy", &extra);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("changed=1"), "the install is the one change: {said}");
    assert!(plugins.path().join("mlx5-diag.wasm").is_file());
    let record = std::fs::read_to_string(plugins.path().join("mlx5-diag.install.toml")).unwrap();
    assert!(record.contains(&pinned), "{record}");
    let (code, said) = playbook_in(plugins.path(), "--sim-fleet 2:connectx7-healthy", &extra);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("changed=0"), "installing what is there changes nothing: {said}");
}
