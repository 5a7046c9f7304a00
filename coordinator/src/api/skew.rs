//! The version skew rule at the door ([`lgtm_model::skew`]): a request whose `lgtm-version`
//! is outside it is refused naming both versions; every answer says the coordinator's.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lgtm_model::skew;

use super::HttpError;

/// Refuses a client outside the skew rule; stamps the coordinator's version on the answer.
/// A request without the header (curl, a script) is served: only lgtm's clients send it.
pub async fn enforce(req: Request, next: Next) -> Response {
    let header = HeaderName::from_static(skew::HEADER);
    let refused = req.headers().get(&header).and_then(|v| {
        let client = String::from_utf8_lossy(v.as_bytes());
        skew::check(&client, skew::VERSION).err()
    });
    let mut response = match refused {
        Some(e) => HttpError::bad("version_skew", skew::HEADER, e.to_string()).into_response(),
        None => next.run(req).await,
    };
    response
        .headers_mut()
        .insert(header, HeaderValue::from_static(skew::VERSION));
    response
}
