//! Plan before apply: a change asked for as a dry run (`POST /v1/plan`), and what it would
//! do, answered without changing anything.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{BackendVerdict, Known};
use crate::catalog::Role;
use crate::names::{Backend, HostName};

/// A change to plan: the same operations the changing endpoints take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// `POST /v1/hosts/{host}/roles`.
    Assign {
        /// The host.
        host: HostName,
        /// The role as given.
        role: String,
        /// Backend of an unqualified role.
        #[serde(default)]
        backend: Option<Backend>,
    },
    /// `DELETE /v1/hosts/{host}/roles/{role}`.
    Unassign {
        /// The host.
        host: HostName,
        /// The role as assigned.
        role: String,
        /// Stop at once, without a drain.
        #[serde(default)]
        force: bool,
    },
    /// `POST /v1/hosts/{host}/drain`.
    Drain {
        /// The host.
        host: HostName,
        /// Only this backend's roles.
        #[serde(default)]
        backend: Option<Backend>,
        /// Stop at once, without a drain.
        #[serde(default)]
        force: bool,
    },
    /// `DELETE /v1/hosts/{host}`.
    RemoveHost {
        /// The host.
        host: HostName,
        /// Remove it with its roles.
        #[serde(default)]
        force: bool,
    },
    /// `PUT /v1/settings/{key}` (a secret's value is never echoed).
    Set {
        /// Dotted key.
        key: String,
        /// Text value; empty clears.
        value: String,
        /// Move a deployed backend's storage anyway.
        #[serde(default)]
        force: bool,
    },
    /// `PUT /v1/backends/{backend}/roles`.
    Switch {
        /// The backend.
        backend: Backend,
        /// Roles by host, as given.
        hosts: BTreeMap<HostName, Vec<String>>,
    },
    /// `POST /v1/rollout/abort`.
    AbortRollout,
}

/// What a change would do. Nothing was changed to answer it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangePlan {
    /// The intent index it was planned at: a change sent with `check_index` set to it is
    /// applied only while no other change to hosts, roles or settings came in between.
    pub intent_index: u64,
    /// What the change would answer.
    pub warnings: Vec<String>,
    /// What a rollout abort would set back, unassign or assign again (empty otherwise).
    pub reverts: Vec<String>,
    /// Hosts whose desired state would change, sorted by name.
    pub hosts: Vec<HostPlan>,
    /// Restarts and drains the rollout paces, wave after wave, if every process stays
    /// healthy (processes already waiting for an earlier change included).
    pub waves: Vec<Vec<PlannedStep>>,
    /// Why the rollout would not start the waves now (paused), if so.
    pub held_up: Option<String>,
    /// Replication factors that would change.
    pub replication: Vec<ReplicationChange>,
    /// Every backend deployed before or after, as it would stand after the change.
    pub consistency: Vec<BackendVerdict>,
}

/// One host's part of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostPlan {
    /// The host.
    pub host: HostName,
    /// Its backend processes that change, sorted by unit.
    pub processes: Vec<ProcessPlan>,
    /// Its gateway, if it changes.
    pub gateway: Option<GatewayPlan>,
}

/// What happens to one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessAction {
    /// A new process starts at once.
    Start,
    /// A new process starts once a process leaving its host, which runs a module it runs
    /// too, drained and stopped (both would join the same rings under the host's name).
    StartAfterDrain,
    /// It restarts when the rollout permits it.
    Restart,
    /// Its config file changes without a restart (ring seeds only).
    Rewrite,
    /// It flushes and leaves its ring when the rollout permits it, then stops.
    Drain,
    /// It stops at once.
    Stop,
}

/// One process's part of a host plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessPlan {
    /// Its systemd unit.
    pub unit: String,
    /// What happens to it.
    pub action: Known<ProcessAction>,
    /// Unified diff of its config file, secret values redacted (empty when only the roles
    /// or ports it runs with change).
    pub diff: String,
}

/// What happens to a host's gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GatewayAction {
    /// It starts.
    Start,
    /// It reloads its new config (no request is cut off).
    Reload,
    /// It stops.
    Stop,
}

/// A host's gateway in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GatewayPlan {
    /// What happens to it.
    pub action: Known<GatewayAction>,
    /// Unified diff of its nginx.conf.
    pub diff: String,
}

/// A restart or drain the rollout paces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedStep {
    /// The host.
    pub host: HostName,
    /// The unit.
    pub unit: String,
    /// [`ProcessAction::Restart`] or [`ProcessAction::Drain`].
    pub action: Known<ProcessAction>,
    /// Whether it was already waiting for an earlier change.
    pub earlier: bool,
}

/// A replicated ring whose factor moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicationChange {
    /// The replicated target, e.g. `loki:ingester`.
    pub role: Known<Role>,
    /// Its factor now (0: not deployed).
    pub before: u8,
    /// Its factor after the change (0: no longer deployed).
    pub after: u8,
}
