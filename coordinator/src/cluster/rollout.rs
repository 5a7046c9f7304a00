//! The rollout as the cluster keeps it: the state machine's decisions and the configs held
//! back from hosts until their restart is permitted, and what each host is given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lgtm_model::HostName;
use lgtm_model::process::ProcessId;
use lgtm_model::rollout::{self, Event, ProcessKey, Removal, Rollout, Waiting};
use lgtm_model::wire::DesiredProcess;
use serde::{Deserialize, Serialize};

use lgtm_model::Role;
use lgtm_model::render;
use lgtm_model::settings::{self, Secrets};

use super::intent::{HostContent, Intent, Rendered};
use super::ops::Op;

/// Held processes of one host, by process.
pub type HostHolds = BTreeMap<ProcessId, DesiredProcess>;

/// The rollout's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Decisions: steps in flight, a pause.
    pub machine: Rollout,
    /// Configs held back, by host (hosts without holds are absent).
    pub held: BTreeMap<HostName, HostHolds>,
    /// Hosts' roles and settings when the rollout was last idle: what `rollout abort` goes
    /// back to. Set by the first change that holds a process, cleared once nothing is held.
    pub baseline: Option<Baseline>,
}

/// Roles and settings at a point in time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Non-secret settings as text, every key.
    pub settings: BTreeMap<String, String>,
    /// Secret values by key.
    pub secrets: Secrets,
    /// Every host's roles.
    pub roles: BTreeMap<HostName, Vec<Role>>,
}

impl Baseline {
    /// The roles and settings of `intent`.
    pub fn of(intent: &Intent) -> Baseline {
        let settings = settings::keys()
            .into_iter()
            .filter(|k| !k.secret)
            .filter_map(|k| Some((k.key.clone(), intent.settings.get(&k.key).ok()?)))
            .collect();
        Baseline {
            settings,
            secrets: intent.secrets.clone(),
            roles: intent.assignments(),
        }
    }

    /// The operations that take `intent` back to this baseline: settings and secrets set
    /// back, roles assigned since unassigned, roles unassigned since assigned again (hosts
    /// removed since stay removed; hosts' addresses are not operators' changes).
    pub fn revert(&self, intent: &Intent) -> Vec<Op> {
        let now = Baseline::of(intent);
        let mut ops = Vec::new();
        let changed = |then: &BTreeMap<String, String>, now: &BTreeMap<String, String>| {
            let keys: std::collections::BTreeSet<String> =
                then.keys().chain(now.keys()).cloned().collect();
            keys.into_iter()
                .filter_map(|k| {
                    let was = then.get(&k).cloned().unwrap_or_default();
                    (now.get(&k).cloned().unwrap_or_default() != was).then_some(Op::Set {
                        key: k,
                        value: was,
                        // Back to where it was: what it stored since stays, as it did.
                        force: true,
                    })
                })
                .collect::<Vec<_>>()
        };
        ops.extend(changed(&self.settings, &now.settings));
        ops.extend(changed(&self.secrets, &now.secrets));
        let none = Vec::new();
        for (host, roles) in &now.roles {
            let was = self.roles.get(host).unwrap_or(&none);
            for role in roles.iter().filter(|r| !was.contains(r)) {
                ops.push(Op::Unassign {
                    host: host.clone(),
                    role: role.to_string(),
                    force: false,
                });
            }
            for role in was.iter().filter(|r| !roles.contains(r)) {
                ops.push(Op::Assign {
                    host: host.clone(),
                    role: role.to_string(),
                    backend: None,
                });
            }
        }
        ops
    }
}

/// How a [`Record`] is stored: JSON cannot key a map by a process.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Persisted {
    machine: Rollout,
    held: Vec<(HostName, DesiredProcess)>,
    #[serde(default)]
    baseline: Option<Baseline>,
}

impl Record {
    /// The stored form (holds secrets inside configs, like the rest of the store).
    pub fn to_json(&self) -> String {
        let held = self
            .held
            .iter()
            .flat_map(|(h, ps)| ps.values().map(move |p| (h.clone(), p.clone())))
            .collect();
        let p = Persisted {
            machine: self.machine.clone(),
            held,
            baseline: self.baseline.clone(),
        };
        serde_json::to_string(&p).unwrap_or_default()
    }

    /// Reads the stored form.
    pub fn from_json(text: &str) -> Result<Record, serde_json::Error> {
        let p: Persisted = serde_json::from_str(text)?;
        let mut held: BTreeMap<HostName, HostHolds> = BTreeMap::new();
        for (h, process) in p.held {
            held.entry(h).or_default().insert(process.id, process);
        }
        Ok(Record {
            machine: p.machine,
            held,
            baseline: p.baseline,
        })
    }

    /// Processes waiting for their restart or removal (those `target` no longer has),
    /// sorted.
    pub fn waiting(&self, target: &BTreeMap<HostName, Rendered>) -> Vec<Waiting> {
        self.held
            .iter()
            .flat_map(|(host, ps)| {
                let wanted: &[DesiredProcess] = match target.get(host) {
                    Some(Ok(c)) => &c.processes,
                    _ => &[],
                };
                ps.values().map(move |p| {
                    let will = wanted.iter().find(|t| t.id == p.id);
                    Waiting {
                        key: ProcessKey {
                            host: host.clone(),
                            process: p.id,
                        },
                        stateful: rollout::is_stateful(&p.roles),
                        retire: will.is_none(),
                        after_flush: will.and_then(|t| rollout::after_flush(p, t)),
                    }
                })
            })
            .collect()
    }

    /// Processes of `host` retiring, or about to: held, and gone from its `target`.
    pub fn retiring(
        &self,
        host: &HostName,
        target: &BTreeMap<HostName, Rendered>,
    ) -> Vec<&DesiredProcess> {
        self.held
            .get(host)
            .map(|ps| leaving(ps, target, host).collect())
            .unwrap_or_default()
    }

    /// Keeps the baseline while something is held or in flight: `before` (the intent before
    /// the change that made it busy) becomes it when it was idle, and it goes once idle.
    pub fn follow_baseline(&mut self, before: &Intent) {
        if self.is_idle() {
            self.baseline = None;
        } else if self.baseline.is_none() {
            self.baseline = Some(Baseline::of(before));
        }
    }

    /// Whether nothing is held and nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.machine.steps.is_empty()
    }

    /// Records decisions made at `now`; the hosts whose holds were released.
    pub fn decide(&mut self, events: &[Event], now: u64) -> Vec<HostName> {
        let mut released = Vec::new();
        for e in events {
            let key = match e {
                // A process that was down has no upstream to leave: released at once.
                Event::Permit(p) if !p.healthy => Some(&p.key),
                Event::Release(key) => Some(key),
                _ => None,
            };
            if let Some(key) = key
                && let Some(holds) = self.held.get_mut(&key.host)
                && holds.remove(&key.process).is_some()
            {
                if holds.is_empty() {
                    self.held.remove(&key.host);
                }
                released.push(key.host.clone());
            }
        }
        self.machine.apply_all(events, now);
        released.sort();
        released.dedup();
        released
    }
}

/// Held processes that run another replication factor than their `target`: their
/// distributors would write with the old quorum, so gateways prefer others of their kind.
pub fn outdated(
    held: &BTreeMap<HostName, HostHolds>,
    target: &BTreeMap<HostName, Rendered>,
) -> BTreeSet<ProcessKey> {
    held.iter()
        .filter_map(|(host, ps)| match target.get(host) {
            Some(Ok(c)) => Some((host, ps, c)),
            _ => None,
        })
        .flat_map(|(host, ps, content)| {
            ps.values()
                .filter(|held| {
                    content.processes.iter().any(|t| {
                        t.id == held.id && render::replication_moves(&held.config, &t.config)
                    })
                })
                .map(|held| ProcessKey {
                    host: host.clone(),
                    process: held.id,
                })
        })
        .collect()
}

/// Sets what the gateways derive from the holds (`outdated`, `retiring`) on `intent`;
/// whether that moved, so its gateways must be rendered again.
pub fn follow_holds(
    intent: &mut Intent,
    held: &BTreeMap<HostName, HostHolds>,
    target: &BTreeMap<HostName, Rendered>,
) -> bool {
    let outdated = outdated(held, target);
    let retiring: BTreeMap<ProcessKey, Vec<Role>> = held
        .iter()
        .flat_map(|(host, ps)| {
            leaving(ps, target, host).map(|p| {
                let key = ProcessKey {
                    host: host.clone(),
                    process: p.id,
                };
                (key, p.roles.clone())
            })
        })
        .collect();
    let moved = outdated != intent.outdated || retiring != intent.retiring;
    intent.outdated = outdated;
    intent.retiring = retiring;
    moved
}

/// The processes held on `host` that its `target` no longer has: retiring, or about to.
fn leaving<'a>(
    held: &'a HostHolds,
    target: &BTreeMap<HostName, Rendered>,
    host: &HostName,
) -> impl Iterator<Item = &'a DesiredProcess> {
    let kept = kept(target, host);
    held.values().filter(move |p| !kept.contains(&p.id))
}

/// The processes `host`'s target keeps.
fn kept(target: &BTreeMap<HostName, Rendered>, host: &HostName) -> Vec<ProcessId> {
    match target.get(host) {
        Some(Ok(c)) => c.processes.iter().map(|p| p.id).collect(),
        _ => Vec::new(),
    }
}

/// What every host is given after its target changed, and the holds that implies.
///
/// `prev_target`/`prev_published` are what the hosts were rendered and given before: a host
/// whose target is the very same rendering and whose holds did not change keeps what it was
/// given, unexamined, so a change costs only the hosts it re-rendered. The stateful
/// processes an `abandoned` host loses stop at once instead of retiring.
pub fn publish_all(
    prev_target: &BTreeMap<HostName, Rendered>,
    prev_published: &BTreeMap<HostName, Rendered>,
    target: &BTreeMap<HostName, Rendered>,
    held: &BTreeMap<HostName, HostHolds>,
    abandoned: Option<&HostName>,
) -> (BTreeMap<HostName, Rendered>, BTreeMap<HostName, HostHolds>) {
    let none = HostHolds::new();
    let mut published = BTreeMap::new();
    let mut holds_out = BTreeMap::new();
    for (host, t) in target {
        let old_holds = held.get(host).unwrap_or(&none);
        let removal = if abandoned == Some(host) {
            Removal::Abandon
        } else {
            Removal::Drain
        };
        if let (Some(Ok(pt)), Ok(tc), Some(pp)) =
            (prev_target.get(host), t, prev_published.get(host))
            && Arc::ptr_eq(pt, tc)
            && removal == Removal::Drain
        {
            published.insert(host.clone(), pp.clone());
            if !old_holds.is_empty() {
                holds_out.insert(host.clone(), old_holds.clone());
            }
            continue;
        }
        let Ok(content) = t else {
            published.insert(host.clone(), t.clone());
            continue;
        };
        let given: &[DesiredProcess] = match prev_published.get(host) {
            Some(Ok(c)) => &c.processes,
            _ => &[],
        };
        let holds = rollout::holds(given, &content.processes, old_holds, removal);
        published.insert(host.clone(), publish(content, &holds));
        if !holds.is_empty() {
            holds_out.insert(host.clone(), holds);
        }
    }
    (published, holds_out)
}

/// A host's content as given: its target with held processes in their held version.
pub fn publish(target: &Arc<HostContent>, holds: &HostHolds) -> Rendered {
    if holds.is_empty() {
        return Ok(target.clone());
    }
    Ok(Arc::new(HostContent {
        processes: rollout::publish(&target.processes, holds),
        gateway: target.gateway.clone(),
    }))
}
