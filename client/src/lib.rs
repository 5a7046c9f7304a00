//! The one client of the coordinator's HTTP API ([`lgtm_model::wire`]), shared by the agent,
//! `lgtmctl` and the load generator.
//!
//! [`http_builder`] sets what every client sends (its version for the skew rule, its name) and
//! trusts only the coordinator's CA when given; [`Client`] fills the API's paths and reads its
//! answers. Every answer is kept twice: typed, and as the JSON the coordinator sent (for
//! `lgtmctl --output json`). Non-2xx answers become [`ClientError::Api`] with the
//! coordinator's own message.

use std::time::Duration;

use lgtm_model::wire::{
    ApiError, AssignRequest, AssignResponse, Change, ChangePlan, ClusterStatus, DesiredState,
    DrainRequest, DrainResponse, ErrorBody, HostRecord, HostRemoved, JoinTokenCreated,
    JoinTokenRequest, JoinTokenRevoked, RegisterRequest, RenderedHost, Report, RolloutAborted,
    RolloutPause, RolloutStatus, SetSetting, SettingChanged, SettingEntry, SwitchRequest, Switched,
    UnassignResponse, paths,
};
use lgtm_model::{Backend, HostName};
pub use reqwest::{Certificate, Url};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

/// How long a connection attempt may take before the coordinator counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound for one request that does not long-poll, unless [`Client::with_timeout`].
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Slack on top of a long-poll's wait before the request itself times out.
const POLL_SLACK: Duration = Duration::from_secs(15);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: refused, timed out, TLS failed.
    #[error("cannot reach the coordinator at {url} ({cause})")]
    Unreachable { url: String, cause: String },
    /// The coordinator's own refusal.
    #[error("{}", .error.message)]
    Api { status: u16, error: ApiError },
    /// An answer that is not what the API says.
    #[error("the coordinator at {url} answered {status} with {what}: {detail}")]
    Protocol {
        url: String,
        status: u16,
        what: &'static str,
        detail: String,
    },
    /// A well-formed answer this build cannot read: a newer coordinator's, or a defect.
    #[error(
        "the coordinator at {url} answered with JSON this lgtm {} cannot read ({detail}); {advice}",
        lgtm_model::skew::VERSION
    )]
    Unreadable {
        url: String,
        detail: String,
        /// What to do, from the coordinator's version ([`lgtm_model::skew::unreadable`]).
        advice: String,
    },
}

/// An answer as it arrived.
struct Reply {
    status: StatusCode,
    /// The coordinator's version, as its [`lgtm_model::skew::HEADER`] says.
    version: Option<String>,
    text: String,
}

/// A decoded answer together with the JSON it came from.
#[derive(Debug)]
pub struct Answer<T> {
    /// The typed answer.
    pub value: T,
    /// The answer as the coordinator sent it.
    pub json: serde_json::Value,
}

/// The answer to a long-poll of a host's desired state.
#[derive(Clone, Debug, PartialEq)]
pub enum Poll {
    /// The host's desired state (maybe the same as before, after the wait ran out).
    State(DesiredState),
    /// Nothing changed during the wait.
    Unchanged,
}

/// An HTTP client as every lgtm program talks to the coordinator: `program/VERSION` as its
/// user agent, its version in [`lgtm_model::skew::HEADER`] (the coordinator refuses a client
/// outside the skew rule by name), a bounded connect, and only `ca` trusted when given.
/// Callers add what they need (a source address, pool sizes) and build it.
pub fn http_builder(program: &str, ca: Option<Certificate>) -> reqwest::ClientBuilder {
    let version = lgtm_model::skew::VERSION;
    let builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(format!("{program}/{version}"))
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::HeaderName::from_static(lgtm_model::skew::HEADER),
            reqwest::header::HeaderValue::from_static(version),
        )]));
    match ca {
        Some(ca) => builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca),
        None => builder,
    }
}

/// The coordinator's API, as one credential sees it.
#[derive(Clone)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
    timeout: Duration,
}

// By hand: the credential never reaches a log line.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the coordinator at `base` (`https://127.0.0.1:7700`, a path prefix kept)
    /// over `http` (from [`http_builder`]), sending no credential yet.
    pub fn new(base: Url, http: reqwest::Client) -> Client {
        Client {
            base,
            http,
            token: None,
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// The same client sending `token` (a host's credential, a join or operator token).
    pub fn with_token(&self, token: Option<String>) -> Client {
        Client {
            token,
            ..self.clone()
        }
    }

    /// The same client bounding each request that does not long-poll by `timeout`.
    pub fn with_timeout(self, timeout: Duration) -> Client {
        Client { timeout, ..self }
    }

    /// The coordinator's address, as given.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Answer<ClusterStatus>, ClientError> {
        self.call(Method::GET, paths::STATUS, &[], NO_BODY, &[])
            .await
    }

    /// `GET /v1/hosts`.
    pub async fn hosts(&self) -> Result<Answer<Vec<HostRecord>>, ClientError> {
        self.call(Method::GET, paths::HOSTS, &[], NO_BODY, &[])
            .await
    }

    /// `GET /v1/hosts/{host}`.
    pub async fn host(&self, host: &HostName) -> Result<Answer<HostRecord>, ClientError> {
        self.call(Method::GET, paths::HOST, &[host.as_str()], NO_BODY, &[])
            .await
    }

    /// `DELETE /v1/hosts/{host}`; only at intent index `check`, when given.
    pub async fn remove_host(
        &self,
        host: &HostName,
        force: bool,
        check: Option<u64>,
    ) -> Result<Answer<HostRemoved>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(force, check.as_deref());
        self.call(
            Method::DELETE,
            paths::HOST,
            &[host.as_str()],
            NO_BODY,
            &query,
        )
        .await
    }

    /// `POST /v1/hosts/{host}/roles`; only at intent index `check`, when given.
    pub async fn assign(
        &self,
        host: &HostName,
        request: &AssignRequest,
        check: Option<u64>,
    ) -> Result<Answer<AssignResponse>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(false, check.as_deref());
        let path = paths::HOST_ROLES;
        self.call(Method::POST, path, &[host.as_str()], Some(request), &query)
            .await
    }

    /// `POST /v1/hosts/{host}/drain`; only at intent index `check`, when given.
    pub async fn drain(
        &self,
        host: &HostName,
        request: &DrainRequest,
        check: Option<u64>,
    ) -> Result<Answer<DrainResponse>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(false, check.as_deref());
        let path = paths::HOST_DRAIN;
        self.call(Method::POST, path, &[host.as_str()], Some(request), &query)
            .await
    }

    /// `DELETE /v1/hosts/{host}/roles/{role}`; only at intent index `check`, when given.
    pub async fn unassign(
        &self,
        host: &HostName,
        role: &str,
        force: bool,
        check: Option<u64>,
    ) -> Result<Answer<UnassignResponse>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(force, check.as_deref());
        let params = [host.as_str(), role];
        self.call(Method::DELETE, paths::HOST_ROLE, &params, NO_BODY, &query)
            .await
    }

    /// `PUT /v1/backends/{backend}/roles`; only at intent index `check`, when given.
    pub async fn switch(
        &self,
        backend: Backend,
        request: &SwitchRequest,
        check: Option<u64>,
    ) -> Result<Answer<Switched>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(false, check.as_deref());
        let params = [backend.as_str()];
        self.call(
            Method::PUT,
            paths::BACKEND_ROLES,
            &params,
            Some(request),
            &query,
        )
        .await
    }

    /// `POST /v1/plan`: what a change would do, nothing applied.
    pub async fn plan(&self, change: &Change) -> Result<Answer<ChangePlan>, ClientError> {
        self.call(Method::POST, paths::PLAN, &[], Some(change), &[])
            .await
    }

    /// `GET /v1/settings`.
    pub async fn settings(&self) -> Result<Answer<Vec<SettingEntry>>, ClientError> {
        self.call(Method::GET, paths::SETTINGS, &[], NO_BODY, &[])
            .await
    }

    /// `PUT /v1/settings/{key}`; the value may be a secret and is never logged here.
    pub async fn set_setting(
        &self,
        key: &str,
        value: String,
        force: bool,
        check: Option<u64>,
    ) -> Result<Answer<SettingChanged>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(force, check.as_deref());
        let body = SetSetting { value };
        self.call(Method::PUT, paths::SETTING, &[key], Some(&body), &query)
            .await
    }

    /// `GET /v1/hosts/{host}/rendered[?backend=B]`: configs with secret values redacted.
    pub async fn rendered(
        &self,
        host: &HostName,
        backend: Option<Backend>,
    ) -> Result<Answer<RenderedHost>, ClientError> {
        let b = backend.map(|b| [("backend", b.as_str())]);
        let query: &[(&str, &str)] = b.as_ref().map_or(&[], |q| &q[..]);
        self.call(
            Method::GET,
            paths::HOST_RENDERED,
            &[host.as_str()],
            NO_BODY,
            query,
        )
        .await
    }

    /// `POST /v1/join-tokens`.
    pub async fn create_join_token(
        &self,
        ttl_seconds: u64,
    ) -> Result<Answer<JoinTokenCreated>, ClientError> {
        let body = JoinTokenRequest {
            ttl_seconds: Some(ttl_seconds),
        };
        self.call(Method::POST, paths::JOIN_TOKENS, &[], Some(&body), &[])
            .await
    }

    /// `DELETE /v1/join-tokens/{id}`.
    pub async fn revoke_join_token(
        &self,
        id: &str,
    ) -> Result<Answer<JoinTokenRevoked>, ClientError> {
        self.call(Method::DELETE, paths::JOIN_TOKEN, &[id], NO_BODY, &[])
            .await
    }

    /// `GET /v1/rollout`.
    pub async fn rollout(&self) -> Result<Answer<RolloutStatus>, ClientError> {
        self.call(Method::GET, paths::ROLLOUT, &[], NO_BODY, &[])
            .await
    }

    /// `POST /v1/rollout/pause`.
    pub async fn pause_rollout(
        &self,
        reason: Option<String>,
    ) -> Result<Answer<RolloutStatus>, ClientError> {
        let body = RolloutPause { reason };
        self.call(Method::POST, paths::ROLLOUT_PAUSE, &[], Some(&body), &[])
            .await
    }

    /// `POST /v1/rollout/abort`; only at intent index `check`, when given.
    pub async fn abort_rollout(
        &self,
        check: Option<u64>,
    ) -> Result<Answer<RolloutAborted>, ClientError> {
        let check = check.map(|i| i.to_string());
        let query = query(false, check.as_deref());
        self.call(Method::POST, paths::ROLLOUT_ABORT, &[], NO_BODY, &query)
            .await
    }

    /// `POST /v1/rollout/resume`.
    pub async fn resume_rollout(&self) -> Result<Answer<RolloutStatus>, ClientError> {
        self.call(Method::POST, paths::ROLLOUT_RESUME, &[], NO_BODY, &[])
            .await
    }

    /// `POST /v1/hosts`: register (or join) a host; a joining host's answer carries its
    /// credential.
    pub async fn register(
        &self,
        request: &RegisterRequest,
    ) -> Result<Answer<HostRecord>, ClientError> {
        self.call(Method::POST, paths::HOSTS, &[], Some(request), &[])
            .await
    }

    /// `GET /v1/hosts/{host}/desired?index=N&wait=..s`: answers at once when the host's state
    /// is past `index`, else when it changes or `wait` runs out.
    pub async fn desired(
        &self,
        host: &HostName,
        index: u64,
        wait: Duration,
    ) -> Result<Poll, ClientError> {
        let (index, secs) = (index.to_string(), format!("{}s", wait.as_secs()));
        let query = [("index", index.as_str()), ("wait", secs.as_str())];
        let url = self.url(paths::HOST_DESIRED, &[host.as_str()]);
        let request = self.request(Method::GET, &url, &query, NO_BODY, wait + POLL_SLACK);
        let reply = self.send(request).await?;
        if matches!(
            reply.status,
            StatusCode::NOT_MODIFIED | StatusCode::NO_CONTENT
        ) {
            return Ok(Poll::Unchanged);
        }
        decode(&url, &reply).map(|a: Answer<DesiredState>| Poll::State(a.value))
    }

    /// `POST /v1/hosts/{host}/report`.
    pub async fn report(&self, host: &HostName, report: &Report) -> Result<(), ClientError> {
        let params = [host.as_str()];
        self.call::<IgnoredAny, _>(Method::POST, paths::HOST_REPORT, &params, Some(report), &[])
            .await
            .map(drop)
    }

    /// Fills `{param}` segments of `template` in order, percent-encoding each value.
    fn url(&self, template: &str, params: &[&str]) -> Url {
        let mut url = self.base.clone();
        let mut params = params.iter();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            for seg in template.split('/').filter(|s| !s.is_empty()) {
                if seg.starts_with('{') {
                    segments.push(params.next().copied().unwrap_or_default());
                } else {
                    segments.push(seg);
                }
            }
        }
        url
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        template: &str,
        params: &[&str],
        body: Option<&B>,
        query: &[(&str, &str)],
    ) -> Result<Answer<T>, ClientError> {
        let url = self.url(template, params);
        let request = self.request(method, &url, query, body, self.timeout);
        let reply = self.send(request).await?;
        decode(&url, &reply)
    }

    fn request<B: Serialize>(
        &self,
        method: Method,
        url: &Url,
        query: &[(&str, &str)],
        body: Option<&B>,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, url.clone())
            .query(query)
            .timeout(timeout);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    /// Sends, and reads the whole answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base.to_string().trim_end_matches('/').to_owned(),
            cause: root_cause(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let version = response
            .headers()
            .get(lgtm_model::skew::HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(unreachable)?;
        Ok(Reply {
            status,
            version,
            text,
        })
    }
}

const NO_BODY: Option<&()> = None;

/// The query of a changing request: `force`, and `check_index` when given.
fn query(force: bool, check: Option<&str>) -> Vec<(&'static str, &str)> {
    let force = force.then_some(("force", "true"));
    force
        .into_iter()
        .chain(check.map(|i| ("check_index", i)))
        .collect()
}

/// Turns an answer into a typed value, the coordinator's error, or a protocol error.
fn decode<T: DeserializeOwned>(url: &Url, reply: &Reply) -> Result<Answer<T>, ClientError> {
    let (status, text) = (reply.status, reply.text.as_str());
    let protocol = |what, detail: String| ClientError::Protocol {
        url: url.to_string(),
        status: status.as_u16(),
        what,
        detail,
    };
    if !status.is_success() {
        return match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) => Err(ClientError::Api {
                status: status.as_u16(),
                error: body.error,
            }),
            Err(_) => Err(protocol("a body that is not an lgtm error", snippet(text))),
        };
    }
    // An empty 2xx body (204) reads as JSON null.
    let json: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(text).map_err(|e| protocol("invalid JSON", e.to_string()))?
    };
    let value = T::deserialize(&json).map_err(|e| ClientError::Unreadable {
        url: url.to_string(),
        detail: e.to_string(),
        advice: lgtm_model::skew::unreadable(reply.version.as_deref()),
    })?;
    Ok(Answer { value, json })
}

/// The first 200 printable characters of a body, for error messages.
fn snippet(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The innermost cause ("Connection refused (os error 111)"), which is what a user can act on.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if e.to_string().contains("timed out") || cur.to_string().contains("timed out") {
        return "timed out".into();
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: StatusCode, text: &str) -> Reply {
        Reply {
            status,
            version: Some(lgtm_model::skew::VERSION.into()),
            text: text.into(),
        }
    }

    fn client(base: &str) -> Client {
        let http = http_builder("test", None).build().expect("client");
        Client::new(base.parse().expect("test URL"), http)
    }

    #[test]
    fn paths_are_filled_and_encoded() {
        let c = client("http://127.0.0.1:7700");
        let url = c.url(paths::HOST_ROLE, &["host3", "mimir:ingester"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:7700/v1/hosts/host3/roles/mimir:ingester"
        );
        let url = c.url(paths::SETTING, &["a/b?c d"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:7700/v1/settings/a%2Fb%3Fc%20d"
        );
        // A base with a path prefix (behind a proxy) keeps it.
        let c = client("http://proxy.example:80/lgtm/");
        assert_eq!(
            c.url(paths::STATUS, &[]).as_str(),
            "http://proxy.example/lgtm/v1/status"
        );
    }

    #[test]
    fn error_bodies_become_api_errors() {
        let url: Url = "http://127.0.0.1:7700/v1/hosts/h/roles"
            .parse()
            .expect("url");
        let body = r#"{"error":{"code":"unknown_role","message":"unknown role 'quorier' for mimir; did you mean 'querier'?","field":"role"}}"#;
        let err = decode::<AssignResponse>(&url, &reply(StatusCode::BAD_REQUEST, body))
            .expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            "unknown role 'quorier' for mimir; did you mean 'querier'?"
        );
        assert!(matches!(err, ClientError::Api { status: 400, .. }));

        let err = decode::<AssignResponse>(&url, &reply(StatusCode::BAD_GATEWAY, "<html>\n"))
            .expect_err("must be refused");
        assert!(err.to_string().contains("502"), "{err}");
    }

    #[test]
    fn an_answer_this_build_cannot_read_names_the_coordinators_version() {
        let url: Url = "http://127.0.0.1:7700/v1/hosts".parse().expect("url");
        let mut answer = reply(StatusCode::OK, "{}");
        answer.version = Some("0.99.0".into());
        let err = decode::<Vec<HostRecord>>(&url, &answer).expect_err("must be refused");
        assert!(matches!(err, ClientError::Unreadable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("cannot read (invalid type: map")
                && text
                    .contains("the coordinator runs lgtm 0.99.0: upgrade this program to 0.99.x"),
            "{text}"
        );
    }

    #[test]
    fn answers_keep_their_json() {
        let url: Url = "http://127.0.0.1:7700/v1/hosts".parse().expect("url");
        let body =
            r#"[{"name":"host3","address":null,"data_root":null,"roles":["mimir:ingester"]}]"#;
        let a = decode::<Vec<HostRecord>>(&url, &reply(StatusCode::OK, body)).expect("decodes");
        assert_eq!(a.value[0].name.as_str(), "host3");
        assert_eq!(a.json[0]["roles"][0], "mimir:ingester");
    }
}
