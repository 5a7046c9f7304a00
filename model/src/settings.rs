//! Cluster and backend settings, addressed by dotted keys (`mimir.storage.s3.bucket`).
//!
//! Every key is listed in [`KEYS`] with its parser, so `lgtmctl config set` and the API
//! validate the same way, and typos get a suggestion. Secrets are keys too, but their values
//! live apart ([`Secrets`]) and are never returned.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::Backend;
use crate::rollout::Policy;
use crate::suggest::did_you_mean;

mod tempo;
mod values;

pub use tempo::{Receiver, TempoSettings};

/// Where a backend keeps its blocks, chunks and traces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Local disk under the backend's data directory: single-host backends only.
    #[default]
    Filesystem,
    /// An S3-compatible object store.
    S3,
}

/// Log level handed to the backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

/// S3-compatible storage settings (the secret key is a [`Secrets`] entry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// `host[:port]`, or a URL with `http://` / `https://`.
    pub endpoint: Option<String>,
    /// Region name.
    pub region: Option<String>,
    /// Bucket name.
    pub bucket: Option<String>,
    /// Access key ID (not a secret by itself).
    pub access_key_id: Option<String>,
    /// Plain HTTP to the endpoint.
    pub insecure: bool,
    /// Path-style addressing (most self-hosted S3 servers need it).
    pub path_style: bool,
    /// Absolute path of a CA bundle on the hosts, for endpoints with a private CA.
    pub ca_file: Option<String>,
}

/// Settings of one backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendSettings {
    /// Backend log level.
    pub log_level: LogLevel,
    /// Storage kind.
    pub storage: StorageKind,
    /// S3 settings, used when `storage` is S3.
    pub s3: S3Settings,
    /// Operator YAML overlay, deep-merged over every rendered config of the backend.
    pub overrides: Option<String>,
}

/// All settings of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Cluster name: part of every memberlist cluster label.
    pub cluster_name: String,
    /// The backend an unqualified role belongs to.
    pub default_backend: Backend,
    /// Per-backend settings.
    pub backends: BTreeMap<Backend, BackendSettings>,
    /// Settings only Tempo has.
    pub tempo: TempoSettings,
    /// Tenant the gateway sends as `X-Scope-OrgID` when a client sends none.
    pub gateway_tenant: String,
    /// How fast restarts roll out.
    pub rollout: Policy,
}

/// The gateway's default tenant, as Canonical's coordinators use it.
pub const DEFAULT_GATEWAY_TENANT: &str = "anonymous";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cluster_name: "lgtm".into(),
            default_backend: Backend::Mimir,
            backends: Backend::ALL
                .into_iter()
                .map(|b| (b, BackendSettings::default()))
                .collect(),
            tempo: TempoSettings::default(),
            gateway_tenant: DEFAULT_GATEWAY_TENANT.into(),
            rollout: Policy::default(),
        }
    }
}

/// Secret values by key; never serialized into API answers.
pub type Secrets = BTreeMap<String, String>;

/// Why a setting was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting '{key}'{hint}; `lgtmctl config get` lists them all")]
    UnknownKey { key: String, hint: String },
    #[error("invalid value for {key}: {why}")]
    BadValue { key: String, why: String },
    #[error("{key} is a secret: send it with `lgtmctl config set {key} --from-stdin`")]
    SecretViaValue { key: String },
    #[error("{key} is not a secret: set it with `lgtmctl config set {key} VALUE`")]
    NotSecret { key: String },
}

/// A settings key and what it means.
#[derive(Clone, Debug)]
pub struct KeySpec {
    /// Dotted key.
    pub key: String,
    /// One line of help.
    pub help: &'static str,
    /// Whether the value is a secret.
    pub secret: bool,
}

/// Keys under `<backend>.`: (suffix, help, secret).
const BACKEND_KEYS: &[(&str, &str, bool)] = &[
    ("log_level", "debug, info, warn or error", false),
    (
        "storage.backend",
        "filesystem (single host only) or s3",
        false,
    ),
    (
        "storage.s3.endpoint",
        "host[:port] or http(s)://host[:port]",
        false,
    ),
    ("storage.s3.region", "S3 region, e.g. us-east-1", false),
    (
        "storage.s3.bucket",
        "bucket name (3-63 of a-z, 0-9, '.', '-')",
        false,
    ),
    ("storage.s3.access_key_id", "access key ID", false),
    (
        "storage.s3.secret_access_key",
        "secret access key (secret: --from-stdin)",
        true,
    ),
    (
        "storage.s3.insecure",
        "true for plain HTTP to the endpoint",
        false,
    ),
    (
        "storage.s3.path_style",
        "true for path-style bucket addressing",
        false,
    ),
    (
        "storage.s3.ca_file",
        "absolute path of the endpoint's CA bundle on the hosts (Loki, Tempo)",
        false,
    ),
    (
        "overrides",
        "YAML mapping deep-merged over the rendered config (--from-file)",
        false,
    ),
];

/// Keys under `tempo.` only: (suffix, help).
const TEMPO_KEYS: &[(&str, &str)] = &[
    (
        "receivers",
        "comma list of otlp_grpc, otlp_http, jaeger_grpc, jaeger_thrift_http, zipkin",
    ),
    (
        "metrics_generator.remote_write_url",
        "Prometheus remote-write URL; needed to run tempo:metrics-generator",
    ),
];

/// Keys of the rollout's pace: (key, help).
const ROLLOUT_KEYS: &[(&str, &str)] = &[
    (
        "rollout.max_parallel",
        "stateless processes of one backend restarting at once (1-1000; ring members always one at a time)",
    ),
    (
        "rollout.min_healthy_seconds",
        "seconds a restarted process must stay healthy before the next restarts (0-3600)",
    ),
    (
        "rollout.step_timeout_seconds",
        "seconds a restarted process may take to become healthy before the rollout pauses (30-86400)",
    ),
    (
        "rollout.check_rings",
        "true: a restarted ring member must also show every member ACTIVE on its ring page; false where the coordinator cannot reach the backends' HTTP ports",
    ),
];

/// Every settings key, in display order.
pub fn keys() -> Vec<KeySpec> {
    let mut out = vec![
        KeySpec {
            key: "cluster.name".into(),
            help: "cluster name, part of memberlist cluster labels",
            secret: false,
        },
        KeySpec {
            key: "cluster.default_backend".into(),
            help: "backend of unqualified roles: mimir, loki or tempo",
            secret: false,
        },
    ];
    out.push(KeySpec {
        key: "gateway.tenant".into(),
        help: "X-Scope-OrgID the gateway sends when a client sends none (1-150 of A-Z, a-z, 0-9, '_', '.', '-')",
        secret: false,
    });
    out.extend(ROLLOUT_KEYS.iter().map(|(key, help)| KeySpec {
        key: (*key).into(),
        help,
        secret: false,
    }));
    for b in Backend::ALL {
        for (suffix, help, secret) in BACKEND_KEYS {
            out.push(KeySpec {
                key: format!("{b}.{suffix}"),
                help,
                secret: *secret,
            });
        }
        if b == Backend::Tempo {
            out.extend(TEMPO_KEYS.iter().map(|(suffix, help)| KeySpec {
                key: format!("{b}.{suffix}"),
                help,
                secret: false,
            }));
        }
    }
    out
}

/// Looks a key up, with a suggestion when it is unknown.
pub fn key(key: &str) -> Result<KeySpec, SettingError> {
    let all = keys();
    let hint = did_you_mean(key, all.iter().map(|k| k.key.as_str()));
    all.into_iter()
        .find(|k| k.key == key)
        .ok_or_else(|| SettingError::UnknownKey {
            key: key.escape_debug().to_string(),
            hint,
        })
}

fn bad(key: &str, why: impl fmt::Display) -> SettingError {
    SettingError::BadValue {
        key: key.to_owned(),
        why: why.to_string(),
    }
}

fn parse<T: FromStr>(key: &str, value: &str, expected: &str) -> Result<T, SettingError> {
    value
        .parse()
        .map_err(|_| bad(key, format!("'{}' is not {expected}", value.escape_debug())))
}

/// A whole number in `min..=max`.
fn number<T: FromStr + TryFrom<u64>>(
    key: &str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<T, SettingError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            bad(
                key,
                format!(
                    "'{}' is not a whole number from {min} to {max}",
                    value.escape_debug()
                ),
            )
        })
}

/// Printable ASCII without spaces or quotes: safe in YAML, unit files and logs.
fn plain_token(key: &str, value: &str, max: usize) -> Result<String, SettingError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\' | b'%' | b'$' | b'`')
        });
    if ok {
        Ok(value.to_owned())
    } else {
        Err(bad(
            key,
            format!(
                "use 1 to {max} printable characters without spaces, quotes, '\\', '%', '$' or '`'"
            ),
        ))
    }
}

/// A tenant ID that is valid for Mimir, Loki and Tempo and safe inside nginx.conf quoting.
fn tenant(key: &str, value: &str) -> Result<String, SettingError> {
    let ok = (1..=150).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && value != "."
        && value != "..";
    if ok {
        Ok(value.to_owned())
    } else {
        Err(bad(
            key,
            "use 1 to 150 characters of A-Z, a-z, 0-9, '_', '.' and '-' (not '.' or '..')",
        ))
    }
}

fn endpoint(key: &str, value: &str) -> Result<String, SettingError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .unwrap_or(value);
    let (host, port) = rest
        .rsplit_once(':')
        .map_or((rest, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok {
        Ok(value.to_owned())
    } else {
        Err(bad(
            key,
            format!(
                "'{}' is not host[:port] or http(s)://host[:port]",
                value.escape_debug()
            ),
        ))
    }
}

fn bucket(key: &str, value: &str) -> Result<String, SettingError> {
    let ok = (3..=63).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(value.to_owned())
    } else {
        Err(bad(
            key,
            "bucket names are 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
        ))
    }
}

fn label(key: &str, value: &str) -> Result<String, SettingError> {
    let ok = !value.is_empty()
        && value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(bad(key, "use 1 to 32 characters of a-z, 0-9 and '-'"))
    }
}

impl FromStr for LogLevel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err(()),
        }
    }
}

impl LogLevel {
    /// The upstream spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl FromStr for StorageKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "filesystem" => Ok(StorageKind::Filesystem),
            "s3" => Ok(StorageKind::S3),
            _ => Err(()),
        }
    }
}

impl StorageKind {
    /// The settings spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Filesystem => "filesystem",
            StorageKind::S3 => "s3",
        }
    }
}

fn split_backend(key: &str) -> Option<(Backend, &str)> {
    let (b, rest) = key.split_once('.')?;
    Some((b.parse().ok()?, rest))
}

impl Settings {
    /// Sets a non-secret key from its text value; on error nothing changes.
    ///
    /// Refuses a value that would make two backends write the same object-storage location.
    pub fn set(&mut self, key_name: &str, value: &str) -> Result<(), SettingError> {
        let mut next = self.clone();
        next.apply(key_name, value)?;
        if let Some(shared) = crate::render::storage::shared_location(&next) {
            return Err(bad(key_name, shared));
        }
        *self = next;
        Ok(())
    }

    fn apply(&mut self, key_name: &str, value: &str) -> Result<(), SettingError> {
        let spec = key(key_name)?;
        if spec.secret {
            return Err(SettingError::SecretViaValue { key: spec.key });
        }
        let k = key_name;
        let opt = |v: &str, f: &dyn Fn(&str, &str) -> Result<String, SettingError>| {
            if v.is_empty() {
                Ok(None)
            } else {
                f(k, v).map(Some)
            }
        };
        match k {
            "cluster.name" => self.cluster_name = label(k, value)?,
            "gateway.tenant" => {
                self.gateway_tenant = if value.is_empty() {
                    DEFAULT_GATEWAY_TENANT.into()
                } else {
                    tenant(k, value)?
                }
            }
            "cluster.default_backend" => {
                self.default_backend = value.parse().map_err(|e| bad(k, e))?
            }
            "rollout.max_parallel" => self.rollout.max_parallel = number(k, value, 1, 1000)?,
            "rollout.min_healthy_seconds" => {
                self.rollout.min_healthy_seconds = number(k, value, 0, 3600)?
            }
            "rollout.step_timeout_seconds" => {
                self.rollout.step_timeout_seconds = number(k, value, 30, 86400)?
            }
            "rollout.check_rings" => self.rollout.check_rings = parse(k, value, "true or false")?,
            _ => {
                let (b, rest) = split_backend(k).ok_or_else(|| bad(k, "unknown scope"))?;
                let s = self.backends.entry(b).or_default();
                match rest {
                    "log_level" => {
                        s.log_level = parse(k, value, "one of debug, info, warn, error")?
                    }
                    "storage.backend" => s.storage = parse(k, value, "filesystem or s3")?,
                    "storage.s3.endpoint" => s.s3.endpoint = opt(value, &endpoint)?,
                    "storage.s3.region" => s.s3.region = opt(value, &label)?,
                    "storage.s3.bucket" => s.s3.bucket = opt(value, &bucket)?,
                    "storage.s3.access_key_id" => {
                        s.s3.access_key_id = opt(value, &|k, v| plain_token(k, v, 256))?
                    }
                    "storage.s3.insecure" => s.s3.insecure = parse(k, value, "true or false")?,
                    "storage.s3.path_style" => s.s3.path_style = parse(k, value, "true or false")?,
                    "storage.s3.ca_file" => {
                        s.s3.ca_file = opt(value, &|k, v| values::ca_file(k, v, b))?
                    }
                    "overrides" => s.overrides = opt(value, &|k, v| values::overrides(k, v, b))?,
                    "receivers" => {
                        self.tempo.receivers =
                            tempo::parse_receivers(value).map_err(|e| bad(k, e))?
                    }
                    "metrics_generator.remote_write_url" => {
                        self.tempo.remote_write_url = opt(value, &values::url)?
                    }
                    _ => return Err(bad(k, "no such setting")),
                }
            }
        }
        Ok(())
    }

    /// The text value of a non-secret key (empty when unset).
    pub fn get(&self, key_name: &str) -> Result<String, SettingError> {
        let spec = key(key_name)?;
        if spec.secret {
            return Err(SettingError::SecretViaValue { key: spec.key });
        }
        let unset = String::new;
        Ok(match key_name {
            "cluster.name" => self.cluster_name.clone(),
            "cluster.default_backend" => self.default_backend.to_string(),
            "gateway.tenant" => self.gateway_tenant.clone(),
            "rollout.max_parallel" => self.rollout.max_parallel.to_string(),
            "rollout.min_healthy_seconds" => self.rollout.min_healthy_seconds.to_string(),
            "rollout.step_timeout_seconds" => self.rollout.step_timeout_seconds.to_string(),
            "rollout.check_rings" => self.rollout.check_rings.to_string(),
            k => {
                let (b, rest) = split_backend(k).ok_or_else(|| bad(k, "unknown scope"))?;
                let s = self.backend(b);
                match rest {
                    "log_level" => s.log_level.as_str().into(),
                    "storage.backend" => s.storage.as_str().into(),
                    "storage.s3.endpoint" => s.s3.endpoint.clone().unwrap_or_else(unset),
                    "storage.s3.region" => s.s3.region.clone().unwrap_or_else(unset),
                    "storage.s3.bucket" => s.s3.bucket.clone().unwrap_or_else(unset),
                    "storage.s3.access_key_id" => s.s3.access_key_id.clone().unwrap_or_else(unset),
                    "storage.s3.insecure" => s.s3.insecure.to_string(),
                    "storage.s3.path_style" => s.s3.path_style.to_string(),
                    "storage.s3.ca_file" => s.s3.ca_file.clone().unwrap_or_else(unset),
                    "overrides" => s.overrides.clone().unwrap_or_else(unset),
                    "receivers" => tempo::receivers_text(&self.tempo.receivers),
                    "metrics_generator.remote_write_url" => {
                        self.tempo.remote_write_url.clone().unwrap_or_else(unset)
                    }
                    _ => return Err(bad(k, "no such setting")),
                }
            }
        })
    }

    /// The settings of one backend (defaults when never set).
    pub fn backend(&self, backend: Backend) -> BackendSettings {
        self.backends.get(&backend).cloned().unwrap_or_default()
    }
}

/// Validates a secret value for a secret key.
pub fn validate_secret(key_name: &str, value: &str) -> Result<(), SettingError> {
    let spec = key(key_name)?;
    if !spec.secret {
        return Err(SettingError::NotSecret { key: spec.key });
    }
    plain_token(key_name, value, 1024).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_tenant_is_validated_and_resets_to_anonymous() {
        let mut s = Settings::default();
        assert_eq!(s.get("gateway.tenant").unwrap(), "anonymous");
        s.set("gateway.tenant", "team-a_1.prod").unwrap();
        assert_eq!(s.gateway_tenant, "team-a_1.prod");
        for bad in ["a'b", "a\"b", "a b", "a;b", "$x", "..", &"x".repeat(151)] {
            let e = s.set("gateway.tenant", bad).unwrap_err().to_string();
            assert!(e.contains("gateway.tenant"), "{bad}: {e}");
        }
        assert_eq!(
            s.gateway_tenant, "team-a_1.prod",
            "a refused value changes nothing"
        );
        s.set("gateway.tenant", "").unwrap();
        assert_eq!(s.gateway_tenant, "anonymous");
    }

    #[test]
    fn set_and_get_round_trip() {
        let mut s = Settings::default();
        let cases = [
            ("cluster.name", "prod-eu"),
            ("cluster.default_backend", "loki"),
            ("rollout.max_parallel", "5"),
            ("rollout.min_healthy_seconds", "0"),
            ("rollout.step_timeout_seconds", "900"),
            ("rollout.check_rings", "false"),
            ("mimir.log_level", "debug"),
            ("mimir.storage.backend", "s3"),
            ("mimir.storage.s3.endpoint", "http://198.18.0.1:9000"),
            ("mimir.storage.s3.region", "us-east-1"),
            ("mimir.storage.s3.bucket", "mimir-blocks"),
            ("mimir.storage.s3.access_key_id", "AKIAEXAMPLE"),
            ("mimir.storage.s3.insecure", "true"),
            ("tempo.storage.s3.path_style", "true"),
            ("tempo.storage.s3.ca_file", "/etc/ssl/private-ca.pem"),
            ("tempo.receivers", "otlp_grpc,zipkin"),
            (
                "tempo.metrics_generator.remote_write_url",
                "https://prom.example:9090/api/v1/write",
            ),
            (
                "loki.overrides",
                "limits_config:\n  retention_period: 744h\n",
            ),
        ];
        for (k, v) in cases {
            s.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_eq!(s.get(k).unwrap(), v, "{k}");
        }
        assert_eq!(s.default_backend, Backend::Loki);
        s.set("mimir.storage.s3.bucket", "").unwrap();
        assert_eq!(s.backend(Backend::Mimir).s3.bucket, None);
        for k in keys().iter().filter(|k| !k.secret) {
            assert!(s.get(&k.key).is_ok(), "{}", k.key);
        }
    }

    #[test]
    fn rejections_name_key_and_fix() {
        let cases = [
            (
                "mimir.log_lvl",
                "x",
                "unknown setting 'mimir.log_lvl'; did you mean 'mimir.log_level'?",
            ),
            (
                "mimir.log_level",
                "loud",
                "invalid value for mimir.log_level: 'loud' is not one of debug",
            ),
            ("mimir.storage.backend", "gcs", "filesystem or s3"),
            (
                "rollout.max_parallel",
                "0",
                "invalid value for rollout.max_parallel: '0' is not a whole number from 1 to 1000",
            ),
            ("rollout.step_timeout_seconds", "5", "from 30 to 86400"),
            (
                "mimir.storage.s3.bucket",
                "Bad_Bucket",
                "bucket names are 3 to 63",
            ),
            (
                "mimir.storage.s3.endpoint",
                "host:99999",
                "is not host[:port]",
            ),
            ("mimir.storage.s3.endpoint", "a b", "is not host[:port]"),
            (
                "mimir.storage.s3.access_key_id",
                "a\nb",
                "printable characters",
            ),
            ("mimir.storage.s3.insecure", "yes", "true or false"),
            ("cluster.name", "Prod", "a-z, 0-9"),
            ("cluster.default_backend", "mimr", "did you mean 'mimir'"),
            ("mimir.storage.s3.secret_access_key", "x", "--from-stdin"),
            (
                "loki.storage.s3.ca_file",
                "ca.pem",
                "not a plain absolute file path",
            ),
            (
                "loki.storage.s3.ca_file",
                "/etc/../ca.pem",
                "without '.' or '..'",
            ),
            (
                "mimir.storage.s3.ca_file",
                "/etc/ca.pem",
                "system trust store",
            ),
            ("tempo.receivers", "otlp", "'otlp' is not a receiver"),
            ("tempo.receivers", ",", "at least one receiver"),
            (
                "tempo.metrics_generator.remote_write_url",
                "prom:9090",
                "not an http(s) URL",
            ),
            (
                "tempo.metrics_generator.remote_write_url",
                "http://a b",
                "not an http(s) URL",
            ),
            (
                "mimir.receivers",
                "zipkin",
                "unknown setting 'mimir.receivers'",
            ),
            ("loki.overrides", "server: [", "not valid YAML"),
            (
                "tempo.overrides",
                "storage:\n  trace:\n    wal:\n      path: /x\n",
                "'storage.trace.wal.path' is set by lgtm",
            ),
        ];
        for (k, v, want) in cases {
            let before = Settings::default();
            let mut s = before.clone();
            let e = s.set(k, v).unwrap_err().to_string();
            assert!(e.contains(want), "{k}={v:?}: {e}");
            assert_eq!(s, before, "{k}: a rejected set must change nothing");
        }
    }

    #[test]
    fn secrets() {
        assert!(validate_secret("loki.storage.s3.secret_access_key", "abc/DEF+123").is_ok());
        assert!(validate_secret("loki.storage.s3.secret_access_key", "has space").is_err());
        assert!(
            validate_secret("loki.storage.s3.bucket", "x")
                .unwrap_err()
                .to_string()
                .contains("not a secret")
        );
        assert!(
            keys()
                .iter()
                .filter(|k| k.secret)
                .all(|k| k.key.ends_with("secret_access_key"))
        );
    }

    #[test]
    fn settings_json_is_strict() {
        let s = Settings::default();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Settings>(r#"{"cluster_nam":"x"}"#).is_err());
    }
}
