//! systemd notifications: READY once listening, STATUS lines as the cluster changes,
//! STOPPING on shutdown, WATCHDOG pings while the store thread runs. Outside systemd
//! (`NOTIFY_SOCKET` unset) every call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::cluster::Cluster;

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "failed to notify systemd");
    }
}

/// Tells systemd the service is ready.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Updates the status line `systemctl status` shows.
pub fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
}

/// Half the watchdog timeout, when systemd asked for pings.
pub fn watchdog_interval() -> Option<Duration> {
    let var = |k| std::env::var(k).ok();
    watchdog_interval_from(
        var("WATCHDOG_USEC").as_deref(),
        var("WATCHDOG_PID").as_deref(),
        std::process::id(),
    )
}

/// `sd_watchdog_enabled(3)`: pings are wanted when `WATCHDOG_USEC` is a positive number and
/// `WATCHDOG_PID`, if set, is this process.
pub fn watchdog_interval_from(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid
        && pid.parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

/// Pings the watchdog every `interval` while the store thread runs; a dead store thread
/// stops the pings, and systemd restarts the coordinator.
pub async fn watchdog(interval: Duration, cluster: Cluster) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        if cluster.is_running() {
            notify(&[NotifyState::Watchdog]);
        }
    }
}

/// Keeps the STATUS line in step with the cluster.
pub async fn follow_status(cluster: Cluster) {
    let mut views = cluster.subscribe();
    loop {
        let line = {
            let v = views.borrow_and_update();
            format!("index {}, {} hosts", v.index, v.hosts.len())
        };
        status(&line);
        if views.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_table() {
        let ms = Duration::from_millis;
        let cases = [
            (Some("2000000"), None, Some(ms(1000))),
            (Some("2000000"), Some("42"), Some(ms(1000))),
            (Some("2000000"), Some("43"), None),
            (Some("2000000"), Some("x"), None),
            (Some("0"), None, None),
            (Some("abc"), None, None),
            (None, Some("42"), None),
        ];
        for (usec, pid, want) in cases {
            assert_eq!(
                watchdog_interval_from(usec, pid, 42),
                want,
                "{usec:?} {pid:?}"
            );
        }
    }
}
