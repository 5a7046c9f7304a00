//! Hosts and roles over the API: register, list, show, assign, unassign, remove.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{Value, json};

#[tokio::test]
async fn assign_before_register_then_register() {
    let api = Api::new();
    let a = api.assign("host3", "ingester").await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["role"], "mimir:ingester");
    assert_eq!(a.body["outcome"], "added");
    assert_eq!(a.body["host_registered"], false);
    assert_eq!(a.body["index"], 1);
    assert_eq!(
        a.body["warnings"][0],
        "host3 has not registered yet; it gets its roles when its agent starts"
    );
    let show = api.get("/v1/hosts/host3").await;
    assert_eq!(
        show.body,
        json!({ "name": "host3", "address": null, "data_root": null, "roles": ["mimir:ingester"] })
    );

    let r = api.register("host3", "198.18.0.3").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["address"], "198.18.0.3");
    assert_eq!(r.body["roles"], json!(["mimir:ingester"]));
    assert_eq!(api.index().await, 2);
    // Idempotent: the same registration changes nothing.
    api.register("host3", "198.18.0.3").await;
    assert_eq!(api.index().await, 2);
    // A new address is a change (peers' configs name it).
    api.register("host3", "198.18.0.4").await;
    assert_eq!(api.index().await, 3);

    let again = api.assign("host3", "mimir:ingester").await;
    assert_eq!(again.body["outcome"], "already_assigned");
    assert_eq!(again.body["host_registered"], true);
    assert_eq!(again.body["index"], 3);
}

#[tokio::test]
async fn list_and_show() {
    let api = Api::new();
    api.register("b", "198.18.0.2").await;
    api.register("a", "198.18.0.3").await;
    api.call(
        "POST",
        "/v1/hosts/a/roles",
        json!({ "role": "all", "backend": "loki" }),
    )
    .await;
    let list = api.get("/v1/hosts").await;
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.body[0]["roles"], json!(["loki:all"]));
    let missing = api.get("/v1/hosts/nope").await;
    assert_eq!(
        (missing.status, missing.code(), missing.field()),
        (StatusCode::NOT_FOUND, "host_not_found", "host")
    );
    // Host names are case-insensitive and stored lowercase.
    assert_eq!(api.get("/v1/hosts/A").await.body["name"], "a");
}

#[tokio::test]
async fn unassign_rules() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "querier").await;
    api.assign("h1", "ingester").await;
    let index = api.index().await;

    let u = api
        .call("DELETE", "/v1/hosts/h1/roles/querier", Value::Null)
        .await;
    assert_eq!(u.status, StatusCode::OK, "{:?}", u.body);
    assert_eq!(u.body["role"], "mimir:querier");
    assert_eq!(u.body["index"], index + 1);
    assert!(
        u.body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("mimir:querier now runs on no host"),
        "{:?}",
        u.body
    );

    let stateful = api
        .call("DELETE", "/v1/hosts/h1/roles/mimir:ingester", Value::Null)
        .await;
    assert_eq!(
        (stateful.status, stateful.code()),
        (StatusCode::CONFLICT, "ring_quorum")
    );
    assert!(
        stateful
            .message()
            .contains("needs 1 ready member to accept writes"),
        "{}",
        stateful.message()
    );
    let forced = api
        .call(
            "DELETE",
            "/v1/hosts/h1/roles/mimir:ingester?force=true",
            Value::Null,
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK);
    assert_eq!(api.get("/v1/hosts/h1").await.body["roles"], json!([]));

    let absent = api
        .call("DELETE", "/v1/hosts/h1/roles/ruler", Value::Null)
        .await;
    assert_eq!(
        (absent.status, absent.code()),
        (StatusCode::NOT_FOUND, "role_not_assigned")
    );
    let unknown_host = api
        .call("DELETE", "/v1/hosts/h9/roles/ruler", Value::Null)
        .await;
    assert_eq!(
        (unknown_host.status, unknown_host.code()),
        (StatusCode::NOT_FOUND, "host_not_found")
    );
}

#[tokio::test]
async fn remove_host_rules() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "tempo:all").await;
    api.register("idle", "198.18.0.3").await;

    let refused = api.call("DELETE", "/v1/hosts/h1", Value::Null).await;
    assert_eq!(
        (refused.status, refused.code(), refused.field()),
        (StatusCode::CONFLICT, "host_has_roles", "force")
    );
    let idle = api.call("DELETE", "/v1/hosts/idle", Value::Null).await;
    assert_eq!(idle.status, StatusCode::OK, "{:?}", idle.body);
    assert_eq!(
        idle.body,
        json!({ "host": "idle", "index": 4, "warnings": [] })
    );
    let forced = api
        .call("DELETE", "/v1/hosts/h1?force=true", Value::Null)
        .await;
    assert_eq!(forced.status, StatusCode::OK);
    assert_eq!(
        forced.body["warnings"][0],
        "tempo now runs on no host: it is no longer deployed"
    );
    assert_eq!(api.get("/v1/hosts").await.body, json!([]));
    let gone = api.call("DELETE", "/v1/hosts/h1", Value::Null).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn state_survives_a_restart() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "mimir:all").await;
    api.assign("h2", "loki:write").await;
    api.call(
        "PUT",
        "/v1/settings/cluster.name",
        json!({ "value": "prod" }),
    )
    .await;
    api.call(
        "PUT",
        "/v1/settings/loki.storage.s3.secret_access_key",
        json!({ "value": "s3cr3t" }),
    )
    .await;
    let before = api.snapshot().await;
    let desired = api.get("/v1/hosts/h1/desired").await.body;
    let api = api.restart();
    assert_eq!(api.snapshot().await, before);
    assert_eq!(api.get("/v1/hosts/h1/desired").await.body, desired);
    assert_eq!(
        api.assign("h2", "loki:read").await.body["index"],
        before["index"].as_u64().unwrap() + 1
    );
}
