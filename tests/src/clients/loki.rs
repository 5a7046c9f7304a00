//! Loki's push API in both wire formats real clients use — protobuf with snappy (Alloy,
//! Promtail) and JSON — and `query_range`.
//!
//! The protobuf messages are `logproto.PushRequest` of Loki's `pkg/push/push.proto`, declared
//! here field by field (tags as upstream).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use serde_json::{Value, json};

use super::encode;
use crate::lab::http::{self, Response};

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, Message)]
struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`.
#[derive(Clone, PartialEq, Message)]
struct StreamAdapter {
    #[prost(string, tag = "1")]
    labels: String,
    #[prost(message, repeated, tag = "2")]
    entries: Vec<EntryAdapter>,
}

/// `logproto.EntryAdapter`.
#[derive(Clone, PartialEq, Message)]
struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    line: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// One stream's lines, each with its timestamp in nanoseconds.
pub struct Stream<'a> {
    /// LogQL label set, `{job="lgtm-test"}`.
    pub labels: &'a str,
    /// `(timestamp ns, line)`.
    pub lines: &'a [(i64, String)],
}

/// Pushes with `Content-Type: application/x-protobuf`, snappy block compression.
pub fn push_protobuf(addr: SocketAddr, stream: &Stream<'_>) -> Result<Response, String> {
    let req = PushRequest {
        streams: vec![StreamAdapter {
            labels: stream.labels.to_owned(),
            entries: stream
                .lines
                .iter()
                .map(|(ns, line)| EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: ns.div_euclid(1_000_000_000),
                        nanos: i32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0),
                    }),
                    line: line.clone(),
                })
                .collect(),
        }],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .map_err(|e| format!("snappy: {e}"))?;
    post(addr, &[("Content-Type", "application/x-protobuf")], &body)
}

/// Pushes with `Content-Type: application/json` (`streams[].stream`, `values`).
pub fn push_json(
    addr: SocketAddr,
    labels: &[(&str, &str)],
    lines: &[(i64, String)],
) -> Result<Response, String> {
    let stream: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let values: Vec<Value> = lines
        .iter()
        .map(|(ns, line)| json!([ns.to_string(), line]))
        .collect();
    let body = json!({ "streams": [{ "stream": stream, "values": values }] });
    post(
        addr,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    let r = http::request("POST", addr, "/loki/api/v1/push", headers, body)
        .map_err(|e| e.to_string())?;
    if r.status != 204 {
        return Err(format!("push answered {}: {}", r.status, r.text()));
    }
    Ok(r)
}

/// Every line `query` (LogQL) returns between `start_ns` and now, oldest first.
pub fn query_lines(addr: SocketAddr, query: &str, start_ns: i64) -> Result<Vec<String>, String> {
    let path = format!(
        "/loki/api/v1/query_range?query={}&start={start_ns}&end={}&limit=5000&direction=forward",
        encode(query),
        now_ns() + 60_000_000_000,
    );
    let r = http::get(addr, &path).map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("query_range answered {}: {}", r.status, r.text()));
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("query_range: {e}"))?;
    let mut lines: Vec<(i64, String)> = Vec::new();
    for stream in v["data"]["result"].as_array().into_iter().flatten() {
        for value in stream["values"].as_array().into_iter().flatten() {
            let ns = value[0].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            lines.push((ns, value[1].as_str().unwrap_or_default().to_owned()));
        }
    }
    lines.sort();
    Ok(lines.into_iter().map(|(_, l)| l).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_matches_upstream_field_numbers() {
        // {labels:"{a=\"b\"}", entries:[{timestamp:{seconds:1,nanos:2}, line:"x"}]}
        let req = PushRequest {
            streams: vec![StreamAdapter {
                labels: "{a=\"b\"}".into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1,
                        nanos: 2,
                    }),
                    line: "x".into(),
                }],
            }],
        };
        let bytes = req.encode_to_vec();
        let want: &[u8] = &[
            0x0a, 0x14, // streams, 20 bytes
            0x0a, 0x07, b'{', b'a', b'=', b'"', b'b', b'"', b'}', // labels
            0x12, 0x09, // entries, 9 bytes
            0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, // timestamp {1, 2}
            0x12, 0x01, b'x', // line
        ];
        assert_eq!(bytes, want);
    }
}
