//! Operations on the cluster's intent, planned as pure functions: `plan(intent, op)` checks
//! the operation and yields the next intent, the store changes, and the reply.
//!
//! Nothing here touches the store; a plan with no changes is a no-op that bumps no index.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use lgtm_model::catalog::{GATEWAY, RoleError};
use lgtm_model::consistency::{self, AssignError, AssignOutcome, StorageError};
use lgtm_model::drain;
use lgtm_model::process::{ProcessId, processes};
use lgtm_model::render::HostIntent;
use lgtm_model::rollout;
use lgtm_model::rollout::Event;
use lgtm_model::settings::{self, SettingError};
use lgtm_model::wire::{HostRecord, Known};
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
    /// Unassign a role; a ring member it removes retires through the rollout.
    Unassign {
        /// The host.
        host: HostName,
        /// The role as given (qualified, or bare in the default backend).
        role: String,
        /// Stop at once, without a drain, even below a ring's write quorum.
        force: bool,
    },
    /// Unassign every role of a host (of one backend): its ring members retire through the
    /// rollout.
    Drain {
        /// The host.
        host: HostName,
        /// Only this backend's roles.
        backend: Option<Backend>,
        /// Stop at once, without a drain, even below a ring's write quorum; also drops
        /// retirements of the host under way.
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
        /// Move a deployed backend's storage anyway, leaving what it stored behind.
        force: bool,
    },
    /// Place a backend's roles anew in one change (a mode switch): each host listed runs
    /// exactly its roles of the backend, every other host none; gateways stay. The rollout
    /// stages it (new members first, old ones drain once those are healthy).
    Switch {
        /// The backend.
        backend: Backend,
        /// Roles by host, as given.
        hosts: BTreeMap<HostName, Vec<String>>,
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
    /// An operator aborts the rollout: roles and settings go back to what they were when it
    /// was last idle, and a pause ends (at `now`, Unix seconds).
    Abort {
        /// When.
        now: u64,
    },
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

impl Op {
    /// Whether the writer may apply it together with others that arrived with it, as one
    /// change: it adds to hosts or records readiness, and neither removes anything nor
    /// touches the rollout, so planning it after the others is what applying it after them
    /// would be.
    pub fn batches(&self) -> bool {
        matches!(
            self,
            Op::Register { .. } | Op::Assign { .. } | Op::Ready { .. }
        )
    }

    /// The operation a change asks for, at `now` (Unix seconds).
    pub fn of(change: lgtm_model::wire::Change, now: u64) -> Op {
        use lgtm_model::wire::Change as C;
        match change {
            C::Assign {
                host,
                role,
                backend,
            } => Op::Assign {
                host,
                role,
                backend,
            },
            C::Unassign { host, role, force } => Op::Unassign { host, role, force },
            C::Drain {
                host,
                backend,
                force,
            } => Op::Drain {
                host,
                backend,
                force,
            },
            C::RemoveHost { host, force } => Op::RemoveHost { host, force },
            C::Set { key, value, force } => Op::Set { key, value, force },
            C::Switch { backend, hosts } => Op::Switch { backend, hosts },
            C::AbortRollout => Op::Abort { now },
        }
    }
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
            Op::Drain { host, .. } => write!(f, "drain {host}"),
            Op::RemoveHost { host, .. } => write!(f, "remove host {host}"),
            Op::Set { key, .. } => write!(f, "set {}", key.escape_debug()),
            Op::Switch { backend, hosts } => {
                let names: Vec<&str> = hosts.keys().map(HostName::as_str).collect();
                write!(f, "switch {backend} to {}", names.join(", "))
            }
            Op::Ready { host, ready } => {
                write!(f, "readiness of {host}: {} ready", ready.len())
            }
            Op::Rollout(RolloutOp::Decide { events, .. }) => {
                write!(f, "rollout: {} decisions", events.len())
            }
            Op::Rollout(RolloutOp::Pause { .. }) => f.write_str("rollout: pause"),
            Op::Rollout(RolloutOp::Resume { .. }) => f.write_str("rollout: resume"),
            Op::Abort { .. } => f.write_str("rollout: abort"),
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
    /// A host drained: its roles unassigned.
    Drained {
        /// The roles unassigned, sorted.
        roles: Vec<Role>,
        /// What the operator should know.
        warnings: Vec<String>,
    },
    /// A host removed.
    Removed {
        /// What the operator should know.
        warnings: Vec<String>,
    },
    /// The rollout aborted: the operations that took roles and settings back.
    Aborted {
        /// Each operation, as the log shows it (values never shown).
        reverted: Vec<String>,
        /// What the operator should know.
        warnings: Vec<String>,
    },
    /// A setting stored.
    Set {
        /// The key.
        key: String,
    },
    /// A backend's roles placed anew.
    Switched {
        /// Its roles now, by host (gateways included).
        hosts: BTreeMap<HostName, Vec<Role>>,
        /// What the operator should know.
        warnings: Vec<String>,
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
            | Reply::Drained { warnings, .. }
            | Reply::Removed { warnings }
            | Reply::Switched { warnings, .. }
            | Reply::Aborted { warnings, .. } => Some(warnings),
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
        "refused: {why}. Assign the role to another host (or bring the members back) first, or repeat with force=true to stop it anyway"
    )]
    Quorum {
        /// Which ring, its numbers.
        why: String,
    },
    #[error(
        "{host} still has roles ({roles}); drain it first (`lgtmctl drain {host}`), or repeat with force=true to remove the host with its roles, without a drain"
    )]
    HasRoles {
        /// The host.
        host: HostName,
        /// Its roles, comma-separated.
        roles: String,
    },
    #[error(
        "{host} is still draining ({processes}); wait until `lgtmctl rollout status` no longer lists it, or repeat with force=true to remove it now"
    )]
    Retiring {
        /// The host.
        host: HostName,
        /// Its retiring processes, comma-separated.
        processes: String,
    },
    #[error(
        "{unit} on {host} still drains (it flushes and leaves its rings), and {role} would join the same rings under the host's name; assign it once `lgtmctl rollout status` no longer lists {unit} on {host}, or stop that one at once with `lgtmctl unassign-role {host} {process_role} --force`"
    )]
    RetiringOverlap {
        /// The host.
        host: HostName,
        /// The role asked for.
        role: Role,
        /// The retiring unit.
        unit: String,
        /// The role naming its process.
        process_role: Role,
    },
    #[error(
        "a switch names the hosts that run {backend} afterwards: name at least one (HOST=ROLE,...); to take {backend} off a host, drain it (`lgtmctl drain HOST --backend {backend}`)"
    )]
    SwitchEmpty {
        /// The backend.
        backend: Backend,
    },
    #[error("{host}={input}: {why}")]
    SwitchRole {
        /// The host.
        host: HostName,
        /// The role as given.
        input: String,
        /// What is wrong with it.
        why: String,
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
    Store(#[source] Arc<StoreError>),
    #[error(
        "nothing was applied: hosts, roles or settings changed since index {expected} (they are at index {now} now); look at the change again (--dry-run) and repeat with --check-index {now}"
    )]
    IndexMoved {
        /// The index the change was planned at.
        expected: u64,
        /// The intent index now.
        now: u64,
    },
    #[error(
        "nothing to abort: the rollout is idle, every process runs what hosts, roles and settings say"
    )]
    NothingToAbort,
    #[error(
        "{unit} on {host} is draining already (it may have flushed and left its ring) and cannot be kept; wait until `lgtmctl rollout status` no longer lists it, then abort, or assign its role again afterwards"
    )]
    AbortDraining {
        /// The host.
        host: HostName,
        /// The unit.
        unit: String,
    },
    #[error(
        "cannot go back to the roles and settings of before the rollout: {op} is refused: {source}"
    )]
    AbortRefused {
        /// The operation that would take it back.
        op: String,
        #[source]
        source: Box<ChangeError>,
    },
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

/// Plans `op` on `next` in place: what the store must apply and the answer. An operation
/// the writer batches ([`Op::batches`]) changes only what it adds and leaves `next` as it was
/// when refused, without a copy of the whole intent; others are planned on a copy.
pub fn plan_into(next: &mut Intent, op: &Op) -> Result<(Vec<Change>, Reply), ChangeError> {
    let mut changes = Vec::new();
    let reply = match op {
        Op::Register {
            host,
            address,
            data_root,
        } => register(next, &mut changes, host, *address, data_root),
        Op::Assign {
            host,
            role,
            backend,
        } => assign(next, &mut changes, host, role, *backend)?,
        Op::Ready { host, ready } => {
            if next.hosts.contains_key(host) {
                next.readiness.set(host, ready.clone());
            }
            Reply::Ready
        }
        _ => {
            let plan = plan(next, op)?;
            *next = plan.next;
            return Ok((plan.changes, plan.reply));
        }
    };
    Ok((changes, reply))
}

fn register(
    next: &mut Intent,
    changes: &mut Vec<Change>,
    host: &HostName,
    address: IpAddr,
    data_root: &str,
) -> Reply {
    let entry = next.hosts.entry(host.clone()).or_default();
    if entry.address != Some(address) || entry.data_root.as_deref() != Some(data_root) {
        entry.address = Some(address);
        entry.data_root = Some(data_root.to_owned());
        changes.push(Change::PutHost {
            host: host.clone(),
            address: Some(address),
            data_root: Some(data_root.to_owned()),
        });
    }
    Reply::Registered(record(host, entry))
}

/// Checks `op` against `intent`.
pub fn plan(intent: &Intent, op: &Op) -> Result<Plan, ChangeError> {
    let mut next = intent.clone();
    let mut changes = Vec::new();
    let reply = match op {
        Op::Register { .. } | Op::Assign { .. } | Op::Ready { .. } => {
            return plan_into(&mut next, op).map(|(changes, reply)| Plan {
                next,
                changes,
                reply,
            });
        }
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
            entry.roles.retain(|r| *r != role);
            changes.push(Change::RemoveRole(host.clone(), role));
            Reply::Unassigned {
                role,
                warnings: removal(intent, &next, host, *force)?,
            }
        }
        Op::Drain {
            host,
            backend,
            force,
        } => {
            let entry = next
                .hosts
                .get_mut(host)
                .ok_or_else(|| ChangeError::UnknownHost(host.clone()))?;
            let (gone, kept): (Vec<Role>, Vec<Role>) = entry
                .roles
                .iter()
                .partition(|r| backend.is_none_or(|b| r.backend() == b));
            entry.roles = kept;
            changes.extend(gone.iter().map(|r| Change::RemoveRole(host.clone(), *r)));
            Reply::Drained {
                roles: gone,
                warnings: removal(intent, &next, host, *force)?,
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
        Op::Set { key, value, force } => set(&mut next, &mut changes, key, value, *force)?,
        Op::Switch { backend, hosts } => switch(&mut next, &mut changes, *backend, hosts)?,
        // Not an intent change: the writer records it apart.
        Op::Rollout(_) => Reply::Rollout,
        // Planned by the cluster, which keeps what it goes back to.
        Op::Abort { .. } => Reply::Rollout,
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
    let deployed: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| !consistency::backend_hosts(*b, &next.hosts).is_empty())
        .collect();
    let Some((first, rest)) = deployed.split_first() else {
        return Err(ChangeError::NoBackendForGateway);
    };
    // Several roles: one refused takes the others back, so a refusal changes nothing.
    let (before, planned) = (next.hosts.get(host).cloned(), changes.len());
    let undo = |next: &mut Intent, changes: &mut Vec<Change>, e: ChangeError| {
        match &before {
            Some(h) => next.hosts.insert(host.clone(), h.clone()),
            None => next.hosts.remove(host),
        };
        changes.truncate(planned);
        e
    };
    let mut reply = assign_one(next, changes, host, GATEWAY, Some(*first))?;
    for b in rest {
        let Reply::Assigned { role, warnings, .. } =
            assign_one(next, changes, host, GATEWAY, Some(*b))
                .map_err(|e| undo(next, changes, e))?
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
    let roles = next.hosts.get(host).map_or(&[][..], |h| &h.roles);
    let outcome = consistency::check_assign(host, roles, role)?;
    if outcome == AssignOutcome::Added {
        let storage = next.settings.backend(role.backend()).storage;
        consistency::check_assign_storage(storage, &next.hosts, host, role)?;
    }
    // Checked: nothing below refuses, so a refusal above changed nothing.
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
        warnings.push(unregistered(host));
    }
    let verdict = consistency::evaluate(role.backend(), &next.hosts);
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
    force: bool,
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
            .find(|b| spec.key.starts_with(&format!("{b}.storage.")))
        {
            let assignments = next.assignments();
            let after = next.settings.backend(backend);
            consistency::check_storage_change(backend, after.storage, &assignments)?;
            if !force {
                let hosts = consistency::backend_hosts(backend, &assignments);
                consistency::check_storage_move(backend, &before.backend(backend), &after, &hosts)?;
            }
        }
        if next.settings != before {
            changes.push(Change::PutSetting(spec.key.clone(), value.to_owned()));
        }
    }
    Ok(Reply::Set { key: spec.key })
}

/// Places `backend`'s roles anew: `placement` hosts get exactly their roles of it, other
/// hosts lose theirs; gateway roles stay where they are.
fn switch(
    next: &mut Intent,
    changes: &mut Vec<Change>,
    backend: Backend,
    placement: &BTreeMap<HostName, Vec<String>>,
) -> Result<Reply, ChangeError> {
    if placement.is_empty() {
        return Err(ChangeError::SwitchEmpty { backend });
    }
    let mut wanted: BTreeMap<&HostName, Vec<Role>> = BTreeMap::new();
    for (host, inputs) in placement {
        if !next.hosts.contains_key(host) {
            return Err(ChangeError::UnknownHost(host.clone()));
        }
        let refuse = |input: &str, why: String| ChangeError::SwitchRole {
            host: host.clone(),
            input: input.to_owned(),
            why,
        };
        let mut roles = Vec::new();
        for input in inputs {
            let role = Role::resolve(input, Some(backend), backend)?;
            if role.backend() != backend {
                return Err(refuse(input, format!("not a role of {backend}")));
            }
            if role.is_gateway() {
                return Err(refuse(
                    input,
                    "gateways are not part of a switch; assign or unassign them on their own"
                        .into(),
                ));
            }
            // Checked against the roles already kept, so two that clash are named.
            if consistency::check_assign(host, &roles, role)? == AssignOutcome::Added {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            return Err(refuse("", "name at least one role for each host".into()));
        }
        wanted.insert(host, roles);
    }
    let storage = next.settings.backend(backend).storage;
    let before = consistency::backend_hosts(backend, &next.assignments());
    let after: BTreeSet<HostName> = wanted.keys().map(|h| (*h).clone()).collect();
    consistency::check_switch_storage(backend, storage, &before, &after)?;
    for (host, entry) in &mut next.hosts {
        let old: Vec<Role> = entry
            .roles
            .iter()
            .filter(|r| r.backend() == backend && !r.is_gateway())
            .copied()
            .collect();
        let new = wanted.get(host).cloned().unwrap_or_default();
        for r in old.iter().filter(|r| !new.contains(r)) {
            changes.push(Change::RemoveRole(host.clone(), *r));
        }
        for r in new.iter().filter(|r| !old.contains(r)) {
            changes.push(Change::AddRole(host.clone(), *r));
        }
        entry.roles.retain(|r| !old.contains(r));
        entry.roles.extend(new);
        entry.roles.sort();
    }
    let mut warnings: Vec<String> = after
        .iter()
        .filter(|h| next.hosts.get(*h).is_some_and(|e| e.address.is_none()))
        .map(unregistered)
        .collect();
    let verdict = consistency::evaluate(backend, &next.assignments());
    if !verdict.consistent {
        warnings.push(format!(
            "{backend} would lack required roles: {}; place them too before sending data",
            join(&verdict.missing)
        ));
    }
    warnings.extend(verdict.warnings);
    let hosts = next
        .assignments()
        .into_iter()
        .map(|(h, rs)| {
            (
                h,
                rs.into_iter()
                    .filter(|r| r.backend() == backend)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, rs)| !rs.is_empty())
        .collect();
    Ok(Reply::Switched { hosts, warnings })
}

/// The warning for roles given to a host whose agent has not registered.
fn unregistered(host: &HostName) -> String {
    format!("{host} has not registered yet; it gets its roles when its agent starts")
}

/// A host as the API shows it.
pub fn record(name: &HostName, host: &HostIntent) -> HostRecord {
    HostRecord {
        name: name.clone(),
        address: host.address,
        data_root: host.data_root.clone(),
        roles: Known::all(host.roles.iter().copied()),
        credential: None,
    }
}

/// Checks roles leaving `host`: refused when a replicated ring would keep fewer ready
/// members than its writes need (unless forced); the warnings to give.
fn removal(
    before: &Intent,
    after: &Intent,
    host: &HostName,
    force: bool,
) -> Result<Vec<String>, ChangeError> {
    let members = |i: &Intent| {
        let ready = i.readiness.effective(&i.hosts);
        drain::members(&i.assignments(), &ready)
    };
    let why = drain::refusal(&members(before), &members(after));
    let mut warnings = Vec::new();
    match why {
        Some(why) if !force => return Err(ChangeError::Quorum { why }),
        Some(why) => warnings.push(format!("forced although {why}")),
        None => {}
    }
    if force {
        let of = |i: &Intent| processes(i.hosts.get(host).map_or(&[][..], |h| &h.roles));
        let (was, now) = (of(before), of(after));
        warnings.extend(
            was.iter()
                .filter(|(id, roles)| !now.contains_key(id) && rollout::is_stateful(roles))
                .map(|(id, _)| {
                    format!(
                        "{} on {host} stops at once, without a drain: it is not taken out of its ring first, and what it has not flushed when it stops is lost",
                        id.unit_name()
                    )
                }),
        );
    }
    warnings.extend(newly_missing(before, after));
    warnings.extend(lowered_replication(before, after));
    Ok(warnings)
}

/// One warning per replicated target whose factor the change lowers: every remaining member
/// restarts with the new factor, through the rollout.
fn lowered_replication(before: &Intent, after: &Intent) -> Vec<String> {
    let (b, a) = (before.assignments(), after.assignments());
    let mut out = Vec::new();
    for backend in Backend::ALL {
        let now = consistency::evaluate(backend, &a).replication;
        for was in consistency::evaluate(backend, &b).replication {
            let Some(r) = now.iter().find(|r| r.role == was.role) else {
                continue;
            };
            if r.factor < was.factor {
                out.push(format!(
                    "{} moves from replication factor {} to {}: each of its remaining {} member{} restarts, one at a time; until all have, writes still need {} of them",
                    was.role,
                    was.factor,
                    r.factor,
                    r.hosts,
                    if r.hosts == 1 { "" } else { "s" },
                    usize::from(was.factor) / 2 + 1,
                ));
            }
        }
    }
    out
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
