//! Which backend processes are ready, per host, as the gateway renderings see it.
//!
//! Readiness comes from agents' reports and is kept in memory only, like the reports. A
//! coordinator that restarts knows nothing yet; emptying every gateway's upstreams until each
//! host reports again would turn a coordinator restart into an outage. So hosts that were
//! known at start and have not reported since are *assumed* ready: the gateways render as
//! they most likely did before, and narrow down as reports arrive. A host that registers
//! while the coordinator runs is not ready until it says so.

use std::collections::{BTreeMap, BTreeSet};

use lgtm_model::HostName;
use lgtm_model::gateway::ReadyProcesses;
use lgtm_model::process::{ProcessId, processes};
use lgtm_model::render::HostIntent;

/// Ready processes by host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// What each host's agent last said.
    reported: ReadyProcesses,
    /// Hosts known at start that have not reported since.
    assumed: BTreeSet<HostName>,
}

impl Readiness {
    /// After a start: every known host is assumed ready until it reports.
    pub fn recovered(hosts: impl IntoIterator<Item = HostName>) -> Readiness {
        Readiness {
            reported: BTreeMap::new(),
            assumed: hosts.into_iter().collect(),
        }
    }

    /// Records what `host` reported; whether anything changed.
    pub fn set(&mut self, host: &HostName, ready: BTreeSet<ProcessId>) -> bool {
        let was_assumed = self.assumed.remove(host);
        let changed = self.reported.get(host) != Some(&ready);
        self.reported.insert(host.clone(), ready);
        changed || was_assumed
    }

    /// Forgets a removed host.
    pub fn forget(&mut self, host: &HostName) {
        self.assumed.remove(host);
        self.reported.remove(host);
    }

    /// What `host` last reported; `None` when it has not reported since the start.
    pub fn reported(&self, host: &HostName) -> Option<&BTreeSet<ProcessId>> {
        self.reported.get(host)
    }

    /// Ready processes of every host, assumed ones included.
    pub fn effective(&self, hosts: &BTreeMap<HostName, HostIntent>) -> ReadyProcesses {
        let mut out = self.reported.clone();
        for name in &self.assumed {
            if let Some(h) = hosts.get(name) {
                out.insert(name.clone(), processes(&h.roles).into_keys().collect());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> HostName {
        s.parse().unwrap()
    }

    #[test]
    fn assumed_until_reported_then_as_reported() {
        let hosts: BTreeMap<HostName, HostIntent> = [(
            h("h1"),
            HostIntent {
                roles: vec!["mimir:all".parse().unwrap()],
                ..HostIntent::default()
            },
        )]
        .into();
        let mimir = ProcessId::for_role("mimir:all".parse().unwrap());
        let mut r = Readiness::recovered([h("h1")]);
        assert_eq!(r.effective(&hosts)[&h("h1")], [mimir].into());
        assert_eq!(r.reported(&h("h1")), None);
        // The first report counts as a change even when it matches the assumption.
        assert!(r.set(&h("h1"), [mimir].into()));
        assert!(!r.set(&h("h1"), [mimir].into()));
        assert!(r.set(&h("h1"), BTreeSet::new()));
        assert!(r.effective(&hosts)[&h("h1")].is_empty());
        r.forget(&h("h1"));
        assert!(r.effective(&hosts).is_empty());
        // A host new since the start is not ready until it says so.
        assert!(Readiness::default().effective(&hosts).is_empty());
    }
}
