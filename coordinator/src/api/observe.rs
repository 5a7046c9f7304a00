//! Observation handlers: health, metrics, status and the OpenAPI document.

use std::sync::LazyLock;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use lgtm_model::wire::{Alive, ClusterStatus, Health};
use serde_json::Value;

use super::extract::QueryParams;
use super::{AppState, HttpError};
use crate::{openapi, status};

/// `GET /healthz`: the coordinator answers and its store thread runs.
pub async fn healthz(State(s): State<AppState>) -> Json<Health> {
    Json(Health {
        status: Alive::Ok,
        index: s.cluster.view().index,
    })
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let text = s.metrics.render(&s.cluster.view());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// `GET /v1/status`.
pub async fn status(
    State(s): State<AppState>,
    q: QueryParams,
) -> Result<Json<ClusterStatus>, HttpError> {
    q.only(&[])?;
    let reports = s.reports.snapshot(Instant::now());
    let view = s.cluster.view();
    let rollout = crate::rollout::status(&view, &s.rollout_notes);
    Ok(Json(status::cluster_status(
        &view, &reports, s.host_ttl, rollout,
    )))
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Json<Value> {
    // Derived from the types: the same for the process's life.
    static DOCUMENT: LazyLock<Value> = LazyLock::new(openapi::document);
    Json(DOCUMENT.clone())
}
