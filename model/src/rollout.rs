//! Paced restarts: which running processes may restart now, as a state machine of decisions.
//!
//! A change that makes a running process restart does not reach its host at once: the
//! coordinator keeps giving the host the process's previous config (a *hold*, see
//! [`holds`]) until the rollout permits the restart. Per backend one *wave* restarts at a
//! time: a single stateful process (a ring member, so a ring never has two members down
//! because of lgtm) or up to `max_parallel` stateless ones. A stateful process is only
//! permitted while every other stateful process of its backend is healthy. A wave is done
//! when each of its processes has been healthy (it runs the new config, is active, answers
//! `/ready`, its ring is healthy) for `min_healthy_seconds`; one that is not healthy within
//! `step_timeout_seconds` pauses the rollout, and nothing else restarts until an operator
//! resumes it.
//!
//! A stateful process that the target no longer has (its role was unassigned, its host
//! drained) *retires* through the same waves: held, permitted like a restart, then asked to
//! flush and leave its ring ([`crate::drain`]); only once it left is its removal released
//! to its host. A retirement that does not finish in time pauses the rollout too.
//!
//! A replication factor that rises changes how Tempo reads: a trace written at the old factor
//! lives on one ingester, and a querier at the new factor answers from a quorum of
//! ingesters, which may not include it. Processes whose restart makes them read that way
//! ([`after_flush`]) wait until their backend's distributors write at the new factor, its
//! ingesters were flushed to object storage, and the queriers' block lists had time to show
//! the flushed blocks.
//!
//! Only decisions are durable ([`Rollout`]: the steps in flight, flushes and a pause);
//! health is observed anew on every tick and handed to [`advance`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{Backend, HostName};
use crate::process::ProcessId;
use crate::wire::DesiredProcess;
use crate::{Role, go_duration, render};

/// A process on a host: what one step restarts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProcessKey {
    /// The host.
    pub host: HostName,
    /// The process.
    pub process: ProcessId,
}

impl fmt::Display for ProcessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.process.unit_name(), self.host)
    }
}

/// How fast a rollout goes (settings `rollout.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Stateless processes of one backend restarting at once.
    pub max_parallel: u32,
    /// How long a restarted process must stay healthy before the next wave.
    pub min_healthy_seconds: u64,
    /// How long a restarted process may take to become healthy before the rollout pauses.
    pub step_timeout_seconds: u64,
    /// Whether a restarted ring member's ring page must show every member ACTIVE; off where
    /// the coordinator cannot reach the backends' HTTP ports (then `/ready` alone decides).
    pub check_rings: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_parallel: 2,
            min_healthy_seconds: 10,
            step_timeout_seconds: 600,
            check_rings: true,
        }
    }
}

/// The durable state: decisions only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Restarts permitted and not yet seen healthy long enough, sorted.
    pub steps: Vec<Step>,
    /// Set while paused.
    pub paused: Option<Pause>,
    /// Backends whose ingesters were flushed for processes waiting [`after_flush`], and
    /// when (Unix seconds).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flushed: BTreeMap<Backend, u64>,
}

/// A restart permitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The process.
    pub key: ProcessKey,
    /// Whether it is a ring member (restarts one at a time per backend).
    pub stateful: bool,
    /// Whether it was healthy when permitted: a process that was not is not waited for
    /// (restarting it took nothing away).
    pub was_healthy: bool,
    /// Whether its new config was released to its host. A healthy process is first taken
    /// out of the gateways' upstreams, so no request is cut off by its restart.
    pub released: bool,
    /// When it was permitted, released (or the rollout resumed), Unix seconds.
    pub since: u64,
    /// Once released: the desired-state index of its host that carries its new config. Its
    /// agent's reports from that index on show the restarted process, whatever the host was
    /// given since (another process's release must not hold this step up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<u64>,
    /// Whether it is removed rather than restarted: it flushes and leaves its ring before
    /// its removal is released.
    #[serde(default)]
    pub retire: bool,
}

/// Why the rollout stopped permitting restarts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// The reason, for `lgtmctl status`.
    pub reason: String,
    /// When, Unix seconds.
    pub at: u64,
}

/// A process waiting for its restart (it has a hold).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The process.
    pub key: ProcessKey,
    /// Whether it is a ring member.
    pub stateful: bool,
    /// Whether it waits for its removal (the target no longer has it).
    pub retire: bool,
    /// Set when it restarts only after its backend's ingesters were flushed, this many
    /// seconds after the flush ([`after_flush`]).
    pub after_flush: Option<u64>,
}

/// A restart permitted on this tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permit {
    /// The process.
    pub key: ProcessKey,
    /// Whether it is a ring member.
    pub stateful: bool,
    /// Whether it is healthy now (then its step waits until it is healthy again).
    pub healthy: bool,
    /// Whether it is removed rather than restarted.
    pub retire: bool,
}

/// A process as observed on this tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Runs its current config, active, ready, ring healthy, since this Unix second.
    Healthy {
        /// First second it was seen healthy without interruption.
        since: u64,
    },
    /// Its agent says it is not (not running, not ready, ring not healthy), and why.
    Unhealthy(String),
    /// Not known: its agent is not heard from, or has not applied its host's latest desired
    /// state while the process served at its last report. Never taken for down: what may
    /// well be serving must not be restarted as if it were not.
    Unknown(String),
}

/// What the rollout sees on one tick.
#[derive(Clone, Debug)]
pub struct Tick<'a> {
    /// Unix seconds.
    pub now: u64,
    /// Pace.
    pub policy: Policy,
    /// Processes waiting for a restart, sorted.
    pub waiting: &'a [Waiting],
    /// Every process of the cluster; a process missing here is gone.
    pub health: &'a BTreeMap<ProcessKey, Health>,
    /// Which processes are ring members, for the rule that they restart one at a time.
    pub stateful: &'a BTreeSet<ProcessKey>,
    /// Permitted processes no gateway sends requests to any more (every gateway host
    /// applied the upstreams without them).
    pub drained: &'a BTreeSet<ProcessKey>,
    /// Retiring processes asked to flush: `Ok` once they left their rings, otherwise why
    /// not yet.
    pub left: &'a BTreeMap<ProcessKey, Result<(), String>>,
}

/// Longest wait for the gateways to stop sending a permitted process requests: a gateway
/// host that does not apply its change in time does not hold the rollout up.
pub const DRAIN_LIMIT_SECONDS: u64 = 30;

/// A decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The process may restart once the gateways stopped sending it requests.
    Permit(Permit),
    /// The gateways stopped sending it requests: its host gets the new config.
    Release(ProcessKey),
    /// The process restarted and stayed healthy (or is gone).
    Done(ProcessKey),
    /// Stop permitting restarts.
    Pause(String),
    /// Flush the backend's ingesters now: only its processes waiting [`after_flush`] are
    /// left to restart.
    Flush(Backend),
    /// No process of the backend waits for a flush any more.
    Settled(Backend),
}

/// The decisions of one tick. Pure: the same state and tick always decide the same.
pub fn advance(state: &Rollout, tick: &Tick<'_>) -> Vec<Event> {
    let mut events = Vec::new();
    let waiting: BTreeSet<&ProcessKey> = tick.waiting.iter().map(|w| &w.key).collect();
    let mut busy = BTreeSet::new();
    let mut pausing = state.paused.is_some();
    for step in &state.steps {
        if !step.released {
            busy.insert(step.key.process.backend);
            let waited = tick.now.saturating_sub(step.since);
            let drained = tick.drained.contains(&step.key) || waited >= DRAIN_LIMIT_SECONDS;
            let left = !step.retire || matches!(tick.left.get(&step.key), Some(Ok(())));
            if drained && left && state.paused.is_none() {
                events.push(Event::Release(step.key.clone()));
            } else if step.retire && waited >= tick.policy.step_timeout_seconds && !pausing {
                pausing = true;
                let why = match tick.left.get(&step.key) {
                    Some(Err(why)) => why.as_str(),
                    _ => "not asked to flush yet",
                };
                let role = step.key.process.role.map_or_else(
                    || format!("{}:all", step.key.process.backend),
                    |r| r.to_string(),
                );
                events.push(Event::Pause(format!(
                    "{} did not flush and leave its ring {}s after its drain was permitted: {why}; fix it, then `lgtmctl rollout resume`, or stop it at once without its flush: `lgtmctl unassign-role {} {role} --force`",
                    step.key, tick.policy.step_timeout_seconds, step.key.host
                )));
            }
            continue;
        }
        let changed_again = waiting.contains(&step.key);
        match tick.health.get(&step.key) {
            None => events.push(Event::Done(step.key.clone())),
            Some(_) if !step.was_healthy => events.push(Event::Done(step.key.clone())),
            // Down after its restart and changed again (the operator's fix): waiting for it
            // would hold the fix back; down, it restarts at once.
            Some(Health::Unhealthy(_)) if changed_again => {
                events.push(Event::Done(step.key.clone()));
            }
            Some(Health::Healthy { since })
                if tick.now.saturating_sub((*since).max(step.since))
                    >= tick.policy.min_healthy_seconds =>
            {
                events.push(Event::Done(step.key.clone()));
            }
            Some(health) => {
                busy.insert(step.key.process.backend);
                let late = tick.now.saturating_sub(step.since) >= tick.policy.step_timeout_seconds;
                if late && !pausing {
                    pausing = true;
                    let why = match health {
                        Health::Unhealthy(why) | Health::Unknown(why) => why.as_str(),
                        Health::Healthy { .. } => "healthy too briefly",
                    };
                    events.push(Event::Pause(format!(
                        "{} is not healthy {}s after its restart was permitted: {why}; fix it, then `lgtmctl rollout resume`",
                        step.key, tick.policy.step_timeout_seconds
                    )));
                }
            }
        }
    }
    if pausing {
        return events;
    }
    let in_flight: BTreeSet<&ProcessKey> = state.steps.iter().map(|s| &s.key).collect();
    for backend in Backend::ALL {
        let of_backend = |w: &&Waiting| w.key.process.backend == backend;
        let gated = tick
            .waiting
            .iter()
            .filter(of_backend)
            .any(|w| w.after_flush.is_some());
        let flushed = state.flushed.get(&backend).copied();
        if flushed.is_some() && !gated {
            events.push(Event::Settled(backend));
        }
        if busy.contains(&backend) {
            continue;
        }
        let candidates: Vec<&Waiting> = tick
            .waiting
            .iter()
            .filter(of_backend)
            .filter(|w| !in_flight.contains(&w.key))
            .collect();
        // Everything else first: the distributors then write at the new factor, and what
        // is flushed is all that was written at the old one.
        let waits_for_flush = |w: &&Waiting| w.after_flush.is_some();
        if flushed.is_none() && !candidates.is_empty() && candidates.iter().all(waits_for_flush) {
            events.push(Event::Flush(backend));
            continue;
        }
        let open = |w: &&&Waiting| match (w.after_flush, flushed) {
            (None, _) => true,
            (Some(settle), Some(at)) => tick.now >= at.saturating_add(settle),
            (Some(_), None) => false,
        };
        let ready: Vec<&Waiting> = candidates.iter().filter(open).copied().collect();
        events.extend(wave(&ready, tick).into_iter().map(Event::Permit));
    }
    events
}

/// When the first process waiting [`after_flush`] of a flushed backend may restart, if one
/// waits for that still.
pub fn settles_at(state: &Rollout, waiting: &[Waiting], now: u64) -> Option<u64> {
    waiting
        .iter()
        .filter_map(|w| {
            let at = state.flushed.get(&w.key.process.backend)?;
            Some(at.saturating_add(w.after_flush?))
        })
        .filter(|at| *at > now)
        .min()
}

/// Extra seconds after a flush before a querier's block list may show the blocks: the
/// ingesters complete and upload them after answering the flush.
const UPLOAD_SECONDS: u64 = 15;

/// Tempo's `storage.trace.blocklist_poll` when a config leaves it out.
const DEFAULT_BLOCKLIST_POLL_SECONDS: f64 = 300.0;

/// How many seconds after its backend's ingesters were flushed a process running `held` may
/// restart as `target`, when that restart makes it read traces from a smaller share of the
/// ingesters: a Tempo querier or ingester whose ingester replication factor rises.
///
/// A querier asks every ingester for a trace by id and answers once all but
/// `replication_factor / 2` did (dskit `ReplicationSet.Do`); at factor 1 that is all of them,
/// at 3 two of three, which misses a trace written at factor 1 on the third. Once the
/// ingesters flushed it and the querier polled its block list (`storage.trace.blocklist_poll`;
/// two polls, for the one under way), it finds it in object storage. Distributors move
/// first; a process that also runs a distributor (`all`) cannot wait and is not held back.
pub fn after_flush(held: &DesiredProcess, target: &DesiredProcess) -> Option<u64> {
    // Checked for every held process whenever the rollout is looked at: the cheap test first.
    if target.id.backend != Backend::Tempo {
        return None;
    }
    let modules: BTreeSet<&str> = target
        .roles
        .iter()
        .flat_map(|r| r.expand())
        .map(Role::name)
        .collect();
    let reads = modules.contains("querier") || modules.contains("ingester");
    if !reads
        || modules.contains("distributor")
        || !render::replication_moves(&held.config, &target.config)
    {
        return None;
    }
    let path = ["ingester", "lifecycler", "ring", "replication_factor"];
    let rises = match (
        render::number_at(&held.config, &path),
        render::number_at(&target.config, &path),
    ) {
        (Some(was), Some(will)) => will > was,
        _ => false,
    };
    if !rises {
        return None;
    }
    let poll = render::text_at(&target.config, &["storage", "trace", "blocklist_poll"])
        .and_then(|t| go_duration::seconds(&t))
        .unwrap_or(DEFAULT_BLOCKLIST_POLL_SECONDS);
    Some((2.0 * poll).ceil() as u64 + UPLOAD_SECONDS)
}

/// The next wave of one backend.
///
/// A process that is down anyway restarts at once, whatever its kind: restarting it takes
/// nothing away, and may be its fix. Of the others, stateless ones go first, up to
/// `max_parallel` and never the last one up of a kind; then one ring member, while every
/// other member of its backend is healthy, or every one is down (a backend not serving has
/// nothing to lose).
fn wave(candidates: &[&Waiting], tick: &Tick<'_>) -> Vec<Permit> {
    let healthy = |k: &ProcessKey| matches!(tick.health.get(k), Some(Health::Healthy { .. }));
    let down = |k: &ProcessKey| matches!(tick.health.get(k), Some(Health::Unhealthy(_)));
    let permit = |w: &Waiting| Permit {
        key: w.key.clone(),
        stateful: w.stateful,
        healthy: !down(&w.key),
        retire: w.retire,
    };
    let unknown = |k: &ProcessKey| matches!(tick.health.get(k), Some(Health::Unknown(_)));
    // A process not heard from waits for its agent: it may be serving, and its restart
    // could not be watched.
    let (free, up): (Vec<&Waiting>, Vec<&Waiting>) = candidates
        .iter()
        .copied()
        .filter(|w| !unknown(&w.key))
        .partition(|w| down(&w.key) && !w.retire);
    let mut out: Vec<Permit> = free.iter().map(|w| permit(w)).collect();
    // How many of each kind are up (not known to be down), and how many there are.
    let mut left: BTreeMap<ProcessId, (usize, usize)> = BTreeMap::new();
    for k in tick.health.keys() {
        let e = left.entry(k.process).or_default();
        e.1 += 1;
        if !down(k) {
            e.0 += 1;
        }
    }
    let limit = tick.policy.max_parallel.max(1) as usize;
    let stateless: Vec<Permit> = up
        .iter()
        .filter(|w| !w.stateful)
        .filter(|w| {
            let (n, total) = left.entry(w.key.process).or_insert((1, 1));
            let take = *total <= 1 || *n > 1;
            *n = n.saturating_sub(1);
            take
        })
        .take(limit)
        .map(|w| permit(w))
        .collect();
    if !stateless.is_empty() {
        out.extend(stateless);
        return out;
    }
    // A member leaving goes before members restarting: the restarts may be what its
    // removal changed (a replication factor), and should find it gone.
    let mut members: Vec<&&Waiting> = up.iter().filter(|w| w.stateful).collect();
    members.sort_by_key(|w| !w.retire);
    let member = members.into_iter().find(|w| {
        let others: Vec<&ProcessKey> = tick
            .stateful
            .iter()
            .filter(|k| k.process.backend == w.key.process.backend && **k != w.key)
            .collect();
        // A member leaving takes what it holds with it unless its peers can take over:
        // it waits for every one to be healthy (new members first, in a staged switch).
        others.iter().all(|k| healthy(k)) || (!w.retire && others.iter().all(|k| down(k)))
    });
    out.extend(member.map(|w| permit(w)));
    out
}

/// Why a backend's waiting processes are not permitted now, for `lgtmctl rollout status`.
pub fn blocked(state: &Rollout, tick: &Tick<'_>) -> Option<String> {
    if let Some(p) = &state.paused {
        return Some(format!("paused: {}", p.reason));
    }
    let events = advance(state, tick);
    if !state.steps.is_empty()
        || events
            .iter()
            .any(|e| matches!(e, Event::Permit(_) | Event::Flush(_)))
    {
        return None;
    }
    let settling = tick.waiting.iter().find_map(|w| {
        let at = state.flushed.get(&w.key.process.backend)?;
        let left = at.saturating_add(w.after_flush?).checked_sub(tick.now)?;
        (left > 0).then_some((w, left))
    });
    if let Some((w, left)) = settling {
        return Some(format!(
            "{} waits {left}s more: {}'s replication factor rises, and the blocks its ingesters flushed must first show in the queriers' block lists (twice storage.trace.blocklist_poll), or a trace written before would be missed",
            w.key, w.key.process.backend
        ));
    }
    let first = tick.waiting.first()?;
    let down: Vec<String> = tick
        .stateful
        .iter()
        .filter(|k| k.process.backend == first.key.process.backend && **k != first.key)
        .filter_map(|k| match tick.health.get(k) {
            Some(Health::Unhealthy(why) | Health::Unknown(why)) => Some(format!("{k}: {why}")),
            _ => None,
        })
        .collect();
    Some(format!(
        "{} waits until its ring's other members are healthy ({})",
        first.key,
        down.join("; ")
    ))
}

impl Rollout {
    /// Records one decision made at `now`.
    pub fn apply(&mut self, event: &Event, now: u64) {
        self.apply_all(std::slice::from_ref(event), now);
    }

    /// Records one tick's decisions made at `now`. Steps stay sorted by process, and a tick
    /// permitting or finishing thousands of processes costs one pass, not one per decision.
    pub fn apply_all(&mut self, events: &[Event], now: u64) {
        let (mut gone, mut released): (BTreeSet<&ProcessKey>, BTreeSet<&ProcessKey>) =
            Default::default();
        let mut added = Vec::new();
        for event in events {
            match event {
                Event::Permit(p) => {
                    gone.insert(&p.key);
                    added.push(Step {
                        key: p.key.clone(),
                        stateful: p.stateful,
                        was_healthy: p.healthy,
                        // Not in any upstream: nothing to drain. A retiring one must flush first.
                        released: !p.healthy && !p.retire,
                        since: now,
                        released_at: None,
                        retire: p.retire,
                    });
                }
                Event::Release(key) => {
                    released.insert(key);
                }
                Event::Done(key) => {
                    gone.insert(key);
                }
                Event::Pause(reason) => self.pause(reason.clone(), now),
                Event::Flush(backend) => {
                    self.flushed.insert(*backend, now);
                }
                Event::Settled(backend) => {
                    self.flushed.remove(backend);
                }
            }
        }
        for s in self.steps.iter_mut().filter(|s| released.contains(&s.key)) {
            s.released = true;
            s.since = now;
        }
        if gone.is_empty() {
            return;
        }
        self.steps.retain(|s| !gone.contains(&s.key));
        self.steps.extend(added);
        self.steps.sort_by(|a, b| a.key.cmp(&b.key));
    }

    /// Stamps steps released by the decisions just recorded with the desired-state index
    /// their host was given with them.
    pub fn stamp_released(&mut self, index_of: impl Fn(&HostName) -> u64) {
        for s in self.steps.iter_mut().filter(|s| s.released) {
            s.released_at = s.released_at.or_else(|| Some(index_of(&s.key.host)));
        }
    }

    /// Stops permitting restarts (an operator's pause keeps an earlier reason).
    pub fn pause(&mut self, reason: String, now: u64) {
        if self.paused.is_none() {
            self.paused = Some(Pause { reason, at: now });
        }
    }

    /// Permits restarts again; steps in flight get a fresh deadline.
    pub fn resume(&mut self, now: u64) {
        self.paused = None;
        for s in &mut self.steps {
            s.since = now;
        }
    }

    /// Processes the gateways must not send requests to: every one in flight, from its
    /// permit until it has been healthy long enough (readiness reported before its restart
    /// would put it back too early).
    pub fn draining(&self) -> BTreeSet<ProcessKey> {
        self.steps.iter().map(|s| s.key.clone()).collect()
    }

    /// Permitted processes whose new config waits for the gateways to catch up.
    pub fn unreleased(&self) -> BTreeSet<ProcessKey> {
        self.steps
            .iter()
            .filter(|s| !s.released)
            .map(|s| s.key.clone())
            .collect()
    }

    /// Retiring processes to ask to flush and leave their rings now: permitted, and the
    /// gateways no longer send them requests (or gave up waiting for that).
    pub fn flushing(&self, drained: &BTreeSet<ProcessKey>, now: u64) -> Vec<ProcessKey> {
        if self.paused.is_some() {
            return Vec::new();
        }
        self.steps
            .iter()
            .filter(|s| s.retire && !s.released)
            .filter(|s| {
                drained.contains(&s.key) || now.saturating_sub(s.since) >= DRAIN_LIMIT_SECONDS
            })
            .map(|s| s.key.clone())
            .collect()
    }

    /// Whether nothing is in flight and nothing paused.
    pub fn is_idle(&self) -> bool {
        self.steps.is_empty() && self.paused.is_none()
    }
}

/// Whether a process running `old` must restart to run `new`.
pub fn restarts(old: &DesiredProcess, new: &DesiredProcess) -> bool {
    old.roles != new.roles
        || old.ports != new.ports
        || old.data_dir != new.data_dir
        || crate::render::needs_restart(&old.config, &new.config)
}

/// Whether a process running `roles` is a ring member: it restarts alone, and retires
/// (flushes, leaves its ring) before it is removed.
pub fn is_stateful(roles: &[crate::Role]) -> bool {
    roles.iter().any(|r| r.is_stateful())
}

/// What happens to the stateful processes a host was given that its target no longer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// They retire through the rollout: held until drained.
    Drain,
    /// They stop at once (an operator's `--force`); retirements under way are dropped.
    Abandon,
}

/// A host's holds after a change: a process the host was given as `published` that the new
/// `target` would restart keeps its published version until permitted; a stateful process
/// the target no longer has keeps it until it retired (unless `removal` abandons it); a
/// hold whose process no longer needs a restart to match the target (the change was
/// reverted) is dropped.
pub fn holds(
    published: &[DesiredProcess],
    target: &[DesiredProcess],
    held: &BTreeMap<ProcessId, DesiredProcess>,
    removal: Removal,
) -> BTreeMap<ProcessId, DesiredProcess> {
    let restarting = target.iter().filter_map(|t| {
        let running = held
            .get(&t.id)
            .or_else(|| published.iter().find(|p| p.id == t.id))?;
        restarts(running, t).then(|| (t.id, running.clone()))
    });
    let gone = |id: &ProcessId| removal == Removal::Drain && !target.iter().any(|t| t.id == *id);
    let retiring = held
        .values()
        .filter(|p| gone(&p.id))
        .chain(
            published
                .iter()
                .filter(|p| gone(&p.id) && !held.contains_key(&p.id) && is_stateful(&p.roles)),
        )
        .map(|p| (p.id, p.clone()));
    restarting.chain(retiring).collect()
}

/// What a host is given: its target, with held processes in their held version, and
/// retiring ones still there (after the target's). A new process that would run a module a
/// retiring one still runs is withheld until that one is gone: both would join the same
/// rings under the host's name (a staged switch, `loki:all` to `write`/`read`/`backend`).
pub fn publish(
    target: &[DesiredProcess],
    held: &BTreeMap<ProcessId, DesiredProcess>,
) -> Vec<DesiredProcess> {
    let retiring: Vec<&DesiredProcess> = held
        .values()
        .filter(|h| !target.iter().any(|t| t.id == h.id))
        .collect();
    let mut out: Vec<DesiredProcess> = target
        .iter()
        .filter(|t| held.contains_key(&t.id) || !retiring.iter().any(|r| clash(r, t)))
        .map(|t| held.get(&t.id).unwrap_or(t).clone())
        .collect();
    out.extend(retiring.into_iter().cloned());
    out
}

/// Whether two processes of one host run a module in common (the same ring member twice).
pub fn clash(a: &DesiredProcess, b: &DesiredProcess) -> bool {
    let modules = |p: &DesiredProcess| -> BTreeSet<crate::Role> {
        p.roles.iter().flat_map(|r| r.expand()).collect()
    };
    a.id != b.id && a.id.backend == b.id.backend && !modules(a).is_disjoint(&modules(b))
}

#[cfg(test)]
mod tests;
