//! Strict extractors: request bodies, path parameters and query strings whose every
//! rejection is an [`HttpError`] naming the field, never axum's plain-text answers.

use std::collections::BTreeMap;
use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::HttpError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request's whole body must arrive within this long.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A body over the limit is still read, and dropped, up to this size before the 413: a client
/// still sending would otherwise get its connection reset instead of the answer.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// The `Content-Length` a request declares, if it is a number.
fn content_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads `body` whole if it holds at most [`MAX_BODY_BYTES`]; `None` when it is larger (read
/// on, and dropped, up to [`DRAIN_BYTES`]).
async fn read_body(mut body: Body) -> Result<Option<Bytes>, axum::Error> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        // Trailers carry nothing a JSON body needs.
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    Ok((seen <= MAX_BODY_BYTES).then(|| Bytes::from(kept)))
}

/// A JSON request body, parsed strictly into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, _: &S) -> Result<Self, HttpError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
        if let Some(ct) = content_type {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(HttpError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!(
                        "the request body is '{}', not JSON; send it as application/json",
                        essence.escape_debug()
                    ),
                )
                .with_field("body"));
            }
        }
        let too_large = || {
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {MAX_BODY_BYTES} bytes; send less"),
            )
            .with_field("body")
        };
        // A client that waits for `100 Continue` has not sent the body: answer before it does.
        // One that declares more than is ever drained would be cut anyway.
        let declared = content_length(req.headers());
        let waits = req
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if declared.is_some_and(|n| n > DRAIN_BYTES || (waits && n > MAX_BODY_BYTES)) {
            return Err(too_large());
        }
        // A body trickled in byte by byte must not hold the request (and the connection).
        let read = tokio::time::timeout(BODY_READ_TIMEOUT, read_body(req.into_body()));
        let read = read.await.map_err(|_| {
            HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s; send it at once",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            )
            .with_field("body")
        })?;
        let bytes = match read {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(too_large()),
            Err(e) => {
                return Err(HttpError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!("failed to read the request body: {e}"),
                )
                .with_field("body"));
            }
        };
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON document into `T`, naming the field at fault on error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let not_json = |e: serde_json::Error| {
        HttpError::bad(
            "invalid_json",
            "body",
            format!("the request body is not valid JSON: {e}; send one JSON object"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return not_json(inner);
        }
        let field = if path == "." {
            backticked(&inner.to_string()).unwrap_or_else(|| "body".into())
        } else {
            path
        };
        HttpError::bad(
            "invalid_field",
            &field,
            format!("invalid request field '{field}': {inner}"),
        )
    })?;
    // Trailing data after the object is as malformed as a broken object.
    de.end().map_err(not_json)?;
    Ok(value)
}

/// The first `` `name` `` in serde's messages ("missing field `address`").
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// Path parameters, with a JSON rejection.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| {
                HttpError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    format!("invalid request path: {e}; path parameters are UTF-8 text"),
                )
                .with_field("path")
            })
    }
}

/// Query parameters as text, each key at most once.
#[derive(Debug, Default)]
pub struct QueryParams(BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|e| {
                HttpError::bad(
                    "invalid_query",
                    "query",
                    format!("invalid query string: {e}"),
                )
            })?;
        let mut out = BTreeMap::new();
        for (k, v) in pairs {
            if out.contains_key(&k) {
                return Err(HttpError::bad(
                    "invalid_query",
                    &k,
                    format!(
                        "query parameter '{}' is given twice; give it once",
                        k.escape_debug()
                    ),
                ));
            }
            out.insert(k, v);
        }
        Ok(QueryParams(out))
    }
}

/// The query parameter of every changing endpoint that makes it conditional.
pub const CHECK_INDEX: &str = "check_index";

impl QueryParams {
    /// Refuses any parameter not in `allowed`.
    pub fn only(self, allowed: &[&str]) -> Result<QueryParams, HttpError> {
        if let Some(k) = self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            let takes = if allowed.is_empty() {
                "this endpoint takes no query parameters".to_owned()
            } else {
                format!("this endpoint takes {}", allowed.join(", "))
            };
            return Err(HttpError::bad(
                "invalid_query",
                k,
                format!("unknown query parameter '{}'; {takes}", k.escape_debug()),
            ));
        }
        Ok(self)
    }

    /// A parameter's text, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `check_index`: the intent index a change may only be applied at, if given.
    pub fn check_index(&self) -> Result<Option<u64>, HttpError> {
        self.get(CHECK_INDEX)
            .map(|v| {
                v.parse().map_err(|_| {
                    HttpError::bad(
                        "invalid_query",
                        CHECK_INDEX,
                        format!(
                            "{CHECK_INDEX}='{}' is not an index; give the intent_index a dry run printed",
                            v.escape_debug()
                        ),
                    )
                })
            })
            .transpose()
    }

    /// A `true`/`false` flag; absent is `false`.
    pub fn flag(&self, key: &str) -> Result<bool, HttpError> {
        match self.get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(HttpError::bad(
                "invalid_query",
                key,
                format!("{key}='{}' is not true or false", v.escape_debug()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_model::wire::RegisterRequest;

    #[test]
    fn json_errors_name_the_field() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"{", "invalid_json", "body"),
            (b"", "invalid_json", "body"),
            (b"{}", "invalid_field", "host"),
            (
                br#"{"host":"h1","address":"198.18.0.2","data_root":"/d","agent_version":"1","x":1}"#,
                "invalid_field",
                "x",
            ),
            (
                br#"{"host":"bad host","address":"198.18.0.2","data_root":"/d","agent_version":"1"}"#,
                "invalid_field",
                "host",
            ),
            (
                br#"{"host":"h1","address":"nope","data_root":"/d","agent_version":"1"}"#,
                "invalid_field",
                "address",
            ),
            (
                b"{\"host\":\"h\xff\",\"address\":\"198.18.0.2\",\"data_root\":\"/d\",\"agent_version\":\"1\"}",
                "invalid_json",
                "body",
            ),
            (
                br#"{"host":"h1","address":"198.18.0.2","data_root":"/d","agent_version":"1"} {}"#,
                "invalid_json",
                "body",
            ),
        ];
        for (body, code, field) in cases {
            let e = parse_json::<RegisterRequest>(body).unwrap_err();
            let shown = String::from_utf8_lossy(body);
            assert_eq!(
                (e.code, e.field.as_deref()),
                (*code, Some(*field)),
                "{shown}: {}",
                e.message
            );
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
        assert!(
            parse_json::<RegisterRequest>(
                br#"{"host":"h1","address":"198.18.0.2","data_root":"/d","agent_version":"1"}"#
            )
            .is_ok()
        );
    }
}
