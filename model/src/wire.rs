//! The JSON shapes of the coordinator's HTTP API, shared by the server, agents and `lgtmctl`.
//!
//! Request bodies reject unknown fields: the coordinator never ignores what it was asked.
//! Answers accept fields they do not know: a coordinator within the skew rule
//! ([`crate::skew`]) may be newer than the agent or `lgtmctl` reading it and say more. Their
//! enum fields read values they do not know as text ([`Known`]). What an
//! agent observes (its units, actions and facts) travels both ways, in its report and in the
//! status, so it is read like an answer: a newer agent's report may say more, and an older
//! `lgtmctl` reads a newer coordinator's status. Paths are listed in [`paths`] so clients and
//! the router cannot drift apart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Role;
use crate::consistency::AssignOutcome;
use crate::names::{Backend, HostName};
use crate::process::{Ports, ProcessId};

mod known;
mod plan;
mod verdict;

pub use known::Known;
pub use plan::{
    Change, ChangePlan, GatewayAction, GatewayPlan, HostPlan, PlannedStep, ProcessAction,
    ProcessPlan, ReplicationChange,
};
pub use verdict::{BackendVerdict, ReplicationVerdict};

/// API paths (all under `/v1` except health and metrics).
pub mod paths {
    /// `GET`: liveness of the coordinator itself.
    pub const HEALTHZ: &str = "/healthz";
    /// `GET`: Prometheus text metrics.
    pub const METRICS: &str = "/metrics";
    /// `GET`: the OpenAPI document of this API.
    pub const OPENAPI: &str = "/v1/openapi.json";
    /// `GET`: every host. `POST`: register a host ([`super::RegisterRequest`]).
    pub const HOSTS: &str = "/v1/hosts";
    /// `GET`: one host. `DELETE [?force=true]`: remove it ([`super::HostRemoved`]).
    pub const HOST: &str = "/v1/hosts/{host}";
    /// `POST`: assign a role ([`super::AssignRequest`]).
    pub const HOST_ROLES: &str = "/v1/hosts/{host}/roles";
    /// `DELETE`: unassign a role (`backend:name`, or a bare name in the default backend).
    pub const HOST_ROLE: &str = "/v1/hosts/{host}/roles/{role}";
    /// `POST`: drain the host: unassign its roles, ring members retiring through the
    /// rollout ([`super::DrainRequest`], [`super::DrainResponse`]).
    pub const HOST_DRAIN: &str = "/v1/hosts/{host}/drain";
    /// `GET ?index=N&wait=30s`: the host's desired state, long-polled past index N.
    pub const HOST_DESIRED: &str = "/v1/hosts/{host}/desired";
    /// `POST`: an agent's report ([`super::Report`]).
    pub const HOST_REPORT: &str = "/v1/hosts/{host}/report";
    /// `GET [?backend=B]`: what the host gets, secrets redacted ([`super::RenderedHost`]).
    pub const HOST_RENDERED: &str = "/v1/hosts/{host}/rendered";
    /// `GET`: every setting (secrets only say whether they are set).
    pub const SETTINGS: &str = "/v1/settings";
    /// `PUT`: set one setting ([`super::SetSetting`]); secrets too, never returned.
    pub const SETTING: &str = "/v1/settings/{key}";
    /// `GET`: cluster status.
    pub const STATUS: &str = "/v1/status";
    /// `POST`: create a join token ([`super::JoinTokenRequest`], [`super::JoinTokenCreated`]).
    pub const JOIN_TOKENS: &str = "/v1/join-tokens";
    /// `DELETE`: revoke a join token by its id.
    pub const JOIN_TOKEN: &str = "/v1/join-tokens/{id}";
    /// `GET`: the rollout of restarts ([`super::RolloutStatus`]).
    pub const ROLLOUT: &str = "/v1/rollout";
    /// `POST`: pause the rollout ([`super::RolloutPause`]).
    pub const ROLLOUT_PAUSE: &str = "/v1/rollout/pause";
    /// `POST`: resume the rollout.
    pub const ROLLOUT_RESUME: &str = "/v1/rollout/resume";
    /// Abort the rollout: roles and settings go back to before it.
    pub const ROLLOUT_ABORT: &str = "/v1/rollout/abort";
    /// Plan a change without applying it (a dry run).
    pub const PLAN: &str = "/v1/plan";
    /// `PUT`: place a backend's roles anew, staged ([`super::SwitchRequest`],
    /// [`super::Switched`]).
    pub const BACKEND_ROLES: &str = "/v1/backends/{backend}/roles";
}

/// The coordinator's liveness: `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok` whenever it answers.
    pub status: Alive,
    /// Current cluster index.
    pub index: u64,
}

/// What a coordinator that answers says of itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alive {
    /// Serving.
    Ok,
}

/// Create a join token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinTokenRequest {
    /// Seconds until it expires; the coordinator's default (one hour) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
}

/// A join token just created: the only time the token itself is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JoinTokenCreated {
    /// Its id, to revoke it.
    pub id: String,
    /// The token (`lgtm_join_...`).
    pub token: String,
    /// When it expires, Unix seconds.
    pub expires_at: u64,
}

/// A join token revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JoinTokenRevoked {
    /// Its id.
    pub id: String,
}

/// Error body of every non-2xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// What went wrong, for people and for programs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `unknown_role`, `invalid_host_name`, `not_found`.
    pub code: String,
    /// One sentence naming the thing, why, and the fix.
    pub message: String,
    /// The request field or path parameter at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An agent registering its host (idempotent; re-registration updates the address).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The host's name.
    pub host: HostName,
    /// The address peers and the gateway reach the host's backends on.
    pub address: IpAddr,
    /// Absolute directory under which backend data directories are rendered.
    pub data_root: String,
    /// The agent's version.
    pub agent_version: String,
}

/// A host as the coordinator knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostRecord {
    /// The host's name.
    pub name: HostName,
    /// Set once the agent registered.
    pub address: Option<IpAddr>,
    /// Set once the agent registered.
    pub data_root: Option<String>,
    /// Roles assigned, sorted.
    pub roles: Vec<Known<Role>>,
    /// The host's new credential (`lgtm_host_...`), only in the answer to a registration
    /// with a join token: the only time it is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Assign a role to a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// `ingester`, `mimir:ingester`, a meta-role such as `write`.
    pub role: String,
    /// Backend of an unqualified role; the cluster's default backend when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
}

/// The result of an assignment or unassignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AssignResponse {
    /// The host.
    pub host: HostName,
    /// The role, resolved (`mimir:ingester`).
    pub role: Known<Role>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: AssignOutcome,
    /// Whether the host's agent has registered yet.
    pub host_registered: bool,
    /// Things the operator should know (host not registered yet, replication 1, ...).
    pub warnings: Vec<String>,
    /// Cluster index after the change; `wait` until the host applied it.
    pub index: u64,
    /// Further roles the same request assigned (a bare `gateway`: every deployed backend's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_assigned: Vec<Known<Role>>,
}

/// The result of an unassignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnassignResponse {
    /// The host.
    pub host: HostName,
    /// The role removed.
    pub role: Known<Role>,
    /// Cluster index after the change.
    pub index: u64,
    /// Things the operator should know (a required role is now missing, ...).
    pub warnings: Vec<String>,
    /// Units that flush and leave their rings through the rollout before they stop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub draining: Vec<String>,
}

/// Drain a host: unassign its roles (of one backend), ring members first flushing and
/// leaving their rings, one at a time per ring, through the rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrainRequest {
    /// Only this backend's roles; every role when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Stop at once, without flushing, even below a ring's write quorum.
    #[serde(default)]
    pub force: bool,
}

/// The result of a drain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DrainResponse {
    /// The host.
    pub host: HostName,
    /// The roles unassigned.
    pub roles: Vec<Known<Role>>,
    /// Cluster index after the change.
    pub index: u64,
    /// Things the operator should know.
    pub warnings: Vec<String>,
    /// Units that flush and leave their rings through the rollout before they stop.
    pub draining: Vec<String>,
}

/// A backend's roles placed anew in one change (a mode switch, `loki:all` on one host to
/// `write`/`read`/`backend` on three): every host listed runs exactly these roles of the
/// backend, every other host none (gateways stay as they are). lgtm stages it: new processes
/// start first, ring members leaving drain once the new ones are healthy, and a new process
/// that runs a module an old one on its host still runs starts once that one is gone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    /// Roles by host: bare (`write`) or qualified with the backend (`loki:write`).
    pub hosts: BTreeMap<HostName, Vec<String>>,
}

/// The result of a switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Switched {
    /// The backend.
    pub backend: Backend,
    /// Its roles now, by host (gateways included).
    pub hosts: BTreeMap<HostName, Vec<Known<Role>>>,
    /// Cluster index after the change.
    pub index: u64,
    /// Things the operator should know.
    pub warnings: Vec<String>,
    /// Units that flush and leave their rings through the rollout before they stop, as
    /// `unit on host`.
    pub draining: Vec<String>,
}

/// The result of removing a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostRemoved {
    /// The host removed.
    pub host: HostName,
    /// Cluster index after the change.
    pub index: u64,
    /// Things the operator should know (a required role is now missing, ...).
    pub warnings: Vec<String>,
}

/// Set one setting. Secrets are sent the same way and never returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSetting {
    /// The new value as text; empty clears an optional setting.
    pub value: String,
}

/// One setting as shown to operators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettingEntry {
    /// Dotted key.
    pub key: String,
    /// The value; always `None` for secrets.
    pub value: Option<String>,
    /// Whether this key is a secret.
    pub secret: bool,
    /// For secrets: whether a value is stored.
    pub is_set: bool,
    /// One line of help.
    pub help: String,
}

/// Answer to a settings change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettingChanged {
    /// The key.
    pub key: String,
    /// Cluster index after the change.
    pub index: u64,
}

/// What one host should run; identical content always carries the same index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredState {
    /// The host.
    pub host: HostName,
    /// The cluster index at which this host's desired state last changed.
    pub index: u64,
    /// Every backend process the host runs, sorted by id.
    pub processes: Vec<DesiredProcess>,
    /// The gateway (nginx) the host runs, when it has gateway roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<DesiredGateway>,
}

/// The gateway of a host: one nginx serving every backend whose gateway role it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredGateway {
    /// Backends it serves, sorted.
    pub backends: Vec<Backend>,
    /// The complete nginx.conf (see `gateway::render`).
    pub config: String,
}

/// One backend process on a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredProcess {
    /// Which process; gives the unit name and config file name.
    pub id: ProcessId,
    /// Roles it runs, sorted; their upstream targets form `-target`.
    pub roles: Vec<Role>,
    /// Ports it listens on.
    pub ports: Ports,
    /// The backend's YAML config file, complete (may hold secrets).
    pub config: String,
    /// Absolute data directory of this process.
    pub data_dir: String,
}

/// What a host gets, for operators: every backend process's config, secrets redacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RenderedHost {
    /// The host.
    pub host: HostName,
    /// The cluster index at which this host's desired state last changed.
    pub index: u64,
    /// Its processes (of one backend when asked), sorted by id.
    pub processes: Vec<RenderedProcess>,
}

/// One process of a [`RenderedHost`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RenderedProcess {
    /// Which process.
    pub id: ProcessId,
    /// Its systemd unit.
    pub unit: String,
    /// Roles it runs, sorted.
    pub roles: Vec<Known<Role>>,
    /// Absolute data directory.
    pub data_dir: String,
    /// The YAML config with every secret value replaced by `<redacted>`.
    pub config: String,
}

/// An agent's report on its host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The desired-state index the agent applied last (0: none yet).
    pub applied_index: u64,
    /// The agent's version.
    pub agent_version: String,
    /// State of every `lgtm-*` backend unit on the host.
    pub units: Vec<UnitStatus>,
    /// Result of each action of the last apply.
    pub actions: Vec<ActionResult>,
    /// Host facts.
    pub facts: HostFacts,
}

/// A systemd unit as the agent sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnitStatus {
    /// Unit name, `lgtm-mimir.service`.
    pub unit: String,
    /// systemd ActiveState: active, activating, failed, inactive, ...
    pub active_state: String,
    /// systemd SubState: running, auto-restart, dead, ...
    pub sub_state: String,
    /// How often systemd restarted it (NRestarts).
    pub n_restarts: u32,
    /// Main PID, 0 when not running.
    pub main_pid: u32,
    /// Exit status of the last main process.
    pub exec_main_status: i32,
    /// Whether its `/ready` answered 200 `ready`; `None` when not probed.
    pub ready: Option<bool>,
    /// The last failure with the journal's last lines, when it failed.
    pub error: Option<String>,
}

/// One action the agent attempted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActionResult {
    /// What was attempted, e.g. `restart lgtm-mimir.service`.
    pub action: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
}

/// Host facts gathered with sysinfo.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostFacts {
    /// Logical CPUs.
    pub cpus: u32,
    /// One-minute load average.
    pub load1: f64,
    /// Total memory in bytes.
    pub memory_total_bytes: u64,
    /// Available memory in bytes.
    pub memory_available_bytes: u64,
    /// Disks holding data directories.
    pub disks: Vec<DiskFact>,
}

/// Space on the filesystem holding a data directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiskFact {
    /// The data directory.
    pub path: String,
    /// Filesystem size in bytes.
    pub total_bytes: u64,
    /// Available bytes.
    pub available_bytes: u64,
}

/// Whether a host's agent is heard from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Reported within the TTL.
    Alive,
    /// No report for longer than the TTL.
    Stale,
    /// Never reported.
    Unknown,
}

/// Pause the rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutPause {
    /// Why, for whoever looks at the status next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The result of aborting the rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutAborted {
    /// Cluster index after the change.
    pub index: u64,
    /// What was set back, unassigned or assigned again (values never shown).
    pub reverted: Vec<String>,
    /// Things the operator should know.
    pub warnings: Vec<String>,
}

/// Where the rollout of restarts stands: `lgtmctl rollout status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutStatus {
    /// Why it is paused; `None` while it runs.
    pub paused: Option<String>,
    /// Processes permitted to restart, not yet healthy long enough.
    pub restarting: Vec<RolloutProcess>,
    /// Processes whose restart waits for its turn (their hosts keep the running config).
    pub waiting: Vec<RolloutProcess>,
}

/// A process in the rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutProcess {
    /// The host.
    pub host: HostName,
    /// The process's unit.
    pub unit: String,
    /// Whether it is a ring member (restarts one at a time per backend).
    pub stateful: bool,
    /// What it waits for, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether it is removed rather than restarted: it flushes and leaves its ring first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retire: bool,
}

impl RolloutStatus {
    /// Whether nothing restarts, waits or is paused.
    pub fn is_idle(&self) -> bool {
        self.paused.is_none() && self.restarting.is_empty() && self.waiting.is_empty()
    }
}

/// Cluster status: `lgtmctl status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterStatus {
    /// Current cluster index.
    pub index: u64,
    /// Index of the last change to hosts, roles or settings (what `check_index` compares).
    #[serde(default)]
    pub intent_index: u64,
    /// The rollout of restarts.
    #[serde(default)]
    pub rollout: RolloutStatus,
    /// Per backend verdict, in `Backend::ALL` order.
    pub backends: Vec<BackendVerdict>,
    /// Per host state, sorted by name.
    pub hosts: Vec<HostStatus>,
}

/// One host in the status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostStatus {
    /// The host.
    pub name: HostName,
    /// Address, once registered.
    pub address: Option<IpAddr>,
    /// Roles assigned.
    pub roles: Vec<Known<Role>>,
    /// Whether the agent is heard from.
    pub liveness: Known<Liveness>,
    /// Seconds since the last report.
    pub last_report_seconds_ago: Option<u64>,
    /// Index of the host's current desired state.
    pub desired_index: u64,
    /// Index the agent applied last.
    pub applied_index: Option<u64>,
    /// The agent has not applied its current desired state yet.
    pub behind: bool,
    /// Units as last reported.
    pub units: Vec<UnitStatus>,
    /// Actions of the last apply that failed.
    pub failed_actions: Vec<ActionResult>,
    /// Facts as last reported.
    pub facts: Option<HostFacts>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_response_round_trips() {
        let a = AssignResponse {
            host: "host3".parse().expect("host"),
            role: Known::Is("mimir:ingester".parse().expect("role")),
            outcome: AssignOutcome::Added,
            host_registered: false,
            warnings: vec!["w".into()],
            index: 12,
            also_assigned: vec![],
        };
        let json = serde_json::to_string(&a).expect("serializes");
        assert!(json.contains(r#""outcome":"added""#), "{json}");
        let back: AssignResponse = serde_json::from_str(&json).expect("a client can read it");
        assert_eq!(back, a);
    }
}
