//! Gateway rendering: golden files (`model/tests/golden/`, re-bless with `LGTM_BLESS=1`),
//! the port plan, readiness and refusal of unvalidated text.

use super::*;
use crate::catalog::catalog;

fn h(s: &str) -> HostName {
    s.parse().unwrap()
}

fn hosts(spec: &[(&str, &str, &[&str])]) -> BTreeMap<HostName, HostIntent> {
    spec.iter()
        .map(|(name, addr, roles)| {
            let intent = HostIntent {
                address: Some(addr.parse().unwrap()),
                data_root: Some("/var/lib/lgtm".into()),
                roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
            };
            (h(name), intent)
        })
        .collect()
}

/// Every process of every host ready, except those listed as `(host, unit)`.
fn ready_except(hosts: &BTreeMap<HostName, HostIntent>, down: &[(&str, &str)]) -> ReadyProcesses {
    hosts
        .iter()
        .map(|(name, i)| {
            let procs = crate::process::processes(&i.roles)
                .into_keys()
                .filter(|p| !down.contains(&(name.as_str(), p.unit_name().as_str())))
                .collect();
            (name.clone(), procs)
        })
        .collect()
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("LGTM_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run with LGTM_BLESS=1 to create it"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn lab() -> BTreeMap<HostName, HostIntent> {
    hosts(&[
        (
            "gw1",
            "198.18.0.2",
            &["mimir:gateway", "loki:gateway", "tempo:gateway"],
        ),
        (
            "h2",
            "198.18.0.3",
            &["mimir:distributor", "tempo:distributor"],
        ),
        ("h3", "198.18.0.4", &["mimir:write", "loki:write"]),
        ("h4", "198.18.0.5", &["mimir:read", "tempo:all"]),
        (
            "h5",
            "198.18.0.6",
            &["mimir:backend", "loki:read", "loki:backend"],
        ),
    ])
}

#[test]
fn golden_every_backend() {
    let hosts = lab();
    let settings = Settings::default();
    // h5's Loki read process is not ready: Loki's read path answers 503, its backend
    // process (the ruler) still serves.
    let ready = ready_except(&hosts, &[("h5", "lgtm-loki-read.service")]);
    let input = GatewayInput {
        settings: &settings,
        hosts: &hosts,
        ready: &ready,
        retiring: &BTreeMap::new(),
    };
    let gw = render(input, &h("gw1")).unwrap();
    assert_eq!(gw.backends, Backend::ALL.to_vec());
    golden("gateway-all.conf", &gw.config);
}

#[test]
fn golden_mimir_only_with_a_tenant() {
    let hosts = hosts(&[
        ("gw1", "198.18.0.2", &["mimir:gateway"]),
        ("d1", "198.18.0.3", &["mimir:distributor"]),
        (
            "d2",
            "198.18.0.4",
            &["mimir:distributor", "mimir:query-frontend"],
        ),
    ]);
    let mut settings = Settings::default();
    settings.set("gateway.tenant", "team-a").unwrap();
    let ready = ready_except(&hosts, &[]);
    let input = GatewayInput {
        settings: &settings,
        hosts: &hosts,
        ready: &ready,
        retiring: &BTreeMap::new(),
    };
    golden(
        "gateway-mimir.conf",
        &render(input, &h("gw1")).unwrap().config,
    );
}

#[test]
fn upstreams_follow_readiness() {
    let hosts = lab();
    let settings = Settings::default();
    let conf = |ready: &ReadyProcesses| {
        let input = GatewayInput {
            settings: &settings,
            hosts: &hosts,
            ready,
            retiring: &BTreeMap::new(),
        };
        render(input, &h("gw1")).unwrap().config
    };
    let all = conf(&ready_except(&hosts, &[]));
    assert!(all.contains("upstream mimir_distributor {\n        server 198.18.0.3:8080"));
    assert!(all.contains("server 198.18.0.4:8080"));
    // tempo:all on h4 runs a distributor too, on its own HTTP port; receivers are fixed.
    assert!(all.contains("upstream tempo_distributor_otlp_grpc {\n        server 198.18.0.3:4317 max_fails=1 fail_timeout=5s;\n        server 198.18.0.5:4317"));
    assert!(all.contains("upstream tempo_query_frontend {\n        server 198.18.0.5:3206"));
    assert!(!all.contains("return 503"), "{all}");

    let one_down = conf(&ready_except(&hosts, &[("h2", "lgtm-mimir.service")]));
    let upstream = &one_down[one_down.find("upstream mimir_distributor").unwrap()..];
    let upstream = &upstream[..upstream.find('}').unwrap()];
    assert!(!upstream.contains("198.18.0.3") && upstream.contains("198.18.0.4:8080"));

    // Nothing reported ready: every route answers 503 naming its role, no upstream at all.
    let none = conf(&ReadyProcesses::new());
    assert!(!none.contains("\n    upstream "), "{none}");
    assert!(none.contains(
        "location /api/v1/push {\n            default_type application/json;\n            return 503 '{\"error\":\"no ready host runs mimir:distributor; assign it to a host or wait until it is ready\",\"role\":\"mimir:distributor\"}\\n';"
    ));
    assert!(none.contains("\"role\":\"loki:query-frontend\""));
    assert!(none.contains("\"role\":\"tempo:distributor\""));
}

#[test]
fn hosts_without_a_gateway_role_render_none() {
    let hosts = lab();
    let settings = Settings::default();
    let ready = ready_except(&hosts, &[]);
    let input = GatewayInput {
        settings: &settings,
        hosts: &hosts,
        ready: &ready,
        retiring: &BTreeMap::new(),
    };
    assert_eq!(render(input, &h("h2")), None);
    assert_eq!(render(input, &h("nope")), None);
}

#[test]
fn a_hostile_tenant_never_reaches_the_file() {
    let hosts = lab();
    // Only reachable by building Settings by hand: `set` refuses it.
    let settings = Settings {
        gateway_tenant: "x'; } server { listen 1; #".into(),
        ..Settings::default()
    };
    let ready = ready_except(&hosts, &[]);
    let input = GatewayInput {
        settings: &settings,
        hosts: &hosts,
        ready: &ready,
        retiring: &BTreeMap::new(),
    };
    let conf = render(input, &h("gw1")).unwrap().config;
    assert!(!conf.contains("listen 1;") && conf.contains("'' anonymous;"));
}

#[test]
fn gateway_ports_never_clash_with_backend_processes() {
    let mut seen = BTreeSet::new();
    for p in ProcessId::all() {
        let ports = p.ports();
        seen.extend([ports.http, ports.grpc, ports.memberlist]);
    }
    // Receivers of a Tempo distributor that may share the gateway's host.
    seen.extend([OTLP_GRPC, OTLP_HTTP]);
    for port in ports() {
        assert!(seen.insert(port), "gateway port {port} is planned twice");
    }
    assert_eq!(ports().len(), 6);
}

#[test]
fn every_route_names_a_target_of_its_backend() {
    for backend in Backend::ALL {
        for l in listeners(backend) {
            for route in l.routes {
                let role = catalog(backend).role(route.target).unwrap();
                assert!(!role.is_meta() && !role.is_gateway(), "{role}");
                assert!(route.rewrite.is_none() || route.modifier == "=");
            }
        }
    }
}

/// A ring member leaving (its role gone, held by the rollout until it may drain) keeps its
/// place in the upstreams while it is ready: a switch from `all` to new processes that are
/// not ready yet does not leave the gateway without a distributor.
#[test]
fn a_retiring_process_serves_until_it_drains() {
    let hosts = hosts(&[
        ("gw1", "198.18.0.2", &["loki:gateway"]),
        ("h2", "198.18.0.3", &["loki:write"]),
    ]);
    let settings = Settings::default();
    let all: Role = "loki:all".parse().unwrap();
    let all_id = ProcessId::for_role(all);
    let retiring = BTreeMap::from([(
        ProcessKey {
            host: h("gw1"),
            process: all_id,
        },
        vec![all],
    )]);
    let conf = |ready: &ReadyProcesses| {
        let input = GatewayInput {
            settings: &settings,
            hosts: &hosts,
            ready,
            retiring: &retiring,
        };
        render(input, &h("gw1")).unwrap().config
    };
    let all_server = format!("server 198.18.0.2:{} ", all_id.ports().http);
    let ready = BTreeMap::from([(h("gw1"), BTreeSet::from([all_id]))]);
    let c = conf(&ready);
    assert!(c.contains(&all_server), "{c}");
    assert!(!c.contains("no ready host runs distributor"), "{c}");
    let c = conf(&BTreeMap::new());
    assert!(
        !c.contains(&all_server) && c.contains("no ready host runs"),
        "{c}"
    );
}

/// Without a scheduler each querier pulls from one frontend: a frontend whose queriers are
/// all out leaves the upstream while another frontend still has one, and stays when none has.
#[test]
fn a_frontend_whose_queriers_are_all_out_leaves_the_upstream() {
    let fe_q = &["tempo:query-frontend", "tempo:querier"][..];
    let cluster = hosts(&[
        ("h1", "198.18.0.2", fe_q),
        ("h2", "198.18.0.3", fe_q),
        ("h3", "198.18.0.4", &["tempo:querier"]),
    ]);
    let topology = Topology::of(&cluster);
    let (fe, q) = (
        "lgtm-tempo-query-frontend.service",
        "lgtm-tempo-querier.service",
    );
    // Queriers take the frontends in turn: h1 and h3 pull from h1's, h2 from h2's.
    // (case, processes out as (host, unit), frontends left out as (host, unit))
    type Units<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Units, Units); 5] = [
        ("every querier in: both frontends route", &[], &[]),
        (
            "h1's querier out, h3's pulls from h1's frontend",
            &[("h1", q)],
            &[],
        ),
        (
            "both queriers of h1's frontend out",
            &[("h1", q), ("h3", q)],
            &[("h1", fe)],
        ),
        ("h2's only querier out", &[("h2", q)], &[("h2", fe)]),
        (
            "every querier out: no frontend is better, both stay",
            &[("h1", q), ("h2", q), ("h3", q)],
            &[],
        ),
    ];
    for (name, out, idle) in cases {
        let mut ready = ready_except(&cluster, out);
        leave_out_idle_frontends(&mut ready, &topology, &cluster);
        let mut want = ready_except(&cluster, out);
        for (host, unit) in idle {
            let id = ProcessId::from_unit_name(unit).unwrap();
            want.get_mut(&h(host)).unwrap().remove(&id);
        }
        assert_eq!(ready, want, "{name}");
    }
}
