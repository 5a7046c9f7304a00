//! Table tests of the pure operation planner.

use super::*;

fn h(s: &str) -> HostName {
    s.parse().unwrap()
}
fn r(s: &str) -> Role {
    s.parse().unwrap()
}

/// Applies ops in order, keeping the intent only when each succeeds.
fn run(ops: &[Op]) -> Intent {
    let mut intent = Intent::default();
    for op in ops {
        intent = plan(&intent, op)
            .unwrap_or_else(|e| panic!("{op}: {e}"))
            .next;
    }
    intent
}

fn register(host: &str) -> Op {
    Op::Register {
        host: h(host),
        address: "198.18.0.2".parse().unwrap(),
        data_root: "/var/lib/lgtm".into(),
    }
}
fn assign(host: &str, role: &str) -> Op {
    Op::Assign {
        host: h(host),
        role: role.into(),
        backend: None,
    }
}
fn unassign(host: &str, role: &str, force: bool) -> Op {
    Op::Unassign {
        host: h(host),
        role: role.into(),
        force,
    }
}
fn set(key: &str, value: &str) -> Op {
    Op::Set {
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn assigning_to_an_unregistered_host_creates_it_with_a_warning() {
    let p = plan(&Intent::default(), &assign("host3", "ingester")).unwrap();
    assert_eq!(
        p.changes,
        vec![
            Change::PutHost {
                host: h("host3"),
                address: None,
                data_root: None
            },
            Change::AddRole(h("host3"), r("mimir:ingester")),
        ]
    );
    let Reply::Assigned {
        role,
        outcome,
        host_registered,
        warnings,
        ..
    } = p.reply
    else {
        panic!("{:?}", p.reply)
    };
    assert_eq!(role, r("mimir:ingester"));
    assert_eq!(outcome, AssignOutcome::Added);
    assert!(!host_registered);
    assert_eq!(
        warnings[0],
        "host3 has not registered yet; it gets its roles when its agent starts"
    );
    assert!(warnings[1].contains("mimir still lacks required roles: mimir:compactor"));
    assert!(warnings.iter().any(|w| w.contains("replication factor 1")));
}

#[test]
fn assignment_outcomes_and_refusals() {
    let base = run(&[
        register("h1"),
        assign("h1", "tempo:all"),
        assign("h1", "write"),
    ]);
    assert_eq!(
        base.hosts[&h("h1")].roles,
        vec![r("mimir:write"), r("tempo:all")]
    );
    let again = plan(&base, &assign("h1", "mimir:write")).unwrap();
    assert!(again.changes.is_empty());
    assert!(matches!(
        again.reply,
        Reply::Assigned {
            outcome: AssignOutcome::AlreadyAssigned,
            host_registered: true,
            ..
        }
    ));
    let loki = plan(
        &base,
        &Op::Assign {
            host: h("h1"),
            role: "write".into(),
            backend: Some(Backend::Loki),
        },
    )
    .unwrap();
    assert!(matches!(loki.reply, Reply::Assigned { role, .. } if role == r("loki:write")));
    let cases: &[(Op, &str)] = &[
        (
            assign("h1", "quorier"),
            "unknown role 'quorier' for mimir; did you mean 'querier'?",
        ),
        (
            assign("h1", "tempo:ingester"),
            "h1 already runs tempo:all, which includes ingester",
        ),
        (assign("h1", ""), "role is empty"),
    ];
    for (op, want) in cases {
        let e = plan(&base, op).unwrap_err().to_string();
        assert!(e.contains(want), "{op}: {e}");
    }
}

#[test]
fn unassigning() {
    let base = run(&[
        register("h1"),
        assign("h1", "querier"),
        assign("h1", "ingester"),
        assign("h2", "loki:all"),
    ]);
    let p = plan(&base, &unassign("h1", "querier", false)).unwrap();
    assert_eq!(
        p.changes,
        vec![Change::RemoveRole(h("h1"), r("mimir:querier"))]
    );
    let Reply::Unassigned { role, warnings } = &p.reply else {
        panic!()
    };
    assert_eq!(*role, r("mimir:querier"));
    assert_eq!(
        warnings,
        &vec!["mimir:querier now runs on no host, and mimir needs it: assign it to a host to make mimir consistent again".to_string()]
    );
    let cases: &[(Op, &str)] = &[
        (
            unassign("h1", "ingester", false),
            "mimir:ingester on h1 is stateful: it holds data",
        ),
        (
            unassign("h1", "loki:all", false),
            "h1 does not have role loki:all; its roles are mimir:ingester, mimir:querier",
        ),
        (unassign("h9", "querier", false), "host h9 is not known"),
        (unassign("h1", "mimir:nope", true), "unknown role 'nope'"),
    ];
    for (op, want) in cases {
        let e = plan(&base, op).unwrap_err().to_string();
        assert!(e.contains(want), "{op}: {e}");
    }
    let forced = plan(&base, &unassign("h2", "loki:all", true)).unwrap();
    let Reply::Unassigned { warnings, .. } = forced.reply else {
        panic!()
    };
    assert_eq!(
        warnings,
        vec!["loki now runs on no host: it is no longer deployed"]
    );
}

#[test]
fn removing_hosts() {
    let base = run(&[register("h1"), assign("h1", "querier"), register("idle")]);
    let e = plan(
        &base,
        &Op::RemoveHost {
            host: h("h1"),
            force: false,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("h1 still has roles (mimir:querier)") && e.contains("force=true"),
        "{e}"
    );
    let p = plan(
        &base,
        &Op::RemoveHost {
            host: h("idle"),
            force: false,
        },
    )
    .unwrap();
    assert_eq!(p.changes, vec![Change::DeleteHost(h("idle"))]);
    let p = plan(
        &base,
        &Op::RemoveHost {
            host: h("h1"),
            force: true,
        },
    )
    .unwrap();
    assert!(!p.next.hosts.contains_key(&h("h1")));
    assert!(
        matches!(p.reply, Reply::Removed { warnings } if warnings[0].contains("mimir now runs on no host"))
    );
    assert!(
        plan(
            &base,
            &Op::RemoveHost {
                host: h("nope"),
                force: true
            }
        )
        .is_err()
    );
}

#[test]
fn registration_is_idempotent() {
    let base = run(&[register("h1")]);
    assert!(plan(&base, &register("h1")).unwrap().changes.is_empty());
    let moved = plan(
        &base,
        &Op::Register {
            host: h("h1"),
            address: "198.18.0.3".parse().unwrap(),
            data_root: "/var/lib/lgtm".into(),
        },
    )
    .unwrap();
    assert_eq!(moved.changes.len(), 1);
    let Reply::Registered(rec) = moved.reply else {
        panic!()
    };
    assert_eq!(rec.address, Some("198.18.0.3".parse().unwrap()));
}

#[test]
fn settings_and_secrets() {
    let secret = "mimir.storage.s3.secret_access_key";
    let base = run(&[set("mimir.log_level", "debug"), set(secret, "abc")]);
    assert_eq!(base.secrets[secret], "abc");
    assert!(
        plan(&base, &set("mimir.log_level", "debug"))
            .unwrap()
            .changes
            .is_empty()
    );
    assert!(plan(&base, &set(secret, "abc")).unwrap().changes.is_empty());
    assert_eq!(
        plan(&base, &set(secret, "")).unwrap().changes,
        vec![Change::DeleteSecret(secret.into())]
    );
    assert!(
        plan(&Intent::default(), &set(secret, ""))
            .unwrap()
            .changes
            .is_empty()
    );
    let cases: &[(Op, &str)] = &[
        (set("mimir.log_lvl", "x"), "did you mean 'mimir.log_level'"),
        (
            set("mimir.log_level", "loud"),
            "invalid value for mimir.log_level",
        ),
        (set(secret, "has space"), "printable characters"),
    ];
    for (op, want) in cases {
        let e = plan(&base, op).unwrap_err().to_string();
        assert!(e.contains(want), "{op}: {e}");
    }
}

#[test]
fn op_display_never_shows_values() {
    let shown = set("mimir.storage.s3.secret_access_key", "hunter2").to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn a_bare_gateway_takes_every_deployed_backend() {
    let e = plan(&Intent::default(), &assign("gw1", "gateway")).unwrap_err();
    assert!(matches!(e, ChangeError::NoBackendForGateway), "{e}");
    assert!(e.to_string().contains("'mimir:gateway'"), "{e}");

    let intent = run(&[assign("h1", "mimir:all"), assign("h2", "tempo:distributor")]);
    let p = plan(&intent, &assign("gw1", "gateway")).unwrap();
    let Reply::Assigned { role, also, .. } = &p.reply else {
        panic!("{:?}", p.reply)
    };
    assert_eq!(
        (*role, also.clone()),
        (r("mimir:gateway"), vec![r("tempo:gateway")])
    );
    assert_eq!(
        p.next.hosts[&h("gw1")].roles,
        [r("mimir:gateway"), r("tempo:gateway")]
    );
    // Named explicitly, one backend only, deployed or not.
    let p = plan(&intent, &assign("gw1", "loki:gateway")).unwrap();
    let Reply::Assigned { also, warnings, .. } = &p.reply else {
        panic!("{:?}", p.reply)
    };
    assert!(also.is_empty());
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("its gateway answers 503")),
        "{warnings:?}"
    );
}

#[test]
fn readiness_is_not_stored_and_follows_host_removal() {
    let intent = run(&[register("h1"), assign("h1", "mimir:all")]);
    let id = lgtm_model::process::ProcessId::for_role(r("mimir:all"));
    let ready = Op::Ready {
        host: h("h1"),
        ready: [id].into(),
    };
    let p = plan(&intent, &ready).unwrap();
    assert!(p.changes.is_empty(), "readiness never reaches the store");
    assert_eq!(p.next.readiness.reported(&h("h1")), Some(&[id].into()));
    let gone = plan(
        &p.next,
        &Op::RemoveHost {
            host: h("h1"),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(gone.next.readiness.reported(&h("h1")), None);
}
