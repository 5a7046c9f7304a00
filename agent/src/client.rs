//! The coordinator's API as the agent uses it, for one host: register (joining with the join
//! token while it has no credential of its own), long-poll desired, report. The shared
//! [`lgtm_client`] speaks HTTP; this adds the host, its credentials, and what an answer means
//! to an agent.

use std::net::IpAddr;
use std::time::Duration;

pub use lgtm_client::Poll;
use lgtm_client::{Certificate, Url, http_builder};
use lgtm_model::HostName;
use lgtm_model::wire::{RegisterRequest, Report};

use crate::credential::Tokens;
use crate::safe_path::SafePath;

/// The agent's version, sent on registration and in reports.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Timeout of requests that do not long-poll.
const SHORT: Duration = Duration::from_secs(10);

/// A client of one coordinator, for one host.
#[derive(Clone, Debug)]
pub struct Client {
    api: lgtm_client::Client,
    host: HostName,
    tokens: Tokens,
}

/// Why a request failed, as far as the agent acts on it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the coordinator does not know host {0}; registering again")]
    UnknownHost(HostName),
    #[error("the coordinator cannot render this host's desired state: {0}")]
    Render(String),
    /// A desired state this agent cannot read (a newer coordinator's): the current one stays.
    #[error("lgtm-agent {version} keeps the current desired state: {0}", version = lgtm_model::skew::VERSION)]
    Unreadable(lgtm_client::ClientError),
    #[error("the coordinator refused this host's credential ({message})")]
    Unauthorized { message: String },
    #[error("joined, but cannot keep this host's credential: {0}")]
    KeepCredential(String),
    #[error(transparent)]
    Other(lgtm_client::ClientError),
}

impl Client {
    /// A client for `host` at `base`, sending `tokens`, trusting only `ca` when given.
    pub fn new(base: &Url, host: HostName, tokens: Tokens, ca: Option<Certificate>) -> Client {
        let http = http_builder("lgtm-agent", ca)
            .build()
            .expect("a rustls client with a parsed root certificate always builds");
        Client {
            api: lgtm_client::Client::new(base.clone(), http).with_timeout(SHORT),
            host,
            tokens,
        }
    }

    /// The host this client speaks for.
    pub fn host(&self) -> &HostName {
        &self.host
    }

    /// `POST /v1/hosts`.
    pub async fn register(&self, address: IpAddr, data_root: &SafePath) -> Result<(), ClientError> {
        let body = RegisterRequest {
            host: self.host.clone(),
            address,
            data_root: data_root.to_string(),
            agent_version: AGENT_VERSION.to_owned(),
        };
        let host_token = self.tokens.host();
        let result = self.register_with(&body, host_token.clone()).await;
        match result {
            // The host was removed (its credential revoked): join again, if a join token is set.
            Err(ClientError::Unauthorized { .. })
                if host_token.is_some() && self.tokens.join().is_some() =>
            {
                tracing::warn!(
                    "This host's credential was refused; joining again with the join token."
                );
                self.tokens.drop_host();
                self.register_with(&body, self.tokens.join()).await
            }
            other => other,
        }
    }

    async fn register_with(
        &self,
        body: &RegisterRequest,
        token: Option<String>,
    ) -> Result<(), ClientError> {
        let token = token.or_else(|| self.tokens.join());
        let answer = self.api.with_token(token).register(body).await;
        let record = answer.map_err(|e| self.meaning(e))?.value;
        if let Some(credential) = record.credential {
            self.tokens
                .store_host(&credential)
                .map_err(ClientError::KeepCredential)?;
            tracing::info!("Joined the cluster; stored this host's credential.");
        }
        Ok(())
    }

    /// The API as this host's credential sees it.
    fn authed(&self) -> lgtm_client::Client {
        self.api.with_token(self.tokens.host())
    }

    /// `GET /v1/hosts/{host}/desired?index=N&wait=..s`.
    pub async fn desired(&self, index: u64, wait: Duration) -> Result<Poll, ClientError> {
        let polled = self.authed().desired(&self.host, index, wait).await;
        polled.map_err(|e| self.meaning(e))
    }

    /// `POST /v1/hosts/{host}/report`.
    pub async fn report(&self, report: &Report) -> Result<(), ClientError> {
        let sent = self.authed().report(&self.host, report).await;
        sent.map_err(|e| self.meaning(e))
    }

    /// What a refusal means to the agent.
    fn meaning(&self, e: lgtm_client::ClientError) -> ClientError {
        match e {
            lgtm_client::ClientError::Api { status: 404, .. } => {
                ClientError::UnknownHost(self.host.clone())
            }
            lgtm_client::ClientError::Api { status: 401, error } => ClientError::Unauthorized {
                message: error.message,
            },
            lgtm_client::ClientError::Api { status: 409, error } => {
                ClientError::Render(error.message)
            }
            e @ lgtm_client::ClientError::Unreadable { .. } => ClientError::Unreadable(e),
            e => ClientError::Other(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A coordinator (of a later version) that gives the same canned answer to every request.
    async fn canned(status: &'static str, body: &'static str) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status}\r\nlgtm-version: 0.99.0\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    fn client(url: &Url) -> Client {
        Client::new(url, "host3".parse().unwrap(), Tokens::default(), None)
    }

    #[tokio::test]
    async fn answers_map_to_meanings() {
        let wait = Duration::from_secs(1);
        let render = canned(
            "409 Conflict",
            r#"{"error":{"code":"render_failed","message":"mimir storage is s3 but mimir.storage.s3.bucket is not set"}}"#,
        )
        .await;
        match client(&render).desired(3, wait).await {
            Err(ClientError::Render(m)) => assert!(m.contains("mimir.storage.s3.bucket"), "{m}"),
            other => panic!("{other:?}"),
        }
        let unknown = canned(
            "404 Not Found",
            r#"{"error":{"code":"not_found","message":"x"}}"#,
        )
        .await;
        assert!(matches!(
            client(&unknown).desired(0, wait).await,
            Err(ClientError::UnknownHost(_))
        ));
        let state = canned("200 OK", r#"{"host":"host3","index":7,"processes":[]}"#).await;
        match client(&state).desired(0, wait).await {
            Ok(Poll::State(s)) => assert_eq!(s.index, 7),
            other => panic!("{other:?}"),
        }
        // A process with a role this agent does not know: readable only by a newer agent.
        let newer = canned(
            "200 OK",
            r#"{"host":"host3","index":8,"processes":[{"id":{"backend":"loki","role":null},"roles":["loki:bloom-planner"],"ports":{"http":3100,"grpc":9095,"memberlist":7946},"config":"","data_dir":"/var/lib/lgtm/loki"}]}"#,
        )
        .await;
        match client(&newer).desired(7, wait).await {
            Err(ClientError::Unreadable(e)) => {
                let m = e.to_string();
                assert!(
                    m.contains("loki:bloom-planner")
                        && m.contains("upgrade this program to 0.99.x"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        let broken = canned("500 Internal Server Error", "oops").await;
        let e = client(&broken)
            .report(&Report::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("500") && e.contains("oops"), "{e}");
    }
}
