//! The credential database: one table of hashed tokens, schema versioned by `user_version`.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, params};

use super::token::Kind;
use super::{Cred, CredentialError};

/// The database file inside the state directory.
pub const DB_FILE: &str = "credentials.db";

/// Migrations in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: hashed tokens.
    "CREATE TABLE credentials (
         id TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         hash BLOB NOT NULL UNIQUE,
         host TEXT,
         created_at INTEGER NOT NULL,
         expires_at INTEGER,
         revoked INTEGER NOT NULL DEFAULT 0
     ) WITHOUT ROWID;",
];

/// Opens and migrates the database; the file is created mode 0600.
pub fn open(state_dir: &Path) -> Result<(Connection, String), CredentialError> {
    let file = state_dir.join(DB_FILE);
    let path = file.display().to_string();
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&file)
        .map_err(|source| CredentialError::Io {
            path: path.clone(),
            source,
        })?;
    let err = |source| CredentialError::Sqlite {
        path: path.clone(),
        source,
    };
    let mut conn = Connection::open(&file).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    let tx = conn.transaction().map_err(err)?;
    let found: u32 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok((conn, path))
}

/// Every credential stored.
pub fn load(conn: &Connection, path: &str) -> Result<Vec<Cred>, CredentialError> {
    let err = |source| CredentialError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare("SELECT id, kind, hash, host, expires_at, revoked FROM credentials")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })
        .map_err(err)?;
    let mut all = Vec::new();
    for row in rows {
        let (id, kind, hash, host, expires_at, revoked) = row.map_err(err)?;
        let kind = Kind::parse(&kind).ok_or(CredentialError::UnknownKind(kind))?;
        // A row this version cannot read grants nothing.
        let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) else {
            continue;
        };
        let host = match host.map(|h| h.parse()) {
            None => None,
            Some(Ok(h)) => Some(h),
            Some(Err(_)) => continue,
        };
        all.push(Cred {
            id,
            kind,
            hash,
            host,
            expires_at: expires_at.map(|e| e.max(0) as u64),
            revoked,
        });
    }
    Ok(all)
}

/// Stores one new credential.
pub fn insert(conn: &Connection, path: &str, c: &Cred) -> Result<(), CredentialError> {
    conn.execute(
        "INSERT INTO credentials (id, kind, hash, host, created_at, expires_at, revoked)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
        params![
            c.id,
            c.kind.as_str(),
            c.hash.as_slice(),
            c.host.as_ref().map(|h| h.as_str()),
            super::now() as i64,
            c.expires_at.map(|e| e as i64),
        ],
    )
    .map(drop)
    .map_err(|source| CredentialError::Sqlite {
        path: path.to_owned(),
        source,
    })
}

/// Marks credentials revoked, all or none.
pub fn revoke(conn: &mut Connection, path: &str, ids: &[String]) -> Result<(), CredentialError> {
    let err = |source| CredentialError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let tx = conn.transaction().map_err(err)?;
    for id in ids {
        tx.execute("UPDATE credentials SET revoked = 1 WHERE id = ?1", [id])
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}
