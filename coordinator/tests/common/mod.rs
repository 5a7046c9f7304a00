//! In-process API harness: the real router over a real SQLite state in a temporary directory.
#![allow(dead_code)]

pub mod process;

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use lgtm_coordinator::server::App;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

/// A coordinator over a fresh state directory.
pub struct Api {
    pub app: App,
    pub dir: TempDir,
}

/// An answer: status and JSON body (`Value::Null` when empty, a string when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    /// The error field of an error answer.
    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
    /// The error message of an error answer.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(dir.path(), Duration::from_secs(30)).unwrap();
        Api { app, dir }
    }

    /// Closes this coordinator and opens a new one on the same state directory.
    pub fn restart(self) -> Api {
        let Api { app, dir } = self;
        let App {
            router,
            state,
            shutdown,
            writer,
        } = app;
        drop((router, state, shutdown));
        writer.join();
        let app = App::open(dir.path(), Duration::from_secs(30)).unwrap();
        Api { app, dir }
    }

    /// The operator token of `kind` (`admin` or `read`) the coordinator wrote at first start.
    pub fn token(&self, kind: &str) -> String {
        let path = self.dir.path().join(format!("credentials/{kind}.token"));
        std::fs::read_to_string(path).unwrap().trim().to_owned()
    }

    /// Sends a request as built, with the admin token unless it carries a credential.
    pub async fn send(&self, mut req: Request<Body>) -> Answer {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            let value = format!("Bearer {}", self.token("admin"));
            req.headers_mut()
                .insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        self.send_bare(req).await
    }

    /// Sends a request exactly as built (no credential added).
    pub async fn send_bare(&self, req: Request<Body>) -> Answer {
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer { status, body }
    }

    /// Sends raw bytes as a JSON body.
    pub async fn raw(&self, method: &str, uri: &str, body: impl Into<Body>) -> Answer {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .unwrap();
        self.send(req).await
    }

    /// Sends a JSON value (or no body for `Value::Null`).
    pub async fn call(&self, method: &str, uri: &str, body: Value) -> Answer {
        if body.is_null() {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            return self.send(req).await;
        }
        self.raw(method, uri, body.to_string()).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.call("GET", uri, Value::Null).await
    }

    pub async fn register(&self, host: &str, address: &str) -> Answer {
        let body = json!({ "host": host, "address": address, "data_root": "/var/lib/lgtm", "agent_version": "0.1.0" });
        self.call("POST", "/v1/hosts", body).await
    }

    pub async fn assign(&self, host: &str, role: &str) -> Answer {
        self.call(
            "POST",
            &format!("/v1/hosts/{host}/roles"),
            json!({ "role": role }),
        )
        .await
    }

    /// Puts `backend` on S3, as a backend on several hosts needs; the index after.
    pub async fn on_s3(&self, backend: &str) -> u64 {
        for (k, v) in [
            ("storage.s3.endpoint", "http://198.18.0.1:9000"),
            ("storage.s3.bucket", backend),
            ("storage.s3.access_key_id", "lab"),
            ("storage.s3.secret_access_key", "secret"),
            ("storage.backend", "s3"),
        ] {
            let a = self
                .call(
                    "PUT",
                    &format!("/v1/settings/{backend}.{k}"),
                    json!({ "value": v }),
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{backend}.{k}: {:?}", a.body);
        }
        self.index().await
    }

    pub async fn index(&self) -> u64 {
        self.get("/healthz").await.body["index"].as_u64().unwrap()
    }

    /// Everything an operator can read, for "nothing changed" checks.
    pub async fn snapshot(&self) -> Value {
        json!({
            "index": self.index().await,
            "hosts": self.get("/v1/hosts").await.body,
            "settings": self.get("/v1/settings").await.body,
        })
    }
}

/// Fails instead of hanging when something that should answer does not.
pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}
