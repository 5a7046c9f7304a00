//! Settings and secrets over the API.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{Value, json};

fn entry<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap()
}

#[tokio::test]
async fn every_key_is_listed_and_secrets_never_come_back() {
    let api = Api::new();
    let list = api.get("/v1/settings").await.body;
    let keys: Vec<String> = lgtm_model::settings::keys()
        .into_iter()
        .map(|k| k.key)
        .collect();
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(listed, keys);
    assert_eq!(
        entry(&list, "cluster.name"),
        &json!({ "key": "cluster.name", "value": "lgtm", "secret": false, "is_set": true,
                 "help": "cluster name, part of memberlist cluster labels" })
    );
    let secret = "mimir.storage.s3.secret_access_key";
    assert_eq!(entry(&list, secret)["is_set"], false);

    let set = api
        .call(
            "PUT",
            &format!("/v1/settings/{secret}"),
            json!({ "value": "hunter2-secret" }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.body, json!({ "key": secret, "index": 1 }));
    let list = api.get("/v1/settings").await.body;
    assert_eq!(
        entry(&list, secret),
        &json!({ "key": secret, "value": null, "secret": true, "is_set": true, "help": "secret access key (secret: --from-stdin)" })
    );
    for uri in ["/v1/settings", "/v1/status", "/v1/hosts", "/metrics"] {
        let text = api.get(uri).await.body.to_string();
        assert!(!text.contains("hunter2"), "{uri} leaks the secret");
    }
    // Clearing it.
    let cleared = api
        .call(
            "PUT",
            &format!("/v1/settings/{secret}"),
            json!({ "value": "" }),
        )
        .await;
    assert_eq!(cleared.body["index"], 2);
    assert_eq!(
        entry(&api.get("/v1/settings").await.body, secret)["is_set"],
        false
    );
}

#[tokio::test]
async fn settings_change_rendering_and_the_index() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "loki:all").await;
    let set = api
        .call(
            "PUT",
            "/v1/settings/loki.log_level",
            json!({ "value": "debug" }),
        )
        .await;
    assert_eq!(set.body, json!({ "key": "loki.log_level", "index": 3 }));
    // The running Loki must restart for it: the host keeps what it runs until the rollout
    // (not running in this test) releases it; the rendering shows what it will run.
    let d = api.get("/v1/hosts/h1/desired").await.body;
    assert_eq!(d["index"], 2);
    let given = d["processes"][0]["config"].as_str().unwrap();
    assert!(given.contains("log_level: info"), "{given}");
    let r = api.get("/v1/hosts/h1/rendered").await.body;
    let target = r["processes"][0]["config"].as_str().unwrap();
    assert!(target.contains("log_level: debug"), "{target}");
    let rollout = api.get("/v1/rollout").await.body;
    assert_eq!(
        rollout["waiting"][0]["unit"], "lgtm-loki.service",
        "{rollout}"
    );
    // The same value again is no change.
    let same = api
        .call(
            "PUT",
            "/v1/settings/loki.log_level",
            json!({ "value": "debug" }),
        )
        .await;
    assert_eq!(same.body["index"], 3);
    // A Mimir setting does not touch a Loki host.
    api.call(
        "PUT",
        "/v1/settings/mimir.log_level",
        json!({ "value": "warn" }),
    )
    .await;
    assert_eq!(api.index().await, 4);
    assert_eq!(api.get("/v1/hosts/h1/desired").await.body["index"], 2);
    assert_eq!(
        entry(&api.get("/v1/settings").await.body, "mimir.log_level")["value"],
        "warn"
    );
}

#[tokio::test]
async fn default_backend_applies_to_bare_roles() {
    let api = Api::new();
    api.call(
        "PUT",
        "/v1/settings/cluster.default_backend",
        json!({ "value": "tempo" }),
    )
    .await;
    assert_eq!(
        api.assign("h1", "querier").await.body["role"],
        "tempo:querier"
    );
    let u = api
        .call("DELETE", "/v1/hosts/h1/roles/querier", Value::Null)
        .await;
    assert_eq!(u.body["role"], "tempo:querier");
}
