//! The OpenAPI document against the router: the router serves exactly the documented
//! (method, path) pairs, and the document is what `GET /v1/openapi.json` answers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::Api;
use lgtm_coordinator::openapi::{OPERATIONS, document};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn concrete(path: &str) -> String {
    path.replace("{host}", "h1")
        .replace("{role}", "mimir:ingester")
        .replace("{key}", "cluster.name")
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let api = Api::new();
    let documented: BTreeSet<(&str, &str)> =
        OPERATIONS.iter().map(|o| (o.method, o.path)).collect();
    let paths: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.path).collect();
    let mut routed = BTreeSet::new();
    for path in &paths {
        for method in METHODS {
            let uri = concrete(path);
            let a = api.raw(&method.to_uppercase(), &uri, "{}").await;
            match a.code() {
                "method_not_allowed" => assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED),
                "not_found" => panic!("{method} {uri}: the router has no such path"),
                _ => {
                    routed.insert((method, *path));
                }
            }
        }
    }
    assert_eq!(routed, documented);
}

#[tokio::test]
async fn the_document_is_served() {
    let api = Api::new();
    let a = api.get("/v1/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, document());
    assert_eq!(a.body["openapi"], "3.1.0");
    let ops = a.body["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum::<usize>();
    assert_eq!(ops, OPERATIONS.len());
}

/// Clients read answers into the wire types: every answer must parse as its type.
#[tokio::test]
async fn answers_parse_as_the_wire_types() {
    use lgtm_model::wire::*;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    fn typed<T: DeserializeOwned>(what: &str, a: &common::Answer) -> T {
        serde_json::from_value(a.body.clone()).unwrap_or_else(|e| panic!("{what}: {e}: {}", a.body))
    }
    let api = Api::new();
    let _: HostRecord = typed("register", &api.register("h1", "198.18.0.2").await);
    let _: AssignResponse = typed("assign", &api.assign("h1", "mimir:all").await);
    let _: AssignResponse = typed("assign again", &api.assign("h1", "mimir:all").await);
    let _: Vec<HostRecord> = typed("hosts", &api.get("/v1/hosts").await);
    let _: HostRecord = typed("host", &api.get("/v1/hosts/h1").await);
    let _: DesiredState = typed("desired", &api.get("/v1/hosts/h1/desired").await);
    let _: ClusterStatus = typed("status", &api.get("/v1/status").await);
    let _: Vec<SettingEntry> = typed("settings", &api.get("/v1/settings").await);
    let set = api
        .call(
            "PUT",
            "/v1/settings/mimir.log_level",
            json!({ "value": "warn" }),
        )
        .await;
    let _: SettingChanged = typed("set", &set);
    let un = api
        .call(
            "DELETE",
            "/v1/hosts/h1/roles/mimir:all?force=true",
            serde_json::Value::Null,
        )
        .await;
    let _: UnassignResponse = typed("unassign", &un);
    let _: HostRemoved = typed(
        "remove",
        &api.call("DELETE", "/v1/hosts/h1", serde_json::Value::Null)
            .await,
    );
    let _: ErrorBody = typed("error", &api.get("/v1/hosts/h1").await);
}
