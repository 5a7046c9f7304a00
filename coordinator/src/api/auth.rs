//! Authentication and authorization of every request: a bearer token names a
//! [`Principal`], and the route decides what it may do. `/healthz` and the OpenAPI document
//! are open; everything else answers 401 without a valid credential and 403 when the
//! credential may not do that.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lgtm_model::wire::paths;

use super::{AppState, HttpError};
use crate::credentials::{AuthError, Principal};

/// Checks the request's credential, then passes it on with its [`Principal`] attached.
pub async fn authorize(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let route = route.as_deref();
    if matches!(route, Some(paths::HEALTHZ | paths::OPENAPI)) {
        return next.run(req).await;
    }
    let principal = match bearer(&req).map(|t| s.credentials.authenticate(t)) {
        None => return unauthorized(&AuthError::Missing),
        Some(Err(e)) => return unauthorized(&e),
        Some(Ok(p)) => p,
    };
    if !allowed(&principal, req.method(), route, req.uri().path()) {
        return HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} may not {} {}; use a credential allowed to (the admin token for changes)",
                describe(&principal),
                req.method(),
                route.unwrap_or("this path")
            ),
        )
        .with_field("authorization")
        .into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The bearer token of a request, if any.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn unauthorized(e: &AuthError) -> Response {
    let code = match e {
        AuthError::Missing => "credential_missing",
        AuthError::Unknown => "credential_unknown",
        AuthError::Expired { .. } => "credential_expired",
        AuthError::Revoked { .. } => "credential_revoked",
    };
    let mut resp = HttpError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
        .with_field("authorization")
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    resp
}

fn describe(p: &Principal) -> String {
    match p {
        Principal::Admin => "the admin credential".into(),
        Principal::Read => "the read-only credential".into(),
        Principal::Join(id) => format!("join token {id}"),
        Principal::Host(h) => format!("the credential of host {h}"),
    }
}

/// What each principal may do: a pure decision on method, route template and path.
pub fn allowed(p: &Principal, method: &Method, route: Option<&str>, path: &str) -> bool {
    match p {
        Principal::Admin => true,
        Principal::Read => *method == Method::GET && route != Some(paths::HOST_DESIRED),
        // The handler checks that the host registers under its own name.
        Principal::Join(_) => *method == Method::POST && route == Some(paths::HOSTS),
        Principal::Host(h) => match (method, route) {
            (&Method::POST, Some(paths::HOSTS)) => true,
            (&Method::GET, Some(paths::HOST_DESIRED))
            | (&Method::POST, Some(paths::HOST_REPORT)) => {
                // `/v1/hosts/{host}/...`: the fourth segment is the host.
                path.split('/').nth(3) == Some(h.as_str())
            }
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        let h = Principal::Host("a".parse().expect("host"));
        let desired = Some(paths::HOST_DESIRED);
        assert!(allowed(&h, &Method::GET, desired, "/v1/hosts/a/desired"));
        assert!(!allowed(&h, &Method::GET, desired, "/v1/hosts/b/desired"));
        assert!(!allowed(
            &h,
            &Method::POST,
            Some(paths::HOST_REPORT),
            "/v1/hosts/b/report"
        ));
        assert!(!allowed(
            &h,
            &Method::GET,
            Some(paths::STATUS),
            "/v1/status"
        ));
        let r = Principal::Read;
        assert!(allowed(&r, &Method::GET, Some(paths::STATUS), "/v1/status"));
        assert!(!allowed(&r, &Method::GET, desired, "/v1/hosts/a/desired"));
        assert!(!allowed(
            &r,
            &Method::PUT,
            Some(paths::SETTING),
            "/v1/settings/x"
        ));
        let j = Principal::Join("id".into());
        assert!(allowed(&j, &Method::POST, Some(paths::HOSTS), "/v1/hosts"));
        assert!(!allowed(&j, &Method::GET, Some(paths::HOSTS), "/v1/hosts"));
    }
}
