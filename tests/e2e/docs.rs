//! The docs are promises: every `fwctl-run` command they show uses a subcommand and flags
//! the binary has, and the sample output in the README is what the binary prints.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{fwctl_run, stdout, workspace_root};

/// The README, every page under docs/, and the SDK guide.
fn pages() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut files = vec![root.join("README.md"), root.join("sdk/README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs")).unwrap().map(|e| e.unwrap().path()).collect();
    docs.sort();
    files.extend(docs);
    files.into_iter().map(|f| (f.display().to_string(), std::fs::read_to_string(&f).unwrap())).collect()
}

/// The lines of fenced blocks of `language` in `text`.
fn blocks<'a>(text: &'a str, language: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(lang)) if lang == language => current = Some(Vec::new()),
            (Some(_), Some("")) => found.push(current.take().unwrap()),
            (Some(lines), _) => lines.push(line),
            _ => {}
        }
    }
    found
}

const SUBCOMMANDS: &[&str] = &[
    "list", "inspect", "keygen", "sign", "verify", "trust", "test", "manifest", "rpc", "pull", "fleet", "npd", "serve",
    "plugin", "login", "logout", "push", "man",
];
/// Subcommands with actions of their own, whose flags belong to the action.
const NESTED: &[&str] = &["trust", "manifest", "plugin"];

#[test]
fn every_command_the_docs_show_uses_a_subcommand_and_flags_the_binary_has() {
    // Subcommand (or "" for a run) → the long flags the docs give it, and where.
    let mut used: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (page, text) in pages() {
        for line in blocks(&text, "sh").into_iter().flatten() {
            let command = line.split(" #").next().unwrap_or("").trim();
            let Some(rest) = command.strip_prefix("fwctl-run ") else { continue };
            let words: Vec<&str> = rest.split_whitespace().take_while(|w| *w != "--").collect();
            let mut sub = words.first().filter(|w| SUBCOMMANDS.contains(w)).map_or("", |w| w).to_string();
            // `trust add`, `manifest check`: the flags belong to the nested command.
            if NESTED.contains(&sub.as_str())
                && let Some(action) = words.get(1).filter(|w| !w.starts_with('-'))
            {
                sub = format!("{sub} {action}");
            }
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                let flag = flag.split('=').next().unwrap().trim_end_matches(']').to_string();
                used.entry(sub.clone()).or_default().insert((flag, format!("{page}: {command}")));
            }
            used.entry(sub).or_default();
        }
    }
    assert!(used.len() > 5, "the docs show commands: {used:?}");
    for (sub, flags) in used {
        let mut argv: Vec<&str> = sub.split_whitespace().collect();
        argv.push("--help");
        let help = fwctl_run(&argv);
        assert_eq!(help.status.code(), Some(0), "`fwctl-run {sub}` is not a command");
        let help = stdout(&help);
        for (flag, shown) in flags {
            assert!(
                help.contains(&format!("{flag} "))
                    || help.contains(&format!("{flag}["))
                    || help.contains(&format!("{flag}="))
                    || help.contains(&format!("{flag}\n")),
                "{shown}: `fwctl-run {sub}` has no {flag}"
            );
        }
    }
}

#[test]
fn the_readme_sample_is_what_the_binary_prints() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let sample = blocks(&readme, "text").into_iter().next().expect("the README shows a sample");
    let output = stdout(&fwctl_run(&["mlx5-diag.wasm", "--sim=connectx7-link-down"]));
    // Timing and the digest of this build vary; everything else is printed as shown.
    for line in sample.iter().filter(|l| !l.contains('…') && !l.contains(" ms]") && !l.contains("sha256:")) {
        assert!(output.lines().any(|o| o == *line), "the README shows `{line}`, the binary prints:\n{output}");
    }
}

#[test]
fn every_path_the_readme_layout_names_exists() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let layout = &readme[readme.find("## Layout").expect("a Layout section")..];
    let mut named = 0;
    for row in layout.lines().filter(|l| l.starts_with("| `")) {
        let cell = row.split('|').nth(1).unwrap();
        for path in cell.split('`').skip(1).step_by(2) {
            named += 1;
            assert!(workspace_root().join(path).exists(), "the layout names `{path}`, which is not in the tree");
        }
    }
    assert!(named > 20, "the layout names the tree: {named}");
}

#[test]
fn the_manifest_reference_in_the_guide_names_every_key_the_loader_accepts() {
    use fwctl_run::plugin::Manifest;
    let guide = std::fs::read_to_string(workspace_root().join("sdk/README.md")).unwrap();
    let table = &guide[guide.find("### Manifest reference").expect("the guide has a manifest reference")..];
    let base = "manifest-version = 1\nname = \"x\"\nversion = \"1\"\nvendor = \"v\"\n";
    // The loader names every key it accepts when it meets one it does not.
    let levels = [
        ("", format!("{base}unknown-key = 1\n[devices.mlx5]\nscope = \"debug-read-only\"\n")),
        ("devices.KIND.", format!("{base}[devices.mlx5]\nscope = \"debug-read-only\"\nunknown-key = 1\n")),
        ("limits.", format!("{base}[devices.mlx5]\nscope = \"debug-read-only\"\n[limits]\nunknown-key = 1\n")),
    ];
    for (prefix, text) in levels {
        let error = Manifest::from_toml(&text).unwrap_err().to_string();
        let expected = error.split("expected one of ").nth(1).unwrap_or_else(|| panic!("the keys, in: {error}"));
        let expected = expected.split(" (line").next().unwrap();
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        assert!(!keys.is_empty(), "{error}");
        for key in keys {
            let row = format!("| `{prefix}{key}` |");
            assert!(table.contains(&row), "the guide's manifest reference lacks {row}");
        }
    }
}
