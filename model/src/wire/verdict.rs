//! A backend's consistency verdict as answers carry it: roles may be newer than the reader.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Known;
use crate::catalog::Role;
use crate::consistency::{BackendConsistency, Replication};
use crate::names::Backend;

// `BackendConsistency` as answered; the document keeps its name.
/// The verdict on one backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "BackendConsistency")]
pub struct BackendVerdict {
    /// Which backend.
    pub backend: Backend,
    /// Whether any host has a role of it.
    pub deployed: bool,
    /// Every required target runs on at least one host.
    pub consistent: bool,
    /// Required targets that run nowhere.
    pub missing: Vec<Known<Role>>,
    /// Replicated targets that run somewhere.
    pub replication: Vec<ReplicationVerdict>,
    /// What an operator should know, one sentence each.
    pub warnings: Vec<String>,
}

// `Replication` as answered; the document keeps its name.
/// Replication of one replicated target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Replication")]
pub struct ReplicationVerdict {
    /// The replicated target.
    pub role: Known<Role>,
    /// Hosts that run it.
    pub hosts: usize,
    /// The factor rendered into its ring.
    pub factor: u8,
}

impl From<BackendConsistency> for BackendVerdict {
    fn from(c: BackendConsistency) -> Self {
        BackendVerdict {
            backend: c.backend,
            deployed: c.deployed,
            consistent: c.consistent,
            missing: c.missing.into_iter().map(Known::Is).collect(),
            replication: c.replication.into_iter().map(Into::into).collect(),
            warnings: c.warnings,
        }
    }
}

impl From<Replication> for ReplicationVerdict {
    fn from(r: Replication) -> Self {
        ReplicationVerdict {
            role: Known::Is(r.role),
            hosts: r.hosts,
            factor: r.factor,
        }
    }
}
