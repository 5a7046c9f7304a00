//! Clients that speak the backends' real wire formats, for end-to-end tests through the
//! gateway: Loki pushes as Alloy and Promtail send them ([`loki`]) and traces exported by the
//! OpenTelemetry SDK ([`otlp`]).

pub mod loki;
pub mod otlp;

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_a_logql_selector() {
        assert_eq!(super::encode(r#"{job="a b"}"#), "%7Bjob%3D%22a%20b%22%7D");
    }
}
