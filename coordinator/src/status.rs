//! Cluster status as a pure function of the cluster view and the agents' last reports.

use std::collections::BTreeMap;
use std::time::Duration;

use lgtm_model::consistency;
use lgtm_model::render::RenderError;
use lgtm_model::wire::{ClusterStatus, HostStatus, Known, Liveness, RolloutStatus};
use lgtm_model::{Backend, HostName};

use crate::cluster::View;
use crate::reports::LastReport;

/// Whether an agent is heard from, given the age of its last report.
pub fn liveness(age: Option<Duration>, ttl: Duration) -> Liveness {
    match age {
        None => Liveness::Unknown,
        Some(age) if age <= ttl => Liveness::Alive,
        Some(_) => Liveness::Stale,
    }
}

/// The status of the whole cluster.
pub fn cluster_status(
    view: &View,
    reports: &BTreeMap<HostName, LastReport>,
    ttl: Duration,
    rollout: RolloutStatus,
) -> ClusterStatus {
    let assignments = view.assignments();
    let mut backends: Vec<_> = Backend::ALL
        .iter()
        .map(|b| consistency::evaluate(*b, &assignments))
        .collect();
    // A host that cannot be rendered keeps running its old state: the operator must know.
    for (name, host) in &view.hosts {
        let Err(e) = &host.rendered else { continue };
        for verdict in backends.iter_mut() {
            let concerned = match e {
                RenderError::MissingSetting { backend, .. } => *backend == verdict.backend,
                _ => host.roles.iter().any(|r| r.backend() == verdict.backend),
            };
            // Only a missing setting does not name the host itself.
            let warning = match e {
                RenderError::MissingSetting { .. } => format!("{name}: {e}"),
                _ => e.to_string(),
            };
            if concerned && !verdict.warnings.contains(&warning) {
                verdict.warnings.push(warning);
            }
        }
    }
    let hosts = view
        .hosts
        .iter()
        .map(|(name, host)| {
            let last = reports.get(name);
            let applied_index = last.map(|l| l.report.applied_index);
            HostStatus {
                name: name.clone(),
                address: host.address,
                roles: Known::all(host.roles.iter().copied()),
                liveness: liveness(last.map(|l| l.age), ttl).into(),
                last_report_seconds_ago: last.map(|l| l.age.as_secs()),
                desired_index: host.desired_index,
                applied_index,
                behind: applied_index.unwrap_or(0) < host.desired_index,
                units: last.map(|l| l.report.units.clone()).unwrap_or_default(),
                failed_actions: last
                    .map(|l| l.report.actions.iter().filter(|a| !a.ok).cloned().collect())
                    .unwrap_or_default(),
                facts: last.map(|l| l.report.facts.clone()),
            }
        })
        .collect();
    ClusterStatus {
        index: view.index,
        intent_index: view.intent_index,
        rollout,
        backends: backends.into_iter().map(Into::into).collect(),
        hosts,
    }
}

#[cfg(test)]
mod tests;
