//! The observer task: what systemd and the backends say, published as `Vec<UnitStatus>`.
//!
//! Triggers: `PropertiesChanged` of any `lgtm-*` unit object (debounced 50 ms), a change of
//! the desired state or a finished apply, and a periodic full resync, because signals can be
//! missed (a bus hiccup, a unit loaded after we subscribed). Each resync lists the loaded
//! `lgtm-*` units plus every wanted unit, reads their service properties, probes `/ready` of
//! running wanted processes, and attaches the journal's last lines to a failure once. A
//! running wanted process that is not ready yet is probed again soon (100 ms, doubling up to
//! the probe interval): its readiness is reported when it comes, not a probe interval later.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::join_all;
use lgtm_model::process::{Ports, ProcessId};
use lgtm_model::wire::UnitStatus;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use zbus::message::Type;
use zbus::{MatchRule, MessageStream};

use crate::agent::Tasks;
use crate::error_chain::chain;
use crate::events;
use crate::fetcher::SharedDesired;
use crate::probe;
use crate::reconciler::ApplyStatus;
use crate::status::{RawUnit, failure, failure_key, reportable, unit_of_path, unit_status};
use crate::systemd::dbus::{Dbus, SERVICE_INTERFACE};
use crate::systemd::{SystemdError, journal_tail};

/// Timing of the observer.
#[derive(Clone, Copy, Debug)]
pub struct ObserverTiming {
    /// Full resync interval.
    pub resync: Duration,
    /// Readiness probe interval.
    pub probe: Duration,
    /// Quiet time after a signal before resyncing (signals come in bursts).
    pub debounce: Duration,
}

impl Default for ObserverTiming {
    fn default() -> Self {
        ObserverTiming {
            resync: Duration::from_secs(30),
            probe: Duration::from_secs(5),
            debounce: Duration::from_millis(50),
        }
    }
}

/// The first re-probe of a process that is running but not ready yet.
const QUICK_PROBE: Duration = Duration::from_millis(100);

/// The wait before the next re-probe of a process still not ready after `last`: doubling, up
/// to the regular probe interval.
fn next_quick(last: Option<Duration>, probe: Duration) -> Duration {
    last.map_or(QUICK_PROBE, |d| d.saturating_mul(2)).min(probe)
}

/// Receiver of the observer's output.
#[derive(Clone, Debug)]
pub struct ObserverHandle {
    /// Every managed unit systemd knows, plus every wanted one.
    pub units: watch::Receiver<Vec<UnitStatus>>,
}

/// Starts the observer in `tasks`.
pub fn spawn(
    tasks: &mut Tasks,
    dbus: Dbus,
    desired: watch::Receiver<SharedDesired>,
    applied: watch::Receiver<ApplyStatus>,
    timing: ObserverTiming,
) -> ObserverHandle {
    let (tx, units) = watch::channel(Vec::new());
    let observer = Observer {
        dbus,
        probe: probe::client(),
        journals: BTreeMap::new(),
        ready: BTreeMap::new(),
        raw: Vec::new(),
    };
    tasks.spawn(async move {
        observer.run(desired, applied, tx, timing).await;
        "observer"
    });
    ObserverHandle { units }
}

/// What woke the observer, for the log.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    Signal,
    Resync,
    Probe,
    Desired,
    Apply,
}

struct Observer {
    dbus: Dbus,
    probe: reqwest::Client,
    /// Journal lines per unit, with the failure they belong to.
    journals: BTreeMap<String, ((String, String, u32), String)>,
    /// Last probe result per wanted unit.
    ready: BTreeMap<String, probe::Readiness>,
    /// Last snapshot of systemd's view.
    raw: Vec<RawUnit>,
}

async fn signals(dbus: &Dbus) -> Result<MessageStream, zbus::Error> {
    let rule = MatchRule::builder()
        .msg_type(Type::Signal)
        .sender("org.freedesktop.systemd1")?
        .interface("org.freedesktop.DBus.Properties")?
        .member("PropertiesChanged")?
        .path_namespace("/org/freedesktop/systemd1/unit")?
        .build();
    MessageStream::for_match_rule(rule, dbus.connection(), Some(1024)).await
}

/// A unit the agent manages: a backend process or the gateway (which is not probed: nginx
/// serves no `/ready`, its state is systemd's).
fn managed(unit: &str) -> bool {
    ProcessId::from_unit_name(unit).is_some() || unit == crate::gateway::UNIT
}

fn wanted(desired: &watch::Receiver<SharedDesired>) -> BTreeMap<String, Ports> {
    desired
        .borrow()
        .as_ref()
        .map(|s| {
            s.processes
                .iter()
                .map(|p| (p.id.unit_name(), p.ports))
                .collect()
        })
        .unwrap_or_default()
}

impl Observer {
    async fn run(
        mut self,
        mut desired: watch::Receiver<SharedDesired>,
        mut applied: watch::Receiver<ApplyStatus>,
        tx: watch::Sender<Vec<UnitStatus>>,
        timing: ObserverTiming,
    ) {
        let mut stream = match signals(&self.dbus).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "Failed to watch unit signals ({e}); relying on resyncs.");
                None
            }
        };
        let mut resync = tokio::time::interval(timing.resync);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut probe = tokio::time::interval(timing.probe);
        probe.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut pending: Option<Instant> = None;
        // The next quick re-probe, and the step that led to it.
        let mut quick: Option<(Instant, Duration)> = None;
        loop {
            let trigger = tokio::select! {
                msg = async { stream.as_mut()?.next().await }, if stream.is_some() => {
                    match msg {
                        Some(Ok(m)) => {
                            let unit = m.header().path().and_then(|p| unit_of_path(p.as_str()));
                            if unit.as_deref().is_some_and(managed) {
                                pending.get_or_insert(Instant::now() + timing.debounce);
                            }
                        }
                        Some(Err(e)) => tracing::debug!(error = %e, "Bad signal."),
                        None => {
                            // The stream ends only with the bus connection: every later call
                            // would fail too. Ending the task makes the agent exit and systemd
                            // start it afresh with a new connection; backends keep running.
                            tracing::error!("Lost the D-Bus connection to systemd.");
                            return;
                        }
                    }
                    continue;
                }
                _ = async { tokio::time::sleep_until(pending.unwrap_or_else(Instant::now)).await },
                    if pending.is_some() => { pending = None; Trigger::Signal }
                _ = async { tokio::time::sleep_until(quick.map_or_else(Instant::now, |q| q.0)).await },
                    if quick.is_some() => Trigger::Probe,
                _ = resync.tick() => Trigger::Resync,
                _ = probe.tick() => Trigger::Probe,
                r = desired.changed() => { if r.is_err() { return; } Trigger::Desired }
                r = applied.changed() => { if r.is_err() { return; } Trigger::Apply }
            };
            let wanted = wanted(&desired);
            if !matches!(trigger, Trigger::Probe) {
                match self.snapshot(&wanted).await {
                    Ok(raw) => self.raw = raw,
                    Err(e) => {
                        let error = chain(&e);
                        tracing::warn!(%error, "Failed to read unit states: {error}");
                        continue;
                    }
                }
            }
            self.probe_ready(&wanted).await;
            quick = if self.ready.values().any(Result::is_err) {
                // Something else than a re-probe woke us: a fresh start, from the first step.
                let last = quick
                    .filter(|_| matches!(trigger, Trigger::Probe))
                    .map(|q| q.1);
                let step = next_quick(last, timing.probe);
                Some((Instant::now() + step, step))
            } else {
                None
            };
            let units = self.statuses(&wanted).await;
            let old = tx.borrow().clone();
            for u in &units {
                if old.iter().find(|o| o.unit == u.unit) != Some(u) {
                    events::unit_changed(u, &format!("{trigger:?}").to_lowercase());
                }
            }
            tx.send_if_modified(|current| {
                let changed = *current != units;
                *current = units;
                changed
            });
        }
    }

    /// systemd's view of every managed unit that is loaded or wanted.
    async fn snapshot(
        &self,
        wanted: &BTreeMap<String, Ports>,
    ) -> Result<Vec<RawUnit>, SystemdError> {
        let mut rows: Vec<_> = self
            .dbus
            .list("lgtm-*")
            .await?
            .into_iter()
            .filter(|r| managed(&r.0))
            .collect();
        let missing: Vec<String> = wanted
            .keys()
            .filter(|w| !rows.iter().any(|r| &r.0 == *w))
            .cloned()
            .collect();
        if !missing.is_empty() {
            rows.extend(self.dbus.by_names(&missing).await?);
        }
        let mut out = Vec::new();
        for (name, _, load_state, active_state, sub_state, _, path, ..) in rows {
            let mut raw = RawUnit {
                name,
                load_state,
                active_state,
                sub_state,
                ..RawUnit::default()
            };
            if raw.load_state == "loaded" {
                let props = self
                    .dbus
                    .properties(&path.as_ref(), SERVICE_INTERFACE)
                    .await?;
                let get = |k: &str| props.get(k);
                raw.n_restarts = get("NRestarts")
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0);
                raw.main_pid = get("MainPID")
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0);
                raw.exec_main_status = get("ExecMainStatus")
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or(0);
                raw.result = get("Result")
                    .and_then(|v| String::try_from(v.clone()).ok())
                    .unwrap_or_default();
            }
            if reportable(&raw, wanted.contains_key(&raw.name)) {
                out.push(raw);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Probes every running wanted process at once (each probe has its own timeout).
    async fn probe_ready(&mut self, wanted: &BTreeMap<String, Ports>) {
        let client = &self.probe;
        let probes = self
            .raw
            .iter()
            .filter(|r| r.active_state == "active")
            .filter_map(|r| Some((r.name.clone(), wanted.get(&r.name)?.http)))
            .map(|(name, port)| async move { (name, probe::ready(client, port).await) });
        self.ready = join_all(probes).await.into_iter().collect();
    }

    async fn statuses(&mut self, wanted: &BTreeMap<String, Ports>) -> Vec<UnitStatus> {
        let mut out = Vec::new();
        for raw in &self.raw {
            let readiness = self.ready.get(&raw.name);
            let error = match failure(raw, wanted.contains_key(&raw.name)) {
                None => {
                    self.journals.remove(&raw.name);
                    // Running but not ready: the backend's own reason.
                    readiness
                        .and_then(|r| r.as_ref().err())
                        .map(|why| format!("{}: not ready: {why}", raw.name))
                }
                Some(what) => {
                    let key = failure_key(raw);
                    let fresh = self.journals.get(&raw.name).is_some_and(|(k, _)| *k == key);
                    if !fresh {
                        let lines = journal_tail(&raw.name).await;
                        self.journals.insert(raw.name.clone(), (key, lines));
                    }
                    let lines = self
                        .journals
                        .get(&raw.name)
                        .map(|(_, l)| l.as_str())
                        .unwrap_or("");
                    Some(format!("{}: {what}{lines}", raw.name))
                }
            };
            out.push(unit_status(raw, readiness.map(Result::is_ok), error));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_probes_double_up_to_the_probe_interval() {
        let probe = Duration::from_secs(5);
        let mut last = None;
        let steps: Vec<u64> = (0..8)
            .map(|_| {
                let d = next_quick(last, probe);
                last = Some(d);
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
            })
            .collect();
        assert_eq!(steps, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
