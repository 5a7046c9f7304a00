//! Traces sent by the OpenTelemetry Python SDK's own OTLP exporters (gRPC and HTTP/protobuf),
//! from a virtualenv the harness creates once with pinned PyPI packages, and Tempo's query API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::encode;
use crate::lab::http;

/// Where the SDK's virtualenv lives (kept between runs).
pub const VENV: &str = "/var/lib/lgtm-tests/otel-venv";
/// The SDK packages, pinned.
const PACKAGES: &[&str] = &[
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-grpc==1.45.2",
    "opentelemetry-exporter-otlp-proto-http==1.45.2",
];
const SCRIPT: &str = include_str!("../../otlp/send_trace.py");

/// The virtualenv's python, creating the virtualenv first if needed.
pub fn python() -> Result<PathBuf, String> {
    let python = Path::new(VENV).join("bin/python3");
    let ready = Path::new(VENV).join(".lgtm-packages");
    let wanted = PACKAGES.join(" ");
    if std::fs::read_to_string(&ready).is_ok_and(|s| s == wanted) {
        return Ok(python);
    }
    run(Command::new("python3").args(["-m", "venv", VENV]))
        .map_err(|e| format!("{e} (install python3-venv)"))?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(PACKAGES))?;
    std::fs::write(&ready, wanted).map_err(|e| format!("write {}: {e}", ready.display()))?;
    Ok(python)
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// How a trace is sent.
#[derive(Clone, Copy, Debug)]
pub enum Protocol {
    /// OTLP/gRPC to `host:port`.
    Grpc,
    /// OTLP/HTTP (protobuf) to `http://host:port/v1/traces`.
    Http,
}

/// Sends one trace (two spans) of `service`; its trace id in hex.
pub fn send_trace(protocol: Protocol, addr: SocketAddr, service: &str) -> Result<String, String> {
    let python = python()?;
    let (name, endpoint) = match protocol {
        Protocol::Grpc => ("grpc", addr.to_string()),
        Protocol::Http => ("http", format!("http://{addr}/v1/traces")),
    };
    let id = run(Command::new(python).args(["-c", SCRIPT, name, &endpoint, service]))?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("send_trace.py printed {id:?}, not a trace id"));
    }
    Ok(id)
}

/// Fetches a trace by id from Tempo's query API; the number of spans it holds.
pub fn trace_spans(addr: SocketAddr, id: &str) -> Result<usize, String> {
    let r = http::request(
        "GET",
        addr,
        &format!("/api/v2/traces/{id}"),
        &[("Accept", "application/json")],
        b"",
    )
    .map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("trace {id}: {} {}", r.status, r.text()));
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("trace {id}: {e}"))?;
    let spans = v["trace"]["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().into_iter().flatten())
        .map(|ss| ss["spans"].as_array().map_or(0, Vec::len))
        .sum();
    Ok(spans)
}

/// Trace ids a TraceQL search over the last hour returns. With a time range, as Grafana
/// sends it: Tempo's query-frontend searches its queriers' ingesters for recent data then.
pub fn search(addr: SocketAddr, traceql: &str) -> Result<Vec<String>, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let path = format!(
        "/api/search?q={}&limit=100&spss=10&start={}&end={}",
        encode(traceql),
        now.saturating_sub(3600),
        now + 60
    );
    let r = http::get(addr, &path).map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("search: {} {}", r.status, r.text()));
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("search: {e}"))?;
    Ok(v["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["traceID"].as_str())
        .map(|id| format!("{:0>32}", id))
        .collect())
}
