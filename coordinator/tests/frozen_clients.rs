//! The skew rule, held to: agents and `lgtmctl` of the previous release, speaking its wire types
//! (a frozen copy in `frozen/`), work with this coordinator. The agent joins, long-polls, runs
//! what it is given and reports; the operator assigns, plans, changes settings, follows the
//! rollout and reads the status. Every answer is read with the old types, as the old programs
//! read it: a field they require that this coordinator no longer sends, or a new variant of an
//! enum they know, fails here.
//!
//! `frozen/README.md` says what is frozen and how to freeze the next release.
#![allow(clippy::unwrap_used)]

mod common;

#[path = "frozen/v0_1/model.rs"]
mod model;
// A verbatim copy: this test need not use every type and path of it.
#[allow(dead_code, unused_imports)]
#[path = "frozen/v0_1/wire.rs"]
mod wire;

// The frozen wire types name the model as `crate::catalog`, `crate::names`, ... verbatim.
use model::{catalog, consistency, names, process};

use axum::body::Body;
use axum::http::{Request, header};
use common::{Answer, Api};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wire::paths;

/// A frozen path with `{host}` (and `{role}`, `{key}`) filled in.
fn at(path: &str, fill: &[(&str, &str)]) -> String {
    fill.iter().fold(path.to_owned(), |p, (k, v)| {
        p.replace(&format!("{{{k}}}"), v)
    })
}

/// The release the frozen types are from: what its programs send as their version.
const FROZEN: &str = "0.1.0";

const H1: &[(&str, &str)] = &[("host", "host1")];

/// A client of the frozen release: says its version, sends a credential, reads the answer with
/// the frozen types.
struct OldClient<'a> {
    api: &'a Api,
    token: String,
}

impl OldClient<'_> {
    /// Sends as a frozen client does: its version, its credential, a frozen request body.
    async fn send(&self, method: &str, uri: &str, body: Option<&impl Serialize>) -> Answer {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(lgtm_model::skew::HEADER, FROZEN)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json");
        let body = body.map_or(Body::empty(), |b| {
            Body::from(serde_json::to_vec(b).unwrap())
        });
        self.api.send_bare(req.body(body).unwrap()).await
    }

    /// A request that must succeed, its answer read with the frozen types.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        uri: &str,
        body: Option<&impl Serialize>,
    ) -> T {
        let answer = self.send(method, uri, body).await;
        assert!(
            answer.status.is_success(),
            "{method} {uri}: {} {}",
            answer.status,
            answer.body
        );
        read(method, uri, answer)
    }

    /// A request that must be refused, its error read with the frozen types.
    async fn refused(
        &self,
        method: &str,
        uri: &str,
        body: Option<&impl Serialize>,
    ) -> wire::ApiError {
        let answer = self.send(method, uri, body).await;
        assert!(
            answer.status.is_client_error(),
            "{method} {uri}: {answer:?}"
        );
        read::<wire::ErrorBody>(method, uri, answer).error
    }

    async fn get<T: DeserializeOwned>(&self, uri: &str) -> T {
        self.call("GET", uri, None::<&()>).await
    }
}

fn read<T: DeserializeOwned>(method: &str, uri: &str, answer: Answer) -> T {
    serde_json::from_value(answer.body.clone()).unwrap_or_else(|e| {
        panic!(
            "a {FROZEN} client cannot read {method} {uri}: {e}\n{:#}",
            answer.body
        )
    })
}

#[tokio::test]
async fn an_agent_and_lgtmctl_of_the_previous_release_work_with_this_coordinator() {
    let api = Api::new();
    let admin = OldClient {
        api: &api,
        token: api.token("admin"),
    };

    // lgtmctl join-token create; the agent joins with it and keeps its credential.
    let join: wire::JoinTokenCreated = admin
        .call(
            "POST",
            paths::JOIN_TOKENS,
            Some(&wire::JoinTokenRequest {
                ttl_seconds: Some(600),
            }),
        )
        .await;
    let joining = OldClient {
        api: &api,
        token: join.token,
    };
    let record: wire::HostRecord = joining
        .call(
            "POST",
            paths::HOSTS,
            Some(&wire::RegisterRequest {
                host: "host1".parse().unwrap(),
                address: "198.18.0.2".parse().unwrap(),
                data_root: "/var/lib/lgtm".into(),
                agent_version: FROZEN.into(),
            }),
        )
        .await;
    let agent = OldClient {
        api: &api,
        token: record
            .credential
            .expect("a joining agent gets its credential"),
    };

    // lgtmctl assign-role --dry-run, then assign-role at the planned index.
    let change = wire::Change::Assign {
        host: "host1".parse().unwrap(),
        role: "loki:all".into(),
        backend: None,
    };
    let plan: wire::ChangePlan = admin.call("POST", paths::PLAN, Some(&change)).await;
    assert!(
        plan.hosts.iter().any(|h| h.host.to_string() == "host1"),
        "{plan:#?}"
    );
    let assigned: wire::AssignResponse = admin
        .call(
            "POST",
            &format!(
                "{}?check_index={}",
                at(paths::HOST_ROLES, H1),
                plan.intent_index
            ),
            Some(&wire::AssignRequest {
                role: "loki:all".into(),
                backend: None,
            }),
        )
        .await;
    assert_eq!(assigned.outcome, consistency::AssignOutcome::Added);

    // The agent's long-poll and report.
    let desired: wire::DesiredState = agent.get(&(at(paths::HOST_DESIRED, H1) + "?index=0")).await;
    let process = desired.processes.first().expect("loki:all is a process");
    assert_eq!(process.id.backend, names::Backend::Loki);
    assert!(process.config.contains("common:"), "{}", process.config);
    let report = wire::Report {
        applied_index: desired.index,
        agent_version: FROZEN.into(),
        units: vec![wire::UnitStatus {
            unit: "lgtm-loki.service".into(),
            active_state: "active".into(),
            sub_state: "running".into(),
            n_restarts: 0,
            main_pid: 42,
            exec_main_status: 0,
            ready: Some(true),
            error: None,
        }],
        actions: vec![wire::ActionResult {
            action: "start lgtm-loki.service".into(),
            ok: true,
            error: None,
        }],
        facts: wire::HostFacts {
            cpus: 2,
            load1: 0.5,
            memory_total_bytes: 1 << 30,
            memory_available_bytes: 1 << 29,
            disks: vec![],
        },
    };
    let _: serde_json::Value = agent
        .call("POST", &at(paths::HOST_REPORT, H1), Some(&report))
        .await;

    // lgtmctl config set/get, status, hosts, rollout status, rendered.
    let set: wire::SettingChanged = admin
        .call(
            "PUT",
            &at(paths::SETTING, &[("key", "loki.log_level")]),
            Some(&wire::SetSetting {
                value: "warn".into(),
            }),
        )
        .await;
    assert_eq!(set.key, "loki.log_level");
    let settings: Vec<wire::SettingEntry> = admin.get(paths::SETTINGS).await;
    assert!(
        settings
            .iter()
            .any(|s| s.key == "loki.log_level" && s.value.as_deref() == Some("warn")),
        "{settings:#?}"
    );
    let status: wire::ClusterStatus = admin.get(paths::STATUS).await;
    let host = &status.hosts[0];
    assert_eq!(host.liveness, wire::Liveness::Alive);
    assert_eq!(host.roles, vec!["loki:all".parse().unwrap()]);
    assert_eq!(host.units[0].ready, Some(true));
    let hosts: Vec<wire::HostRecord> = admin.get(paths::HOSTS).await;
    assert_eq!(hosts.len(), 1);
    let _: wire::HostRecord = admin.get(&at(paths::HOST, H1)).await;
    let _: wire::RolloutStatus = admin.get(paths::ROLLOUT).await;
    let _: wire::RenderedHost = admin.get(&at(paths::HOST_RENDERED, H1)).await;

    // lgtmctl rollout pause / resume.
    let pause = wire::RolloutPause {
        reason: Some("night".into()),
    };
    let paused: wire::RolloutStatus = admin.call("POST", paths::ROLLOUT_PAUSE, Some(&pause)).await;
    assert!(
        paused
            .paused
            .as_deref()
            .is_some_and(|p| p.contains("night")),
        "{paused:#?}"
    );
    let resumed: wire::RolloutStatus = admin.call("POST", paths::ROLLOUT_RESUME, None::<&()>).await;
    assert_eq!(resumed.paused, None, "{resumed:#?}");

    // lgtmctl unassign-role of the only ingester: refused with a readable reason, then forced.
    let role = at(paths::HOST_ROLE, &[("host", "host1"), ("role", "loki:all")]);
    let refusal = admin.refused("DELETE", &role, None::<&()>).await;
    assert_eq!(
        (refusal.code.as_str(), refusal.field.as_deref()),
        ("ring_quorum", Some("force")),
        "{refusal:?}"
    );
    let gone: wire::UnassignResponse = admin
        .call("DELETE", &(role + "?force=true"), None::<&()>)
        .await;
    assert_eq!(gone.role, "loki:all".parse().unwrap());
    let _: wire::RolloutStatus = admin.get(paths::ROLLOUT).await;
    let _: wire::ClusterStatus = admin.get(paths::STATUS).await;
}

#[test]
fn every_role_of_the_previous_release_is_still_known() {
    for role in catalog::ROLES {
        assert!(
            role.parse::<lgtm_model::catalog::Role>().is_ok(),
            "{role}: a {FROZEN} client may send it"
        );
    }
}
