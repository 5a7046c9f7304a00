//! Hostile input: newlines, quotes and systemd `%` specifiers in every value that can reach
//! a unit file or a config file, path traversal in host, role, backend and setting names
//! (percent-encoded in URL paths too), huge and deeply nested bodies. Each is refused with a
//! JSON error and changes nothing, or, where the value is legitimately free text (YAML
//! overrides), is carried as data: every rendered config still parses and holds no key the
//! value tried to inject.
#![allow(clippy::unwrap_used)]

mod common;

use common::Api;
use lgtm_model::settings;
use serde_json::{Value, json};

/// Text that would break out of a YAML scalar, a unit-file line or a shell word.
const PAYLOADS: &[&str] = &[
    "v\ninjected_key: 1",
    "v\r\ninjected_key: 1",
    "v\" injected_key: 1",
    "v' injected_key: 1",
    "%n%H%i",
    "v}: {injected_key: 1",
    "v\u{0}x",
    "../../etc/passwd",
];

/// Whether any mapping in `v` has the key `injected_key`.
fn injected(v: &serde_yaml_ng::Value) -> bool {
    match v {
        serde_yaml_ng::Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| k.as_str().is_some_and(|k| k.contains("injected_key")) || injected(v)),
        serde_yaml_ng::Value::Sequence(s) => s.iter().any(injected),
        serde_yaml_ng::Value::Tagged(t) => injected(&t.value),
        _ => false,
    }
}

async fn assert_refused(api: &Api, what: &str, a: &common::Answer, before: &Value) {
    assert!(
        a.status.is_client_error(),
        "{what}: {} {:?}",
        a.status,
        a.body
    );
    assert!(
        !a.code().is_empty() && !a.message().is_empty(),
        "{what}: {:?}",
        a.body
    );
    assert_eq!(&api.snapshot().await, before, "{what} changed the state");
}

/// Every rendered config of h1 parses as YAML and holds no injected key.
async fn assert_configs_clean(api: &Api, what: &str) {
    let a = api.get("/v1/hosts/h1/rendered").await;
    assert_eq!(a.status, 200, "{what}: {:?}", a.body);
    for p in a.body["processes"].as_array().unwrap() {
        let text = p["config"].as_str().unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .unwrap_or_else(|e| panic!("{what}: a config does not parse: {e}\n{text}"));
        assert!(!injected(&doc), "{what}: injected into\n{text}");
    }
}

#[tokio::test]
async fn hostile_setting_values_are_refused_or_carried_as_data() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    for role in ["mimir:all", "loki:all", "tempo:all"] {
        assert_eq!(api.assign("h1", role).await.status, 200);
    }
    let (mut refused, mut carried) = (0, 0);
    for spec in settings::keys() {
        for payload in PAYLOADS {
            let what = format!("{} = {payload:?}", spec.key);
            let before = api.snapshot().await;
            let uri = format!("/v1/settings/{}", spec.key);
            let a = api.call("PUT", &uri, json!({ "value": payload })).await;
            if a.status.is_success() {
                carried += 1;
                eprintln!("accepted as data: {what}");
                assert_configs_clean(&api, &what).await;
                // Back to the old value, so each payload is tried alone.
                let old = before["settings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["key"] == spec.key.as_str())
                    .and_then(|e| e["value"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                if !spec.secret {
                    let back = api.call("PUT", &uri, json!({ "value": old })).await;
                    assert_eq!(back.status, 200, "{what}: restore: {:?}", back.body);
                }
            } else {
                refused += 1;
                assert_refused(&api, &what, &a, &before).await;
            }
        }
    }
    eprintln!("hostile setting values: {refused} refused, {carried} accepted as data");
    assert!(refused > carried, "most hostile values are refused");
}

#[tokio::test]
async fn hostile_names_in_paths_and_bodies_are_refused() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "mimir:all").await;
    let before = api.snapshot().await;
    let role = |r: &str| json!({ "role": r });
    let reg = |host: &str, data_root: &str| json!({ "host": host, "address": "198.18.0.3", "data_root": data_root, "agent_version": "0.1.0" });
    let cases: Vec<(&str, &str, Value)> = vec![
        ("POST", "/v1/hosts/..%2F..%2Fetc/roles", role("mimir:all")),
        ("POST", "/v1/hosts/%2E%2E/roles", role("mimir:all")),
        ("POST", "/v1/hosts/h%0A1/roles", role("mimir:all")),
        ("POST", "/v1/hosts/h%251/roles", role("mimir:all")),
        ("POST", "/v1/hosts/h%221/roles", role("mimir:all")),
        ("POST", "/v1/hosts/h1/roles", role("../../etc/passwd")),
        (
            "POST",
            "/v1/hosts/h1/roles",
            role("mimir:ingester\nExecStartPre=/bin/sh"),
        ),
        ("POST", "/v1/hosts/h1/roles", role("mimir:%n")),
        ("POST", "/v1/hosts/h1/roles", role("mimir:\"querier\"")),
        (
            "POST",
            "/v1/hosts/h1/roles",
            json!({ "role": "querier", "backend": "../mimir" }),
        ),
        ("DELETE", "/v1/hosts/h1/roles/..%2F..%2Fetc", Value::Null),
        ("DELETE", "/v1/hosts/h1/roles/mimir:all%0A", Value::Null),
        ("DELETE", "/v1/hosts/h1/roles/mimir%3A%25n", Value::Null),
        (
            "GET",
            "/v1/hosts/h1/rendered?backend=..%2F..%2Fetc",
            Value::Null,
        ),
        ("GET", "/v1/hosts/h1/rendered?backend=mimir%0A", Value::Null),
        (
            "PUT",
            "/v1/settings/..%2F..%2Fetc%2Fpasswd",
            json!({ "value": "x" }),
        ),
        (
            "PUT",
            "/v1/settings/mimir.log_level%0A",
            json!({ "value": "debug" }),
        ),
        (
            "PUT",
            "/v1/settings/mimir.%25n",
            json!({ "value": "debug" }),
        ),
        ("POST", "/v1/hosts", reg("h1\nx", "/var/lib/lgtm")),
        ("POST", "/v1/hosts", reg("../h1", "/var/lib/lgtm")),
        (
            "POST",
            "/v1/hosts",
            reg("h2", "/var/lib/lgtm\nExecStartPre=/bin/sh"),
        ),
        ("POST", "/v1/hosts", reg("h2", "/var/lib/%h")),
        ("POST", "/v1/hosts", reg("h2", "/var/lib/\"lgtm\"")),
        ("POST", "/v1/hosts", reg("h2", "/var/lib/'lgtm'")),
        ("POST", "/v1/hosts", reg("h2", "/var/lib/lgtm/../../etc")),
        ("POST", "/v1/hosts", reg("h2", "relative/path")),
        (
            "GET",
            "/v1/hosts/..%2F..%2Fetc%2Fpasswd/desired",
            Value::Null,
        ),
        ("GET", "/v1/hosts/h1%2F..%2F..%2Fsettings", Value::Null),
    ];
    for (method, uri, body) in &cases {
        let what = format!("{method} {uri} {body}");
        let a = api.call(method, uri, body.clone()).await;
        assert_refused(&api, &what, &a, &before).await;
    }
    eprintln!("{} hostile names refused", cases.len());
}

#[tokio::test]
async fn huge_and_deeply_nested_bodies_are_refused() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    let before = api.snapshot().await;
    let huge = format!(r#"{{"role":"{}"}}"#, "a".repeat(8 * 1024 * 1024));
    let a = api.raw("POST", "/v1/hosts/h1/roles", huge).await;
    assert_eq!(a.status, 413, "{:?}", a.body);
    assert_eq!(a.code(), "body_too_large");
    assert_refused(&api, "8 MiB body", &a, &before).await;
    for depth in [200, 10_000, 60_000] {
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            let body = format!(
                r#"{{"role":{}1{}}}"#,
                open.repeat(depth),
                close.repeat(depth)
            );
            let what = format!("{depth} levels of {open}");
            let a = api.raw("POST", "/v1/hosts/h1/roles", body.clone()).await;
            assert_refused(&api, &what, &a, &before).await;
            assert!(
                [400, 413].contains(&a.status.as_u16()),
                "{what}: {}",
                a.status
            );
            let a = api.raw("PUT", "/v1/settings/mimir.overrides", body).await;
            assert_refused(&api, &what, &a, &before).await;
        }
    }
    // Still serving.
    assert_eq!(api.get("/v1/status").await.status, 200);
}

#[tokio::test]
async fn hostile_facts_in_reports_stay_data() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    api.assign("h1", "mimir:all").await;
    let configs = api.get("/v1/hosts/h1/rendered").await.body;
    let before = api.snapshot().await;
    for payload in PAYLOADS {
        let report = json!({
            "applied_index": 0,
            "agent_version": "0.1.0",
            "units": [{
                "unit": payload, "active_state": payload, "sub_state": payload,
                "n_restarts": 0, "main_pid": 0, "exec_main_status": 0,
                "ready": null, "error": payload,
            }],
            "actions": [],
            "facts": {
                "cpus": 1, "load1": 0.0, "memory_total_bytes": 1, "memory_available_bytes": 1,
                "disks": [{ "path": payload, "total_bytes": 1, "available_bytes": 1 }],
            },
        });
        let what = format!("report with {payload:?}");
        let a = api.call("POST", "/v1/hosts/h1/report", report).await;
        assert!(
            a.status.is_success() || a.status.is_client_error(),
            "{what}: {} {:?}",
            a.status,
            a.body
        );
        if a.status.is_client_error() {
            assert!(!a.message().is_empty(), "{what}");
        }
        // Reports are status, never intent: nothing an operator or agent reads changes.
        assert_eq!(api.snapshot().await, before, "{what} changed the state");
        assert_eq!(
            api.get("/v1/hosts/h1/rendered").await.body,
            configs,
            "{what}"
        );
        assert_eq!(api.get("/v1/status").await.status, 200, "{what}");
    }
}
