//! The HTTP/JSON API: one [`router`] with every route, on the paths of `model::wire::paths`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use lgtm_model::wire::paths;
use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::credentials::Credentials;
use crate::metrics::Metrics;
use crate::reports::Reports;

mod agent;
pub mod auth;
mod backends;
pub mod error;
pub mod extract;
mod hosts;
mod join_tokens;
mod observe;
mod plan;
mod rendered;
mod rollout;
mod settings;
mod skew;

pub use error::HttpError;

/// Everything a request handler may use; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The cluster.
    pub cluster: Cluster,
    /// Agents' last reports.
    pub reports: Arc<Reports>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// A host is stale after this long without a report.
    pub host_ttl: Duration,
    /// Turns true when the coordinator shuts down; long-polls answer at once then.
    pub shutdown: watch::Receiver<bool>,
    /// Credentials, checked on every request.
    pub credentials: Arc<Credentials>,
    /// What the rollout driver last saw of the processes in flight.
    pub rollout_notes: Arc<crate::rollout::Notes>,
}

/// The API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(paths::HEALTHZ, get(observe::healthz))
        .route(paths::METRICS, get(observe::metrics))
        .route(paths::OPENAPI, get(observe::openapi))
        .route(paths::STATUS, get(observe::status))
        .route(paths::HOSTS, get(hosts::list).post(hosts::register))
        .route(paths::HOST, get(hosts::show).delete(hosts::remove))
        .route(paths::HOST_ROLES, post(hosts::assign))
        .route(paths::HOST_ROLE, delete(hosts::unassign))
        .route(paths::HOST_DRAIN, post(hosts::drain))
        .route(paths::HOST_DESIRED, get(agent::desired))
        .route(paths::HOST_REPORT, post(agent::report))
        .route(paths::HOST_RENDERED, get(rendered::rendered))
        .route(paths::SETTINGS, get(settings::list))
        .route(paths::SETTING, put(settings::set))
        .route(paths::JOIN_TOKENS, post(join_tokens::create))
        .route(paths::JOIN_TOKEN, delete(join_tokens::revoke))
        .route(paths::ROLLOUT, get(rollout::show))
        .route(paths::ROLLOUT_PAUSE, post(rollout::pause))
        .route(paths::ROLLOUT_RESUME, post(rollout::resume))
        .route(paths::ROLLOUT_ABORT, post(rollout::abort))
        .route(paths::PLAN, post(plan::plan))
        .route(paths::BACKEND_ROLES, put(backends::switch))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(middleware::from_fn(skew::enforce))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no such API path; {} lists every path", paths::OPENAPI),
    )
    .with_field("path")
}

async fn method_not_allowed() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "this path does not take that method; {} lists the methods of every path",
            paths::OPENAPI
        ),
    )
    .with_field("method")
}

/// Counts every answer by route template and status.
async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    state.metrics.request(&route, response.status().as_u16());
    response
}

/// Parses a host name from the path.
fn host_param(raw: &str) -> Result<lgtm_model::HostName, HttpError> {
    raw.parse().map_err(|e: lgtm_model::names::HostNameError| {
        HttpError::bad("invalid_host_name", "host", e.to_string())
    })
}
