//! The cluster's intent in memory (hosts, roles, settings, secrets) and its rendering.

use std::collections::BTreeMap;
use std::sync::Arc;

use lgtm_model::render::{self, HostIntent, RenderError};
use lgtm_model::settings::{Secrets, Settings};
use lgtm_model::wire::DesiredProcess;
use lgtm_model::{HostName, Role};

/// One host's rendered processes, or why they cannot be rendered.
pub type Rendered = Result<Arc<Vec<DesiredProcess>>, RenderError>;

/// What operators and agents asked for; everything rendering reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Intent {
    /// Settings.
    pub settings: Settings,
    /// Secret values by key.
    pub secrets: Secrets,
    /// Every host, roles sorted.
    pub hosts: BTreeMap<HostName, HostIntent>,
}

impl Intent {
    /// Every host's roles.
    pub fn assignments(&self) -> BTreeMap<HostName, Vec<Role>> {
        assignments(&self.hosts)
    }

    /// Renders every host. Pure: the same intent always renders the same content.
    pub fn render_all(&self) -> BTreeMap<HostName, Rendered> {
        let cluster = render::Cluster {
            settings: &self.settings,
            secrets: &self.secrets,
            hosts: &self.hosts,
        };
        self.hosts
            .keys()
            .map(|h| (h.clone(), render::host_processes(cluster, h).map(Arc::new)))
            .collect()
    }
}

/// Roles by host.
pub fn assignments(hosts: &BTreeMap<HostName, HostIntent>) -> BTreeMap<HostName, Vec<Role>> {
    hosts
        .iter()
        .map(|(h, i)| (h.clone(), i.roles.clone()))
        .collect()
}
