//! What a running stand-in knows and records: its modules, readiness, injected faults, and
//! every client request it served (method, path, serving module, tenant).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use serde::Serialize;
use tokio::sync::watch;

use super::storage::Location;

/// Requests kept for `/standin/requests`; older ones are dropped (counters stay exact).
const KEEP: usize = 10_000;

/// One client request the stand-in served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The module that served it.
    pub target: String,
    /// `X-Scope-OrgID`, when sent.
    pub tenant: Option<String>,
}

/// The object-storage check of one location, as `/standin/storage` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StorageCheck {
    /// Where, and with which access key (the secret is never serialized).
    pub location: Location,
    /// The object written and read back.
    pub key: String,
    /// Whether the last attempt wrote and read the object.
    pub ok: bool,
    /// Why the last attempt failed (`None` once it worked or before the first).
    pub error: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
}

impl StorageCheck {
    /// Not attempted yet.
    pub fn pending(location: Location, key: String) -> StorageCheck {
        StorageCheck {
            location,
            key,
            ok: false,
            error: None,
            attempts: 0,
        }
    }
}

#[derive(Default)]
struct Log {
    requests: VecDeque<Recorded>,
    counts: BTreeMap<(String, String), u64>,
}

/// A module's state as `/services` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceState {
    Starting,
    Running,
    Stopping,
    Terminated,
}

impl ServiceState {
    /// dskit's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Starting => "Starting",
            ServiceState::Running => "Running",
            ServiceState::Stopping => "Stopping",
            ServiceState::Terminated => "Terminated",
        }
    }
}

/// Shared state of one stand-in process.
pub struct Shared {
    /// Which backend it answers as.
    pub backend: Backend,
    /// `<hostname>/<targets>`: the `X-Lgtm-Served-By` header.
    pub served_by: String,
    /// Modules it runs (targets expanded).
    pub modules: Vec<String>,
    /// Effective config text, for `/config`.
    pub config_text: String,
    ready_at: Instant,
    /// A frontend without a scheduler: ready only with a querier connected.
    needs_queriers: bool,
    queriers: AtomicI64,
    stopping: AtomicBool,
    ingester_down: AtomicBool,
    slow_ms: AtomicU64,
    log: Mutex<Log>,
    storage: Mutex<Vec<StorageCheck>>,
    exit: watch::Sender<Option<i32>>,
}

impl Shared {
    /// New state; `/ready` turns 200 after `ready_delay`.
    pub fn new(
        backend: Backend,
        served_by: String,
        modules: Vec<String>,
        config_text: String,
        ready_delay: Duration,
        needs_queriers: bool,
    ) -> Shared {
        Shared {
            backend,
            served_by,
            modules,
            config_text,
            ready_at: Instant::now() + ready_delay,
            needs_queriers,
            queriers: AtomicI64::new(0),
            stopping: AtomicBool::new(false),
            ingester_down: AtomicBool::new(false),
            slow_ms: AtomicU64::new(0),
            log: Mutex::new(Log::default()),
            storage: Mutex::new(Vec::new()),
            exit: watch::Sender::new(None),
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether it runs `module`.
    pub fn runs(&self, module: &str) -> bool {
        self.modules.iter().any(|m| m == module)
    }

    /// State of `module` now.
    pub fn service_state(&self, module: &str) -> ServiceState {
        if self.stopping.load(Ordering::SeqCst) {
            ServiceState::Stopping
        } else if module == "ingester" && self.ingester_down.load(Ordering::SeqCst) {
            ServiceState::Terminated
        } else if Instant::now() < self.ready_at {
            ServiceState::Starting
        } else {
            ServiceState::Running
        }
    }

    /// A querier connected (`1`) to or went from (`-1`) this frontend.
    pub fn querier_connected(&self, delta: i64) {
        self.queriers.fetch_add(delta, Ordering::SeqCst);
    }

    /// `None` when ready, else the 503 body.
    pub fn not_ready(&self) -> Option<String> {
        if self.stopping.load(Ordering::SeqCst) {
            return Some("Application is stopping".into());
        }
        if let Some(c) = self.storage().iter().find(|c| !c.ok) {
            let why = c.error.as_deref().unwrap_or("not checked yet");
            return Some(format!(
                "object storage is not usable: {} bucket {}: {why}",
                c.location.purpose, c.location.bucket
            ));
        }
        let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.modules {
            let s = self.service_state(m);
            if s != ServiceState::Running {
                *by_state.entry(s.as_str()).or_default() += 1;
            }
        }
        if by_state.is_empty() {
            if self.needs_queriers && self.queriers.load(Ordering::SeqCst) <= 0 {
                return Some(
                    "Query Frontend not ready: not ready: number of queriers connected to query-frontend is 0".into(),
                );
            }
            return None;
        }
        let lines: Vec<String> = by_state.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        Some(format!(
            "Some services are not Running:\n{}",
            lines.join("\n")
        ))
    }

    fn storage_guard(&self) -> MutexGuard<'_, Vec<StorageCheck>> {
        self.storage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every object-storage check (empty when the config stores on local disk).
    pub fn storage(&self) -> Vec<StorageCheck> {
        self.storage_guard().clone()
    }

    /// Sets the checks to run; `/ready` waits for all of them.
    pub fn set_storage(&self, checks: Vec<StorageCheck>) {
        *self.storage_guard() = checks;
    }

    /// The last error of check `i`.
    pub fn storage_error(&self, i: usize) -> Option<String> {
        self.storage_guard().get(i).and_then(|c| c.error.clone())
    }

    /// Records an attempt of check `i`: `None` when it worked.
    pub fn record_storage(&self, i: usize, error: Option<String>) {
        if let Some(c) = self.storage_guard().get_mut(i) {
            c.attempts += 1;
            c.ok = error.is_none();
            c.error = error;
        }
    }

    /// Records a served client request.
    pub fn record(&self, r: Recorded, path_label: String) {
        let mut log = self.log();
        *log.counts
            .entry((path_label, r.target.clone()))
            .or_default() += 1;
        if log.requests.len() == KEEP {
            log.requests.pop_front();
        }
        log.requests.push_back(r);
    }

    /// Every recorded request still kept, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log().requests.iter().cloned().collect()
    }

    /// Forgets recorded requests (counters stay).
    pub fn clear_requests(&self) {
        self.log().requests.clear();
    }

    /// Served request counts by (path, target).
    pub fn counts(&self) -> Vec<((String, String), u64)> {
        self.log()
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// The injected delay before every answer.
    pub fn slow(&self) -> Duration {
        Duration::from_millis(self.slow_ms.load(Ordering::SeqCst))
    }

    /// Sets the injected delay.
    pub fn set_slow(&self, ms: u64) {
        self.slow_ms.store(ms, Ordering::SeqCst);
    }

    /// Marks the ingester stopped (`/ingester/shutdown`): `/ready` turns 503.
    pub fn shut_ingester(&self) {
        self.ingester_down.store(true, Ordering::SeqCst);
    }

    /// Whether its ingester was shut down (it left its ring).
    pub fn ingester_shut(&self) -> bool {
        self.ingester_down.load(Ordering::SeqCst)
    }

    /// Marks the process as stopping: `/ready` answers 503.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Asks the process to exit gracefully with `code`.
    pub fn request_exit(&self, code: i32) {
        self.exit.send_replace(Some(code));
    }

    /// Watches exit requests.
    pub fn exit_requests(&self) -> watch::Receiver<Option<i32>> {
        self.exit.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(delay: Duration) -> Shared {
        Shared::new(
            Backend::Mimir,
            "h/all".into(),
            vec!["distributor".into(), "ingester".into()],
            String::new(),
            delay,
            false,
        )
    }

    #[test]
    fn a_frontend_without_queriers_is_not_ready() {
        let s = Shared::new(
            Backend::Tempo,
            "h/query-frontend".into(),
            vec!["query-frontend".into()],
            String::new(),
            Duration::ZERO,
            true,
        );
        assert!(
            s.not_ready()
                .unwrap()
                .contains("number of queriers connected to query-frontend is 0")
        );
        s.querier_connected(1);
        assert_eq!(s.not_ready(), None);
        s.querier_connected(-1);
        assert!(s.not_ready().is_some());
    }

    #[test]
    fn readiness_follows_delay_ingester_and_stop() {
        let s = shared(Duration::from_secs(3600));
        assert_eq!(
            s.not_ready().as_deref(),
            Some("Some services are not Running:\nStarting: 2")
        );
        let s = shared(Duration::ZERO);
        assert_eq!(s.not_ready(), None);
        s.shut_ingester();
        assert_eq!(
            s.not_ready().as_deref(),
            Some("Some services are not Running:\nTerminated: 1")
        );
        assert_eq!(s.service_state("distributor"), ServiceState::Running);
        s.set_stopping();
        assert_eq!(s.not_ready().as_deref(), Some("Application is stopping"));
    }

    #[test]
    fn records_are_bounded_and_counted() {
        let s = shared(Duration::ZERO);
        let r = Recorded {
            method: "POST".into(),
            path: "/api/v1/push".into(),
            target: "distributor".into(),
            tenant: None,
        };
        for _ in 0..KEEP + 5 {
            s.record(r.clone(), r.path.clone());
        }
        assert_eq!(s.requests().len(), KEEP);
        assert_eq!(
            s.counts(),
            vec![(
                ("/api/v1/push".into(), "distributor".into()),
                (KEEP + 5) as u64
            )]
        );
        s.clear_requests();
        assert!(s.requests().is_empty());
    }
}
