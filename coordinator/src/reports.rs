//! The last report of every host, in memory only: heartbeats must not write to disk, and a
//! restarted coordinator learns everything again within one report interval.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lgtm_model::HostName;
use lgtm_model::wire::Report;

/// A host's last report and how long ago it came.
#[derive(Clone, Debug)]
pub struct LastReport {
    /// The report.
    pub report: Arc<Report>,
    /// Time since it arrived.
    pub age: Duration,
}

/// Last reports by host.
#[derive(Debug, Default)]
pub struct Reports {
    last: Mutex<HashMap<HostName, (Arc<Report>, Instant)>>,
}

impl Reports {
    /// Keeps `report` as `host`'s latest, received at `now`.
    pub fn record(&self, host: HostName, report: Report, now: Instant) {
        self.lock().insert(host, (Arc::new(report), now));
    }

    /// Forgets a removed host.
    pub fn forget(&self, host: &HostName) {
        self.lock().remove(host);
    }

    /// Every host's last report, aged as of `now`.
    pub fn snapshot(&self, now: Instant) -> BTreeMap<HostName, LastReport> {
        self.lock()
            .iter()
            .map(|(h, (report, at))| {
                let last = LastReport {
                    report: report.clone(),
                    age: now.saturating_duration_since(*at),
                };
                (h.clone(), last)
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HostName, (Arc<Report>, Instant)>> {
        // The map is valid after any panic elsewhere: each update is a single insert or remove.
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
