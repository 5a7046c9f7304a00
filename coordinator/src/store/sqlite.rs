//! The SQLite [`Store`]: one file in the state directory, WAL, `synchronous=FULL`.
//!
//! The connection holds an exclusive lock for its whole life, so two coordinators can never
//! share a state directory. The file is mode 0600: it holds secrets.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lgtm_model::{HostName, Role};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::migrations::{self, latest};
use super::{Change, Commit, Mark, Store, StoreError, Stored, StoredHost};
use crate::digest::Digest;

/// The database file name inside the state directory.
pub const DB_FILE: &str = "coordinator.db";

/// How long to wait for a lock held by someone else (an operator's `sqlite3`, a previous instance).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Cluster state in SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `state_dir` and migrates it to the latest schema.
    pub fn open(state_dir: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_at(state_dir, latest())
    }

    /// Opens the database and migrates it to schema `target` (tests of upgrades use older ones).
    fn open_at(state_dir: &Path, target: u32) -> Result<SqliteStore, StoreError> {
        let path = state_dir.join(DB_FILE);
        prepare_files(state_dir, &path)?;
        let shown = path.display().to_string();
        let err = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) => StoreError::Locked {
                path: shown.clone(),
            },
            _ => StoreError::Sqlite {
                path: shown.clone(),
                source,
            },
        };
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                path: shown,
                what: format!("journal mode '{mode}' (WAL could not be enabled)"),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        let found = migrations::migrate_to(&mut conn, target).map_err(err)?;
        if found > latest() {
            return Err(StoreError::NewerSchema {
                path: shown,
                found,
                known: latest(),
            });
        }
        Ok(SqliteStore { conn, path })
    }

    fn sql_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn corrupt(&self, what: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.display().to_string(),
            what,
        }
    }
}

/// Creates the state directory (0700) and the database file (0600) before SQLite touches them;
/// SQLite gives its WAL and shared-memory files the database file's mode.
fn prepare_files(state_dir: &Path, db: &Path) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| StoreError::Io { path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(io(state_dir))?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(db)
        .map_err(io(db))?;
    fs::set_permissions(db, Permissions::from_mode(0o600)).map_err(io(db))
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Stored, StoreError> {
        let err = self.sql_err();
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        let (index, intent_index): (u64, u64) = tx
            .query_row(
                "SELECT value, intent FROM cluster_index WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&err)?;
        let rows = |sql: &str| -> Result<Vec<Vec<Option<String>>>, StoreError> {
            let mut stmt = tx.prepare(sql).map_err(&err)?;
            let n = stmt.column_count();
            let out = stmt
                .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                .map_err(&err)?
                .collect::<Result<_, _>>()
                .map_err(&err)?;
            Ok(out)
        };
        let hosts = rows("SELECT name, address, data_root FROM hosts ORDER BY name")?;
        let roles = rows("SELECT host, role FROM roles ORDER BY host, role")?;
        let settings = rows("SELECT key, value FROM settings ORDER BY key")?;
        let secrets = rows("SELECT key, value FROM secrets ORDER BY key")?;
        let marks: Vec<(String, u64, Option<String>)> = {
            let mut stmt = tx
                .prepare("SELECT host, idx, digest FROM desired")
                .map_err(&err)?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(&err)?
                .collect::<Result<_, _>>()
                .map_err(&err)?
        };
        let rollout: Option<String> = tx
            .query_row("SELECT state FROM rollout WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(&err)?;
        drop(tx);
        let mut stored = self.assemble(index, hosts, roles, marks, settings, secrets)?;
        stored.rollout = rollout;
        stored.intent_index = intent_index;
        Ok(stored)
    }

    fn commit(&mut self, commit: &Commit) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let moved = tx
            .execute(
                "UPDATE cluster_index SET value = ?1 WHERE id = 1 AND value < ?1",
                params![commit.index],
            )
            .map_err(err)?;
        if moved != 1 {
            let stored = tx
                .query_row("SELECT value FROM cluster_index WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(err)?
                .unwrap_or(0);
            return Err(StoreError::IndexNotAdvancing {
                new: commit.index,
                stored,
            });
        }
        for change in &commit.changes {
            apply(&tx, change).map_err(err)?;
        }
        if !commit.changes.is_empty() {
            tx.execute(
                "UPDATE cluster_index SET intent = ?1 WHERE id = 1",
                params![commit.index],
            )
            .map_err(err)?;
        }
        for (host, mark) in &commit.marks {
            tx.execute(
                "INSERT INTO desired (host, idx, digest) VALUES (?1, ?2, ?3)
                 ON CONFLICT(host) DO UPDATE SET idx = excluded.idx, digest = excluded.digest",
                params![host.as_str(), mark.index, mark.digest.map(Digest::to_hex)],
            )
            .map_err(err)?;
        }
        if let Some(state) = &commit.rollout {
            tx.execute(
                "INSERT INTO rollout (id, state) VALUES (1, ?1)
                 ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                params![state],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}

fn apply(tx: &rusqlite::Transaction<'_>, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::PutHost {
            host,
            address,
            data_root,
        } => {
            // An upsert, never REPLACE: REPLACE deletes the row and cascades to its roles.
            tx.execute(
                "INSERT INTO hosts (name, address, data_root) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET address = excluded.address, data_root = excluded.data_root",
                params![host.as_str(), address.map(|a| a.to_string()), data_root],
            )?;
        }
        Change::DeleteHost(host) => {
            tx.execute("DELETE FROM hosts WHERE name = ?1", [host.as_str()])?;
        }
        Change::AddRole(host, role) => {
            tx.execute(
                "INSERT OR IGNORE INTO roles (host, role) VALUES (?1, ?2)",
                params![host.as_str(), role.to_string()],
            )?;
        }
        Change::RemoveRole(host, role) => {
            tx.execute(
                "DELETE FROM roles WHERE host = ?1 AND role = ?2",
                params![host.as_str(), role.to_string()],
            )?;
        }
        Change::PutSetting(key, value) => {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        Change::PutSecret(key, value) => {
            tx.execute(
                "INSERT INTO secrets (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        Change::DeleteSecret(key) => {
            tx.execute("DELETE FROM secrets WHERE key = ?1", [key])?;
        }
    }
    Ok(())
}

type Rows = Vec<Vec<Option<String>>>;

impl SqliteStore {
    /// Turns raw rows into typed state; any row that does not parse is reported, not skipped.
    fn assemble(
        &self,
        index: u64,
        hosts: Rows,
        roles: Rows,
        marks: Vec<(String, u64, Option<String>)>,
        settings: Rows,
        secrets: Rows,
    ) -> Result<Stored, StoreError> {
        let host_name = |s: Option<String>| -> Result<HostName, StoreError> {
            let s = s.unwrap_or_default();
            s.parse()
                .map_err(|e| self.corrupt(format!("host name '{}': {e}", s.escape_debug())))
        };
        let mut out = Stored {
            index,
            ..Stored::default()
        };
        for row in hosts {
            let mut row = row.into_iter();
            let name = host_name(row.next().flatten())?;
            let address = match row.next().flatten() {
                Some(a) => Some(a.parse().map_err(|_| {
                    self.corrupt(format!("address '{}' of host {name}", a.escape_debug()))
                })?),
                None => None,
            };
            let data_root = row.next().flatten();
            out.hosts.insert(
                name,
                StoredHost {
                    address,
                    data_root,
                    ..StoredHost::default()
                },
            );
        }
        for row in roles {
            let mut row = row.into_iter();
            let name = host_name(row.next().flatten())?;
            let text = row.next().flatten().unwrap_or_default();
            let role: Role = text.parse().map_err(|e| {
                self.corrupt(format!(
                    "role '{}' of host {name}: {e}",
                    text.escape_debug()
                ))
            })?;
            let host = out
                .hosts
                .get_mut(&name)
                .ok_or_else(|| self.corrupt(format!("role {role} of unknown host {name}")))?;
            host.roles.push(role);
        }
        for (name, idx, digest) in marks {
            let name = host_name(Some(name))?;
            let digest = match digest {
                Some(hex) => Some(Digest::from_hex(&hex).ok_or_else(|| {
                    self.corrupt(format!("digest '{}' of host {name}", hex.escape_debug()))
                })?),
                None => None,
            };
            if let Some(host) = out.hosts.get_mut(&name) {
                host.mark = Some(Mark { index: idx, digest });
            }
        }
        for host in out.hosts.values_mut() {
            host.roles.sort();
        }
        out.settings = pairs(settings);
        out.secrets = pairs(secrets);
        Ok(out)
    }
}

fn pairs(rows: Rows) -> BTreeMap<String, String> {
    rows.into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            Some((
                row.next().flatten()?,
                row.next().flatten().unwrap_or_default(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
