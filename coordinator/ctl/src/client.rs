//! lgtmctl's connection to the coordinator: the shared [`lgtm_client`], with the operator's
//! credential and pinned CA.

pub use lgtm_client::{Answer, Client, ClientError};
use lgtm_client::{Certificate, Url, http_builder};

use crate::error::CtlError;

/// A client of the coordinator at `base` sending `token`, trusting only the CA certificate
/// `ca` (PEM) when given.
pub fn connect(base: Url, token: Option<String>, ca: Option<&[u8]>) -> Result<Client, CtlError> {
    let ca = ca
        .map(|pem| {
            Certificate::from_pem(pem).map_err(|e| {
                CtlError::Usage(format!(
                    "the CA file holds no PEM certificate ({e}); give the coordinator's tls/ca.pem"
                ))
            })
        })
        .transpose()?;
    let http = http_builder("lgtmctl", ca)
        .build()
        .map_err(|e| CtlError::Usage(format!("cannot set up HTTPS: {e}")))?;
    Ok(Client::new(base, http).with_token(token))
}
