//! Whether each backend can work with the roles assigned, and what an operator must know.
//!
//! Coverage is presence: a required target is covered when at least one host runs it,
//! directly or through a meta-role. Replication follows the number of hosts carrying a
//! replicated target: 3 once there are at least 3, else 1 (and that is a warning).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{ProcessModel, Replicated, Role, catalog};
use crate::names::{Backend, HostName};
use crate::process::ProcessId;
use crate::settings::{BackendSettings, StorageKind};

/// Hosts needed before a replicated ring runs with [`FULL_REPLICATION`].
pub const REPLICATION_MIN_HOSTS: usize = 3;
/// The replication factor once enough hosts carry a replicated role.
pub const FULL_REPLICATION: u8 = 3;

/// Every host's assigned roles, however they are held: the coordinator's hosts are read in
/// place on every assignment, not copied into a map first.
pub trait RolesByHost {
    /// Each host and its roles, sorted by host.
    fn each(&self) -> impl Iterator<Item = (&HostName, &[Role])>;
}

impl RolesByHost for BTreeMap<HostName, Vec<Role>> {
    fn each(&self) -> impl Iterator<Item = (&HostName, &[Role])> {
        self.iter().map(|(h, r)| (h, r.as_slice()))
    }
}

impl RolesByHost for BTreeMap<HostName, crate::render::HostIntent> {
    fn each(&self) -> impl Iterator<Item = (&HostName, &[Role])> {
        self.iter().map(|(h, i)| (h, i.roles.as_slice()))
    }
}

/// The replication factor for a replicated target carried by `hosts` hosts.
pub fn replication_factor(hosts: usize) -> u8 {
    if hosts >= REPLICATION_MIN_HOSTS {
        FULL_REPLICATION
    } else {
        1
    }
}

/// Replication of one replicated target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replication {
    /// The replicated target.
    pub role: Role,
    /// Hosts that run it.
    pub hosts: usize,
    /// The factor rendered into its ring.
    pub factor: u8,
}

/// The verdict on one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConsistency {
    /// Which backend.
    pub backend: Backend,
    /// Whether any host has a role of it.
    pub deployed: bool,
    /// Every required target runs on at least one host.
    pub consistent: bool,
    /// Required targets that run nowhere.
    pub missing: Vec<Role>,
    /// Replicated targets that run somewhere.
    pub replication: Vec<Replication>,
    /// What an operator should know, one sentence each.
    pub warnings: Vec<String>,
}

/// Hosts per target of one backend, meta-roles expanded; gateways are not targets.
pub fn hosts_by_target(
    backend: Backend,
    assignments: &(impl RolesByHost + ?Sized),
) -> BTreeMap<Role, BTreeSet<HostName>> {
    let mut out: BTreeMap<Role, BTreeSet<HostName>> = BTreeMap::new();
    for (host, roles) in assignments.each() {
        for target in targets_of(backend, roles) {
            out.entry(target).or_default().insert(host.clone());
        }
    }
    out
}

/// The targets one host's `roles` run of `backend`, meta-roles expanded, gateways left out.
fn targets_of(backend: Backend, roles: &[Role]) -> impl Iterator<Item = Role> + '_ {
    roles
        .iter()
        .filter(move |r| r.backend() == backend && !r.is_gateway())
        .flat_map(|r| r.expand())
}

/// How many hosts carry each target of one backend (as [`hosts_by_target`], counted).
fn hosts_per_target(
    backend: Backend,
    assignments: &(impl RolesByHost + ?Sized),
) -> BTreeMap<Role, usize> {
    let mut out: BTreeMap<Role, usize> = BTreeMap::new();
    for (_, roles) in assignments.each() {
        let mut targets: Vec<Role> = targets_of(backend, roles).collect();
        targets.sort();
        targets.dedup();
        for target in targets {
            *out.entry(target).or_default() += 1;
        }
    }
    out
}

/// Evaluates one backend over every host's assigned roles.
pub fn evaluate(backend: Backend, assignments: &(impl RolesByHost + ?Sized)) -> BackendConsistency {
    let cat = catalog(backend);
    let by_target = hosts_per_target(backend, assignments);
    let deployed = !by_target.is_empty();
    let mut missing: Vec<Role> = cat
        .roles()
        .filter(|r| r.is_required() && !by_target.contains_key(r))
        .collect();
    missing.sort();
    let replication: Vec<Replication> = by_target
        .iter()
        .filter(|(role, _)| role.is_replicated())
        .map(|(role, &hosts)| Replication {
            role: *role,
            hosts,
            factor: replication_factor(hosts),
        })
        .collect();

    let mut warnings = Vec::new();
    for r in replication.iter().filter(|r| r.factor < FULL_REPLICATION) {
        let risk = match r.role.replicated() {
            Replicated::Data => "losing one host loses data not yet in object storage",
            _ => "losing one host interrupts it",
        };
        warnings.push(format!(
            "{} runs with replication factor {} ({} host{}): {risk}; assign it to at least {REPLICATION_MIN_HOSTS} hosts",
            r.role,
            r.factor,
            r.hosts,
            if r.hosts == 1 { "" } else { "s" },
        ));
    }
    // Without a scheduler, queriers pull from frontends: Tempo's refuses to start without one
    // (its process is held back, see `render`), and a frontend nobody pulls from is never
    // ready, so the gateway sends it nothing.
    let count = |t: &str| {
        by_target
            .iter()
            .find(|(r, _)| r.name() == t)
            .map_or(0, |(_, &n)| n)
    };
    let (queriers, frontends) = (count("querier"), count("query-frontend"));
    if backend == Backend::Tempo && queriers > 0 && frontends == 0 {
        warnings.push(format!(
            "{backend}:querier does not start until a {backend}:query-frontend is assigned: Tempo's querier refuses to start without one"
        ));
    }
    if count("query-scheduler") == 0 && frontends > queriers && queriers > 0 {
        warnings.push(format!(
            "{frontends} {backend}:query-frontend hosts but {queriers} querier host{}: a frontend without a querier is never ready; assign as many queriers as frontends",
            if queriers == 1 { "" } else { "s" }
        ));
    }
    if cat.process_model == ProcessModel::OnePerRole {
        for (host, roles) in assignments.each() {
            let n = roles
                .iter()
                .filter(|r| r.backend() == backend && !r.is_gateway())
                .count();
            if n > 1 {
                warnings.push(format!(
                    "{host} runs {n} {backend} roles: that is {n} {backend} processes on one host"
                ));
            }
        }
    }
    BackendConsistency {
        backend,
        deployed,
        consistent: deployed && missing.is_empty(),
        missing,
        replication,
        warnings,
    }
}

/// What assigning a role to a host would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AssignOutcome {
    /// The role is new on the host.
    Added,
    /// The host already has exactly this role; nothing changes.
    AlreadyAssigned,
}

/// Why a role cannot be added to a host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    #[error(
        "{host} already runs {existing}, which includes {overlap} in another {backend} process, so the two would clash. Unassign {existing} first"
    )]
    Overlap {
        host: HostName,
        existing: Role,
        overlap: String,
        backend: Backend,
    },
}

/// Checks adding `role` to a host that has `existing` roles.
pub fn check_assign(
    host: &HostName,
    existing: &[Role],
    role: Role,
) -> Result<AssignOutcome, AssignError> {
    if existing.contains(&role) {
        return Ok(AssignOutcome::AlreadyAssigned);
    }
    // Separate processes running the same module on one host would fight over ports and ring
    // IDs; roles that share a process only add targets to it.
    let new: BTreeSet<Role> = role.expand().into_iter().collect();
    let process = ProcessId::for_role(role);
    for other in existing
        .iter()
        .filter(|r| r.backend() == role.backend() && ProcessId::for_role(**r) != process)
    {
        let overlap: Vec<&str> = other
            .expand()
            .iter()
            .filter(|t| new.contains(t))
            .map(|t| t.name())
            .collect();
        if !overlap.is_empty() {
            return Err(AssignError::Overlap {
                host: host.clone(),
                existing: *other,
                overlap: overlap.join(", "),
                backend: role.backend(),
            });
        }
    }
    Ok(AssignOutcome::Added)
}

/// Why a change would put a backend that stores on the local filesystem on several hosts:
/// each host would keep its own blocks, and queriers on one would never see another's data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error(
        "{backend} stores data on the local filesystem, which only works on a single host ({on}); move it to object storage before adding {host}: set {backend}.storage.s3.*, then `lgtmctl config set {backend}.storage.backend s3 --force` (what {on} stored on its filesystem stays there)"
    )]
    AssignToSecondHost {
        /// The backend.
        backend: Backend,
        /// The host it would be added to.
        host: HostName,
        /// The host it runs on now.
        on: HostName,
    },
    #[error(
        "{backend} runs on {count} hosts ({hosts}) and the local filesystem only works on a single host; keep {backend}.storage.backend s3, or unassign {backend} from all hosts but one first"
    )]
    FilesystemOnSeveralHosts {
        /// The backend.
        backend: Backend,
        /// How many hosts run it.
        count: usize,
        /// Those hosts, comma-separated.
        hosts: String,
    },
    #[error(
        "{backend} runs on {hosts} and keeps its data in {from}; this change moves its storage to {to}, which would leave that data behind where {backend} no longer finds it. Copy the data over first, then repeat with force=true (`lgtmctl config set ... --force`); or repeat with force=true to start empty"
    )]
    Move {
        /// The backend.
        backend: Backend,
        /// Its hosts, comma-separated.
        hosts: String,
        /// Where its data is now.
        from: String,
        /// Where the change would put it.
        to: String,
    },
    #[error(
        "{backend} stores data on the local filesystem, which only works on a single host; switch it on one host, or set {backend}.storage.backend to s3 first"
    )]
    SwitchToSeveralHosts {
        /// The backend.
        backend: Backend,
    },
    #[error(
        "{backend} keeps its data on the local filesystem of {from}; placing it on {to} instead would leave that data behind, where {backend} no longer finds it. Switch it on {from}"
    )]
    SwitchAway {
        /// The backend.
        backend: Backend,
        /// The host its data is on.
        from: HostName,
        /// The hosts asked for, comma-separated.
        to: String,
    },
}

/// Hosts with at least one role of `backend` (its gateway holds no data and does not count).
pub fn backend_hosts(
    backend: Backend,
    assignments: &(impl RolesByHost + ?Sized),
) -> BTreeSet<HostName> {
    assignments
        .each()
        .filter(|(_, roles)| {
            roles
                .iter()
                .any(|r| r.backend() == backend && !r.is_gateway())
        })
        .map(|(h, _)| h.clone())
        .collect()
}

/// Checks adding `role` to `host` when its backend stores on `storage`: a filesystem
/// backend may run on one host only.
pub fn check_assign_storage(
    storage: StorageKind,
    assignments: &(impl RolesByHost + ?Sized),
    host: &HostName,
    role: Role,
) -> Result<(), StorageError> {
    if storage != StorageKind::Filesystem || role.is_gateway() {
        return Ok(());
    }
    let backend = role.backend();
    let hosts = backend_hosts(backend, assignments);
    match hosts.iter().find(|h| *h != host) {
        Some(on) if !hosts.contains(host) => Err(StorageError::AssignToSecondHost {
            backend,
            host: host.clone(),
            on: on.clone(),
        }),
        _ => Ok(()),
    }
}

/// Checks placing `backend`, which runs on `before`, on `after` instead: a backend storing
/// on the local filesystem stays on one host, the one that has its data.
pub fn check_switch_storage(
    backend: Backend,
    storage: StorageKind,
    before: &BTreeSet<HostName>,
    after: &BTreeSet<HostName>,
) -> Result<(), StorageError> {
    if storage != StorageKind::Filesystem {
        return Ok(());
    }
    if after.len() > 1 {
        return Err(StorageError::SwitchToSeveralHosts { backend });
    }
    match before.iter().find(|h| !after.contains(*h)) {
        Some(from) => Err(StorageError::SwitchAway {
            backend,
            from: from.clone(),
            to: host_list(after),
        }),
        None => Ok(()),
    }
}

/// Where a backend's settings keep its data, in words; `None` for S3 without its bucket or
/// endpoint (nothing renders, so nothing was stored there).
fn data_home(s: &BackendSettings) -> Option<String> {
    match (s.storage, &s.s3.bucket, &s.s3.endpoint) {
        (StorageKind::Filesystem, _, _) => Some("the local filesystem".to_owned()),
        (StorageKind::S3, Some(bucket), Some(endpoint)) => {
            Some(format!("bucket {bucket} at {endpoint}"))
        }
        (StorageKind::S3, _, _) => None,
    }
}

/// Checks a settings change of `backend` from `before` to `after` while it runs on `hosts`:
/// moving where its data lives (storage kind, or the S3 endpoint or bucket in use) would
/// leave what it stored behind.
pub fn check_storage_move(
    backend: Backend,
    before: &BackendSettings,
    after: &BackendSettings,
    hosts: &BTreeSet<HostName>,
) -> Result<(), StorageError> {
    let (Some(from), to) = (data_home(before), data_home(after)) else {
        return Ok(());
    };
    if hosts.is_empty() || to.as_ref() == Some(&from) {
        return Ok(());
    }
    let to = to.unwrap_or_else(|| "S3 (its bucket or endpoint not set yet)".to_owned());
    Err(StorageError::Move {
        backend,
        hosts: host_list(hosts),
        from,
        to,
    })
}

/// Hosts as an error message names them: `h1, h2`.
fn host_list(hosts: &BTreeSet<HostName>) -> String {
    let names: Vec<&str> = hosts.iter().map(HostName::as_str).collect();
    names.join(", ")
}

/// Checks switching `backend` to `storage` with the current assignments.
pub fn check_storage_change(
    backend: Backend,
    storage: StorageKind,
    assignments: &BTreeMap<HostName, Vec<Role>>,
) -> Result<(), StorageError> {
    let hosts = backend_hosts(backend, assignments);
    if storage == StorageKind::Filesystem && hosts.len() > 1 {
        return Err(StorageError::FilesystemOnSeveralHosts {
            backend,
            count: hosts.len(),
            hosts: host_list(&hosts),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Role {
        s.parse().unwrap()
    }
    fn h(s: &str) -> HostName {
        s.parse().unwrap()
    }
    fn cluster(hosts: &[(&str, &[&str])]) -> BTreeMap<HostName, Vec<Role>> {
        hosts
            .iter()
            .map(|(n, roles)| (h(n), roles.iter().map(|s| r(s)).collect()))
            .collect()
    }

    #[test]
    fn replication_warnings_say_what_is_at_risk() {
        let got = evaluate(Backend::Mimir, &cluster(&[("h1", &["mimir:all"])]));
        let ingester = got
            .warnings
            .iter()
            .find(|w| w.starts_with("mimir:ingester"))
            .unwrap();
        assert!(ingester.contains("loses data"), "{ingester}");
        let gateway = got
            .warnings
            .iter()
            .find(|w| w.starts_with("mimir:store-gateway"))
            .unwrap();
        assert!(
            gateway.contains("interrupts it") && !gateway.contains("data"),
            "{gateway}"
        );
    }

    #[test]
    fn replication_rule() {
        assert_eq!(
            [0, 1, 2, 3, 4, 10].map(replication_factor),
            [1, 1, 1, 3, 3, 3]
        );
    }

    struct Case {
        name: &'static str,
        backend: Backend,
        hosts: &'static [(&'static str, &'static [&'static str])],
        consistent: bool,
        missing: &'static [&'static str],
        replication: &'static [(&'static str, u8)],
        warnings: &'static [&'static str],
    }

    #[test]
    fn evaluation_table() {
        use Backend::*;
        let cases = [
            Case {
                name: "empty cluster: nothing deployed",
                backend: Mimir,
                hosts: &[],
                consistent: false,
                missing: &[
                    "compactor",
                    "distributor",
                    "ingester",
                    "querier",
                    "query-frontend",
                    "ruler",
                    "store-gateway",
                ],
                replication: &[],
                warnings: &[],
            },
            Case {
                name: "mimir monolithic on one host: consistent but RF 1",
                backend: Mimir,
                hosts: &[("h1", &["mimir:all"])],
                consistent: true,
                missing: &[],
                replication: &[("ingester", 1), ("store-gateway", 1)],
                warnings: &[
                    "mimir:ingester runs with replication factor 1 (1 host)",
                    "mimir:store-gateway runs with replication factor 1",
                ],
            },
            Case {
                name: "mimir read/write/backend on three hosts each",
                backend: Mimir,
                hosts: &[
                    ("h1", &["mimir:read", "mimir:write", "mimir:backend"]),
                    ("h2", &["mimir:read", "mimir:write", "mimir:backend"]),
                    ("h3", &["mimir:read", "mimir:write", "mimir:backend"]),
                ],
                consistent: true,
                missing: &[],
                replication: &[("alertmanager", 3), ("ingester", 3), ("store-gateway", 3)],
                warnings: &[],
            },
            Case {
                name: "mimir microservices without a querier",
                backend: Mimir,
                hosts: &[
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
                        &["mimir:ingester", "mimir:store-gateway", "mimir:compactor"],
                    ),
                    ("h3", &["mimir:ingester", "mimir:ruler", "loki:all"]),
                ],
                consistent: false,
                missing: &["querier"],
                replication: &[("ingester", 3), ("store-gateway", 1)],
                warnings: &["store-gateway runs with replication factor 1 (1 host)"],
            },
            Case {
                name: "loki simple scalable",
                backend: Loki,
                hosts: &[
                    ("h1", &["loki:read"]),
                    ("h2", &["loki:write"]),
                    ("h3", &["loki:backend"]),
                ],
                consistent: true,
                missing: &[],
                replication: &[("ingester", 1)],
                warnings: &["loki:ingester runs with replication factor 1"],
            },
            Case {
                name: "loki read and write only: no compactor",
                backend: Loki,
                hosts: &[("h1", &["loki:read", "loki:write"])],
                consistent: false,
                missing: &["compactor"],
                replication: &[("ingester", 1)],
                warnings: &["replication factor 1"],
            },
            Case {
                name: "loki microservice targets",
                backend: Loki,
                hosts: &[
                    ("h1", &["loki:distributor", "loki:ingester", "loki:querier"]),
                    (
                        "h2",
                        &["loki:ingester", "loki:query-frontend", "loki:compactor"],
                    ),
                    ("h3", &["loki:ingester", "loki:index-gateway"]),
                ],
                consistent: true,
                missing: &[],
                replication: &[("ingester", 3)],
                warnings: &[],
            },
            Case {
                name: "tempo single binary",
                backend: Tempo,
                hosts: &[("h1", &["tempo:all"])],
                consistent: true,
                missing: &[],
                replication: &[("ingester", 1)],
                warnings: &["tempo:ingester runs with replication factor 1"],
            },
            Case {
                name: "tempo two roles on a host: two processes",
                backend: Tempo,
                hosts: &[
                    ("h1", &["tempo:distributor", "tempo:ingester"]),
                    ("h2", &["tempo:querier"]),
                ],
                consistent: false,
                missing: &["compactor", "query-frontend"],
                replication: &[("ingester", 1)],
                warnings: &[
                    "tempo:ingester runs with replication factor 1",
                    "tempo:querier does not start until a tempo:query-frontend is assigned",
                    "h1 runs 2 tempo roles: that is 2 tempo processes on one host",
                ],
            },
            Case {
                name: "tempo: more frontends than queriers",
                backend: Tempo,
                hosts: &[
                    ("h1", &["tempo:all"]),
                    ("h2", &["tempo:query-frontend"]),
                    ("h3", &["tempo:query-frontend"]),
                ],
                consistent: true,
                missing: &[],
                replication: &[("ingester", 1)],
                warnings: &[
                    "tempo:ingester runs with replication factor 1",
                    "3 tempo:query-frontend hosts but 1 querier host: a frontend without a querier is never ready",
                ],
            },
        ];
        for c in cases {
            let got = evaluate(c.backend, &cluster(c.hosts));
            assert_eq!(got.consistent, c.consistent, "{}", c.name);
            assert_eq!(
                got.deployed,
                !c.hosts
                    .iter()
                    .all(|(_, rs)| rs.iter().all(|s| !s.starts_with(c.backend.as_str()))),
                "{}",
                c.name
            );
            let missing: Vec<_> = got.missing.iter().map(|r| r.name()).collect();
            assert_eq!(missing, c.missing, "{}", c.name);
            let repl: Vec<_> = got
                .replication
                .iter()
                .map(|r| (r.role.name(), r.factor))
                .collect();
            assert_eq!(repl, c.replication, "{}", c.name);
            assert_eq!(
                got.warnings.len(),
                c.warnings.len(),
                "{}: {:?}",
                c.name,
                got.warnings
            );
            for w in c.warnings {
                assert!(
                    got.warnings.iter().any(|g| g.contains(w)),
                    "{}: want {w:?} in {:?}",
                    c.name,
                    got.warnings
                );
            }
        }
    }

    #[test]
    fn assignment_rules() {
        let host = h("h1");
        assert_eq!(
            check_assign(&host, &[], r("mimir:ingester")),
            Ok(AssignOutcome::Added)
        );
        assert_eq!(
            check_assign(&host, &[r("mimir:ingester")], r("mimir:ingester")),
            Ok(AssignOutcome::AlreadyAssigned)
        );
        // Mimir runs both in one process: overlap is harmless.
        assert_eq!(
            check_assign(&host, &[r("mimir:write")], r("mimir:ingester")),
            Ok(AssignOutcome::Added)
        );
        // Tempo: one process per role, so overlapping modules clash.
        assert_eq!(
            check_assign(&host, &[r("tempo:querier")], r("tempo:ingester")),
            Ok(AssignOutcome::Added)
        );
        let e = check_assign(&host, &[r("tempo:all")], r("tempo:ingester"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("h1 already runs tempo:all, which includes ingester")
                && e.contains("Unassign tempo:all first"),
            "{e}"
        );
        assert!(check_assign(&host, &[r("tempo:ingester")], r("tempo:all")).is_err());
        // Loki: a group's targets share its process; `all` is a process of its own.
        assert_eq!(
            check_assign(&host, &[r("loki:write")], r("loki:ingester")),
            Ok(AssignOutcome::Added)
        );
        assert_eq!(
            check_assign(&host, &[r("loki:write")], r("loki:read")),
            Ok(AssignOutcome::Added)
        );
        let e = check_assign(&host, &[r("loki:all")], r("loki:querier"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("h1 already runs loki:all, which includes querier"),
            "{e}"
        );
        assert_eq!(
            check_assign(&host, &[r("loki:all")], r("loki:index-gateway")),
            Ok(AssignOutcome::Added),
            "all does not run the index gateway"
        );
    }

    #[test]
    fn filesystem_storage_stays_on_one_host() {
        use StorageKind::{Filesystem, S3};
        let one = cluster(&[("h1", &["mimir:all", "loki:all"]), ("h2", &["tempo:all"])]);
        // Same host, or another backend's host: fine.
        assert_eq!(
            check_assign_storage(Filesystem, &one, &h("h1"), r("mimir:ingester")),
            Ok(())
        );
        assert_eq!(
            check_assign_storage(Filesystem, &one, &h("h3"), r("tempo:querier")),
            Err(StorageError::AssignToSecondHost {
                backend: Backend::Tempo,
                host: h("h3"),
                on: h("h2"),
            })
        );
        let e = check_assign_storage(Filesystem, &one, &h("h2"), r("mimir:querier"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "mimir stores data on the local filesystem, which only works on a single host (h1)"
            ) && e.contains("before adding h2")
                && e.contains("`lgtmctl config set mimir.storage.backend s3 --force`"),
            "{e}"
        );
        // A first host, or S3: fine.
        let empty = cluster(&[]);
        assert_eq!(
            check_assign_storage(Filesystem, &empty, &h("h9"), r("mimir:all")),
            Ok(())
        );
        assert_eq!(
            check_assign_storage(S3, &one, &h("h2"), r("mimir:querier")),
            Ok(())
        );

        let three = cluster(&[
            ("h1", &["mimir:write"]),
            ("h2", &["mimir:read"]),
            ("h3", &["mimir:backend", "loki:all"]),
        ]);
        let e = check_storage_change(Backend::Mimir, Filesystem, &three).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mimir runs on 3 hosts (h1, h2, h3) and the local filesystem only works on a single host; keep mimir.storage.backend s3, or unassign mimir from all hosts but one first"
        );
        assert_eq!(check_storage_change(Backend::Mimir, S3, &three), Ok(()));
        assert_eq!(
            check_storage_change(Backend::Loki, Filesystem, &three),
            Ok(())
        );
        assert_eq!(
            check_storage_change(Backend::Tempo, Filesystem, &three),
            Ok(())
        );
    }
}
