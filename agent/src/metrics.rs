//! The agent's Prometheus metrics: the counts its journal events carry ([`crate::events`]),
//! and the indexes it works at, served as text on `GET /metrics` (`metrics_listen`).
//!
//! The server answers one request per connection and reads at most a request head: a
//! scraper needs nothing more, and a client that sends more or nothing is dropped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every metric, counted since the agent started.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Plan actions that succeeded.
    pub actions_ok: AtomicU64,
    /// Plan actions that failed.
    pub actions_failed: AtomicU64,
    /// Desired states accepted from the coordinator.
    pub desired_accepted: AtomicU64,
    /// Desired states applied with every action done.
    pub reconciles_ok: AtomicU64,
    /// Desired states applied with some action failed.
    pub reconciles_failed: AtomicU64,
    /// Reported unit status changes.
    pub unit_changes: AtomicU64,
    /// Reports posted.
    pub reports: AtomicU64,
    /// Index of the desired state last accepted.
    pub desired_index: AtomicU64,
    /// Index of the desired state last applied.
    pub applied_index: AtomicU64,
}

/// The agent's metrics (one agent per process).
pub static METRICS: Metrics = Metrics {
    actions_ok: AtomicU64::new(0),
    actions_failed: AtomicU64::new(0),
    desired_accepted: AtomicU64::new(0),
    reconciles_ok: AtomicU64::new(0),
    reconciles_failed: AtomicU64::new(0),
    unit_changes: AtomicU64::new(0),
    reports: AtomicU64::new(0),
    desired_index: AtomicU64::new(0),
    applied_index: AtomicU64::new(0),
};

/// Adds one to a counter.
pub fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Sets a gauge.
pub fn set(gauge: &AtomicU64, value: u64) {
    gauge.store(value, Ordering::Relaxed);
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, &AtomicU64)]| {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {}", value.load(Ordering::Relaxed));
            }
        };
        let (ok, failed) = ("{result=\"ok\"}", "{result=\"failed\"}");
        family(
            "lgtm_agent_actions_total",
            "counter",
            "Plan actions finished, by result.",
            &[(ok, &self.actions_ok), (failed, &self.actions_failed)],
        );
        family(
            "lgtm_agent_desired_accepted_total",
            "counter",
            "Desired states accepted from the coordinator.",
            &[("", &self.desired_accepted)],
        );
        family(
            "lgtm_agent_reconciles_total",
            "counter",
            "Desired states applied, by result.",
            &[(ok, &self.reconciles_ok), (failed, &self.reconciles_failed)],
        );
        family(
            "lgtm_agent_unit_changes_total",
            "counter",
            "Changes of a unit's reported status.",
            &[("", &self.unit_changes)],
        );
        family(
            "lgtm_agent_reports_total",
            "counter",
            "Reports posted to the coordinator.",
            &[("", &self.reports)],
        );
        family(
            "lgtm_agent_desired_index",
            "gauge",
            "Index of the desired state last accepted.",
            &[("", &self.desired_index)],
        );
        family(
            "lgtm_agent_applied_index",
            "gauge",
            "Index of the desired state last applied.",
            &[("", &self.applied_index)],
        );
        out
    }
}

/// How long a scraper may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a request head read.
const MAX_HEAD: usize = 8192;

/// Serves [`METRICS`] on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors and the like: try again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tokio::spawn(answer(stream));
    }
}

async fn answer(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    if !matches!(tokio::time::timeout(READ_TIMEOUT, read).await, Ok(true)) {
        return;
    }
    let (status, kind, body) = match head.split(|b| *b == b' ').take(2).collect::<Vec<_>>()[..] {
        [b"GET", b"/metrics"] => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            METRICS.render(),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_owned(),
        ),
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered_with_its_type() {
        let m = Metrics::default();
        count(&m.actions_ok);
        count(&m.actions_ok);
        count(&m.reconciles_failed);
        set(&m.applied_index, 42);
        let text = m.render();
        assert!(
            text.contains("lgtm_agent_actions_total{result=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("lgtm_agent_reconciles_total{result=\"failed\"} 1\n"));
        assert!(
            text.contains("# TYPE lgtm_agent_applied_index gauge\nlgtm_agent_applied_index 42\n")
        );
        assert_eq!(text.matches("# TYPE").count(), 7);
    }

    async fn get(addr: std::net::SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_and_nothing_else() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener));
        count(&METRICS.reports);
        let ok = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("lgtm_agent_reports_total "), "{ok}");
        let other = get(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        server.abort();
    }
}
