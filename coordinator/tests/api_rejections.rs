//! Every class of bad input: a 4xx JSON error with code, message and field, and no change.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Api;
use serde_json::json;

struct Case {
    what: &'static str,
    method: &'static str,
    uri: &'static str,
    body: Body,
    content_type: Option<&'static str>,
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
    message: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    uri: &'static str,
    body: impl Into<Body>,
) -> Case {
    Case {
        what,
        method,
        uri,
        body: body.into(),
        content_type: Some("application/json"),
        status: StatusCode::BAD_REQUEST,
        code: "",
        field: None,
        message: "",
    }
}

impl Case {
    fn want(
        mut self,
        status: u16,
        code: &'static str,
        field: Option<&'static str>,
        message: &'static str,
    ) -> Case {
        self.status = StatusCode::from_u16(status).unwrap();
        self.code = code;
        self.field = field;
        self.message = message;
        self
    }
    fn content_type(mut self, ct: Option<&'static str>) -> Case {
        self.content_type = ct;
        self
    }
}

const REG: &str =
    r#"{"host":"h1","address":"198.18.0.2","data_root":"/var/lib/lgtm","agent_version":"0.1.0"}"#;

const REPORT: &str = r#"{"applied_index":0,"agent_version":"0.1.0","units":[],"actions":[],"facts":{"cpus":1,"load1":0.0,"memory_total_bytes":1,"memory_available_bytes":1,"disks":[]}}"#;

fn cases() -> Vec<Case> {
    let big = format!(r#"{{"role":"{}"}}"#, "a".repeat(70 * 1024));
    let secret = "/v1/settings/mimir.storage.s3.secret_access_key";
    vec![
        case(
            "bad host in path",
            "POST",
            "/v1/hosts/bad_host/roles",
            r#"{"role":"ingester"}"#,
        )
        .want(400, "invalid_host_name", Some("host"), "RFC 1123"),
        case("host with a dot-dot", "GET", "/v1/hosts/..%2Fetc", "").want(
            400,
            "invalid_host_name",
            Some("host"),
            "invalid label",
        ),
        case("invalid UTF-8 in path", "GET", "/v1/hosts/h%FF", "").want(
            400,
            "invalid_path",
            Some("path"),
            "UTF-8",
        ),
        case(
            "unknown role",
            "POST",
            "/v1/hosts/h1/roles",
            r#"{"role":"quorier"}"#,
        )
        .want(400, "invalid_role", Some("role"), "did you mean 'querier'?"),
        case(
            "role of another backend than asked",
            "POST",
            "/v1/hosts/h1/roles",
            r#"{"role":"loki:write","backend":"mimir"}"#,
        )
        .want(400, "invalid_role", Some("backend"), "drop one of them"),
        case(
            "unknown backend",
            "POST",
            "/v1/hosts/h1/roles",
            r#"{"role":"x","backend":"mimr"}"#,
        )
        .want(400, "invalid_field", Some("backend"), "unknown variant"),
        case(
            "overlapping tempo role",
            "POST",
            "/v1/hosts/h2/roles",
            r#"{"role":"tempo:ingester"}"#,
        )
        .want(
            409,
            "role_conflict",
            Some("role"),
            "Unassign tempo:all first",
        ),
        case(
            "malformed JSON",
            "POST",
            "/v1/hosts/h1/roles",
            r#"{"role":"#,
        )
        .want(400, "invalid_json", Some("body"), "not valid JSON"),
        case("empty body", "POST", "/v1/hosts/h1/roles", "").want(
            400,
            "invalid_json",
            Some("body"),
            "not valid JSON",
        ),
        case(
            "invalid UTF-8 in body",
            "POST",
            "/v1/hosts/h1/roles",
            b"{\"role\":\"in\xffgester\"}".to_vec(),
        )
        .want(400, "invalid_json", Some("body"), "not valid JSON"),
        case(
            "trailing data",
            "POST",
            "/v1/hosts/h1/roles",
            r#"{"role":"ingester"} x"#,
        )
        .want(400, "invalid_json", Some("body"), "trailing"),
        case(
            "unknown field",
            "POST",
            "/v1/hosts/h1/roles",
            r#"{"role":"ingester","force":true}"#,
        )
        .want(400, "invalid_field", Some("force"), "unknown field `force`"),
        case("missing field", "POST", "/v1/hosts", r#"{"host":"h1"}"#).want(
            400,
            "invalid_field",
            Some("address"),
            "missing field `address`",
        ),
        case(
            "wrong type",
            "POST",
            "/v1/hosts",
            r#"{"host":"h1","address":"198.18.0.2","data_root":"/d","agent_version":7}"#,
        )
        .want(
            400,
            "invalid_field",
            Some("agent_version"),
            "expected a string",
        ),
        case(
            "bad host in body",
            "POST",
            "/v1/hosts",
            r#"{"host":"a b","address":"198.18.0.2","data_root":"/d","agent_version":"1"}"#,
        )
        .want(400, "invalid_field", Some("host"), "RFC 1123"),
        case(
            "unsafe data root",
            "POST",
            "/v1/hosts",
            r#"{"host":"h1","address":"198.18.0.2","data_root":"/var/../etc","agent_version":"1"}"#,
        )
        .want(
            400,
            "invalid_field",
            Some("data_root"),
            "plain absolute path",
        ),
        case(
            "unspecified address",
            "POST",
            "/v1/hosts",
            r#"{"host":"h1","address":"0.0.0.0","data_root":"/d","agent_version":"1"}"#,
        )
        .want(400, "invalid_field", Some("address"), "unicast"),
        case(
            "bad agent version",
            "POST",
            "/v1/hosts",
            r#"{"host":"h1","address":"198.18.0.3","data_root":"/d","agent_version":"a b"}"#,
        )
        .want(400, "invalid_field", Some("agent_version"), "printable"),
        case("body too large", "POST", "/v1/hosts/h1/roles", big).want(
            413,
            "body_too_large",
            Some("body"),
            "larger than 65536 bytes",
        ),
        case("not JSON content type", "POST", "/v1/hosts", REG)
            .content_type(Some("application/x-www-form-urlencoded"))
            .want(
                415,
                "unsupported_media_type",
                Some("body"),
                "send it as application/json",
            ),
        case("unknown query parameter", "GET", "/v1/hosts?verbose=1", "").want(
            400,
            "invalid_query",
            Some("verbose"),
            "takes no query parameters",
        ),
        case(
            "duplicate query parameter",
            "DELETE",
            "/v1/hosts/h2?force=true&force=true",
            "",
        )
        .want(400, "invalid_query", Some("force"), "given twice"),
        case("bad force", "DELETE", "/v1/hosts/h2?force=yes", "").want(
            400,
            "invalid_query",
            Some("force"),
            "not true or false",
        ),
        case("bad index", "GET", "/v1/hosts/h2/desired?index=-1", "").want(
            400,
            "invalid_query",
            Some("index"),
            "whole number",
        ),
        case(
            "bad wait",
            "GET",
            "/v1/hosts/h2/desired?index=1&wait=30",
            "",
        )
        .want(400, "invalid_query", Some("wait"), "500ms, 30s, 5m"),
        case(
            "unknown setting",
            "PUT",
            "/v1/settings/mimir.log_lvl",
            r#"{"value":"debug"}"#,
        )
        .want(
            400,
            "unknown_setting",
            Some("key"),
            "did you mean 'mimir.log_level'?",
        ),
        case(
            "bad setting value",
            "PUT",
            "/v1/settings/mimir.log_level",
            r#"{"value":"loud"}"#,
        )
        .want(
            400,
            "invalid_setting",
            Some("value"),
            "invalid value for mimir.log_level",
        ),
        case(
            "bad secret value",
            "PUT",
            secret,
            r#"{"value":"has space"}"#,
        )
        .want(
            400,
            "invalid_setting",
            Some("value"),
            "printable characters",
        ),
        case(
            "unassigning the last ring member",
            "DELETE",
            "/v1/hosts/h2/roles/tempo:all",
            "",
        )
        .want(409, "ring_quorum", Some("force"), "to accept writes"),
        case(
            "a filesystem backend on a second host",
            "POST",
            "/v1/hosts/h3/roles",
            r#"{"role":"tempo:querier"}"#,
        )
        .want(
            409,
            "filesystem_storage_multi_host",
            Some("host"),
            "tempo stores data on the local filesystem, which only works on a single host (h2); move it to object storage before adding h3",
        ),
        case(
            "filesystem storage for a backend on two hosts",
            "PUT",
            "/v1/settings/loki.storage.backend",
            r#"{"value":"filesystem"}"#,
        )
        .want(
            409,
            "filesystem_storage_multi_host",
            Some("value"),
            "loki runs on 2 hosts (h2, h4) and the local filesystem only works on a single host",
        ),
        case("remove host with roles", "DELETE", "/v1/hosts/h2", "").want(
            409,
            "host_has_roles",
            Some("force"),
            "force=true",
        ),
        case("unknown host", "DELETE", "/v1/hosts/h9", "").want(
            404,
            "host_not_found",
            Some("host"),
            "not known",
        ),
        case(
            "report from an unregistered host",
            "POST",
            "/v1/hosts/h9/report",
            REPORT,
        )
        .want(
            404,
            "host_not_registered",
            Some("host"),
            "start the agent so it registers",
        ),
        case("unknown route", "GET", "/v1/nope", "").want(
            404,
            "not_found",
            Some("path"),
            "openapi.json",
        ),
        case("wrong method", "PATCH", "/v1/hosts", "").want(
            405,
            "method_not_allowed",
            Some("method"),
            "openapi.json",
        ),
    ]
}

#[tokio::test]
async fn every_rejection_is_json_names_the_field_and_changes_nothing() {
    let api = Api::new();
    api.register("h2", "198.18.0.2").await;
    api.assign("h2", "tempo:all").await;
    // Loki on two hosts, on object storage.
    api.on_s3("loki").await;
    api.assign("h2", "loki:all").await;
    api.assign("h4", "loki:read").await;
    api.call(
        "PUT",
        "/v1/settings/cluster.name",
        json!({ "value": "prod" }),
    )
    .await;
    let before = api.snapshot().await;
    for c in cases() {
        let mut req = Request::builder().method(c.method).uri(c.uri);
        if let Some(ct) = c.content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let a = api.send(req.body(c.body).unwrap()).await;
        let what = c.what;
        assert_eq!(a.status, c.status, "{what}: {:?}", a.body);
        assert!(a.status.is_client_error(), "{what}");
        assert_eq!(a.code(), c.code, "{what}: {:?}", a.body);
        assert_eq!(
            a.body["error"]["field"].as_str(),
            c.field,
            "{what}: {:?}",
            a.body
        );
        assert!(
            a.message().contains(c.message),
            "{what}: want {:?} in {:?}",
            c.message,
            a.message()
        );
        let keys: Vec<&String> = a.body["error"].as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["code", "message", "field"].contains(&k.as_str())),
            "{what}"
        );
        assert_eq!(api.snapshot().await, before, "{what} changed the state");
    }
    // Status, reports and metrics keep answering after all of that.
    assert_eq!(api.get("/v1/status").await.status, StatusCode::OK);
    let metrics = api.get("/metrics").await.body;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("lgtm_coordinator_requests_total{route=\"unmatched\",status=\"404\"} 1")
    );
}
