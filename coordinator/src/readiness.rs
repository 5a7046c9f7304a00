//! Keeps the cluster's readiness, which gateway upstreams follow, in step with the agents:
//! a report that changes which processes of a host are ready, or a host going stale (no
//! report within the TTL: powered off, cut off), becomes one [`Op::Ready`]. Unchanged
//! reports cost a comparison, never a change.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lgtm_model::HostName;
use lgtm_model::process::ProcessId;
use lgtm_model::wire::Report;

use crate::api::AppState;
use crate::cluster::Op;

/// The processes a report says are running and answered `/ready`.
pub fn ready_processes(report: &Report) -> BTreeSet<ProcessId> {
    report
        .units
        .iter()
        .filter(|u| u.active_state == "active" && u.ready == Some(true))
        .filter_map(|u| ProcessId::from_unit_name(&u.unit))
        .collect()
}

/// Records `ready` for `host` unless the cluster already has exactly that.
pub async fn sync(state: &AppState, host: &HostName, ready: BTreeSet<ProcessId>) {
    let view = state.cluster.view();
    let Some(h) = view.hosts.get(host) else {
        return;
    };
    if h.ready.as_ref() == Some(&ready) {
        return;
    }
    let count = ready.len();
    let op = Op::Ready {
        host: host.clone(),
        ready,
    };
    match state.cluster.apply(op).await {
        Ok(a) => tracing::info!(%host, ready = count, index = a.index, "readiness changed"),
        Err(e) => tracing::warn!(%host, error = %e, "failed to record readiness"),
    }
}

/// Every quarter TTL, marks hosts whose reports stopped as having nothing ready.
pub async fn expire(state: AppState) {
    let started = Instant::now();
    let every = (state.host_ttl / 4).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let now = Instant::now();
        let reports = state.reports.snapshot(now);
        let view = state.cluster.view();
        for (name, host) in &view.hosts {
            let stale = match reports.get(name) {
                Some(last) => last.age > state.host_ttl,
                // Assumed ready since the start and still silent.
                None => now.duration_since(started) > state.host_ttl,
            };
            let already_empty = host.ready.as_ref().is_some_and(BTreeSet::is_empty);
            if stale && !already_empty {
                sync(&state, name, BTreeSet::new()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_model::wire::UnitStatus;

    #[test]
    fn only_active_and_ready_backend_units_count() {
        let unit = |name: &str, state: &str, ready| UnitStatus {
            unit: name.into(),
            active_state: state.into(),
            ready,
            ..UnitStatus::default()
        };
        let report = Report {
            units: vec![
                unit("lgtm-mimir.service", "active", Some(true)),
                unit("lgtm-loki.service", "active", Some(false)),
                unit("lgtm-tempo-ingester.service", "failed", Some(true)),
                unit("lgtm-tempo-querier.service", "active", None),
                unit("lgtm-gateway.service", "active", Some(true)),
            ],
            ..Report::default()
        };
        let got: Vec<String> = ready_processes(&report)
            .iter()
            .map(ProcessId::unit_name)
            .collect();
        assert_eq!(got, ["lgtm-mimir.service"]);
    }
}
