//! The version skew rule at the API: lgtm's clients say their version on every request; one
//! within the rule (or a client that says none, like curl) is served, one outside it is
//! refused naming both versions, and nothing changes. Every answer says the coordinator's.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Api;
use lgtm_model::skew::{self, Version};
use tower::ServiceExt;

/// Assigns `mimir:ingester` to h1 sending `version`: (status, body, the answer's version).
async fn assign(api: &Api, version: Option<&str>) -> (StatusCode, serde_json::Value, String) {
    let mut req = Request::post("/v1/hosts/h1/roles")
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", api.token("admin")),
        );
    if let Some(v) = version {
        req = req.header(skew::HEADER, v);
    }
    let req = req
        .body(Body::from(r#"{"role":"mimir:ingester"}"#))
        .unwrap();
    let res = api.app.router.clone().oneshot(req).await.unwrap();
    let stamped = res.headers()[skew::HEADER].to_str().unwrap().to_owned();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap(), stamped)
}

#[tokio::test]
async fn clients_outside_the_rule_are_refused_by_name_and_change_nothing() {
    let api = Api::new();
    let Version { major, minor } = Version::parse(skew::VERSION).unwrap();
    let next = format!("{major}.{}.0", minor + 1);
    let too_new = format!("{major}.{}.0", minor + 2);
    let other_major = format!("{}.{minor}.0", major + 1);
    for version in [&too_new, &other_major, "banana"] {
        let (status, body, stamped) = assign(&api, Some(version)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{version}: {body}");
        assert_eq!(body["error"]["code"], "version_skew", "{body}");
        assert_eq!(body["error"]["field"], skew::HEADER, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(version), "{message}");
        assert_eq!(stamped, skew::VERSION);
    }
    assert_eq!(api.index().await, 0, "a refused client changed the cluster");
    let (status, body, _) = assign(&api, Some(&too_new)).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("coordinator version {}", skew::VERSION)),
        "{status} {body}"
    );

    // Within the rule, or saying nothing: served, and told the coordinator's version.
    for version in [Some(skew::VERSION), Some(next.as_str()), None] {
        let (status, body, stamped) = assign(&api, version).await;
        assert_eq!(status, StatusCode::OK, "{version:?}: {body}");
        assert_eq!(stamped, skew::VERSION);
    }
}
