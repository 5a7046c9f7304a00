//! `--dry-run` of every changing command against a real coordinator, in golden files, and
//! `--check-index`: a stale index applies nothing, the planned one applies exactly the plan.
//!
//! Regenerate after an intended change with
//! `LGTM_UPDATE_GOLDEN=1 cargo test -p lgtmctl --test dry_run` and review the diff.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Coordinator, Run, unit};

const SECRET: &str = "DryRun-s3cr3t-0123456789";

/// Loki on S3, simple scalable: h1 runs write, read, backend and the gateway, h2 a second
/// write, h3 is registered without roles; every process ready.
fn cluster() -> Coordinator {
    let c = Coordinator::start();
    c.on_s3("loki");
    // Roles before the agents register: processes start new, nothing waits for a rollout.
    for role in ["loki:write", "loki:read", "loki:backend", "loki:gateway"] {
        c.ctl(&["assign-role", "h1", role]).ok();
    }
    c.ctl(&["assign-role", "h2", "loki:write"]).ok();
    for (host, address) in [
        ("h1", "198.18.0.2"),
        ("h2", "198.18.0.3"),
        ("h3", "198.18.0.4"),
    ] {
        c.register(host, address);
    }
    let h1 = [
        "lgtm-loki-write.service",
        "lgtm-loki-read.service",
        "lgtm-loki-backend.service",
        "lgtm-gateway.service",
    ];
    for (host, units) in [("h1", &h1[..]), ("h2", &h1[..1]), ("h3", &[][..])] {
        let units = units.iter().map(|u| unit(u, "active", None)).collect();
        c.report(host, c.desired_index(host), units);
    }
    c
}

/// Compares a dry run's output with `tests/golden/dry-run-<name>.txt`.
fn golden(name: &str, r: &Run) -> Option<String> {
    let text = format!("$ {name}\n{}--- stderr\n{}", r.stdout, r.stderr);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("dry-run-{}.txt", name.replace(' ', "-")));
    if std::env::var_os("LGTM_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write golden file");
        return None;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    (want != text).then(|| format!("{}:\n{text}", path.display()))
}

#[test]
fn every_changing_command_plans_in_golden_output_and_changes_nothing() {
    let c = cluster();
    let before = c.api("GET", "/v1/status", None).1;
    let runs: Vec<(&str, Run)> = vec![
        (
            "config set loki.log_level",
            c.ctl(&["config", "set", "loki.log_level", "warn", "--dry-run"]),
        ),
        (
            "config set secret",
            c.ctl_with_stdin(
                &[
                    "config",
                    "set",
                    "loki.storage.s3.secret_access_key",
                    "--from-stdin",
                    "--dry-run",
                ],
                Some(SECRET),
            ),
        ),
        (
            "assign-role",
            c.ctl(&["assign-role", "h3", "loki:write", "--dry-run"]),
        ),
        (
            "unassign-role",
            c.ctl(&["unassign-role", "h2", "loki:write", "--dry-run"]),
        ),
        (
            "unassign-role force",
            c.ctl(&["unassign-role", "h2", "loki:write", "--force", "--dry-run"]),
        ),
        ("drain", c.ctl(&["drain", "h1", "--dry-run"])),
        ("host remove", c.ctl(&["host", "remove", "h2", "--dry-run"])),
        (
            "switch",
            c.ctl(&[
                "switch",
                "loki",
                "h1=write,read,backend",
                "h3=write",
                "--dry-run",
            ]),
        ),
    ];
    let mut differ = Vec::new();
    for (name, r) in &runs {
        assert_eq!(r.code, 0, "{name}: {r:#?}");
        assert!(
            !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
            "secret leaked: {r:#?}"
        );
        differ.extend(golden(name, r));
    }
    assert!(
        differ.is_empty(),
        "dry runs differ from tests/golden (rerun with LGTM_UPDATE_GOLDEN=1 if intended):\n{}",
        differ.join("\n")
    );
    let after = c.api("GET", "/v1/status", None).1;
    assert_eq!(after, before, "a dry run changes nothing");
    // A refusal is the same with or without --dry-run.
    let r = c.ctl(&["drain", "h9", "--dry-run"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("h9 is not known"), "{r:#?}");
}

#[test]
fn check_index_applies_the_plan_only_while_nothing_else_changed() {
    let c = cluster();
    let r = c
        .ctl(&["assign-role", "h3", "loki:write", "--dry-run", "-o", "json"])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan json");
    let planned_at = plan["intent_index"].as_u64().expect("intent_index");
    let planned: BTreeSet<String> = plan["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .flat_map(|w| w.as_array().expect("a wave").iter())
        .map(|s| format!("{} {}", s["host"], s["unit"]))
        .collect();
    assert_eq!(planned.len(), 4, "h1's three processes and h2's: {plan}");

    // Someone else changes a setting in between: the planned change is refused.
    c.ctl(&["config", "set", "loki.log_level", "debug"]).ok();
    let at = planned_at.to_string();
    let r = c.ctl(&["assign-role", "h3", "loki:write", "--check-index", &at]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("nothing was applied")
            && r.stderr.contains(&format!("changed since index {at}")),
        "{r:#?}"
    );
    let (_, host) = c.api("GET", "/v1/hosts/h3", None);
    assert_eq!(host["roles"], serde_json::json!([]), "{host}");

    // Planned again, applied at that index: the rollout holds exactly the planned restarts.
    let r = c
        .ctl(&["assign-role", "h3", "loki:write", "--dry-run", "-o", "json"])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan json");
    let at = plan["intent_index"].to_string();
    c.ctl(&["assign-role", "h3", "loki:write", "--check-index", &at])
        .ok();
    let (_, rollout) = c.api("GET", "/v1/rollout", None);
    let held: BTreeSet<String> = ["restarting", "waiting"]
        .iter()
        .flat_map(|k| rollout[k].as_array().cloned().unwrap_or_default())
        .map(|p| format!("{} {}", p["host"], p["unit"]))
        .collect();
    assert_eq!(held, planned, "{rollout}");
    // --dry-run and --check-index do not go together.
    let r = c.ctl(&["drain", "h2", "--dry-run", "--check-index", "1"]);
    assert_eq!(r.code, 2, "{r:#?}");
}

#[test]
fn rollout_abort_plans_and_takes_the_change_back() {
    let c = cluster();
    let r = c.ctl(&["rollout", "abort"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("nothing to abort"), "{r:#?}");
    // Paused, so nothing restarts while the test looks.
    c.ctl(&["rollout", "pause", "--reason", "checking"]).ok();
    c.ctl(&["config", "set", "loki.log_level", "warn"]).ok();
    let status = c.ctl(&["rollout", "status"]).ok();
    assert!(status.stdout.contains("waiting"), "{status:#?}");
    let plan = c.ctl(&["rollout", "abort", "--dry-run"]);
    assert_eq!(plan.code, 0, "{plan:#?}");
    if let Some(differ) = golden("rollout abort", &plan) {
        panic!("rerun with LGTM_UPDATE_GOLDEN=1 if intended:\n{differ}");
    }
    let r = c.ctl(&["rollout", "abort"]).ok();
    assert!(
        r.stdout.starts_with("rollout aborted (index ")
            && r.stdout.contains("  set loki.log_level\n"),
        "{r:#?}"
    );
    let (_, setting) = c.api("GET", "/v1/settings", None);
    let level = setting
        .as_array()
        .and_then(|s| s.iter().find(|e| e["key"] == "loki.log_level"))
        .map(|e| e["value"].clone());
    assert_eq!(level, Some(serde_json::json!("info")));
    let status = c.ctl(&["rollout", "status"]).ok();
    assert_eq!(
        status.stdout, "rollout: idle, nothing waits for a restart\n",
        "nothing restarted, nothing restarts back, the pause is over"
    );
}
