//! Table tests of liveness and status computation over hand-built views.

use std::sync::Arc;

use lgtm_model::wire::{ActionResult, Report, UnitStatus};

use super::*;
use crate::cluster::{HostView, Rendered};

const TTL: Duration = Duration::from_secs(30);

#[test]
fn liveness_table() {
    let s = Duration::from_secs;
    let cases = [
        (None, Liveness::Unknown),
        (Some(s(0)), Liveness::Alive),
        (Some(s(30)), Liveness::Alive),
        (Some(s(31)), Liveness::Stale),
        (Some(s(3600)), Liveness::Stale),
    ];
    for (age, want) in cases {
        assert_eq!(liveness(age, TTL), want, "{age:?}");
    }
}

fn h(s: &str) -> HostName {
    s.parse().unwrap()
}

fn host(roles: &[&str], desired_index: u64, rendered: Rendered) -> HostView {
    HostView {
        address: Some("198.18.0.2".parse().unwrap()),
        data_root: Some("/d".into()),
        roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
        desired_index,
        target: rendered.clone(),
        rendered,
        ready: None,
    }
}

fn report(applied_index: u64, age: u64) -> LastReport {
    LastReport {
        report: Arc::new(Report {
            applied_index,
            agent_version: "0.1.0".into(),
            units: vec![UnitStatus {
                unit: "lgtm-mimir.service".into(),
                active_state: "active".into(),
                ..UnitStatus::default()
            }],
            actions: vec![
                ActionResult {
                    action: "start lgtm-mimir.service".into(),
                    ok: true,
                    error: None,
                },
                ActionResult {
                    action: "restart lgtm-loki.service".into(),
                    ok: false,
                    error: Some("timeout".into()),
                },
            ],
            ..Report::default()
        }),
        age: Duration::from_secs(age),
    }
}

#[test]
fn hosts_and_backends() {
    let ok: Rendered = Ok(Arc::new(crate::cluster::HostContent::default()));
    let missing_bucket: Rendered = Err(RenderError::MissingSetting {
        backend: Backend::Loki,
        key: "loki.storage.s3.bucket".into(),
    });
    let unregistered: Rendered = Err(RenderError::NotRegistered(h("new")));
    let view = View {
        index: 9,
        intent_index: 8,
        hosts: [
            (h("current"), host(&["mimir:all"], 5, ok.clone())),
            (h("behind"), host(&["mimir:querier"], 9, ok.clone())),
            (h("silent"), host(&["loki:all"], 7, missing_bucket)),
            (h("new"), host(&["tempo:all"], 8, unregistered)),
        ]
        .into(),
        ..View::default()
    };
    let reports = [(h("current"), report(5, 3)), (h("behind"), report(4, 99))].into();
    let st = cluster_status(&view, &reports, TTL, Default::default());
    assert_eq!(st.index, 9);
    let rows: Vec<_> = st
        .hosts
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                *s.liveness.known().expect("this build's liveness"),
                s.applied_index,
                s.behind,
                s.last_report_seconds_ago,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("behind", Liveness::Stale, Some(4), true, Some(99)),
            ("current", Liveness::Alive, Some(5), false, Some(3)),
            ("new", Liveness::Unknown, None, true, None),
            ("silent", Liveness::Unknown, None, true, None),
        ]
    );
    let current = &st.hosts[1];
    assert_eq!(current.units.len(), 1);
    assert_eq!(current.failed_actions.len(), 1);
    assert_eq!(
        current.failed_actions[0].action,
        "restart lgtm-loki.service"
    );
    assert!(current.facts.is_some() && st.hosts[2].facts.is_none());

    let backends: Vec<_> = st
        .backends
        .iter()
        .map(|b| (b.backend, b.consistent))
        .collect();
    assert_eq!(
        backends,
        [
            (Backend::Mimir, true),
            (Backend::Loki, true),
            (Backend::Tempo, true)
        ]
    );
    let loki = &st.backends[1].warnings;
    assert!(
        loki.iter()
            .any(|w| w
                .starts_with("silent: loki storage is s3 but loki.storage.s3.bucket is not set")),
        "{loki:?}"
    );
    let tempo = &st.backends[2].warnings;
    assert!(
        tempo
            .iter()
            .any(|w| w == "host new has not registered yet; start lgtm-agent on it"),
        "{tempo:?}"
    );
    assert!(
        !st.backends[0]
            .warnings
            .iter()
            .any(|w| w.contains("silent") || w.contains("new:"))
    );
}
