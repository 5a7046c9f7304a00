//! Dry runs: a plan changes nothing, refuses what applying refuses, and lists the restarts
//! applying then holds for the rollout; `check_index` applies only at the planned index.

use std::collections::BTreeSet;

use lgtm_model::process::ProcessId;
use lgtm_model::wire::ProcessAction;

use super::*;

/// Tempo on S3 with ingesters on h1..h3 (replication 3), a distributor on h1, every process
/// ready.
async fn tempo_cluster(c: &Cluster) {
    on_s3(c, "tempo").await;
    for (n, host) in ["h1", "h2", "h3"].iter().enumerate() {
        c.apply(register(host, &format!("198.18.0.{}", n + 2)))
            .await
            .unwrap();
        c.apply(assign(host, "tempo:ingester")).await.unwrap();
    }
    c.apply(assign("h1", "tempo:distributor")).await.unwrap();
    for host in ["h1", "h2", "h3"] {
        ready(c, host, &["tempo:ingester", "tempo:distributor"]).await;
    }
    settle(c).await;
}

/// Lets the rollout finish: every process waiting restarts, every step is done.
pub(super) async fn settle(c: &Cluster) {
    use lgtm_model::rollout::{Event, Permit};
    for now in 1.. {
        let v = c.view();
        if v.rollout.waiting.is_empty() && v.rollout.machine.steps.is_empty() {
            return;
        }
        let done = v
            .rollout
            .machine
            .steps
            .iter()
            .map(|s| Event::Done(s.key.clone()));
        // A permit for a process not healthy releases it at once.
        let permits = v.rollout.waiting.iter().map(|w| {
            Event::Permit(Permit {
                key: w.key.clone(),
                stateful: w.stateful,
                healthy: false,
                retire: w.retire,
            })
        });
        let events = done.chain(permits).collect();
        c.apply(Op::Rollout(RolloutOp::Decide { events, now }))
            .await
            .unwrap();
    }
}

async fn ready(c: &Cluster, host: &str, roles: &[&str]) {
    let ready = roles
        .iter()
        .map(|r| ProcessId::for_role(r.parse().unwrap()))
        .collect();
    c.apply(Op::Ready {
        host: h(host),
        ready,
    })
    .await
    .unwrap();
}

fn set(key: &str, value: &str) -> Op {
    Op::Set {
        key: key.into(),
        value: value.into(),
        force: false,
    }
}

/// (host, unit, action) of every planned step, wave by wave.
fn steps(plan: &ChangePlan) -> Vec<Vec<(String, String, ProcessAction)>> {
    plan.waves
        .iter()
        .map(|w| {
            w.iter()
                .map(|s| (s.host.to_string(), s.unit.clone(), known(&s.action)))
                .collect()
        })
        .collect()
}

fn step(host: &str, unit: &str, action: ProcessAction) -> (String, String, ProcessAction) {
    (host.into(), unit.into(), action)
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_plans_the_restarts_applying_holds() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    let before = c.view();
    let plan = c.plan(set("tempo.log_level", "warn")).await.unwrap();
    let after = c.view();
    assert_eq!(
        (after.index, after.intent_index),
        (before.index, before.intent_index)
    );
    assert_eq!(plan.intent_index, before.intent_index);
    for (name, host) in &before.hosts {
        let now = &after.hosts[name];
        assert_eq!(
            (&now.rendered, now.desired_index),
            (&host.rendered, host.desired_index),
            "nothing given to {name} moved"
        );
    }

    let ingester = "lgtm-tempo-ingester.service";
    let distributor = "lgtm-tempo-distributor.service";
    assert_eq!(
        steps(&plan),
        vec![
            vec![step("h1", distributor, ProcessAction::Restart)],
            vec![step("h1", ingester, ProcessAction::Restart)],
            vec![step("h2", ingester, ProcessAction::Restart)],
            vec![step("h3", ingester, ProcessAction::Restart)],
        ],
        "stateless first, then one ring member at a time"
    );
    assert!(plan.waves.iter().flatten().all(|s| !s.earlier));
    let h1 = &plan.hosts[0];
    assert_eq!(h1.host, h("h1"));
    assert!(
        h1.processes
            .iter()
            .all(|p| p.action == ProcessAction::Restart),
        "{h1:?}"
    );
    let diff = &h1.processes[0].diff;
    assert!(
        diff.starts_with("--- a/tempo-distributor.yaml\n+++ b/tempo-distributor.yaml\n@@")
            && diff.contains("\n-  log_level: info\n")
            && diff.contains("\n+  log_level: warn\n"),
        "{diff}"
    );
    assert!(plan.replication.is_empty(), "{:?}", plan.replication);
    assert_eq!(plan.consistency.len(), 1, "tempo only");

    let applied = c
        .apply_checked(set("tempo.log_level", "warn"), Some(plan.intent_index))
        .await
        .unwrap();
    assert_eq!(c.view().intent_index, applied.index);
    let planned: BTreeSet<String> = plan
        .waves
        .iter()
        .flatten()
        .map(|s| format!("{} on {}", s.unit, s.host))
        .collect();
    let held: BTreeSet<String> = c
        .view()
        .rollout
        .waiting
        .iter()
        .map(|w| w.key.to_string())
        .collect();
    assert_eq!(held, planned, "applying holds exactly the planned restarts");
}

#[tokio::test]
async fn a_drain_plans_the_member_leaving_first_and_the_replication_it_lowers() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    let op = Op::Drain {
        host: h("h3"),
        backend: None,
        force: false,
    };
    let plan = c.plan(op.clone()).await.unwrap();
    let ingester = "lgtm-tempo-ingester.service";
    let distributor = "lgtm-tempo-distributor.service";
    assert_eq!(
        steps(&plan),
        vec![
            vec![step("h1", distributor, ProcessAction::Restart)],
            vec![step("h3", ingester, ProcessAction::Drain)],
            vec![step("h1", ingester, ProcessAction::Restart)],
            vec![step("h2", ingester, ProcessAction::Restart)],
        ],
        "stateless first; the leaving member before the restarts its removal causes"
    );
    let h3 = plan.hosts.iter().find(|p| p.host == h("h3")).unwrap();
    assert_eq!(h3.processes[0].action, ProcessAction::Drain);
    assert_eq!(
        plan.replication
            .iter()
            .map(|r| (r.role.to_string(), r.before, r.after))
            .collect::<Vec<_>>(),
        [("tempo:ingester".to_owned(), 3, 1)]
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("replication")),
        "the apply's warnings come with the plan: {:?}",
        plan.warnings
    );
    // --force stops it at once instead.
    let forced = c
        .plan(Op::Drain {
            host: h("h3"),
            backend: None,
            force: true,
        })
        .await
        .unwrap();
    let h3 = forced.hosts.iter().find(|p| p.host == h("h3")).unwrap();
    assert_eq!(h3.processes[0].action, ProcessAction::Stop);
    assert!(
        forced.waves.iter().flatten().all(|s| s.host != h("h3")),
        "{:?}",
        forced.waves
    );
}

#[tokio::test]
async fn a_dry_run_refuses_what_applying_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    ready(&c, "h2", &[]).await;
    let op = Op::Unassign {
        host: h("h3"),
        role: "tempo:ingester".into(),
        force: false,
    };
    let planned = c.plan(op.clone()).await.unwrap_err().to_string();
    let applied = c.apply(op).await.unwrap_err().to_string();
    assert_eq!(planned, applied);
    assert!(planned.contains("needs 2 ready members"), "{planned}");
}

#[tokio::test]
async fn a_secret_changed_in_a_dry_run_shows_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    let key = "tempo.storage.s3.secret_access_key";
    let plan = c.plan(set(key, "n3w-s3kr1t-value")).await.unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(
        !text.contains("n3w-s3kr1t-value") && !text.contains("\"secret\""),
        "{text}"
    );
    let diffs: BTreeSet<&str> = plan
        .hosts
        .iter()
        .flat_map(|h| &h.processes)
        .map(|p| p.diff.as_str())
        .collect();
    assert_eq!(
        diffs,
        ["(only a secret value changes; redacted)\n"].into(),
        "{text}"
    );
}

#[tokio::test]
async fn check_index_applies_only_while_no_other_change_came() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    let at = c.view().intent_index;
    // Readiness and rollout decisions are not changes an operator planned against.
    ready(&c, "h3", &["tempo:ingester"]).await;
    c.apply(Op::Rollout(RolloutOp::Pause {
        reason: "x".into(),
        now: 1,
    }))
    .await
    .unwrap();
    assert_eq!(c.view().intent_index, at);
    c.apply(set("tempo.log_level", "debug")).await.unwrap();
    let e = c
        .apply_checked(set("tempo.log_level", "warn"), Some(at))
        .await
        .unwrap_err();
    let now = c.view().intent_index;
    assert_eq!(
        e.to_string(),
        format!(
            "nothing was applied: hosts, roles or settings changed since index {at} (they are at index {now} now); look at the change again (--dry-run) and repeat with --check-index {now}"
        )
    );
    assert_eq!(c.view().settings.get("tempo.log_level").unwrap(), "debug");
    c.apply_checked(set("tempo.log_level", "warn"), Some(now))
        .await
        .unwrap();
    assert_eq!(c.view().settings.get("tempo.log_level").unwrap(), "warn");
}

fn unassign_h3_ingester() -> Op {
    Op::Unassign {
        host: h("h3"),
        role: "tempo:ingester".into(),
        force: false,
    }
}

fn waiting(c: &Cluster) -> BTreeSet<String> {
    c.view()
        .rollout
        .waiting
        .iter()
        .map(|w| w.key.to_string())
        .collect()
}

#[tokio::test]
async fn abort_goes_back_to_before_the_rollout_and_restarts_back_only_what_restarted() {
    use lgtm_model::rollout::{Event, Permit, ProcessKey};
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    let e = c.apply(Op::Abort { now: 1 }).await.unwrap_err();
    assert!(matches!(e, ChangeError::NothingToAbort), "{e}");

    // A setting rolls; h1's distributor restarted already; h3's ingester waits to drain.
    c.apply(set("tempo.log_level", "warn")).await.unwrap();
    let distributor = ProcessId::for_role("tempo:distributor".parse().unwrap());
    let key = ProcessKey {
        host: h("h1"),
        process: distributor,
    };
    let permit = Event::Permit(Permit {
        key: key.clone(),
        stateful: false,
        healthy: false,
        retire: false,
    });
    let decide = |events, now| Op::Rollout(RolloutOp::Decide { events, now });
    c.apply(decide(vec![permit, Event::Done(key)], 2))
        .await
        .unwrap();
    c.apply(unassign_h3_ingester()).await.unwrap();
    c.apply(Op::Rollout(RolloutOp::Pause {
        reason: "looks wrong".into(),
        now: 3,
    }))
    .await
    .unwrap();
    assert_eq!(waiting(&c).len(), 4, "{:?}", waiting(&c));

    let plan = c.plan(Op::Abort { now: 4 }).await.unwrap();
    assert_eq!(
        steps(&plan),
        vec![vec![step(
            "h1",
            "lgtm-tempo-distributor.service",
            ProcessAction::Restart
        )]],
        "only what restarted restarts back"
    );
    let applied = c.apply(Op::Abort { now: 4 }).await.unwrap();
    let Reply::Aborted { reverted, .. } = &applied.reply else {
        panic!("{:?}", applied.reply)
    };
    assert_eq!(
        reverted,
        &["set tempo.log_level", "assign tempo:ingester to h3"]
    );
    let v = c.view();
    assert_eq!(v.settings.get("tempo.log_level").unwrap(), "info");
    assert!(
        v.hosts[&h("h3")]
            .roles
            .iter()
            .any(|r| r.to_string() == "tempo:ingester")
    );
    assert_eq!(v.rollout.machine.paused, None, "an abort ends the pause");
    assert_eq!(
        waiting(&c),
        ["lgtm-tempo-distributor.service on h1".to_owned()].into()
    );
    // Once through, there is nothing left to abort.
    settle(&c).await;
    let e = c.apply(Op::Abort { now: 9 }).await.unwrap_err();
    assert!(matches!(e, ChangeError::NothingToAbort), "{e}");
}

#[tokio::test]
async fn abort_survives_a_restart_and_refuses_to_keep_a_drain_under_way() {
    use lgtm_model::rollout::{Event, Permit, ProcessKey};
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, writer) = Cluster::start(Box::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
        tempo_cluster(&c).await;
        c.apply(set("tempo.log_level", "warn")).await.unwrap();
        drop(c);
        writer.join();
    }
    let c = open(dir.path());
    c.apply(unassign_h3_ingester()).await.unwrap();
    let key = ProcessKey {
        host: h("h3"),
        process: ProcessId::for_role("tempo:ingester".parse().unwrap()),
    };
    let permit = Event::Permit(Permit {
        key,
        stateful: true,
        healthy: true,
        retire: true,
    });
    c.apply(Op::Rollout(RolloutOp::Decide {
        events: vec![permit],
        now: 5,
    }))
    .await
    .unwrap();
    let e = c.apply(Op::Abort { now: 6 }).await.unwrap_err().to_string();
    assert!(
        e.contains("lgtm-tempo-ingester.service on h3 is draining already"),
        "{e}"
    );
    assert_eq!(c.view().settings.get("tempo.log_level").unwrap(), "warn");
}

#[tokio::test]
async fn a_host_removed_with_force_is_planned_to_stop_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_cluster(&c).await;
    let plan = c
        .plan(Op::RemoveHost {
            host: h("h3"),
            force: true,
        })
        .await
        .unwrap();
    let h3 = plan.hosts.iter().find(|p| p.host == h("h3")).unwrap();
    assert_eq!(h3.processes[0].action, ProcessAction::Stop, "{h3:?}");
    assert!(plan.waves.iter().flatten().all(|s| s.host != h("h3")));
}

/// Tempo with a distributor, query-frontend, querier and ingester on h1 and h2 (replication
/// 1), on S3.
async fn tempo_at_replication_1(c: &Cluster) {
    on_s3(c, "tempo").await;
    let roles = [
        "tempo:distributor",
        "tempo:query-frontend",
        "tempo:querier",
        "tempo:ingester",
    ];
    for (n, host) in ["h1", "h2"].iter().enumerate() {
        c.apply(register(host, &format!("198.18.0.{}", n + 2)))
            .await
            .unwrap();
        for role in roles {
            c.apply(assign(host, role)).await.unwrap();
        }
    }
    c.apply(register("h3", "198.18.0.4")).await.unwrap();
    for host in ["h1", "h2"] {
        ready(c, host, &roles).await;
    }
    settle(c).await;
}

#[tokio::test]
async fn a_third_tempo_ingester_moves_queriers_and_ingesters_after_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    tempo_at_replication_1(&c).await;
    let plan = c.plan(assign("h3", "tempo:ingester")).await.unwrap();
    let (distributor, querier, ingester) = (
        "lgtm-tempo-distributor.service",
        "lgtm-tempo-querier.service",
        "lgtm-tempo-ingester.service",
    );
    assert_eq!(
        steps(&plan),
        vec![
            vec![step("h1", distributor, ProcessAction::Restart)],
            vec![step("h2", distributor, ProcessAction::Restart)],
            vec![step("h1", querier, ProcessAction::Restart)],
            vec![step("h2", querier, ProcessAction::Restart)],
            vec![step("h1", ingester, ProcessAction::Restart)],
            vec![step("h2", ingester, ProcessAction::Restart)],
        ],
        "distributors write at 3 before anything reads from a quorum of ingesters"
    );

    c.apply(assign("h3", "tempo:ingester")).await.unwrap();
    let gated: BTreeSet<(String, Option<u64>)> = c
        .view()
        .rollout
        .waiting
        .iter()
        .map(|w| (w.key.to_string(), w.after_flush))
        .collect();
    let want = |host: &str, unit: &str, after| (format!("{unit} on {host}"), after);
    // Tempo's default block list poll (5 min), twice, and the upload's 15 s.
    let settle = Some(615);
    assert_eq!(
        gated,
        BTreeSet::from([
            want("h1", distributor, None),
            want("h2", distributor, None),
            want("h1", querier, settle),
            want("h2", querier, settle),
            want("h1", ingester, settle),
            want("h2", ingester, settle),
        ])
    );
}
