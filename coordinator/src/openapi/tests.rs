//! The document against the code: every wire type's JSON matches its schema exactly.
//! (Routes against the router are checked in `tests/api_openapi.rs`.)

use std::collections::BTreeSet;

use lgtm_model::consistency::{AssignOutcome, BackendConsistency, Replication};
use lgtm_model::process::{Ports, ProcessId};
use lgtm_model::wire::*;
use lgtm_model::{Backend, Role};
use serde::Serialize;
use serde_json::Value;

use super::*;

fn role(s: &str) -> Role {
    s.parse().unwrap()
}

/// Checks `value` against `schema`; with `full`, every property of every object must be present.
fn check(
    schemas: &Map<String, Value>,
    schema: &Value,
    value: &Value,
    full: bool,
    at: &str,
) -> Result<(), String> {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        let s = schemas.get(name).ok_or(format!("{at}: no schema {name}"))?;
        return check(schemas, s, value, full, &format!("{at}<{name}>"));
    }
    if let Some(options) = schema["anyOf"].as_array() {
        return options
            .iter()
            .find(|o| check(schemas, o, value, full, at).is_ok())
            .map(|_| ())
            .ok_or(format!("{at}: {value} matches no alternative"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    let ok = match schema["type"].as_str() {
        Some("object") => {
            let obj = value
                .as_object()
                .ok_or(format!("{at}: not an object: {value}"))?;
            let props = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let map_of = schema["additionalProperties"].is_object();
            for (k, v) in obj {
                let s = match props.get(k) {
                    Some(s) => s,
                    None if map_of => &schema["additionalProperties"],
                    None => return Err(format!("{at}: field '{k}' is not in the schema")),
                };
                check(schemas, s, v, full, &format!("{at}.{k}"))?;
            }
            for req in schema["required"].as_array().into_iter().flatten() {
                let req = req.as_str().unwrap_or_default();
                if !obj.contains_key(req) {
                    return Err(format!("{at}: required field '{req}' missing"));
                }
            }
            if full && schema["properties"].is_object() {
                for k in props.keys() {
                    if !obj.contains_key(k) {
                        return Err(format!(
                            "{at}: schema field '{k}' never appears in the type's JSON"
                        ));
                    }
                }
            }
            true
        }
        Some("array") => {
            let items = value.as_array().ok_or(format!("{at}: not an array"))?;
            for (i, item) in items.iter().enumerate() {
                check(schemas, &schema["items"], item, full, &format!("{at}[{i}]"))?;
            }
            true
        }
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("null") => value.is_null(),
        other => return Err(format!("{at}: unexpected schema type {other:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{at}: {value} is not {}", schema["type"]))
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn unit(full: bool) -> UnitStatus {
    UnitStatus {
        unit: "lgtm-mimir.service".into(),
        active_state: "active".into(),
        sub_state: "running".into(),
        n_restarts: 1,
        main_pid: 42,
        exec_main_status: -1,
        ready: full.then_some(true),
        error: full.then(|| "boom".into()),
    }
}

fn action(full: bool) -> ActionResult {
    ActionResult {
        action: "restart lgtm-mimir.service".into(),
        ok: !full,
        error: full.then(|| "timeout".into()),
    }
}

fn facts() -> HostFacts {
    HostFacts {
        cpus: 2,
        load1: 0.5,
        memory_total_bytes: 1 << 30,
        memory_available_bytes: 1 << 29,
        disks: vec![DiskFact {
            path: "/var/lib/lgtm".into(),
            total_bytes: 10,
            available_bytes: 5,
        }],
    }
}

/// A sample of every schema's type: all optional fields set when `full`, unset otherwise.
fn rollout_process(full: bool) -> RolloutProcess {
    RolloutProcess {
        host: "h1".parse().unwrap(),
        unit: "lgtm-loki-write.service".into(),
        stateful: full,
        note: full.then(|| "not ready".into()),
        retire: full,
    }
}

fn rollout(full: bool) -> RolloutStatus {
    RolloutStatus {
        paused: full.then(|| "paused by an operator".into()),
        restarting: vec![rollout_process(full)],
        waiting: vec![rollout_process(full)],
    }
}

fn samples(full: bool) -> Vec<(&'static str, Value)> {
    let host: lgtm_model::HostName = "h1".parse().unwrap();
    let ing = role("tempo:ingester");
    let id = ProcessId::for_role(ing);
    let opt = |s: &str| full.then(|| s.to_owned());
    vec![
        ("HostName", json(&host)),
        ("Backend", json(&Backend::Loki)),
        ("Role", json(&ing)),
        ("Liveness", json(&Liveness::Stale)),
        (
            "ErrorBody",
            json(&ErrorBody {
                error: ApiError {
                    code: "x".into(),
                    message: "m".into(),
                    field: opt("host"),
                },
            }),
        ),
        (
            "ApiError",
            json(&ApiError {
                code: "x".into(),
                message: "m".into(),
                field: opt("f"),
            }),
        ),
        (
            "RegisterRequest",
            json(&RegisterRequest {
                host: host.clone(),
                address: "fd00::1".parse().unwrap(),
                data_root: "/d".into(),
                agent_version: "1".into(),
            }),
        ),
        (
            "HostRecord",
            json(&HostRecord {
                name: host.clone(),
                address: full.then(|| "198.18.0.2".parse().unwrap()),
                data_root: opt("/d"),
                roles: vec![ing],
                credential: opt("lgtm_host_x"),
            }),
        ),
        (
            "JoinTokenRequest",
            json(&JoinTokenRequest {
                ttl_seconds: full.then_some(60),
            }),
        ),
        (
            "JoinTokenCreated",
            json(&JoinTokenCreated {
                id: "ab".into(),
                token: "lgtm_join_x".into(),
                expires_at: 9,
            }),
        ),
        (
            "JoinTokenRevoked",
            json(&JoinTokenRevoked { id: "ab".into() }),
        ),
        (
            "AssignRequest",
            json(&AssignRequest {
                role: "ingester".into(),
                backend: full.then_some(Backend::Tempo),
            }),
        ),
        (
            "AssignResponse",
            json(&AssignResponse {
                host: host.clone(),
                role: ing,
                outcome: if full {
                    AssignOutcome::Added
                } else {
                    AssignOutcome::AlreadyAssigned
                },
                host_registered: full,
                warnings: vec!["w".into()],
                index: 3,
                also_assigned: if full { vec![ing] } else { vec![] },
            }),
        ),
        (
            "UnassignResponse",
            json(&UnassignResponse {
                host: host.clone(),
                role: ing,
                index: 4,
                warnings: vec![],
                draining: if full {
                    vec!["lgtm-loki-write.service".into()]
                } else {
                    vec![]
                },
            }),
        ),
        (
            "DrainRequest",
            json(&DrainRequest {
                backend: full.then_some(lgtm_model::Backend::Loki),
                force: full,
            }),
        ),
        (
            "DrainResponse",
            json(&DrainResponse {
                host: host.clone(),
                roles: vec![ing],
                index: 4,
                warnings: vec![],
                draining: vec!["lgtm-loki-write.service".into()],
            }),
        ),
        (
            "SwitchRequest",
            json(&SwitchRequest {
                hosts: [(host.clone(), vec!["write".into()])].into(),
            }),
        ),
        (
            "Switched",
            json(&Switched {
                backend: Backend::Loki,
                hosts: [(host.clone(), vec![role("loki:write")])].into(),
                index: 4,
                warnings: vec![],
                draining: vec!["lgtm-loki.service on h1".into()],
            }),
        ),
        (
            "HostRemoved",
            json(&HostRemoved {
                host: host.clone(),
                index: 5,
                warnings: vec!["w".into()],
            }),
        ),
        ("SetSetting", json(&SetSetting { value: "v".into() })),
        (
            "SettingEntry",
            json(&SettingEntry {
                key: "k".into(),
                value: opt("v"),
                secret: !full,
                is_set: full,
                help: "h".into(),
            }),
        ),
        (
            "SettingChanged",
            json(&SettingChanged {
                key: "k".into(),
                index: 6,
            }),
        ),
        ("Ports", json(&id.ports())),
        (
            "ProcessId",
            json(&if full {
                id
            } else {
                ProcessId::for_role(role("mimir:all"))
            }),
        ),
        (
            "DesiredProcess",
            json(&DesiredProcess {
                id,
                roles: vec![ing],
                ports: id.ports(),
                config: "a: 1\n".into(),
                data_dir: "/d/tempo-ingester".into(),
            }),
        ),
        (
            "DesiredState",
            json(&DesiredState {
                host: host.clone(),
                index: 7,
                processes: vec![DesiredProcess {
                    id,
                    roles: vec![ing],
                    ports: id.ports(),
                    config: String::new(),
                    data_dir: "/d".into(),
                }],
                gateway: full.then(|| lgtm_model::wire::DesiredGateway {
                    backends: vec![Backend::Mimir],
                    config: "events {}\n".into(),
                }),
            }),
        ),
        (
            "RenderedProcess",
            json(&RenderedProcess {
                id,
                unit: id.unit_name(),
                roles: vec![ing],
                data_dir: "/d/tempo-ingester".into(),
                config: "a: <redacted>\n".into(),
            }),
        ),
        (
            "RenderedHost",
            json(&RenderedHost {
                host: host.clone(),
                index: 7,
                processes: vec![],
            }),
        ),
        (
            "DesiredGateway",
            json(&lgtm_model::wire::DesiredGateway {
                backends: vec![Backend::Mimir, Backend::Tempo],
                config: "events {}\n".into(),
            }),
        ),
        ("UnitStatus", json(&unit(full))),
        ("ActionResult", json(&action(full))),
        ("DiskFact", json(&facts().disks[0])),
        ("HostFacts", json(&facts())),
        (
            "Report",
            json(&Report {
                applied_index: 7,
                agent_version: "1".into(),
                units: vec![unit(full)],
                actions: vec![action(full)],
                facts: facts(),
            }),
        ),
        (
            "Replication",
            json(&Replication {
                role: ing,
                hosts: 1,
                factor: 1,
            }),
        ),
        (
            "BackendConsistency",
            json(&BackendConsistency {
                backend: Backend::Tempo,
                deployed: true,
                consistent: false,
                missing: vec![role("tempo:querier")],
                replication: vec![Replication {
                    role: ing,
                    hosts: 1,
                    factor: 1,
                }],
                warnings: vec!["w".into()],
            }),
        ),
        (
            "HostStatus",
            json(&HostStatus {
                name: host.clone(),
                address: full.then(|| "198.18.0.2".parse().unwrap()),
                roles: vec![ing],
                liveness: Liveness::Alive,
                last_report_seconds_ago: full.then_some(3),
                desired_index: 7,
                applied_index: full.then_some(7),
                behind: false,
                units: vec![unit(full)],
                failed_actions: vec![action(full)],
                facts: full.then(facts),
            }),
        ),
        (
            "ClusterStatus",
            json(&ClusterStatus {
                index: 7,
                intent_index: 6,
                rollout: rollout(full),
                backends: vec![],
                hosts: vec![],
            }),
        ),
        (
            "RolloutPause",
            json(&RolloutPause {
                reason: full.then(|| "r".into()),
            }),
        ),
        ("RolloutStatus", json(&rollout(full))),
        ("RolloutProcess", json(&rollout_process(full))),
        ("Health", serde_json::json!({ "status": "ok", "index": 7 })),
    ]
    .into_iter()
    .chain(plan_samples(full))
    .collect()
}

fn plan_samples(full: bool) -> Vec<(&'static str, Value)> {
    let host: lgtm_model::HostName = "h1".parse().unwrap();
    let change = if full {
        Change::Assign {
            host: host.clone(),
            role: "ingester".into(),
            backend: Some(Backend::Loki),
        }
    } else {
        Change::Set {
            key: "loki.log_level".into(),
            value: "warn".into(),
            force: false,
        }
    };
    let process = ProcessPlan {
        unit: "lgtm-loki-write.service".into(),
        action: ProcessAction::Restart,
        diff: "@@ -1 +1 @@\n-a\n+b\n".into(),
    };
    let gateway = GatewayPlan {
        action: GatewayAction::Reload,
        diff: String::new(),
    };
    let step = PlannedStep {
        host: host.clone(),
        unit: "lgtm-loki-write.service".into(),
        action: ProcessAction::Drain,
        earlier: full,
    };
    let host_plan = HostPlan {
        host: host.clone(),
        processes: vec![process.clone()],
        gateway: full.then(|| gateway.clone()),
    };
    let replication = ReplicationChange {
        role: role("loki:ingester"),
        before: 1,
        after: 3,
    };
    vec![
        ("Change", json(&change)),
        (
            "Change",
            json(&Change::Switch {
                backend: Backend::Loki,
                hosts: [(host.clone(), vec!["read".into(), "write".into()])].into(),
            }),
        ),
        ("ProcessAction", json(&ProcessAction::Rewrite)),
        (
            "RolloutAborted",
            json(&RolloutAborted {
                index: 9,
                reverted: vec!["set loki.log_level".into()],
                warnings: vec![],
            }),
        ),
        ("GatewayAction", json(&GatewayAction::Stop)),
        ("ProcessPlan", json(&process)),
        ("GatewayPlan", json(&gateway)),
        ("HostPlan", json(&host_plan)),
        ("PlannedStep", json(&step)),
        ("ReplicationChange", json(&replication)),
        (
            "ChangePlan",
            json(&ChangePlan {
                intent_index: 3,
                warnings: vec!["w".into()],
                reverts: vec!["set loki.log_level".into()],
                hosts: vec![host_plan],
                waves: vec![vec![step]],
                held_up: full.then(|| "paused".into()),
                replication: vec![replication],
                consistency: vec![],
            }),
        ),
    ]
}

#[test]
fn every_wire_type_matches_its_schema_both_ways() {
    let schemas = schemas::all();
    let mut seen = BTreeSet::new();
    for full in [true, false] {
        for (name, value) in samples(full) {
            let schema = schemas
                .get(name)
                .unwrap_or_else(|| panic!("no schema {name}"));
            if let Err(e) = check(&schemas, schema, &value, full, name) {
                panic!("{e}\nvalue: {value}");
            }
            seen.insert(name);
        }
    }
    let all: BTreeSet<&str> = schemas.keys().map(String::as_str).collect();
    assert_eq!(seen, all, "every schema has a sample of its type");
}

#[test]
fn the_checker_catches_drift() {
    let schemas = schemas::all();
    let ports = &schemas["Ports"];
    let extra = serde_json::json!({ "http": 1, "grpc": 2, "memberlist": 3, "admin": 4 });
    assert!(
        check(&schemas, ports, &extra, true, "Ports")
            .unwrap_err()
            .contains("'admin' is not in the schema")
    );
    let short = serde_json::json!({ "http": 1, "grpc": 2 });
    assert!(
        check(&schemas, ports, &short, false, "Ports")
            .unwrap_err()
            .contains("'memberlist' missing")
    );
    let wrong = serde_json::json!({ "http": "1", "grpc": 2, "memberlist": 3 });
    assert!(check(&schemas, ports, &wrong, true, "Ports").is_err());
}

#[test]
fn every_reference_resolves_and_paths_are_the_wire_paths() {
    let doc = document();
    let text = doc.to_string();
    let schemas = schemas::all();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let wire: BTreeSet<&str> = [
        paths::HEALTHZ,
        paths::METRICS,
        paths::OPENAPI,
        paths::HOSTS,
        paths::HOST,
        paths::HOST_ROLES,
        paths::HOST_ROLE,
        paths::HOST_DRAIN,
        paths::HOST_DESIRED,
        paths::HOST_REPORT,
        paths::HOST_RENDERED,
        paths::SETTINGS,
        paths::SETTING,
        paths::STATUS,
        paths::JOIN_TOKENS,
        paths::JOIN_TOKEN,
        paths::ROLLOUT,
        paths::ROLLOUT_PAUSE,
        paths::ROLLOUT_RESUME,
        paths::PLAN,
        paths::ROLLOUT_ABORT,
        paths::BACKEND_ROLES,
    ]
    .into();
    assert_eq!(documented, wire);
}

/// Reads `value` as the wire type named `name`: `None` for a name not listed here.
fn read_as(name: &str, value: Value) -> Option<Result<(), String>> {
    macro_rules! as_type {
        ($($t:ident),* $(,)?) => {
            match name {
                $(stringify!($t) => Some(
                    serde_json::from_value::<$t>(value).map(|_| ()).map_err(|e| e.to_string()),
                ),)*
                _ => None,
            }
        };
    }
    as_type!(
        RegisterRequest,
        JoinTokenRequest,
        AssignRequest,
        DrainRequest,
        SwitchRequest,
        SetSetting,
        UnitStatus,
        ActionResult,
        DiskFact,
        HostFacts,
        Report,
        RolloutPause,
        Change,
        ErrorBody,
        ApiError,
        HostRecord,
        JoinTokenCreated,
        JoinTokenRevoked,
        AssignResponse,
        UnassignResponse,
        DrainResponse,
        Switched,
        HostRemoved,
        SettingEntry,
        SettingChanged,
        DesiredProcess,
        DesiredState,
        RenderedProcess,
        RenderedHost,
        DesiredGateway,
        HostStatus,
        ClusterStatus,
        RolloutStatus,
        RolloutProcess,
        RolloutAborted,
        ProcessPlan,
        GatewayPlan,
        HostPlan,
        PlannedStep,
        ReplicationChange,
        ChangePlan,
        Replication,
        BackendConsistency,
        Ports,
        ProcessId,
    )
}

/// What the coordinator reads from clients: strict, so nothing asked is silently ignored.
const REQUESTS: &[&str] = &[
    "RegisterRequest",
    "JoinTokenRequest",
    "AssignRequest",
    "DrainRequest",
    "SwitchRequest",
    "SetSetting",
    "UnitStatus",
    "ActionResult",
    "DiskFact",
    "HostFacts",
    "Report",
    "RolloutPause",
    "Change",
];

#[test]
fn answers_accept_fields_a_newer_coordinator_adds_and_requests_refuse_them() {
    for (name, mut value) in samples(true) {
        let Some(obj) = value.as_object_mut() else {
            continue;
        };
        obj.insert("said_by_a_newer_version".into(), Value::from(1));
        let Some(read) = read_as(name, value) else {
            // Not a wire type of its own (the health answer).
            assert_eq!(name, "Health", "{name} is an object: list it in read_as");
            continue;
        };
        if REQUESTS.contains(&name) {
            let e = read.expect_err(name);
            assert!(e.contains("unknown field"), "{name}: {e}");
        } else {
            read.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
