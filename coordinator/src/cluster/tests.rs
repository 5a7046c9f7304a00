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
    // Re-registering with the same address is a no-op; a new address moves peers too.
    assert!(!c.apply(register("h2", "198.18.0.3")).await.unwrap().changed);
    c.apply(register("h2", "198.18.0.9")).await.unwrap();
    let v = c.view();
    assert_eq!(
        (
            v.index,
            v.desired_index(&h("h1")),
            v.desired_index(&h("h2"))
        ),
        (base + 6, Some(base + 6), Some(base + 6))
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
