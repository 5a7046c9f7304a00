//! Running the coordinator: open the store, listen, serve until SIGTERM/SIGINT, shut down
//! gracefully (long-polls answer at once, in-flight changes finish, the store closes).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::cluster::{Cluster, StartError, Writer};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::metrics::Metrics;
use crate::reports::Reports;
use crate::store::SqliteStore;
use crate::systemd;

/// A ready-to-serve coordinator over a state directory.
#[derive(Debug)]
pub struct App {
    /// The API.
    pub router: Router,
    /// The state behind it.
    pub state: AppState,
    /// Set to true to make waiting long-polls answer at once.
    pub shutdown: watch::Sender<bool>,
    /// The store thread.
    pub writer: Writer,
}

impl App {
    /// Opens (or creates) the SQLite state in `state_dir` and builds the API over it.
    pub fn open(state_dir: &Path, host_ttl: Duration) -> Result<App, StartError> {
        let store = SqliteStore::open(state_dir)?;
        let credentials = Arc::new(Credentials::open(state_dir)?);
        let (cluster, writer) = Cluster::start(Box::new(store))?;
        let (shutdown, stopping) = watch::channel(false);
        let state = AppState {
            cluster,
            reports: Arc::new(Reports::default()),
            metrics: Arc::new(Metrics::default()),
            host_ttl,
            shutdown: stopping,
            credentials,
            rollout_notes: Arc::default(),
        };
        Ok(App {
            router: api::router(state.clone()),
            state,
            shutdown,
            writer,
        })
    }
}

/// Why the coordinator could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("failed to start the cluster from {state_dir}")]
    Start {
        /// The state directory.
        state_dir: String,
        #[source]
        source: StartError,
    },
    #[error("failed to listen on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to set up TLS in {state_dir}")]
    Tls {
        /// The state directory.
        state_dir: String,
        #[source]
        source: crate::tls::TlsError,
    },
    #[error("failed to serve HTTP")]
    Serve(#[source] std::io::Error),
    #[error("failed to wait for the store thread")]
    Join(#[source] tokio::task::JoinError),
}

/// Runs the coordinator in the foreground until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let dir = config.state_dir.clone();
    let ttl = config.host_ttl;
    let app = tokio::task::spawn_blocking(move || App::open(&dir, ttl))
        .await
        .map_err(ServeError::Join)?
        .map_err(|source| ServeError::Start {
            state_dir: config.state_dir.display().to_string(),
            source,
        })?;
    let tls = tls_acceptor(&config)?;
    let listener = listen(config.listen).map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let index = app.state.cluster.view().index;
    let ca = crate::tls::dir(&config.state_dir).join(crate::tls::CA_FILE);
    tracing::info!(%addr, index, state_dir = %config.state_dir.display(), ca = %ca.display(), "listening (HTTPS; clients pin the CA)");
    systemd::ready(&format!("listening on {addr}, index {index}"));

    let mut helpers = vec![tokio::spawn(systemd::follow_status(
        app.state.cluster.clone(),
    ))];
    if let Some(interval) = systemd::watchdog_interval() {
        helpers.push(tokio::spawn(systemd::watchdog(
            interval,
            app.state.cluster.clone(),
        )));
    }
    helpers.push(tokio::spawn(crate::readiness::expire(app.state.clone())));
    helpers.push(tokio::spawn(crate::rollout::drive(app.state.clone())));
    let App {
        router,
        state,
        shutdown,
        writer,
    } = app;
    drop(state);
    crate::connections::serve(listener, tls, router, signalled(shutdown))
        .await
        .map_err(ServeError::Serve)?;
    for helper in helpers {
        helper.abort();
        let _ = helper.await;
    }
    // Every cluster handle is gone now: the store thread drains and closes the database.
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(ServeError::Join)?;
    tracing::info!("stopped");
    Ok(())
}

/// Connections the kernel queues before the coordinator accepts them (capped by
/// `net.core.somaxconn`): when a fleet reconnects at once, after a coordinator restart, a
/// full queue drops connections that the clients retry only after 1, 3 and 7 seconds.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The TLS acceptor, creating the CA and certificate at the first start.
fn tls_acceptor(config: &Config) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    let err = |source| ServeError::Tls {
        state_dir: config.state_dir.display().to_string(),
        source,
    };
    let names = crate::tls::sans(Some(config.listen), &config.tls_sans);
    if let Some(done) = crate::tls::ensure(&config.state_dir, &names).map_err(err)? {
        let dir = crate::tls::dir(&config.state_dir);
        tracing::info!(dir = %dir.display(), names = ?names, "{done}");
    }
    crate::tls::acceptor(&config.state_dir).map_err(err)
}

/// Resolves on SIGTERM or SIGINT, after telling long-polls and systemd.
async fn signalled(shutdown: watch::Sender<bool>) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to watch SIGTERM; stop with SIGINT");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
    systemd::stopping();
    shutdown.send_replace(true);
}
