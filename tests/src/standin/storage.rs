//! Where the config tells the backend to keep its objects: one [`Location`] per purpose
//! (Mimir blocks / ruler / alertmanager, Loki chunks and rules, Tempo traces), read the way
//! upstream reads it — a purpose's own S3 block over the common one. Pure: the stand-in's
//! startup check ([`super::bucket`]) writes and reads an object at each location.

use serde::Serialize;
use serde_json::{Map, Value};

use lgtm_model::Backend;

/// One place a backend stores objects, and the credentials it was handed for it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// What is stored there (`blocks`, `ruler`, `alertmanager`, `chunks`, `traces`, ...).
    pub purpose: String,
    /// `http(s)://host:port`.
    pub endpoint: String,
    /// Region, signed into every request.
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket, without slashes at either end (may be empty).
    pub prefix: String,
    /// Access key ID.
    pub access_key_id: String,
    /// Path-style addressing (`endpoint/bucket/key`).
    pub path_style: bool,
    /// Secret access key: never serialized, never printed.
    #[serde(skip)]
    pub secret: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("purpose", &self.purpose)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Location {
    /// The key of an object named `name` under this location's prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

/// Why the storage config cannot be used; worded like the backends' own refusals.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} storage config: {why}")]
pub struct StorageError {
    what: String,
    why: String,
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `base` with the keys of `over` set on top (one level: S3 blocks are flat).
fn overlay(base: Option<&Value>, over: Option<&Value>) -> Value {
    let mut out: Map<String, Value> = base.and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(o) = over.and_then(Value::as_object) {
        for (k, v) in o {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Key names of one S3 config dialect.
struct Dialect {
    bucket: &'static str,
    access_key: &'static str,
    secret: &'static str,
    /// Boolean key forcing path style. Without it: aws-sdk-go (Loki) addresses buckets as
    /// virtual hosts; minio-go (Mimir, Tempo) picks path style for endpoints not on AWS.
    path_style: &'static str,
    /// Whether the client is minio-go.
    minio: bool,
}

const THANOS: Dialect = Dialect {
    bucket: "bucket_name",
    access_key: "access_key_id",
    secret: "secret_access_key",
    path_style: "",
    minio: true,
};
const LOKI: Dialect = Dialect {
    bucket: "bucketnames",
    access_key: "access_key_id",
    secret: "secret_access_key",
    path_style: "s3forcepathstyle",
    minio: false,
};
const TEMPO: Dialect = Dialect {
    bucket: "bucket",
    access_key: "access_key",
    secret: "secret_key",
    path_style: "forcepathstyle",
    minio: true,
};

/// Locations (one per bucket) of one S3 block.
fn from_s3(
    what: &str,
    s3: &Value,
    d: &Dialect,
    prefix: &str,
) -> Result<Vec<Location>, StorageError> {
    let err = |why: &str| StorageError {
        what: what.to_owned(),
        why: why.to_owned(),
    };
    let raw = text(s3.get("endpoint"));
    if raw.is_empty() {
        return Err(err("s3 endpoint is empty"));
    }
    let endpoint = if raw.starts_with("http://") || raw.starts_with("https://") {
        raw
    } else if s3.get("insecure").and_then(Value::as_bool) == Some(true) {
        format!("http://{raw}")
    } else {
        format!("https://{raw}")
    };
    let buckets: Vec<String> = text(s3.get(d.bucket))
        .split(',')
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    if buckets.is_empty() {
        return Err(err("s3 bucket name is empty"));
    }
    let forced = s3.get(d.path_style).and_then(Value::as_bool) == Some(true)
        || text(s3.get("bucket_lookup_type")) == "path";
    let virtual_hosted = !forced
        && if d.minio {
            text(s3.get("bucket_lookup_type")) == "virtual-hosted"
                || endpoint.contains(".amazonaws.com")
        } else {
            true
        };
    let region = match text(s3.get("region")) {
        r if r.is_empty() => "us-east-1".to_owned(),
        r => r,
    };
    Ok(buckets
        .into_iter()
        .map(|bucket| Location {
            purpose: what.to_owned(),
            endpoint: endpoint.clone(),
            region: region.clone(),
            bucket,
            prefix: prefix.trim_matches('/').to_owned(),
            access_key_id: text(s3.get(d.access_key)),
            path_style: !virtual_hosted,
            secret: text(s3.get(d.secret)),
        })
        .collect())
}

/// Every object-storage location in `config`; empty when the backend stores on local disk.
pub fn locations(backend: Backend, config: &Value) -> Result<Vec<Location>, StorageError> {
    match backend {
        Backend::Mimir => mimir(config),
        Backend::Loki => loki(config),
        Backend::Tempo => tempo(config),
    }
}

/// Mimir: each purpose's `backend` and `s3` over `common.storage`.
fn mimir(c: &Value) -> Result<Vec<Location>, StorageError> {
    let common = at(c, &["common", "storage"]);
    let mut out = Vec::new();
    for (section, purpose) in [
        ("blocks_storage", "blocks"),
        ("ruler_storage", "ruler"),
        ("alertmanager_storage", "alertmanager"),
    ] {
        let own = c.get(section);
        let kind = match text(own.and_then(|o| o.get("backend"))) {
            k if k.is_empty() => text(common.and_then(|o| o.get("backend"))),
            k => k,
        };
        if kind != "s3" {
            continue;
        }
        let s3 = overlay(
            common.and_then(|o| o.get("s3")),
            own.and_then(|o| o.get("s3")),
        );
        let prefix = text(own.and_then(|o| o.get("storage_prefix")));
        out.extend(from_s3(purpose, &s3, &THANOS, &prefix)?);
    }
    Ok(out)
}

/// Loki: chunks and index through `common.storage.s3` or `storage_config.aws`, the ruler
/// through `ruler_storage` when set.
fn loki(c: &Value) -> Result<Vec<Location>, StorageError> {
    let mut out = Vec::new();
    let chunks = at(c, &["storage_config", "aws"]).or_else(|| at(c, &["common", "storage", "s3"]));
    if let Some(s3) = chunks {
        out.extend(from_s3("chunks", s3, &LOKI, "")?);
    }
    if let Some(r) = c.get("ruler_storage")
        && text(r.get("backend")) == "s3"
    {
        let prefix = text(r.get("storage_prefix"));
        out.extend(from_s3(
            "ruler",
            r.get("s3").unwrap_or(&Value::Null),
            &THANOS,
            &prefix,
        )?);
    }
    Ok(out)
}

/// Tempo: `storage.trace` when its backend is s3.
fn tempo(c: &Value) -> Result<Vec<Location>, StorageError> {
    let trace = at(c, &["storage", "trace"]);
    if text(trace.and_then(|t| t.get("backend"))) != "s3" {
        return Ok(Vec::new());
    }
    let s3 = trace.and_then(|t| t.get("s3")).unwrap_or(&Value::Null);
    let prefix = text(s3.get("prefix"));
    from_s3("traces", s3, &TEMPO, &prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn mimir_purposes_share_the_common_block_with_their_own_prefix() {
        let c = yaml(
            "common: {storage: {backend: s3, s3: {endpoint: '10.0.0.1:9000', bucket_name: m, access_key_id: ak, secret_access_key: sk, insecure: true}}}\n\
             blocks_storage: {storage_prefix: blocks}\n\
             ruler_storage: {storage_prefix: ruler, s3: {bucket_name: rules}}\n\
             alertmanager_storage: {storage_prefix: alertmanager}\n",
        );
        let got = locations(Backend::Mimir, &c).unwrap();
        let short: Vec<_> = got
            .iter()
            .map(|l| (l.purpose.as_str(), l.bucket.as_str(), l.prefix.as_str()))
            .collect();
        assert_eq!(
            short,
            [
                ("blocks", "m", "blocks"),
                ("ruler", "rules", "ruler"),
                ("alertmanager", "m", "alertmanager")
            ]
        );
        let l = &got[0];
        assert_eq!(l.endpoint, "http://10.0.0.1:9000");
        assert_eq!((l.access_key_id.as_str(), l.secret.as_str()), ("ak", "sk"));
        assert!(l.path_style);
        assert_eq!(l.key("x/y"), "blocks/x/y");
        assert!(!format!("{l:?}").contains("sk"), "Debug hides the secret");
        assert!(!serde_json::to_string(l).unwrap().contains("\"sk\""));
    }

    #[test]
    fn filesystem_means_no_locations_and_missing_bucket_is_refused() {
        let fs = yaml("common: {storage: {backend: filesystem}}\n");
        assert!(locations(Backend::Mimir, &fs).unwrap().is_empty());
        assert!(locations(Backend::Mimir, &yaml("{}")).unwrap().is_empty());
        let no_bucket = yaml("common: {storage: {backend: s3, s3: {endpoint: 'h:1'}}}\n");
        let e = locations(Backend::Mimir, &no_bucket).unwrap_err();
        assert!(e.to_string().contains("bucket name is empty"), "{e}");
    }

    #[test]
    fn loki_bucketnames_and_tempo_prefix() {
        let l = yaml(
            "common: {storage: {s3: {endpoint: 'https://s3:9000', bucketnames: 'a,b', access_key_id: k, secret_access_key: s, s3forcepathstyle: true}}}\n",
        );
        let got = locations(Backend::Loki, &l).unwrap();
        let buckets: Vec<_> = got.iter().map(|l| l.bucket.as_str()).collect();
        assert_eq!(buckets, ["a", "b"]);
        assert_eq!(got[0].endpoint, "https://s3:9000");
        assert!(got[0].path_style);
        let t = yaml(
            "storage: {trace: {backend: s3, s3: {endpoint: 'h:9000', bucket: t, prefix: /traces/, access_key: k, secret_key: s, insecure: true}}}\n",
        );
        let got = locations(Backend::Tempo, &t).unwrap();
        assert_eq!(
            (got[0].purpose.as_str(), got[0].prefix.as_str()),
            ("traces", "traces")
        );
        assert!(got[0].path_style, "minio-go: path style off AWS");
        let l = yaml("common: {storage: {s3: {endpoint: 'h:1', bucketnames: a}}}\n");
        let got = locations(Backend::Loki, &l).unwrap();
        assert!(
            !got[0].path_style,
            "aws-sdk-go: virtual hosts unless forced"
        );
        let local = yaml("storage: {trace: {backend: local}}\n");
        assert!(locations(Backend::Tempo, &local).unwrap().is_empty());
    }
}
