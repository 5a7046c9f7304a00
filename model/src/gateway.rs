//! The gateway: one nginx per host, the single entrypoint of every backend whose gateway role
//! (`mimir:gateway`, ...) the host has, rendered here as a complete `nginx.conf`.
//!
//! Routing follows Canonical's COS coordinators: one upstream per backend target, path
//! locations per backend, one listener per backend, and for Tempo one per receiver protocol.
//! An upstream lists only hosts whose process for that target is *ready* (the agents'
//! reports); a target with no ready host gets a location that answers 503 with a JSON body
//! naming the role at once, so a client never hangs on an empty upstream. Debian's nginx 1.22
//! has no `server ... resolve`: addresses are rendered, and the agent reloads nginx when they
//! change. A dead host still listed (between its failure and the next report) costs one
//! connect attempt: `proxy_next_upstream error timeout` retries the request on the next server.
//!
//! Only typed data reaches the text: IP addresses, ports, backend and role names from the
//! catalog, and the tenant, which [`crate::settings`] validated (and is checked again here).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::catalog::Role;
use crate::names::{Backend, HostName};
use crate::process::{ProcessId, processes};
use crate::render::{HostIntent, socket};
use crate::rollout::ProcessKey;
use crate::settings::{DEFAULT_GATEWAY_TENANT, Settings};
use crate::topology::Topology;
use crate::wire::DesiredGateway;

/// Mimir's gateway listener.
pub const MIMIR_PORT: u16 = 8480;
/// Loki's gateway listener.
pub const LOKI_PORT: u16 = 8481;
/// Tempo's query API (HTTP) through the gateway.
pub const TEMPO_QUERY_PORT: u16 = 8482;
/// Tempo's OTLP/HTTP receiver through the gateway (distributors listen on 4318).
pub const TEMPO_OTLP_HTTP_PORT: u16 = 8483;
/// Tempo's OTLP/gRPC receiver through the gateway (distributors listen on 4317).
pub const TEMPO_OTLP_GRPC_PORT: u16 = 8484;
/// The gateway's own health (`/health`) and nginx status page (`/status`).
pub const STATUS_PORT: u16 = 8489;

/// Where nginx keeps its pid and temporary files: the gateway unit's `RuntimeDirectory=`.
pub const RUNTIME_DIR: &str = "/run/lgtm-gateway";

/// Tempo distributors' OTLP receivers (rendered by [`crate::render`]).
const OTLP_GRPC: u16 = 4317;
const OTLP_HTTP: u16 = 4318;

/// Processes known to be ready, per host: the only ones an upstream lists.
pub type ReadyProcesses = BTreeMap<HostName, BTreeSet<ProcessId>>;

/// Takes out of `ready` every query-frontend none of whose queriers is in it, while another
/// frontend of its backend has one ([`crate::topology::BackendTopology::idle_frontends`]): without a
/// scheduler each querier pulls from one frontend, and a query sent to a frontend whose
/// queriers restart waits for them (Tempo 2.10.8: until the client gives up).
pub fn leave_out_idle_frontends(
    ready: &mut ReadyProcesses,
    topology: &Topology,
    hosts: &BTreeMap<HostName, HostIntent>,
) {
    for backend in Backend::ALL {
        // The process of `host` that runs `target` of this backend.
        let process = |host: &HostName, target: &str| {
            let roles = &hosts.get(host)?.roles;
            processes(roles)
                .into_iter()
                .filter(|(id, _)| id.backend == backend)
                .find(|(_, rs)| {
                    rs.iter()
                        .flat_map(|r| r.expand())
                        .any(|t| t.name() == target)
                })
                .map(|(id, _)| id)
        };
        let serving = |q: &HostName| {
            process(q, "querier").is_some_and(|id| ready.get(q).is_some_and(|s| s.contains(&id)))
        };
        let idle: Vec<(HostName, ProcessId)> = topology
            .backend(backend)
            .idle_frontends(serving)
            .into_iter()
            .filter_map(|h| Some((h.clone(), process(h, "query-frontend")?)))
            .collect();
        for (host, id) in idle {
            if let Some(set) = ready.get_mut(&host) {
                set.remove(&id);
            }
        }
    }
}

/// Which port of a target's process an upstream points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    /// The process's HTTP API.
    Http,
    /// A fixed receiver port (Tempo OTLP).
    Fixed(u16),
}

/// Distributors answer a push within their own ingester timeouts (a few seconds). One that
/// stays silent is on a host that went away without closing its connections: the push moves
/// to the next distributor after this, instead of hanging for the general 300 s.
const WRITE_TIMEOUT: &str = "            proxy_read_timeout 5s;\n";
/// [`WRITE_TIMEOUT`] for gRPC receivers.
const WRITE_TIMEOUT_GRPC: &str = "            grpc_read_timeout 5s;\n";

/// A path location: nginx modifier, path, target, and the upstream path for exact matches.
struct Route {
    modifier: &'static str,
    path: &'static str,
    target: &'static str,
    rewrite: Option<&'static str>,
}

const fn r(modifier: &'static str, path: &'static str, target: &'static str) -> Route {
    Route {
        modifier,
        path,
        target,
        rewrite: None,
    }
}

/// One listener of a backend's gateway.
struct Listener {
    port: u16,
    grpc: bool,
    /// Which port of the targets' processes this listener's upstreams use.
    upstream_port: Port,
    /// Upstream name suffix, for listeners that share a target with another.
    suffix: &'static str,
    routes: &'static [Route],
}

/// Mimir routes (cos-facts §3.2).
const MIMIR_ROUTES: &[Route] = &[
    r("", "/distributor", "distributor"),
    r("", "/api/v1/push", "distributor"),
    r("", "/otlp/v1/metrics", "distributor"),
    r("", "/prometheus/config/v1/rules", "ruler"),
    r("", "/prometheus/api/v1/rules", "ruler"),
    r("", "/prometheus/api/v1/alerts", "ruler"),
    r("=", "/ruler/ring", "ruler"),
    r("", "/alertmanager", "alertmanager"),
    r("", "/multitenant_alertmanager/status", "alertmanager"),
    r("", "/api/v1/alerts", "alertmanager"),
    r("", "/prometheus", "query-frontend"),
    r("=", "/api/v1/status/buildinfo", "query-frontend"),
    r("=", "/api/v1/upload/block/", "compactor"),
];

/// Loki routes (cos-facts §3.3): push to the write path, queries and tail to the read path,
/// rules to the ruler of the backend path.
const LOKI_ROUTES: &[Route] = &[
    r("=", "/loki/api/v1/push", "distributor"),
    r("^~", "/loki/api/v1/rules", "ruler"),
    r("~", "/prometheus/.*", "ruler"),
    Route {
        modifier: "=",
        path: "/api/v1/rules",
        target: "ruler",
        rewrite: Some("/loki/api/v1/rules"),
    },
    r("=", "/loki/api/v1/tail", "query-frontend"),
    r("~", "/loki/api/.*", "query-frontend"),
];

const TEMPO_QUERY: &[Route] = &[r("", "/", "query-frontend")];
const TEMPO_RECEIVE: &[Route] = &[r("", "/", "distributor")];

fn listeners(backend: Backend) -> &'static [Listener] {
    const fn http(port: u16, routes: &'static [Route]) -> Listener {
        Listener {
            port,
            grpc: false,
            upstream_port: Port::Http,
            suffix: "",
            routes,
        }
    }
    static MIMIR: [Listener; 1] = [http(MIMIR_PORT, MIMIR_ROUTES)];
    static LOKI: [Listener; 1] = [http(LOKI_PORT, LOKI_ROUTES)];
    static TEMPO: [Listener; 3] = [
        http(TEMPO_QUERY_PORT, TEMPO_QUERY),
        Listener {
            port: TEMPO_OTLP_HTTP_PORT,
            grpc: false,
            upstream_port: Port::Fixed(OTLP_HTTP),
            suffix: "_otlp_http",
            routes: TEMPO_RECEIVE,
        },
        Listener {
            port: TEMPO_OTLP_GRPC_PORT,
            grpc: true,
            upstream_port: Port::Fixed(OTLP_GRPC),
            suffix: "_otlp_grpc",
            routes: TEMPO_RECEIVE,
        },
    ];
    match backend {
        Backend::Mimir => &MIMIR,
        Backend::Loki => &LOKI,
        Backend::Tempo => &TEMPO,
    }
}

/// Every port a gateway may listen on: never one a backend process or receiver uses.
pub fn ports() -> Vec<u16> {
    let mut all: Vec<u16> = Backend::ALL
        .iter()
        .flat_map(|b| listeners(*b).iter().map(|l| l.port))
        .collect();
    all.push(STATUS_PORT);
    all
}

/// The backends whose gateway `roles` include, in `Backend::ALL` order.
pub fn backends(roles: &[Role]) -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| roles.iter().any(|r| r.is_gateway() && r.backend() == *b))
        .collect()
}

/// Everything rendering a gateway reads.
#[derive(Clone, Copy, Debug)]
pub struct GatewayInput<'a> {
    /// Settings (the tenant).
    pub settings: &'a Settings,
    /// Every host with its roles and address.
    pub hosts: &'a BTreeMap<HostName, HostIntent>,
    /// Ready processes per host.
    pub ready: &'a ReadyProcesses,
    /// Ring members leaving, with the roles they run: held by the rollout until it lets
    /// them drain, they serve (while ready) though their roles are gone from the hosts'.
    pub retiring: &'a BTreeMap<ProcessKey, Vec<Role>>,
}

/// The gateway `host` runs, or `None` when it has no gateway role.
pub fn render(input: GatewayInput<'_>, host: &HostName) -> Option<DesiredGateway> {
    let roles = &input.hosts.get(host)?.roles;
    let backends = backends(roles);
    if backends.is_empty() {
        return None;
    }
    let config = render_conf(input, host, &backends);
    Some(DesiredGateway { backends, config })
}

/// `addr:port` of every ready process of `backend` that runs `target`, sorted.
fn servers(input: GatewayInput<'_>, backend: Backend, target: &str, port: Port) -> Vec<String> {
    let runs = |r: &Role| r.backend() == backend && r.expand().iter().any(|t| t.name() == target);
    let assigned = input.hosts.iter().flat_map(|(name, host)| {
        host.roles
            .iter()
            .filter(|r| !r.is_gateway() && runs(r))
            .map(move |r| (name, ProcessId::for_role(*r)))
    });
    let leaving = input
        .retiring
        .iter()
        .filter(|(_, roles)| roles.iter().any(runs))
        .map(|(k, _)| (&k.host, k.process));
    let mut out = BTreeSet::new();
    for (name, process) in assigned.chain(leaving) {
        let addr = input.hosts.get(name).and_then(|h| h.address);
        let ready = input.ready.get(name).is_some_and(|r| r.contains(&process));
        if let (Some(addr), true) = (addr, ready) {
            let port = match port {
                Port::Http => process.ports().http,
                Port::Fixed(p) => p,
            };
            out.insert(socket(addr, port));
        }
    }
    out.into_iter().collect()
}

/// The tenant, checked again: nothing unvalidated may reach nginx.conf.
fn tenant(settings: &Settings) -> &str {
    let t = settings.gateway_tenant.as_str();
    let safe = !t.is_empty()
        && t.len() <= 150
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if safe { t } else { DEFAULT_GATEWAY_TENANT }
}

fn upstream_name(backend: Backend, target: &str, suffix: &str) -> String {
    format!("{backend}_{}{suffix}", target.replace('-', "_"))
}

// `write!` to a `String` cannot fail.
const INFALLIBLE: &str = "writing to a String cannot fail";

fn render_conf(input: GatewayInput<'_>, host: &HostName, backends: &[Backend]) -> String {
    let mut c = String::new();
    let served: Vec<&str> = backends.iter().map(|b| b.as_str()).collect();
    writeln!(
        c,
        "# lgtm gateway of host {host} for {}.\n# Rendered by lgtm-coordinator; the agent rewrites this file.\n",
        served.join(", ")
    )
    .expect(INFALLIBLE);
    debug_assert!(HEADER.contains(RUNTIME_DIR));
    c.push_str(HEADER);
    writeln!(
        c,
        "    map $http_x_scope_orgid $lgtm_tenant {{\n        default $http_x_scope_orgid;\n        '' {};\n    }}\n",
        tenant(input.settings)
    )
    .expect(INFALLIBLE);
    for backend in backends {
        for l in listeners(*backend) {
            upstreams(&mut c, input, *backend, l);
        }
    }
    for backend in backends {
        for l in listeners(*backend) {
            server(&mut c, input, *backend, l);
        }
    }
    c.push_str(&status_server());
    c.push_str("}\n");
    c
}

/// One upstream per target of a listener that has ready servers.
fn upstreams(c: &mut String, input: GatewayInput<'_>, backend: Backend, l: &Listener) {
    let targets: BTreeSet<&str> = l.routes.iter().map(|r| r.target).collect();
    for target in targets {
        let servers = servers(input, backend, target, l.upstream_port);
        if servers.is_empty() {
            continue;
        }
        writeln!(
            c,
            "    upstream {} {{",
            upstream_name(backend, target, l.suffix)
        )
        .expect(INFALLIBLE);
        for s in servers {
            writeln!(c, "        server {s} max_fails=1 fail_timeout=5s;").expect(INFALLIBLE);
        }
        c.push_str("        keepalive 32;\n    }\n\n");
    }
}

fn server(c: &mut String, input: GatewayInput<'_>, backend: Backend, l: &Listener) {
    let http2 = if l.grpc { " http2" } else { "" };
    writeln!(
        c,
        "    # {backend}\n    server {{\n        listen {}{http2};",
        l.port
    )
    .expect(INFALLIBLE);
    for route in l.routes {
        let role = Role::resolve(route.target, Some(backend), backend)
            .expect("gateway routes name catalog targets");
        let modifier = if route.modifier.is_empty() {
            String::new()
        } else {
            format!("{} ", route.modifier)
        };
        writeln!(c, "        location {modifier}{} {{", route.path).expect(INFALLIBLE);
        let ready = !servers(input, backend, route.target, l.upstream_port).is_empty();
        if ready && route.target == "distributor" {
            c.push_str(if l.grpc {
                WRITE_TIMEOUT_GRPC
            } else {
                WRITE_TIMEOUT
            });
        }
        if !ready {
            writeln!(
                c,
                "            default_type application/json;\n            return 503 '{{\"error\":\"no ready host runs {role}; assign it to a host or wait until it is ready\",\"role\":\"{role}\"}}\\n';"
            )
            .expect(INFALLIBLE);
        } else if l.grpc {
            writeln!(
                c,
                "            grpc_pass grpc://{};",
                upstream_name(backend, route.target, l.suffix)
            )
            .expect(INFALLIBLE);
        } else {
            writeln!(
                c,
                "            proxy_pass http://{}{};",
                upstream_name(backend, route.target, l.suffix),
                route.rewrite.unwrap_or("")
            )
            .expect(INFALLIBLE);
        }
        c.push_str("        }\n");
    }
    if !l
        .routes
        .iter()
        .any(|r| r.path == "/" && r.modifier.is_empty())
    {
        writeln!(
            c,
            "        location / {{\n            default_type application/json;\n            return 404 '{{\"error\":\"no route for this path on the {backend} gateway\"}}\\n';\n        }}"
        )
        .expect(INFALLIBLE);
    }
    c.push_str("    }\n\n");
}

/// Everything that does not depend on the cluster. Paths live under `/run/lgtm-gateway`
/// (the unit's RuntimeDirectory), never the machine's own nginx files.
const HEADER: &str = "\
worker_processes auto;
pid /run/lgtm-gateway/nginx.pid;
error_log stderr warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    server_tokens off;
    default_type application/octet-stream;
    client_body_temp_path /run/lgtm-gateway/client-body;
    proxy_temp_path /run/lgtm-gateway/proxy;
    fastcgi_temp_path /run/lgtm-gateway/fastcgi;
    uwsgi_temp_path /run/lgtm-gateway/uwsgi;
    scgi_temp_path /run/lgtm-gateway/scgi;
    client_max_body_size 64m;

    # Keep-alive to the workers, and websocket upgrades (Loki's tail) where asked for.
    map $http_upgrade $lgtm_connection {
        default upgrade;
        '' '';
    }
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $lgtm_connection;
    proxy_set_header X-Scope-OrgID $lgtm_tenant;
    grpc_set_header X-Scope-OrgID $lgtm_tenant;
    # A dead or stopped worker costs one connect attempt; the request goes to the next one.
    # Pushes (POST) too: a worker closing a kept-alive connection must not fail a push, and
    # a push sent twice is deduplicated by the backends (clients retry pushes anyway).
    proxy_connect_timeout 2s;
    grpc_connect_timeout 2s;
    proxy_next_upstream error timeout non_idempotent;
    grpc_next_upstream error timeout non_idempotent;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    # Answers stream through unbuffered. Buffered, nginx before 1.23.1 (Debian 12 ships 1.22.1)
    # can leave an answer in flight with no timer armed (nginx ticket #2367: Go servers write
    # 4 KiB pieces, and a pause right after one fills nginx's buffer exactly), and a reload's
    # old worker, finding no timer left, exits and cuts that answer mid-body.
    proxy_buffering off;
    grpc_read_timeout 300s;
    grpc_send_timeout 300s;

";

fn status_server() -> String {
    format!(
        "    # the gateway itself
    server {{
        listen {STATUS_PORT};
        location = /health {{
            default_type text/plain;
            return 200 'OK\\n';
        }}
        location = /status {{
            stub_status;
        }}
        location / {{
            return 404;
        }}
    }}
"
    )
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
