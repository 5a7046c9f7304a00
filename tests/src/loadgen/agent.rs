//! One simulated agent: the first desired-state fetch, then a long-poll loop and a report
//! every few seconds, like `lgtm-agent` without systemd behind it.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lgtm_client::{Client, Poll};
use lgtm_model::HostName;
use lgtm_model::wire::{HostFacts, Report, UnitStatus};
use tokio::sync::Notify;

use super::stats::Samples;

/// How long a long-poll asks the coordinator to hold the request.
pub const LONG_POLL_WAIT: Duration = Duration::from_secs(30);

/// State shared by every simulated agent and the conductor.
pub struct Shared {
    /// Whether latencies are recorded now (not during the fan-out).
    pub measuring: AtomicBool,
    /// Latencies of reports.
    pub reports: Mutex<Samples>,
    /// Latencies of long-polls answered at once (the first fetch with index 0), recorded
    /// whenever they happen: they are the start.
    pub immediate: Mutex<Samples>,
    /// Failed requests (connection errors, non-2xx answers).
    pub errors: AtomicUsize,
    /// The first error seen, for the operator.
    pub first_error: Mutex<Option<String>>,
    /// Agents holding their first desired state.
    pub started: AtomicUsize,
    /// The cluster index just before the fan-out change: an agent has the change once it
    /// receives a desired state past it. `u64::MAX` until the change is made.
    pub fanout_baseline: AtomicU64,
    /// Agents that received `fanout_index`.
    pub fanout_arrived: AtomicUsize,
    /// Woken whenever an agent arrives.
    pub arrival: Notify,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            measuring: AtomicBool::new(false),
            reports: Mutex::default(),
            immediate: Mutex::default(),
            errors: AtomicUsize::new(0),
            first_error: Mutex::new(None),
            started: AtomicUsize::new(0),
            fanout_baseline: AtomicU64::new(u64::MAX),
            fanout_arrived: AtomicUsize::new(0),
            arrival: Notify::new(),
        }
    }
}

impl Shared {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(what);
        }
    }

    fn record(&self, samples: &Mutex<Samples>, d: Duration) {
        if self.measuring.load(Ordering::Relaxed)
            && let Ok(mut s) = samples.lock()
        {
            s.push(d);
        }
    }
}

/// One agent's fixed parameters.
pub struct Agent {
    /// Host name, `sim-00001`.
    pub host: HostName,
    /// The API with the host's credential (its connections shared by a group of agents).
    pub api: Client,
    /// Unit the host's role runs, reported as active.
    pub unit: String,
    /// Delay before the first request (spreads the start).
    pub start_after: Duration,
    /// Report interval.
    pub report_every: Duration,
}

impl Agent {
    /// Runs until the task is aborted.
    pub async fn run(self, shared: Arc<Shared>) {
        tokio::time::sleep(self.start_after).await;
        let applied = Arc::new(AtomicU64::new(0));
        let polls = self.poll_loop(&shared, &applied);
        let reports = self.report_loop(&shared, &applied);
        tokio::join!(polls, reports);
    }

    async fn poll_loop(&self, shared: &Shared, applied: &AtomicU64) {
        let mut index = 0u64;
        loop {
            let first = index == 0;
            let started = Instant::now();
            let state = match self.api.desired(&self.host, index, LONG_POLL_WAIT).await {
                Ok(Poll::State(s)) => s,
                Ok(Poll::Unchanged) => continue,
                Err(e) => {
                    shared.error(format!("GET desired of {}: {e}", self.host));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if first {
                if let Ok(mut s) = shared.immediate.lock() {
                    s.push(started.elapsed());
                }
                shared.started.fetch_add(1, Ordering::Relaxed);
                shared.arrival.notify_one();
            }
            let baseline = shared.fanout_baseline.load(Ordering::Acquire);
            if index <= baseline && state.index > baseline {
                shared.fanout_arrived.fetch_add(1, Ordering::AcqRel);
                shared.arrival.notify_one();
            }
            index = state.index;
            // Applying is instant here: what is measured is the coordinator.
            applied.store(index, Ordering::Relaxed);
        }
    }

    async fn report_loop(&self, shared: &Shared, applied: &AtomicU64) {
        let mut tick = tokio::time::interval(self.report_every);
        // A report held up (the start, a fan-out) is not followed by a burst of catch-ups: a
        // real agent reports on change and every interval, not twice to make up.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let report = Report {
                applied_index: applied.load(Ordering::Relaxed),
                agent_version: "loadgen".into(),
                // A simulated host runs no backend: its unit is reported stopped, so a change
                // that restarts it is released at once (nothing serving is taken away) and the
                // fan-out measures delivery, not the rollout's pace.
                units: vec![UnitStatus {
                    unit: self.unit.clone(),
                    active_state: "inactive".into(),
                    sub_state: "dead".into(),
                    main_pid: 0,
                    ready: None,
                    ..UnitStatus::default()
                }],
                actions: Vec::new(),
                facts: HostFacts {
                    cpus: 4,
                    load1: 0.25,
                    memory_total_bytes: 8 << 30,
                    memory_available_bytes: 6 << 30,
                    disks: Vec::new(),
                },
            };
            let started = Instant::now();
            match self.api.report(&self.host, &report).await {
                Ok(()) => shared.record(&shared.reports, started.elapsed()),
                Err(e) => shared.error(format!("POST report of {}: {e}", self.host)),
            }
        }
    }
}
