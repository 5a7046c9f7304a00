//! The operator's overlay (`<backend>.overrides`): a YAML mapping deep-merged over every
//! rendered config of a backend (mappings merge, anything else replaces).
//!
//! Checked when set and again when rendering: it must parse, be a mapping, use only keys the
//! upstream binary knows with values of the right type, hold no secret (overlays are stored
//! and shown in clear), and leave alone what lgtm owns: ports, memberlist, replication
//! factors, addresses, data paths and storage, each of which has its own setting or rule.

use serde_json::{Map, Value};

use crate::names::Backend;
use crate::settings::BackendSettings;
use crate::upstream;

use super::RenderError;

/// Largest overlay accepted, in bytes.
pub const MAX_OVERLAY_BYTES: usize = 32 * 1024;

/// Why an overlay was refused; every message names the key path and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    #[error("the overlay is larger than {MAX_OVERLAY_BYTES} bytes; keep only the keys you change")]
    TooLarge,
    #[error("the overlay is not valid YAML ({0}); give a YAML mapping of configuration keys")]
    Yaml(String),
    #[error(
        "the overlay must be a YAML mapping of {0} configuration keys, e.g. 'ingester:' on its own line with indented keys below"
    )]
    NotAMapping(Backend),
    #[error(
        "{problem}: {backend} would refuse to start with it; fix the key path against the {backend} configuration reference"
    )]
    Upstream { backend: Backend, problem: String },
    #[error("'{path}' is set by lgtm and cannot be overridden: {instead}")]
    Owned { path: String, instead: String },
    #[error(
        "'{path}' looks like a secret, and overlays are stored and shown in clear: the storage secret goes through `lgtmctl config set {backend}.storage.s3.secret_access_key --from-stdin`"
    )]
    Secret { backend: Backend, path: String },
}

const PORTS: &str =
    "lgtm's fixed port plan: peers reach every process on its ports, so they cannot change";
const MEMBERLIST: &str = "lgtm joins, binds and advertises every process's memberlist itself";
const LABEL: &str =
    "it is '<cluster.name>-<backend>': change it with `lgtmctl config set cluster.name NAME`";
const REPLICATION: &str =
    "it follows how many hosts run the role (3 from 3 hosts up): assign the role to more hosts";
const ADDRESS: &str = "lgtm uses the address each host's agent registered with";
const DATA: &str =
    "every data path lives under the agent's data_root: change data_root in the agent's config";
const STORAGE: &str =
    "set storage with `lgtmctl config set {b}.storage.*` (the secret with --from-stdin)";
const RECEIVERS: &str = "choose receivers with `lgtmctl config set tempo.receivers LIST`";
const REMOTE_WRITE: &str =
    "set it with `lgtmctl config set tempo.metrics_generator.remote_write_url URL`";

/// Paths lgtm owns (a path and everything below it), with what to do instead.
fn owned(backend: Backend) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        ("server.http_listen_port", PORTS),
        ("server.grpc_listen_port", PORTS),
        ("memberlist.join_members", MEMBERLIST),
        ("memberlist.bind_port", MEMBERLIST),
        ("memberlist.bind_addr", MEMBERLIST),
        ("memberlist.advertise_addr", MEMBERLIST),
        ("memberlist.advertise_port", MEMBERLIST),
        ("memberlist.cluster_label", LABEL),
    ];
    out.extend(match backend {
        Backend::Mimir => vec![
            ("ingester.ring.replication_factor", REPLICATION),
            (
                "store_gateway.sharding_ring.replication_factor",
                REPLICATION,
            ),
            ("alertmanager.sharding_ring.replication_factor", REPLICATION),
            ("blocks_storage.tsdb.dir", DATA),
            ("blocks_storage.bucket_store.sync_dir", DATA),
            ("compactor.data_dir", DATA),
            ("ruler.rule_path", DATA),
            ("alertmanager.data_dir", DATA),
            ("activity_tracker.filepath", DATA),
            ("common.storage", STORAGE),
            ("blocks_storage.backend", STORAGE),
            ("blocks_storage.s3", STORAGE),
            ("blocks_storage.filesystem", STORAGE),
            ("blocks_storage.storage_prefix", STORAGE),
            ("ruler_storage", STORAGE),
            ("alertmanager_storage", STORAGE),
        ],
        Backend::Loki => vec![
            ("common.replication_factor", REPLICATION),
            ("ingester.lifecycler.ring.replication_factor", REPLICATION),
            ("common.instance_addr", ADDRESS),
            ("common.path_prefix", DATA),
            ("compactor.working_directory", DATA),
            ("storage_config.tsdb_shipper.active_index_directory", DATA),
            ("storage_config.tsdb_shipper.cache_location", DATA),
            ("ingester.wal.dir", DATA),
            ("ruler.rule_path", DATA),
            ("common.storage", STORAGE),
            ("storage_config.aws", STORAGE),
            ("storage_config.filesystem", STORAGE),
            ("storage_config.object_prefix", STORAGE),
            ("ruler.storage", STORAGE),
        ],
        Backend::Tempo => vec![
            ("ingester.lifecycler.ring.replication_factor", REPLICATION),
            ("storage.trace.wal.path", DATA),
            ("metrics_generator.storage.path", DATA),
            ("metrics_generator.traces_storage.path", DATA),
            ("storage.trace.backend", STORAGE),
            ("storage.trace.local", STORAGE),
            ("storage.trace.s3", STORAGE),
            ("distributor.receivers", RECEIVERS),
            ("metrics_generator.storage.remote_write", REMOTE_WRITE),
        ],
    });
    out
}

/// Last path segments that hold credentials in some upstream block.
fn looks_secret(segment: &str) -> bool {
    [
        "secret",
        "password",
        "token",
        "account_key",
        "connection_string",
    ]
    .iter()
    .any(|s| segment.contains(s))
}

/// Parses and checks an overlay on its own (what `config set` does).
pub fn parse(backend: Backend, text: &str) -> Result<Value, OverlayError> {
    if text.len() > MAX_OVERLAY_BYTES {
        return Err(OverlayError::TooLarge);
    }
    let value: Value =
        serde_yaml_ng::from_str(text).map_err(|e| OverlayError::Yaml(e.to_string()))?;
    if !value.is_object() {
        return Err(OverlayError::NotAMapping(backend));
    }
    if let Some(p) = upstream::check(backend, &value).into_iter().next() {
        return Err(OverlayError::Upstream {
            backend,
            problem: p.to_string(),
        });
    }
    walk(backend, &owned(backend), "", &value)?;
    Ok(value)
}

fn walk(
    backend: Backend,
    owned: &[(&str, &str)],
    prefix: &str,
    v: &Value,
) -> Result<(), OverlayError> {
    let Value::Object(map) = v else { return Ok(()) };
    for (k, v) in map {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        for (o, instead) in owned {
            let below = path == *o || path.starts_with(&format!("{o}."));
            // A non-mapping at an ancestor would replace the owned key with everything else.
            let above = o.starts_with(&format!("{path}.")) && !v.is_object();
            if below || above {
                return Err(OverlayError::Owned {
                    path: if below { path } else { (*o).to_owned() },
                    instead: instead.replace("{b}", backend.as_str()),
                });
            }
        }
        if path.ends_with(".instance_addr") || path.ends_with(".instance_id") {
            return Err(OverlayError::Owned {
                path,
                instead: ADDRESS.into(),
            });
        }
        if looks_secret(k) {
            return Err(OverlayError::Secret { backend, path });
        }
        walk(backend, owned, &path, v)?;
    }
    Ok(())
}

/// Deep merge: mappings merge key by key, anything else in `overlay` replaces.
pub fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Merges the backend's overlay, if any, over one rendered config and checks the result.
pub(super) fn apply(
    backend: Backend,
    settings: &BackendSettings,
    mut rendered: Value,
    data_dir: &str,
) -> Result<Value, RenderError> {
    let Some(text) = settings.overrides.as_deref() else {
        return Ok(rendered);
    };
    let refuse = |why: String| RenderError::Overlay { backend, why };
    let overlay = parse(backend, text).map_err(|e| refuse(e.to_string()))?;
    if let Some(path) = data_path_overridden(&rendered, &overlay, "", data_dir) {
        return Err(refuse(
            OverlayError::Owned {
                path,
                instead: DATA.into(),
            }
            .to_string(),
        ));
    }
    merge(&mut rendered, &overlay);
    match upstream::check(backend, &rendered).into_iter().next() {
        Some(p) => Err(refuse(format!("after merging, {p}"))),
        None => Ok(rendered),
    }
}

/// A leaf of `overlay` replacing a rendered path under the process's data directory.
fn data_path_overridden(
    rendered: &Value,
    overlay: &Value,
    prefix: &str,
    data_dir: &str,
) -> Option<String> {
    let (Value::Object(r), Value::Object(o)) = (rendered, overlay) else {
        return None;
    };
    o.iter().find_map(|(k, v)| {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match r.get(k)? {
            Value::String(s) if s.starts_with(data_dir) => Some(path),
            nested @ Value::Object(_) => data_path_overridden(nested, v, &path, data_dir),
            _ => None,
        }
    })
}

/// An empty mapping, the neutral overlay.
pub fn empty() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_merges_maps_and_replaces_the_rest() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"});
        merge(
            &mut base,
            &json!({"a": {"c": [3], "e": {"f": true}}, "d": null}),
        );
        assert_eq!(
            base,
            json!({"a": {"b": 1, "c": [3], "e": {"f": true}}, "d": null})
        );
        let mut base = json!({"a": 1});
        merge(&mut base, &empty());
        assert_eq!(base, json!({"a": 1}));
    }

    #[test]
    fn refusals_name_the_path_and_the_fix() {
        let cases: &[(Backend, &str, &str)] = &[
            (Backend::Mimir, "ingester: [", "not valid YAML"),
            (Backend::Mimir, "- a\n- b\n", "must be a YAML mapping"),
            (Backend::Mimir, "42", "must be a YAML mapping"),
            (
                Backend::Mimir,
                "ingester:\n  ring:\n    replication_factr: 2\n",
                "unknown configuration key 'ingester.ring.replication_factr'",
            ),
            (
                Backend::Loki,
                "limits_config:\n  ingestion_rate_mb: lots\n",
                "key 'limits_config.ingestion_rate_mb' takes a",
            ),
            (
                Backend::Mimir,
                "server:\n  http_listen_port: 9009\n",
                "'server.http_listen_port' is set by lgtm and cannot be overridden: lgtm's fixed port plan",
            ),
            (
                Backend::Loki,
                "memberlist:\n  cluster_label: x\n",
                "`lgtmctl config set cluster.name NAME`",
            ),
            (
                Backend::Mimir,
                "memberlist: null\n",
                "'memberlist.join_members' is set by lgtm",
            ),
            (
                Backend::Tempo,
                "ingester:\n  lifecycler:\n    ring:\n      replication_factor: 2\n",
                "assign the role to more hosts",
            ),
            (
                Backend::Loki,
                "common:\n  path_prefix: /tmp/loki\n",
                "'common.path_prefix' is set by lgtm and cannot be overridden: every data path lives under the agent's data_root",
            ),
            (
                Backend::Tempo,
                "storage:\n  trace:\n    s3:\n      bucket: other\n",
                "`lgtmctl config set tempo.storage.*`",
            ),
            (
                Backend::Mimir,
                "distributor:\n  ring:\n    instance_addr: 10.0.0.1\n",
                "registered",
            ),
            (
                Backend::Tempo,
                "distributor:\n  receivers:\n    zipkin: {}\n",
                "tempo.receivers",
            ),
            (
                Backend::Mimir,
                "ruler:\n  alertmanager_client:\n    basic_auth_password: x\n",
                "looks like a secret",
            ),
        ];
        for (backend, text, want) in cases {
            let e = parse(*backend, text).unwrap_err().to_string();
            assert!(e.contains(want), "{backend} {text:?}: {e}");
        }
        assert!(
            parse(Backend::Mimir, &"#".repeat(MAX_OVERLAY_BYTES + 1))
                .unwrap_err()
                .to_string()
                .contains("larger than")
        );
    }

    #[test]
    fn tuning_is_accepted() {
        let ok: &[(Backend, &str)] = &[
            (
                Backend::Mimir,
                "limits:\n  max_global_series_per_user: 300000\n  ingestion_rate: 50000\n",
            ),
            (
                Backend::Loki,
                "limits_config:\n  retention_period: 744h\nquery_range:\n  parallelise_shardable_queries: true\n",
            ),
            (
                Backend::Tempo,
                "compactor:\n  compaction:\n    block_retention: 336h\n",
            ),
            (Backend::Mimir, "{}"),
        ];
        for (backend, text) in ok {
            assert!(parse(*backend, text).is_ok(), "{backend} {text:?}");
        }
    }
}
