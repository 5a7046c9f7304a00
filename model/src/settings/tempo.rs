//! Tempo-only settings: which trace receivers distributors open, and where the
//! metrics-generator sends what it derives from spans.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A trace receiver a Tempo distributor can open (an OpenTelemetry Collector receiver).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Receiver {
    /// OTLP over gRPC, port 4317.
    OtlpGrpc,
    /// OTLP over HTTP, port 4318.
    OtlpHttp,
    /// Jaeger over gRPC, port 14250.
    JaegerGrpc,
    /// Jaeger Thrift over HTTP, port 14268.
    JaegerThriftHttp,
    /// Zipkin, port 9411.
    Zipkin,
}

impl Receiver {
    /// Every receiver, in display order.
    pub const ALL: [Receiver; 5] = [
        Receiver::OtlpGrpc,
        Receiver::OtlpHttp,
        Receiver::JaegerGrpc,
        Receiver::JaegerThriftHttp,
        Receiver::Zipkin,
    ];

    /// The settings spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Receiver::OtlpGrpc => "otlp_grpc",
            Receiver::OtlpHttp => "otlp_http",
            Receiver::JaegerGrpc => "jaeger_grpc",
            Receiver::JaegerThriftHttp => "jaeger_thrift_http",
            Receiver::Zipkin => "zipkin",
        }
    }

    /// The port it listens on, on every address.
    pub fn port(self) -> u16 {
        match self {
            Receiver::OtlpGrpc => 4317,
            Receiver::OtlpHttp => 4318,
            Receiver::JaegerGrpc => 14250,
            Receiver::JaegerThriftHttp => 14268,
            Receiver::Zipkin => 9411,
        }
    }
}

impl fmt::Display for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Receiver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Receiver::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "'{}' is not a receiver; use a comma list of {}",
                    s.escape_debug(),
                    Receiver::ALL.map(Receiver::as_str).join(", ")
                )
            })
    }
}

/// Settings only Tempo has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TempoSettings {
    /// Receivers distributors open.
    pub receivers: BTreeSet<Receiver>,
    /// Prometheus remote-write URL of the metrics-generator; without it none may run.
    pub remote_write_url: Option<String>,
}

impl Default for TempoSettings {
    fn default() -> Self {
        TempoSettings {
            receivers: [Receiver::OtlpGrpc, Receiver::OtlpHttp].into(),
            remote_write_url: None,
        }
    }
}

/// Parses `otlp_grpc,zipkin` (at least one, no repeats needed).
pub fn parse_receivers(value: &str) -> Result<BTreeSet<Receiver>, String> {
    let set = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<BTreeSet<Receiver>, String>>()?;
    if set.is_empty() {
        return Err(format!(
            "name at least one receiver: a comma list of {}",
            Receiver::ALL.map(Receiver::as_str).join(", ")
        ));
    }
    Ok(set)
}

/// The settings text of a receiver set, in display order.
pub fn receivers_text(set: &BTreeSet<Receiver>) -> String {
    set.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_parse_and_print() {
        let set = parse_receivers("zipkin, otlp_grpc,zipkin").unwrap();
        assert_eq!(receivers_text(&set), "otlp_grpc,zipkin");
        assert!(parse_receivers("").unwrap_err().contains("at least one"));
        let e = parse_receivers("otlp,zipkin").unwrap_err();
        assert!(
            e.contains("'otlp' is not a receiver") && e.contains("jaeger_grpc"),
            "{e}"
        );
        assert_eq!(
            receivers_text(&TempoSettings::default().receivers),
            "otlp_grpc,otlp_http"
        );
    }
}
