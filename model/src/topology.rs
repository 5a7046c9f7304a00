//! The cluster as one host's rendering sees it: per backend, the memberlist seeds, the
//! replication factor of each target and where the query-frontend is.
//!
//! Computed once per cluster change; a host whose own intent and whose backends' topology
//! did not change renders the same content, so callers can skip re-rendering it.

use std::collections::BTreeMap;

use crate::catalog::Role;
use crate::consistency::{hosts_by_target, replication_factor};
use crate::names::{Backend, HostName};
use crate::process::{ProcessId, processes};
use crate::render::{HostIntent, socket};

/// Memberlist seeds per backend: enough that a starting process finds a live member.
///
/// Gossip spreads full membership once a process has joined through any one member, so
/// `join_members` lists the processes of the first few hosts by name rather than every host:
/// each config stays small however large the cluster, and adding or removing a host only
/// touches other hosts' configs (and restarts them) when it enters or leaves this seed set.
/// Name order keeps the set predictable for operators; new hosts named after the existing
/// ones never move it. `rejoin_interval` lets a process that started while every seed was
/// down join later.
pub const MEMBERLIST_SEEDS: usize = 5;

/// What rendering one host needs to know about the rest of its backends' clusters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    backends: BTreeMap<Backend, BackendTopology>,
}

/// One backend's share of the [`Topology`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendTopology {
    /// `addr:port` memberlist seeds, sorted.
    pub seeds: Vec<String>,
    /// Targets that run on at least one host, with their replication factor.
    pub replication: BTreeMap<&'static str, u8>,
    /// How many hosts run an index gateway (Loki; its ring's factor follows it).
    pub index_gateways: usize,
    /// gRPC addresses of the registered query-frontends, by host name.
    pub frontends_grpc: Vec<String>,
    /// Their hosts, in the same order.
    pub frontend_hosts: Vec<HostName>,
    /// Registered hosts running a querier, by name: without a scheduler, each querier is
    /// pointed at one frontend in turn, so every frontend gets queriers (see
    /// [`BackendTopology::frontend_for`]).
    pub queriers: Vec<HostName>,
    /// HTTP `addr:port` of the first few registered alertmanagers, by host name.
    pub alertmanagers: Vec<String>,
    /// HTTP `addr:port` of the first registered compactor, by host name.
    pub compactor_http: Option<String>,
}

/// Alertmanagers a ruler sends to: a few, so adding one restarts no ruler past these.
pub const ALERTMANAGER_URLS: usize = 3;

impl Topology {
    /// Summarizes every host's roles and addresses.
    pub fn of(hosts: &BTreeMap<HostName, HostIntent>) -> Topology {
        let assignments: BTreeMap<HostName, Vec<Role>> = hosts
            .iter()
            .map(|(h, i)| (h.clone(), i.roles.clone()))
            .collect();
        let backends = Backend::ALL
            .into_iter()
            .map(|backend| (backend, BackendTopology::of(backend, hosts, &assignments)))
            .filter(|(_, t)| !t.replication.is_empty())
            .collect();
        Topology { backends }
    }

    /// One backend's topology (empty when nothing of it is assigned).
    pub fn backend(&self, backend: Backend) -> &BackendTopology {
        static EMPTY: BackendTopology = BackendTopology {
            seeds: Vec::new(),
            replication: BTreeMap::new(),
            index_gateways: 0,
            frontends_grpc: Vec::new(),
            frontend_hosts: Vec::new(),
            queriers: Vec::new(),
            alertmanagers: Vec::new(),
            compactor_http: None,
        };
        self.backends.get(&backend).unwrap_or(&EMPTY)
    }
}

impl BackendTopology {
    /// The frontend the querier on `host` pulls queries from when there is no scheduler:
    /// queriers take the frontends in turn, so with at least as many queriers as frontends
    /// every frontend serves queries (a frontend without queriers is never ready).
    pub fn frontend_for(&self, host: &HostName) -> Option<&str> {
        let n = self.queriers.iter().position(|h| h == host).unwrap_or(0);
        let len = self.frontends_grpc.len();
        (len > 0).then(|| self.frontends_grpc[n % len].as_str())
    }

    /// The frontend hosts none of whose queriers passes `serving`, while another frontend
    /// has one that does: a frontend queues queries until a querier pulls them, so they are
    /// better sent to the others meanwhile (a querier restarting or down).
    pub fn idle_frontends(&self, serving: impl Fn(&HostName) -> bool) -> Vec<&HostName> {
        let len = self.frontend_hosts.len();
        let served: Vec<bool> = (0..len)
            .map(|i| {
                let mut mine = self.queriers.iter().skip(i).step_by(len.max(1));
                mine.any(&serving)
            })
            .collect();
        if !served.contains(&true) {
            return Vec::new();
        }
        self.frontend_hosts
            .iter()
            .zip(served)
            .filter_map(|(h, s)| (!s).then_some(h))
            .collect()
    }

    fn of(
        backend: Backend,
        hosts: &BTreeMap<HostName, HostIntent>,
        assignments: &BTreeMap<HostName, Vec<Role>>,
    ) -> BackendTopology {
        let by_target = hosts_by_target(backend, assignments);
        let replication = by_target
            .iter()
            .map(|(r, h)| (r.name(), replication_factor(h.len())))
            .collect();
        let index_gateways = by_target
            .iter()
            .find(|(r, _)| r.name() == "index-gateway")
            .map_or(0, |(_, h)| h.len());
        let own = |intent: &HostIntent| -> Vec<Role> {
            intent
                .roles
                .iter()
                .copied()
                .filter(|r| r.backend() == backend && !r.is_gateway())
                .collect()
        };
        let mut seeds: Vec<String> = hosts
            .values()
            .filter_map(|h| Some((h.address?, own(h))))
            .filter(|(_, roles)| !roles.is_empty())
            .take(MEMBERLIST_SEEDS)
            .flat_map(|(addr, roles)| {
                processes(&roles)
                    .into_keys()
                    .map(move |p| socket(addr, p.ports().memberlist))
            })
            .collect();
        seeds.sort();
        // Registered hosts running `target`, by name, with that process's ports.
        let running = |target: &str| -> Vec<(&HostName, std::net::IpAddr, crate::process::Ports)> {
            by_target
                .iter()
                .filter(|(r, _)| r.name() == target)
                .flat_map(|(_, names)| names.iter())
                .filter_map(|name| {
                    let h = hosts.get(name)?;
                    let role = own(h)
                        .into_iter()
                        .find(|r| r.expand().iter().any(|t| t.name() == target))?;
                    Some((name, h.address?, ProcessId::for_role(role).ports()))
                })
                .collect()
        };
        // Only without a scheduler are queriers pointed at frontends: with one, adding a
        // frontend or querier leaves every other host's rendering alone.
        let scheduled = by_target.keys().any(|r| r.name() == "query-scheduler");
        let unscheduled = |target: &str| {
            if scheduled {
                Vec::new()
            } else {
                running(target)
            }
        };
        let frontends = unscheduled("query-frontend");
        let frontends_grpc: Vec<String> = frontends
            .iter()
            .map(|(_, a, p)| socket(*a, p.grpc))
            .collect();
        let frontend_hosts = frontends.iter().map(|(h, _, _)| (*h).clone()).collect();
        // Only with frontends to share: a fleet of queriers alone (no frontend yet) must not
        // make every registration change the topology and re-render every host.
        let queriers = if frontends_grpc.is_empty() {
            Vec::new()
        } else {
            unscheduled("querier")
                .into_iter()
                .map(|(name, _, _)| name.clone())
                .collect()
        };
        let alertmanagers = running("alertmanager")
            .iter()
            .take(ALERTMANAGER_URLS)
            .map(|(_, a, p)| socket(*a, p.http))
            .collect();
        let compactor_http = running("compactor")
            .first()
            .map(|(_, a, p)| socket(*a, p.http));
        BackendTopology {
            seeds,
            replication,
            index_gateways,
            frontends_grpc,
            frontend_hosts,
            queriers,
            alertmanagers,
            compactor_http,
        }
    }
}
