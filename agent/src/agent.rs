//! Wiring: load the saved state, connect to systemd, start the four tasks, wait for a signal.
//!
//! ```text
//! fetcher ──desired──▶ reconciler ──applied──▶ observer ──units──▶ reporter
//!    └──────status───────────────────────────────────────────────────▲
//! ```
//! Each task owns its state and publishes on a `watch` channel. Stopping the agent stops
//! only the agent: backends are independent units and keep running.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

use crate::client::Client;
use crate::config::Settings;
use crate::credential::Tokens;
use crate::desired::Desired;
use crate::error_chain::chain;
use crate::fetcher::{self, FetcherConfig};
use crate::fs::RealFs;
use crate::layout::Layout;
use crate::ledger::Ledger;
use crate::metrics;
use crate::notify;
use crate::observer::{self, ObserverTiming};
use crate::reconciler;
use crate::reporter::{self, Sources};
use crate::systemd::SystemdError;
use crate::systemd::dbus::Dbus;

/// The agent's tasks; each ends with its name, which only happens when something broke.
pub type Tasks = JoinSet<&'static str>;

/// Long-poll wait of desired-state requests.
const POLL_WAIT: Duration = Duration::from_secs(30);

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("failed to connect to systemd")]
    Systemd(#[source] SystemdError),
    #[error("failed to install a signal handler")]
    Signal(#[source] std::io::Error),
    #[error("the coordinator's CA certificate (ca_file): {0}")]
    Ca(String),
    #[error("an agent task stopped ({0}); exiting so that systemd restarts the agent")]
    TaskEnded(String),
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<(), RunError> {
    let layout = Layout::from_settings(&settings);
    notify::status("loading the saved desired state");
    let ledger = match Ledger::load(layout.ledger_file(), &RealFs) {
        Ok(l) => l,
        Err(e) => {
            // Starting empty is safe: nothing is removed until the coordinator answers.
            let error = chain(&e);
            tracing::error!(%error, "Ignoring the saved desired state: {error}");
            Ledger::empty(layout.ledger_file())
        }
    };
    let saved = ledger.index();
    let mut term = signal(SignalKind::terminate()).map_err(RunError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RunError::Signal)?;
    let dbus = Dbus::connect().await.map_err(RunError::Systemd)?;

    let join = match join_token(&settings) {
        Ok(join) => join,
        Err(error) => {
            tracing::error!(%error, "Cannot read the join token: {error}");
            None
        }
    };
    let tokens = match Tokens::load(settings.state_dir.as_path(), join) {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::error!(%error, "Cannot read this host's credential: {error}");
            Tokens::default()
        }
    };
    let ca = match &settings.ca_file {
        None => None,
        Some(file) => Some(
            std::fs::read(file.as_path())
                .map_err(|e| format!("cannot read {file}: {e}"))
                .and_then(|pem| {
                    reqwest::Certificate::from_pem(&pem)
                        .map_err(|e| format!("{file} holds no PEM certificate: {e}"))
                })
                .map_err(RunError::Ca)?,
        ),
    };
    let client = Client::new(
        &settings.coordinator,
        settings.host_name.clone(),
        tokens,
        ca,
    );
    let check: fetcher::Check = {
        let (layout, host) = (layout.clone(), settings.host_name.clone());
        Arc::new(move |state| {
            Desired::new(state, &host, &layout)
                .map(drop)
                .map_err(|e| chain(&e))
        })
    };
    let mut tasks = Tasks::new();
    let fetcher = fetcher::spawn(
        &mut tasks,
        FetcherConfig {
            client: client.clone(),
            coordinator: settings.coordinator.clone(),
            address: settings.address,
            data_root: settings.data_root.clone(),
            wait: POLL_WAIT,
            check,
        },
        ledger,
    );
    let reconciler = reconciler::spawn(
        &mut tasks,
        fetcher.desired.clone(),
        RealFs,
        dbus.clone(),
        layout,
        settings.host_name.clone(),
    );
    let observer = observer::spawn(
        &mut tasks,
        dbus,
        fetcher.desired.clone(),
        reconciler.status.clone(),
        ObserverTiming::default(),
    );
    reporter::spawn(
        &mut tasks,
        client,
        settings.heartbeat,
        settings.data_root.clone(),
        Sources {
            fetch: fetcher.status.clone(),
            desired: fetcher.desired.clone(),
            applied: reconciler.status.clone(),
            units: observer.units.clone(),
        },
    );
    if let Some(addr) = settings.metrics_listen {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tasks.spawn(async move {
                    metrics::serve(listener).await;
                    "metrics server"
                });
            }
            // Metrics are for watching the agent, not for its work: it goes on without them.
            Err(error) => tracing::error!(
                %error,
                "Cannot serve metrics on {addr}: {error}; set metrics_listen to a free address, or \"off\"."
            ),
        }
    }
    let what = if saved == 0 {
        "no saved desired state".to_owned()
    } else {
        format!("applying saved desired state index {saved}")
    };
    notify::ready(&format!("{what}; polling {}", settings.coordinator));
    tracing::info!(
        host = %settings.host_name,
        coordinator = %settings.coordinator,
        saved_index = saved,
        "lgtm-agent {} started for host {} ({what}).",
        crate::client::AGENT_VERSION,
        settings.host_name
    );

    let mut watchdog = notify::watchdog_interval().map(tokio::time::interval);
    let ended = loop {
        tokio::select! {
            _ = term.recv() => break None,
            _ = int.recv() => break None,
            done = tasks.join_next() => {
                // A task only ends when it broke (a panic, a channel gone).
                break Some(match done {
                    Some(Ok(name)) => format!("the {name} ended"),
                    Some(Err(e)) => e.to_string(),
                    None => "no task is left".to_owned(),
                });
            }
            _ = async { watchdog.as_mut()?.tick().await; Some(()) }, if watchdog.is_some() => {
                notify::watchdog();
            }
        }
    };
    if let Some(task) = ended {
        return Err(RunError::TaskEnded(task));
    }
    notify::stopping();
    tracing::info!("lgtm-agent stopping; backends keep running.");
    Ok(())
}

/// The join token: `LGTM_JOIN_TOKEN`, else the configured `join_token_file`, else none.
fn join_token(settings: &Settings) -> Result<Option<String>, String> {
    if let Ok(t) = std::env::var("LGTM_JOIN_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(Some(t));
    }
    match &settings.join_token_file {
        None => Ok(None),
        Some(file) => match std::fs::read_to_string(file.as_path()) {
            Ok(t) => Ok(Some(t)),
            // Not needed once the host joined; reported only when it is.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {file}: {e}")),
        },
    }
}
