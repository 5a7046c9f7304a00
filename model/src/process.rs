//! Which backend processes run on a host, their unit names and their ports.
//!
//! The port plan is fixed per process kind, so the same role listens on the same ports on
//! every host (peers can be addressed without asking), and no two processes that may share
//! a host ever clash. Tempo's query-frontend keeps Tempo's well-known 3200, and Loki's `all`
//! process Loki's 3100.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{ProcessModel, Role, catalog};
use crate::names::Backend;

/// The ports one process listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ports {
    /// HTTP API, `/ready`, `/metrics`.
    pub http: u16,
    /// gRPC between components.
    pub grpc: u16,
    /// memberlist gossip (TCP and UDP).
    pub memberlist: u16,
}

/// One backend process: a whole backend (Mimir, Loki's `all`), one group of roles (Loki's
/// `write`, `read`, `backend`) or one role (Tempo).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct ProcessId {
    /// The backend it belongs to.
    pub backend: Backend,
    /// The role (Tempo) or group meta-role (Loki) it runs; `None` for a whole-backend process.
    pub role: Option<Role>,
}

const fn p(http: u16, grpc: u16, memberlist: u16) -> Ports {
    Ports {
        http,
        grpc,
        memberlist,
    }
}

/// Tempo processes by role: (role, ports). Receivers (OTLP 4317/4318) belong to distributors.
const TEMPO_PORTS: &[(&str, Ports)] = &[
    ("query-frontend", p(3200, 9200, 7950)),
    ("distributor", p(3201, 9201, 7951)),
    ("ingester", p(3202, 9202, 7952)),
    ("querier", p(3203, 9203, 7953)),
    ("compactor", p(3204, 9204, 7954)),
    ("metrics-generator", p(3205, 9205, 7955)),
    ("all", p(3206, 9206, 7956)),
];

impl ProcessId {
    /// The process that runs `role` on a host.
    pub fn for_role(role: Role) -> ProcessId {
        match role.catalog().process_model {
            ProcessModel::Shared => ProcessId {
                backend: role.backend(),
                role: None,
            },
            ProcessModel::OnePerRole => ProcessId {
                backend: role.backend(),
                role: Some(role),
            },
            ProcessModel::Grouped => ProcessId {
                backend: role.backend(),
                role: role.group(),
            },
        }
    }

    /// Every process any host may run, sorted.
    pub fn all() -> Vec<ProcessId> {
        let mut all: Vec<ProcessId> = Backend::ALL
            .iter()
            .flat_map(|b| catalog(*b).roles())
            .filter(|r| !r.is_gateway())
            .map(ProcessId::for_role)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The process a unit name belongs to; `None` for any unit lgtm does not manage.
    pub fn from_unit_name(unit: &str) -> Option<ProcessId> {
        ProcessId::all().into_iter().find(|p| p.unit_name() == unit)
    }

    /// Short name: `mimir`, `tempo-ingester`. Safe in unit names and paths by construction.
    pub fn instance(&self) -> String {
        match self.role {
            None => self.backend.as_str().to_owned(),
            Some(r) => format!("{}-{}", self.backend, r.name()),
        }
    }

    /// The systemd unit: `lgtm-mimir.service`, `lgtm-tempo-ingester.service`.
    pub fn unit_name(&self) -> String {
        format!("lgtm-{}.service", self.instance())
    }

    /// The ports of the fixed plan.
    pub fn ports(&self) -> Ports {
        match (self.backend, self.role) {
            (Backend::Mimir, _) => p(8080, 9095, 7946),
            (Backend::Loki, None) => p(3100, 9096, 7947),
            (Backend::Loki, Some(group)) => match group.name() {
                "write" => p(3101, 9097, 7948),
                "read" => p(3102, 9098, 7949),
                _ => p(3103, 9099, 7940),
            },
            (Backend::Tempo, role) => {
                let name = role.map_or("all", Role::name);
                TEMPO_PORTS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(p(3206, 9206, 7956), |(_, ports)| *ports)
            }
        }
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.instance())
    }
}

/// The `-target` values of a process running `roles`, in role order: a role whose targets a
/// meta-role in the same process already runs is left out (`write,ingester` is `write`).
pub fn upstream_targets(roles: &[Role]) -> Vec<&'static str> {
    let covered = |role: &Role| {
        roles.iter().any(|other| {
            other != role
                && other.is_meta()
                && role.expand().iter().all(|t| other.expand().contains(t))
        })
    };
    let mut targets: Vec<&'static str> = Vec::new();
    for role in roles.iter().filter(|r| !covered(r)) {
        if !targets.contains(&role.upstream_target()) {
            targets.push(role.upstream_target());
        }
    }
    targets
}

/// Where a backend on local filesystem storage keeps its objects on a host: one directory
/// per backend, shared by all of its processes there, so what an ingester flushes is what the
/// host's queriers and compactor read.
pub fn store_dir(data_root: &str, backend: Backend) -> String {
    format!("{}/{backend}-store", data_root.trim_end_matches('/'))
}

/// Groups a host's roles into processes, each with its sorted, de-duplicated roles.
/// Gateway roles are no backend process (see [`crate::gateway`]) and are left out.
pub fn processes(roles: &[Role]) -> BTreeMap<ProcessId, Vec<Role>> {
    let mut out: BTreeMap<ProcessId, Vec<Role>> = BTreeMap::new();
    for role in roles.iter().filter(|r| !r.is_gateway()) {
        out.entry(ProcessId::for_role(*role))
            .or_default()
            .push(*role);
    }
    for roles in out.values_mut() {
        roles.sort();
        roles.dedup();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unit_names_map_back_to_processes() {
        for p in ProcessId::all() {
            assert_eq!(ProcessId::from_unit_name(&p.unit_name()), Some(p));
        }
        assert_eq!(
            ProcessId::all().len(),
            1 + 4 + catalog(Backend::Tempo).roles().count() - 1,
            "mimir, loki's all/write/read/backend, every Tempo role but the gateway"
        );
        assert_eq!(ProcessId::from_unit_name("lgtm-agent.service"), None);
        assert_eq!(ProcessId::from_unit_name("lgtm-tempo-nope.service"), None);
    }

    #[test]
    fn no_two_processes_share_a_port() {
        let mut seen = HashSet::new();
        for proc in ProcessId::all() {
            let ports = proc.ports();
            for port in [ports.http, ports.grpc, ports.memberlist] {
                assert!(seen.insert(port), "{proc}: port {port} is planned twice");
            }
        }
        // Tempo's receivers live on the distributor and the single binary only.
        assert!(!seen.contains(&4317) && !seen.contains(&4318));
    }

    #[test]
    fn every_tempo_role_has_planned_ports() {
        for role in catalog(Backend::Tempo).roles().filter(|r| !r.is_gateway()) {
            assert!(TEMPO_PORTS.iter().any(|(n, _)| *n == role.name()), "{role}");
        }
    }

    #[test]
    fn targets_leave_out_what_a_meta_role_runs() {
        let r = |s: &str| Role::resolve(s, None, Backend::Mimir).unwrap();
        assert_eq!(
            upstream_targets(&[r("loki:ingester"), r("loki:write")]),
            ["write"]
        );
        assert_eq!(
            upstream_targets(&[r("loki:compactor"), r("loki:index-gateway")]),
            ["compactor", "index-gateway"]
        );
        assert_eq!(
            upstream_targets(&[r("tempo:all")]),
            ["scalable-single-binary"]
        );
        assert_eq!(upstream_targets(&[r("querier"), r("querier")]), ["querier"]);
    }

    #[test]
    fn loki_runs_a_process_per_group() {
        let r = |s: &str| Role::resolve(s, None, Backend::Loki).unwrap();
        let procs = processes(&[r("ingester"), r("querier"), r("read"), r("ruler")]);
        let units: Vec<_> = procs.keys().map(ProcessId::unit_name).collect();
        assert_eq!(
            units,
            [
                "lgtm-loki-backend.service",
                "lgtm-loki-read.service",
                "lgtm-loki-write.service"
            ]
        );
        // Monolithic Loki keeps its unit.
        let all = processes(&[r("all")]);
        assert_eq!(
            all.keys().next().map(ProcessId::unit_name).as_deref(),
            Some("lgtm-loki.service")
        );
    }

    #[test]
    fn grouping() {
        let r = |s: &str| Role::resolve(s, None, Backend::Mimir).unwrap();
        let roles = [
            r("ingester"),
            r("querier"),
            r("ingester"),
            r("loki:write"),
            r("tempo:ingester"),
            r("tempo:querier"),
            r("tempo:gateway"),
            r("gateway"),
        ];
        let procs = processes(&roles);
        let units: Vec<_> = procs.keys().map(ProcessId::unit_name).collect();
        assert_eq!(
            units,
            [
                "lgtm-mimir.service",
                "lgtm-loki-write.service",
                "lgtm-tempo-ingester.service",
                "lgtm-tempo-querier.service"
            ]
        );
        let mimir = &procs[&ProcessId {
            backend: Backend::Mimir,
            role: None,
        }];
        assert_eq!(mimir, &vec![r("ingester"), r("querier")]);
    }
}
