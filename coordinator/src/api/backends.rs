//! Backend handlers: a backend's roles placed anew in one staged change (a mode switch).

use axum::Json;
use axum::extract::State;
use lgtm_model::Backend;
use lgtm_model::wire::{Known, SwitchRequest, Switched};

use super::extract::{CHECK_INDEX, JsonBody, PathParams, QueryParams};
use super::hosts::{retiring, unexpected};
use super::{AppState, HttpError};
use crate::cluster::{Op, Reply};

/// `PUT /v1/backends/{backend}/roles`.
pub async fn switch(
    State(s): State<AppState>,
    PathParams(backend): PathParams<String>,
    q: QueryParams,
    JsonBody(req): JsonBody<SwitchRequest>,
) -> Result<Json<Switched>, HttpError> {
    let expect = q.only(&[CHECK_INDEX])?.check_index()?;
    let backend: Backend = backend
        .parse()
        .map_err(|e: lgtm_model::names::BackendError| {
            HttpError::bad("invalid_backend", "backend", e.to_string())
        })?;
    let op = Op::Switch {
        backend,
        hosts: req.hosts,
    };
    let applied = s.cluster.apply_checked(op, expect).await?;
    match applied.reply {
        Reply::Switched { hosts, warnings } => Ok(Json(Switched {
            draining: draining(&s, backend),
            backend,
            hosts: hosts.into_iter().map(|(h, r)| (h, Known::all(r))).collect(),
            index: applied.index,
            warnings,
        })),
        other => Err(unexpected(&other)),
    }
}

/// Processes of `backend` that retire through the rollout, as `unit on host`.
fn draining(s: &AppState, backend: Backend) -> Vec<String> {
    retiring(s, |k| k.process.backend == backend)
        .iter()
        .map(ToString::to_string)
        .collect()
}
