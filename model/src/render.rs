//! Rendering: cluster intent + membership -> one host's backend processes and their configs.
//!
//! Pure and deterministic (sorted maps, sorted peers), so an unchanged cluster renders
//! byte-identical configs and agents restart nothing. Every key rendered here must exist in
//! the upstream configuration reference of the backend generation in the catalog
//! (`upstream::check`; the tests enumerate topologies and compare golden files).
//!
//! One file per backend ([`mimir`], [`loki`], [`tempo`]); [`storage`] resolves object storage
//! and keeps backends out of each other's bucket locations; [`overlay`] merges the operator's
//! `<backend>.overrides`; [`redact`] hides secrets for display.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::catalog::Role;
use crate::consistency::replication_factor;
use crate::names::{Backend, HostName};
use crate::process::{ProcessId, processes, store_dir};
use crate::settings::{BackendSettings, Secrets, Settings};
use crate::topology::{BackendTopology, Topology};
use crate::wire::DesiredProcess;

mod loki;
mod mimir;
pub mod overlay;
pub mod redact;
pub mod storage;
mod tempo;
#[cfg(test)]
mod tests;

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
    #[error(
        "host {host} runs tempo:metrics-generator but tempo.metrics_generator.remote_write_url is not set; set it with `lgtmctl config set tempo.metrics_generator.remote_write_url URL` or unassign the role"
    )]
    MissingRemoteWrite { host: HostName },
    #[error("{backend}.overrides: {why}")]
    Overlay { backend: Backend, why: String },
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
        .filter_map(|(id, roles)| {
            let data_dir = format!("{}/{}", data_root.trim_end_matches('/'), id.instance());
            let store_dir = store_dir(data_root, id.backend);
            let ctx = Ctx {
                cluster,
                topology: topology.backend(id.backend),
                host,
                address,
                id,
                roles: &roles,
                data_dir: &data_dir,
                store_dir: &store_dir,
            };
            if !ctx.startable() {
                return None;
            }
            let rendered = match id.backend {
                Backend::Mimir => mimir::config(&ctx),
                Backend::Loki => loki::config(&ctx),
                Backend::Tempo => tempo::config(&ctx),
            };
            let config = rendered
                .and_then(|r| overlay::apply(id.backend, &ctx.settings(), r, &data_dir))
                .map(|c| {
                    serde_yaml_ng::to_string(&c).expect("a JSON value always serializes to YAML")
                });
            Some(config.map(|config| DesiredProcess {
                id,
                roles,
                ports: id.ports(),
                config,
                data_dir,
            }))
        })
        .collect()
}

/// Whether a process running `old` must restart to run `new`.
///
/// Only `memberlist.join_members` may change without a restart: it is read when a process
/// starts (and on rejoin), and gossip already knows the members. So a host joining or
/// leaving a backend rewrites its peers' configs without restarting them.
///
/// Compared as text, because a change fanned out to every host compares every process's two
/// configs (parsing both cost half the coordinator's commit time at 10,000 hosts): configs are
/// rendered canonically (one serializer, keys sorted), so two read the same exactly when their
/// texts, seeds taken out, are the same. A text rendered otherwise (by another version) can
/// only differ, which restarts: the safe side.
pub fn needs_restart(old: &str, new: &str) -> bool {
    old != new && !without_seeds(old).eq(without_seeds(new))
}

/// The lines of a rendered config but those of `memberlist.join_members` (a top-level
/// `memberlist:` mapping, its keys indented by two, a block sequence's items at that indent).
fn without_seeds(text: &str) -> impl Iterator<Item = &str> {
    let mut in_memberlist = false;
    let mut in_seeds = false;
    text.lines().filter(move |line| {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        if indent == 0 {
            in_memberlist = *line == "memberlist:";
            in_seeds = false;
            return true;
        }
        if in_memberlist && indent == 2 && body.starts_with("join_members:") {
            in_seeds = true;
            return false;
        }
        in_seeds &= indent > 2 || body.starts_with("- ");
        !in_seeds
    })
}

/// Whether `old` and `new` give a ring both configure a different replication factor: a
/// process still running `old` then writes with another quorum than those running `new`. A
/// ring only one of them configures is not a move.
pub fn replication_moves(old: &str, new: &str) -> bool {
    // Configs whose `replication_factor` lines read the same keep every factor (rendering
    // writes keys in one order): no need to parse them, which the report path would pay for
    // every held process on every change.
    fn lines(t: &str) -> impl Iterator<Item = &str> {
        t.lines()
            .filter(|l| l.contains("replication_factor"))
            .map(str::trim)
    }
    if lines(old).eq(lines(new)) {
        return false;
    }
    fn factors(v: &Value, path: &mut Vec<String>, out: &mut BTreeMap<String, Value>) {
        if let Value::Object(m) = v {
            for (k, v) in m {
                path.push(k.clone());
                if k == "replication_factor" {
                    out.insert(path.join("."), v.clone());
                }
                factors(v, path, out);
                path.pop();
            }
        }
    }
    let of = |text: &str| {
        let mut out = BTreeMap::new();
        if let Ok(v) = serde_yaml_ng::from_str::<Value>(text) {
            factors(&v, &mut Vec::new(), &mut out);
        }
        out
    };
    let (was, will) = (of(old), of(new));
    was.iter()
        .any(|(path, f)| will.get(path).is_some_and(|g| g != f))
}

/// The value at `path` in a rendered config, if the config reads and has it.
fn value_at(config: &str, path: &[&str]) -> Option<Value> {
    let mut v: Value = serde_yaml_ng::from_str(config).ok()?;
    for key in path {
        v = v.get_mut(*key)?.take();
    }
    Some(v)
}

/// The number at `path` in a rendered config (`ingester.lifecycler.ring.replication_factor`).
pub fn number_at(config: &str, path: &[&str]) -> Option<f64> {
    value_at(config, path)?.as_f64()
}

/// The text at `path` in a rendered config (`storage.trace.blocklist_poll`).
pub fn text_at(config: &str, path: &[&str]) -> Option<String> {
    match value_at(config, path)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// One process being rendered, with everything about the cluster it needs.
struct Ctx<'a> {
    cluster: Cluster<'a>,
    topology: &'a BackendTopology,
    host: &'a HostName,
    address: IpAddr,
    id: ProcessId,
    roles: &'a [Role],
    data_dir: &'a str,
    /// The backend's filesystem object store on this host, shared by its processes.
    store_dir: &'a str,
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

    /// `{d}/{purpose}`: every purpose of a process gets its own directory under its data dir.
    fn dir(&self, purpose: &str) -> String {
        format!("{}/{purpose}", self.data_dir)
    }

    /// `{store}/{purpose}`: filesystem object storage, shared by the backend's processes.
    fn store(&self, purpose: &str) -> String {
        format!("{}/{purpose}", self.store_dir)
    }

    /// The gRPC address this process's querier pulls queries from when there is no
    /// scheduler: its own frontend if it runs one, else one of the backend's in turn.
    fn frontend_address(&self) -> Option<String> {
        if self.runs("query-frontend") {
            return Some(socket(self.address, self.id.ports().grpc));
        }
        self.topology.frontend_for(self.host).map(str::to_owned)
    }

    /// Replication factor of a replicated target of this backend.
    fn replication(&self, target: &str) -> u8 {
        self.topology
            .replication
            .get(target)
            .copied()
            .unwrap_or(replication_factor(0))
    }

    /// Whether this process runs `target` (meta-roles expanded).
    fn runs(&self, target: &str) -> bool {
        self.roles
            .iter()
            .flat_map(|r| r.expand())
            .any(|t| t.name() == target)
    }

    /// Whether the process can start with what the cluster has: a Tempo querier refuses to
    /// start without a query-frontend to pull from, so until one is registered the process
    /// is left out instead of crash-looping; `lgtmctl status` says why (see
    /// [`crate::consistency`]).
    fn startable(&self) -> bool {
        self.id.backend != Backend::Tempo
            || !self.runs("querier")
            || self.frontend_address().is_some()
    }

    /// Whether `target` runs on some host of this backend.
    fn deployed(&self, target: &str) -> bool {
        self.topology.replication.contains_key(target)
    }
}

/// `addr:port`, with brackets for IPv6.
pub(crate) fn socket(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}
