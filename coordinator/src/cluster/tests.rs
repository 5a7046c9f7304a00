//! Tests of the writer: index semantics, durability, recovery, failed commits.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::store::{SqliteStore, Stored};

mod plan;
mod switch;

/// A plan's action, which this coordinator always knows.
fn known<T: Copy>(a: &lgtm_model::wire::Known<T>) -> T {
    *a.known().expect("this build's action")
}

fn h(s: &str) -> HostName {
    s.parse().unwrap()
}

fn register(host: &str, addr: &str) -> Op {
    Op::Register {
        host: h(host),
        address: addr.parse().unwrap(),
        data_root: "/var/lib/lgtm".into(),
    }
}
fn assign(host: &str, role: &str) -> Op {
    Op::Assign {
        host: h(host),
        role: role.into(),
        backend: None,
    }
}

/// Registers `hosts` at 198.18.0.2, .3, ... in order.
async fn register_all(c: &Cluster, hosts: &[&str]) {
    for (n, host) in hosts.iter().enumerate() {
        c.apply(register(host, &format!("198.18.0.{}", n + 2)))
            .await
            .unwrap();
    }
}

/// Records one rollout decision at `now`, as the driver does.
async fn decide(c: &Cluster, now: u64, event: lgtm_model::rollout::Event) {
    let events = vec![event];
    c.apply(Op::Rollout(RolloutOp::Decide { events, now }))
        .await
        .unwrap();
}

/// The permit of a healthy ring member `key`, to restart or (`retire`) to leave.
fn permit_member(
    key: &lgtm_model::rollout::ProcessKey,
    retire: bool,
) -> lgtm_model::rollout::Event {
    lgtm_model::rollout::Event::Permit(lgtm_model::rollout::Permit {
        key: key.clone(),
        stateful: true,
        healthy: true,
        retire,
    })
}

/// A SQLite store that can be told to fail its next commits.
struct Flaky {
    inner: SqliteStore,
    fail: Arc<AtomicBool>,
}

impl Store for Flaky {
    fn load(&mut self) -> Result<Stored, StoreError> {
        self.inner.load()
    }
    fn commit(&mut self, commit: &Commit) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                path: "test".into(),
                source: std::io::Error::other("disk full"),
            });
        }
        self.inner.commit(commit)
    }
}

fn open(dir: &std::path::Path) -> Cluster {
    Cluster::start(Box::new(SqliteStore::open(dir).unwrap()))
        .unwrap()
        .0
}

#[tokio::test]
async fn desired_index_moves_only_when_a_hosts_content_changes() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    // Mimir goes on two hosts: object storage first (settings touch no host yet).
    let base = on_s3(&c, "mimir").await;
    c.apply(register("h1", "198.18.0.2")).await.unwrap();
    let a = c.apply(assign("h1", "mimir:all")).await.unwrap();
    assert_eq!(a.index, base + 2);
    assert_eq!(c.view().desired_index(&h("h1")), Some(base + 2));
    // A Tempo role elsewhere does not touch h1's Mimir config.
    c.apply(register("h2", "198.18.0.3")).await.unwrap();
    c.apply(assign("h2", "tempo:all")).await.unwrap();
    let v = c.view();
    assert_eq!(v.index, base + 4);
    assert_eq!(
        v.desired_index(&h("h1")),
        Some(base + 2),
        "unchanged content keeps its index"
    );
    assert_eq!(v.desired_index(&h("h2")), Some(base + 4));
    // A Mimir role on h2 changes h1's memberlist peers.
    c.apply(assign("h2", "mimir:querier")).await.unwrap();
    assert_eq!(c.view().desired_index(&h("h1")), Some(base + 5));
    // A no-op bumps nothing.
    let again = c.apply(assign("h2", "mimir:querier")).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.index, base + 5);
    assert_eq!(c.view().index, base + 5);
    // Re-registering with the same address is a no-op; a new address moves peers' seeds
    // (no restart) at once, while h2's own processes, which must restart, wait for the
    // rollout's permit.
    assert!(!c.apply(register("h2", "198.18.0.3")).await.unwrap().changed);
    c.apply(register("h2", "198.18.0.9")).await.unwrap();
    let v = c.view();
    assert_eq!(
        (
            v.index,
            v.desired_index(&h("h1")),
            v.desired_index(&h("h2"))
        ),
        (base + 6, Some(base + 6), Some(base + 5))
    );
    let waiting: Vec<String> = v
        .rollout
        .waiting
        .iter()
        .map(|w| w.key.to_string())
        .collect();
    assert_eq!(
        waiting,
        ["lgtm-mimir.service on h2", "lgtm-tempo-all.service on h2"]
    );
    let permit = |w: &lgtm_model::rollout::Waiting| {
        lgtm_model::rollout::Event::Permit(lgtm_model::rollout::Permit {
            key: w.key.clone(),
            stateful: w.stateful,
            healthy: true,
            retire: false,
        })
    };
    let events = v.rollout.waiting.iter().map(permit).collect();
    let a = c
        .apply(Op::Rollout(RolloutOp::Decide { events, now: 100 }))
        .await
        .unwrap();
    assert_eq!(
        c.view().desired_index(&h("h2")),
        Some(base + 5),
        "permitted, not released until the gateways stop routing to it"
    );
    assert!(a.index > base + 6);
    let events = v
        .rollout
        .waiting
        .iter()
        .map(|w| lgtm_model::rollout::Event::Release(w.key.clone()))
        .collect();
    let a = c
        .apply(Op::Rollout(RolloutOp::Decide { events, now: 101 }))
        .await
        .unwrap();
    let v = c.view();
    assert_eq!(v.desired_index(&h("h2")), Some(a.index));
    assert!(v.rollout.waiting.is_empty());
    assert_eq!(v.rollout.machine.steps.len(), 2);
    let rendered = match &v.hosts[&h("h2")].rendered {
        Ok(c) => c.processes[0].config.clone(),
        Err(e) => panic!("{e}"),
    };
    assert!(
        rendered.contains("198.18.0.9"),
        "the permitted config is given"
    );
}

/// Puts `backend` on S3 (a backend on several hosts needs it); the index after.
async fn on_s3(c: &Cluster, backend: &str) -> u64 {
    let mut index = 0;
    for (k, v) in [
        ("storage.s3.endpoint", "http://198.18.0.1:9000"),
        ("storage.s3.bucket", backend),
        ("storage.s3.access_key_id", "lab"),
        ("storage.s3.secret_access_key", "secret"),
        ("storage.backend", "s3"),
    ] {
        let op = Op::Set {
            key: format!("{backend}.{k}"),
            value: v.into(),
            force: false,
        };
        index = c.apply(op).await.unwrap().index;
    }
    index
}

#[tokio::test]
async fn state_and_indexes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (c, writer) = Cluster::start(Box::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
        c.apply(register("h1", "198.18.0.2")).await.unwrap();
        c.apply(assign("h1", "loki:all")).await.unwrap();
        c.apply(assign("h2", "mimir:all")).await.unwrap();
        c.apply(Op::Set {
            key: "loki.log_level".into(),
            value: "warn".into(),
            force: false,
        })
        .await
        .unwrap();
        let v = c.view();
        drop(c);
        writer.join();
        v
    };
    let c = open(dir.path());
    let after = c.view();
    assert_eq!(after.index, before.index, "a clean restart bumps nothing");
    assert_eq!(after.assignments(), before.assignments());
    for host in before.hosts.keys() {
        assert_eq!(
            after.desired_index(host),
            before.desired_index(host),
            "{host}"
        );
        assert_eq!(
            after.desired(host).map(|d| d.ok()),
            before.desired(host).map(|d| d.ok())
        );
    }
    assert_eq!(after.settings.get("loki.log_level").unwrap(), "warn");
    // The index keeps counting from where it was.
    assert_eq!(
        c.apply(assign("h1", "tempo:all")).await.unwrap().index,
        before.index + 1
    );
}

#[tokio::test]
async fn a_failed_commit_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let store = Flaky {
        inner: SqliteStore::open(dir.path()).unwrap(),
        fail: fail.clone(),
    };
    let (c, _w) = Cluster::start(Box::new(store)).unwrap();
    c.apply(register("h1", "198.18.0.2")).await.unwrap();
    fail.store(true, Ordering::SeqCst);
    let e = c.apply(assign("h1", "mimir:all")).await.unwrap_err();
    assert!(matches!(e, ChangeError::Store(_)), "{e}");
    assert_eq!(c.view().index, 1);
    assert!(c.view().hosts[&h("h1")].roles.is_empty());
    fail.store(false, Ordering::SeqCst);
    assert_eq!(c.apply(assign("h1", "mimir:all")).await.unwrap().index, 2);
}

#[tokio::test]
async fn stale_marks_move_to_a_new_index_at_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = SqliteStore::open(dir.path()).unwrap();
        // As a coordinator whose rendering differed would have left it.
        s.commit(&Commit {
            index: 4,
            changes: vec![
                crate::store::Change::PutHost {
                    host: h("h1"),
                    address: Some("198.18.0.2".parse().unwrap()),
                    data_root: Some("/var/lib/lgtm".into()),
                },
                crate::store::Change::AddRole(h("h1"), "mimir:all".parse().unwrap()),
            ],
            marks: vec![(
                h("h1"),
                Mark {
                    index: 4,
                    digest: Some(crate::digest::Digest::of_bytes(b"old rendering")),
                },
            )],
            rollout: None,
        })
        .unwrap();
    }
    let c = open(dir.path());
    assert_eq!(c.view().index, 5);
    assert_eq!(c.view().desired_index(&h("h1")), Some(5));
    drop(c);
    // Now that the mark matches, a second start moves nothing.
    let c = open_after_release(dir.path()).await;
    assert_eq!(c.view().index, 5);
}

/// Opens again once the previous writer thread has released the database.
async fn open_after_release(dir: &std::path::Path) -> Cluster {
    for _ in 0..100 {
        if let Ok(store) = SqliteStore::open(dir) {
            return Cluster::start(Box::new(store)).unwrap().0;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the database stayed locked");
}

#[tokio::test]
async fn render_errors_keep_the_last_good_index_and_warn() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    c.apply(register("h1", "198.18.0.2")).await.unwrap();
    c.apply(assign("h1", "mimir:all")).await.unwrap();
    // Forced: moving a deployed backend's storage is refused otherwise.
    let set = |k: &str, v: &str| Op::Set {
        key: k.into(),
        value: v.into(),
        force: true,
    };
    c.apply(set("mimir.storage.backend", "s3")).await.unwrap();
    let v = c.view();
    assert_eq!(v.desired_index(&h("h1")), Some(2));
    let e = v.desired(&h("h1")).unwrap().unwrap_err().to_string();
    assert!(e.contains("mimir.storage.s3.endpoint is not set"), "{e}");
    let a = c.apply(assign("h1", "mimir:querier")).await.unwrap();
    let Reply::Assigned { warnings, .. } = a.reply else {
        panic!()
    };
    assert!(
        warnings.iter().any(|w| w.contains("cannot be rendered")),
        "{warnings:?}"
    );
    c.apply(set("mimir.storage.backend", "filesystem"))
        .await
        .unwrap();
    let v = c.view();
    assert_eq!(
        v.desired_index(&h("h1")),
        Some(5),
        "healed with new content (querier added)"
    );
    assert!(v.desired(&h("h1")).unwrap().is_ok());
}

/// A change held back by the rollout, a permit in flight and a pause all survive a restart of
/// the coordinator: hosts keep being given what they were given.
#[tokio::test]
async fn the_rollout_survives_a_restart() {
    use lgtm_model::rollout::{Event, Permit};
    let dir = tempfile::tempdir().unwrap();
    let (before, given) = {
        let (c, writer) = Cluster::start(Box::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
        on_s3(&c, "loki").await;
        for (n, host) in ["h1", "h2"].iter().enumerate() {
            c.apply(register(host, &format!("198.18.0.{}", n + 2)))
                .await
                .unwrap();
            c.apply(assign(host, "loki:write")).await.unwrap();
        }
        let set = Op::Set {
            key: "loki.log_level".into(),
            value: "warn".into(),
            force: false,
        };
        c.apply(set).await.unwrap();
        let v = c.view();
        assert_eq!(v.rollout.waiting.len(), 2, "{:?}", v.rollout);
        let first = v.rollout.waiting[0].clone();
        let permit = Event::Permit(Permit {
            key: first.key.clone(),
            stateful: first.stateful,
            healthy: true,
            retire: false,
        });
        let release = Event::Release(first.key.clone());
        let decide = RolloutOp::Decide {
            events: vec![permit, release],
            now: 10,
        };
        c.apply(Op::Rollout(decide)).await.unwrap();
        let pause = RolloutOp::Pause {
            reason: "night".into(),
            now: 11,
        };
        c.apply(Op::Rollout(pause)).await.unwrap();
        let v = c.view();
        let given = v.desired(&h("h2")).unwrap().unwrap();
        drop(c);
        writer.join();
        (v, given)
    };
    let c = open_after_release(dir.path()).await;
    let v = c.view();
    assert_eq!(v.index, before.index, "nothing moved at start");
    assert_eq!(v.rollout.machine, before.rollout.machine);
    assert_eq!(v.rollout.waiting, before.rollout.waiting);
    assert_eq!(v.rollout.waiting.len(), 1);
    assert_eq!(v.desired(&h("h2")).unwrap().unwrap(), given);
    assert!(
        !given.processes[0].config.contains("level: warn"),
        "h2 still runs its old config"
    );
}

/// A released process is given its new config once and for all, also on a host whose
/// gateway is re-rendered by the same decision; while in flight, gateways leave it out.
#[tokio::test]
async fn a_released_process_is_not_held_again_and_gateways_leave_it_out_meanwhile() {
    use lgtm_model::rollout::{Event, Permit};
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    on_s3(&c, "loki").await;
    c.apply(register("h1", "198.18.0.2")).await.unwrap();
    for role in ["loki:write", "loki:read", "loki:backend", "loki:gateway"] {
        c.apply(assign("h1", role)).await.unwrap();
    }
    let write = lgtm_model::process::ProcessId::for_role("loki:write".parse().unwrap());
    c.apply(Op::Ready {
        host: h("h1"),
        ready: lgtm_model::process::processes(&c.view().hosts[&h("h1")].roles)
            .into_keys()
            .collect(),
    })
    .await
    .unwrap();
    let gateway = |c: &Cluster| {
        let v = c.view();
        let content = v.hosts[&h("h1")].rendered.clone().unwrap();
        content.gateway.clone().unwrap().config
    };
    let upstream = format!("198.18.0.2:{}", write.ports().http);
    assert!(gateway(&c).contains(&upstream));
    c.apply(Op::Set {
        key: "loki.log_level".into(),
        value: "warn".into(),
        force: false,
    })
    .await
    .unwrap();
    let v = c.view();
    let w = v
        .rollout
        .waiting
        .iter()
        .find(|w| w.key.process == write)
        .unwrap()
        .clone();
    let decide = |events, now| Op::Rollout(RolloutOp::Decide { events, now });
    let permit = Event::Permit(Permit {
        key: w.key.clone(),
        stateful: true,
        healthy: true,
        retire: false,
    });
    c.apply(decide(vec![permit], 1)).await.unwrap();
    assert!(
        !gateway(&c).contains(&upstream),
        "drained before its restart"
    );
    c.apply(decide(vec![Event::Release(w.key.clone())], 2))
        .await
        .unwrap();
    let v = c.view();
    assert!(
        !v.rollout.waiting.iter().any(|x| x.key == w.key),
        "not held again: {:?}",
        v.rollout.waiting
    );
    let given = v.desired(&h("h1")).unwrap().unwrap();
    let p = given.processes.iter().find(|p| p.id == write).unwrap();
    assert!(p.config.contains("log_level: warn"), "{}", p.config);
    // The step knows which of its host's indexes carries the restart: later changes to the
    // host do not make it look unapplied.
    let step = &v.rollout.machine.steps[0];
    assert_eq!(step.released_at, v.desired_index(&h("h1")));
    assert!(
        !gateway(&c).contains(&upstream),
        "still out while in flight"
    );
    c.apply(decide(vec![Event::Done(w.key.clone())], 3))
        .await
        .unwrap();
    assert!(gateway(&c).contains(&upstream), "back once through");
    assert!(c.view().rollout.machine.steps.is_empty());
}

/// A ring member unassigned without `--force` retires through the rollout: its host keeps
/// running it (held, across a coordinator restart) until the rollout releases its removal;
/// meanwhile the host cannot be removed nor take a role overlapping it, and
/// `unassign-role --force` stops it at once.
#[tokio::test]
async fn an_unassigned_ring_member_retires_through_the_rollout() {
    let ingester = lgtm_model::process::ProcessId::for_role("tempo:ingester".parse().unwrap());
    let runs_ingester = |c: &Cluster, host: &str| {
        c.view()
            .desired(&h(host))
            .unwrap()
            .unwrap()
            .processes
            .iter()
            .any(|p| p.id == ingester)
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, writer) = Cluster::start(Box::new(SqliteStore::open(dir.path()).unwrap())).unwrap();
        on_s3(&c, "tempo").await;
        for (n, host) in ["h1", "h2", "h3"].iter().enumerate() {
            c.apply(register(host, &format!("198.18.0.{}", n + 2)))
                .await
                .unwrap();
            c.apply(assign(host, "tempo:ingester")).await.unwrap();
            c.apply(Op::Ready {
                host: h(host),
                ready: [ingester].into(),
            })
            .await
            .unwrap();
        }
        let unassign = |force| Op::Unassign {
            host: h("h3"),
            role: "tempo:ingester".into(),
            force,
        };
        let a = c.apply(unassign(false)).await.unwrap();
        assert!(matches!(a.reply, Reply::Unassigned { .. }), "{:?}", a.reply);
        assert!(runs_ingester(&c, "h3"), "held until drained");
        let v = c.view();
        let leaving: Vec<(String, bool)> = v
            .rollout
            .waiting
            .iter()
            .filter(|w| w.key.host.as_str() == "h3")
            .map(|w| (w.key.to_string(), w.retire))
            .collect();
        assert_eq!(
            leaving,
            [("lgtm-tempo-ingester.service on h3".to_string(), true)]
        );
        let e = c
            .apply(Op::RemoveHost {
                host: h("h3"),
                force: false,
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("h3 is still draining (lgtm-tempo-ingester.service)"),
            "{e}"
        );
        let e = c
            .apply(assign("h3", "tempo:ingester"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lgtm-tempo-ingester.service on h3 still drains")
                && e.contains("lgtmctl unassign-role h3 tempo:ingester --force"),
            "{e}"
        );
        // A role that does not overlap goes on.
        c.apply(assign("h3", "tempo:querier")).await.unwrap();
        drop(c);
        writer.join();
    }
    let c = open(dir.path());
    assert!(runs_ingester(&c, "h3"), "still held after a restart");
    assert!(c.view().rollout.waiting.iter().any(|w| w.retire));
    let a = c
        .apply(Op::Unassign {
            host: h("h3"),
            role: "tempo:ingester".into(),
            force: true,
        })
        .await
        .unwrap();
    let Reply::Unassigned { warnings, .. } = &a.reply else {
        panic!("{:?}", a.reply)
    };
    assert!(
        warnings[0].contains("its drain is abandoned"),
        "{warnings:?}"
    );
    assert!(!runs_ingester(&c, "h3"), "stopped at once");
    assert!(c.view().rollout.waiting.iter().all(|w| !w.retire));
    assert!(runs_ingester(&c, "h1"), "others untouched");
}

/// A third write host raises Loki's replication from 1 to 3: while the first two still run
/// replication 1 (held for their restart), the gateway sends writes only to the one on 3
/// once it is ready, and to each again once it restarted on 3.
#[tokio::test]
async fn gateways_prefer_processes_on_the_new_replication_factor() {
    use lgtm_model::process::{ProcessId, processes};
    use lgtm_model::rollout::{Event, ProcessKey};
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    on_s3(&c, "loki").await;
    register_all(&c, &["h1", "h2", "h3"]).await;
    for role in ["loki:write", "loki:read", "loki:backend", "loki:gateway"] {
        c.apply(assign("h1", role)).await.unwrap();
    }
    c.apply(assign("h2", "loki:write")).await.unwrap();
    let ready = |host: &str| Op::Ready {
        host: h(host),
        ready: processes(&c.view().hosts[&h(host)].roles)
            .into_keys()
            .collect(),
    };
    for host in ["h1", "h2"] {
        c.apply(ready(host)).await.unwrap();
    }
    plan::settle(&c).await;
    let write = ProcessId::for_role("loki:write".parse().unwrap());
    let routed = |c: &Cluster| -> Vec<String> {
        let v = c.view();
        let content = v.hosts[&h("h1")].rendered.clone().unwrap();
        let conf = content.gateway.clone().unwrap().config;
        ["198.18.0.2", "198.18.0.3", "198.18.0.4"]
            .into_iter()
            .filter(|a| conf.contains(&format!("server {a}:{} ", write.ports().http)))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(routed(&c), ["198.18.0.2", "198.18.0.3"]);

    c.apply(assign("h3", "loki:write")).await.unwrap();
    assert_eq!(
        routed(&c),
        ["198.18.0.2", "198.18.0.3"],
        "nothing on replication 3 is ready yet"
    );
    c.apply(ready("h3")).await.unwrap();
    assert_eq!(
        routed(&c),
        ["198.18.0.4"],
        "only what writes with quorum 2 of 3"
    );

    // h1's write restarts on replication 3 and is through: it takes writes again.
    let key = ProcessKey {
        host: h("h1"),
        process: write,
    };
    decide(&c, 1, permit_member(&key, false)).await;
    decide(&c, 2, Event::Release(key.clone())).await;
    decide(&c, 3, Event::Done(key)).await;
    assert_eq!(routed(&c), ["198.18.0.2", "198.18.0.4"]);
}

/// Operations taken from the queue together are one change: one index for all, each its own
/// answer, a refused one leaving nothing; the cluster ends as applying them one by one
/// leaves it, and so does the store.
#[tokio::test]
async fn operations_arriving_together_are_one_change() {
    let ops = vec![
        register("a", "198.18.0.2"),
        register("b", "198.18.0.3"),
        assign("a", "loki:all"),
        assign("b", "loki:nonsense"),
        assign("b", "mimir:all"),
        assign("b", "tempo:all"),
        Op::Ready {
            host: h("a"),
            ready: BTreeSet::new(),
        },
    ];
    let refused = 3;
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let stored = store.load().unwrap();
    let mut core = Core::recover(Box::new(store), stored).unwrap();
    let mut answers = Vec::new();
    let jobs = ops
        .iter()
        .map(|op| {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            Job::Apply {
                op: op.clone(),
                expect: None,
                reply,
            }
        })
        .collect();
    for a in core.work(jobs) {
        a.reply.send(a.result).unwrap();
    }
    for (i, mut answer) in answers.into_iter().enumerate() {
        let result = answer.try_recv().unwrap();
        if i == refused {
            assert!(matches!(result, Err(ChangeError::Role(_))), "{result:?}");
        } else {
            let applied = result.unwrap();
            assert_eq!((applied.index, applied.changed), (1, true), "{}", ops[i]);
        }
    }
    let batched = core.view();
    drop(core);

    let one_by_one = tempfile::tempdir().unwrap();
    let c = open(one_by_one.path());
    for op in ops {
        let _ = c.apply(op).await;
    }
    assert_eq!(c.view().hosts[&h("a")].ready, batched.hosts[&h("a")].ready);
    // Readiness is not stored: agents report it again.
    let reopened = open(dir.path());
    for view in [&c.view(), &reopened.view()] {
        assert_eq!(view.assignments(), batched.assignments());
        for host in batched.hosts.keys() {
            let content = |v: &View| v.desired(host).map(|d| d.map(|d| (d.processes, d.gateway)));
            assert_eq!(content(view), content(&batched), "{host}");
        }
    }
}
