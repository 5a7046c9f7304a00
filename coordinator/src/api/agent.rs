//! Agent handlers: the long-polled desired state and reports.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lgtm_model::wire::{DesiredState, Report};

use super::extract::{JsonBody, PathParams, QueryParams};
use super::{AppState, HttpError, host_param};
use crate::longpoll;

/// `GET /v1/hosts/{host}/desired?index=N&wait=30s`.
///
/// Answers at once when the host's desired index is past N (or no `wait` is given), else
/// when it moves past N or `wait` expires (then with the same index). A host whose state
/// cannot be rendered gets 409 naming the fix; its agent keeps what it runs.
pub async fn desired(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
) -> Result<Json<DesiredState>, HttpError> {
    let q = q.only(&["index", "wait"])?;
    let host = host_param(&host)?;
    let index = match q.get("index") {
        None => 0,
        Some(v) => v.parse::<u64>().map_err(|_| {
            HttpError::bad(
                "invalid_query",
                "index",
                format!(
                    "index='{}' is not a whole number; send the index the agent applied last",
                    v.escape_debug()
                ),
            )
        })?,
    };
    let wait = match q.get("wait") {
        None => Duration::ZERO,
        Some(v) => longpoll::parse_wait(v)
            .map_err(|e| HttpError::bad("invalid_query", "wait", e.to_string()))?,
    };
    if s.cluster.view().desired_index(&host).is_none() {
        return Err(HttpError::unknown_host(&host));
    }
    let view = longpoll::wait_past(
        &s.cluster,
        &host,
        index,
        wait,
        s.shutdown.clone(),
        &s.metrics,
    )
    .await;
    match view.desired(&host) {
        None => Err(HttpError::unknown_host(&host)),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(state)) => Ok(Json(state)),
    }
}

/// `POST /v1/hosts/{host}/report`: kept in memory, never written to disk.
pub async fn report(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
    JsonBody(report): JsonBody<Report>,
) -> Result<StatusCode, HttpError> {
    q.only(&[])?;
    let host = host_param(&host)?;
    let registered = s
        .cluster
        .view()
        .hosts
        .get(&host)
        .is_some_and(|h| h.address.is_some());
    if !registered {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "host_not_registered",
            format!("host {host} has not registered; start the agent so it registers (POST /v1/hosts) before it reports"),
        )
        .with_field("host"));
    }
    let ready = crate::readiness::ready_processes(&report);
    s.reports.record(host.clone(), report, Instant::now());
    crate::readiness::sync(&s, &host, ready).await;
    s.metrics.reported();
    Ok(StatusCode::NO_CONTENT)
}
