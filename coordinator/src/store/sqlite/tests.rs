//! Tests of the SQLite store against real database files in temporary directories.

use super::*;

fn h(s: &str) -> HostName {
    s.parse().unwrap()
}
fn r(s: &str) -> Role {
    s.parse().unwrap()
}
fn mark(index: u64, d: &[u8]) -> Mark {
    Mark {
        index,
        digest: Some(Digest::of_bytes(d)),
    }
}

fn sample_commit() -> Commit {
    Commit {
        index: 1,
        changes: vec![
            Change::PutHost {
                host: h("h1"),
                address: Some("198.18.0.2".parse().unwrap()),
                data_root: Some("/var/lib/lgtm".into()),
            },
            Change::PutHost {
                host: h("h2"),
                address: None,
                data_root: None,
            },
            Change::AddRole(h("h1"), r("mimir:ingester")),
            Change::AddRole(h("h1"), r("loki:all")),
            Change::AddRole(h("h2"), r("tempo:querier")),
            Change::PutSetting("mimir.log_level".into(), "debug".into()),
            Change::PutSecret("mimir.storage.s3.secret_access_key".into(), "s3cr3t".into()),
        ],
        marks: vec![
            (h("h1"), mark(1, b"a")),
            (
                h("h2"),
                Mark {
                    index: 1,
                    digest: None,
                },
            ),
        ],
        rollout: Some(r#"{"steps":[],"paused":null}"#.into()),
    }
}

#[test]
fn commits_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.load().unwrap(), Stored::default());
        s.commit(&sample_commit()).unwrap();
    }
    let mut s = SqliteStore::open(dir.path()).unwrap();
    let got = s.load().unwrap();
    assert_eq!(got.index, 1);
    let h1 = &got.hosts[&h("h1")];
    assert_eq!(h1.address, Some("198.18.0.2".parse().unwrap()));
    assert_eq!(h1.roles, vec![r("mimir:ingester"), r("loki:all")]);
    assert_eq!(h1.mark, Some(mark(1, b"a")));
    assert_eq!(got.hosts[&h("h2")].address, None);
    assert_eq!(got.hosts[&h("h2")].mark.unwrap().digest, None);
    assert_eq!(got.settings["mimir.log_level"], "debug");
    assert_eq!(got.secrets["mimir.storage.s3.secret_access_key"], "s3cr3t");
    assert_eq!(got.rollout, sample_commit().rollout);
    assert_eq!(got.intent_index, 1);
}

/// Only commits that change hosts, roles or settings move the intent index.
#[test]
fn the_intent_index_follows_intent_changes_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(dir.path()).unwrap();
    s.commit(&sample_commit()).unwrap();
    s.commit(&Commit {
        index: 2,
        changes: Vec::new(),
        marks: vec![(h("h1"), mark(2, b"b"))],
        rollout: Some(r#"{"steps":[],"paused":null}"#.into()),
    })
    .unwrap();
    let got = s.load().unwrap();
    assert_eq!((got.index, got.intent_index), (2, 1));
    s.commit(&Commit {
        index: 3,
        changes: vec![Change::PutSetting("loki.log_level".into(), "warn".into())],
        marks: Vec::new(),
        rollout: None,
    })
    .unwrap();
    let got = s.load().unwrap();
    assert_eq!((got.index, got.intent_index), (3, 3));
}

#[test]
fn upsert_keeps_roles_and_delete_cascades() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(dir.path()).unwrap();
    s.commit(&sample_commit()).unwrap();
    s.commit(&Commit {
        index: 2,
        changes: vec![
            Change::PutHost {
                host: h("h1"),
                address: Some("198.18.0.9".parse().unwrap()),
                data_root: Some("/srv".into()),
            },
            Change::RemoveRole(h("h1"), r("loki:all")),
            Change::DeleteHost(h("h2")),
            Change::DeleteSecret("mimir.storage.s3.secret_access_key".into()),
        ],
        marks: vec![(h("h1"), mark(2, b"b"))],
        rollout: None,
    })
    .unwrap();
    let got = s.load().unwrap();
    assert_eq!(got.index, 2);
    assert_eq!(got.hosts.len(), 1);
    let h1 = &got.hosts[&h("h1")];
    assert_eq!(
        h1.roles,
        vec![r("mimir:ingester")],
        "roles survive an upsert"
    );
    assert_eq!(h1.data_root.as_deref(), Some("/srv"));
    assert_eq!(h1.mark, Some(mark(2, b"b")));
    assert!(got.secrets.is_empty());
    let orphans: u64 = s
        .conn
        .query_row(
            "SELECT (SELECT count(*) FROM roles WHERE host = 'h2') + (SELECT count(*) FROM desired WHERE host = 'h2')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
}

#[test]
fn index_never_goes_back_and_a_failed_commit_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(dir.path()).unwrap();
    s.commit(&sample_commit()).unwrap();
    let before = s.load().unwrap();
    let mut again = sample_commit();
    again
        .changes
        .push(Change::PutSetting("x".into(), "y".into()));
    let e = s.commit(&again).unwrap_err();
    assert!(
        matches!(e, StoreError::IndexNotAdvancing { new: 1, stored: 1 }),
        "{e}"
    );
    assert_eq!(s.load().unwrap(), before);
}

#[test]
fn an_old_schema_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open_at(dir.path(), 1).unwrap();
        assert_eq!(migrations::version(&s.conn).unwrap(), 1);
        s.conn
            .execute_batch(
                "UPDATE cluster_index SET value = 7;
                 INSERT INTO hosts VALUES ('h1', '198.18.0.2', '/var/lib/lgtm');
                 INSERT INTO roles VALUES ('h1', 'mimir:all');",
            )
            .unwrap();
    }
    let mut s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(migrations::version(&s.conn).unwrap(), latest());
    let got = s.load().unwrap();
    assert_eq!(got.index, 7);
    let h1 = &got.hosts[&h("h1")];
    assert_eq!(h1.roles, vec![r("mimir:all")]);
    assert_eq!(
        h1.mark, None,
        "hosts from before bookkeeping have no mark yet"
    );
    s.commit(&Commit {
        index: 8,
        changes: vec![],
        marks: vec![(h("h1"), mark(8, b"x"))],
        rollout: None,
    })
    .unwrap();
    assert_eq!(s.load().unwrap().hosts[&h("h1")].mark, Some(mark(8, b"x")));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        s.conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let e = SqliteStore::open(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("schema version 99") && e.contains("newer"),
        "{e}"
    );
}

#[test]
fn corrupt_rows_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(dir.path()).unwrap();
    s.conn
        .execute_batch(
            "INSERT INTO hosts VALUES ('h1', NULL, NULL);
             INSERT INTO roles VALUES ('h1', 'mimir:nope');",
        )
        .unwrap();
    let e = s.load().unwrap_err().to_string();
    assert!(e.contains("role 'mimir:nope' of host h1"), "{e}");
}

#[test]
fn files_are_private_and_the_directory_is_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut s = SqliteStore::open(&state).unwrap();
    s.commit(&sample_commit()).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(DB_FILE)), 0o600);
    let wal = state.join(format!("{DB_FILE}-wal"));
    assert!(wal.exists(), "WAL mode");
    assert_eq!(mode(&wal), 0o600);
    // A second coordinator on the same state directory must not start.
    let second = SqliteStore::open(&state).and_then(|mut t| t.load());
    assert!(
        matches!(second, Err(StoreError::Locked { .. })),
        "the state directory is locked: {second:?}"
    );
    drop(s);
    assert!(SqliteStore::open(&state).unwrap().load().is_ok());
}
