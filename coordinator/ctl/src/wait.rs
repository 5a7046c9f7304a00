//! Waiting for a host to converge: a pure [`decide`] over one status snapshot, and the loop.
//!
//! A host has converged on a goal when its agent reports an applied index at least the goal's
//! (capped at the host's own desired index: a change that did not alter this host's desired
//! state never reaches it; a gateway host's whole desired index, since its routes follow
//! readiness), every unit its roles need is `active` and every backend process
//! among them answers `/ready` (the gateway, which has no `/ready`, only needs `active`), and
//! units that must go are no longer reported.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use lgtm_model::process::{ProcessId, processes};
use lgtm_model::wire::{ClusterStatus, HostStatus, Known, Liveness, RolloutProcess};
use lgtm_model::{Backend, HostName};

use crate::client::Client;
use crate::error::CtlError;
use crate::output::printable;

/// The shortest pause between two status polls.
const POLL_MIN: Duration = Duration::from_millis(50);

/// The longest pause between two status polls: a long wait (a real backend's warm-up, a
/// rollout) costs a large cluster's coordinator at most two status answers a second.
const POLL_MAX: Duration = Duration::from_millis(500);

/// The pause before the next poll, `waited` into the wait, the last status answer having
/// taken `answer`: a tenth of the time waited so far (a convergence is seen at most 10 %
/// late), at least four answers' time (a large cluster's status is polled at most a fifth
/// of the time), within [`POLL_MIN`]..=[`POLL_MAX`].
fn next_pause(waited: Duration, answer: Duration) -> Duration {
    (waited / 10)
        .max(answer.saturating_mul(4))
        .clamp(POLL_MIN, POLL_MAX)
}

/// What to wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goal {
    /// The host.
    pub host: HostName,
    /// The index the agent must have applied.
    pub index: u64,
    /// Units that must be gone from the report (those of an unassigned role).
    pub gone: Vec<String>,
}

/// What a switch of `backend` waits for, from a status taken after it was accepted at
/// `index`: every host that runs the backend now, or still reports a unit of it, applied the
/// switch, runs its roles active and ready, and lost the backend's units it no longer runs
/// (old ring members once drained), in host order.
pub fn switch_goals(status: &ClusterStatus, backend: Backend, index: u64) -> Vec<Goal> {
    status
        .hosts
        .iter()
        .filter_map(|h| {
            let needed: Vec<String> = processes(&Known::known_values(&h.roles))
                .keys()
                .map(|p| p.unit_name())
                .collect();
            let gone: Vec<String> = h
                .units
                .iter()
                .filter(|u| {
                    ProcessId::from_unit_name(&u.unit).is_some_and(|p| p.backend == backend)
                })
                .map(|u| u.unit.clone())
                .filter(|u| !needed.contains(u))
                .collect();
            let runs = h
                .roles
                .iter()
                .any(|r| r.known().is_some_and(|r| r.backend() == backend));
            (runs || !gone.is_empty()).then(|| Goal {
                host: h.name.clone(),
                index,
                gone,
            })
        })
        .collect()
}

/// The verdict on one status snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Converged; the text says what was reached.
    Done(String),
    /// Not yet; the text says what is missing.
    Waiting(String),
    /// It will not converge by itself; the text is the unit's or the action's error.
    Failed(String),
}

/// Decides from one status whether the goal is reached, still pending, or failed.
pub fn decide(status: &ClusterStatus, goal: &Goal) -> Verdict {
    let Some(h) = status.hosts.iter().find(|h| h.name == goal.host) else {
        return Verdict::Failed(format!(
            "host {} is not known to the coordinator; check the name with `lgtmctl hosts`",
            goal.host
        ));
    };
    if let Some(v) = rollout(status, goal) {
        return v;
    }
    // A gateway's routes follow the readiness of what it routes to, which changes its desired
    // state after the goal was set: it has converged once it routes by what is ready now.
    let target = if h
        .roles
        .iter()
        .any(|r| r.known().is_some_and(|r| r.is_gateway()))
    {
        h.desired_index
    } else {
        goal.index.min(h.desired_index)
    };
    let Some(applied) = h.applied_index else {
        return Verdict::Waiting(format!(
            "{}: waiting for its agent's first report (start lgtm-agent on it)",
            h.name
        ));
    };
    if applied < target {
        let stale = if h.liveness == Liveness::Stale {
            ", agent STALE"
        } else {
            ""
        };
        return Verdict::Waiting(format!(
            "{}: agent applied index {applied}, waiting for {target}{stale}",
            h.name
        ));
    }
    if let Some(failed) = failed_actions(h) {
        return Verdict::Failed(failed);
    }
    let mut needed: Vec<String> = processes(&Known::known_values(&h.roles))
        .keys()
        .map(|p| p.unit_name())
        .collect();
    // Gateway roles are no backend process: the host's one nginx unit serves them all.
    if h.roles
        .iter()
        .any(|r| r.known().is_some_and(|r| r.is_gateway()))
    {
        needed.push("lgtm-gateway.service".into());
    }
    for unit in &needed {
        let Some(u) = h.units.iter().find(|u| &u.unit == unit) else {
            return Verdict::Waiting(format!("{}: {unit} not reported yet", h.name));
        };
        match u.active_state.as_str() {
            "active" if ProcessId::from_unit_name(unit).is_none() || u.ready == Some(true) => {}
            "active" => {
                let why = u
                    .error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .and_then(|e| e.split_once(": not ready: "))
                    .map_or(String::new(), |(_, why)| format!(": {why}"));
                return Verdict::Waiting(format!(
                    "{}: {unit} is active, not ready yet{why}",
                    h.name
                ));
            }
            "failed" => {
                let why = u.error.clone().unwrap_or_else(|| {
                    format!(
                        "{} (exit status {}, {} restarts)",
                        u.sub_state, u.exec_main_status, u.n_restarts
                    )
                });
                return Verdict::Failed(format!("{}: {unit} failed: {}", h.name, why.trim_end()));
            }
            other => {
                let restarts = match u.n_restarts {
                    0 => String::new(),
                    n => format!(", {n} restarts"),
                };
                let last = u
                    .error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .map_or(String::new(), |e| format!(": {e}"));
                return Verdict::Waiting(format!(
                    "{}: {unit} is {other}/{}{restarts}{last}",
                    h.name, u.sub_state
                ));
            }
        }
    }
    if let Some(u) = h
        .units
        .iter()
        .find(|u| goal.gone.contains(&u.unit) && !needed.contains(&u.unit))
    {
        return Verdict::Waiting(format!(
            "{}: {} still present ({})",
            h.name, u.unit, u.active_state
        ));
    }
    let units = if needed.is_empty() {
        "no units".to_owned()
    } else {
        format!("{} active and ready", needed.join(", "))
    };
    Verdict::Done(format!("{} applied index {applied}: {units}", h.name))
}

/// A process of the host that the rollout still restarts or holds back: the host has not
/// converged until the rollout is through with it, and will not while the rollout is paused.
fn rollout(status: &ClusterStatus, goal: &Goal) -> Option<Verdict> {
    let r = &status.rollout;
    let note = |p: &RolloutProcess| {
        p.note.as_deref().map_or(String::new(), |n| {
            format!(": {}", n.lines().next().unwrap_or_default())
        })
    };
    if let Some(p) = r.restarting.iter().find(|p| p.host == goal.host) {
        if let Some(why) = &r.paused {
            return Some(Verdict::Failed(format!(
                "{}: {} restarted, and the rollout is paused ({why}); `lgtmctl rollout resume` continues it",
                p.host, p.unit
            )));
        }
        let doing = if p.retire {
            "draining (flush, leave its ring)"
        } else {
            "restarting"
        };
        return Some(Verdict::Waiting(format!(
            "{}: {} {doing} in the rollout{}",
            p.host,
            p.unit,
            note(p)
        )));
    }
    let p = r.waiting.iter().find(|p| p.host == goal.host)?;
    Some(match &r.paused {
        Some(why) => Verdict::Failed(format!(
            "{}: {} waits for its restart, and the rollout is paused ({why}); `lgtmctl rollout resume` continues it",
            p.host, p.unit
        )),
        None => Verdict::Waiting(format!(
            "{}: {} waits for its turn{} in the rollout{}",
            p.host,
            p.unit,
            if p.retire { " to drain" } else { "" },
            note(p)
        )),
    })
}

fn failed_actions(h: &HostStatus) -> Option<String> {
    if h.failed_actions.is_empty() {
        return None;
    }
    let lines: Vec<String> = h
        .failed_actions
        .iter()
        .map(|a| {
            let why = a.error.as_deref().unwrap_or("no reason given");
            format!("{}: {}", a.action, why.trim_end())
        })
        .collect();
    Some(format!("{}: {}", h.name, lines.join("; ")))
}

/// Polls the status until [`decide`] says done or failed, or `timeout` passes.
///
/// On a terminal, stderr shows one updating progress line; otherwise nothing until the end.
pub async fn until(client: &Client, goal: &Goal, timeout: Duration) -> Result<String, CtlError> {
    let started = Instant::now();
    let mut progress = Progress::new();
    loop {
        let asked = Instant::now();
        let answer = client.status().await;
        let answered = asked.elapsed();
        let last = match answer {
            Ok(status) => match decide(&status.value, goal) {
                Verdict::Done(text) => {
                    progress.clear();
                    return Ok(text);
                }
                Verdict::Failed(text) => {
                    progress.clear();
                    return Err(CtlError::WaitFailed(text));
                }
                Verdict::Waiting(text) => text,
            },
            // The coordinator restarting is no reason to give up while time is left.
            Err(e) => e.to_string(),
        };
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            progress.clear();
            return Err(CtlError::WaitTimeout {
                host: goal.host.to_string(),
                waited: timeout,
                last,
            });
        }
        progress.show(&format!("[{}s] {last}", elapsed.as_secs()));
        let pause = next_pause(elapsed, answered);
        tokio::time::sleep(pause.min(timeout - elapsed)).await;
    }
}

/// A single status line on stderr, only when stderr is a terminal.
struct Progress {
    tty: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn show(&mut self, text: &str) {
        if self.tty {
            let line: String = printable(text).chars().take(120).collect();
            // \r and "erase line" redraw the same line.
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
            self.shown = false;
        }
    }
}

#[cfg(test)]
mod tests;
