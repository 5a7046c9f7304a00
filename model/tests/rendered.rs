//! Every config rendering produces, across the topologies lgtm deploys, uses only keys the
//! upstream binaries know with values of the right type, and keeps every data path inside its
//! process's data directory without overlap. Representative topologies are compared with
//! golden files in `tests/golden/`; `LGTM_BLESS=1 cargo test -p lgtm-model --test rendered`
//! rewrites them.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use lgtm_model::render::{Cluster, HostIntent, RenderError, host_processes};
use lgtm_model::settings::{Secrets, Settings};
use lgtm_model::upstream;
use lgtm_model::wire::DesiredProcess;
use lgtm_model::{Backend, HostName, Role};
use serde_json::Value;

type Hosts = &'static [(&'static str, &'static [&'static str])];

const MIMIR_MICROSERVICES: Hosts = &[
    (
        "h1",
        &[
            "mimir:distributor",
            "mimir:ingester",
            "mimir:query-frontend",
            "mimir:alertmanager",
        ],
    ),
    (
        "h2",
        &[
            "mimir:ingester",
            "mimir:querier",
            "mimir:store-gateway",
            "mimir:overrides-exporter",
            "mimir:alertmanager",
        ],
    ),
    (
        "h3",
        &[
            "mimir:ingester",
            "mimir:compactor",
            "mimir:ruler",
            "mimir:query-scheduler",
            "mimir:store-gateway",
        ],
    ),
];

const LOKI_MICROSERVICES: Hosts = &[
    (
        "h1",
        &[
            "loki:distributor",
            "loki:ingester",
            "loki:query-frontend",
            "loki:index-gateway",
        ],
    ),
    (
        "h2",
        &[
            "loki:ingester",
            "loki:querier",
            "loki:query-scheduler",
            "loki:pattern-ingester",
        ],
    ),
    (
        "h3",
        &[
            "loki:ingester",
            "loki:compactor",
            "loki:ruler",
            "loki:index-gateway",
        ],
    ),
];

const TEMPO_MICROSERVICES: Hosts = &[
    ("h1", &["tempo:distributor", "tempo:query-frontend"]),
    ("h2", &["tempo:ingester", "tempo:querier"]),
    (
        "h3",
        &[
            "tempo:compactor",
            "tempo:metrics-generator",
            "tempo:ingester",
        ],
    ),
    ("h4", &["tempo:ingester", "tempo:distributor"]),
];

/// (name, hosts, whether a golden file pins it).
const TOPOLOGIES: &[(&str, Hosts, bool)] = &[
    ("mimir-all-1", &[("h1", &["mimir:all"])], false),
    (
        "mimir-all-3",
        &[
            ("h1", &["mimir:all", "mimir:alertmanager"]),
            ("h2", &["mimir:all"]),
            ("h3", &["mimir:all"]),
        ],
        false,
    ),
    (
        "mimir-read-write-backend",
        &[
            ("h1", &["mimir:write"]),
            ("h2", &["mimir:read"]),
            ("h3", &["mimir:backend"]),
        ],
        false,
    ),
    ("mimir-microservices", MIMIR_MICROSERVICES, true),
    (
        "mimir-without-scheduler",
        &[
            (
                "h1",
                &[
                    "mimir:distributor",
                    "mimir:ingester",
                    "mimir:query-frontend",
                ],
            ),
            (
                "h2",
                &[
                    "mimir:querier",
                    "mimir:store-gateway",
                    "mimir:compactor",
                    "mimir:ruler",
                ],
            ),
        ],
        false,
    ),
    ("loki-all-1", &[("h1", &["loki:all"])], false),
    (
        "loki-all-3",
        &[
            ("h1", &["loki:all"]),
            ("h2", &["loki:all"]),
            ("h3", &["loki:all"]),
        ],
        false,
    ),
    (
        "loki-simple-scalable",
        &[
            ("h1", &["loki:write"]),
            ("h2", &["loki:read"]),
            ("h3", &["loki:backend"]),
            ("h4", &["loki:write"]),
        ],
        true,
    ),
    ("loki-microservices", LOKI_MICROSERVICES, false),
    ("tempo-all-1", &[("h1", &["tempo:all"])], false),
    (
        "tempo-all-3",
        &[
            ("h1", &["tempo:all"]),
            ("h2", &["tempo:all"]),
            ("h3", &["tempo:all"]),
        ],
        false,
    ),
    ("tempo-microservices", TEMPO_MICROSERVICES, true),
    (
        "colocated-1",
        &[(
            "h1",
            &[
                "mimir:all",
                "loki:all",
                "tempo:distributor",
                "tempo:ingester",
                "tempo:querier",
                "tempo:query-frontend",
                "tempo:compactor",
            ],
        )],
        true,
    ),
    (
        "colocated-3",
        &[
            ("h1", &["mimir:all", "loki:write", "tempo:all"]),
            (
                "h2",
                &["mimir:all", "loki:read", "tempo:all", "mimir:alertmanager"],
            ),
            ("h3", &["mimir:all", "loki:backend", "tempo:all"]),
        ],
        false,
    ),
];

fn hosts(spec: Hosts) -> BTreeMap<HostName, HostIntent> {
    spec.iter()
        .enumerate()
        .map(|(i, (name, roles))| {
            let intent = HostIntent {
                address: Some(format!("198.18.0.{}", i + 2).parse().unwrap()),
                data_root: Some("/var/lib/lgtm".into()),
                roles: roles.iter().map(|r| r.parse::<Role>().unwrap()).collect(),
            };
            (name.parse().unwrap(), intent)
        })
        .collect()
}

/// A storage and settings variant.
struct Variant {
    name: &'static str,
    settings: Settings,
    secrets: Secrets,
}

fn set(s: &mut Settings, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        s.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
}

fn variants() -> Vec<Variant> {
    let mut fs = Settings::default();
    set(
        &mut fs,
        &[(
            "tempo.metrics_generator.remote_write_url",
            "http://198.18.0.1:9009/api/v1/push",
        )],
    );
    let mut s3 = fs.clone();
    let mut secrets = Secrets::new();
    // Mimir and Tempo share a bucket (distinct prefixes); Loki has its own.
    for (b, bucket) in [("mimir", "lgtm"), ("loki", "lgtm-logs"), ("tempo", "lgtm")] {
        set(
            &mut s3,
            &[
                (&format!("{b}.storage.backend"), "s3"),
                (
                    &format!("{b}.storage.s3.endpoint"),
                    "https://s3.example.net:9000",
                ),
                (&format!("{b}.storage.s3.region"), "eu-west-1"),
                (&format!("{b}.storage.s3.bucket"), bucket),
                (&format!("{b}.storage.s3.access_key_id"), "AKEXAMPLE"),
                (&format!("{b}.storage.s3.path_style"), "true"),
            ],
        );
        secrets.insert(
            format!("{b}.storage.s3.secret_access_key"),
            "sekrit/KEY+1".into(),
        );
    }
    set(
        &mut s3,
        &[
            ("loki.storage.s3.ca_file", "/etc/lgtm/s3-ca.pem"),
            ("tempo.storage.s3.ca_file", "/etc/lgtm/s3-ca.pem"),
            (
                "tempo.receivers",
                "otlp_grpc,otlp_http,jaeger_grpc,jaeger_thrift_http,zipkin",
            ),
        ],
    );
    let mut overlay = s3.clone();
    set(
        &mut overlay,
        &[
            (
                "mimir.overrides",
                "limits:\n  max_global_series_per_user: 300000\n  ingestion_rate: 50000\ningester:\n  ring:\n    final_sleep: 0s\n",
            ),
            (
                "loki.overrides",
                "limits_config:\n  retention_period: 744h\ncompactor:\n  retention_enabled: true\n  delete_request_store: s3\n",
            ),
            (
                "tempo.overrides",
                "compactor:\n  compaction:\n    block_retention: 336h\nserver:\n  log_format: json\n",
            ),
        ],
    );
    vec![
        Variant {
            name: "filesystem",
            settings: fs,
            secrets: Secrets::new(),
        },
        Variant {
            name: "s3",
            settings: s3,
            secrets: secrets.clone(),
        },
        Variant {
            name: "s3+overrides",
            settings: overlay,
            secrets,
        },
    ]
}

fn render_all(
    hosts: &BTreeMap<HostName, HostIntent>,
    v: &Variant,
) -> BTreeMap<HostName, Vec<DesiredProcess>> {
    let cluster = Cluster {
        settings: &v.settings,
        secrets: &v.secrets,
        hosts,
    };
    hosts
        .keys()
        .map(|h| {
            let procs =
                host_processes(cluster, h).unwrap_or_else(|e| panic!("{} on {h}: {e}", v.name));
            (h.clone(), procs)
        })
        .collect()
}

/// Every string leaf with its dotted path.
fn leaves(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((path.to_owned(), s.clone())),
        Value::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| leaves(i, &format!("{path}[]"), out)),
        _ => {}
    }
}

fn within(path: &str, dir: &str) -> bool {
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// Data paths of one host: inside each process's data dir, none shared or nested; only the
/// backend's filesystem object store is shared, by design, between its processes.
fn data_path_problems(host: &HostName, procs: &[DesiredProcess]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in procs.iter().enumerate() {
        for q in &procs[i + 1..] {
            if within(&p.data_dir, &q.data_dir) || within(&q.data_dir, &p.data_dir) {
                out.push(format!("{host}: {} and {} share a data dir", p.id, q.id));
            }
        }
        let value: Value = serde_yaml_ng::from_str(&p.config).unwrap();
        let mut all = Vec::new();
        leaves(&value, "", &mut all);
        // Loki's path_prefix is the process's data dir itself: the root of its defaults.
        let paths: Vec<(String, String)> = all
            .into_iter()
            .filter(|(_, v)| v.starts_with("/var/lib/lgtm"))
            .filter(|(k, _)| k != "common.path_prefix")
            .collect();
        let store = lgtm_model::process::store_dir("/var/lib/lgtm", p.id.backend);
        for (k, v) in &paths {
            let in_store = within(v, &store) && v != &store;
            if !in_store && (!within(v, &p.data_dir) || v == &p.data_dir) {
                out.push(format!(
                    "{host} {}: {k} = {v} is not below {}",
                    p.id, p.data_dir
                ));
            }
        }
        for (i, (k, v)) in paths.iter().enumerate() {
            for (k2, v2) in &paths[i + 1..] {
                if within(v, v2) || within(v2, v) {
                    out.push(format!("{host} {}: {k} = {v} overlaps {k2} = {v2}", p.id));
                }
            }
        }
    }
    out
}

#[test]
fn every_rendered_config_passes_the_upstream_check() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for v in variants() {
        for (name, spec, _) in TOPOLOGIES {
            let hosts = hosts(spec);
            for (host, procs) in render_all(&hosts, &v) {
                for p in &procs {
                    let problems = upstream::check_yaml(p.id.backend, &p.config).unwrap();
                    checked += 1;
                    for problem in problems {
                        failures.push(format!("{name}, {}, {host} {}: {problem}", v.name, p.id));
                    }
                }
                for problem in data_path_problems(&host, &procs) {
                    failures.push(format!("{name}, {}: {problem}", v.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "problems:\n{}", failures.join("\n"));
    assert!(checked >= 150, "only {checked} configs checked");
}

#[test]
fn the_check_catches_a_rendered_typo_and_a_wrong_type() {
    let hosts = hosts(&[("h1", &["mimir:all"])]);
    let v = &variants()[0];
    let p = &render_all(&hosts, v)[&"h1".parse().unwrap()][0];
    let typo = p.config.replace("replication_factor", "replication_factr");
    let mut value: Value = serde_yaml_ng::from_str(&typo).unwrap();
    let problems: Vec<String> = upstream::check(Backend::Mimir, &value)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert!(
        problems.contains(&"ingester.ring.replication_factr".to_owned()),
        "{problems:?}"
    );
    value["server"]["http_listen_port"] = serde_json::json!("http");
    assert!(!upstream::check(Backend::Mimir, &value).is_empty());
}

/// The golden text of a topology: every process of every host, in order.
fn golden_text(hosts: &BTreeMap<HostName, HostIntent>, v: &Variant) -> String {
    let mut out = String::new();
    for (host, procs) in render_all(hosts, v) {
        for p in procs {
            let roles: Vec<String> = p.roles.iter().map(ToString::to_string).collect();
            out.push_str(&format!(
                "# --- host {host}, process {} ({}), data dir {}\n",
                p.id,
                roles.join(", "),
                p.data_dir
            ));
            out.push_str(&p.config);
        }
    }
    out
}

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("LGTM_BLESS").is_some();
    let mut drift = Vec::new();
    for v in variants() {
        for (name, spec, pinned) in TOPOLOGIES {
            if !pinned {
                continue;
            }
            let file = dir.join(format!("{name}.{}.yaml", v.name.replace('+', "-")));
            let text = golden_text(&hosts(spec), &v);
            if bless {
                std::fs::write(&file, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&file) {
                Ok(want) if want == text => {}
                Ok(_) => drift.push(format!("{} differs", file.display())),
                Err(e) => drift.push(format!("{}: {e}", file.display())),
            }
        }
    }
    assert!(
        drift.is_empty(),
        "rendered configs drifted from the golden files; review the change and rerun with LGTM_BLESS=1 to accept it:\n{}",
        drift.join("\n")
    );
}

#[test]
fn metrics_generator_needs_a_remote_write_target() {
    let hosts = hosts(TEMPO_MICROSERVICES);
    let settings = Settings::default();
    let cluster = Cluster {
        settings: &settings,
        secrets: &Secrets::new(),
        hosts: &hosts,
    };
    let e = host_processes(cluster, &"h3".parse().unwrap()).unwrap_err();
    assert!(matches!(e, RenderError::MissingRemoteWrite { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("lgtmctl config set tempo.metrics_generator.remote_write_url"),
        "{e}"
    );
    // Other hosts render, and no distributor forwards to generators.
    let h1 = host_processes(cluster, &"h1".parse().unwrap()).unwrap();
    assert!(
        h1.iter().all(|p| !p.config.contains("processors")),
        "{h1:?}"
    );
    // Inside `all` the generator idles without one: no remote_write, paths under its dir.
    let all = self::hosts(&[("h1", &["tempo:all"])]);
    let cluster = Cluster {
        hosts: &all,
        ..cluster
    };
    let p = &host_processes(cluster, &"h1".parse().unwrap()).unwrap()[0];
    let y: Value = serde_yaml_ng::from_str(&p.config).unwrap();
    assert_eq!(
        y["metrics_generator"]["storage"]["remote_write"],
        Value::Null
    );
    assert_eq!(
        y["metrics_generator"]["storage"]["path"],
        "/var/lib/lgtm/tempo-all/generator-wal"
    );
}

#[test]
fn overlay_errors_at_render_time_name_the_setting() {
    // An overlay stored before lgtm owned a key is refused when rendering, not applied.
    let hosts = hosts(&[("h1", &["mimir:all"])]);
    let mut settings = Settings::default();
    settings
        .backends
        .get_mut(&Backend::Mimir)
        .unwrap()
        .overrides = Some("server:\n  grpc_listen_port: 1\n".into());
    let cluster = Cluster {
        settings: &settings,
        secrets: &Secrets::new(),
        hosts: &hosts,
    };
    let e = host_processes(cluster, &"h1".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("mimir.overrides: 'server.grpc_listen_port' is set by lgtm"),
        "{e}"
    );
}
