//! The coordinator's HTTP API as the agent uses it: register, long-poll desired, report.

use std::net::IpAddr;
use std::time::Duration;

use lgtm_model::HostName;
use lgtm_model::wire::{DesiredState, ErrorBody, HostRecord, RegisterRequest, Report, paths};
use reqwest::{StatusCode, Url};

use crate::credential::Tokens;
use crate::safe_path::SafePath;

/// The agent's version, sent on registration and in reports.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Slack on top of the long-poll wait before the request itself times out.
const POLL_SLACK: Duration = Duration::from_secs(15);
/// Timeout of short requests.
const SHORT: Duration = Duration::from_secs(10);

/// A client of one coordinator, for one host.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    host: HostName,
    tokens: Tokens,
}

/// The answer to a long-poll.
#[derive(Clone, Debug, PartialEq)]
pub enum Poll {
    /// The host's desired state (maybe the same as before, after the wait ran out).
    State(DesiredState),
    /// Nothing changed during the wait.
    Unchanged,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("failed to reach the coordinator at {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the coordinator does not know host {0}; registering again")]
    UnknownHost(HostName),
    #[error("the coordinator cannot render this host's desired state: {0}")]
    Render(String),
    #[error("the coordinator refused this host's credential ({message})")]
    Unauthorized { message: String },
    #[error("the coordinator answered {status} to {url}: {message}")]
    Status {
        url: String,
        status: StatusCode,
        message: String,
    },
}

impl Client {
    /// A client for `host` at `base`, sending `tokens`, trusting only `ca` when given.
    pub fn new(
        base: &Url,
        host: HostName,
        tokens: Tokens,
        ca: Option<reqwest::Certificate>,
    ) -> Client {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(format!("lgtm-agent/{AGENT_VERSION}"))
            // The coordinator refuses an agent outside the version skew rule by name.
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::HeaderName::from_static(lgtm_model::skew::HEADER),
                reqwest::header::HeaderValue::from_static(AGENT_VERSION),
            )]));
        if let Some(ca) = ca {
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(ca);
        }
        let http = builder
            .build()
            .expect("a rustls client with a parsed root certificate always builds");
        Client {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
            host,
            tokens,
        }
    }

    /// The host this client speaks for.
    pub fn host(&self) -> &HostName {
        &self.host
    }

    fn url(&self, path: &str) -> String {
        // Host names are RFC 1123 labels: safe in a URL path as they are.
        format!(
            "{}{}",
            self.base,
            path.replace("{host}", self.host.as_str())
        )
    }

    /// `POST /v1/hosts`.
    pub async fn register(&self, address: IpAddr, data_root: &SafePath) -> Result<(), ClientError> {
        let body = RegisterRequest {
            host: self.host.clone(),
            address,
            data_root: data_root.to_string(),
            agent_version: AGENT_VERSION.to_owned(),
        };
        let url = self.url(paths::HOSTS);
        let host_token = self.tokens.host();
        let result = self.register_with(&url, &body, host_token.clone()).await;
        match result {
            // The host was removed (its credential revoked): join again, if a join token is set.
            Err(ClientError::Unauthorized { .. })
                if host_token.is_some() && self.tokens.join().is_some() =>
            {
                tracing::warn!(
                    "This host's credential was refused; joining again with the join token."
                );
                self.tokens.drop_host();
                self.register_with(&url, &body, self.tokens.join()).await
            }
            other => other,
        }
    }

    async fn register_with(
        &self,
        url: &str,
        body: &RegisterRequest,
        token: Option<String>,
    ) -> Result<(), ClientError> {
        let token = token.or_else(|| self.tokens.join());
        let mut req = self.http.post(url).json(body).timeout(SHORT);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let resp = self.check(url, send(url, req).await?).await?;
        let record = resp
            .json::<HostRecord>()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_owned(),
                source,
            })?;
        if let Some(credential) = record.credential {
            self.tokens
                .store_host(&credential)
                .map_err(|message| ClientError::Status {
                    url: url.to_owned(),
                    status: StatusCode::OK,
                    message,
                })?;
            tracing::info!("Joined the cluster; stored this host's credential.");
        }
        Ok(())
    }

    /// Adds this host's credential to a request.
    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.tokens.host() {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `GET /v1/hosts/{host}/desired?index=N&wait=..s`.
    pub async fn desired(&self, index: u64, wait: Duration) -> Result<Poll, ClientError> {
        let url = self.url(paths::HOST_DESIRED);
        let req = self
            .authed(self.http.get(&url))
            .query(&[
                ("index", index.to_string()),
                ("wait", format!("{}s", wait.as_secs())),
            ])
            .timeout(wait + POLL_SLACK);
        let resp = send(&url, req).await?;
        if matches!(
            resp.status(),
            StatusCode::NOT_MODIFIED | StatusCode::NO_CONTENT
        ) {
            return Ok(Poll::Unchanged);
        }
        let resp = self.check(&url, resp).await?;
        resp.json::<DesiredState>()
            .await
            .map(Poll::State)
            .map_err(|source| ClientError::Transport { url, source })
    }

    /// `POST /v1/hosts/{host}/report`.
    pub async fn report(&self, report: &Report) -> Result<(), ClientError> {
        let url = self.url(paths::HOST_REPORT);
        let req = self
            .authed(self.http.post(&url))
            .json(report)
            .timeout(SHORT);
        self.check(&url, send(&url, req).await?).await.map(drop)
    }

    async fn check(
        &self,
        url: &str,
        resp: reqwest::Response,
    ) -> Result<reqwest::Response, ClientError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| text.chars().take(300).collect());
        Err(match status {
            StatusCode::NOT_FOUND => ClientError::UnknownHost(self.host.clone()),
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized { message },
            StatusCode::CONFLICT => ClientError::Render(message),
            _ => ClientError::Status {
                url: url.to_owned(),
                status,
                message,
            },
        })
    }
}

async fn send(url: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
    req.send().await.map_err(|source| ClientError::Transport {
        url: url.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A coordinator that gives the same canned answer to every request.
    async fn canned(status: &'static str, body: &'static str) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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
        let broken = canned("500 Internal Server Error", "oops").await;
        let e = client(&broken)
            .report(&Report::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("500") && e.contains("oops"), "{e}");
    }

    #[test]
    fn urls_keep_a_path_prefix() {
        let c = client(&Url::parse("http://c:7700/lgtm/").unwrap());
        assert_eq!(
            c.url(paths::HOST_DESIRED),
            "http://c:7700/lgtm/v1/hosts/host3/desired"
        );
    }
}
