//! Tests of the writer: index semantics, durability, recovery, failed commits.

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::store::{SqliteStore, Stored};

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
    let set = |k: &str, v: &str| Op::Set {
        key: k.into(),
        value: v.into(),
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
        };
        c.apply(set).await.unwrap();
        let v = c.view();
        assert_eq!(v.rollout.waiting.len(), 2, "{:?}", v.rollout);
        let first = v.rollout.waiting[0].clone();
        let permit = Event::Permit(Permit {
            key: first.key.clone(),
            stateful: first.stateful,
            healthy: true,
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
