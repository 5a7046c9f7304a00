//! The published, read-only snapshot of the cluster that every reader works from.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use lgtm_model::process::ProcessId;
use lgtm_model::render::RenderError;
use lgtm_model::rollout::{Rollout, Waiting};
use lgtm_model::settings::Settings;
use lgtm_model::wire::{DesiredState, HostRecord, Known};
use lgtm_model::{HostName, Role};

use super::intent::Rendered;

/// The cluster at one index. Holds no secret values except inside rendered configs.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The cluster index.
    pub index: u64,
    /// The index of the last change to hosts, roles or settings.
    pub intent_index: u64,
    /// Settings (non-secret).
    pub settings: Settings,
    /// Secret keys that hold a value.
    pub secrets_set: BTreeSet<String>,
    /// Every host.
    pub hosts: BTreeMap<HostName, HostView>,
    /// The rollout.
    pub rollout: Arc<RolloutView>,
}

/// The rollout in a [`View`].
#[derive(Clone, Debug, Default)]
pub struct RolloutView {
    /// Its decisions.
    pub machine: Rollout,
    /// Processes waiting for their restart, sorted.
    pub waiting: Vec<Waiting>,
}

/// One host in a [`View`].
#[derive(Clone, Debug)]
pub struct HostView {
    /// Address, once registered.
    pub address: Option<IpAddr>,
    /// Data root, once registered.
    pub data_root: Option<String>,
    /// Roles, sorted.
    pub roles: Vec<Role>,
    /// Index at which its rendered content last changed.
    pub desired_index: u64,
    /// What it is given (its rendering, with processes the rollout holds back in their
    /// running version), or why it cannot be rendered.
    pub rendered: Rendered,
    /// What it runs once the rollout is through with it: its rendering.
    pub target: Rendered,
    /// Processes its agent last reported ready; `None` before its first report.
    pub ready: Option<BTreeSet<ProcessId>>,
}

impl View {
    /// A host as the API shows it.
    pub fn record(&self, host: &HostName) -> Option<HostRecord> {
        self.hosts.get(host).map(|h| HostRecord {
            name: host.clone(),
            address: h.address,
            data_root: h.data_root.clone(),
            roles: Known::all(h.roles.iter().copied()),
            credential: None,
        })
    }

    /// Every host's roles.
    pub fn assignments(&self) -> BTreeMap<HostName, Vec<Role>> {
        self.hosts
            .iter()
            .map(|(n, h)| (n.clone(), h.roles.clone()))
            .collect()
    }

    /// A host's desired state: `None` for an unknown host, the render error when it has one.
    pub fn desired(&self, host: &HostName) -> Option<Result<DesiredState, RenderError>> {
        let h = self.hosts.get(host)?;
        Some(state(host, h.desired_index, &h.rendered))
    }

    /// What `host` runs once the rollout is through with it (as [`View::desired`]).
    pub fn target(&self, host: &HostName) -> Option<Result<DesiredState, RenderError>> {
        let h = self.hosts.get(host)?;
        Some(state(host, h.desired_index, &h.target))
    }

    /// The index at which `host`'s desired state last changed.
    pub fn desired_index(&self, host: &HostName) -> Option<u64> {
        self.hosts.get(host).map(|h| h.desired_index)
    }
}

fn state(host: &HostName, index: u64, content: &Rendered) -> Result<DesiredState, RenderError> {
    content
        .as_ref()
        .map_err(Clone::clone)
        .map(|c| DesiredState {
            host: host.clone(),
            index,
            processes: c.processes.clone(),
            gateway: c.gateway.clone(),
        })
}
