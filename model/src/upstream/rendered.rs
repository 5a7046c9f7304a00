//! Every config [`crate::render`] produces uses only keys the upstream binaries know, with
//! values of the right coarse type, across the topologies lgtm deploys.

use std::collections::BTreeMap;

use super::check;
use crate::catalog::Role;
use crate::names::{Backend, HostName};
use crate::render::{Cluster, HostIntent, host_processes};
use crate::settings::{Secrets, Settings};

type Topology = &'static [(&'static str, &'static [&'static str])];

const TOPOLOGIES: &[(&str, Topology)] = &[
    (
        "mimir on 3 hosts, microservices",
        &[
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
                ],
            ),
            (
                "h3",
                &[
                    "mimir:ingester",
                    "mimir:compactor",
                    "mimir:ruler",
                    "mimir:query-scheduler",
                ],
            ),
        ],
    ),
    (
        "mimir without a scheduler",
        &[
            ("h1", &["mimir:write", "mimir:read"]),
            ("h2", &["mimir:backend"]),
        ],
    ),
    (
        "loki read/write/backend",
        &[
            ("h1", &["loki:write"]),
            ("h2", &["loki:read"]),
            ("h3", &["loki:backend"]),
        ],
    ),
    (
        "tempo one role per process",
        &[
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
        ],
    ),
    ("tempo all", &[("h1", &["tempo:all"])]),
    (
        "co-located backends",
        &[(
            "h1",
            &[
                "mimir:all",
                "loki:all",
                "tempo:distributor",
                "tempo:ingester",
                "tempo:querier",
            ],
        )],
    ),
];

fn hosts(topology: Topology) -> BTreeMap<HostName, HostIntent> {
    topology
        .iter()
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

fn s3_settings() -> (Settings, Secrets) {
    let mut settings = Settings::default();
    let mut secrets = Secrets::new();
    for b in Backend::ALL {
        for (k, v) in [
            ("storage.backend", "s3"),
            ("storage.s3.endpoint", "http://198.18.0.1:9000"),
            ("storage.s3.region", "us-east-1"),
            ("storage.s3.bucket", "lgtm"),
            ("storage.s3.access_key_id", "AK"),
            ("storage.s3.path_style", "true"),
        ] {
            settings.set(&format!("{b}.{k}"), v).unwrap();
        }
        secrets.insert(format!("{b}.storage.s3.secret_access_key"), "sekrit".into());
    }
    (settings, secrets)
}

#[test]
fn rendered_configs_use_only_upstream_keys() {
    let (s3, s3_secrets) = s3_settings();
    let storages = [
        ("filesystem", Settings::default(), Secrets::new()),
        ("s3", s3, s3_secrets),
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, topology) in TOPOLOGIES {
        let hosts = hosts(topology);
        for (storage, settings, secrets) in &storages {
            let cluster = Cluster {
                settings,
                secrets,
                hosts: &hosts,
            };
            for host in hosts.keys() {
                for p in host_processes(cluster, host).unwrap() {
                    let problems = super::check_yaml(p.id.backend, &p.config).unwrap();
                    checked += 1;
                    for problem in problems {
                        failures.push(format!("{name}, {storage}, {host} {}: {problem}", p.id));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "rendered keys upstream does not know:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 30, "only {checked} configs checked");
}

#[test]
fn the_check_would_catch_a_rendered_typo() {
    let hosts = hosts(&[("h1", &["mimir:all"])]);
    let settings = Settings::default();
    let cluster = Cluster {
        settings: &settings,
        secrets: &Secrets::new(),
        hosts: &hosts,
    };
    let p = &host_processes(cluster, &"h1".parse().unwrap()).unwrap()[0];
    let typo = p.config.replace("replication_factor", "replication_factr");
    let mut value: serde_json::Value = serde_yaml_ng::from_str(&typo).unwrap();
    let problems: Vec<String> = check(Backend::Mimir, &value)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert!(
        problems.contains(&"ingester.ring.replication_factr".to_owned()),
        "{problems:?}"
    );
    value["server"]["http_listen_port"] = serde_json::json!("http");
    assert!(!check(Backend::Mimir, &value).is_empty());
}
