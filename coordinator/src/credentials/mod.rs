//! Credentials: the admin and read-only tokens, join tokens and per-host tokens.
//!
//! Only SHA-256 hashes of tokens are stored, in `credentials.db` in the state directory (its
//! own file: the cluster database is locked exclusively by the store thread, and credentials
//! are not cluster intent). Every credential is also kept in memory, found by the hash of the
//! token presented.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lgtm_model::HostName;
use rusqlite::Connection;

mod db;
mod files;
pub mod token;

pub use files::{ADMIN_TOKEN_FILE, CREDENTIALS_DIR, READ_TOKEN_FILE};
use token::{Kind, TokenHash};

/// Default lifetime of a join token.
pub const DEFAULT_JOIN_TTL: Duration = Duration::from_secs(3600);
/// Longest lifetime of a join token.
pub const MAX_JOIN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Who a request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An operator allowed everything.
    Admin,
    /// An operator allowed to read.
    Read,
    /// A join token, by id.
    Join(String),
    /// A host's agent.
    Host(HostName),
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no credential given; send 'Authorization: Bearer <token>' (lgtmctl: set LGTM_TOKEN or --credentials FILE)"
    )]
    Missing,
    #[error("the credential is not known to this coordinator; use a token it issued")]
    Unknown,
    #[error("the {kind} credential {id} has expired; create a new one (lgtmctl join-token create)")]
    Expired {
        /// Its kind.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    #[error("the {kind} credential {id} was revoked; {fix}")]
    Revoked {
        /// Its kind.
        kind: &'static str,
        /// Its id.
        id: String,
        /// What to do.
        fix: &'static str,
    },
}

/// Why the credential store failed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("credential database {path}")]
    Sqlite {
        /// The file.
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to write {path}")]
    Io {
        /// The file.
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the database holds credential kind '{0}', unknown to this version")]
    UnknownKind(String),
    #[error(
        "host {0} already has a live credential; remove the host first (lgtmctl host remove {0}) to join it again"
    )]
    HostHasCredential(HostName),
    #[error("no join token with id '{0}'; lgtmctl join-token create prints the id")]
    NoSuchJoinToken(String),
}

/// One stored credential.
#[derive(Clone, Debug)]
struct Cred {
    id: String,
    kind: Kind,
    hash: TokenHash,
    host: Option<HostName>,
    expires_at: Option<u64>,
    revoked: bool,
}

/// The credential store.
#[derive(Debug)]
pub struct Credentials {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    path: String,
    all: Vec<Cred>,
    /// Position in `all` by token hash: every request authenticates, so the lookup must not
    /// grow with the fleet. Looking up a SHA-256 of a 256-bit random token by its value
    /// reveals nothing usable about another token through timing.
    by_hash: HashMap<TokenHash, usize>,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Credentials {
    /// Opens (creating) the credential database in `state_dir`, and on first start creates the
    /// admin and read-only tokens in `<state_dir>/credentials/`.
    pub fn open(state_dir: &Path) -> Result<Credentials, CredentialError> {
        let (conn, path) = db::open(state_dir)?;
        let all = db::load(&conn, &path)?;
        let by_hash = all.iter().enumerate().map(|(i, c)| (c.hash, i)).collect();
        let creds = Credentials {
            inner: Mutex::new(Inner {
                conn,
                path,
                all,
                by_hash,
            }),
        };
        creds.ensure_operator_tokens(state_dir)?;
        Ok(creds)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ensure_operator_tokens(&self, state_dir: &Path) -> Result<(), CredentialError> {
        let mut inner = self.lock();
        if inner
            .all
            .iter()
            .any(|c| c.kind == Kind::Admin && !c.revoked)
        {
            return Ok(());
        }
        for kind in [Kind::Admin, Kind::Read] {
            let token = token::generate(kind);
            files::write_token(state_dir, kind, &token)?;
            inner.insert(kind, &token, None, None)?;
        }
        tracing::info!(
            dir = %state_dir.join(CREDENTIALS_DIR).display(),
            "created the admin and read-only credentials"
        );
        Ok(())
    }

    /// Who `token` belongs to.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let hash = token::hash(token);
        let inner = self.lock();
        let c = inner
            .by_hash
            .get(&hash)
            .and_then(|&i| inner.all.get(i))
            .ok_or(AuthError::Unknown)?;
        if c.revoked {
            return Err(AuthError::Revoked {
                kind: c.kind.as_str(),
                id: c.id.clone(),
                fix: match c.kind {
                    Kind::Host => "this host's credential was revoked; give it a new join token",
                    _ => "use a current credential",
                },
            });
        }
        if c.expires_at.is_some_and(|e| e <= now()) {
            return Err(AuthError::Expired {
                kind: c.kind.as_str(),
                id: c.id.clone(),
            });
        }
        Ok(match c.kind {
            Kind::Admin => Principal::Admin,
            Kind::Read => Principal::Read,
            Kind::Join => Principal::Join(c.id.clone()),
            Kind::Host => match &c.host {
                Some(h) => Principal::Host(h.clone()),
                None => return Err(AuthError::Unknown),
            },
        })
    }

    /// Creates a join token living `ttl`: (id, token, expires_at).
    pub fn create_join(&self, ttl: Duration) -> Result<(String, String, u64), CredentialError> {
        let token = token::generate(Kind::Join);
        let expires = now() + ttl.as_secs();
        let id = self
            .lock()
            .insert(Kind::Join, &token, None, Some(expires))?;
        Ok((id, token, expires))
    }

    /// Revokes the join token `id`.
    pub fn revoke_join(&self, id: &str) -> Result<(), CredentialError> {
        let mut inner = self.lock();
        if !inner.all.iter().any(|c| c.id == id && c.kind == Kind::Join) {
            return Err(CredentialError::NoSuchJoinToken(id.to_owned()));
        }
        inner.revoke(|c| c.id == id)
    }

    /// Issues `host` a credential, unless it has a live one: (id, token).
    pub fn issue_host(&self, host: &HostName) -> Result<(String, String), CredentialError> {
        let mut inner = self.lock();
        if inner
            .all
            .iter()
            .any(|c| c.kind == Kind::Host && !c.revoked && c.host.as_ref() == Some(host))
        {
            return Err(CredentialError::HostHasCredential(host.clone()));
        }
        let token = token::generate(Kind::Host);
        let id = inner.insert(Kind::Host, &token, Some(host), None)?;
        Ok((id, token))
    }

    /// Revokes the credential `id` (any kind).
    pub fn revoke_id(&self, id: &str) -> Result<(), CredentialError> {
        self.lock().revoke(|c| c.id == id)
    }

    /// Revokes every credential of `host`.
    pub fn revoke_host(&self, host: &HostName) -> Result<(), CredentialError> {
        self.lock()
            .revoke(|c| c.kind == Kind::Host && c.host.as_ref() == Some(host))
    }
}

impl Inner {
    fn insert(
        &mut self,
        kind: Kind,
        token: &str,
        host: Option<&HostName>,
        expires_at: Option<u64>,
    ) -> Result<String, CredentialError> {
        let cred = Cred {
            id: token::new_id(),
            kind,
            hash: token::hash(token),
            host: host.cloned(),
            expires_at,
            revoked: false,
        };
        db::insert(&self.conn, &self.path, &cred)?;
        let id = cred.id.clone();
        self.by_hash.insert(cred.hash, self.all.len());
        self.all.push(cred);
        Ok(id)
    }

    fn revoke(&mut self, which: impl Fn(&Cred) -> bool) -> Result<(), CredentialError> {
        let ids: Vec<String> = self
            .all
            .iter()
            .filter(|c| which(c) && !c.revoked)
            .map(|c| c.id.clone())
            .collect();
        db::revoke(&mut self.conn, &self.path, &ids)?;
        for c in self.all.iter_mut().filter(|c| ids.contains(&c.id)) {
            c.revoked = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
