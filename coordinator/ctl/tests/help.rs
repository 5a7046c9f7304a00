//! Golden test of every `--help` text: the CLI's documentation is its contract.
//!
//! Regenerate after an intended change with `LGTM_UPDATE_GOLDEN=1 cargo test -p lgtmctl --test help`
//! and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

/// Every command path: `[]`, `["assign-role"]`, `["host", "show"]`, ...
fn command_paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    for sub in cmd.get_subcommands() {
        // clap's generated `help` subcommand is not ours to document.
        if sub.get_name() == "help" {
            continue;
        }
        let mut path = prefix.clone();
        path.push(sub.get_name().to_owned());
        command_paths(sub, path, out);
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden_name(path: &[String]) -> String {
    let mut name = String::from("lgtmctl");
    for p in path {
        name.push('-');
        name.push_str(p);
    }
    name + ".help.txt"
}

fn help_text(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lgtmctl"))
        .args(path)
        .arg("--help")
        // A set variable would show its value in the help text.
        .env_remove("LGTM_COORDINATOR")
        .output()
        .expect("run lgtmctl --help");
    assert!(
        out.status.success(),
        "lgtmctl {path:?} --help failed: {out:?}"
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

#[test]
fn help_texts_match_golden_files() {
    let update = std::env::var_os("LGTM_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut paths = Vec::new();
    command_paths(&lgtmctl::cli::Cli::command(), Vec::new(), &mut paths);
    let dir = golden_dir();
    let mut mismatched = Vec::new();
    let mut expected_files = Vec::new();
    for path in &paths {
        let name = golden_name(path);
        let file = dir.join(&name);
        expected_files.push(name.clone());
        let got = help_text(path);
        if update {
            std::fs::create_dir_all(&dir).expect("create golden dir");
            std::fs::write(&file, &got).expect("write golden file");
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if got != want {
            mismatched.push(format!("{name}:\n--- want\n{want}\n--- got\n{got}"));
        }
    }
    assert!(
        mismatched.is_empty(),
        "help texts differ from tests/golden (rerun with LGTM_UPDATE_GOLDEN=1 if intended):\n{}",
        mismatched.join("\n")
    );
    let mut stale: Vec<String> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".help.txt") && !expected_files.contains(n))
        .collect();
    stale.sort();
    assert!(
        stale.is_empty(),
        "golden files of commands that no longer exist: {stale:?}"
    );
}

#[test]
fn every_command_is_covered() {
    let mut paths = Vec::new();
    command_paths(&lgtmctl::cli::Cli::command(), Vec::new(), &mut paths);
    let names: Vec<String> = paths.iter().map(|p| golden_name(p)).collect();
    for want in [
        "lgtmctl.help.txt",
        "lgtmctl-assign-role.help.txt",
        "lgtmctl-unassign-role.help.txt",
        "lgtmctl-hosts.help.txt",
        "lgtmctl-host-show.help.txt",
        "lgtmctl-host-remove.help.txt",
        "lgtmctl-status.help.txt",
        "lgtmctl-config-get.help.txt",
        "lgtmctl-config-set.help.txt",
        "lgtmctl-wait.help.txt",
        "lgtmctl-completions.help.txt",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
}
