//! The agent's side of the API: desired state (long-polls), reports, and status.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{Api, within};
use serde_json::{Value, json};

fn report(applied_index: u64) -> Value {
    json!({
        "applied_index": applied_index,
        "agent_version": "0.1.0",
        "units": [{ "unit": "lgtm-mimir.service", "active_state": "active", "sub_state": "running",
                    "n_restarts": 0, "main_pid": 42, "exec_main_status": 0, "ready": true, "error": null }],
        "actions": [
            { "action": "start lgtm-mimir.service", "ok": true, "error": null },
            { "action": "restart lgtm-loki.service", "ok": false, "error": "timed out" }
        ],
        "facts": { "cpus": 2, "load1": 0.25, "memory_total_bytes": 1000, "memory_available_bytes": 500,
                   "disks": [{ "path": "/var/lib/lgtm", "total_bytes": 10, "available_bytes": 5 }] }
    })
}

#[tokio::test]
async fn desired_state_renders_and_keeps_its_index() {
    let api = Api::new();
    // Mimir goes on two hosts: object storage first (settings touch no host yet).
    let base = api.on_s3("mimir").await;
    api.register("h1", "198.18.0.2").await;
    let empty = api.get("/v1/hosts/h1/desired").await;
    assert_eq!(
        empty.body,
        json!({ "host": "h1", "index": base + 1, "processes": [] })
    );
    api.assign("h1", "mimir:all").await;
    let d = api.get("/v1/hosts/h1/desired?index=0").await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body["index"], base + 2);
    let p = &d.body["processes"][0];
    assert_eq!(p["id"], json!({ "backend": "mimir", "role": null }));
    assert_eq!(p["data_dir"], "/var/lib/lgtm/mimir");
    assert!(
        p["config"]
            .as_str()
            .unwrap()
            .contains("cluster_label: lgtm-mimir")
    );
    // A change that does not touch h1's content leaves its index alone.
    api.register("h2", "198.18.0.3").await;
    api.assign("h2", "tempo:all").await;
    assert_eq!(api.index().await, base + 4);
    assert_eq!(
        api.get("/v1/hosts/h1/desired").await.body["index"],
        base + 2
    );
    // One that does (a new Mimir peer) moves it.
    api.assign("h2", "mimir:querier").await;
    assert_eq!(
        api.get("/v1/hosts/h1/desired").await.body["index"],
        base + 5
    );
}

#[tokio::test]
async fn render_errors_are_409_naming_the_fix() {
    let api = Api::new();
    api.assign("h1", "mimir:all").await;
    let e = api.get("/v1/hosts/h1/desired").await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::CONFLICT, "render_failed")
    );
    assert!(e.message().contains("start lgtm-agent"), "{}", e.message());
    assert_eq!(e.field(), "host");
    api.register("h1", "198.18.0.2").await;
    // Forced: moving a deployed backend's storage is refused otherwise.
    api.call(
        "PUT",
        "/v1/settings/mimir.storage.backend?force=true",
        json!({ "value": "s3" }),
    )
    .await;
    let e = api.get("/v1/hosts/h1/desired").await;
    assert_eq!(e.status, StatusCode::CONFLICT);
    assert!(
        e.message()
            .contains("lgtmctl config set mimir.storage.s3.endpoint"),
        "{}",
        e.message()
    );
    let unknown = api.get("/v1/hosts/nope/desired").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "host_not_found")
    );
}

#[tokio::test]
async fn long_poll_answers_at_once_when_the_agent_is_behind() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "loki:all").await;
    // A 10 minute wait would hang the test if the answer were not immediate.
    let d = within(
        "immediate long-poll",
        api.get("/v1/hosts/h1/desired?index=1&wait=10m"),
    )
    .await;
    assert_eq!(d.body["index"], 2);
}

#[tokio::test]
async fn long_poll_waits_and_wakes_only_for_its_host() {
    let api = Api::new();
    // Loki goes on two hosts: object storage first.
    api.on_s3("loki").await;
    api.register("h1", "198.18.0.2").await;
    let applied = api.assign("h1", "loki:all").await.body["index"]
        .as_u64()
        .unwrap();
    let metrics = api.app.state.metrics.clone();
    let router = api.app.router.clone();
    let bearer = format!("Bearer {}", api.token("admin"));
    let poll = tokio::spawn(async move {
        let uri = format!("/v1/hosts/h1/desired?index={applied}&wait=10m");
        let req = axum::http::Request::get(uri.as_str())
            .header("authorization", bearer.as_str())
            .body(axum::body::Body::empty())
            .unwrap();
        let res = tower::ServiceExt::oneshot(router, req).await.unwrap();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    });
    within("the long-poll to start waiting", async {
        while metrics.waiting_now() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(!poll.is_finished());
    // A change to another backend on another host is not h1's business...
    api.register("h2", "198.18.0.3").await;
    api.assign("h2", "tempo:all").await;
    // ...a new Loki peer is. The answer carries this index, not an earlier one.
    let moved = api.assign("h2", "loki:read").await.body["index"]
        .as_u64()
        .unwrap();
    let d = within("the woken long-poll", poll).await.unwrap();
    assert_eq!(d["index"], moved);
    assert_eq!(metrics.waiting_now(), 0);
}

#[tokio::test]
async fn long_poll_times_out_with_the_same_index() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    let d = within(
        "a timed-out long-poll",
        api.get("/v1/hosts/h1/desired?index=1&wait=200ms"),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body["index"], 1);
}

#[tokio::test]
async fn long_poll_answers_at_shutdown() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    let metrics = api.app.state.metrics.clone();
    let router = api.app.router.clone();
    let bearer = format!("Bearer {}", api.token("admin"));
    let poll = tokio::spawn(async move {
        let req = axum::http::Request::get("/v1/hosts/h1/desired?index=1&wait=10m")
            .header("authorization", bearer.as_str())
            .body(axum::body::Body::empty())
            .unwrap();
        tower::ServiceExt::oneshot(router, req)
            .await
            .unwrap()
            .status()
    });
    within("waiting", async {
        while metrics.waiting_now() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    api.app.shutdown.send_replace(true);
    assert_eq!(
        within("the long-poll at shutdown", poll).await.unwrap(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn reports_feed_the_status() {
    let api = Api::new();
    let early = api.call("POST", "/v1/hosts/h1/report", report(0)).await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::NOT_FOUND, "host_not_registered")
    );
    assert!(early.message().contains("start the agent so it registers"));
    api.assign("h1", "mimir:all").await;
    let unregistered = api.call("POST", "/v1/hosts/h1/report", report(0)).await;
    assert_eq!(unregistered.status, StatusCode::NOT_FOUND);

    api.register("h1", "198.18.0.2").await;
    api.assign("h2", "loki:all").await;
    let ok = api.call("POST", "/v1/hosts/h1/report", report(1)).await;
    assert_eq!(
        (ok.status, &ok.body),
        (StatusCode::NO_CONTENT, &Value::Null)
    );

    let s = api.get("/v1/status").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    assert_eq!(s.body["index"], 3);
    let backends: Vec<(&str, bool)> = s.body["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["backend"].as_str().unwrap(),
                b["consistent"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        backends,
        [("mimir", true), ("loki", true), ("tempo", false)]
    );
    assert!(
        s.body["backends"][1]["warnings"]
            .to_string()
            .contains("\"host h2 has not registered yet")
    );
    let h1 = &s.body["hosts"][0];
    assert_eq!(h1["name"], "h1");
    assert_eq!(h1["liveness"], "alive");
    assert_eq!(h1["desired_index"], 2);
    assert_eq!(h1["applied_index"], 1);
    assert_eq!(h1["behind"], true);
    assert_eq!(h1["units"][0]["unit"], "lgtm-mimir.service");
    assert_eq!(
        h1["failed_actions"],
        json!([{ "action": "restart lgtm-loki.service", "ok": false, "error": "timed out" }])
    );
    assert_eq!(h1["facts"]["cpus"], 2);
    let h2 = &s.body["hosts"][1];
    assert_eq!(
        (
            h2["liveness"].as_str(),
            h2["applied_index"].is_null(),
            h2["behind"].as_bool()
        ),
        (Some("unknown"), true, Some(true))
    );

    api.call("POST", "/v1/hosts/h1/report", report(2)).await;
    let s = api.get("/v1/status").await;
    assert_eq!(s.body["hosts"][0]["behind"], false);
    // Reports never touch the store: the index did not move.
    assert_eq!(api.index().await, 3);
}

#[tokio::test]
async fn thousands_of_waiting_long_polls_all_wake_on_one_change() {
    const WAITERS: usize = 2000;
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    let metrics = api.app.state.metrics.clone();
    let polls: Vec<_> = (0..WAITERS)
        .map(|_| {
            let router = api.app.router.clone();
            let bearer = format!("Bearer {}", api.token("admin"));
            tokio::spawn(async move {
                let req = axum::http::Request::get("/v1/hosts/h1/desired?index=1&wait=10m")
                    .header("authorization", bearer.as_str())
                    .body(axum::body::Body::empty())
                    .unwrap();
                let res = tower::ServiceExt::oneshot(router, req).await.unwrap();
                let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                    .await
                    .unwrap();
                serde_json::from_slice::<Value>(&bytes).unwrap()["index"].as_u64()
            })
        })
        .collect();
    within("every long-poll to wait", async {
        while metrics.waiting_now() < WAITERS as u64 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let index = api.assign("h1", "mimir:all").await.body["index"].as_u64();
    for poll in polls {
        assert_eq!(within("a woken long-poll", poll).await.unwrap(), index);
    }
    assert_eq!(metrics.waiting_now(), 0);
}
