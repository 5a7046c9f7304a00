//! Plan before apply: what a change would do, worked out from the cluster's state before and
//! after it (nothing stored, nothing published). Pure.

use std::collections::{BTreeMap, BTreeSet};

use lgtm_model::consistency::{self, BackendConsistency};
use lgtm_model::render::redact::redact;
use lgtm_model::rollout::{self, Event, Health, Policy, ProcessKey, Rollout, Tick};
use lgtm_model::settings::Secrets;
use lgtm_model::wire::{
    DesiredGateway, DesiredProcess, GatewayAction, GatewayPlan, HostPlan, Known, PlannedStep,
    ProcessAction, ProcessPlan, ReplicationChange,
};
use lgtm_model::{Backend, HostName, Role};
use similar::TextDiff;

use super::intent::{HostContent, Rendered};
use super::rollout::{HostHolds, Record};

/// What changes for each host, from what it is `given` now (held processes in the version
/// they run) to its target `after` the change: its processes and gateway that change.
/// `abandoned` is the host whose ring members stop without a drain (`--force`). Secret
/// values of `secrets` (before and after the change) never appear in a diff.
pub fn hosts(
    given: &BTreeMap<HostName, Rendered>,
    after: &BTreeMap<HostName, Rendered>,
    abandoned: Option<&HostName>,
    secrets: &Secrets,
) -> Vec<HostPlan> {
    let names: BTreeSet<&HostName> = given.keys().chain(after.keys()).collect();
    let content = |map: &BTreeMap<HostName, Rendered>, h: &HostName| match map.get(h) {
        Some(Ok(c)) => Some(c.clone()),
        _ => None,
    };
    names
        .into_iter()
        .filter_map(|host| {
            // A host that does not render after the change keeps what it runs: nothing
            // happens to it (the change's warnings say why).
            if matches!(after.get(host), Some(Err(_))) {
                return None;
            }
            let was = content(given, host);
            let will = content(after, host);
            let empty = HostContent::default();
            let was = was.as_deref().unwrap_or(&empty);
            let will = will.as_deref().unwrap_or(&empty);
            // A host removed (`--force`) stops everything at once, as an abandoned one does.
            let drains = abandoned != Some(host) && after.contains_key(host);
            let plan = HostPlan {
                host: host.clone(),
                processes: processes(&was.processes, &will.processes, drains, secrets),
                gateway: gateway(was.gateway.as_ref(), will.gateway.as_ref()),
            };
            (!plan.processes.is_empty() || plan.gateway.is_some()).then_some(plan)
        })
        .collect()
}

/// The diff of a config whose only change is a secret value.
const SECRET_ONLY: &str = "(only a secret value changes; redacted)\n";

/// The processes of one host that change, sorted by unit.
fn processes(
    was: &[DesiredProcess],
    will: &[DesiredProcess],
    drains: bool,
    secrets: &Secrets,
) -> Vec<ProcessPlan> {
    let ids: BTreeSet<_> = was.iter().chain(will).map(|p| p.id).collect();
    let mut out: Vec<ProcessPlan> = ids
        .into_iter()
        .filter_map(|id| {
            let old = was.iter().find(|p| p.id == id);
            let new = will.iter().find(|p| p.id == id);
            // A new process waits for a ring member leaving its host that runs what it runs.
            let replaces = |n: &DesiredProcess| {
                was.iter().any(|o| {
                    !will.iter().any(|w| w.id == o.id)
                        && rollout::is_stateful(&o.roles)
                        && rollout::clash(o, n)
                })
            };
            let action = match (old, new) {
                (None, Some(n)) if drains && replaces(n) => ProcessAction::StartAfterDrain,
                (None, Some(_)) => ProcessAction::Start,
                (Some(o), None) if drains && rollout::is_stateful(&o.roles) => ProcessAction::Drain,
                (Some(_), None) => ProcessAction::Stop,
                (Some(o), Some(n)) if rollout::restarts(o, n) => ProcessAction::Restart,
                (Some(o), Some(n)) if o.config != n.config => ProcessAction::Rewrite,
                _ => return None,
            };
            let diff = match (old, new) {
                (Some(o), Some(n)) => {
                    let file = format!("{}.yaml", id.instance());
                    let redacted = |c: &str| redact(id.backend, c, secrets);
                    let (a, b) = (redacted(&o.config), redacted(&n.config));
                    if a == b && o.config != n.config {
                        SECRET_ONLY.to_owned()
                    } else {
                        diff(&file, &a, &b)
                    }
                }
                _ => String::new(),
            };
            Some(ProcessPlan {
                unit: id.unit_name(),
                action: action.into(),
                diff,
            })
        })
        .collect();
    out.sort_by(|a, b| a.unit.cmp(&b.unit));
    out
}

/// What happens to a host's gateway, if anything.
fn gateway(was: Option<&DesiredGateway>, will: Option<&DesiredGateway>) -> Option<GatewayPlan> {
    let (action, old, new) = match (was, will) {
        (None, Some(n)) => (GatewayAction::Start, "", n.config.as_str()),
        (Some(o), None) => (GatewayAction::Stop, o.config.as_str(), ""),
        (Some(o), Some(n)) if o.config != n.config => {
            (GatewayAction::Reload, o.config.as_str(), n.config.as_str())
        }
        _ => return None,
    };
    let diff = match action {
        GatewayAction::Reload => diff("nginx.conf", old, new),
        GatewayAction::Start | GatewayAction::Stop => String::new(),
    };
    Some(GatewayPlan {
        action: action.into(),
        diff,
    })
}

/// A unified diff with three lines of context.
fn diff(file: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string()
}

/// Most ticks a plan simulates: far more than any cluster's waves.
const MAX_TICKS: usize = 100_000;

/// The waves the rollout would run after the change if every process stayed healthy: it
/// is replayed with [`rollout::advance`] on `held` (the holds after the change), every
/// process of `given` (what hosts are given after it) healthy, gateways letting go at once
/// and drains leaving their rings at once. A paused rollout is replayed as if resumed.
pub fn waves(
    machine: &Rollout,
    held: &BTreeMap<HostName, HostHolds>,
    target: &BTreeMap<HostName, Rendered>,
    given: &BTreeMap<HostName, Rendered>,
    earlier: &BTreeSet<ProcessKey>,
    policy: Policy,
) -> Vec<Vec<PlannedStep>> {
    let mut processes: Vec<(ProcessKey, bool)> = Vec::new();
    for (host, rendered) in given {
        if let Ok(c) = rendered {
            for p in &c.processes {
                let key = ProcessKey {
                    host: host.clone(),
                    process: p.id,
                };
                processes.push((key, rollout::is_stateful(&p.roles)));
            }
        }
    }
    let health: BTreeMap<ProcessKey, Health> = processes
        .iter()
        .map(|(k, _)| (k.clone(), Health::Healthy { since: 0 }))
        .collect();
    let stateful: BTreeSet<ProcessKey> = processes
        .into_iter()
        .filter_map(|(k, s)| s.then_some(k))
        .collect();
    let mut record = Record {
        machine: Rollout {
            steps: machine.steps.clone(),
            paused: None,
            flushed: machine.flushed.clone(),
        },
        held: held.clone(),
        baseline: None,
    };
    let pace = policy.min_healthy_seconds + rollout::DRAIN_LIMIT_SECONDS + 1;
    let mut now = machine.steps.iter().map(|s| s.since).max().unwrap_or(0) + 1;
    let mut out = Vec::new();
    for _ in 0..MAX_TICKS {
        let waiting = record.waiting(target);
        if waiting.is_empty() && record.machine.steps.is_empty() {
            break;
        }
        let in_flight: BTreeSet<ProcessKey> =
            record.machine.steps.iter().map(|s| s.key.clone()).collect();
        let left = in_flight.iter().map(|k| (k.clone(), Ok(()))).collect();
        let tick = Tick {
            now,
            policy,
            waiting: &waiting,
            health: &health,
            stateful: &stateful,
            drained: &in_flight,
            left: &left,
        };
        let events = rollout::advance(&record.machine, &tick);
        if events.is_empty() {
            // Waiting out a flush's settling time is only time passing.
            match rollout::settles_at(&record.machine, &waiting, now) {
                Some(at) => {
                    now = at;
                    continue;
                }
                None => break,
            }
        }
        if events.iter().any(|e| matches!(e, Event::Pause(_))) {
            break;
        }
        let wave: Vec<PlannedStep> = events
            .iter()
            .filter_map(|e| match e {
                Event::Permit(p) => Some(PlannedStep {
                    host: p.key.host.clone(),
                    unit: p.key.process.unit_name(),
                    action: if p.retire {
                        ProcessAction::Drain
                    } else {
                        ProcessAction::Restart
                    }
                    .into(),
                    earlier: earlier.contains(&p.key),
                }),
                _ => None,
            })
            .collect();
        if !wave.is_empty() {
            out.push(wave);
        }
        record.decide(&events, now);
        now += pace;
    }
    out
}

/// Replicated rings whose factor moves between two sets of assignments.
pub fn replication(
    before: &BTreeMap<HostName, Vec<Role>>,
    after: &BTreeMap<HostName, Vec<Role>>,
) -> Vec<ReplicationChange> {
    let factors = |a: &BTreeMap<HostName, Vec<Role>>| -> BTreeMap<Role, u8> {
        Backend::ALL
            .into_iter()
            .flat_map(|b| consistency::evaluate(b, a).replication)
            .map(|r| (r.role, r.factor))
            .collect()
    };
    let (was, will) = (factors(before), factors(after));
    let roles: BTreeSet<&Role> = was.keys().chain(will.keys()).collect();
    roles
        .into_iter()
        .filter_map(|role| {
            let (b, a) = (
                was.get(role).copied().unwrap_or(0),
                will.get(role).copied().unwrap_or(0),
            );
            (b != a).then_some(ReplicationChange {
                role: Known::Is(*role),
                before: b,
                after: a,
            })
        })
        .collect()
}

/// The verdict on every backend deployed before or after the change, as it would stand.
pub fn consistency(
    before: &BTreeMap<HostName, Vec<Role>>,
    after: &BTreeMap<HostName, Vec<Role>>,
) -> Vec<BackendConsistency> {
    Backend::ALL
        .into_iter()
        .filter_map(|b| {
            let verdict = consistency::evaluate(b, after);
            (verdict.deployed || consistency::evaluate(b, before).deployed).then_some(verdict)
        })
        .collect()
}
