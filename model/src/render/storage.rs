//! Object storage: the S3 settings a process renders, and where in its bucket each backend
//! writes, so two backends never share a location.
//!
//! Locations by backend (what the upstream keys allow):
//! - Mimir: one prefix per purpose, `blocks`, `ruler` and `alertmanager`
//!   (`*_storage.storage_prefix`; upstream refuses ruler or alertmanager sharing the blocks
//!   location, and allows only letters and digits in a prefix);
//! - Tempo: `tempo` (`storage.trace.s3.prefix`);
//! - Loki: the whole bucket. Its only bucket-wide prefix, `storage_config.object_prefix`, is
//!   experimental upstream and does not cover the ruler's objects, so Loki gets a bucket of its
//!   own.
//!
//! So Mimir and Tempo may share a bucket; Loki may not share one with either. Settings that
//! would make two backends' locations overlap on the same endpoint and bucket are refused.

use crate::names::Backend;
use crate::settings::{Settings, StorageKind};

use super::{Ctx, RenderError};

/// Object-key prefixes a backend writes under in its bucket; `""` is the whole bucket.
pub fn prefixes(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Mimir => &["blocks", "ruler", "alertmanager"],
        Backend::Loki => &[""],
        Backend::Tempo => &["tempo"],
    }
}

/// Why two backends' storage overlaps, naming both and the fix; `None` when nothing does.
pub fn shared_location(settings: &Settings) -> Option<String> {
    let located: Vec<(Backend, String, String)> = Backend::ALL
        .into_iter()
        .filter_map(|b| {
            let s = settings.backend(b);
            if s.storage != StorageKind::S3 {
                return None;
            }
            Some((b, normalize(s.s3.endpoint.as_deref()?), s.s3.bucket?))
        })
        .collect();
    for (i, (a, endpoint, bucket)) in located.iter().enumerate() {
        for (b, other_endpoint, other_bucket) in &located[i + 1..] {
            if endpoint != other_endpoint || bucket != other_bucket {
                continue;
            }
            let clash = prefixes(*a)
                .iter()
                .any(|p| prefixes(*b).iter().any(|q| nested(p, q)));
            if clash {
                let whole = if prefixes(*a) == [""] { a } else { b };
                return Some(format!(
                    "{a} and {b} would both write to bucket '{bucket}' at {endpoint}, and {whole} uses the whole bucket; give {whole} a bucket of its own with `lgtmctl config set {whole}.storage.s3.bucket NAME`"
                ));
            }
        }
    }
    None
}

/// One spelling per endpoint: scheme dropped, lower case.
fn normalize(endpoint: &str) -> String {
    endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

/// Whether one key prefix contains the other (by path component).
fn nested(a: &str, b: &str) -> bool {
    let within = |x: &str, y: &str| y.is_empty() || x == y || x.starts_with(&format!("{y}/"));
    within(a, b) || within(b, a)
}

/// S3 settings resolved for rendering, secret included.
pub(super) struct S3 {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub insecure: bool,
    pub path_style: bool,
    pub ca_file: Option<String>,
}

/// Whether the process's backend stores on the local filesystem.
pub(super) fn is_filesystem(c: &Ctx<'_>) -> bool {
    c.settings().storage == StorageKind::Filesystem
}

/// The S3 settings of the process's backend; every one but region and CA is required.
pub(super) fn s3(c: &Ctx<'_>) -> Result<S3, RenderError> {
    let backend = c.id.backend;
    let s = c.settings().s3;
    let missing = |k: &str| RenderError::MissingSetting {
        backend,
        key: format!("{backend}.storage.s3.{k}"),
    };
    let endpoint = s.endpoint.ok_or_else(|| missing("endpoint"))?;
    // Upstream clients take host:port; the scheme only decides TLS.
    let insecure = s.insecure || endpoint.starts_with("http://");
    let endpoint = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    let secret_key = format!("{backend}.storage.s3.secret_access_key");
    Ok(S3 {
        endpoint,
        region: s.region.unwrap_or_default(),
        bucket: s.bucket.ok_or_else(|| missing("bucket"))?,
        access_key_id: s.access_key_id.ok_or_else(|| missing("access_key_id"))?,
        secret_access_key: c
            .cluster
            .secrets
            .get(&secret_key)
            .cloned()
            .ok_or_else(|| missing("secret_access_key"))?,
        insecure,
        path_style: s.path_style,
        ca_file: s.ca_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(settings: &mut Settings, b: Backend, endpoint: &str, bucket: &str) {
        for (k, v) in [
            ("storage.backend", "s3"),
            ("storage.s3.endpoint", endpoint),
            ("storage.s3.bucket", bucket),
        ] {
            settings.set(&format!("{b}.{k}"), v).unwrap();
        }
    }

    #[test]
    fn mimir_and_tempo_share_a_bucket_loki_does_not() {
        let mut s = Settings::default();
        on(&mut s, Backend::Mimir, "http://s3.example:9000", "lgtm");
        on(&mut s, Backend::Tempo, "S3.example:9000", "lgtm");
        assert_eq!(shared_location(&s), None);
        s.set("loki.storage.backend", "s3").unwrap();
        s.set("loki.storage.s3.endpoint", "https://s3.example:9000")
            .unwrap();
        let before = s.clone();
        let e = s
            .set("loki.storage.s3.bucket", "lgtm")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mimir and loki would both write to bucket 'lgtm' at s3.example:9000")
                && e.contains("lgtmctl config set loki.storage.s3.bucket NAME"),
            "{e}"
        );
        assert_eq!(s, before, "a refused set changes nothing");
        s.set("loki.storage.s3.bucket", "logs").unwrap();
        // The same bucket name on another endpoint is another bucket.
        let mut t = Settings::default();
        on(&mut t, Backend::Loki, "a.example", "lgtm");
        on(&mut t, Backend::Tempo, "b.example", "lgtm");
        assert_eq!(shared_location(&t), None);
    }

    #[test]
    fn prefixes_nest_by_component() {
        assert!(nested("", "tempo") && nested("tempo", "tempo") && nested("a/b", "a"));
        assert!(!nested("blocks", "blocksx") && !nested("ruler", "tempo"));
        for b in Backend::ALL {
            for p in prefixes(b) {
                // Mimir refuses anything but letters and digits in a storage prefix.
                assert!(p.bytes().all(|c| c.is_ascii_alphanumeric()), "{p}");
            }
        }
    }
}
