//! The reporter task: posts this host's report on every change (debounced) and as a
//! heartbeat. Reports are built from the other tasks' `watch` channels; a failed post is
//! logged and superseded by the next one, never queued.

use std::time::Duration;

use lgtm_model::wire::{ActionResult, Report, UnitStatus};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::agent::Tasks;
use crate::client::{AGENT_VERSION, Client};
use crate::error_chain::chain;
use crate::events;
use crate::facts::Facts;
use crate::fetcher::{FetchStatus, SharedDesired};
use crate::reconciler::ApplyStatus;
use crate::safe_path::SafePath;

/// Quiet time after a change before reporting (changes come in bursts).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// The channels a report is made of.
#[derive(Clone, Debug)]
pub struct Sources {
    /// The conversation with the coordinator.
    pub fetch: watch::Receiver<FetchStatus>,
    /// The accepted desired state (for data directories).
    pub desired: watch::Receiver<SharedDesired>,
    /// The last apply.
    pub applied: watch::Receiver<ApplyStatus>,
    /// Unit states.
    pub units: watch::Receiver<Vec<UnitStatus>>,
}

/// Builds a report (pure but for the facts passed in).
pub fn build(
    fetch: &FetchStatus,
    applied: &ApplyStatus,
    units: &[UnitStatus],
    facts: lgtm_model::wire::HostFacts,
) -> Report {
    let mut actions = applied.results.clone();
    if let Some(problem) = &fetch.problem {
        actions.push(ActionResult {
            action: "fetch the desired state".into(),
            ok: false,
            error: Some(problem.clone()),
        });
    }
    Report {
        applied_index: applied.applied_index,
        agent_version: AGENT_VERSION.to_owned(),
        units: units.to_vec(),
        actions,
        facts,
    }
}

/// Starts the reporter in `tasks`.
pub fn spawn(
    tasks: &mut Tasks,
    client: Client,
    heartbeat: Duration,
    data_root: SafePath,
    mut src: Sources,
) {
    tasks.spawn(async move {
        let mut facts = Facts::new();
        let mut beat = tokio::time::interval(heartbeat);
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = beat.tick() => {}
                r = src.applied.changed() => if r.is_err() { return "reporter" },
                r = src.units.changed() => if r.is_err() { return "reporter" },
                r = src.fetch.changed() => if r.is_err() { return "reporter" },
            }
            if !src.fetch.borrow().registered {
                continue;
            }
            tokio::time::sleep(DEBOUNCE).await;
            let dirs: Vec<String> = match src.desired.borrow().as_ref() {
                Some(s) if !s.processes.is_empty() => {
                    s.processes.iter().map(|p| p.data_dir.clone()).collect()
                }
                _ => vec![data_root.to_string()],
            };
            let report = build(
                &src.fetch.borrow_and_update(),
                &src.applied.borrow_and_update(),
                &src.units.borrow_and_update(),
                facts.gather(&dirs),
            );
            match client.report(&report).await {
                Ok(()) => events::reported(report.applied_index, report.units.len()),
                Err(e) => {
                    let error = chain(&e);
                    tracing::warn!(%error, "Failed to post the report: {error}");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_problems_are_reported_beside_the_last_apply() {
        let applied = ApplyStatus {
            applied_index: 7,
            results: vec![ActionResult {
                action: "start lgtm-mimir.service".into(),
                ok: true,
                error: None,
            }],
            applies: 1,
            retry: false,
        };
        let fetch = FetchStatus {
            registered: true,
            reachable: true,
            problem: Some("the coordinator cannot render this host's desired state: x".into()),
        };
        let r = build(&fetch, &applied, &[], Default::default());
        assert_eq!(r.applied_index, 7);
        assert_eq!(r.actions.len(), 2);
        assert!(!r.actions[1].ok && r.actions[1].error.as_deref().unwrap().contains("render"));
        let quiet = build(&FetchStatus::default(), &applied, &[], Default::default());
        assert_eq!(quiet.actions.len(), 1);
    }
}
