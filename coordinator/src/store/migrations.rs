//! The SQLite schema as an ordered list of migrations; `PRAGMA user_version` is the schema version.
//!
//! A database at version N gets migrations N+1.. applied in one transaction at open. Never
//! edit a released migration: append a new one.

use rusqlite::{Connection, TransactionBehavior};

/// Migrations in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: cluster intent and the cluster index.
    "CREATE TABLE cluster_index (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         value INTEGER NOT NULL
     );
     INSERT INTO cluster_index (id, value) VALUES (1, 0);
     CREATE TABLE hosts (
         name TEXT PRIMARY KEY,
         address TEXT,
         data_root TEXT
     ) WITHOUT ROWID;
     CREATE TABLE roles (
         host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,
         role TEXT NOT NULL,
         PRIMARY KEY (host, role)
     ) WITHOUT ROWID;
     CREATE TABLE settings (
         key TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE secrets (
         key TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) WITHOUT ROWID;",
    // 2: per-host desired-state bookkeeping, so indexes survive restarts.
    "CREATE TABLE desired (
         host TEXT PRIMARY KEY REFERENCES hosts(name) ON DELETE CASCADE,
         idx INTEGER NOT NULL,
         digest TEXT
     ) WITHOUT ROWID;",
    // 3: the rollout's decisions and the configs it holds back (may contain secrets).
    "CREATE TABLE rollout (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         state TEXT NOT NULL
     );",
    // 4: the index of the last change to the intent, which `check_index` compares.
    "ALTER TABLE cluster_index ADD COLUMN intent INTEGER NOT NULL DEFAULT 0;",
];

/// The schema version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// The database's schema version.
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Applies migrations after the current version up to `target`, all in one transaction.
///
/// Returns the version found before migrating. A version above `target` is left alone;
/// the caller decides whether that is an error.
pub fn migrate_to(conn: &mut Connection, target: u32) -> rusqlite::Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(found as usize)
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
    }
    tx.commit()?;
    Ok(found)
}
