//! The rollout as the cluster keeps it: the state machine's decisions and the configs held
//! back from hosts until their restart is permitted, and what each host is given.

use std::collections::BTreeMap;
use std::sync::Arc;

use lgtm_model::HostName;
use lgtm_model::process::ProcessId;
use lgtm_model::rollout::{self, Event, ProcessKey, Rollout, Waiting};
use lgtm_model::wire::DesiredProcess;
use serde::{Deserialize, Serialize};

use super::intent::{HostContent, Rendered};

/// Held processes of one host, by process.
pub type HostHolds = BTreeMap<ProcessId, DesiredProcess>;

/// The rollout's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Decisions: steps in flight, a pause.
    pub machine: Rollout,
    /// Configs held back, by host (hosts without holds are absent).
    pub held: BTreeMap<HostName, HostHolds>,
}

/// How a [`Record`] is stored: JSON cannot key a map by a process.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Persisted {
    machine: Rollout,
    held: Vec<(HostName, DesiredProcess)>,
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
        })
    }

    /// Processes waiting for their restart, sorted.
    pub fn waiting(&self) -> Vec<Waiting> {
        self.held
            .iter()
            .flat_map(|(host, ps)| {
                ps.values().map(move |p| Waiting {
                    key: ProcessKey {
                        host: host.clone(),
                        process: p.id,
                    },
                    stateful: p.roles.iter().any(|r| r.is_stateful()),
                })
            })
            .collect()
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
            self.machine.apply(e, now);
        }
        released.sort();
        released.dedup();
        released
    }
}

/// What every host is given after its target changed, and the holds that implies.
///
/// `prev_target`/`prev_published` are what the hosts were rendered and given before: a host
/// whose target is the very same rendering and whose holds did not change keeps what it was
/// given, unexamined, so a change costs only the hosts it re-rendered.
pub fn publish_all(
    prev_target: &BTreeMap<HostName, Rendered>,
    prev_published: &BTreeMap<HostName, Rendered>,
    target: &BTreeMap<HostName, Rendered>,
    held: &BTreeMap<HostName, HostHolds>,
) -> (BTreeMap<HostName, Rendered>, BTreeMap<HostName, HostHolds>) {
    let none = HostHolds::new();
    let mut published = BTreeMap::new();
    let mut holds_out = BTreeMap::new();
    for (host, t) in target {
        let old_holds = held.get(host).unwrap_or(&none);
        if let (Some(Ok(pt)), Ok(tc), Some(pp)) =
            (prev_target.get(host), t, prev_published.get(host))
            && Arc::ptr_eq(pt, tc)
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
        let holds = rollout::holds(given, &content.processes, old_holds);
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
