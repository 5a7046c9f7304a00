//! Table tests of the pure operation planner.

use super::*;
use lgtm_model::settings::StorageKind;

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
        force: false,
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
            "refused: the mimir:ingester ring runs with replication factor 1 and needs 1 ready member to accept writes; after this change 0 would be left",
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
        vec![
            "forced although the loki:ingester ring runs with replication factor 1 and needs 1 ready member to accept writes; after this change 0 would be left",
            "lgtm-loki.service on h2 stops at once, without a drain: it is not taken out of its ring first, and what it has not flushed when it stops is lost",
            "loki now runs on no host: it is no longer deployed",
        ]
    );
}

/// A drain unassigns a host's roles (of one backend), refused when a replicated ring would
/// keep too few ready members for writes: the factor it runs with now decides.
#[test]
fn draining_hosts() {
    let mut base = run(&[
        register("h1"),
        register("h2"),
        register("h3"),
        set("loki.storage.backend", "s3"),
        assign("h1", "loki:write"),
        assign("h2", "loki:write"),
        assign("h3", "loki:write"),
        assign("h3", "mimir:querier"),
    ]);
    let write = ProcessId::for_role(r("loki:write"));
    for host in ["h1", "h2", "h3"] {
        base.readiness.set(&h(host), [write].into());
    }
    let drain = |host: &str, backend, force| Op::Drain {
        host: h(host),
        backend,
        force,
    };
    let p = plan(&base, &drain("h3", Some(Backend::Loki), false)).unwrap();
    assert_eq!(
        p.changes,
        vec![Change::RemoveRole(h("h3"), r("loki:write"))]
    );
    let Reply::Drained { roles, warnings } = &p.reply else {
        panic!("{:?}", p.reply)
    };
    assert_eq!(roles, &vec![r("loki:write")]);
    assert!(
        warnings.contains(&"loki:ingester moves from replication factor 3 to 1: each of its remaining 2 members restarts, one at a time; until all have, writes still need 2 of them".to_string()),
        "{warnings:?}"
    );
    assert_eq!(p.next.hosts[&h("h3")].roles, vec![r("mimir:querier")]);
    let all = plan(&base, &drain("h3", None, false)).unwrap();
    assert_eq!(all.next.hosts[&h("h3")].roles, vec![]);

    // With h2's write process not ready, h3 leaving would leave one of the two a factor of 3
    // needs.
    base.readiness.set(&h("h2"), Default::default());
    let e = plan(&base, &drain("h3", Some(Backend::Loki), false))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "refused: the loki:ingester ring runs with replication factor 3 and needs 2 ready members to accept writes; after this change 1 would be left (lgtm-loki-write.service on h2 is not ready). Assign the role to another host (or bring the members back) first, or repeat with force=true to stop it anyway"
    );
    let forced = plan(&base, &drain("h3", Some(Backend::Loki), true)).unwrap();
    let Reply::Drained { warnings, .. } = &forced.reply else {
        panic!()
    };
    assert!(
        warnings[1].starts_with("lgtm-loki-write.service on h3 stops at once, without a drain"),
        "{warnings:?}"
    );
    // Draining a host of what it does not run changes nothing.
    let none = plan(&base, &drain("h1", Some(Backend::Tempo), false)).unwrap();
    assert!(none.changes.is_empty());
    assert!(plan(&base, &drain("h9", None, false)).is_err());
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

/// Moving where a deployed backend keeps its data (kind, S3 endpoint or bucket) is refused
/// unless forced; before it runs anywhere, and for settings that move nothing, it is not.
#[test]
fn moving_a_deployed_backends_storage_needs_force() {
    let s3 = |force| {
        vec![
            set("loki.storage.s3.endpoint", "http://198.18.0.1:9000"),
            set("loki.storage.s3.bucket", "logs"),
            Op::Set {
                key: "loki.storage.backend".into(),
                value: "s3".into(),
                force,
            },
        ]
    };
    // Not deployed: nothing to leave behind.
    let fresh = run(&s3(false));
    assert_eq!(
        fresh.settings.backend(Backend::Loki).storage,
        StorageKind::S3
    );
    // Deployed on the filesystem: the endpoint and bucket move nothing yet, the kind does.
    let deployed = run(&[register("h1"), assign("h1", "loki:all")]);
    let mut intent = deployed.clone();
    for op in &s3(false)[..2] {
        intent = plan(&intent, op).unwrap().next;
    }
    let e = plan(&intent, &s3(false)[2]).unwrap_err().to_string();
    assert!(
        e.contains("loki runs on h1 and keeps its data in the local filesystem")
            && e.contains("bucket logs at http://198.18.0.1:9000")
            && e.contains("force=true"),
        "{e}"
    );
    let forced = plan(&intent, &s3(true)[2]).unwrap().next;
    assert_eq!(
        forced.settings.backend(Backend::Loki).storage,
        StorageKind::S3
    );
    // On S3, another bucket moves it too; the region or credentials do not.
    let e = plan(&forced, &set("loki.storage.s3.bucket", "other")).unwrap_err();
    assert!(e.to_string().contains("bucket other at"), "{e}");
    assert!(plan(&forced, &set("loki.storage.s3.region", "eu-west-1")).is_ok());
}

/// The writer plans batched operations in place: a refusal must leave the intent as it was.
#[test]
fn a_refused_assignment_planned_in_place_changes_nothing() {
    let mut intent = run(&[register("a"), assign("a", "loki:write"), register("b")]);
    let before = intent.clone();
    for op in [
        assign("a", "loki:all"),   // overlaps loki:write
        assign("a", "loki:bogus"), // no such role
        assign("b", "loki:write"), // filesystem storage: one host only
        assign("c", "loki:read"),  // same, on a host not yet known
    ] {
        assert!(plan_into(&mut intent, &op).is_err(), "{op}");
        assert_eq!(intent, before, "{op}");
    }
    let (changes, _) = plan_into(&mut intent, &assign("a", "gateway")).unwrap();
    assert_eq!(changes, vec![Change::AddRole(h("a"), r("loki:gateway"))]);
}
