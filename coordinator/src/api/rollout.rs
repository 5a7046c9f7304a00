//! Rollout handlers: where restarts stand, pause, resume.

use axum::Json;
use axum::extract::State;
use lgtm_model::wire::{RolloutAborted, RolloutPause, RolloutStatus};

use super::extract::{CHECK_INDEX, JsonBody, QueryParams};
use super::{AppState, HttpError};
use crate::cluster::{Op, Reply, RolloutOp};
use crate::credentials::now as unix_now;
use crate::rollout;

/// Longest pause reason kept.
const MAX_REASON: usize = 200;

/// `GET /v1/rollout`.
pub async fn show(
    State(s): State<AppState>,
    q: QueryParams,
) -> Result<Json<RolloutStatus>, HttpError> {
    q.only(&[])?;
    Ok(Json(rollout::status(&s.cluster.view(), &s.rollout_notes)))
}

/// `POST /v1/rollout/pause`: no further restart is permitted until resumed.
pub async fn pause(
    State(s): State<AppState>,
    q: QueryParams,
    JsonBody(req): JsonBody<RolloutPause>,
) -> Result<Json<RolloutStatus>, HttpError> {
    q.only(&[])?;
    let reason = req.reason.unwrap_or_default();
    let reason = if reason.is_empty() {
        "paused by an operator".to_owned()
    } else if reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(HttpError::bad(
            "invalid_reason",
            "reason",
            format!(
                "the reason must be up to {MAX_REASON} bytes without control characters; shorten it"
            ),
        ));
    } else {
        format!("paused by an operator: {reason}")
    };
    let now = unix_now();
    s.cluster
        .apply(Op::Rollout(RolloutOp::Pause { reason, now }))
        .await?;
    Ok(Json(rollout::status(&s.cluster.view(), &s.rollout_notes)))
}

/// `POST /v1/rollout/abort[?check_index=N]`: roles and settings go back to what they were
/// when the rollout was last idle; what already restarted restarts back through the rollout.
pub async fn abort(
    State(s): State<AppState>,
    q: QueryParams,
) -> Result<Json<RolloutAborted>, HttpError> {
    let expect = q.only(&[CHECK_INDEX])?.check_index()?;
    let op = Op::Abort { now: unix_now() };
    let applied = s.cluster.apply_checked(op, expect).await?;
    match applied.reply {
        Reply::Aborted { reverted, warnings } => Ok(Json(RolloutAborted {
            index: applied.index,
            reverted,
            warnings,
        })),
        other => Err(super::hosts::unexpected(&other)),
    }
}

/// `POST /v1/rollout/resume`: permits restarts again; steps in flight get a fresh deadline.
pub async fn resume(
    State(s): State<AppState>,
    q: QueryParams,
) -> Result<Json<RolloutStatus>, HttpError> {
    q.only(&[])?;
    s.cluster
        .apply(Op::Rollout(RolloutOp::Resume { now: unix_now() }))
        .await?;
    Ok(Json(rollout::status(&s.cluster.view(), &s.rollout_notes)))
}
