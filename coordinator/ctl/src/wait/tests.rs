//! Table tests of [`decide`]: one status snapshot in, one verdict out.

use lgtm_model::Role;
use lgtm_model::wire::{ActionResult, RolloutStatus, UnitStatus};

use super::*;

fn role(s: &str) -> Role {
    s.parse().expect("test role")
}

fn unit(name: &str, active: &str, sub: &str, error: Option<&str>) -> UnitStatus {
    UnitStatus {
        unit: name.into(),
        active_state: active.into(),
        sub_state: sub.into(),
        n_restarts: if active == "active" { 0 } else { 3 },
        main_pid: 0,
        exec_main_status: if error.is_some() { 1 } else { 0 },
        // A running backend process answers /ready unless a test says otherwise.
        ready: (active == "active").then_some(true),
        error: error.map(str::to_owned),
    }
}

fn host(roles: &[&str], desired: u64, applied: Option<u64>, units: Vec<UnitStatus>) -> HostStatus {
    HostStatus {
        name: "host3".parse().expect("name"),
        address: None,
        roles: roles.iter().map(|r| Known::Is(role(r))).collect(),
        liveness: if applied.is_some() {
            Liveness::Alive
        } else {
            Liveness::Unknown
        }
        .into(),
        last_report_seconds_ago: applied.map(|_| 2),
        desired_index: desired,
        applied_index: applied,
        behind: applied.is_none_or(|a| a < desired),
        units,
        failed_actions: Vec::new(),
        facts: None,
    }
}

fn cluster(hosts: Vec<HostStatus>) -> ClusterStatus {
    ClusterStatus {
        index: 20,
        intent_index: 20,
        rollout: RolloutStatus::default(),
        backends: Vec::new(),
        hosts,
    }
}

/// A converged host3 while the rollout restarts or holds one of its processes.
fn in_rollout(restarting: bool, paused: bool) -> ClusterStatus {
    let mut c = cluster(vec![host(
        &["mimir:ingester"],
        12,
        Some(12),
        vec![unit("lgtm-mimir.service", "active", "running", None)],
    )]);
    let p = RolloutProcess {
        host: "host3".parse().expect("name"),
        unit: "lgtm-mimir.service".into(),
        stateful: true,
        note: Some("not ready: /ready answers 503".into()),
        retire: false,
    };
    if restarting {
        c.rollout.restarting.push(p);
    } else {
        c.rollout.waiting.push(p);
    }
    c.rollout.paused = paused.then(|| "paused by an operator".into());
    c
}

fn goal(index: u64, gone: &[&str]) -> Goal {
    Goal {
        host: "host3".parse().expect("name"),
        index,
        gone: gone.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Which verdict, and a piece of text it must contain.
enum Want {
    Done(&'static str),
    Waiting(&'static str),
    Failed(&'static str),
}

#[test]
fn verdicts() {
    let mimir = "lgtm-mimir.service";
    let tempo_ing = "lgtm-tempo-ingester.service";
    let active = |u| unit(u, "active", "running", None);
    let cases: Vec<(&str, ClusterStatus, Goal, Want)> = vec![
        (
            "unknown host fails at once",
            cluster(vec![]),
            goal(12, &[]),
            Want::Failed("host host3 is not known to the coordinator"),
        ),
        (
            "agent never reported",
            cluster(vec![host(&["mimir:ingester"], 12, None, vec![])]),
            goal(12, &[]),
            Want::Waiting("waiting for its agent's first report"),
        ),
        (
            "agent behind",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(10),
                vec![active(mimir)],
            )]),
            goal(12, &[]),
            Want::Waiting("agent applied index 10, waiting for 12"),
        ),
        (
            "applied and active",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(12),
                vec![active(mimir)],
            )]),
            goal(12, &[]),
            Want::Done("host3 applied index 12: lgtm-mimir.service active and ready"),
        ),
        (
            "active but not ready: the backend's own reason",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(12),
                vec![UnitStatus {
                    ready: Some(false),
                    ..unit(
                        mimir,
                        "active",
                        "running",
                        Some(
                            "lgtm-mimir.service: not ready: /ready answers 503: Ingester not ready: waiting for 15s after being ready",
                        ),
                    )
                }],
            )]),
            goal(12, &[]),
            Want::Waiting(
                "lgtm-mimir.service is active, not ready yet: /ready answers 503: Ingester not ready",
            ),
        ),
        (
            "active, not probed yet",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(12),
                vec![UnitStatus {
                    ready: None,
                    ..active(mimir)
                }],
            )]),
            goal(12, &[]),
            Want::Waiting("lgtm-mimir.service is active, not ready yet"),
        ),
        (
            "the gateway has no /ready: active is enough",
            cluster(vec![host(
                &["mimir:gateway"],
                12,
                Some(12),
                vec![UnitStatus {
                    ready: None,
                    ..active("lgtm-gateway.service")
                }],
            )]),
            goal(12, &[]),
            Want::Done("lgtm-gateway.service active and ready"),
        ),
        (
            "a change that did not touch this host waits only for the host's own index",
            cluster(vec![host(
                &["mimir:ingester"],
                7,
                Some(7),
                vec![active(mimir)],
            )]),
            goal(12, &[]),
            Want::Done("applied index 7"),
        ),
        (
            "a gateway host follows its desired index past the goal: its routes follow readiness",
            cluster(vec![host(
                &["loki:all", "loki:gateway"],
                13,
                Some(12),
                vec![active("lgtm-loki.service"), active("lgtm-gateway.service")],
            )]),
            goal(12, &[]),
            Want::Waiting("agent applied index 12, waiting for 13"),
        ),
        (
            "unit not reported yet",
            cluster(vec![host(&["mimir:ingester"], 12, Some(12), vec![])]),
            goal(12, &[]),
            Want::Waiting("lgtm-mimir.service not reported yet"),
        ),
        (
            "unit starting",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(12),
                vec![unit(
                    mimir,
                    "activating",
                    "auto-restart",
                    Some("exit 1\nbad config"),
                )],
            )]),
            goal(12, &[]),
            Want::Waiting("lgtm-mimir.service is activating/auto-restart, 3 restarts: exit 1"),
        ),
        (
            "unit failed: its own error",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(12),
                vec![unit(
                    mimir,
                    "failed",
                    "failed",
                    Some("field unknown_key not found\n"),
                )],
            )]),
            goal(12, &[]),
            Want::Failed("lgtm-mimir.service failed: field unknown_key not found"),
        ),
        (
            "unit failed without an error text",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(12),
                vec![unit(mimir, "failed", "failed", None)],
            )]),
            goal(12, &[]),
            Want::Failed("failed (exit status 0, 3 restarts)"),
        ),
        (
            "a failed unit of an older index is not this change's failure",
            cluster(vec![host(
                &["mimir:ingester"],
                12,
                Some(11),
                vec![unit(mimir, "failed", "failed", Some("old"))],
            )]),
            goal(12, &[]),
            Want::Waiting("waiting for 12"),
        ),
        (
            "every process of the host must be active",
            cluster(vec![host(
                &["mimir:ingester", "tempo:ingester"],
                12,
                Some(12),
                vec![active(mimir)],
            )]),
            goal(12, &[]),
            Want::Waiting("lgtm-tempo-ingester.service not reported yet"),
        ),
        (
            "unassigned role: its unit must be gone",
            cluster(vec![host(
                &["mimir:ingester"],
                13,
                Some(13),
                vec![active(mimir), active(tempo_ing)],
            )]),
            goal(13, &[tempo_ing]),
            Want::Waiting("lgtm-tempo-ingester.service still present (active)"),
        ),
        (
            "unassigned role gone",
            cluster(vec![host(
                &["mimir:ingester"],
                13,
                Some(13),
                vec![active(mimir)],
            )]),
            goal(13, &[tempo_ing]),
            Want::Done("applied index 13"),
        ),
        (
            "unassigning one of several roles of a shared process keeps its unit",
            cluster(vec![host(
                &["mimir:querier"],
                13,
                Some(13),
                vec![active(mimir)],
            )]),
            goal(13, &[mimir]),
            Want::Done("lgtm-mimir.service active"),
        ),
        (
            "no roles left: nothing to run",
            cluster(vec![host(&[], 14, Some(14), vec![])]),
            goal(14, &[mimir]),
            Want::Done("host3 applied index 14: no units"),
        ),
        (
            "a process restarting in the rollout",
            in_rollout(true, false),
            goal(12, &[]),
            Want::Waiting(
                "host3: lgtm-mimir.service restarting in the rollout: not ready: /ready answers 503",
            ),
        ),
        (
            "a process waiting for its turn",
            in_rollout(false, false),
            goal(12, &[]),
            Want::Waiting("host3: lgtm-mimir.service waits for its turn in the rollout"),
        ),
        (
            "a process waiting while the rollout is paused",
            in_rollout(false, true),
            goal(12, &[]),
            Want::Failed("the rollout is paused (paused by an operator); `lgtmctl rollout resume`"),
        ),
        (
            "a process restarted while the rollout is paused",
            in_rollout(true, true),
            goal(12, &[]),
            Want::Failed("restarted, and the rollout is paused"),
        ),
    ];
    for (name, status, goal, want) in cases {
        let got = decide(&status, &goal);
        let ok = match (&want, &got) {
            (Want::Done(w), Verdict::Done(t))
            | (Want::Waiting(w), Verdict::Waiting(t))
            | (Want::Failed(w), Verdict::Failed(t)) => t.contains(w),
            _ => false,
        };
        assert!(ok, "{name}: got {got:?}");
    }
}

#[test]
fn failed_actions_fail_the_wait() {
    let mut h = host(
        &["mimir:ingester"],
        12,
        Some(12),
        vec![unit("lgtm-mimir.service", "inactive", "dead", None)],
    );
    h.failed_actions = vec![ActionResult {
        action: "start lgtm-mimir.service".into(),
        ok: false,
        error: Some("unit lgtm-mimir.service not found".into()),
    }];
    let got = decide(&cluster(vec![h]), &goal(12, &[]));
    assert_eq!(
        got,
        Verdict::Failed(
            "host3: start lgtm-mimir.service: unit lgtm-mimir.service not found".into()
        )
    );
}

#[test]
fn a_switch_waits_for_every_host_that_runs_the_backend_or_still_has_a_unit_of_it() {
    let named = |name: &str, roles: &[&str], units: &[&str]| HostStatus {
        name: name.parse().expect("name"),
        ..host(
            roles,
            30,
            Some(29),
            units
                .iter()
                .map(|u| unit(u, "active", "running", None))
                .collect(),
        )
    };
    let status = cluster(vec![
        // Switched from `all` to simple-scalable: the old process still drains.
        named(
            "host1",
            &["loki:write", "loki:read", "loki:backend", "mimir:all"],
            &["lgtm-loki.service", "lgtm-mimir.service"],
        ),
        // New to the backend, nothing reported yet.
        named("host2", &["loki:write", "loki:read", "loki:backend"], &[]),
        // Lost the backend; its process is still there.
        named("host3", &[], &["lgtm-loki-write.service"]),
        // Another backend only.
        named("host4", &["mimir:all"], &["lgtm-mimir.service"]),
    ]);
    let got = switch_goals(&status, Backend::Loki, 30);
    let want = [
        ("host1", vec!["lgtm-loki.service"]),
        ("host2", vec![]),
        ("host3", vec!["lgtm-loki-write.service"]),
    ]
    .map(|(host, gone)| Goal {
        host: host.parse().expect("name"),
        index: 30,
        gone: gone.into_iter().map(str::to_owned).collect(),
    });
    assert_eq!(got, want);
}

#[test]
fn polls_often_at_first_less_when_long_or_slow() {
    let ms = Duration::from_millis;
    let pause = |waited, answer| next_pause(ms(waited), ms(answer)).as_millis();
    assert_eq!(pause(0, 3), 50, "a small cluster's quick answer, at once");
    assert_eq!(pause(2_000, 3), 200, "a tenth of the time waited");
    assert_eq!(pause(60_000, 3), 500, "at most every half second");
    assert_eq!(
        pause(0, 40),
        160,
        "a large cluster's status: a fifth of the time"
    );
    assert_eq!(pause(0, 900), 500, "even when the status is slower still");
}
