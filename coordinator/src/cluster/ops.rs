//! Operations on the cluster's intent, planned as pure functions: `plan(intent, op)` checks
//! the operation and yields the next intent, the store changes, and the reply.
//!
//! Nothing here touches the store; a plan with no changes is a no-op that bumps no index.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use lgtm_model::catalog::{GATEWAY, RoleError};
use lgtm_model::consistency::{self, AssignError, AssignOutcome, StorageError};
use lgtm_model::process::ProcessId;
use lgtm_model::render::HostIntent;
use lgtm_model::rollout::Event;
use lgtm_model::settings::{self, SettingError};
use lgtm_model::wire::HostRecord;
use lgtm_model::{Backend, HostName, Role};

use super::intent::{Intent, assignments};
use crate::store::{Change, StoreError};

/// A change an operator or agent asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// An agent registers its host (validated address and data root).
    Register {
        /// The host.
        host: HostName,
        /// Its address.
        address: IpAddr,
        /// Its data root, canonical.
        data_root: String,
    },
    /// Assign a role (resolved against the default backend at apply time).
    Assign {
        /// The host.
        host: HostName,
        /// The role as given.
        role: String,
        /// Backend of an unqualified role.
        backend: Option<Backend>,
    },
    /// Unassign a role.
    Unassign {
        /// The host.
        host: HostName,
        /// The role as given (qualified, or bare in the default backend).
        role: String,
        /// Allow abandoning a stateful role.
        force: bool,
    },
    /// Remove a host.
    RemoveHost {
        /// The host.
        host: HostName,
        /// Allow removing a host that still has roles.
        force: bool,
    },
    /// Set a setting or a secret.
    Set {
        /// Dotted key.
        key: String,
        /// Text value; empty clears.
        value: String,
    },
    /// An agent's report says which processes are ready (or its host went stale: none).
    Ready {
        /// The host.
        host: HostName,
        /// Its ready processes.
        ready: BTreeSet<ProcessId>,
    },
    /// The rollout decided, or an operator paused or resumed it.
    Rollout(RolloutOp),
}

/// A change to the rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutOp {
    /// Decisions of the rollout driver, made at `now` (Unix seconds).
    Decide {
        /// The decisions.
        events: Vec<Event>,
        /// When.
        now: u64,
    },
    /// An operator pauses it.
    Pause {
        /// Why, as the operator said.
        reason: String,
        /// When.
        now: u64,
    },
    /// An operator resumes it.
    Resume {
        /// When.
        now: u64,
    },
}

impl fmt::Display for Op {
    /// For logs: never shows setting values, so secrets cannot leak.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Register { host, address, .. } => write!(f, "register {host} at {address}"),
            Op::Assign { host, role, .. } => write!(f, "assign {} to {host}", role.escape_debug()),
            Op::Unassign { host, role, .. } => {
                write!(f, "unassign {} from {host}", role.escape_debug())
            }
            Op::RemoveHost { host, .. } => write!(f, "remove host {host}"),
            Op::Set { key, .. } => write!(f, "set {}", key.escape_debug()),
            Op::Ready { host, ready } => {
                write!(f, "readiness of {host}: {} ready", ready.len())
            }
            Op::Rollout(RolloutOp::Decide { events, .. }) => {
                write!(f, "rollout: {} decisions", events.len())
            }
            Op::Rollout(RolloutOp::Pause { .. }) => f.write_str("rollout: pause"),
            Op::Rollout(RolloutOp::Resume { .. }) => f.write_str("rollout: resume"),
        }
    }
}

/// What an accepted operation answers (the index is added by the caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The host as now known.
    Registered(HostRecord),
    /// A role assigned, or already there.
    Assigned {
        /// The resolved role.
        role: Role,
        /// Added or already assigned.
        outcome: AssignOutcome,
        /// Whether the host's agent registered.
        host_registered: bool,
        /// Further roles assigned by the same request (a bare `gateway`).
        also: Vec<Role>,
        /// What the operator should know.
        warnings: Vec<String>,
    },
    /// A role unassigned.
    Unassigned {
        /// The resolved role.
        role: Role,
        /// What the operator should know.
        warnings: Vec<String>,
    },
    /// A host removed.
    Removed {
        /// What the operator should know.
        warnings: Vec<String>,
    },
    /// A setting stored.
    Set {
        /// The key.
        key: String,
    },
    /// Readiness recorded.
    Ready,
    /// The rollout recorded a decision, a pause or a resume.
    Rollout,
}

impl Reply {
    /// The warnings list, for replies that carry one.
    pub fn warnings_mut(&mut self) -> Option<&mut Vec<String>> {
        match self {
            Reply::Assigned { warnings, .. }
            | Reply::Unassigned { warnings, .. }
            | Reply::Removed { warnings } => Some(warnings),
            Reply::Registered(_) | Reply::Set { .. } | Reply::Ready | Reply::Rollout => None,
        }
    }
}

/// Why an operation was refused; the intent is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(transparent)]
    Assign(#[from] AssignError),
    #[error("host {0} is not known to the coordinator; `lgtmctl host list` shows the known hosts")]
    UnknownHost(HostName),
    #[error("{host} does not have role {role}; {roles}")]
    NotAssigned {
        /// The host.
        host: HostName,
        /// The role asked for.
        role: Role,
        /// The host's roles, as a sentence.
        roles: String,
    },
    #[error(
        "{role} on {host} is stateful: it holds data on the host's disk, and unassigning it abandons that data. Move its data first, then repeat with force=true"
    )]
    Stateful {
        /// The host.
        host: HostName,
        /// The role.
        role: Role,
    },
    #[error(
        "{host} still has roles ({roles}); unassign them first, or repeat with force=true to remove the host with its roles"
    )]
    HasRoles {
        /// The host.
        host: HostName,
        /// Its roles, comma-separated.
        roles: String,
    },
    #[error(
        "no backend has hosts yet, so there is no gateway to assign; assign backend roles first, or name one, e.g. 'mimir:gateway'"
    )]
    NoBackendForGateway,
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("failed to store the change, so it was not applied")]
    Store(#[source] StoreError),
    #[error("the coordinator is shutting down; retry in a moment")]
    Stopped,
}

/// A checked operation: the next intent, the store changes, the reply.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The intent after the operation.
    pub next: Intent,
    /// What the store must apply; empty for a no-op.
    pub changes: Vec<Change>,
    /// The answer.
    pub reply: Reply,
}

/// Checks `op` against `intent`.
pub fn plan(intent: &Intent, op: &Op) -> Result<Plan, ChangeError> {
    let mut next = intent.clone();
    let mut changes = Vec::new();
    let reply = match op {
        Op::Register {
            host,
            address,
            data_root,
        } => {
            let entry = next.hosts.entry(host.clone()).or_default();
            if entry.address != Some(*address) || entry.data_root.as_ref() != Some(data_root) {
                entry.address = Some(*address);
                entry.data_root = Some(data_root.clone());
                changes.push(Change::PutHost {
                    host: host.clone(),
                    address: Some(*address),
                    data_root: Some(data_root.clone()),
                });
            }
            Reply::Registered(record(host, entry))
        }
        Op::Assign {
            host,
            role,
            backend,
        } => assign(&mut next, &mut changes, host, role, *backend)?,
        Op::Unassign { host, role, force } => {
            let role = Role::resolve(role, None, intent.settings.default_backend)?;
            let entry = next
                .hosts
                .get_mut(host)
                .ok_or_else(|| ChangeError::UnknownHost(host.clone()))?;
            if !entry.roles.contains(&role) {
                return Err(ChangeError::NotAssigned {
                    host: host.clone(),
                    role,
                    roles: roles_sentence(&entry.roles),
                });
            }
            if role.is_stateful() && !force {
                return Err(ChangeError::Stateful {
                    host: host.clone(),
                    role,
                });
            }
            entry.roles.retain(|r| *r != role);
            changes.push(Change::RemoveRole(host.clone(), role));
            Reply::Unassigned {
                role,
                warnings: newly_missing(intent, &next),
            }
        }
        Op::RemoveHost { host, force } => {
            let entry = next
                .hosts
                .remove(host)
                .ok_or_else(|| ChangeError::UnknownHost(host.clone()))?;
            if !entry.roles.is_empty() && !force {
                return Err(ChangeError::HasRoles {
                    host: host.clone(),
                    roles: join(&entry.roles),
                });
            }
            changes.push(Change::DeleteHost(host.clone()));
            next.readiness.forget(host);
            Reply::Removed {
                warnings: newly_missing(intent, &next),
            }
        }
        Op::Set { key, value } => set(&mut next, &mut changes, key, value)?,
        // Not an intent change: the writer records it apart.
        Op::Rollout(_) => Reply::Rollout,
        Op::Ready { host, ready } => {
            if next.hosts.contains_key(host) {
                next.readiness.set(host, ready.clone());
            }
            Reply::Ready
        }
    };
    Ok(Plan {
        next,
        changes,
        reply,
    })
}

/// A bare `gateway` with no backend: the gateway of every backend that has hosts.
fn assign(
    next: &mut Intent,
    changes: &mut Vec<Change>,
    host: &HostName,
    input: &str,
    backend: Option<Backend>,
) -> Result<Reply, ChangeError> {
    if backend.is_some() || input.trim() != GATEWAY {
        return assign_one(next, changes, host, input, backend);
    }
    let all = next.assignments();
    let deployed: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| consistency::evaluate(*b, &all).deployed)
        .collect();
    let Some((first, rest)) = deployed.split_first() else {
        return Err(ChangeError::NoBackendForGateway);
    };
    let mut reply = assign_one(next, changes, host, GATEWAY, Some(*first))?;
    for b in rest {
        let Reply::Assigned { role, warnings, .. } =
            assign_one(next, changes, host, GATEWAY, Some(*b))?
        else {
            continue;
        };
        if let Reply::Assigned {
            also,
            warnings: all_warnings,
            ..
        } = &mut reply
        {
            also.push(role);
            for w in warnings {
                if !all_warnings.contains(&w) {
                    all_warnings.push(w);
                }
            }
        }
    }
    Ok(reply)
}

fn assign_one(
    next: &mut Intent,
    changes: &mut Vec<Change>,
    host: &HostName,
    input: &str,
    backend: Option<Backend>,
) -> Result<Reply, ChangeError> {
    let role = Role::resolve(input, backend, next.settings.default_backend)?;
    let known = next.hosts.contains_key(host);
    let entry = next.hosts.entry(host.clone()).or_default();
    let outcome = consistency::check_assign(host, &entry.roles, role)?;
    if outcome == AssignOutcome::Added {
        let storage = next.settings.backend(role.backend()).storage;
        consistency::check_assign_storage(storage, &next.assignments(), host, role)?;
    }
    let entry = next.hosts.entry(host.clone()).or_default();
    let host_registered = entry.address.is_some();
    if outcome == AssignOutcome::Added {
        if !known {
            changes.push(Change::PutHost {
                host: host.clone(),
                address: None,
                data_root: None,
            });
        }
        entry.roles.push(role);
        entry.roles.sort();
        changes.push(Change::AddRole(host.clone(), role));
    }
    let mut warnings = Vec::new();
    if !host_registered {
        warnings.push(format!(
            "{host} has not registered yet; it gets its roles when its agent starts"
        ));
    }
    let verdict = consistency::evaluate(role.backend(), &next.assignments());
    if role.is_gateway() && !verdict.deployed {
        warnings.push(format!(
            "{} runs on no host yet: its gateway answers 503 until its roles are assigned and ready",
            role.backend()
        ));
    } else if !verdict.consistent {
        warnings.push(format!(
            "{} still lacks required roles: {}; assign them before sending data",
            role.backend(),
            join(&verdict.missing)
        ));
    }
    warnings.extend(verdict.warnings);
    Ok(Reply::Assigned {
        role,
        outcome,
        host_registered,
        also: Vec::new(),
        warnings,
    })
}

fn set(
    next: &mut Intent,
    changes: &mut Vec<Change>,
    key: &str,
    value: &str,
) -> Result<Reply, ChangeError> {
    let spec = settings::key(key)?;
    if spec.secret {
        if value.is_empty() {
            if next.secrets.remove(key).is_some() {
                changes.push(Change::DeleteSecret(spec.key.clone()));
            }
        } else {
            settings::validate_secret(key, value)?;
            if next.secrets.get(key).map(String::as_str) != Some(value) {
                next.secrets.insert(spec.key.clone(), value.to_owned());
                changes.push(Change::PutSecret(spec.key.clone(), value.to_owned()));
            }
        }
    } else {
        let before = next.settings.clone();
        next.settings.set(key, value)?;
        if let Some(backend) = Backend::ALL
            .into_iter()
            .find(|b| spec.key == format!("{b}.storage.backend"))
        {
            let storage = next.settings.backend(backend).storage;
            consistency::check_storage_change(backend, storage, &next.assignments())?;
        }
        if next.settings != before {
            changes.push(Change::PutSetting(spec.key.clone(), value.to_owned()));
        }
    }
    Ok(Reply::Set { key: spec.key })
}

/// A host as the API shows it.
pub fn record(name: &HostName, host: &HostIntent) -> HostRecord {
    HostRecord {
        name: name.clone(),
        address: host.address,
        data_root: host.data_root.clone(),
        roles: host.roles.clone(),
        credential: None,
    }
}

/// One warning per required role that ran somewhere before and runs nowhere after;
/// one warning in all for a backend that no longer runs anywhere.
fn newly_missing(before: &Intent, after: &Intent) -> Vec<String> {
    let (b, a) = (assignments(&before.hosts), assignments(&after.hosts));
    let mut out = Vec::new();
    for backend in Backend::ALL {
        let was = consistency::evaluate(backend, &b);
        let now = consistency::evaluate(backend, &a);
        if was.deployed && !now.deployed {
            out.push(format!(
                "{backend} now runs on no host: it is no longer deployed"
            ));
            continue;
        }
        let was: BTreeSet<Role> = was.missing.into_iter().collect();
        out.extend(now.missing.iter().filter(|r| !was.contains(r)).map(|r| {
            format!(
                "{r} now runs on no host, and {backend} needs it: assign it to a host to make {backend} consistent again"
            )
        }));
    }
    out
}

fn join(roles: &[Role]) -> String {
    roles
        .iter()
        .map(Role::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn roles_sentence(roles: &[Role]) -> String {
    if roles.is_empty() {
        "it has no roles".into()
    } else {
        format!("its roles are {}", join(roles))
    }
}

#[cfg(test)]
mod tests;
