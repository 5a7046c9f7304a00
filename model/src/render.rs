//! Rendering: cluster intent + membership -> one host's backend processes and their configs.
//!
//! Pure and deterministic (sorted maps, sorted peers), so an unchanged cluster renders
//! byte-identical configs and agents restart nothing. Every key rendered here must exist in
//! the upstream configuration reference of the backend generation in the catalog.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::catalog::Role;
use crate::consistency::replication_factor;
use crate::names::{Backend, HostName};
use crate::process::{ProcessId, processes};
use crate::settings::{BackendSettings, Secrets, Settings, StorageKind};
use crate::topology::{BackendTopology, Topology};
use crate::wire::DesiredProcess;

/// What the coordinator knows about one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostIntent {
    /// Address, once the agent registered.
    pub address: Option<IpAddr>,
    /// Data root, once the agent registered.
    pub data_root: Option<String>,
    /// Assigned roles.
    pub roles: Vec<Role>,
}

/// Everything rendering reads.
#[derive(Clone, Copy, Debug)]
pub struct Cluster<'a> {
    /// Settings.
    pub settings: &'a Settings,
    /// Secret values.
    pub secrets: &'a Secrets,
    /// Every host.
    pub hosts: &'a BTreeMap<HostName, HostIntent>,
}

/// Why a host's desired state cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("host {0} is not known to the coordinator; assign it a role or start its agent")]
    UnknownHost(HostName),
    #[error("host {0} has not registered yet; start lgtm-agent on it")]
    NotRegistered(HostName),
    #[error(
        "{backend} storage is s3 but {key} is not set; set it with `lgtmctl config set {key} ...`"
    )]
    MissingSetting { backend: Backend, key: String },
}

/// Renders the processes `host` should run. Computes the cluster's [`Topology`]: to render
/// many hosts, compute it once and call [`render_host`].
pub fn host_processes(
    cluster: Cluster<'_>,
    host: &HostName,
) -> Result<Vec<DesiredProcess>, RenderError> {
    render_host(cluster, &Topology::of(cluster.hosts), host)
}

/// Renders the processes `host` should run, given the cluster's topology.
pub fn render_host(
    cluster: Cluster<'_>,
    topology: &Topology,
    host: &HostName,
) -> Result<Vec<DesiredProcess>, RenderError> {
    let intent = cluster
        .hosts
        .get(host)
        .ok_or_else(|| RenderError::UnknownHost(host.clone()))?;
    if intent.roles.is_empty() {
        return Ok(Vec::new());
    }
    let (Some(address), Some(data_root)) = (intent.address, intent.data_root.as_deref()) else {
        return Err(RenderError::NotRegistered(host.clone()));
    };
    processes(&intent.roles)
        .into_iter()
        .map(|(id, roles)| {
            let data_dir = format!("{}/{}", data_root.trim_end_matches('/'), id.instance());
            let topology = topology.backend(id.backend);
            let ctx = Ctx {
                cluster,
                topology,
                host,
                address,
                id,
                roles: &roles,
                data_dir: &data_dir,
            };
            let config = match id.backend {
                Backend::Mimir => mimir(&ctx)?,
                Backend::Loki => loki(&ctx)?,
                Backend::Tempo => tempo(&ctx)?,
            };
            let config =
                serde_yaml_ng::to_string(&config).expect("a JSON value always serializes to YAML");
            Ok(DesiredProcess {
                id,
                roles,
                ports: id.ports(),
                config,
                data_dir,
            })
        })
        .collect()
}

/// Whether a process running `old` must restart to run `new`.
///
/// Only `memberlist.join_members` may change without a restart: it is read when a process
/// starts (and on rejoin), and gossip already knows the members. So a host joining or
/// leaving a backend rewrites its peers' configs without restarting them. Anything that
/// does not parse as YAML restarts, to be safe.
pub fn needs_restart(old: &str, new: &str) -> bool {
    fn without_seeds(text: &str) -> Option<Value> {
        let mut v: Value = serde_yaml_ng::from_str(text).ok()?;
        if let Some(m) = v.get_mut("memberlist").and_then(Value::as_object_mut) {
            m.remove("join_members");
        }
        Some(v)
    }
    match (without_seeds(old), without_seeds(new)) {
        (Some(a), Some(b)) => a != b,
        _ => old != new,
    }
}

struct Ctx<'a> {
    cluster: Cluster<'a>,
    topology: &'a BackendTopology,
    host: &'a HostName,
    address: IpAddr,
    id: ProcessId,
    roles: &'a [Role],
    data_dir: &'a str,
}

impl Ctx<'_> {
    fn settings(&self) -> BackendSettings {
        self.cluster.settings.backend(self.id.backend)
    }

    /// Distinct per backend cluster: backends on the same hosts must never merge rings.
    fn cluster_label(&self) -> String {
        format!("{}-{}", self.cluster.settings.cluster_name, self.id.backend)
    }

    fn memberlist(&self) -> Value {
        let ports = self.id.ports();
        json!({
            "cluster_label": self.cluster_label(),
            "bind_port": ports.memberlist,
            "advertise_addr": self.address.to_string(),
            "advertise_port": ports.memberlist,
            "join_members": self.topology.seeds,
            "rejoin_interval": "1m",
        })
    }

    fn server(&self) -> Value {
        let ports = self.id.ports();
        json!({
            "http_listen_port": ports.http,
            "grpc_listen_port": ports.grpc,
            "log_level": self.settings().log_level.as_str(),
        })
    }

    /// Replication factor of a replicated target of this backend.
    fn replication(&self, target: &str) -> u8 {
        self.topology
            .replication
            .get(target)
            .copied()
            .unwrap_or(replication_factor(0))
    }

    fn runs(&self, target: &str) -> bool {
        self.roles
            .iter()
            .flat_map(|r| r.expand())
            .any(|t| t.name() == target)
    }

    fn deployed(&self, target: &str) -> bool {
        self.topology.replication.contains_key(target)
    }

    fn s3(&self) -> Result<S3, RenderError> {
        let s = self.settings().s3;
        let missing = |k: &str| RenderError::MissingSetting {
            backend: self.id.backend,
            key: format!("{}.storage.s3.{k}", self.id.backend),
        };
        let endpoint = s.endpoint.ok_or_else(|| missing("endpoint"))?;
        // Upstream clients take host:port; the scheme only decides TLS.
        let insecure = s.insecure || endpoint.starts_with("http://");
        let endpoint = endpoint
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_owned();
        let secret_key = format!("{}.storage.s3.secret_access_key", self.id.backend);
        Ok(S3 {
            endpoint,
            region: s.region.unwrap_or_default(),
            bucket: s.bucket.ok_or_else(|| missing("bucket"))?,
            access_key_id: s.access_key_id.ok_or_else(|| missing("access_key_id"))?,
            secret_access_key: self
                .cluster
                .secrets
                .get(&secret_key)
                .cloned()
                .ok_or_else(|| missing("secret_access_key"))?,
            insecure,
            path_style: s.path_style,
        })
    }
}

struct S3 {
    endpoint: String,
    region: String,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
    insecure: bool,
    path_style: bool,
}

/// `addr:port`, with brackets for IPv6.
pub(crate) fn socket(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn mimir(c: &Ctx<'_>) -> Result<Value, RenderError> {
    let d = c.data_dir;
    let fs = c.settings().storage == StorageKind::Filesystem;
    let mut cfg = json!({
        "multitenancy_enabled": false,
        "server": c.server(),
        "memberlist": c.memberlist(),
        "ingester": { "ring": {
            "replication_factor": c.replication("ingester"),
            "instance_addr": c.address.to_string(),
            "instance_id": c.host.as_str(),
        }},
        "store_gateway": { "sharding_ring": { "replication_factor": c.replication("store-gateway") } },
        "alertmanager": {
            "data_dir": format!("{d}/alertmanager"),
            "sharding_ring": { "replication_factor": c.replication("alertmanager") },
        },
        "blocks_storage": {
            "tsdb": { "dir": format!("{d}/tsdb") },
            "bucket_store": { "sync_dir": format!("{d}/tsdb-sync") },
        },
        "compactor": { "data_dir": format!("{d}/compactor") },
        "ruler": { "rule_path": format!("{d}/ruler") },
        "activity_tracker": { "filepath": format!("{d}/metrics-activity.log") },
        "usage_stats": { "enabled": false },
    });
    // Without a scheduler, queriers must be told where the frontends are.
    if c.deployed("query-scheduler") {
        cfg["query_scheduler"] = json!({ "service_discovery_mode": "ring" });
    } else if let Some(frontend) = c.topology.frontend_grpc.clone() {
        cfg["frontend_worker"] = json!({ "frontend_address": frontend });
    }
    if fs {
        cfg["common"] = json!({ "storage": { "backend": "filesystem" } });
        cfg["blocks_storage"]["filesystem"] = json!({ "dir": format!("{d}/blocks") });
        cfg["ruler_storage"] = json!({ "filesystem": { "dir": format!("{d}/rules") } });
        cfg["alertmanager_storage"] =
            json!({ "filesystem": { "dir": format!("{d}/alertmanager-state") } });
    } else {
        let s = c.s3()?;
        cfg["common"] = json!({ "storage": { "backend": "s3", "s3": {
            "endpoint": s.endpoint,
            "region": s.region,
            "bucket_name": s.bucket,
            "access_key_id": s.access_key_id,
            "secret_access_key": s.secret_access_key,
            // Mimir's client picks path-style for non-AWS endpoints by itself.
            "insecure": s.insecure,
        }}});
        // One bucket, one prefix per purpose: Mimir refuses shared locations.
        cfg["blocks_storage"]["storage_prefix"] = json!("blocks");
        cfg["ruler_storage"] = json!({ "storage_prefix": "ruler" });
        cfg["alertmanager_storage"] = json!({ "storage_prefix": "alertmanager" });
    }
    Ok(cfg)
}

fn loki(c: &Ctx<'_>) -> Result<Value, RenderError> {
    let d = c.data_dir;
    let fs = c.settings().storage == StorageKind::Filesystem;
    let storage = if fs {
        json!({ "filesystem": { "chunks_directory": format!("{d}/chunks"), "rules_directory": format!("{d}/rules") } })
    } else {
        let s = c.s3()?;
        json!({ "s3": {
            "endpoint": s.endpoint,
            "region": s.region,
            "bucketnames": s.bucket,
            "access_key_id": s.access_key_id,
            "secret_access_key": s.secret_access_key,
            "insecure": s.insecure,
            "s3forcepathstyle": s.path_style,
        }})
    };
    Ok(json!({
        "auth_enabled": false,
        "server": c.server(),
        "memberlist": c.memberlist(),
        "common": {
            "path_prefix": d,
            "replication_factor": c.replication("ingester"),
            "instance_addr": c.address.to_string(),
            // Setting instance_addr makes Loki apply common.ring everywhere, whose store
            // defaults to consul: name memberlist explicitly.
            "ring": { "kvstore": { "store": "memberlist" } },
            "storage": storage,
        },
        "schema_config": { "configs": [{
            "from": "2024-04-01",
            "store": "tsdb",
            "object_store": if fs { "filesystem" } else { "s3" },
            "schema": "v13",
            "index": { "prefix": "index_", "period": "24h" },
        }]},
        "analytics": { "reporting_enabled": false },
    }))
}

fn tempo(c: &Ctx<'_>) -> Result<Value, RenderError> {
    let d = c.data_dir;
    let fs = c.settings().storage == StorageKind::Filesystem;
    let mut cfg = json!({
        "server": c.server(),
        "memberlist": c.memberlist(),
        "ingester": { "lifecycler": { "ring": { "replication_factor": c.replication("ingester") } } },
        "usage_report": { "reporting_enabled": false },
    });
    cfg["storage"] = if fs {
        json!({ "trace": { "backend": "local", "local": { "path": format!("{d}/blocks") }, "wal": { "path": format!("{d}/wal") } } })
    } else {
        let s = c.s3()?;
        json!({ "trace": { "backend": "s3", "wal": { "path": format!("{d}/wal") }, "s3": {
            "endpoint": s.endpoint,
            "region": s.region,
            "bucket": s.bucket,
            "access_key": s.access_key_id,
            "secret_key": s.secret_access_key,
            "insecure": s.insecure,
            "forcepathstyle": s.path_style,
        }}})
    };
    if c.runs("distributor") {
        cfg["distributor"] = json!({ "receivers": { "otlp": { "protocols": {
            "grpc": { "endpoint": "0.0.0.0:4317" },
            "http": { "endpoint": "0.0.0.0:4318" },
        }}}});
    }
    if c.runs("querier")
        && !c.runs("query-frontend")
        && let Some(frontend) = c.topology.frontend_grpc.clone()
    {
        cfg["querier"] = json!({ "frontend_worker": { "frontend_address": frontend } });
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Role {
        s.parse().unwrap()
    }

    fn lab(hosts: &[(&str, &[&str])]) -> BTreeMap<HostName, HostIntent> {
        hosts
            .iter()
            .enumerate()
            .map(|(i, (n, roles))| {
                let intent = HostIntent {
                    address: Some(format!("198.18.0.{}", i + 2).parse().unwrap()),
                    data_root: Some("/var/lib/lgtm".into()),
                    roles: roles.iter().map(|s| r(s)).collect(),
                };
                (n.parse().unwrap(), intent)
            })
            .collect()
    }

    fn render(
        hosts: &BTreeMap<HostName, HostIntent>,
        settings: &Settings,
        host: &str,
    ) -> Vec<DesiredProcess> {
        let cluster = Cluster {
            settings,
            secrets: &Secrets::new(),
            hosts,
        };
        host_processes(cluster, &host.parse().unwrap()).unwrap()
    }

    fn yaml(p: &DesiredProcess) -> serde_json::Value {
        serde_yaml_ng::from_str(&p.config).unwrap()
    }

    #[test]
    fn mimir_three_hosts() {
        let hosts = lab(&[
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
                &["mimir:ingester", "mimir:querier", "mimir:store-gateway"],
            ),
            ("h3", &["mimir:ingester", "mimir:compactor", "mimir:ruler"]),
        ]);
        let procs = render(&hosts, &Settings::default(), "h2");
        assert_eq!(procs.len(), 1);
        let p = &procs[0];
        assert_eq!(p.id.unit_name(), "lgtm-mimir.service");
        assert_eq!(p.data_dir, "/var/lib/lgtm/mimir");
        let y = yaml(p);
        assert_eq!(
            y["memberlist"]["join_members"],
            json!(["198.18.0.2:7946", "198.18.0.3:7946", "198.18.0.4:7946"])
        );
        assert_eq!(y["memberlist"]["cluster_label"], "lgtm-mimir");
        assert_eq!(y["memberlist"]["advertise_addr"], "198.18.0.3");
        assert_eq!(y["ingester"]["ring"]["replication_factor"], 3);
        assert_eq!(y["store_gateway"]["sharding_ring"]["replication_factor"], 1);
        assert_eq!(y["frontend_worker"]["frontend_address"], "198.18.0.2:9095");
        assert_eq!(
            y["blocks_storage"]["tsdb"]["dir"],
            "/var/lib/lgtm/mimir/tsdb"
        );
        // Deterministic: rendering twice gives identical bytes.
        assert_eq!(render(&hosts, &Settings::default(), "h2"), procs);
    }

    #[test]
    fn seeds_are_bounded_and_new_hosts_leave_configs_alone() {
        let names: Vec<String> = (1..=7).map(|i| format!("h{i}")).collect();
        let spec: Vec<(&str, &[&str])> = names
            .iter()
            .map(|n| (n.as_str(), &["mimir:all"][..]))
            .collect();
        let hosts = lab(&spec);
        let settings = Settings::default();
        let before = render(&hosts, &settings, "h2");
        let y = yaml(&before[0]);
        let seeds = y["memberlist"]["join_members"].as_array().unwrap().len();
        assert_eq!(seeds, crate::topology::MEMBERLIST_SEEDS, "{y:?}");
        assert_eq!(y["memberlist"]["rejoin_interval"], "1m");
        // An eighth host, named after the seeds: the topology and h2's config stay the same.
        let mut more = hosts.clone();
        more.insert(
            "h8".parse().unwrap(),
            HostIntent {
                address: Some("198.18.0.9".parse().unwrap()),
                data_root: Some("/var/lib/lgtm".into()),
                roles: vec![r("mimir:all")],
            },
        );
        assert_eq!(Topology::of(&more), Topology::of(&hosts));
        assert_eq!(render(&more, &settings, "h2"), before);
        // A host named before the seeds enters the seed set: that does change configs.
        let mut first = hosts.clone();
        first.insert(
            "a0".parse().unwrap(),
            HostIntent {
                roles: vec![r("mimir:all")],
                ..more[&"h8".parse().unwrap()].clone()
            },
        );
        assert_ne!(Topology::of(&first), Topology::of(&hosts));
    }

    #[test]
    fn only_seed_changes_skip_the_restart() {
        let a = "memberlist:\n  join_members: [a:1]\n  bind_port: 1\nserver: {log_level: info}\n";
        let seeds =
            "memberlist:\n  join_members: [a:1, b:1]\n  bind_port: 1\nserver: {log_level: info}\n";
        let level =
            "memberlist:\n  join_members: [a:1]\n  bind_port: 1\nserver: {log_level: debug}\n";
        assert!(!needs_restart(a, a));
        assert!(!needs_restart(a, seeds));
        assert!(needs_restart(a, level));
        assert!(needs_restart("{not yaml", a));
    }

    #[test]
    fn colocated_backends_get_distinct_ports_and_labels() {
        let hosts = lab(&[(
            "h1",
            &[
                "mimir:all",
                "loki:all",
                "tempo:distributor",
                "tempo:ingester",
            ],
        )]);
        let procs = render(&hosts, &Settings::default(), "h1");
        let units: Vec<_> = procs.iter().map(|p| p.id.unit_name()).collect();
        assert_eq!(
            units,
            [
                "lgtm-mimir.service",
                "lgtm-loki.service",
                "lgtm-tempo-distributor.service",
                "lgtm-tempo-ingester.service"
            ]
        );
        let mut labels = std::collections::BTreeSet::new();
        let mut ports = std::collections::BTreeSet::new();
        for p in &procs {
            let y = yaml(p);
            labels.insert(
                y["memberlist"]["cluster_label"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            for port in [p.ports.http, p.ports.grpc, p.ports.memberlist] {
                assert!(ports.insert(port), "{}: port {port} clashes", p.id);
            }
            assert_eq!(y["server"]["http_listen_port"], p.ports.http);
        }
        assert_eq!(
            labels.len(),
            3,
            "one memberlist cluster label per backend: {labels:?}"
        );
        let tempo_dist = yaml(&procs[2]);
        assert_eq!(
            tempo_dist["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
            "0.0.0.0:4317"
        );
        assert!(
            yaml(&procs[3]).get("distributor").is_none(),
            "only distributors open receivers"
        );
        assert_eq!(
            tempo_dist["memberlist"]["join_members"],
            json!(["198.18.0.2:7951", "198.18.0.2:7952"])
        );
    }

    #[test]
    fn s3_needs_every_setting_and_its_secret() {
        let hosts = lab(&[("h1", &["loki:all"])]);
        let mut settings = Settings::default();
        settings.set("loki.storage.backend", "s3").unwrap();
        let cluster = Cluster {
            settings: &settings,
            secrets: &Secrets::new(),
            hosts: &hosts,
        };
        let e = host_processes(cluster, &"h1".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("loki.storage.s3.endpoint") && e.contains("lgtmctl config set"),
            "{e}"
        );
        for (k, v) in [
            ("endpoint", "http://198.18.0.1:9000"),
            ("bucket", "logs"),
            ("access_key_id", "AK"),
        ] {
            settings.set(&format!("loki.storage.s3.{k}"), v).unwrap();
        }
        let secrets = Secrets::from([(
            "loki.storage.s3.secret_access_key".to_owned(),
            "sekrit".to_owned(),
        )]);
        let cluster = Cluster {
            settings: &settings,
            secrets: &secrets,
            hosts: &hosts,
        };
        let procs = host_processes(cluster, &"h1".parse().unwrap()).unwrap();
        let y = yaml(&procs[0]);
        assert_eq!(y["common"]["storage"]["s3"]["endpoint"], "198.18.0.1:9000");
        assert_eq!(y["common"]["storage"]["s3"]["insecure"], true);
        assert_eq!(y["common"]["storage"]["s3"]["secret_access_key"], "sekrit");
        assert_eq!(y["schema_config"]["configs"][0]["object_store"], "s3");
    }

    #[test]
    fn unregistered_and_idle_hosts() {
        let mut hosts = lab(&[("h1", &["mimir:all"])]);
        hosts.insert(
            "h9".parse().unwrap(),
            HostIntent {
                roles: vec![r("mimir:querier")],
                ..Default::default()
            },
        );
        hosts.insert("h8".parse().unwrap(), HostIntent::default());
        let settings = Settings::default();
        let cluster = Cluster {
            settings: &settings,
            secrets: &Secrets::new(),
            hosts: &hosts,
        };
        assert_eq!(host_processes(cluster, &"h8".parse().unwrap()), Ok(vec![]));
        assert!(matches!(
            host_processes(cluster, &"h9".parse().unwrap()),
            Err(RenderError::NotRegistered(_))
        ));
        assert!(matches!(
            host_processes(cluster, &"h7".parse().unwrap()),
            Err(RenderError::UnknownHost(_))
        ));
        // Unregistered peers are left out of join_members until they register.
        let y = yaml(&host_processes(cluster, &"h1".parse().unwrap()).unwrap()[0]);
        assert_eq!(y["memberlist"]["join_members"], json!(["198.18.0.2:7946"]));
    }
}
