//! The reconciler task: for every accepted desired state, render, observe, plan, execute,
//! and publish what was attempted on a `watch` channel.
//!
//! It runs once at start (with the state saved on disk, so a host comes back without the
//! coordinator) and then on every change. An apply with failed actions (or a host that could
//! not be observed) is retried with backoff until it succeeds or the state changes; a
//! successful apply is never repeated on a timer: systemd supervises the processes.

use std::sync::Arc;
use std::time::Duration;

use lgtm_model::HostName;
use lgtm_model::wire::{ActionResult, DesiredState};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;

use crate::agent::Tasks;
use crate::backoff::Backoff;
use crate::desired::Desired;
use crate::error_chain::chain;
use crate::events;
use crate::execute::execute;
use crate::fetcher::SharedDesired;
use crate::fs::Fs;
use crate::layout::Layout;
use crate::notify;
use crate::observed::observe;
use crate::plan::plan;
use crate::systemd::Systemd;

/// First retry of a failed apply; doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_secs(10);
/// Longest pause between retries of a failed apply.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// What the last apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyStatus {
    /// Index of the last desired state a plan was executed for (0: none).
    pub applied_index: u64,
    /// Result of each action of the last apply, or why it could not run.
    pub results: Vec<ActionResult>,
    /// Number of applies so far (so equal results still count as news).
    pub applies: u64,
    /// Something failed that a later attempt may fix.
    pub retry: bool,
}

/// Receiver of the reconciler's output.
#[derive(Clone, Debug)]
pub struct ReconcilerHandle {
    /// The last apply.
    pub status: watch::Receiver<ApplyStatus>,
}

/// Starts the reconciler on `desired` in `tasks`.
pub fn spawn<F, S>(
    tasks: &mut Tasks,
    mut desired: watch::Receiver<SharedDesired>,
    fs: F,
    systemd: S,
    layout: Layout,
    host: HostName,
) -> ReconcilerHandle
where
    F: Fs + Send + Sync + 'static,
    S: Systemd + Send + 'static,
{
    let (tx, status) = watch::channel(ApplyStatus::default());
    tasks.spawn(async move {
        let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
        let mut rng = StdRng::from_os_rng();
        loop {
            let current = desired.borrow_and_update().clone();
            let mut retry = false;
            if let Some(state) = current {
                let previous = tx.borrow().clone();
                let next = reconcile(&state, &previous, &fs, &systemd, &layout, &host).await;
                retry = next.retry;
                tx.send_replace(next);
            }
            if !retry {
                backoff.reset();
                if desired.changed().await.is_err() {
                    return "reconciler";
                }
                continue;
            }
            let delay = backoff.delay(&mut rng);
            let seconds = delay.as_secs();
            tracing::info!(seconds, "Retrying the failed actions in {seconds}s.");
            tokio::select! {
                r = desired.changed() => {
                    if r.is_err() {
                        return "reconciler";
                    }
                    backoff.reset();
                }
                _ = tokio::time::sleep(delay) => {}
            }
        }
    });
    ReconcilerHandle { status }
}

/// One pass: returns the new status given the previous one.
pub async fn reconcile(
    state: &Arc<DesiredState>,
    previous: &ApplyStatus,
    fs: &impl Fs,
    systemd: &impl Systemd,
    layout: &Layout,
    host: &HostName,
) -> ApplyStatus {
    let index = state.index;
    let refused = |action: String, error: String, retry: bool| ApplyStatus {
        applied_index: previous.applied_index,
        results: vec![ActionResult {
            action,
            ok: false,
            error: Some(error),
        }],
        applies: previous.applies + 1,
        retry,
    };
    let desired = match Desired::new(state, host, layout) {
        Ok(d) => d,
        Err(e) => {
            let error = chain(&e);
            tracing::error!(index, %error, "Refused a desired state, keeping what runs: {error}");
            notify::status(&format!("refused desired state index {index}"));
            // Rendering is pure: trying again would fail the same way.
            return refused(format!("accept desired state index {index}"), error, false);
        }
    };
    let observed = match observe(&desired, fs, systemd).await {
        Ok(o) => o,
        Err(e) => {
            let error = chain(&e);
            tracing::error!(index, %error, "Failed to observe the host: {error}");
            return refused(format!("observe the host for index {index}"), error, true);
        }
    };
    let actions = plan(&desired, &observed);
    notify::status(&format!(
        "applying desired state index {index}: {} actions",
        actions.len()
    ));
    let results = execute(&actions, fs, systemd).await;
    let failed = results.iter().filter(|r| !r.ok).count();
    events::reconciled(index, results.len(), failed);
    notify::status(&format!(
        "applied desired state index {index}: {} actions, {failed} failed",
        results.len()
    ));
    ApplyStatus {
        applied_index: index,
        results,
        applies: previous.applies + 1,
        retry: failed > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;
    use crate::layout::tests::layout;
    use crate::unit::tests::process;

    fn state(index: u64, procs: Vec<lgtm_model::wire::DesiredProcess>) -> Arc<DesiredState> {
        Arc::new(DesiredState {
            host: "h1".parse().unwrap(),
            index,
            processes: procs,
            gateway: None,
        })
    }

    #[tokio::test]
    async fn applies_then_keeps_still() {
        let host = FakeHost::default();
        let me: HostName = "h1".parse().unwrap();
        let s = state(4, vec![process(&["mimir:all"], "/var/lib/lgtm/mimir")]);
        let first = reconcile(&s, &ApplyStatus::default(), &host, &host, &layout(), &me).await;
        assert_eq!(first.applied_index, 4);
        assert!(first.results.iter().all(|r| r.ok), "{:?}", first.results);
        assert!(
            first
                .results
                .iter()
                .any(|r| r.action == "start lgtm-mimir.service")
        );
        // A restarted agent with the same state: nothing to do, nothing restarted.
        host.state().calls.clear();
        let again = reconcile(&s, &first, &host, &host, &layout(), &me).await;
        assert_eq!(again.results, vec![]);
        assert_eq!(host.state().calls, Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_refused_state_keeps_the_applied_index() {
        let host = FakeHost::default();
        let me: HostName = "h1".parse().unwrap();
        let good = state(4, vec![process(&["loki:all"], "/var/lib/lgtm/loki")]);
        let applied = reconcile(&good, &ApplyStatus::default(), &host, &host, &layout(), &me).await;
        let bad = state(
            5,
            vec![process(&["loki:all"], "/var/lib/lgtm/loki\nUser=root")],
        );
        host.state().calls.clear();
        let refused = reconcile(&bad, &applied, &host, &host, &layout(), &me).await;
        assert_eq!(refused.applied_index, 4);
        assert_eq!(refused.results.len(), 1);
        assert!(!refused.results[0].ok);
        assert!(refused.results[0].action.contains("index 5"));
        assert!(host.state().calls.is_empty(), "nothing touched");
    }

    #[tokio::test(start_paused = true)]
    async fn failed_actions_are_retried_until_they_succeed() {
        let host = std::sync::Arc::new(FakeHost::default());
        host.state().fail.insert("start lgtm-loki.service".into());
        let s = state(3, vec![process(&["loki:all"], "/var/lib/lgtm/loki")]);
        let (_tx, rx) = watch::channel(Some(s));
        let mut tasks = Tasks::new();
        let handle = spawn(
            &mut tasks,
            rx,
            host.clone(),
            host.clone(),
            layout(),
            "h1".parse().unwrap(),
        );
        let mut status = handle.status.clone();
        let first = status.wait_for(|s| s.applies == 1).await.unwrap().clone();
        assert!(first.retry);
        assert!(
            first
                .results
                .iter()
                .any(|r| r.action == "start lgtm-loki.service" && !r.ok)
        );
        host.state().fail.clear();
        // Paused time: the backoff sleep completes at once.
        let ok = status.wait_for(|s| !s.retry).await.unwrap().clone();
        assert_eq!(ok.applied_index, 3);
        let retried: Vec<_> = ok.results.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(
            retried,
            ["reset-failed lgtm-loki.service", "start lgtm-loki.service"],
            "only what failed is redone"
        );
    }

    #[tokio::test]
    async fn task_follows_the_channel() {
        let (tx, rx) = watch::channel(Some(state(1, vec![])));
        let mut tasks = Tasks::new();
        let handle = spawn(
            &mut tasks,
            rx,
            FakeHost::default(),
            FakeHost::default(),
            layout(),
            "h1".parse().unwrap(),
        );
        let mut status = handle.status.clone();
        status.wait_for(|s| s.applied_index == 1).await.unwrap();
        tx.send_replace(Some(state(2, vec![])));
        status.wait_for(|s| s.applied_index == 2).await.unwrap();
    }
}
