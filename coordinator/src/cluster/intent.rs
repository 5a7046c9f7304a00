//! The cluster's intent in memory (hosts, roles, settings, secrets), the readiness the
//! gateways follow, and its rendering.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lgtm_model::gateway::{self, GatewayInput, ReadyProcesses};
use lgtm_model::render::{self, HostIntent, RenderError};
use lgtm_model::rollout::ProcessKey;
use lgtm_model::settings::{Secrets, Settings};
use lgtm_model::topology::Topology;
use lgtm_model::wire::{DesiredGateway, DesiredProcess};
use lgtm_model::{Backend, HostName, Role};

use super::readiness::Readiness;

/// What one host should run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostContent {
    /// Backend processes, sorted by id.
    pub processes: Vec<DesiredProcess>,
    /// Its gateway, when it has gateway roles.
    pub gateway: Option<DesiredGateway>,
}

/// One host's rendered content, or why it cannot be rendered.
pub type Rendered = Result<Arc<HostContent>, RenderError>;

/// What operators and agents asked for; everything rendering reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Intent {
    /// Settings.
    pub settings: Settings,
    /// Secret values by key.
    pub secrets: Secrets,
    /// Every host, roles sorted.
    pub hosts: BTreeMap<HostName, HostIntent>,
    /// Ready processes, which gateways route to (not stored: agents report it again).
    pub readiness: Readiness,
    /// Processes the rollout is about to restart, which gateways stop routing to first
    /// (stored with the rollout).
    pub draining: BTreeSet<ProcessKey>,
    /// Processes still running a replication factor a change moved (derived from the
    /// rollout's holds): gateways leave them out while another of their kind that runs the
    /// new one is ready, so no write goes out with the old quorum when it need not.
    pub outdated: BTreeSet<ProcessKey>,
    /// Ring members leaving, with the roles they run (derived from the rollout's holds):
    /// gateways keep routing to them while ready, until the rollout lets them drain.
    pub retiring: BTreeMap<ProcessKey, Vec<Role>>,
}

impl Intent {
    /// Every host's roles.
    pub fn assignments(&self) -> BTreeMap<HostName, Vec<Role>> {
        assignments(&self.hosts)
    }

    /// Renders every host. Pure: the same intent always renders the same content.
    pub fn render_all(&self) -> (Topology, BTreeMap<HostName, Rendered>) {
        let topology = Topology::of(&self.hosts);
        let ready = self.routable(&topology);
        let rendered = self
            .hosts
            .keys()
            .map(|h| (h.clone(), self.render(&topology, &ready, h)))
            .collect();
        (topology, rendered)
    }

    /// Renders after a change from `prev` (whose topology and rendering are given),
    /// re-rendering only the hosts whose own intent or whose backends' topology changed, and
    /// every gateway host (few, and they follow every host's readiness); the others keep
    /// `prev_rendered` (same content).
    pub fn rerender(
        &self,
        prev: &Intent,
        prev_topology: &Topology,
        prev_rendered: &BTreeMap<HostName, Rendered>,
    ) -> (Topology, BTreeMap<HostName, Rendered>) {
        if self.settings != prev.settings || self.secrets != prev.secrets {
            return self.render_all();
        }
        let topology = Topology::of(&self.hosts);
        let ready = self.routable(&topology);
        let moved: Vec<Backend> = Backend::ALL
            .into_iter()
            .filter(|b| topology.backend(*b) != prev_topology.backend(*b))
            .collect();
        let rendered = self
            .hosts
            .iter()
            .map(|(name, host)| {
                let unchanged = prev.hosts.get(name) == Some(host)
                    && !host.roles.iter().any(|r| r.is_gateway())
                    && !host.roles.iter().any(|r| moved.contains(&r.backend()));
                let rendered = match prev_rendered.get(name) {
                    Some(r) if unchanged => r.clone(),
                    _ => self.render(&topology, &ready, name),
                };
                (name.clone(), rendered)
            })
            .collect();
        (topology, rendered)
    }

    /// What gateways route to: ready processes, less those about to restart, less those
    /// still on an old replication factor while one of their kind on the new one is ready,
    /// and less frontends whose queriers are all out while another's are not.
    fn routable(&self, topology: &Topology) -> ReadyProcesses {
        let mut ready = self.readiness.effective(&self.hosts);
        for key in &self.draining {
            if let Some(set) = ready.get_mut(&key.host) {
                set.remove(&key.process);
            }
        }
        let current = |k: &ProcessKey| !self.outdated.contains(k);
        for key in &self.outdated {
            let other = ready.iter().any(|(host, set)| {
                let k = ProcessKey {
                    host: host.clone(),
                    process: key.process,
                };
                set.contains(&key.process) && current(&k)
            });
            if other && let Some(set) = ready.get_mut(&key.host) {
                set.remove(&key.process);
            }
        }
        gateway::leave_out_idle_frontends(&mut ready, topology, &self.hosts);
        ready
    }

    fn render(&self, topology: &Topology, ready: &ReadyProcesses, host: &HostName) -> Rendered {
        let cluster = render::Cluster {
            settings: &self.settings,
            secrets: &self.secrets,
            hosts: &self.hosts,
        };
        let processes = render::render_host(cluster, topology, host)?;
        let input = GatewayInput {
            settings: &self.settings,
            hosts: &self.hosts,
            ready,
            retiring: &self.retiring,
        };
        let gateway = gateway::render(input, host);
        Ok(Arc::new(HostContent { processes, gateway }))
    }
}

/// Roles by host.
pub fn assignments(hosts: &BTreeMap<HostName, HostIntent>) -> BTreeMap<HostName, Vec<Role>> {
    hosts
        .iter()
        .map(|(h, i)| (h.clone(), i.roles.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(addr: Option<&str>, roles: &[&str]) -> HostIntent {
        HostIntent {
            address: addr.map(|a| a.parse().unwrap()),
            data_root: addr.map(|_| "/var/lib/lgtm".to_owned()),
            roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
        }
    }

    /// Every step is one change; incremental rendering must always equal a full render.
    #[test]
    fn rerender_equals_a_full_render_after_every_change() {
        type Step = Box<dyn Fn(&mut Intent)>;
        let set = |name: &'static str, h: HostIntent| -> Step {
            Box::new(move |i: &mut Intent| {
                i.hosts.insert(name.parse().unwrap(), h.clone());
            })
        };
        let steps: Vec<Step> = vec![
            set("h1", host(Some("198.18.0.2"), &["mimir:all"])),
            set("h2", host(None, &["mimir:querier"])),
            set("h2", host(Some("198.18.0.3"), &["mimir:querier"])),
            set(
                "h3",
                host(Some("198.18.0.4"), &["mimir:ingester", "loki:all"]),
            ),
            set(
                "h4",
                host(Some("198.18.0.5"), &["mimir:ingester", "tempo:querier"]),
            ),
            set("h5", host(Some("198.18.0.6"), &["tempo:query-frontend"])),
            set("h0", host(Some("198.18.0.7"), &["loki:read"])),
            Box::new(|i: &mut Intent| i.settings.set("loki.log_level", "debug").unwrap()),
            Box::new(|i: &mut Intent| {
                i.secrets
                    .insert("mimir.storage.s3.secret_access_key".into(), "x".into());
            }),
            set("h6", host(Some("198.18.0.8"), &["mimir:ingester"])),
            set("h7", host(Some("198.18.0.9"), &["mimir:ingester"])),
            Box::new(|i: &mut Intent| {
                i.hosts.remove(&"h1".parse().unwrap());
            }),
            set("h3", host(Some("198.18.0.4"), &["loki:all"])),
        ];
        let mut intent = Intent::default();
        let (mut topology, mut rendered) = intent.render_all();
        for (n, step) in steps.iter().enumerate() {
            let mut next = intent.clone();
            step(&mut next);
            let incremental = next.rerender(&intent, &topology, &rendered);
            assert_eq!(incremental, next.render_all(), "step {n}");
            intent = next;
            (topology, rendered) = incremental;
        }
        assert_eq!(rendered.len(), 7);
    }
}
