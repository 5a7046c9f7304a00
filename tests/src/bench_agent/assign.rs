//! Assignment latency: `lgtmctl assign-role` returning → the unit active on the host.
//!
//! The end is systemd's own `ActiveEnterTimestampMonotonic` (µs, the moment the unit became
//! active: READY=1 for Mimir's Type=notify), read once the unit is seen active; the start is
//! this process's clock right after `lgtmctl` exited. Polling speed therefore does not limit
//! the resolution, which is that of the clock read after `waitpid` (well under 1 ms).
//! Each cycle also times the unassignment until systemd no longer has the unit file
//! (`LoadState=not-found`), by polling every 100 ms: that figure is coarse.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use lgtm_model::wire::AssignResponse;
use lgtm_tests::lab::{Lab, wait_for};

use super::clock::{ms_between, now_us};
use super::stats::Samples;
use super::unit::{agent_events, num, props};

/// Timestamps of one assignment.
#[derive(Clone, Debug)]
pub struct Cycle {
    /// Host number.
    pub host: usize,
    /// Desired-state index of the assignment.
    pub index: u64,
    /// `lgtmctl` exited.
    pub returned_us: u64,
    /// The unit's main process was started (`ExecMainStartTimestampMonotonic`).
    pub exec_us: u64,
    /// The unit became active (`ActiveEnterTimestampMonotonic`).
    pub active_us: u64,
}

/// What the cycles measured.
#[derive(Debug, Default)]
pub struct AssignFigures {
    /// lgtmctl returned → unit active.
    pub assign: Samples,
    /// lgtmctl unassign-role returned → unit file gone (100 ms polling).
    pub unassign: Samples,
    /// Per-phase breakdown lines.
    pub phases: Vec<String>,
}

const PATIENCE: Duration = Duration::from_secs(120);

/// Assigns `role` (a role of Mimir's shared process) to hosts 1, 2, 3, 1, ... `cycles`
/// times, each time waiting for the unit active, then unassigning it and waiting for it gone.
pub fn run(lab: &Lab, role: &str, unit: &str, cycles: usize) -> anyhow::Result<AssignFigures> {
    let mut figures = AssignFigures::default();
    let mut done = Vec::new();
    for i in 0..cycles {
        let n = i % lab.hosts().len() + 1;
        let host = lab.host(n);
        let started = now_us();
        let answer = lab.lgtmctl_ok(&["--output", "json", "assign-role", host.name(), role])?;
        let returned_us = now_us();
        let answer: AssignResponse =
            serde_json::from_str(&answer).context("assign-role's JSON answer")?;
        let what = format!("{unit} active on {}", host.name());
        let p = wait_for(&what, PATIENCE, || {
            let p = props(
                host,
                unit,
                &[
                    "ActiveState",
                    "ActiveEnterTimestampMonotonic",
                    "ExecMainStartTimestampMonotonic",
                ],
            )
            .ok()?;
            // A stale timestamp from an earlier cycle is older than this assignment.
            (p.get("ActiveState").map(String::as_str) == Some("active")
                && num(&p, "ActiveEnterTimestampMonotonic") > started)
                .then_some(p)
        })?;
        let cycle = Cycle {
            host: n,
            index: answer.index,
            returned_us,
            exec_us: num(&p, "ExecMainStartTimestampMonotonic"),
            active_us: num(&p, "ActiveEnterTimestampMonotonic"),
        };
        figures
            .assign
            .push(ms_between(returned_us, cycle.active_us));
        done.push(cycle);

        lab.lgtmctl_ok(&["unassign-role", "--force", host.name(), role])?;
        let unassigned = now_us();
        wait_for(
            &format!("{unit} gone from {}", host.name()),
            PATIENCE,
            || {
                let p = props(host, unit, &["LoadState"]).ok()?;
                (p.get("LoadState").map(String::as_str) == Some("not-found")).then_some(())
            },
        )?;
        figures.unassign.push(ms_between(unassigned, now_us()));
    }
    figures.phases = phases(lab, &done)?;
    Ok(figures)
}

/// Where the time goes, from the agent's journal: lgtmctl returned → agent accepted the
/// desired state (long-poll wake-up) → daemon-reload done (files written, systemd reloaded)
/// → main process started (enable, start job) → active (the backend's own start).
fn phases(lab: &Lab, cycles: &[Cycle]) -> anyhow::Result<Vec<String>> {
    let mut accepted: BTreeMap<(usize, u64), u64> = BTreeMap::new();
    let mut reloads: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for host in lab.hosts() {
        for e in agent_events(host, "lgtm_agent_desired_accepted_total")? {
            if let Ok(index) = e.field("F_INDEX").parse() {
                accepted.entry((host.number(), index)).or_insert(e.mono_us);
            }
        }
        let actions = agent_events(host, "lgtm_agent_actions_total")?;
        reloads.insert(
            host.number(),
            actions
                .iter()
                .filter(|e| e.field("F_ACTION") == "daemon-reload")
                .map(|e| e.mono_us)
                .collect(),
        );
    }
    let (mut wake, mut reload, mut start, mut ready) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    for c in cycles {
        let Some(&acc) = accepted.get(&(c.host, c.index)) else {
            continue;
        };
        let Some(&rel) = reloads
            .get(&c.host)
            .and_then(|r| r.iter().find(|t| **t >= acc && **t <= c.active_us))
        else {
            continue;
        };
        wake.push(ms_between(c.returned_us, acc));
        reload.push(ms_between(acc, rel));
        start.push(ms_between(rel, c.exec_us));
        ready.push(ms_between(c.exec_us, c.active_us));
    }
    Ok(vec![
        format!(
            "  lgtmctl returned -> agent accepted the desired state: {}",
            wake.summary()
        ),
        format!(
            "  accepted -> files written and daemon-reload done:    {}",
            reload.summary()
        ),
        format!(
            "  daemon-reload done -> main process started:         {}",
            start.summary()
        ),
        format!(
            "  main process started -> unit active (READY=1):      {}",
            ready.summary()
        ),
    ])
}
