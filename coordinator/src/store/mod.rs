//! Durable cluster state behind a small trait: SQLite today ([`sqlite`]), etcd for HA later.
//!
//! The store knows nothing of rendering or HTTP. It loads everything once at start and then
//! applies [`Commit`]s: one accepted change plus the hosts whose desired index moved, all or
//! nothing, durable before `commit` returns.

use std::collections::BTreeMap;
use std::net::IpAddr;

use lgtm_model::settings::Secrets;
use lgtm_model::{HostName, Role};

use crate::digest::Digest;

mod migrations;
pub mod sqlite;

pub use sqlite::SqliteStore;

/// Where a host's desired state stands: the index it last changed at, and its content digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Cluster index at which the host's rendered content last changed.
    pub index: u64,
    /// Digest of that content; `None` while it has never rendered.
    pub digest: Option<Digest>,
}

/// One host as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredHost {
    /// Address, once the agent registered.
    pub address: Option<IpAddr>,
    /// Data root, once the agent registered.
    pub data_root: Option<String>,
    /// Assigned roles, sorted.
    pub roles: Vec<Role>,
    /// Desired-state bookkeeping; `None` for hosts stored before it existed.
    pub mark: Option<Mark>,
}

/// Everything the store holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The cluster index of the last commit (0: none yet).
    pub index: u64,
    /// The index of the last commit that changed the intent (0: none, or stored before
    /// it was kept).
    pub intent_index: u64,
    /// Every host.
    pub hosts: BTreeMap<HostName, StoredHost>,
    /// Non-secret settings as set: dotted key to text value.
    pub settings: BTreeMap<String, String>,
    /// Secret values by key.
    pub secrets: Secrets,
    /// The rollout's durable state (JSON, owned by the cluster); `None` when never stored.
    pub rollout: Option<String>,
}

/// One change to the cluster's intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Creates a host or updates its address and data root (roles stay).
    PutHost {
        /// The host.
        host: HostName,
        /// Its address, when registered.
        address: Option<IpAddr>,
        /// Its data root, when registered.
        data_root: Option<String>,
    },
    /// Removes a host with its roles.
    DeleteHost(HostName),
    /// Adds a role to an existing host.
    AddRole(HostName, Role),
    /// Removes a role from a host.
    RemoveRole(HostName, Role),
    /// Sets a non-secret setting to its text value.
    PutSetting(String, String),
    /// Stores a secret.
    PutSecret(String, String),
    /// Forgets a secret.
    DeleteSecret(String),
}

/// One atomic, durable step: the new cluster index, the changes, and moved desired marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The new cluster index; always greater than the stored one.
    pub index: u64,
    /// Intent changes, applied in order.
    pub changes: Vec<Change>,
    /// Hosts whose desired mark moved.
    pub marks: Vec<(HostName, Mark)>,
    /// The rollout's new durable state, when it changed.
    pub rollout: Option<String>,
}

/// Why the store failed; a failed commit changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to use the state database {path}")]
    Sqlite {
        /// The database file.
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the state database {path} is locked by another process; stop the other lgtm-coordinator using this state directory"
    )]
    Locked {
        /// The database file.
        path: String,
    },
    #[error("failed to prepare the state directory {path}")]
    Io {
        /// The path at fault.
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the state database {path} has schema version {found}, newer than this lgtm-coordinator knows ({known}); run a newer lgtm-coordinator"
    )]
    NewerSchema {
        /// The database file.
        path: String,
        /// Version found.
        found: u32,
        /// Latest version known here.
        known: u32,
    },
    #[error("the state database {path} holds an invalid {what}; fix or remove that row")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is invalid, with its value.
        what: String,
    },
    #[error("refused to commit index {new}: the stored index is already {stored}")]
    IndexNotAdvancing {
        /// The index offered.
        new: u64,
        /// The index stored.
        stored: u64,
    },
}

impl StoreError {
    /// Whether it failed because the disk (or its quota) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

/// Durable cluster state.
pub trait Store: Send {
    /// Loads everything.
    fn load(&mut self) -> Result<Stored, StoreError>;

    /// Applies one commit atomically; once this returns `Ok`, it survives a crash.
    fn commit(&mut self, commit: &Commit) -> Result<(), StoreError>;
}
