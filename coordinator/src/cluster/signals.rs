//! Per-host wake-ups for long-polls: a waiting agent is woken when its own host's desired
//! state moves, not by every change to any host. With 10,000 agents waiting, waking them all
//! for each change (a host joining, a readiness report) costs more than the changes do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use lgtm_model::HostName;
use tokio::sync::Notify;

use super::View;

/// The signals of hosts someone waits for.
#[derive(Debug, Default)]
pub struct Signals(Mutex<HashMap<HostName, Weak<Notify>>>);

impl Signals {
    /// The signal of `host`, shared by everyone waiting for it.
    pub fn of(&self, host: &HostName) -> Arc<Notify> {
        let mut waited = self.lock();
        if let Some(signal) = waited.get(host).and_then(Weak::upgrade) {
            return signal;
        }
        let signal = Arc::new(Notify::new());
        waited.insert(host.clone(), Arc::downgrade(&signal));
        signal
    }

    /// Wakes whoever waits for a host whose desired index differs between the two views
    /// (a host gone counts), and forgets hosts nobody waits for any more.
    pub fn wake(&self, before: &View, after: &View) {
        self.lock().retain(|host, signal| {
            let Some(signal) = signal.upgrade() else {
                return false;
            };
            if before.desired_index(host) != after.desired_index(host) {
                signal.notify_waiters();
            }
            true
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HostName, Weak<Notify>>> {
        // Every update is a single insert or remove: the map is valid after a panic elsewhere.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
