//! Host handlers: register, list, show, remove, assign and unassign roles, drain.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use lgtm_model::HostName;
use lgtm_model::rollout::ProcessKey;
use lgtm_model::wire::{
    AssignRequest, AssignResponse, DrainRequest, DrainResponse, HostRecord, HostRemoved, Known,
    RegisterRequest, UnassignResponse,
};

use super::extract::{CHECK_INDEX, JsonBody, PathParams, QueryParams};
use super::{AppState, HttpError, host_param};
use crate::cluster::{Op, Reply};
use crate::credentials::{CredentialError, Principal};
use crate::validate;

/// `POST /v1/hosts`: an agent registers (idempotent). With a join token, the host gets its
/// credential in the answer, once; a host that has a live credential cannot join again.
pub async fn register(
    State(s): State<AppState>,
    Extension(principal): Extension<Principal>,
    q: QueryParams,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Json<HostRecord>, HttpError> {
    q.only(&[])?;
    let address = validate::address(req.address)?;
    let data_root = validate::data_root(&req.data_root)?;
    validate::agent_version(&req.agent_version)?;
    if let Principal::Host(own) = &principal
        && *own != req.host
    {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the credential of host {own} may not register host {}; each host registers under its own name",
                req.host
            ),
        )
        .with_field("host"));
    }
    let issued = match principal {
        Principal::Join(_) => match s.credentials.issue_host(&req.host) {
            Ok(issued) => Some(issued),
            Err(e @ CredentialError::HostHasCredential(_)) => {
                return Err(HttpError::new(
                    StatusCode::CONFLICT,
                    "host_has_credential",
                    e.to_string(),
                )
                .with_field("host"));
            }
            Err(e) => return Err(super::join_tokens::internal(e)),
        },
        _ => None,
    };
    let op = Op::Register {
        host: req.host.clone(),
        address,
        data_root,
    };
    let applied = match s.cluster.apply(op).await {
        Ok(applied) => applied,
        Err(e) => {
            if let Some((id, _)) = &issued {
                // Nothing registered: the credential must not outlive the failure.
                let _ = s.credentials.revoke_id(id);
            }
            return Err(e.into());
        }
    };
    match applied.reply {
        Reply::Registered(mut record) => {
            if let Some((id, token)) = issued {
                tracing::info!(host = %req.host, %id, "host joined with a join token");
                record.credential = Some(token);
            }
            Ok(Json(record))
        }
        other => Err(unexpected(&other)),
    }
}

/// `GET /v1/hosts`: every host, sorted by name.
pub async fn list(
    State(s): State<AppState>,
    q: QueryParams,
) -> Result<Json<Vec<HostRecord>>, HttpError> {
    q.only(&[])?;
    let view = s.cluster.view();
    Ok(Json(
        view.hosts.keys().filter_map(|h| view.record(h)).collect(),
    ))
}

/// `GET /v1/hosts/{host}`.
pub async fn show(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
) -> Result<Json<HostRecord>, HttpError> {
    q.only(&[])?;
    let host = host_param(&host)?;
    s.cluster
        .view()
        .record(&host)
        .map(Json)
        .ok_or_else(|| HttpError::unknown_host(&host))
}

/// `DELETE /v1/hosts/{host}[?force=true]`.
pub async fn remove(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
) -> Result<Json<HostRemoved>, HttpError> {
    let q = q.only(&["force", CHECK_INDEX])?;
    let (force, expect) = (q.flag("force")?, q.check_index()?);
    let host = host_param(&host)?;
    let op = Op::RemoveHost {
        host: host.clone(),
        force,
    };
    let applied = s.cluster.apply_checked(op, expect).await?;
    s.reports.forget(&host);
    s.credentials
        .revoke_host(&host)
        .map_err(super::join_tokens::internal)?;
    match applied.reply {
        Reply::Removed { warnings } => Ok(Json(HostRemoved {
            host,
            index: applied.index,
            warnings,
        })),
        other => Err(unexpected(&other)),
    }
}

/// `POST /v1/hosts/{host}/roles`: assign a role; an unknown host is created.
pub async fn assign(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
    JsonBody(req): JsonBody<AssignRequest>,
) -> Result<Json<AssignResponse>, HttpError> {
    let expect = q.only(&[CHECK_INDEX])?.check_index()?;
    let host = host_param(&host)?;
    let op = Op::Assign {
        host: host.clone(),
        role: req.role,
        backend: req.backend,
    };
    let applied = s.cluster.apply_checked(op, expect).await?;
    match applied.reply {
        Reply::Assigned {
            role,
            outcome,
            host_registered,
            also,
            warnings,
        } => {
            if applied.changed {
                s.metrics.assigned();
            }
            Ok(Json(AssignResponse {
                host,
                role: role.into(),
                outcome,
                host_registered,
                warnings,
                index: applied.index,
                also_assigned: Known::all(also),
            }))
        }
        other => Err(unexpected(&other)),
    }
}

/// `DELETE /v1/hosts/{host}/roles/{role}[?force=true]`.
pub async fn unassign(
    State(s): State<AppState>,
    PathParams((host, role)): PathParams<(String, String)>,
    q: QueryParams,
) -> Result<Json<UnassignResponse>, HttpError> {
    let q = q.only(&["force", CHECK_INDEX])?;
    let (force, expect) = (q.flag("force")?, q.check_index()?);
    let host: HostName = host_param(&host)?;
    let op = Op::Unassign {
        host: host.clone(),
        role,
        force,
    };
    let applied = s.cluster.apply_checked(op, expect).await?;
    match applied.reply {
        Reply::Unassigned { role, warnings } => {
            s.metrics.unassigned();
            Ok(Json(UnassignResponse {
                draining: draining(&s, &host),
                host,
                role: role.into(),
                index: applied.index,
                warnings,
            }))
        }
        other => Err(unexpected(&other)),
    }
}

/// `POST /v1/hosts/{host}/drain`: unassign the host's roles (of one backend); its ring
/// members flush and leave their rings through the rollout before they stop.
pub async fn drain(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
    JsonBody(req): JsonBody<DrainRequest>,
) -> Result<Json<DrainResponse>, HttpError> {
    let expect = q.only(&[CHECK_INDEX])?.check_index()?;
    let host: HostName = host_param(&host)?;
    let op = Op::Drain {
        host: host.clone(),
        backend: req.backend,
        force: req.force,
    };
    let applied = s.cluster.apply_checked(op, expect).await?;
    match applied.reply {
        Reply::Drained { roles, warnings } => Ok(Json(DrainResponse {
            draining: draining(&s, &host),
            host,
            roles: Known::all(roles),
            index: applied.index,
            warnings,
        })),
        other => Err(unexpected(&other)),
    }
}

/// Units of `host` that retire through the rollout.
fn draining(s: &AppState, host: &HostName) -> Vec<String> {
    retiring(s, |k| k.host == *host)
        .iter()
        .map(|k| k.process.unit_name())
        .collect()
}

/// Processes that retire through the rollout, of those `keep` keeps.
pub(super) fn retiring(s: &AppState, keep: impl Fn(&ProcessKey) -> bool) -> Vec<ProcessKey> {
    s.cluster
        .view()
        .rollout
        .waiting
        .iter()
        .filter(|w| w.retire && keep(&w.key))
        .map(|w| w.key.clone())
        .collect()
}

/// A reply that does not match its operation: a bug, reported rather than hidden.
pub(super) fn unexpected(reply: &Reply) -> HttpError {
    HttpError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("internal error: unexpected reply {reply:?}; please report this"),
    )
}
