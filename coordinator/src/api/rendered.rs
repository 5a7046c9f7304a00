//! `GET /v1/hosts/{host}/rendered`: what a host runs once the rollout is through with it,
//! for operators, with every secret value replaced by `<redacted>` (agents read what they
//! are given now, unredacted, from `/desired`).

use axum::Json;
use axum::extract::State;
use lgtm_model::Backend;
use lgtm_model::render::redact::redact;
use lgtm_model::settings::Secrets;
use lgtm_model::wire::{Known, RenderedHost, RenderedProcess};

use super::extract::{PathParams, QueryParams};
use super::{AppState, HttpError, host_param};

/// `GET /v1/hosts/{host}/rendered[?backend=B]`.
pub async fn rendered(
    State(s): State<AppState>,
    PathParams(host): PathParams<String>,
    q: QueryParams,
) -> Result<Json<RenderedHost>, HttpError> {
    let q = q.only(&["backend"])?;
    let host = host_param(&host)?;
    let backend = q
        .get("backend")
        .map(|b| {
            b.parse::<Backend>()
                .map_err(|e| HttpError::bad("invalid_query", "backend", e.to_string()))
        })
        .transpose()?;
    let view = s.cluster.view();
    let state = match view.target(&host) {
        None => return Err(HttpError::unknown_host(&host)),
        Some(state) => state?,
    };
    // The view holds no secret values: redaction goes by where rendering puts them, and
    // overlays (the only free text) refuse secrets when set.
    let none = Secrets::new();
    let processes = state
        .processes
        .into_iter()
        .filter(|p| backend.is_none_or(|b| p.id.backend == b))
        .map(|p| RenderedProcess {
            unit: p.id.unit_name(),
            config: redact(p.id.backend, &p.config, &none),
            id: p.id,
            roles: Known::all(p.roles),
            data_dir: p.data_dir,
        })
        .collect();
    Ok(Json(RenderedHost {
        host,
        index: state.index,
        processes,
    }))
}
