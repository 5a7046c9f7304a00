//! The stand-in's HTTP API: the admin endpoints the agent and gateway use (`/ready`,
//! `/services`, `/ingester/shutdown`, `/metrics`), the client paths a gateway routes to, and
//! the test controls under `/standin/`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;

use lgtm_model::render::redact::redact;
use lgtm_model::{Backend, Role, drain, ring};
use serde_json::json;

use super::state::{Recorded, Shared};
use super::targets::{path_label, servers_of};

/// Header naming the process that served a request.
pub const SERVED_BY: &str = "x-lgtm-served-by";

type St = State<Arc<Shared>>;

/// Every route of the stand-in's HTTP port; `grpc` is the address it shows in its rings.
pub fn router(state: Arc<Shared>, grpc: SocketAddr) -> Router {
    let services = match state.backend {
        Backend::Tempo => "/status/services",
        _ => "/services",
    };
    let roles: Vec<Role> = state
        .modules
        .iter()
        .filter_map(|m| format!("{}:{m}", state.backend).parse().ok())
        .collect();
    let mut rings = Router::new();
    let ingester_ring = drain::flush(&roles).map(|f| f.ring);
    for page in ring::pages(&roles) {
        let id = state
            .served_by
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        // An ingester shut down has left its ring, as upstream's do.
        let leaves = ingester_ring == Some(page);
        rings = rings.route(
            page,
            get(move |State(s): St| {
                let gone = leaves && s.ingester_shut();
                ring_page(id.clone(), grpc, gone)
            }),
        );
    }
    Router::new()
        .merge(rings)
        .route("/ready", get(ready))
        .route(services, get(services_handler))
        .route(
            "/ingester/shutdown",
            get(ingester_shutdown).post(ingester_shutdown),
        )
        // Tempo acts on GET as on POST (verified on 2.10.8).
        .route("/shutdown", get(tempo_shutdown).post(tempo_shutdown))
        .route("/flush", get(flush).post(flush))
        .route("/metrics", get(metrics))
        .route("/config", get(config))
        .route("/standin/requests", get(requests).delete(clear_requests))
        .route("/standin/storage", get(storage))
        .route("/standin/crash", post(crash))
        .route("/standin/slow", post(slow))
        .fallback(client)
        .layer(middleware::from_fn_with_state(state.clone(), served_by))
        .with_state(state)
}

/// Tempo's OTLP/HTTP receiver (port 4318 on distributors).
pub fn otlp_router(state: Arc<Shared>) -> Router {
    Router::new()
        .fallback(otlp)
        .layer(middleware::from_fn_with_state(state.clone(), served_by))
        .with_state(state)
}

/// A ring page as dskit answers `Accept: application/json`: the stand-in knows no peers, so
/// its ring is itself, ACTIVE, or empty once it left.
async fn ring_page(id: String, grpc: SocketAddr, left: bool) -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let shards = if left {
        json!([])
    } else {
        json!([{
            "id": id,
            "state": "ACTIVE",
            "address": grpc.to_string(),
            "timestamp": now,
            "zone": "",
            "tokens": [],
        }])
    };
    let body = json!({ "shards": shards, "now": now });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Adds `X-Lgtm-Served-By` and the injected delay (test controls are never slowed).
async fn served_by(State(s): St, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/standin/") {
        let delay = s.slow();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&s.served_by) {
        resp.headers_mut().insert(SERVED_BY, v);
    }
    resp
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found\n")
}

async fn ready(State(s): St) -> Response {
    match s.not_ready() {
        None => text(StatusCode::OK, "ready"),
        Some(why) => text(StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

async fn services_handler(State(s): St, headers: HeaderMap) -> Response {
    let states: Vec<(&str, &str)> = s
        .modules
        .iter()
        .map(|m| (m.as_str(), s.service_state(m).as_str()))
        .collect();
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    match s.backend {
        Backend::Mimir if wants_json => {
            let services: Vec<_> = states
                .iter()
                .map(|(n, st)| json!({"name": n, "status": st}))
                .collect();
            axum::Json(json!({"now": rfc3339_now(), "services": services})).into_response()
        }
        Backend::Loki => text(
            StatusCode::OK,
            states
                .iter()
                .map(|(n, st)| format!("{n} => {st}\n"))
                .collect::<String>(),
        ),
        _ => text(
            StatusCode::OK,
            states
                .iter()
                .map(|(n, st)| format!("{n}: {st}\n"))
                .collect::<String>(),
        ),
    }
}

/// Mimir: stops the ingester, the process keeps running. Loki: also exits 0 unless `terminate=false`.
async fn ingester_shutdown(
    State(s): St,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !s.runs("ingester") || s.backend == Backend::Tempo {
        return not_found();
    }
    if s.backend == Backend::Mimir && method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    s.shut_ingester();
    eprintln!(
        "level=info msg=\"ingester shut down: flushed and left the ring\" path=/ingester/shutdown"
    );
    if s.backend == Backend::Loki && q.get("terminate").is_none_or(|t| t != "false") {
        s.request_exit(0);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Flushes what the ingester holds: the stand-in holds nothing in memory (every push is in
/// its store already), so it answers as the real ones do once flushed.
async fn flush(State(s): St) -> Response {
    if !s.runs("ingester") {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Tempo 2.x ingester: acknowledges, stops the ingester, keeps the process running.
async fn tempo_shutdown(State(s): St) -> Response {
    if s.backend != Backend::Tempo || !s.runs("ingester") {
        return not_found();
    }
    s.shut_ingester();
    eprintln!("level=info msg=\"ingester shut down: flushed and left the ring\" path=/shutdown");
    text(StatusCode::OK, "shutdown job acknowledged")
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(s): St) -> Response {
    let mut out = String::new();
    out.push_str(
        "# HELP lgtm_standin_requests_total Client requests served, by path and target.\n",
    );
    out.push_str("# TYPE lgtm_standin_requests_total counter\n");
    for ((path, target), n) in s.counts() {
        let _ = writeln!(
            out,
            "lgtm_standin_requests_total{{path=\"{}\",target=\"{}\"}} {n}",
            escape_label(&path),
            escape_label(&target)
        );
    }
    out.push_str("# HELP lgtm_standin_ready Whether /ready answers 200.\n");
    out.push_str("# TYPE lgtm_standin_ready gauge\n");
    let _ = writeln!(
        out,
        "lgtm_standin_ready {}",
        u8::from(s.not_ready().is_none())
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

/// Like the real backends' `/config`, the storage secret masked.
async fn config(State(s): St) -> Response {
    let shown = redact(s.backend, &s.config_text, &Default::default());
    text(StatusCode::OK, shown)
}

async fn requests(State(s): St) -> Response {
    axum::Json(s.requests()).into_response()
}

/// The object-storage checks: location, key, outcome (never the secret).
async fn storage(State(s): St) -> Response {
    axum::Json(s.storage()).into_response()
}

async fn clear_requests(State(s): St) -> Response {
    s.clear_requests();
    StatusCode::NO_CONTENT.into_response()
}

async fn crash() -> Response {
    // Go programs exit 2 on a panic: this is what a crash looks like to systemd.
    eprintln!("panic: crash requested through /standin/crash");
    std::process::exit(2);
}

async fn slow(State(s): St, Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("ms").and_then(|v| v.parse::<u64>().ok()) {
        Some(ms) => {
            s.set_slow(ms);
            text(StatusCode::OK, format!("every answer now waits {ms} ms\n"))
        }
        None => text(
            StatusCode::BAD_REQUEST,
            "give the delay as ?ms=N (milliseconds)\n",
        ),
    }
}

fn tenant(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Client paths: answered by the first running module that serves them, else 404 as upstream.
async fn client(State(s): St, method: Method, headers: HeaderMap, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(target) = servers_of(s.backend, &path).and_then(|c| c.iter().find(|m| s.runs(m)))
    else {
        return not_found();
    };
    s.record(
        Recorded {
            method: method.to_string(),
            path: path.clone(),
            target: (*target).to_owned(),
            tenant: tenant(&headers),
        },
        path_label(s.backend, &path),
    );
    let push = *target == "distributor";
    match (s.backend, push) {
        (Backend::Loki, true) => StatusCode::NO_CONTENT.into_response(),
        (_, true) => StatusCode::OK.into_response(),
        (Backend::Tempo, false) if path.starts_with("/api/traces") => {
            axum::Json(json!({"batches": []})).into_response()
        }
        (Backend::Tempo, false) => axum::Json(json!({"traces": [], "metrics": {}})).into_response(),
        (Backend::Loki, false) => axum::Json(
            json!({"status": "success", "data": {"resultType": "streams", "result": []}}),
        )
        .into_response(),
        (Backend::Mimir, false) => {
            axum::Json(json!({"status": "success", "data": {"resultType": "vector", "result": []}}))
                .into_response()
        }
    }
}

async fn otlp(State(s): St, method: Method, headers: HeaderMap, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path != "/v1/traces" {
        return not_found();
    }
    s.record(
        Recorded {
            method: method.to_string(),
            path: path.clone(),
            target: "distributor".into(),
            tenant: tenant(&headers),
        },
        path,
    );
    StatusCode::OK.into_response()
}

/// The current UTC time as RFC 3339 (Mimir's `/services` JSON carries it).
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
