//! Join token handlers: create (the token is shown once) and revoke.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lgtm_model::wire::{JoinTokenCreated, JoinTokenRequest, JoinTokenRevoked};

use super::extract::{JsonBody, PathParams, QueryParams};
use super::{AppState, HttpError};
use crate::credentials::{CredentialError, DEFAULT_JOIN_TTL, MAX_JOIN_TTL};

/// `POST /v1/join-tokens`.
pub async fn create(
    State(s): State<AppState>,
    q: QueryParams,
    JsonBody(req): JsonBody<JoinTokenRequest>,
) -> Result<(StatusCode, Json<JoinTokenCreated>), HttpError> {
    q.only(&[])?;
    let ttl = req
        .ttl_seconds
        .map_or(DEFAULT_JOIN_TTL, Duration::from_secs);
    if ttl.is_zero() || ttl > MAX_JOIN_TTL {
        return Err(HttpError::bad(
            "invalid_ttl",
            "ttl_seconds",
            format!(
                "ttl_seconds {} is out of range; give 1 to {}",
                ttl.as_secs(),
                MAX_JOIN_TTL.as_secs()
            ),
        ));
    }
    let (id, token, expires_at) = s.credentials.create_join(ttl).map_err(internal)?;
    tracing::info!(%id, expires_at, "created a join token");
    Ok((
        StatusCode::CREATED,
        Json(JoinTokenCreated {
            id,
            token,
            expires_at,
        }),
    ))
}

/// `DELETE /v1/join-tokens/{id}`.
pub async fn revoke(
    State(s): State<AppState>,
    PathParams(id): PathParams<String>,
    q: QueryParams,
) -> Result<Json<JoinTokenRevoked>, HttpError> {
    q.only(&[])?;
    match s.credentials.revoke_join(&id) {
        Ok(()) => {
            tracing::info!(%id, "revoked a join token");
            Ok(Json(JoinTokenRevoked { id }))
        }
        Err(e @ CredentialError::NoSuchJoinToken(_)) => {
            Err(
                HttpError::new(StatusCode::NOT_FOUND, "join_token_not_found", e.to_string())
                    .with_field("id"),
            )
        }
        Err(e) => Err(internal(e)),
    }
}

/// A failure of the credential database.
pub(super) fn internal(e: CredentialError) -> HttpError {
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "credentials_unavailable",
        format!(
            "{}; check the coordinator's state directory",
            super::error::chain(&e)
        ),
    )
}
