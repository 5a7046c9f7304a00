//! Switches: a backend's roles placed anew in one change, staged by the rollout, and the
//! switches refused because they would leave data behind.

use lgtm_model::Backend;
use lgtm_model::rollout::{Event, ProcessKey};
use lgtm_model::wire::ProcessAction;

use super::*;

fn switch(backend: Backend, hosts: &[(&str, &[&str])]) -> Op {
    Op::Switch {
        backend,
        hosts: hosts
            .iter()
            .map(|(host, roles)| (h(host), roles.iter().map(|r| (*r).to_owned()).collect()))
            .collect(),
    }
}

/// The units a host is given now.
fn units(c: &Cluster, host: &str) -> Vec<String> {
    let v = c.view();
    let mut units: Vec<String> = v.hosts[&h(host)]
        .rendered
        .as_ref()
        .unwrap()
        .processes
        .iter()
        .map(|p| p.id.unit_name())
        .collect();
    units.sort();
    units
}

const SSD: &[&str] = &["write", "read", "backend"];
const SSD_UNITS: [&str; 3] = [
    "lgtm-loki-backend.service",
    "lgtm-loki-read.service",
    "lgtm-loki-write.service",
];

/// `loki:all` on h1 to simple-scalable on h1..h3: h2's and h3's processes start at once,
/// h1's `all` process keeps running until it retired (flushed, out of its rings), and only
/// then does h1 get its new processes, which would join the same rings under its name.
#[tokio::test]
async fn a_switch_starts_new_processes_first_and_clashing_ones_once_the_old_one_left() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    on_s3(&c, "loki").await;
    register_all(&c, &["h1", "h2", "h3"]).await;
    c.apply(assign("h1", "loki:all")).await.unwrap();
    c.apply(assign("h1", "loki:gateway")).await.unwrap();
    let all = ProcessId::for_role("loki:all".parse().unwrap());
    c.apply(Op::Ready {
        host: h("h1"),
        ready: [all].into(),
    })
    .await
    .unwrap();

    let op = switch(Backend::Loki, &[("h1", SSD), ("h2", SSD), ("h3", SSD)]);
    // The dry run says what applying does: h1's new processes wait for its `all` to drain.
    let plan = c.plan(op.clone()).await.unwrap();
    let actions = |host: &str| -> Vec<(String, ProcessAction)> {
        let p = plan.hosts.iter().find(|p| p.host == h(host)).unwrap();
        p.processes
            .iter()
            .map(|p| (p.unit.clone(), known(&p.action)))
            .collect()
    };
    let units_doing = |a: ProcessAction| SSD_UNITS.map(|u| (u.to_owned(), a)).to_vec();
    let mut h1 = units_doing(ProcessAction::StartAfterDrain);
    h1.push(("lgtm-loki.service".to_owned(), ProcessAction::Drain));
    h1.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(actions("h1"), h1);
    assert_eq!(actions("h2"), units_doing(ProcessAction::Start));
    let a = c.apply(op).await.unwrap();
    let Reply::Switched { hosts, .. } = &a.reply else {
        panic!("{:?}", a.reply)
    };
    let roles = |rs: &[&str]| -> Vec<lgtm_model::Role> {
        let mut v: Vec<lgtm_model::Role> = rs.iter().map(|r| r.parse().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(
        hosts[&h("h1")],
        roles(&["loki:write", "loki:read", "loki:backend", "loki:gateway"]),
        "the gateway stays"
    );
    assert_eq!(
        hosts[&h("h3")],
        roles(&["loki:write", "loki:read", "loki:backend"])
    );
    assert_eq!(
        units(&c, "h1"),
        ["lgtm-loki.service"],
        "held, nothing new yet"
    );
    assert_eq!(units(&c, "h2"), SSD_UNITS);
    assert_eq!(units(&c, "h3"), SSD_UNITS);
    let v = c.view();
    let waiting: Vec<(String, bool)> = v
        .rollout
        .waiting
        .iter()
        .map(|w| (w.key.to_string(), w.retire))
        .collect();
    assert_eq!(waiting, [("lgtm-loki.service on h1".to_owned(), true)]);
    let routed_to_all = |c: &Cluster| {
        let v = c.view();
        let conf = v.hosts[&h("h1")].rendered.as_ref().unwrap().gateway.clone();
        conf.unwrap()
            .config
            .contains(&format!("server 198.18.0.2:{} ", all.ports().http))
    };
    assert!(
        routed_to_all(&c),
        "the gateway keeps the all process while the new ones are not ready"
    );

    // The rollout lets it retire: permitted, flushed and out of its rings, released.
    let key = ProcessKey {
        host: h("h1"),
        process: all,
    };
    decide(&c, 1, permit_member(&key, true)).await;
    assert_eq!(units(&c, "h1"), ["lgtm-loki.service"], "flushing");
    assert!(!routed_to_all(&c), "drained from the gateway first");
    decide(&c, 2, Event::Release(key.clone())).await;
    assert_eq!(units(&c, "h1"), SSD_UNITS, "gone: h1's new processes start");
    decide(&c, 3, Event::Done(key)).await;
    let v = c.view();
    assert!(v.rollout.waiting.is_empty() && v.rollout.machine.is_idle());
}

/// A switch that would strand data on a host's filesystem, or names nothing sensible, is
/// refused with what to do instead, and changes nothing.
#[tokio::test]
async fn switches_that_would_leave_data_behind_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    register_all(&c, &["h1", "h2"]).await;
    c.apply(assign("h1", "loki:all")).await.unwrap();
    let before = c.view().index;
    let cases: Vec<(Op, &str)> = vec![
        (
            switch(Backend::Loki, &[("h2", &["all"])]),
            "loki keeps its data on the local filesystem of h1; placing it on h2 instead would leave that data behind",
        ),
        (
            switch(Backend::Loki, &[("h1", SSD), ("h2", SSD)]),
            "local filesystem, which only works on a single host; switch it on one host, or set loki.storage.backend to s3 first",
        ),
        (
            switch(Backend::Loki, &[]),
            "name at least one (HOST=ROLE,...)",
        ),
        (
            switch(Backend::Loki, &[("h1", &["gateway"])]),
            "h1=gateway: gateways are not part of a switch",
        ),
        (
            switch(Backend::Loki, &[("h1", &["all", "write"])]),
            "would clash",
        ),
        (
            switch(Backend::Loki, &[("h9", SSD)]),
            "host h9 is not known",
        ),
        (
            switch(Backend::Loki, &[("h1", &["tempo:ingester"])]),
            "tempo",
        ),
    ];
    for (op, want) in cases {
        let e = c.apply(op.clone()).await.unwrap_err().to_string();
        assert!(e.contains(want), "{op}: {e}");
    }
    assert_eq!(c.view().index, before, "nothing applied");
    // On the host that has the data, the switch goes through.
    c.apply(switch(Backend::Loki, &[("h1", SSD)]))
        .await
        .unwrap();
    assert_eq!(units(&c, "h1"), ["lgtm-loki.service"], "retiring first");
}
