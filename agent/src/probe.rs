//! Readiness of a backend process: `GET http://127.0.0.1:<http port>/ready`, body `ready`.

use std::time::Duration;

/// The probe's own timeout: a process that cannot answer in this time is not ready.
const TIMEOUT: Duration = Duration::from_secs(2);

/// An HTTP client for probes.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .expect("a plain client with default settings always builds")
}

/// What a process's `/ready` said: `Ok(())`, or its reason for not being ready in its own
/// words (the first line of the body: `Ingester not ready: waiting for 15s after being ready`).
pub type Readiness = Result<(), String>;

/// Longest reason kept from a `/ready` body.
const MAX_REASON: usize = 300;

/// Whether the process on `port` says it is ready, and if not, why.
pub async fn ready(client: &reqwest::Client, port: u16) -> Readiness {
    let url = format!("http://127.0.0.1:{port}/ready");
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("/ready does not answer: {}", without_url(&e)))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if status.is_success() && body.trim() == "ready" {
        return Ok(());
    }
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty body)");
    let line: String = line.chars().take(MAX_REASON).collect();
    Err(format!("/ready answers {}: {line}", status.as_u16()))
}

/// What went wrong, short (the port is in the unit's plan anyway).
fn without_url(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one canned HTTP answer per connection.
    async fn serve(answer: &'static str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn ready_only_on_200_ready() {
        let c = client();
        let ok = serve("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nready\n").await;
        let starting = serve(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 30\r\n\r\nSome services are not Running\n",
        )
        .await;
        let other = serve("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        assert_eq!(ready(&c, ok).await, Ok(()));
        assert_eq!(
            ready(&c, starting).await,
            Err("/ready answers 503: Some services are not Running".into())
        );
        assert_eq!(ready(&c, other).await, Err("/ready answers 200: ok".into()));
        // Nothing listening.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert_eq!(
            ready(&c, port).await,
            Err("/ready does not answer: cannot connect".into())
        );
    }
}
