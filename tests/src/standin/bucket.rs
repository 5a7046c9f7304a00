//! The stand-in's object-storage check: at start, at every [`Location`] of its config, write
//! an object with the credentials it was handed and read it back, as a backend that cannot
//! reach its bucket stays unready. Retries until every location works; each result is kept
//! in [`Shared`] for `/standin/storage` and `/ready`, and failures go to stderr, never with
//! the secret or a signed URL.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::state::{Shared, StorageCheck};
use super::storage::Location;

/// Pause between two rounds of checks while a location fails.
const RETRY: Duration = Duration::from_secs(2);
/// Lifetime of the presigned URLs.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// The object a process writes: `lgtm-standin/<hostname>/<targets joined by '+'>`.
pub fn object_name(served_by: &str) -> String {
    format!("lgtm-standin/{}", served_by.replace(',', "+"))
}

/// Checks every location until all work; records each attempt in `shared`.
pub async fn watch(shared: Arc<Shared>, locations: Vec<Location>) {
    let name = object_name(&shared.served_by);
    let body = format!("{}\n", shared.served_by);
    shared.set_storage(
        locations
            .iter()
            .map(|l| StorageCheck::pending(l.clone(), l.key(&name)))
            .collect(),
    );
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("level=error msg=\"failed to create the object storage client\" err=\"{e}\"");
            return;
        }
    };
    loop {
        let mut all_ok = true;
        for (i, loc) in locations.iter().enumerate() {
            let key = loc.key(&name);
            let result = round_trip(&http, loc, &key, &body).await;
            if let Err(why) = &result {
                all_ok = false;
                if shared.storage_error(i).as_deref() != Some(why.as_str()) {
                    eprintln!(
                        "level=error msg=\"failed to access object storage\" purpose={} endpoint={} bucket={} key={} access_key_id={} err=\"{}\"",
                        loc.purpose,
                        loc.endpoint,
                        loc.bucket,
                        key,
                        loc.access_key_id,
                        why.escape_debug()
                    );
                }
            }
            shared.record_storage(i, result.err());
        }
        if all_ok {
            eprintln!(
                "level=info msg=\"object storage reachable\" locations={}",
                locations.len()
            );
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// PUTs `body` at `key`, GETs it back and compares.
async fn round_trip(
    http: &reqwest::Client,
    loc: &Location,
    key: &str,
    body: &str,
) -> Result<(), String> {
    let endpoint =
        Url::parse(&loc.endpoint).map_err(|e| format!("bad endpoint {}: {e}", loc.endpoint))?;
    let style = if loc.path_style {
        UrlStyle::Path
    } else {
        UrlStyle::VirtualHost
    };
    let bucket = Bucket::new(endpoint, style, loc.bucket.clone(), loc.region.clone())
        .map_err(|e| format!("cannot address bucket {}: {e}", loc.bucket))?;
    let creds = Credentials::new(loc.access_key_id.clone(), loc.secret.clone());
    let put = bucket.put_object(Some(&creds), key).sign(SIGNED_FOR);
    let r = http
        .put(put)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| format!("PUT {key}: {}", e.without_url()))?;
    if !r.status().is_success() {
        return Err(format!("PUT {key}: {}", refusal(r).await));
    }
    let get = bucket.get_object(Some(&creds), key).sign(SIGNED_FOR);
    let r = http
        .get(get)
        .send()
        .await
        .map_err(|e| format!("GET {key}: {}", e.without_url()))?;
    if !r.status().is_success() {
        return Err(format!("GET {key}: {}", refusal(r).await));
    }
    let got = r
        .text()
        .await
        .map_err(|e| format!("GET {key}: {}", e.without_url()))?;
    if got != body {
        return Err(format!("GET {key} returned other content than was written"));
    }
    Ok(())
}

/// `403 Forbidden (SignatureDoesNotMatch: ...)` from an S3 error answer.
async fn refusal(r: reqwest::Response) -> String {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{t}>"))? + start;
        Some(text[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("{status} ({c}: {m})"),
        (Some(c), None) => format!("{status} ({c})"),
        _ => status.to_string(),
    }
}
