//! Keeps the cluster's readiness, which gateway upstreams follow, in step with the backends:
//! a report that changes which processes of a host are ready becomes one [`Op::Ready`]. A
//! host whose agent went silent (no report within the TTL) is not taken for down: its agent
//! alone may have stopped, and emptying its upstreams would turn that into an outage. The
//! coordinator asks its processes' `/ready` itself, every quarter TTL while it stays
//! silent; those that answer stay in the gateways, the others leave (a host powered off or
//! cut off answers nothing). Unchanged readiness costs a comparison, never a change.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use lgtm_model::HostName;
use lgtm_model::process::ProcessId;
use lgtm_model::wire::{DesiredProcess, Report};

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

/// How long a `/ready` probe of a silent host's process may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Every quarter TTL, asks the processes of hosts whose reports stopped whether they are
/// ready, and records the answer.
pub async fn expire(state: AppState) {
    let started = Instant::now();
    let every = (state.host_ttl / 4).max(Duration::from_secs(1));
    let http = match reqwest::Client::builder().timeout(PROBE_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "readiness: no HTTP client; silent hosts keep their readiness");
            return;
        }
    };
    loop {
        tokio::time::sleep(every).await;
        let now = Instant::now();
        let reports = state.reports.snapshot(now);
        let view = state.cluster.view();
        let mut probes = tokio::task::JoinSet::new();
        for (name, host) in &view.hosts {
            let stale = match reports.get(name) {
                Some(last) => last.age > state.host_ttl,
                // Assumed ready since the start and still silent.
                None => now.duration_since(started) > state.host_ttl,
            };
            if !stale {
                continue;
            }
            let processes = host
                .rendered
                .as_ref()
                .map(|c| c.processes.clone())
                .unwrap_or_default();
            let (http, name, address) = (http.clone(), name.clone(), host.address);
            probes.spawn(async move { (name, probe(&http, address, &processes).await) });
        }
        while let Some(Ok((name, ready))) = probes.join_next().await {
            sync(&state, &name, ready).await;
        }
    }
}

/// The processes of a host that answer `GET /ready` with 200 (Tempo's and Loki's admin
/// paths that act on GET, `/flush` and `/shutdown`, are never asked).
async fn probe(
    http: &reqwest::Client,
    address: Option<IpAddr>,
    processes: &[DesiredProcess],
) -> BTreeSet<ProcessId> {
    let Some(address) = address else {
        return BTreeSet::new();
    };
    let mut ready = BTreeSet::new();
    for p in processes {
        let url = format!("http://{}/ready", SocketAddr::new(address, p.ports.http));
        let ok = http
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
        if ok {
            ready.insert(p.id);
        }
    }
    ready
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
