//! Drives the rollout: every second while restarts are pending, observes the processes of
//! the backends concerned (agents' reports; the ring pages of ring members restarting),
//! asks the pure state machine ([`lgtm_model::rollout::advance`]) what to do, and records
//! its decisions through the cluster's writer. Observations stay in memory; a restarted
//! coordinator observes again, so a step's minimum healthy time starts over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lgtm_model::rollout::{self, Event, Health, ProcessKey, Tick};
use lgtm_model::wire::{DesiredProcess, Report, RolloutProcess, RolloutStatus};
use lgtm_model::{Backend, ring};

use crate::api::AppState;
use crate::cluster::{HostView, Op, RolloutOp, View};
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
    let process = |key: &ProcessKey, stateful: bool| RolloutProcess {
        host: key.host.clone(),
        unit: key.process.unit_name(),
        stateful,
        note: notes.get(key),
    };
    RolloutStatus {
        paused: r.machine.paused.as_ref().map(|p| p.reason.clone()),
        restarting: r
            .machine
            .steps
            .iter()
            .map(|s| process(&s.key, s.stateful))
            .collect(),
        // A permitted process keeps its hold until the gateways let go of it: it is
        // restarting, no longer waiting.
        waiting: r
            .waiting
            .iter()
            .filter(|w| !r.machine.steps.iter().any(|s| s.key == w.key))
            .map(|w| process(&w.key, w.stateful))
            .collect(),
    }
}

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
    let mut changes = state.cluster.subscribe();
    loop {
        // Every second (health changes arrive with reports), and at once after a change
        // (a new hold, a decision recorded), so waves follow each other without a wait.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            changed = changes.changed() => if changed.is_err() { return },
        }
        tick(&state, &http, &mut since).await;
    }
}

async fn tick(state: &AppState, http: &reqwest::Client, since: &mut HashMap<ProcessKey, u64>) {
    let view = state.cluster.view();
    let r = &view.rollout;
    if r.waiting.is_empty() && r.machine.steps.is_empty() {
        since.clear();
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
    let in_flight: BTreeSet<&ProcessKey> = r.machine.steps.iter().map(|s| &s.key).collect();
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
            let mut seen = observe(hv, reports.get(host), state.host_ttl, p);
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
    let drained: BTreeSet<ProcessKey> = r
        .machine
        .unreleased()
        .iter()
        .filter(|k| gateways_caught_up(&view, &reports, state.host_ttl, k.process.backend))
        .cloned()
        .collect();
    let tick = Tick {
        now,
        policy: view.settings.rollout,
        waiting: &r.waiting,
        health: &health,
        stateful: &stateful,
        drained: &drained,
    };
    if let Some(why) = rollout::blocked(&r.machine, &tick)
        && let Some(first) = r.waiting.first()
    {
        notes.insert(first.key.clone(), why);
    }
    state.rollout_notes.set(notes);
    let events = rollout::advance(&r.machine, &tick);
    if events.is_empty() {
        return;
    }
    for e in &events {
        match e {
            Event::Permit(w) => tracing::info!(process = %w.key, "rollout: restart permitted"),
            Event::Release(key) => {
                tracing::info!(process = %key, "rollout: gateways drained, new config released");
            }
            Event::Done(key) => tracing::info!(process = %key, "rollout: restarted and healthy"),
            Event::Pause(why) => tracing::warn!(reason = %why, "rollout: paused"),
        }
    }
    let op = Op::Rollout(RolloutOp::Decide { events, now });
    if let Err(e) = state.cluster.apply(op).await {
        tracing::warn!(error = %e, "rollout: failed to record decisions; retrying");
    }
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
    /// Its agent is not heard from.
    Unknown(String),
}

/// What an agent's last report says of `process`.
pub fn observe(
    host: &HostView,
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
    match unit_ready(&last.report, host.desired_index, process) {
        Ok(()) => Seen::Up,
        Err(why) => Seen::Down(why),
    }
}

fn unit_ready(report: &Report, desired: u64, process: &DesiredProcess) -> Result<(), String> {
    if report.applied_index < desired {
        return Err(format!(
            "its agent has not applied index {desired} yet (applied {})",
            report.applied_index
        ));
    }
    let unit = process.id.unit_name();
    let u = report
        .units
        .iter()
        .find(|u| u.unit == unit)
        .ok_or("not running")?;
    if u.active_state != "active" {
        return Err(format!("{} ({})", u.active_state, u.sub_state));
    }
    if u.ready != Some(true) {
        return Err(u.error.clone().unwrap_or_else(|| "not ready".into()));
    }
    Ok(())
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
            unit_ready(&report(7, vec![unit("active", Some(true), None)]), 7, &p),
            Ok(())
        );
        let cases = [
            (
                report(6, vec![unit("active", Some(true), None)]),
                "has not applied index 7 yet (applied 6)",
            ),
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
            let got = unit_ready(&r, 7, &p).unwrap_err();
            assert!(got.contains(want), "{got} / {want}");
        }
    }
}
