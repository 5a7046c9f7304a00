//! `GET /v1/hosts/{host}/rendered`: what a host gets, secrets redacted; and the settings that
//! shape it (multi-line overlays, validated on the way in).
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::json;

const SECRET: &str = "hunter2-s3cret/KEY";

async fn put(api: &Api, key: &str, value: &str) -> common::Answer {
    api.call(
        "PUT",
        &format!("/v1/settings/{key}"),
        json!({ "value": value }),
    )
    .await
}

/// h1 runs Loki on S3 with an overlay and a Tempo distributor.
async fn cluster() -> Api {
    let api = Api::new();
    // Storage before roles: moving a deployed backend's storage is refused.
    for (k, v) in [
        ("loki.storage.backend", "s3"),
        ("loki.storage.s3.endpoint", "http://198.18.0.1:9000"),
        ("loki.storage.s3.bucket", "logs"),
        ("loki.storage.s3.access_key_id", "AKEXAMPLE"),
        ("loki.storage.s3.secret_access_key", SECRET),
        (
            "loki.overrides",
            "limits_config:\n  retention_period: 744h\n  max_query_series: 1000\n",
        ),
        ("tempo.receivers", "otlp_grpc,zipkin"),
    ] {
        let a = put(&api, k, v).await;
        assert_eq!(a.status, StatusCode::OK, "{k}: {:?}", a.body);
    }
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "loki:all").await;
    api.assign("h1", "tempo:distributor").await;
    api
}

#[tokio::test]
async fn rendered_shows_every_process_with_secrets_redacted() {
    let api = cluster().await;
    let all = api.get("/v1/hosts/h1/rendered").await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let units: Vec<&str> = all.body["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["unit"].as_str().unwrap())
        .collect();
    assert_eq!(
        units,
        ["lgtm-loki.service", "lgtm-tempo-distributor.service"]
    );
    let loki = all.body["processes"][0]["config"].as_str().unwrap();
    assert!(loki.contains("secret_access_key: <redacted>"), "{loki}");
    assert!(loki.contains("retention_period: 744h"), "{loki}");
    assert!(loki.contains("bucketnames: logs"), "{loki}");
    let tempo = all.body["processes"][1]["config"].as_str().unwrap();
    assert!(
        tempo.contains("0.0.0.0:9411") && !tempo.contains("4318"),
        "{tempo}"
    );
    assert_eq!(
        all.body["index"],
        api.get("/v1/hosts/h1/desired").await.body["index"]
    );

    let only = api.get("/v1/hosts/h1/rendered?backend=tempo").await;
    assert_eq!(only.body["processes"].as_array().unwrap().len(), 1);
    assert_eq!(only.body["processes"][0]["id"]["backend"], "tempo");

    // The agent still gets the real value; no operator-facing answer does.
    let desired = api.get("/v1/hosts/h1/desired").await.body.to_string();
    assert!(desired.contains(SECRET));
    for uri in [
        "/v1/hosts/h1/rendered",
        "/v1/hosts/h1/rendered?backend=loki",
        "/v1/hosts/h1",
        "/v1/hosts",
        "/v1/settings",
        "/v1/status",
        "/metrics",
    ] {
        let text = api.get(uri).await.body.to_string();
        assert!(!text.contains("hunter2"), "{uri} leaks the secret");
    }
}

#[tokio::test]
async fn rendered_refusals() {
    let api = cluster().await;
    let bad = api.get("/v1/hosts/h1/rendered?backend=mimr").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!((bad.code(), bad.field()), ("invalid_query", "backend"));
    assert!(bad.message().contains("mimir"), "{}", bad.message());
    let extra = api.get("/v1/hosts/h1/rendered?host=h1").await;
    assert_eq!(extra.status, StatusCode::BAD_REQUEST);
    let unknown = api.get("/v1/hosts/h9/rendered").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // A host that cannot be rendered says why, naming the setting.
    let assigned = api.assign("h1", "tempo:metrics-generator").await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);
    let broken = api.get("/v1/hosts/h1/rendered").await;
    assert_eq!(broken.status, StatusCode::CONFLICT);
    assert_eq!(broken.field(), "tempo.metrics_generator.remote_write_url");
    put(
        &api,
        "tempo.metrics_generator.remote_write_url",
        "http://198.18.0.1:9009/api/v1/push",
    )
    .await;
    let fixed = api.get("/v1/hosts/h1/rendered?backend=tempo").await;
    assert_eq!(fixed.status, StatusCode::OK, "{:?}", fixed.body);
    assert!(
        fixed.body["processes"][1]["config"]
            .as_str()
            .unwrap()
            .contains("http://198.18.0.1:9009/api/v1/push")
    );
}

#[tokio::test]
async fn only_overlays_take_several_lines_and_they_are_checked() {
    let api = cluster().await;
    let index = api.index().await;
    let two_lines = put(&api, "mimir.log_level", "debug\ninfo").await;
    assert_eq!(two_lines.status, StatusCode::BAD_REQUEST);
    let bucket = put(&api, "tempo.storage.s3.bucket", "a\nb").await;
    assert_eq!(bucket.status, StatusCode::BAD_REQUEST);
    let cases = [
        (
            "mimir.overrides",
            "ingester:\n  ring:\n    replication_factr: 2\n",
            "unknown configuration key 'ingester.ring.replication_factr'",
        ),
        (
            "loki.overrides",
            "memberlist:\n  join_members: [a:1]\n",
            "'memberlist.join_members' is set by lgtm",
        ),
        (
            "loki.overrides",
            "common:\n  storage:\n    s3:\n      secret_access_key: x\n",
            "lgtmctl config set loki.storage",
        ),
        (
            "tempo.overrides",
            "- not\n- a mapping\n",
            "must be a YAML mapping",
        ),
        ("tempo.receivers", "otlp", "'otlp' is not a receiver"),
        (
            "loki.storage.s3.ca_file",
            "relative/ca.pem",
            "not a plain absolute file path",
        ),
        (
            "mimir.storage.s3.ca_file",
            "/etc/ca.pem",
            "system trust store",
        ),
    ];
    for (key, value, want) in cases {
        let a = put(&api, key, value).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{key}={value:?}");
        assert_eq!((a.code(), a.field()), ("invalid_setting", "value"), "{key}");
        assert!(
            a.message().contains(key) && a.message().contains(want),
            "{key}: {}",
            a.message()
        );
    }
    assert_eq!(api.index().await, index, "refused values change nothing");
    // A valid multi-line overlay is stored as given and read back whole.
    let text = "limits:\n  ingestion_rate: 50000\n";
    assert_eq!(
        put(&api, "mimir.overrides", text).await.status,
        StatusCode::OK
    );
    let list = api.get("/v1/settings").await.body;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "mimir.overrides")
        .unwrap();
    assert_eq!(entry["value"], text);
}
