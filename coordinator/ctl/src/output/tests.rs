//! Formatting tests: fixed inputs, the exact text an operator sees.

use lgtm_model::wire::{
    ActionResult, BackendVerdict, ClusterStatus, DrainResponse, HostFacts, HostStatus, Liveness,
    ReplicationVerdict, RolloutProcess, RolloutStatus, UnitStatus,
};
use lgtm_model::{Backend, HostName};

use super::*;

fn role(s: &str) -> Known<Role> {
    Known::Is(s.parse().expect("test role"))
}

fn name(s: &str) -> HostName {
    s.parse().expect("test host")
}

fn sample_status() -> ClusterStatus {
    let mimir = BackendVerdict {
        backend: Backend::Mimir,
        deployed: true,
        consistent: false,
        missing: vec![role("mimir:querier"), role("mimir:ruler")],
        replication: vec![ReplicationVerdict {
            role: role("mimir:ingester"),
            hosts: 1,
            factor: 1,
        }],
        warnings: vec!["mimir:ingester runs with replication factor 1 (1 host): losing one host loses data; assign it to at least 3 hosts".into()],
    };
    let loki = BackendVerdict {
        backend: Backend::Loki,
        deployed: true,
        consistent: true,
        missing: vec![],
        replication: vec![ReplicationVerdict {
            role: role("loki:ingester"),
            hosts: 3,
            factor: 3,
        }],
        warnings: vec![],
    };
    let tempo = BackendVerdict {
        backend: Backend::Tempo,
        deployed: false,
        consistent: false,
        missing: vec![role("tempo:compactor")],
        replication: vec![],
        warnings: vec![],
    };
    let h1 = HostStatus {
        name: name("host1"),
        address: Some("198.18.0.1".parse().expect("ip")),
        roles: vec![role("loki:all"), role("mimir:write")],
        liveness: Liveness::Alive.into(),
        last_report_seconds_ago: Some(3),
        desired_index: 14,
        applied_index: Some(14),
        behind: false,
        units: vec![
            UnitStatus {
                unit: "lgtm-loki.service".into(),
                active_state: "active".into(),
                sub_state: "running".into(),
                n_restarts: 0,
                main_pid: 42,
                exec_main_status: 0,
                ready: Some(true),
                error: None,
            },
            UnitStatus {
                unit: "lgtm-mimir.service".into(),
                active_state: "failed".into(),
                sub_state: "failed".into(),
                n_restarts: 5,
                main_pid: 0,
                exec_main_status: 1,
                ready: None,
                error: Some(
                    "exit status 1\nerror loading config: field foo not found\x1b[0m".into(),
                ),
            },
        ],
        failed_actions: vec![ActionResult {
            action: "restart lgtm-mimir.service".into(),
            ok: false,
            error: Some("job failed".into()),
        }],
        facts: Some(HostFacts {
            cpus: 4,
            load1: 0.5,
            memory_total_bytes: 8 << 30,
            memory_available_bytes: 6 << 30,
            disks: vec![],
        }),
    };
    let h3 = HostStatus {
        name: name("host3"),
        address: None,
        roles: vec![role("mimir:ingester")],
        liveness: Liveness::Unknown.into(),
        last_report_seconds_ago: None,
        desired_index: 12,
        applied_index: None,
        behind: true,
        units: vec![],
        failed_actions: vec![],
        facts: None,
    };
    ClusterStatus {
        index: 14,
        intent_index: 12,
        rollout: RolloutStatus::default(),
        backends: vec![mimir, loki, tempo],
        hosts: vec![h1, h3],
    }
}

#[test]
fn status_separates_desired_from_reported() {
    let got = status::status(&sample_status());
    let want = "\
cluster index 14
desired:  backend verdicts, roles, desired index (coordinator)
reported: agent liveness, applied index, units (by agents 3s ago)

BACKEND  STATE                   REPLICATION
mimir    MISSING querier, ruler  ingester RF 1 on 1 host
loki     consistent              ingester RF 3 on 3 hosts
tempo    not deployed            -
warning: mimir:ingester runs with replication factor 1 (1 host): losing one host loses data; assign it to at least 3 hosts

HOST   ROLES                  AGENT           APPLIED/DESIRED
host1  loki:all, mimir:write  alive, 3s ago   14/14
host3  mimir:ingester         never reported  -/12 behind

HOST   UNIT                STATE           READY  RESTARTS  ERROR
host1  lgtm-loki.service   active/running  yes    0
host1  lgtm-mimir.service  failed/failed   -      5         exit status 1…
host3  lgtm-mimir.service  not reported

failed: host1: restart lgtm-mimir.service: job failed
";
    assert_eq!(got, want, "got:\n{got}");
}

#[test]
fn a_newer_coordinators_liveness_is_shown_as_it_says_it() {
    // As a coordinator a minor version ahead would answer, with a liveness this build lacks.
    let mut json = serde_json::to_value(sample_status()).expect("serializes");
    json["hosts"][0]["liveness"] = "draining\x1b[0m".into();
    let s: ClusterStatus = serde_json::from_value(json).expect("an older lgtmctl reads it");
    let got = status::status(&s);
    assert!(
        got.contains("host1  loki:all, mimir:write  draining\\u{1b}[0m, 3s ago"),
        "{got}"
    );
}

#[test]
fn a_newer_coordinators_roles_are_shown_as_it_says_them() {
    // A role this build lacks, assigned, missing and replicated: the status still reads.
    let mut json = serde_json::to_value(sample_status()).expect("serializes");
    json["hosts"][0]["roles"][1] = "loki:bloom-planner".into();
    json["backends"][0]["missing"][1] = "mimir:usage-tracker".into();
    json["backends"][1]["replication"][0]["role"] = "loki:pattern-ingester".into();
    let s: ClusterStatus = serde_json::from_value(json).expect("an older lgtmctl reads it");
    assert_eq!(
        s.hosts[0].roles[1],
        Known::Newer("loki:bloom-planner".into())
    );
    let got = status::status(&s);
    for want in [
        "host1  loki:all, loki:bloom-planner  alive, 3s ago",
        "MISSING querier, usage-tracker",
        "pattern-ingester RF 3 on 3 hosts",
    ] {
        assert!(got.contains(want), "{want}\n{got}");
    }
}

#[test]
fn empty_cluster_says_what_to_do() {
    let s = ClusterStatus {
        index: 0,
        intent_index: 0,
        rollout: RolloutStatus::default(),
        backends: vec![],
        hosts: vec![],
    };
    let got = status::status(&s);
    assert!(got.contains("(no agent has reported yet)"), "{got}");
    assert!(got.contains("no hosts yet: start lgtm-agent"), "{got}");
}

#[test]
fn host_detail() {
    let s = sample_status();
    let h = &s.hosts[0];
    let record = HostRecord {
        name: h.name.clone(),
        address: h.address,
        data_root: Some("/var/lib/lgtm".into()),
        roles: h.roles.clone(),
        credential: None,
    };
    let got = status::host(&record, Some(h));
    let want = "\
host              host1
address           198.18.0.1
data root         /var/lib/lgtm
roles (desired)   loki:all, mimir:write
agent (reported)  alive, 3s ago
applied/desired   14/14

units (reported):
UNIT                STATE           READY  RESTARTS  ERROR
lgtm-loki.service   active/running  yes    0
lgtm-mimir.service  failed/failed   -      5         exit status 1…

failed: host1: restart lgtm-mimir.service: job failed

facts (reported): 4 CPUs, load 0.50, memory 6144 of 8192 MiB available
";
    assert_eq!(got, want, "got:\n{got}");
    let bare = HostRecord {
        name: name("host9"),
        address: None,
        data_root: None,
        roles: vec![],
        credential: None,
    };
    assert_eq!(
        status::host(&bare, None),
        "host             host9\naddress          - (agent not registered)\ndata root        -\nroles (desired)  -\n"
    );
}

#[test]
fn change_messages() {
    let mut a = AssignResponse {
        host: name("host3"),
        role: role("mimir:ingester"),
        outcome: AssignOutcome::Added,
        host_registered: false,
        warnings: vec!["host3 has not registered yet".into()],
        index: 12,
        also_assigned: vec![],
    };
    assert_eq!(
        assigned(&a),
        "assigned mimir:ingester to host3 (index 12)\n"
    );
    a.role = role("mimir:write");
    assert_eq!(
        assigned(&a),
        "assigned mimir:write (distributor, ingester) to host3 (index 12)\n"
    );
    a.outcome = AssignOutcome::AlreadyAssigned;
    assert_eq!(
        assigned(&a),
        "host3 already has mimir:write (distributor, ingester); nothing changed (index 12)\n"
    );
    assert_eq!(
        warnings(&a.warnings),
        "warning: host3 has not registered yet\n"
    );
    let u = UnassignResponse {
        host: name("host3"),
        role: role("loki:ingester"),
        index: 13,
        warnings: vec![],
        draining: vec![],
    };
    assert_eq!(
        unassigned(&u),
        "unassigned loki:ingester from host3 (index 13)\n"
    );
    let u = UnassignResponse {
        draining: vec!["lgtm-loki-write.service".into()],
        ..u
    };
    assert_eq!(
        unassigned(&u),
        "unassigned loki:ingester from host3 (index 13)\nlgtm-loki-write.service flushes and leaves its ring first, one ring member at a time (`lgtmctl rollout status`)\n"
    );
    let d = DrainResponse {
        host: name("host3"),
        roles: vec![role("loki:write"), role("loki:gateway")],
        index: 14,
        warnings: vec![],
        draining: vec![
            "lgtm-loki-write.service".into(),
            "lgtm-tempo-ingester.service".into(),
        ],
    };
    assert_eq!(
        drained(&d),
        "drained host3: unassigned loki:write, loki:gateway (index 14)\nlgtm-loki-write.service, lgtm-tempo-ingester.service flush and leave their rings first, one ring member at a time (`lgtmctl rollout status`)\n"
    );
    let d = DrainResponse {
        roles: vec![],
        draining: vec![],
        ..d
    };
    assert_eq!(
        drained(&d),
        "drained host3: no roles left to unassign (index 14)\n"
    );
    let c = SettingChanged {
        key: "mimir.storage.s3.secret_access_key".into(),
        index: 15,
    };
    assert_eq!(
        setting_changed(&c),
        "set mimir.storage.s3.secret_access_key (index 15)\n"
    );
}

#[test]
fn host_list() {
    let list = vec![
        HostRecord {
            name: name("host1"),
            address: Some("198.18.0.1".parse().expect("ip")),
            data_root: Some("/var/lib/lgtm".into()),
            roles: vec![role("mimir:all")],
            credential: None,
        },
        HostRecord {
            name: name("host3"),
            address: None,
            data_root: None,
            roles: vec![],
            credential: None,
        },
    ];
    assert_eq!(
        hosts(&list),
        "\
HOST   ADDRESS             ROLES (desired)
host1  198.18.0.1          mimir:all
host3  - (not registered)  -
"
    );
    assert!(hosts(&[]).starts_with("no hosts yet"));
}

#[test]
fn secrets_never_show_a_value() {
    let entry = |key: &str, value: Option<&str>, secret, is_set| SettingEntry {
        key: key.into(),
        value: value.map(str::to_owned),
        secret,
        is_set,
        help: "help".into(),
    };
    let list = vec![
        entry("mimir.log_level", Some("info"), false, true),
        entry("mimir.storage.s3.bucket", Some(""), false, false),
        entry("mimir.storage.s3.secret_access_key", None, true, false),
        // Even a coordinator that wrongly sent a secret's value must not get it printed.
        entry(
            "loki.storage.s3.secret_access_key",
            Some("hunter2"),
            true,
            true,
        ),
    ];
    let got = settings(&list);
    assert_eq!(
        got,
        "\
KEY                                 VALUE    HELP
mimir.log_level                     info     help
mimir.storage.s3.bucket             -        help
mimir.storage.s3.secret_access_key  <unset>  help
loki.storage.s3.secret_access_key   <set>    help
"
    );
    assert!(!got.contains("hunter2"));
}

#[test]
fn rollout_shows_restarting_then_waiting() {
    let p = |host: &str, unit: &str, stateful, note: Option<&str>| RolloutProcess {
        host: host.parse().unwrap(),
        unit: unit.into(),
        stateful,
        note: note.map(Into::into),
        retire: false,
    };
    let r = RolloutStatus {
        paused: None,
        restarting: vec![p(
            "host1",
            "lgtm-loki-write.service",
            true,
            Some("not ready: /ready answers 503: Ingester not ready\nmore"),
        )],
        waiting: vec![
            p("host2", "lgtm-loki-write.service", true, None),
            p("host2", "lgtm-loki-read.service", false, None),
            RolloutProcess {
                retire: true,
                ..p("host3", "lgtm-loki-write.service", true, None)
            },
        ],
    };
    let want = "\
rollout: 1 restarting, 3 waiting
HOST   UNIT                     RING    STATE           NOTE
host1  lgtm-loki-write.service  member  restarting      not ready: /ready answers 503: Ingester not ready…
host2  lgtm-loki-write.service  member  waiting         -
host2  lgtm-loki-read.service   -       waiting         -
host3  lgtm-loki-write.service  member  waits to drain  -
";
    let got = rollout(&r);
    assert_eq!(got, want, "got:\n{got}");
    assert_eq!(
        rollout(&RolloutStatus::default()),
        "rollout: idle, nothing waits for a restart\n"
    );
    let paused = RolloutStatus {
        paused: Some("paused by an operator: night".into()),
        ..RolloutStatus::default()
    };
    assert_eq!(
        rollout(&paused),
        "rollout PAUSED: paused by an operator: night\n"
    );
}
