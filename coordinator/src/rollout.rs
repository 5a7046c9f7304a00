//! Drives the rollout: every second while restarts are pending, observes the processes of
//! the backends concerned (agents' reports; the ring pages of ring members restarting),
//! asks retiring ring members to flush and leave their rings ([`lgtm_model::drain`]), asks
//! the pure state machine ([`lgtm_model::rollout::advance`]) what to do, and records its
//! decisions through the cluster's writer. Observations stay in memory; a restarted
//! coordinator observes again, so a step's minimum healthy time starts over, and a flush
//! under way is asked for again (the backends' flush endpoints may be called twice).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lgtm_model::rollout::{self, Event, Health, ProcessKey, Tick, Waiting};
use lgtm_model::wire::{DesiredProcess, Report, RolloutProcess, RolloutStatus};
use lgtm_model::{Backend, drain, ring};

use crate::api::AppState;
use crate::cluster::{Op, RolloutOp, View};
use crate::reports::LastReport;

/// What the driver last saw of the processes in flight, for `lgtmctl rollout status`.
#[derive(Debug, Default)]
pub struct Notes(Mutex<BTreeMap<ProcessKey, String>>);

impl Notes {
    fn set(&self, notes: BTreeMap<ProcessKey, String>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = notes;
    }

    fn get(&self, key: &ProcessKey) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}

/// The rollout as the API shows it.
pub fn status(view: &View, notes: &Notes) -> RolloutStatus {
    let r = &view.rollout;
    let process = |key: &ProcessKey, stateful: bool, retire: bool| RolloutProcess {
        host: key.host.clone(),
        unit: key.process.unit_name(),
        stateful,
        note: notes.get(key),
        retire,
    };
    RolloutStatus {
        paused: r.machine.paused.as_ref().map(|p| p.reason.clone()),
        restarting: r
            .machine
            .steps
            .iter()
            .map(|s| process(&s.key, s.stateful, s.retire))
            .collect(),
        // A permitted process keeps its hold until the gateways let go of it: it is
        // restarting, no longer waiting.
        waiting: r
            .waiting
            .iter()
            .filter(|w| !r.machine.steps.iter().any(|s| s.key == w.key))
            .map(|w| process(&w.key, w.stateful, w.retire))
            .collect(),
    }
}

/// How long requests a gateway sent a process before leaving it out may take to finish
/// before the process restarts.
const IN_FLIGHT_GRACE_SECONDS: u64 = 5;

/// Runs until the coordinator stops.
pub async fn drive(state: AppState) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "rollout: no HTTP client; restarts stay held");
            return;
        }
    };
    let mut since = HashMap::new();
    let mut caught_up = HashMap::new();
    let flushes = Flushes::default();
    let mut changes = state.cluster.subscribe();
    loop {
        // Every second (health changes arrive with reports), and at once after a change
        // (a new hold, a decision recorded), so waves follow each other without a wait.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            changed = changes.changed() => if changed.is_err() { return },
        }
        tick(&state, &http, &mut since, &mut caught_up, &flushes).await;
    }
}

async fn tick(
    state: &AppState,
    http: &reqwest::Client,
    since: &mut HashMap<ProcessKey, u64>,
    caught_up: &mut HashMap<ProcessKey, u64>,
    flushes: &Flushes,
) {
    let view = state.cluster.view();
    let r = &view.rollout;
    if r.waiting.is_empty() && r.machine.steps.is_empty() {
        since.clear();
        caught_up.clear();
        flushes.retain(&BTreeSet::new());
        return;
    }
    let now = crate::credentials::now();
    let reports = state.reports.snapshot(Instant::now());
    let concerned: BTreeSet<Backend> = r
        .waiting
        .iter()
        .map(|w| w.key.process.backend)
        .chain(r.machine.steps.iter().map(|s| s.key.process.backend))
        .collect();
    let in_flight: BTreeSet<&ProcessKey> = r
        .machine
        .steps
        .iter()
        .filter(|s| !s.retire)
        .map(|s| &s.key)
        .collect();
    let permitted: BTreeSet<&ProcessKey> = r.machine.steps.iter().map(|s| &s.key).collect();
    // A released restart is through once its agent applied the index that carried it, even
    // if its host was given more since (another process's release).
    let released_at: BTreeMap<&ProcessKey, u64> = r
        .machine
        .steps
        .iter()
        .filter_map(|s| Some((&s.key, s.released_at?)))
        .collect();
    let mut health = BTreeMap::new();
    let mut stateful = BTreeSet::new();
    let mut notes = BTreeMap::new();
    for (host, hv) in &view.hosts {
        let Ok(content) = &hv.rendered else { continue };
        for p in content
            .processes
            .iter()
            .filter(|p| concerned.contains(&p.id.backend))
        {
            let key = ProcessKey {
                host: host.clone(),
                process: p.id,
            };
            let member = p.roles.iter().any(|r| r.is_stateful());
            let desired = released_at.get(&key).copied();
            let desired = desired.unwrap_or(hv.desired_index);
            let mut seen = observe(desired, reports.get(host), state.host_ttl, p);
            if seen == Seen::Up
                && member
                && in_flight.contains(&key)
                && view.settings.rollout.check_rings
                && let Err(why) = ring_healthy(http, hv.address, p).await
            {
                seen = Seen::Down(why);
            }
            let h = match seen {
                Seen::Up => Health::Healthy {
                    since: *since.entry(key.clone()).or_insert(now),
                },
                Seen::Down(why) => Health::Unhealthy(why),
                Seen::Unknown(why) => Health::Unknown(why),
                // A restart in flight is through only once its agent applied it; any other
                // process behind still serves, as healthy as at its agent's last report.
                Seen::Behind(why) if permitted.contains(&key) => Health::Unknown(why),
                Seen::Behind(_) => Health::Healthy {
                    since: *since.entry(key.clone()).or_insert(now),
                },
            };
            if let Health::Unhealthy(why) | Health::Unknown(why) = &h {
                since.remove(&key);
                if in_flight.contains(&key) {
                    notes.insert(key.clone(), why.clone());
                }
            }
            if member {
                stateful.insert(key.clone());
            }
            health.insert(key, h);
        }
    }
    // Drained once every gateway applied the upstreams without it and requests already on
    // their way to it had a moment to finish.
    let unreleased = r.machine.unreleased();
    caught_up.retain(|k, _| unreleased.contains(k));
    let drained: BTreeSet<ProcessKey> = unreleased
        .iter()
        .filter(|k| {
            if !gateways_caught_up(&view, &reports, state.host_ttl, k.process.backend) {
                caught_up.remove(*k);
                return false;
            }
            let at = *caught_up.entry((*k).clone()).or_insert(now);
            now.saturating_sub(at) >= IN_FLIGHT_GRACE_SECONDS
        })
        .cloned()
        .collect();
    let flushing = r.machine.flushing(&drained, now);
    flushes.retain(&flushing.iter().cloned().collect());
    let mut left = BTreeMap::new();
    for key in flushing {
        let process = view
            .hosts
            .get(&key.host)
            .and_then(|h| h.rendered.as_ref().ok().map(|c| (h.address, c)))
            .and_then(|(a, c)| {
                c.processes
                    .iter()
                    .find(|p| p.id == key.process)
                    .map(|p| (a, p))
            });
        let Some((address, process)) = process else {
            continue;
        };
        let peers = ring_peers(&view, &key, process);
        let verdict = flushes.step(http, &key, address, process, &peers).await;
        if let Err(why) = &verdict {
            notes.insert(key.clone(), why.clone());
        }
        left.insert(key, verdict);
    }
    let tick = Tick {
        now,
        policy: view.settings.rollout,
        waiting: &r.waiting,
        health: &health,
        stateful: &stateful,
        drained: &drained,
        left: &left,
    };
    if let Some(why) = rollout::blocked(&r.machine, &tick)
        && let Some(first) = r.waiting.first()
    {
        notes.insert(first.key.clone(), why);
    }
    state.rollout_notes.set(notes);
    let mut events = rollout::advance(&r.machine, &tick);
    if events.is_empty() {
        return;
    }
    let mut now = now;
    for e in &mut events {
        let Event::Flush(backend) = *e else { continue };
        if let Err(why) = flush_in_place(http, &view, &r.waiting, &health, backend).await {
            *e = Event::Pause(format!(
                "{backend}'s ingesters must flush before its queriers read at the higher replication factor, but {why}; fix it, then `lgtmctl rollout resume`"
            ));
        }
        // Settling counts from when the blocks are stored: after the flush answered.
        now = crate::credentials::now();
    }
    for e in &events {
        match e {
            Event::Permit(w) if w.retire => {
                tracing::info!(process = %w.key, "rollout: drain permitted");
            }
            Event::Permit(w) => tracing::info!(process = %w.key, "rollout: restart permitted"),
            Event::Release(key) if r.machine.steps.iter().any(|s| s.key == *key && s.retire) => {
                tracing::info!(process = %key, "rollout: flushed and out of its ring, removed");
            }
            Event::Release(key) => {
                tracing::info!(process = %key, "rollout: gateways drained, new config released");
            }
            Event::Done(key) if r.machine.steps.iter().any(|s| s.key == *key && s.retire) => {
                tracing::info!(process = %key, "rollout: retired");
            }
            Event::Done(key) => tracing::info!(process = %key, "rollout: restarted and healthy"),
            Event::Pause(why) => tracing::warn!(reason = %why, "rollout: paused"),
            Event::Flush(backend) => {
                tracing::info!(%backend, "rollout: ingesters flushed; queriers move once their block lists show it")
            }
            Event::Settled(backend) => {
                tracing::info!(%backend, "rollout: nothing waits for a flush any more")
            }
        }
    }
    let op = Op::Rollout(RolloutOp::Decide { events, now });
    if let Err(e) = state.cluster.apply(op).await {
        tracing::warn!(error = %e, "rollout: failed to record decisions; retrying");
    }
}

/// Flushes of retiring ring members, each run once by a task of its own (a flush can take
/// longer than a tick) and asked for again a few seconds after it failed.
#[derive(Default)]
struct Flushes(Arc<Mutex<HashMap<ProcessKey, Flush>>>);

#[derive(Clone, Debug)]
enum Flush {
    Running,
    Done,
    Failed(String, Instant),
}

/// How long a flush request may take: an ingester writes out everything it holds first.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);
/// How long after a failed flush it is asked for again.
const FLUSH_RETRY: Duration = Duration::from_secs(5);

impl Flushes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProcessKey, Flush>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets flushes of processes no longer retiring.
    fn retain(&self, keys: &BTreeSet<ProcessKey>) {
        self.lock().retain(|k, _| keys.contains(k));
    }

    /// Moves the retirement of `process` on: starts its flush, or once flushed, reads its
    /// ring page and those of its `peers`. `Ok` once it left its ring as they all see it.
    async fn step(
        &self,
        http: &reqwest::Client,
        key: &ProcessKey,
        address: Option<IpAddr>,
        process: &DesiredProcess,
        peers: &[SocketAddr],
    ) -> Result<(), String> {
        let Some(plan) = drain::flush(&process.roles) else {
            // Holds nothing the object store does not: it leaves its rings when stopped.
            return Ok(());
        };
        let address = address.ok_or("its host has no address")?;
        let http_at = SocketAddr::new(address, process.ports.http);
        let state = self.lock().get(key).cloned();
        match state {
            Some(Flush::Running) => Err("flushing".into()),
            Some(Flush::Failed(why, at)) if at.elapsed() < FLUSH_RETRY => Err(why),
            None | Some(Flush::Failed(..)) => {
                self.lock().insert(key.clone(), Flush::Running);
                tracing::info!(process = %key, "rollout: asking it to flush and leave its ring");
                let (flushes, key, http) = (self.0.clone(), key.clone(), http.clone());
                tokio::spawn(async move {
                    let outcome = match flush(&http, http_at, plan.calls).await {
                        Ok(()) => Flush::Done,
                        Err(why) => {
                            tracing::warn!(process = %key, reason = %why, "rollout: flush failed");
                            Flush::Failed(why, Instant::now())
                        }
                    };
                    let mut map = flushes.lock().unwrap_or_else(PoisonError::into_inner);
                    if map.contains_key(&key) {
                        map.insert(key, outcome);
                    }
                });
                Err("flushing".into())
            }
            Some(Flush::Done) => {
                let member = SocketAddr::new(address, process.ports.grpc).to_string();
                let url = format!("http://{http_at}{}", plan.ring);
                let page = fetch(http, &url)
                    .await
                    .map_err(|e| format!("flushed; its ring page {url} did not answer: {e}"))?;
                drain::left(&page, &member).map_err(|e| format!("flushed; {e}"))?;
                // Peers learn of it by gossip, a moment later; until they do, their
                // distributors still send it writes it refuses. A peer that does not answer
                // sends nothing.
                for peer in peers {
                    let url = format!("http://{peer}{}", plan.ring);
                    if let Ok(page) = fetch(http, &url).await {
                        drain::left(&page, &member)
                            .map_err(|e| format!("flushed; as {peer} sees it, {e}"))?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The HTTP addresses of the other processes of `key`'s backend that show the same ring.
fn ring_peers(view: &View, key: &ProcessKey, process: &DesiredProcess) -> Vec<SocketAddr> {
    let Some(ring) = drain::flush(&process.roles).map(|f| f.ring) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (host, hv) in &view.hosts {
        let (Some(address), Ok(content)) = (hv.address, &hv.rendered) else {
            continue;
        };
        out.extend(
            content
                .processes
                .iter()
                .filter(|p| p.id.backend == key.process.backend)
                .filter(|p| !(*host == key.host && p.id == key.process))
                .filter(|p| drain::flush(&p.roles).is_some_and(|f| f.ring == ring))
                .map(|p| SocketAddr::new(address, p.ports.http)),
        );
    }
    out
}

/// Makes `backend`'s ingesters that wait [`rollout::after_flush`] write what they hold to the
/// object store, staying in their rings: those are the ones holding data written at the old
/// replication factor. One that is not up holds nothing it could flush (it flushed when it
/// stopped), and could not answer: it is left alone.
async fn flush_in_place(
    http: &reqwest::Client,
    view: &View,
    waiting: &[Waiting],
    health: &BTreeMap<ProcessKey, Health>,
    backend: Backend,
) -> Result<(), String> {
    for w in waiting
        .iter()
        .filter(|w| w.key.process.backend == backend && w.after_flush.is_some())
        .filter(|w| matches!(health.get(&w.key), Some(Health::Healthy { .. })))
    {
        let Some(hv) = view.hosts.get(&w.key.host) else {
            continue;
        };
        let Ok(content) = &hv.rendered else { continue };
        let Some(p) = content.processes.iter().find(|p| p.id == w.key.process) else {
            continue;
        };
        if drain::flush(&p.roles).is_none() {
            continue;
        }
        let address = hv
            .address
            .ok_or_else(|| format!("{} has no address", w.key.host))?;
        let at = SocketAddr::new(address, p.ports.http);
        flush(http, at, &[drain::TEMPO_FLUSH])
            .await
            .map_err(|e| format!("{}: {e}", w.key))?;
        tracing::info!(process = %w.key, "rollout: flushed, staying in its ring");
    }
    Ok(())
}

/// Makes a process flush and leave its ring: each call in order, each must succeed.
async fn flush(http: &reqwest::Client, at: SocketAddr, calls: &[&str]) -> Result<(), String> {
    for call in calls {
        let url = format!("http://{at}{call}");
        let answer = http
            .post(&url)
            .timeout(FLUSH_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("POST {url} failed: {e}"))?;
        if !answer.status().is_success() {
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            return Err(format!(
                "POST {url} answered {status}: {}",
                body.trim().chars().take(200).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// Whether every gateway host of `backend` that reports applied what it is given now (which
/// leaves out the processes about to restart). A gateway host not heard from does not hold
/// the rollout up: it passes no traffic the coordinator could wait for.
fn gateways_caught_up(
    view: &View,
    reports: &BTreeMap<lgtm_model::HostName, LastReport>,
    ttl: Duration,
    backend: Backend,
) -> bool {
    view.hosts
        .iter()
        .filter(|(_, h)| {
            h.roles
                .iter()
                .any(|r| r.is_gateway() && r.backend() == backend)
        })
        .all(|(name, h)| match reports.get(name) {
            Some(last) if last.age <= ttl => last.report.applied_index >= h.desired_index,
            _ => true,
        })
}

/// A process as its agent's last report shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Runs what its host is given, active and ready.
    Up,
    /// Not, and why.
    Down(String),
    /// Served at its agent's last report, which predates the host's latest desired state:
    /// serving, but whether it runs that state is not known yet.
    Behind(String),
    /// Its agent is not heard from.
    Unknown(String),
}

/// What an agent's last report says of `process`, which runs what its host was given at
/// index `desired`.
pub fn observe(
    desired: u64,
    last: Option<&LastReport>,
    ttl: Duration,
    process: &DesiredProcess,
) -> Seen {
    let Some(last) = last else {
        return Seen::Unknown("its agent has not reported since the coordinator started".into());
    };
    if last.age > ttl {
        return Seen::Unknown(format!(
            "its agent is not heard from ({}s since its last report)",
            last.age.as_secs()
        ));
    }
    unit_seen(&last.report, desired, process)
}

/// Up only once the agent applied `desired` and the unit is active and ready. A unit that
/// served at the last report while its agent has not applied `desired` yet is behind: not
/// down (restarting it would take something away), and not through a restart either.
fn unit_seen(report: &Report, desired: u64, process: &DesiredProcess) -> Seen {
    let unit = process.id.unit_name();
    let Some(u) = report.units.iter().find(|u| u.unit == unit) else {
        return Seen::Down("not running".into());
    };
    if u.active_state != "active" {
        return Seen::Down(format!("{} ({})", u.active_state, u.sub_state));
    }
    if u.ready != Some(true) {
        return Seen::Down(u.error.clone().unwrap_or_else(|| "not ready".into()));
    }
    if report.applied_index < desired {
        return Seen::Behind(format!(
            "its agent has not applied index {desired} yet (applied {})",
            report.applied_index
        ));
    }
    Seen::Up
}

/// Whether every ring `process` is a member of shows all members ACTIVE, itself included.
async fn ring_healthy(
    http: &reqwest::Client,
    address: Option<IpAddr>,
    process: &DesiredProcess,
) -> Result<(), String> {
    let address = address.ok_or("its host has no address")?;
    let member = std::net::SocketAddr::new(address, process.ports.grpc).to_string();
    for page in ring::pages(&process.roles) {
        let url = format!(
            "http://{}{page}",
            std::net::SocketAddr::new(address, process.ports.http)
        );
        let body = fetch(http, &url)
            .await
            .map_err(|e| format!("its ring page {url} did not answer: {e}"))?;
        ring::verdict(&body, &member).map_err(|e| format!("{page}: {e}"))?;
    }
    Ok(())
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<String, reqwest::Error> {
    http.get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_model::wire::UnitStatus;

    fn process() -> DesiredProcess {
        let role: lgtm_model::Role = "loki:write".parse().unwrap();
        let id = lgtm_model::process::ProcessId::for_role(role);
        DesiredProcess {
            id,
            roles: vec![role],
            ports: id.ports(),
            config: String::new(),
            data_dir: "/d".into(),
        }
    }

    #[test]
    fn a_unit_is_ready_only_when_it_runs_what_the_host_is_given() {
        let p = process();
        let unit = |state: &str, ready, error: Option<&str>| UnitStatus {
            unit: "lgtm-loki-write.service".into(),
            active_state: state.into(),
            sub_state: "running".into(),
            ready,
            error: error.map(Into::into),
            ..UnitStatus::default()
        };
        let report = |applied, units| Report {
            applied_index: applied,
            units,
            ..Report::default()
        };
        assert_eq!(
            unit_seen(&report(7, vec![unit("active", Some(true), None)]), 7, &p),
            Seen::Up
        );
        // Serving, its agent behind: not down, so not restarted as if it were.
        assert_eq!(
            unit_seen(&report(6, vec![unit("active", Some(true), None)]), 7, &p),
            Seen::Behind("its agent has not applied index 7 yet (applied 6)".into())
        );
        assert_eq!(
            unit_seen(&report(6, vec![unit("failed", None, None)]), 7, &p),
            Seen::Down("failed (running)".into())
        );
        let cases = [
            (report(7, vec![]), "not running"),
            (
                report(7, vec![unit("activating", None, None)]),
                "activating (running)",
            ),
            (
                report(
                    7,
                    vec![unit(
                        "active",
                        Some(false),
                        Some(
                            "lgtm-loki-write.service: not ready: /ready answers 503: Ingester not ready",
                        ),
                    )],
                ),
                "not ready: /ready answers 503",
            ),
            (report(7, vec![unit("active", None, None)]), "not ready"),
        ];
        for (r, want) in cases {
            let Seen::Down(got) = unit_seen(&r, 7, &p) else {
                panic!("{want}: not down")
            };
            assert!(got.contains(want), "{got} / {want}");
        }
    }
}
