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

const SUBCOMMANDS: &[&str] =
    &["list", "inspect", "keygen", "sign", "verify", "manifest", "rpc", "pull", "fleet", "npd", "push", "man"];

#[test]
fn every_command_the_docs_show_uses_a_subcommand_and_flags_the_binary_has() {
    // Subcommand (or "" for a run) → the long flags the docs give it, and where.
    let mut used: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (page, text) in pages() {
        for line in blocks(&text, "sh").into_iter().flatten() {
            let command = line.split(" #").next().unwrap_or("").trim();
            let Some(rest) = command.strip_prefix("fwctl-run ") else { continue };
            let words: Vec<&str> = rest.split_whitespace().take_while(|w| *w != "--").collect();
            let sub = words.first().filter(|w| SUBCOMMANDS.contains(w)).map_or("", |w| w).to_string();
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                let flag = flag.split('=').next().unwrap().trim_end_matches(']').to_string();
                used.entry(sub.clone()).or_default().insert((flag, format!("{page}: {command}")));
            }
            used.entry(sub).or_default();
        }
    }
    assert!(used.len() > 5, "the docs show commands: {used:?}");
    for (sub, flags) in used {
        let help = if sub.is_empty() { fwctl_run(&["--help"]) } else { fwctl_run(&[&sub, "--help"]) };
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
