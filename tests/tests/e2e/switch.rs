//! A staged mode switch against the real Loki: `loki:all` on one host to simple-scalable on
//! three in one `lgtmctl switch`, under push and query load through the gateway: no push is
//! refused, and every line pushed before, during and after is still there. Queries in flight
//! while the query-scheduler set changes can hang in Loki (its queriers drop their streams to
//! a scheduler they stop using); they are counted and printed, not asserted (BENCHMARKS.md).

use std::time::Duration;

use lgtm_model::Backend;
use lgtm_model::gateway::LOKI_PORT;
use lgtm_model::wire::{ChangePlan, ProcessAction};

use super::real::{process, wait_all};
use super::rolling::{logs_all_there, roll_under_load, rollout_idle};
use super::support::*;

#[test]
fn real_loki_switches_from_all_on_one_host_to_simple_scalable_on_three_under_load() {
    let Some(lab) = real_lab(3, &[Backend::Loki]) else {
        return;
    };
    ctl_ok(&lab, &["config", "set", "rollout.min_healthy_seconds", "5"]);
    assign(&lab, "host1", "loki:all");
    assign(&lab, "host1", "loki:gateway");
    wait_all(&lab);
    rollout_idle(&lab, Duration::from_secs(600));
    let gw = lab.host(1).addr(LOKI_PORT);
    let all = process("loki:all").unit_name();
    let ssd = ["loki:write", "loki:read", "loki:backend"].map(|r| process(r).unit_name());
    let switch = [
        "switch",
        "loki",
        "host1=write,read,backend",
        "host2=write,read,backend",
        "host3=write,read,backend",
    ];
    let plan: ChangePlan = serde_json::from_str(&ctl_ok(
        &lab,
        &[&["-o", "json"][..], &switch, &["--dry-run"]].concat(),
    ))
    .unwrap();
    assert!(
        plan.waves
            .iter()
            .flatten()
            .any(|s| s.host.as_str() == "host1"
                && s.unit == all
                && s.action == ProcessAction::Drain),
        "host1's all process drains: {plan:#?}"
    );

    let (load, took) = roll_under_load(&lab, &[], || {
        let at = plan.intent_index.to_string();
        let wait = ["--check-index", &at, "--wait", "--timeout", "15m"];
        let out = ctl_ok(&lab, &[&switch[..], &wait].concat());
        assert!(out.contains("lgtm-loki.service on host1"), "{out}");
        // --wait returns once every host runs its new processes and the old one is gone.
        for host in ["host1", "host2", "host3"] {
            assert!(out.contains(&format!("{host} applied index")), "{out}");
        }
        assert_eq!(
            show(lab.host(1), &all, "LoadState"),
            "not-found",
            "the all process is gone when --wait returns"
        );
        rollout_idle(&lab, Duration::from_secs(60));
        wait_all(&lab);
    });
    eprintln!(
        "switch of loki from all on host1 to simple-scalable on 3 hosts took {:.0}s; {} pushes, {} queries",
        took.as_secs_f64(),
        load.pushed.len(),
        load.queries
    );
    load.assert_pushed();
    eprintln!(
        "{} of {} queries failed: {:#?}",
        load.query_failures.len(),
        load.queries,
        load.query_failures
    );
    for h in lab.hosts() {
        for unit in &ssd {
            assert_eq!(
                show(h, unit, "ActiveState"),
                "active",
                "{unit} on {}",
                h.name()
            );
        }
    }
    logs_all_there(gw, &load.selector, &load.pushed);
}
