//! Credentials and authorization end to end over the real router: missing, unknown,
//! expired, revoked and replayed credentials are refused with the right status and a clear
//! message, and change nothing; each role does only what it may. The binary's log holds no
//! token.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::process::{Coordinator, admin_token, http_with};
use common::{Answer, Api};
use serde_json::{Value, json};

/// A request with `token` as its bearer credential (`None`: no credential at all).
async fn call(api: &Api, token: Option<&str>, method: &str, uri: &str, body: Value) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    api.send_bare(req.body(body).unwrap()).await
}

fn registration(host: &str) -> Value {
    json!({ "host": host, "address": "198.18.0.2", "data_root": "/var/lib/lgtm", "agent_version": "0.1.0" })
}

/// Creates a join token as admin: (id, token).
async fn join_token(api: &Api, ttl_seconds: u64) -> (String, String) {
    let a = api
        .call(
            "POST",
            "/v1/join-tokens",
            json!({ "ttl_seconds": ttl_seconds }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let token = a.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lgtm_join_"), "{token}");
    (a.body["id"].as_str().unwrap().to_owned(), token)
}

/// Joins `host` with `join`: its new credential.
async fn join(api: &Api, join: &str, host: &str) -> String {
    let a = call(api, Some(join), "POST", "/v1/hosts", registration(host)).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let cred = a.body["credential"].as_str().unwrap().to_owned();
    assert!(cred.starts_with("lgtm_host_"), "{cred}");
    cred
}

fn refused(a: &Answer, status: StatusCode, code: &str, says: &str) {
    assert_eq!(a.status, status, "{:?}", a.body);
    assert_eq!(a.code(), code, "{:?}", a.body);
    assert!(a.message().contains(says), "{:?}", a.body);
}

#[tokio::test]
async fn missing_and_unknown_credentials_are_refused_and_change_nothing() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    let before = api.snapshot().await;
    let put = json!({ "value": "warn" });
    let a = call(
        &api,
        None,
        "PUT",
        "/v1/settings/mimir.log_level",
        put.clone(),
    )
    .await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_missing",
        "Authorization: Bearer",
    );
    for wrong in ["lgtm_admin_AAAA", "", "not a token at all"] {
        let a = call(
            &api,
            Some(wrong),
            "PUT",
            "/v1/settings/mimir.log_level",
            put.clone(),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{wrong:?}: {:?}",
            a.body
        );
    }
    let a = call(
        &api,
        Some("lgtm_admin_AAAA"),
        "GET",
        "/v1/status",
        Value::Null,
    )
    .await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_unknown",
        "not known",
    );
    // Health and the API document stay open.
    assert_eq!(
        call(&api, None, "GET", "/healthz", Value::Null)
            .await
            .status,
        StatusCode::OK
    );
    let doc = call(&api, None, "GET", "/v1/openapi.json", Value::Null).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(
        doc.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(api.snapshot().await, before);
}

#[tokio::test]
async fn the_read_only_credential_reads_and_cannot_write() {
    let api = Api::new();
    api.register("h1", "198.18.0.2").await;
    let read = api.token("read");
    assert!(read.starts_with("lgtm_read_"));
    let before = api.snapshot().await;
    for uri in [
        "/v1/status",
        "/v1/hosts",
        "/v1/hosts/h1",
        "/v1/settings",
        "/v1/hosts/h1/rendered",
    ] {
        let a = call(&api, Some(&read), "GET", uri, Value::Null).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {:?}", a.body);
    }
    // Desired state carries secrets: only the host itself and the admin read it.
    let a = call(
        &api,
        Some(&read),
        "GET",
        "/v1/hosts/h1/desired",
        Value::Null,
    )
    .await;
    refused(&a, StatusCode::FORBIDDEN, "forbidden", "read-only");
    for (method, uri, body) in [
        (
            "PUT",
            "/v1/settings/mimir.log_level",
            json!({ "value": "warn" }),
        ),
        ("POST", "/v1/hosts/h1/roles", json!({ "role": "mimir:all" })),
        ("DELETE", "/v1/hosts/h1", Value::Null),
        ("POST", "/v1/hosts", registration("h2")),
        ("POST", "/v1/join-tokens", json!({})),
    ] {
        let a = call(&api, Some(&read), method, uri, body).await;
        refused(&a, StatusCode::FORBIDDEN, "forbidden", "may not");
    }
    assert_eq!(api.snapshot().await, before);
}

#[tokio::test]
async fn host_credentials_reach_only_their_own_host() {
    let api = Api::new();
    let (_, token) = join_token(&api, 3600).await;
    let a_cred = join(&api, &token, "host-a").await;
    // A join token serves several hosts until it expires.
    let b_cred = join(&api, &token, "host-b").await;
    assert_ne!(a_cred, b_cred);
    let own = call(
        &api,
        Some(&a_cred),
        "GET",
        "/v1/hosts/host-a/desired",
        Value::Null,
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
    let report = serde_json::to_value(lgtm_model::wire::Report::default()).unwrap();
    let a = call(
        &api,
        Some(&a_cred),
        "POST",
        "/v1/hosts/host-a/report",
        report.clone(),
    )
    .await;
    assert!(a.status.is_success(), "{:?}", a.body);

    let before = api.snapshot().await;
    let a = call(
        &api,
        Some(&a_cred),
        "GET",
        "/v1/hosts/host-b/desired",
        Value::Null,
    )
    .await;
    refused(&a, StatusCode::FORBIDDEN, "forbidden", "host-a");
    let a = call(
        &api,
        Some(&a_cred),
        "POST",
        "/v1/hosts/host-b/report",
        report,
    )
    .await;
    refused(&a, StatusCode::FORBIDDEN, "forbidden", "host-a");
    let a = call(
        &api,
        Some(&a_cred),
        "POST",
        "/v1/hosts",
        registration("host-b"),
    )
    .await;
    refused(&a, StatusCode::FORBIDDEN, "forbidden", "own name");
    for (method, uri) in [("GET", "/v1/status"), ("PUT", "/v1/settings/cluster.name")] {
        let a = call(&api, Some(&a_cred), method, uri, json!({ "value": "x" })).await;
        refused(&a, StatusCode::FORBIDDEN, "forbidden", "host-a");
    }
    // A join token cannot take over a host that has a live credential.
    let a = call(
        &api,
        Some(&token),
        "POST",
        "/v1/hosts",
        registration("host-a"),
    )
    .await;
    refused(
        &a,
        StatusCode::CONFLICT,
        "host_has_credential",
        "remove the host first",
    );
    // A join token does nothing else.
    let a = call(
        &api,
        Some(&token),
        "GET",
        "/v1/hosts/host-a/desired",
        Value::Null,
    )
    .await;
    refused(&a, StatusCode::FORBIDDEN, "forbidden", "join token");
    assert_eq!(api.snapshot().await, before);
    // Re-registering under its own credential is fine, and issues nothing new.
    let a = call(
        &api,
        Some(&a_cred),
        "POST",
        "/v1/hosts",
        registration("host-a"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body.get("credential").is_none(), "{:?}", a.body);
}

#[tokio::test]
async fn removing_a_host_revokes_its_credential_and_it_may_join_again() {
    let api = Api::new();
    let (_, token) = join_token(&api, 3600).await;
    let cred = join(&api, &token, "host-a").await;
    let removed = api.call("DELETE", "/v1/hosts/host-a", Value::Null).await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    let before = api.snapshot().await;
    let a = call(
        &api,
        Some(&cred),
        "GET",
        "/v1/hosts/host-a/desired",
        Value::Null,
    )
    .await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_revoked",
        "give it a new join token",
    );
    let a = call(
        &api,
        Some(&cred),
        "POST",
        "/v1/hosts",
        registration("host-a"),
    )
    .await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_revoked",
        "revoked",
    );
    assert_eq!(api.snapshot().await, before);
    // The revocation survives a restart; the host can join afresh.
    let api = api.restart();
    let a = call(
        &api,
        Some(&cred),
        "GET",
        "/v1/hosts/host-a/desired",
        Value::Null,
    )
    .await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_revoked",
        "revoked",
    );
    let again = join(&api, &token, "host-a").await;
    assert_ne!(again, cred);
}

#[tokio::test]
async fn revoked_and_expired_join_tokens_are_refused() {
    let api = Api::new();
    let (id, token) = join_token(&api, 3600).await;
    let a = api
        .call("DELETE", &format!("/v1/join-tokens/{id}"), Value::Null)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = api
        .call("DELETE", "/v1/join-tokens/0000", Value::Null)
        .await;
    refused(
        &a,
        StatusCode::NOT_FOUND,
        "join_token_not_found",
        "join-token create",
    );
    let before = api.snapshot().await;
    let a = call(&api, Some(&token), "POST", "/v1/hosts", registration("h1")).await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_revoked",
        "revoked",
    );
    for ttl in [0, 8 * 24 * 3600] {
        let a = api
            .call("POST", "/v1/join-tokens", json!({ "ttl_seconds": ttl }))
            .await;
        refused(&a, StatusCode::BAD_REQUEST, "invalid_ttl", "out of range");
    }
    let (_, short) = join_token(&api, 1).await;
    // Expiry is in whole seconds: past two seconds it has expired for sure.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a = call(&api, Some(&short), "POST", "/v1/hosts", registration("h1")).await;
    refused(
        &a,
        StatusCode::UNAUTHORIZED,
        "credential_expired",
        "join-token create",
    );
    assert_eq!(api.snapshot().await, before);
}

#[test]
fn the_coordinator_log_holds_no_token() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let c = Coordinator::start(&state, &[("RUST_LOG", "debug")]);
    let admin = admin_token(c.addr).unwrap();
    let read = std::fs::read_to_string(state.join("credentials/read.token")).unwrap();
    let auth = |t: &str| format!("Authorization: Bearer {t}\r\n");
    let (status, created) =
        http_with(c.addr, "POST", "/v1/join-tokens", &auth(&admin), Some("{}")).unwrap();
    assert_eq!(status, 201, "{created}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let join = created["token"].as_str().unwrap().to_owned();
    let reg = registration("h1").to_string();
    let (status, joined) =
        http_with(c.addr, "POST", "/v1/hosts", &auth(&join), Some(&reg)).unwrap();
    assert_eq!(status, 200, "{joined}");
    let joined: Value = serde_json::from_str(&joined).unwrap();
    let host = joined["credential"].as_str().unwrap().to_owned();
    // Refusals are logged too: none may echo the credential.
    let (status, _) = http_with(c.addr, "POST", "/v1/hosts", &auth(&join), Some(&reg)).unwrap();
    assert_eq!(status, 409);
    let (status, _) = http_with(c.addr, "GET", "/v1/hosts/h2/desired", &auth(&host), None).unwrap();
    assert_eq!(status, 403);
    let (status, _) = http_with(
        c.addr,
        "PUT",
        "/v1/settings/cluster.name",
        &auth(read.trim()),
        Some(r#"{"value":"x"}"#),
    )
    .unwrap();
    assert_eq!(status, 403);
    let (status, _) =
        http_with(c.addr, "GET", "/v1/status", &auth("lgtm_admin_guess"), None).unwrap();
    assert_eq!(status, 401);
    c.kill_9();
    let log = std::fs::read_to_string(state.with_extension("log")).unwrap();
    assert!(
        log.contains("created a join token"),
        "the log is the coordinator's: {log}"
    );
    for token in [
        admin.as_str(),
        read.trim(),
        &join,
        &host,
        "lgtm_admin_guess",
    ] {
        let secret = token.split_at(12).1;
        assert!(!log.contains(secret), "a token is in the log:\n{log}");
    }
}

#[test]
fn only_clients_pinning_the_coordinators_ca_get_through() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    // `init` makes a CA of its own: another coordinator's, for this one.
    let other = tmp.path().join("other");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lgtm-coordinator"))
        .args(["--state-dir"])
        .arg(&other)
        .args(["init", "--san", "lgtm.example"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other_ca = std::fs::read(other.join("tls/ca.pem")).unwrap();
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_lgtm-coordinator"))
        .args(["--state-dir"])
        .arg(&other)
        .arg("init")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let state = tmp.path().join("state");
    let c = Coordinator::start(&state, &[]);
    // With its CA: served.
    let (status, _) = common::process::http(c.addr, "GET", "/v1/status", None).unwrap();
    assert_eq!(status, 200);
    // Trusting nothing, or another CA: the handshake fails.
    for roots in [None, Some(other_ca.as_slice())] {
        let Err(e) = common::process::tls_connect(c.addr, common::process::tls_config(roots))
        else {
            panic!("the handshake must fail");
        };
        assert!(e.to_string().contains("certificate"), "{e}");
    }
    // Plain HTTP gets no HTTP answer.
    let mut s = std::net::TcpStream::connect(c.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // The CA is for everyone to pin; keys are the coordinator's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |f: &str| {
        std::fs::metadata(state.join("tls").join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("ca.pem"), 0o644);
    assert_eq!(mode("server.key"), 0o600);
    assert_eq!(mode("ca.key"), 0o600);
}
