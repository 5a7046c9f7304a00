//! Rendering tests: shapes of rendered configs for small clusters.
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
    let level = "memberlist:\n  join_members: [a:1]\n  bind_port: 1\nserver: {log_level: debug}\n";
    assert!(!needs_restart(a, a));
    assert!(!needs_restart(a, seeds));
    assert!(needs_restart(a, level));
    assert!(needs_restart("{not yaml", a));
}

#[test]
fn restart_as_text_agrees_with_the_configs_read() {
    // Every process of two clusters, its config's seeds or another key changed, then written
    // as rendering writes: the text comparison says what comparing the values says.
    let settings = Settings::default();
    let clusters = [
        lab(&[("h1", &["mimir:all", "loki:all", "tempo:all"])]),
        lab(&[
            ("h1", &["mimir:distributor", "loki:write", "tempo:ingester"]),
            ("h2", &["mimir:ingester", "loki:read", "tempo:querier"]),
            (
                "h3",
                &["mimir:querier", "loki:backend", "tempo:distributor"],
            ),
        ]),
    ];
    for (cluster, hosts) in clusters.iter().enumerate() {
        for host in hosts.keys() {
            for p in render(hosts, &settings, host.as_str()) {
                let v: Value = serde_yaml_ng::from_str(&p.config).expect("rendered YAML");
                let write = |v: &Value| serde_yaml_ng::to_string(v).expect("YAML");
                let mut seeds = v.clone();
                seeds["memberlist"]["join_members"] = json!(["198.18.9.9:7946"]);
                let mut level = v.clone();
                level["server"]["log_level"] = json!("debug");
                let mut extra = v.clone();
                extra["memberlist"]["abort_if_cluster_join_fails"] = json!(true);
                let case = format!("cluster {cluster}, {host}, {}", p.id);
                assert!(!needs_restart(&p.config, &write(&v)), "{case}");
                assert!(!needs_restart(&p.config, &write(&seeds)), "{case}");
                assert!(needs_restart(&p.config, &write(&level)), "{case}");
                assert!(needs_restart(&p.config, &write(&extra)), "{case}");
            }
        }
    }
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

#[test]
fn components_are_wired_to_each_other() {
    let hosts = lab(&[
        ("h1", &["mimir:all", "mimir:alertmanager", "loki:write"]),
        ("h2", &["mimir:all", "loki:read"]),
        ("h3", &["mimir:all", "loki:backend"]),
    ]);
    let settings = Settings::default();
    let h3 = render(&hosts, &settings, "h3");
    let mimir = yaml(&h3[0]);
    assert_eq!(
        mimir["ruler"]["alertmanager_url"],
        "http://198.18.0.2:8080/alertmanager"
    );
    assert_eq!(mimir["query_scheduler"]["service_discovery_mode"], "ring");
    assert_eq!(mimir["frontend"]["address"], "198.18.0.4");
    assert_eq!(
        mimir["store_gateway"]["sharding_ring"]["instance_addr"],
        "198.18.0.4"
    );
    assert!(
        mimir.get("frontend_worker").is_none(),
        "the scheduler ring replaces it"
    );
    let loki = yaml(&h3[1]);
    // The compactor runs in `backend` on h3; index gateways in ring mode, replicated as
    // far as there are gateways; schedulers by ring.
    assert_eq!(
        loki["common"]["compactor_address"],
        "http://198.18.0.4:3103"
    );
    assert_eq!(loki["index_gateway"]["mode"], "ring");
    assert_eq!(loki["index_gateway"]["ring"]["replication_factor"], 1);
    assert_eq!(loki["query_scheduler"]["use_scheduler_ring"], true);
    assert_eq!(loki["common"]["ring"]["kvstore"]["store"], "memberlist");
    assert_eq!(loki["schema_config"]["configs"][0]["schema"], "v13");
    assert_eq!(
        loki["compactor"]["working_directory"],
        "/var/lib/lgtm/loki-backend/compactor"
    );
    let h1 = render(&hosts, &settings, "h1");
    assert!(yaml(&h1[0])["alertmanager"]["external_url"] == "http://198.18.0.2:8080/alertmanager");
}

#[test]
fn tempo_receivers_are_opt_in_beyond_otlp() {
    let hosts = lab(&[(
        "h1",
        &["tempo:distributor", "tempo:querier", "tempo:query-frontend"],
    )]);
    let mut settings = Settings::default();
    let receivers = |settings: &Settings| {
        yaml(&render(&hosts, settings, "h1")[0])["distributor"]["receivers"].clone()
    };
    assert_eq!(
        receivers(&settings),
        json!({"otlp": {"protocols": {
            "grpc": {"endpoint": "0.0.0.0:4317"},
            "http": {"endpoint": "0.0.0.0:4318"},
        }}})
    );
    settings
        .set("tempo.receivers", "jaeger_thrift_http,zipkin")
        .unwrap();
    assert_eq!(
        receivers(&settings),
        json!({
            "jaeger": {"protocols": {"thrift_http": {"endpoint": "0.0.0.0:14268"}}},
            "zipkin": {"endpoint": "0.0.0.0:9411"},
        })
    );
    let querier = yaml(&render(&hosts, &settings, "h1")[1]);
    assert_eq!(
        querier["querier"]["frontend_worker"]["frontend_address"],
        "198.18.0.2:9200"
    );
}

#[test]
fn a_tempo_querier_waits_for_a_frontend_and_queriers_take_frontends_in_turn() {
    let settings = Settings::default();
    let alone = lab(&[("h1", &["tempo:querier", "tempo:ingester"])]);
    let units: Vec<String> = render(&alone, &settings, "h1")
        .iter()
        .map(|p| p.id.unit_name())
        .collect();
    assert_eq!(
        units,
        ["lgtm-tempo-ingester.service"],
        "the querier is held back"
    );
    let cluster = lab(&[
        ("h1", &["tempo:query-frontend", "tempo:querier"]),
        ("h2", &["tempo:query-frontend", "tempo:querier"]),
        ("h3", &["tempo:querier"]),
    ]);
    let frontend_of = |host: &str| {
        let procs = render(&cluster, &settings, host);
        let q = procs
            .iter()
            .find(|p| p.id.unit_name() == "lgtm-tempo-querier.service")
            .unwrap();
        yaml(q)["querier"]["frontend_worker"]["frontend_address"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(frontend_of("h1"), "198.18.0.2:9200");
    assert_eq!(frontend_of("h2"), "198.18.0.3:9200");
    assert_eq!(frontend_of("h3"), "198.18.0.2:9200");
    // The single binary pulls from its own frontend.
    let all = lab(&[("h1", &["tempo:all"]), ("h2", &["tempo:query-frontend"])]);
    let ssb = render(&all, &settings, "h1");
    assert_eq!(
        yaml(&ssb[0])["querier"]["frontend_worker"]["frontend_address"],
        "198.18.0.2:9206"
    );
}

#[test]
fn the_index_gateway_ring_is_replicated_as_far_as_there_are_gateways() {
    let settings = Settings::default();
    for (n, factor) in [(1, 1), (2, 2), (3, 3), (4, 3)] {
        let spec: Vec<(String, Vec<&str>)> = (1..=n)
            .map(|i| (format!("h{i}"), vec!["loki:backend", "loki:write"]))
            .collect();
        let spec: Vec<(&str, &[&str])> = spec
            .iter()
            .map(|(h, r)| (h.as_str(), r.as_slice()))
            .collect();
        let cluster = lab(&spec);
        let procs = render(&cluster, &settings, "h1");
        for p in &procs {
            assert_eq!(
                yaml(p)["index_gateway"]["ring"]["replication_factor"],
                factor,
                "{n} gateways, {}",
                p.id
            );
        }
    }
}

#[test]
fn a_replication_factor_moves_only_when_a_ring_both_configure_changes_it() {
    let rf =
        |n: u32| format!("ingester:\n  lifecycler:\n    ring:\n      replication_factor: {n}\n");
    assert!(replication_moves(&rf(1), &rf(3)));
    assert!(!replication_moves(&rf(3), &rf(3)));
    let logging = |level: &str| format!("server:\n  log_level: {level}\n{}", rf(3));
    assert!(!replication_moves(&logging("info"), &logging("warn")));
    let with_index_gateway = format!(
        "{}index_gateway:\n  ring:\n    replication_factor: 1\n",
        rf(3)
    );
    assert!(
        !replication_moves(&rf(3), &with_index_gateway),
        "a ring appearing is no move"
    );
    assert!(replication_moves(&with_index_gateway, &rf(1)));
}
