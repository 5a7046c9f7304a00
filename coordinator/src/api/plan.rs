//! `POST /v1/plan`: a dry run of any change, answered from the coordinator's own planning.

use axum::Json;
use axum::extract::State;
use lgtm_model::wire::{Change, ChangePlan};

use super::extract::{JsonBody, QueryParams};
use super::{AppState, HttpError};
use crate::cluster::Op;

/// What `change` would do; nothing is applied.
pub async fn plan(
    State(s): State<AppState>,
    q: QueryParams,
    JsonBody(change): JsonBody<Change>,
) -> Result<Json<ChangePlan>, HttpError> {
    q.only(&[])?;
    let op = Op::of(change, crate::credentials::now());
    Ok(Json(s.cluster.plan(op).await?))
}
