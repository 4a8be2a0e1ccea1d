//! Golden files: a plugin's human and JSON output on a profile, compared with what is
//! checked in under `tests/e2e/golden/`. Only what varies between runs (durations,
//! compile timing, the plugin's digest and path) is normalised. `FWCTL_BLESS=1` rewrites
//! the files instead of comparing.

use std::path::PathBuf;

use crate::common::{fwctl_run, stderr, workspace_root};

fn golden_path(name: &str) -> PathBuf {
    workspace_root().join("tests/e2e/golden").join(name)
}

/// Compares `actual` with the golden file `name`, or rewrites it when blessing.
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("FWCTL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with FWCTL_BLESS=1 to create it)", path.display()));
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(8)
            .map(|(i, (e, a))| format!("line {}:\n  golden: {e}\n  actual: {a}", i + 1))
            .collect();
        panic!(
            "{} differs ({} golden lines, {} actual){}\n{}\n(FWCTL_BLESS=1 rewrites it after review)",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            if diff.is_empty() { "; one is a prefix of the other" } else { "" },
            diff.join("\n")
        );
    }
}

/// Human output with run timings and the digest prefix replaced by placeholders.
fn normalise_human(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut line = line.to_string();
            if let Some(at) = line.find("sha256:") {
                let end = line[at + 7..].find(|c: char| !c.is_ascii_hexdigit()).map_or(line.len(), |n| at + 7 + n);
                line.replace_range(at..end, "sha256:<digest>");
            }
            // "[3 RPCs, 2.5 ms]": the duration varies.
            if let (Some(comma), Some(ms)) = (line.rfind(", "), line.rfind(" ms]"))
                && comma < ms
                && line[comma + 2..ms].parse::<f64>().is_ok()
            {
                line.replace_range(comma + 2..ms, "<t>");
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The JSON report with what varies between runs replaced.
fn normalise_json(text: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(text).expect("the report is JSON");
    doc["plugin"]["digest"] = "sha256:<digest>".into();
    doc["plugin"]["path"] = "<path>".into();
    doc["compile"] = serde_json::json!({ "cache": "<cache>", "prepare_ms": "<t>" });
    for run in doc["runs"].as_array_mut().into_iter().flatten() {
        run["duration_ms"] = "<t>".into();
    }
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

/// Runs `plugin` on `profile` with `args` and checks both outputs against
/// `golden/<dir>/<case>.{txt,json}`.
pub fn check(dir: &str, case: &str, plugin: &str, profile: &str, args: &[&str]) {
    check_with(dir, case, plugin, profile, &[], args);
}

/// [`check`] with `options` for fwctl-run itself (a policy, a trust store).
pub fn check_with(dir: &str, case: &str, plugin: &str, profile: &str, options: &[&str], args: &[&str]) {
    let sim = format!("--sim={profile}");
    let mut argv = vec![plugin, sim.as_str()];
    argv.extend_from_slice(options);
    argv.push("--");
    argv.extend_from_slice(args);
    let human = fwctl_run(&argv);
    assert_golden(&format!("{dir}/{case}.txt"), &normalise_human(&String::from_utf8_lossy(&human.stdout)));
    argv.insert(2, "--json");
    let json = fwctl_run(&argv);
    assert_eq!(human.status.code(), json.status.code(), "both forms exit alike; {}", stderr(&json));
    // A shipped plugin's every sample is one the host takes: a refusal here is a metric
    // an operator never sees (a golden must not enshrine one).
    let text = String::from_utf8_lossy(&json.stdout);
    assert!(!text.contains("metric refused"), "{plugin} on {profile} reports a metric the host refuses:\n{text}");
    assert_golden(&format!("{dir}/{case}.json"), &normalise_json(&String::from_utf8_lossy(&json.stdout)));
}

#[test]
fn cxl_features_output_on_the_cxl_profile() {
    let cases: &[(&str, &[&str])] = &[
        ("list", &["list"]),
        ("get-cxl-test", &["get", "cxl-test"]),
        ("get-patrol-scrub", &["get", "patrol-scrub"]),
        ("get-thermal-default", &["get", "7c2f8a10-3b4e-4d5a-9e61-0f1a2b3c4d5e", "--selection", "default"]),
        ("set-dry-run", &["set", "cxl-test", "u32:0xabcdabcd", "--dry-run"]),
        ("set-kernel-owned", &["set", "patrol-scrub", "0c01"]),
    ];
    for (case, args) in cases {
        check("cxl-features", case, "cxl-features.wasm", "cxl-type3", args);
    }
}

/// Every mlx5 profile: the healthy ones and one per fault.
pub const MLX5_PROFILES: &[&str] = &[
    "connectx7-healthy",
    "connectx6dx-healthy",
    "connectx7-hot-module",
    "connectx7-weak-module-lane",
    "connectx7-pcie-degraded",
    "connectx7-link-down",
    "connectx7-fec-errors",
    "connectx6dx-old-firmware",
];

#[test]
fn mlx5_diag_output_on_every_mlx5_profile() {
    for profile in MLX5_PROFILES {
        check("mlx5-diag", profile, "mlx5-diag.wasm", profile, &[]);
    }
}
