//! The fetcher task: registers the host, long-polls its desired state, keeps the ledger and
//! publishes the accepted state on a `watch` channel.
//!
//! It owns the [`Ledger`]: a state is saved before anyone sees it. Refused states (older
//! index, conflicting content, another host) and render errors from the coordinator are
//! published as a problem for the report; the previous state stays in force. Connection
//! failures back off exponentially with jitter.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lgtm_model::wire::DesiredState;
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::Url;
use tokio::sync::watch;

use crate::agent::Tasks;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::client::{Client, ClientError, Poll};
use crate::error_chain::chain;
use crate::events;
use crate::fs::RealFs;
use crate::ledger::Ledger;
use crate::route;
use crate::safe_path::SafePath;

/// The accepted desired state, as published.
pub type SharedDesired = Option<Arc<DesiredState>>;

/// How the conversation with the coordinator goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchStatus {
    /// The coordinator accepted our registration.
    pub registered: bool,
    /// The last request reached the coordinator.
    pub reachable: bool,
    /// The last desired state could not be taken (render error, refusal); `None` once one was.
    pub problem: Option<String>,
}

/// Checks a desired state before it is saved (it must render completely on this host).
pub type Check = Arc<dyn Fn(&DesiredState) -> Result<(), String> + Send + Sync>;

/// What the fetcher needs.
#[derive(Clone)]
pub struct FetcherConfig {
    /// The coordinator client.
    pub client: Client,
    /// The coordinator's URL (to find the route's source address).
    pub coordinator: Url,
    /// Address to register; `None`: the route's source address.
    pub address: Option<IpAddr>,
    /// Data root to register.
    pub data_root: SafePath,
    /// Long-poll wait.
    pub wait: Duration,
    /// Refuses states that cannot be applied here, so the ledger keeps the last good one.
    pub check: Check,
}

/// Receivers of the fetcher's output.
#[derive(Clone, Debug)]
pub struct FetcherHandle {
    /// The accepted desired state (initially the one saved on disk).
    pub desired: watch::Receiver<SharedDesired>,
    /// The conversation's status.
    pub status: watch::Receiver<FetchStatus>,
}

/// Starts the fetcher with the saved `ledger` in `tasks`.
pub fn spawn(tasks: &mut Tasks, cfg: FetcherConfig, ledger: Ledger) -> FetcherHandle {
    let (desired_tx, desired) = watch::channel(ledger.current().cloned().map(Arc::new));
    let (status_tx, status) = watch::channel(FetchStatus::default());
    tasks.spawn(async move {
        run(cfg, ledger, desired_tx, status_tx).await;
        "fetcher"
    });
    FetcherHandle { desired, status }
}

async fn run(
    cfg: FetcherConfig,
    mut ledger: Ledger,
    desired: watch::Sender<SharedDesired>,
    status: watch::Sender<FetchStatus>,
) {
    let mut rng = StdRng::from_os_rng();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let set = |f: &dyn Fn(&mut FetchStatus)| {
        status.send_if_modified(|s| {
            let before = s.clone();
            f(s);
            *s != before
        });
    };
    let mut last_poll: Option<Instant> = None;
    // Failed attempts in a row, to log once when the coordinator answers again.
    let mut failures: u32 = 0;
    loop {
        if !status.borrow().registered {
            match register(&cfg).await {
                Ok(address) => {
                    tracing::info!(%address, host = %cfg.client.host(), "Registered at {address} with the coordinator.");
                    set(&|s| {
                        s.registered = true;
                        s.reachable = true;
                    });
                    backoff.reset();
                }
                Err(error) => {
                    tracing::warn!(%error, "Failed to register with the coordinator: {error}");
                    failures += 1;
                    set(&|s| s.reachable = false);
                    tokio::time::sleep(backoff.delay(&mut rng)).await;
                    continue;
                }
            }
        }
        // A coordinator that answers at once with the same state must not make us spin.
        if let Some(t) = last_poll {
            tokio::time::sleep_until(t + Duration::from_secs(1)).await;
        }
        let started = Instant::now();
        let polled = cfg.client.desired(ledger.index(), cfg.wait).await;
        if polled.is_ok() && failures > 0 {
            tracing::info!(
                failures,
                "Reached the coordinator again after {failures} failed attempts."
            );
            failures = 0;
        }
        match polled {
            Ok(Poll::State(state)) => {
                set(&|s| s.reachable = true);
                let index = state.index;
                let accepted = (cfg.check)(&state)
                    .and_then(|()| ledger.accept(state, &RealFs).map_err(|e| chain(&e)));
                match accepted {
                    Ok(changed) => {
                        set(&|s| s.problem = None);
                        backoff.reset();
                        if changed {
                            events::desired_accepted(index);
                            desired.send_replace(ledger.current().cloned().map(Arc::new));
                        }
                        last_poll = (!changed).then_some(started);
                    }
                    Err(problem) => {
                        tracing::error!(index, error = %problem, "Refused a desired state: {problem}");
                        set(&|s| s.problem = Some(problem.clone()));
                        tokio::time::sleep(backoff.delay(&mut rng)).await;
                    }
                }
            }
            Ok(Poll::Unchanged) => {
                set(&|s| s.reachable = true);
                backoff.reset();
                last_poll = Some(started);
            }
            Err(ClientError::UnknownHost(_)) => {
                tracing::warn!("The coordinator does not know this host; registering again.");
                set(&|s| s.registered = false);
            }
            Err(e @ ClientError::Unauthorized { .. }) => {
                // Backends keep running on the state they have; only new changes wait.
                let error = chain(&e);
                tracing::error!(%error, "This host's credential was refused; backends keep running. If it was revoked, give this host a new join token (join_token_file): {error}");
                set(&|s| {
                    s.registered = false;
                    s.reachable = true;
                });
                tokio::time::sleep(backoff.delay(&mut rng)).await;
            }
            Err(e @ (ClientError::Render(_) | ClientError::Unreadable(_))) => {
                let problem = chain(&e);
                tracing::error!(error = %problem, "Keeping the current desired state: {problem}");
                set(&|s| {
                    s.reachable = true;
                    s.problem = Some(problem.clone());
                });
                tokio::time::sleep(backoff.delay(&mut rng)).await;
            }
            Err(e) => {
                let error = chain(&e);
                tracing::warn!(%error, "Failed to fetch the desired state: {error}");
                failures += 1;
                set(&|s| s.reachable = false);
                tokio::time::sleep(backoff.delay(&mut rng)).await;
            }
        }
    }
}

async fn register(cfg: &FetcherConfig) -> Result<IpAddr, String> {
    let address = match cfg.address {
        Some(a) => a,
        None => route::source_address(&cfg.coordinator)
            .await
            .map_err(|e| format!("failed to find the route to {}: {e}", cfg.coordinator))?,
    };
    cfg.client
        .register(address, &cfg.data_root)
        .await
        .map_err(|e| chain(&e))?;
    Ok(address)
}
