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

/// Whether the process on `port` says it is ready.
pub async fn ready(client: &reqwest::Client, port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}/ready");
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            resp.text().await.is_ok_and(|body| body.trim() == "ready")
        }
        _ => false,
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
        assert!(ready(&c, ok).await);
        assert!(!ready(&c, starting).await);
        assert!(!ready(&c, other).await);
        // Nothing listening.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(!ready(&c, port).await);
    }
}
