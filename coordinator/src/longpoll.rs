//! Long-polls of a host's desired state: answer at once when the host is past the index the
//! agent has, else wait on the cluster's `watch` channel until it moves, the wait expires or
//! the coordinator shuts down. A waiting request is one future; nothing polls.

use std::sync::Arc;
use std::time::Duration;

use lgtm_model::HostName;
use tokio::sync::watch;

use crate::cluster::{Cluster, View};
use crate::metrics::Metrics;

/// The longest a single long-poll waits; longer requests are capped to it.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

/// Why a `wait` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("wait='{0}' is not a duration; use a number with a unit: 500ms, 30s, 5m (at most 10m)")]
pub struct BadWait(pub String);

/// Parses `500ms`, `30s`, `5m` or `1h`, capped to [`MAX_WAIT`].
pub fn parse_wait(s: &str) -> Result<Duration, BadWait> {
    let bad = || BadWait(s.escape_debug().to_string());
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() || digits.len() > 9 {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(bad()),
    };
    Ok(d.min(MAX_WAIT))
}

/// Waits until `host`'s desired index passes `index` (or the host goes away), `wait` expires,
/// or `shutdown` turns true; returns the view to answer from.
pub async fn wait_past(
    cluster: &Cluster,
    host: &HostName,
    index: u64,
    wait: Duration,
    mut shutdown: watch::Receiver<bool>,
    metrics: &Metrics,
) -> Arc<View> {
    let moved = |v: &View| v.desired_index(host).is_none_or(|i| i > index);
    let now = cluster.view();
    if moved(&now) || wait.is_zero() {
        return now;
    }
    drop(now);
    let _waiting = metrics.waiting();
    let signal = cluster.signals().of(host);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let raised = signal.notified();
        tokio::pin!(raised);
        // Listening before looking: a change published after the look still wakes us.
        raised.as_mut().enable();
        // Not held while waiting: with thousands waiting across many changes, each would
        // pin a copy of every host.
        let now = cluster.view();
        if moved(&now) {
            return now;
        }
        drop(now);
        tokio::select! {
            () = raised => {}
            () = tokio::time::sleep_until(deadline) => return cluster.view(),
            _ = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => return cluster.view(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits() {
        let ok = [
            ("500ms", Duration::from_millis(500)),
            ("0s", Duration::ZERO),
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("10m", MAX_WAIT),
            ("11m", MAX_WAIT),
            ("2h", MAX_WAIT),
        ];
        for (input, want) in ok {
            assert_eq!(parse_wait(input), Ok(want), "{input}");
        }
        for bad in [
            "",
            "30",
            "s",
            "-1s",
            "1.5s",
            "30 s",
            "30sec",
            "1d",
            "99999999999s",
            "٣s",
        ] {
            let e = parse_wait(bad).unwrap_err().to_string();
            assert!(e.contains("use a number with a unit"), "{bad}: {e}");
        }
    }
}
