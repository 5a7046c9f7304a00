use super::*;
use crate::catalog::Role;

fn key(host: &str, role: &str) -> ProcessKey {
    let role: Role = role.parse().unwrap();
    ProcessKey {
        host: host.parse().unwrap(),
        process: ProcessId::for_role(role),
    }
}

fn waiting(host: &str, role: &str) -> Waiting {
    Waiting {
        key: key(host, role),
        stateful: role.parse::<Role>().unwrap().is_stateful(),
        retire: false,
        after_flush: None,
    }
}

fn permit(host: &str, role: &str, healthy: bool) -> Permit {
    let w = waiting(host, role);
    Permit {
        key: w.key,
        stateful: w.stateful,
        healthy,
        retire: false,
    }
}

const ING: &str = "tempo:ingester";
const DIST: &str = "tempo:distributor";
const POLICY: Policy = Policy {
    max_parallel: 2,
    min_healthy_seconds: 10,
    step_timeout_seconds: 100,
    check_rings: true,
};

/// A cluster of three Tempo ingesters and three distributors, all healthy since 0.
fn healthy() -> BTreeMap<ProcessKey, Health> {
    ["h1", "h2", "h3"]
        .iter()
        .flat_map(|h| [key(h, ING), key(h, DIST)])
        .map(|k| (k, Health::Healthy { since: 0 }))
        .collect()
}

fn stateful() -> BTreeSet<ProcessKey> {
    ["h1", "h2", "h3"].iter().map(|h| key(h, ING)).collect()
}

fn step(host: &str, role: &str, since: u64) -> Step {
    Step {
        key: key(host, role),
        stateful: role.parse::<Role>().unwrap().is_stateful(),
        was_healthy: true,
        released: true,
        since,
        released_at: Some(1),
        retire: false,
    }
}

fn permits(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Permit(w) => Some(w.key.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn decisions_table() {
    struct Case {
        name: &'static str,
        steps: Vec<Step>,
        paused: bool,
        waiting: Vec<Waiting>,
        unhealthy: Vec<ProcessKey>,
        now: u64,
        want: Vec<Event>,
    }
    let all_ingesters = || vec![waiting("h1", ING), waiting("h2", ING), waiting("h3", ING)];
    let cases = vec![
        Case {
            name: "nothing waiting, nothing in flight: nothing to do",
            steps: vec![],
            paused: false,
            waiting: vec![],
            unhealthy: vec![],
            now: 50,
            want: vec![],
        },
        Case {
            name: "one ingester at a time",
            steps: vec![],
            paused: false,
            waiting: all_ingesters(),
            unhealthy: vec![],
            now: 50,
            want: vec![Event::Permit(permit("h1", ING, true))],
        },
        Case {
            name: "stateless first, at most max_parallel",
            steps: vec![],
            paused: false,
            waiting: vec![
                waiting("h1", DIST),
                waiting("h1", ING),
                waiting("h2", DIST),
                waiting("h3", DIST),
            ],
            unhealthy: vec![],
            now: 50,
            want: vec![
                Event::Permit(permit("h1", DIST, true)),
                Event::Permit(permit("h2", DIST, true)),
            ],
        },
        Case {
            name: "never every process of a kind at once",
            steps: vec![],
            paused: false,
            waiting: vec![waiting("h1", "loki:read"), waiting("h2", "loki:read")],
            unhealthy: vec![],
            now: 50,
            want: vec![Event::Permit(permit("h1", "loki:read", true))],
        },
        Case {
            name: "a process alone of its kind restarts",
            steps: vec![],
            paused: false,
            waiting: vec![waiting("h1", "loki:backend")],
            unhealthy: vec![],
            now: 50,
            want: vec![Event::Permit(permit("h1", "loki:backend", true))],
        },
        Case {
            name: "a step not healthy long enough holds its backend",
            steps: vec![step("h1", ING, 40)],
            paused: false,
            waiting: vec![waiting("h2", ING), waiting("h3", ING)],
            unhealthy: vec![],
            now: 45,
            want: vec![],
        },
        Case {
            name: "healthy since before the permit counts from the permit",
            steps: vec![step("h1", ING, 40)],
            paused: false,
            waiting: vec![waiting("h2", ING)],
            unhealthy: vec![],
            now: 49,
            want: vec![],
        },
        Case {
            name: "a step healthy long enough is done and the next one starts",
            steps: vec![step("h1", ING, 40)],
            paused: false,
            waiting: vec![waiting("h2", ING), waiting("h3", ING)],
            unhealthy: vec![],
            now: 50,
            want: vec![
                Event::Done(key("h1", ING)),
                Event::Permit(permit("h2", ING, true)),
            ],
        },
        Case {
            name: "a permitted process waits for the gateways to stop sending it requests",
            steps: vec![Step {
                released: false,
                ..step("h1", ING, 45)
            }],
            paused: false,
            waiting: vec![waiting("h2", ING)],
            unhealthy: vec![],
            now: 50,
            want: vec![],
        },
        Case {
            name: "a gateway that does not catch up holds nothing up for long",
            steps: vec![Step {
                released: false,
                ..step("h1", ING, 20)
            }],
            paused: false,
            waiting: vec![],
            unhealthy: vec![],
            now: 50,
            want: vec![Event::Release(key("h1", ING))],
        },
        Case {
            name: "paused: a permitted process is not released",
            steps: vec![Step {
                released: false,
                ..step("h1", ING, 0)
            }],
            paused: true,
            waiting: vec![],
            unhealthy: vec![],
            now: 100,
            want: vec![],
        },
        Case {
            name: "a step down after its restart and changed again ends: the fix goes through",
            steps: vec![step("h1", DIST, 45)],
            paused: false,
            waiting: vec![waiting("h1", DIST)],
            unhealthy: vec![key("h1", DIST)],
            now: 50,
            want: vec![Event::Done(key("h1", DIST))],
        },
        Case {
            name: "a step of a process that is gone is done",
            steps: vec![step("h9", ING, 40)],
            paused: false,
            waiting: vec![],
            unhealthy: vec![],
            now: 41,
            want: vec![Event::Done(key("h9", ING))],
        },
        Case {
            name: "a step unhealthy past its deadline pauses, nothing else starts",
            steps: vec![step("h1", ING, 0)],
            paused: false,
            waiting: vec![waiting("h2", ING), waiting("h1", DIST)],
            unhealthy: vec![key("h1", ING)],
            now: 100,
            want: vec![Event::Pause(
                "lgtm-tempo-ingester.service on h1 is not healthy 100s after its restart was permitted: down; fix it, then `lgtmctl rollout resume`".into(),
            )],
        },
        Case {
            name: "paused: steps still finish, nothing new starts",
            steps: vec![step("h1", ING, 0)],
            paused: true,
            waiting: vec![waiting("h2", ING)],
            unhealthy: vec![],
            now: 200,
            want: vec![Event::Done(key("h1", ING))],
        },
        Case {
            name: "paused: a late step does not pause again",
            steps: vec![step("h1", ING, 0)],
            paused: true,
            waiting: vec![],
            unhealthy: vec![key("h1", ING)],
            now: 200,
            want: vec![],
        },
        Case {
            name: "an ingester waits while a peer is down",
            steps: vec![],
            paused: false,
            waiting: vec![waiting("h1", ING)],
            unhealthy: vec![key("h2", ING)],
            now: 50,
            want: vec![],
        },
        Case {
            name: "a down ingester restarts first: it costs nothing",
            steps: vec![],
            paused: false,
            waiting: all_ingesters(),
            unhealthy: vec![key("h3", ING)],
            now: 50,
            want: vec![Event::Permit(permit("h3", ING, false))],
        },
        Case {
            name: "a backend not serving yet has nothing to lose",
            steps: vec![],
            paused: false,
            waiting: vec![waiting("h1", ING)],
            unhealthy: vec![key("h2", ING), key("h3", ING)],
            now: 50,
            want: vec![Event::Permit(permit("h1", ING, true))],
        },
        Case {
            name: "a step of a process that was down when permitted is not waited for",
            steps: vec![Step {
                was_healthy: false,
                ..step("h3", ING, 49)
            }],
            paused: false,
            waiting: vec![waiting("h1", ING)],
            unhealthy: vec![key("h3", ING)],
            now: 50,
            want: vec![Event::Done(key("h3", ING))],
        },
        Case {
            name: "stateless processes do not wait for the ring",
            steps: vec![],
            paused: false,
            waiting: vec![waiting("h1", DIST)],
            unhealthy: vec![key("h2", ING)],
            now: 50,
            want: vec![Event::Permit(permit("h1", DIST, true))],
        },
        Case {
            name: "backends roll independently",
            steps: vec![step("h1", ING, 45)],
            paused: false,
            waiting: vec![waiting("h2", ING), waiting("h1", "loki:ingester")],
            unhealthy: vec![],
            now: 50,
            want: vec![Event::Permit(permit("h1", "loki:ingester", true))],
        },
        Case {
            name: "a process changed again while in flight waits for its step to end",
            steps: vec![step("h1", DIST, 45)],
            paused: false,
            waiting: vec![waiting("h1", DIST)],
            unhealthy: vec![],
            now: 50,
            want: vec![],
        },
    ];
    for c in cases {
        let mut health = healthy();
        for k in [
            key("h1", "loki:ingester"),
            key("h1", "loki:read"),
            key("h2", "loki:read"),
            key("h1", "loki:backend"),
        ] {
            health.insert(k, Health::Healthy { since: 0 });
        }
        for k in &c.unhealthy {
            health.insert(k.clone(), Health::Unhealthy("down".into()));
        }
        let state = Rollout {
            steps: c.steps,
            paused: c.paused.then(|| Pause {
                reason: "operator".into(),
                at: 1,
            }),
            flushed: BTreeMap::new(),
        };
        let tick = Tick {
            now: c.now,
            policy: POLICY,
            waiting: &c.waiting,
            health: &health,
            stateful: &stateful(),
            drained: &BTreeSet::new(),
            left: &BTreeMap::new(),
        };
        assert_eq!(advance(&state, &tick), c.want, "{}", c.name);
    }
}

/// Drives a whole rollout of three ingesters and three distributors, each process healthy
/// 5 s after its release: never two ingesters at once, and once everything is done, planning
/// again yields nothing.
#[test]
fn a_whole_rollout_restarts_one_ingester_at_a_time_and_ends_idle() {
    let mut state = Rollout::default();
    let mut waiting: Vec<Waiting> = ["h1", "h2", "h3"]
        .iter()
        .flat_map(|h| [waiting(h, DIST), waiting(h, ING)])
        .collect();
    waiting.sort_by(|a, b| a.key.cmp(&b.key));
    let mut health = healthy();
    let mut permitted = Vec::new();
    for now in 0..200 {
        for s in &state.steps {
            let since = s.since + 5;
            health.insert(
                s.key.clone(),
                if now >= since {
                    Health::Healthy { since }
                } else {
                    Health::Unhealthy("restarting".into())
                },
            );
        }
        // The gateways catch up one tick after a permit.
        let drained = state.unreleased();
        let tick = Tick {
            now,
            policy: POLICY,
            waiting: &waiting,
            health: &health,
            stateful: &stateful(),
            drained: &drained,
            left: &BTreeMap::new(),
        };
        for e in advance(&state, &tick) {
            if let Event::Permit(w) = &e {
                waiting.retain(|x| x.key != w.key);
                permitted.push((now, w.key.to_string()));
            }
            state.apply(&e, now);
        }
        let ingesters = state.steps.iter().filter(|s| s.stateful).count();
        assert!(ingesters <= 1, "at {now}: {:?}", state.steps);
        assert!(state.steps.len() <= 2, "at {now}: {:?}", state.steps);
    }
    assert!(state.is_idle(), "{state:?}");
    assert_eq!(permitted.len(), 6, "{permitted:?}");
    // Distributors two at a time, then one; then the ingesters; each wave 1 s of draining
    // from the gateways, 5 s of restart and 10 s healthy.
    let at: Vec<u64> = permitted.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [0, 0, 16, 32, 48, 64], "{permitted:?}");
    let tick = Tick {
        now: 500,
        policy: POLICY,
        waiting: &[],
        health: &health,
        stateful: &stateful(),
        drained: &BTreeSet::new(),
        left: &BTreeMap::new(),
    };
    assert_eq!(advance(&state, &tick), vec![]);
}

#[test]
fn pause_and_resume() {
    let mut state = Rollout::default();
    state.apply(&Event::Permit(permit("h1", ING, true)), 10);
    state.pause("operator".into(), 20);
    state.pause("later reason".into(), 30);
    assert_eq!(state.paused.as_ref().unwrap().reason, "operator");
    state.resume(40);
    assert_eq!(state.paused, None);
    assert_eq!(
        state.steps[0].since, 40,
        "a resumed step gets a fresh deadline"
    );
    assert!(!state.is_idle());
    assert_eq!(state.unreleased(), [key("h1", ING)].into());
    state.apply(&Event::Release(key("h1", ING)), 45);
    assert!(state.unreleased().is_empty());
    assert_eq!(state.draining(), [key("h1", ING)].into(), "until done");
    assert_eq!(
        state.steps[0].since, 45,
        "the deadline counts from the release"
    );
    state.apply(&Event::Done(key("h1", ING)), 50);
    assert!(state.is_idle());
    // Durable as JSON.
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<Rollout>(&json).unwrap(), state);
}

#[test]
fn blocked_says_which_peer_is_down() {
    let mut health = healthy();
    health.insert(key("h2", ING), Health::Unhealthy("not ready".into()));
    let waiting = [waiting("h1", ING)];
    let tick = Tick {
        now: 0,
        policy: POLICY,
        waiting: &waiting,
        health: &health,
        stateful: &stateful(),
        drained: &BTreeSet::new(),
        left: &BTreeMap::new(),
    };
    let why = blocked(&Rollout::default(), &tick).unwrap();
    assert!(
        why.contains("lgtm-tempo-ingester.service on h2: not ready"),
        "{why}"
    );
}

fn process(role: &str, config: &str) -> DesiredProcess {
    let role: Role = role.parse().unwrap();
    let id = ProcessId::for_role(role);
    DesiredProcess {
        id,
        roles: vec![role],
        ports: id.ports(),
        config: config.into(),
        data_dir: "/d".into(),
    }
}

#[test]
fn holds_keep_what_runs_until_permitted() {
    let a = process(ING, "a: 1\nmemberlist:\n  join_members: [y]\n");
    let b = process(ING, "a: 2\nmemberlist:\n  join_members: [y]\n");
    let c = process(ING, "a: 3\n");
    let seeds_only = process(ING, "a: 1\nmemberlist:\n  join_members: [x]\n");
    let dist = process(DIST, "d: 1\n");
    let none = BTreeMap::new();
    let held_a: BTreeMap<ProcessId, DesiredProcess> = [(a.id, a.clone())].into();
    // A change that restarts a running process holds it.
    assert_eq!(
        holds(
            std::slice::from_ref(&a),
            std::slice::from_ref(&b),
            &none,
            Removal::Drain
        ),
        held_a
    );
    // A new process is not held: starting it restarts nothing.
    assert_eq!(
        holds(&[], &[b.clone(), dist.clone()], &none, Removal::Drain),
        none
    );
    // A second change keeps the first hold: the host still runs `a`.
    assert_eq!(
        holds(
            std::slice::from_ref(&a),
            std::slice::from_ref(&c),
            &held_a,
            Removal::Drain
        ),
        held_a
    );
    // Reverted: no hold.
    assert_eq!(
        holds(
            std::slice::from_ref(&a),
            std::slice::from_ref(&a),
            &held_a,
            Removal::Drain
        ),
        none
    );
    // Only the seeds changed: no restart, no hold.
    assert_eq!(
        holds(
            std::slice::from_ref(&a),
            std::slice::from_ref(&seeds_only),
            &none,
            Removal::Drain
        ),
        none
    );
    // A ring member gone from the target retires: it stays until drained...
    assert_eq!(
        holds(
            std::slice::from_ref(&a),
            std::slice::from_ref(&dist),
            &none,
            Removal::Drain
        ),
        held_a
    );
    assert_eq!(
        holds(&[], std::slice::from_ref(&dist), &held_a, Removal::Drain),
        held_a,
        "a retirement under way survives later changes"
    );
    // ...unless abandoned; a stateless process gone simply stops.
    assert_eq!(
        holds(
            std::slice::from_ref(&a),
            std::slice::from_ref(&dist),
            &held_a,
            Removal::Abandon
        ),
        none
    );
    assert_eq!(
        holds(std::slice::from_ref(&dist), &[], &none, Removal::Drain),
        none
    );
    // What the host is given: held versions, and retiring processes still there.
    assert_eq!(
        publish(&[b.clone(), dist.clone()], &held_a),
        vec![a.clone(), dist.clone()]
    );
    assert_eq!(publish(std::slice::from_ref(&dist), &held_a), vec![dist, a],);
}

#[test]
fn a_new_process_waits_for_the_retiring_one_it_clashes_with() {
    let all = process("loki:all", "a: 1\n");
    let write = process("loki:write", "w: 1\n");
    let read = process("loki:read", "r: 1\n");
    let tempo = process("tempo:ingester", "t: 1\n");
    let retiring: BTreeMap<ProcessId, DesiredProcess> = [(all.id, all.clone())].into();
    let target = [write.clone(), read.clone(), tempo.clone()];
    assert_eq!(
        publish(&target, &retiring),
        vec![tempo.clone(), all.clone()],
        "loki's new processes wait, another backend's does not"
    );
    assert_eq!(
        publish(&target, &BTreeMap::new()),
        vec![write.clone(), read.clone(), tempo],
        "once it is gone they start"
    );
    assert!(clash(&all, &write) && clash(&write, &all));
    assert!(!clash(&write, &read) && !clash(&all, &all));
}

#[test]
fn a_member_leaves_only_once_its_peers_are_healthy() {
    let leaving = Waiting {
        retire: true,
        ..waiting("h1", ING)
    };
    let (waiting, all) = (vec![leaving], stateful());
    let (drained, left) = (BTreeSet::new(), BTreeMap::new());
    let permits = |health: &BTreeMap<ProcessKey, Health>| {
        let tick = Tick {
            now: 50,
            policy: POLICY,
            waiting: &waiting,
            health,
            stateful: &all,
            drained: &drained,
            left: &left,
        };
        advance(&Rollout::default(), &tick)
    };
    let mut health = healthy();
    for h in ["h2", "h3"] {
        health.insert(key(h, ING), Health::Unhealthy("not ready".into()));
    }
    assert_eq!(
        permits(&health),
        vec![],
        "its peers are all down: the one member serving stays"
    );
    health.insert(key("h2", ING), Health::Healthy { since: 0 });
    health.insert(key("h3", ING), Health::Healthy { since: 0 });
    assert_eq!(
        permits(&health),
        vec![Event::Permit(Permit {
            retire: true,
            ..permit("h1", ING, true)
        })]
    );
}

/// A coordinator cut off from agents restarts nothing that may be serving: a process not
/// heard from is neither free to restart, nor restarted, nor a healthy peer.
#[test]
fn processes_not_heard_from_are_not_taken_for_down() {
    let mut health = healthy();
    health.insert(key("h1", DIST), Health::Unknown("not heard from".into()));
    health.insert(key("h3", ING), Health::Unknown("not heard from".into()));
    let queue = [waiting("h1", DIST), waiting("h1", ING), waiting("h2", DIST)];
    let tick = Tick {
        now: 50,
        policy: POLICY,
        waiting: &queue,
        health: &health,
        stateful: &stateful(),
        drained: &BTreeSet::new(),
        left: &BTreeMap::new(),
    };
    assert_eq!(
        advance(&Rollout::default(), &tick),
        vec![Event::Permit(permit("h2", DIST, true))],
        "h1's distributor waits for its agent"
    );
    let only_ingester = [waiting("h1", ING)];
    let tick = Tick {
        waiting: &only_ingester,
        ..tick
    };
    assert_eq!(
        advance(&Rollout::default(), &tick),
        vec![],
        "a peer unknown"
    );
}

/// Processes that are down restart at once, however many: nothing is taken away.
#[test]
fn down_processes_restart_together() {
    let mut health = healthy();
    for h in ["h1", "h2", "h3"] {
        health.insert(key(h, DIST), Health::Unhealthy("not ready".into()));
    }
    let queue = [
        waiting("h1", DIST),
        waiting("h2", DIST),
        waiting("h3", DIST),
    ];
    let tick = Tick {
        now: 50,
        policy: POLICY,
        waiting: &queue,
        health: &health,
        stateful: &stateful(),
        drained: &BTreeSet::new(),
        left: &BTreeMap::new(),
    };
    let got = advance(&Rollout::default(), &tick);
    assert_eq!(permits(&got).len(), 3, "{got:?}");
    let mut state = Rollout::default();
    for e in &got {
        state.apply(e, 50);
    }
    let tick = Tick {
        waiting: &[],
        ..tick
    };
    let done = advance(&state, &tick);
    assert_eq!(done.len(), 3, "not waited for: {done:?}");
}

/// A ring member removed from the target retires: permitted like a restart (before the
/// restarts of its backend), asked to flush once the gateways let go of it, released (its
/// removal reaches its host) only once it left its ring, and a retirement that does not
/// finish in time pauses the rollout.
#[test]
fn a_retiring_member_flushes_and_leaves_before_it_is_removed() {
    let leaving = Waiting {
        retire: true,
        ..waiting("h3", ING)
    };
    let waiting = vec![waiting("h1", ING), leaving.clone()];
    let health = healthy();
    let all = stateful();
    let tick = |now, health, drained, left| Tick {
        now,
        policy: POLICY,
        waiting: &waiting,
        health,
        stateful: &all,
        drained,
        left,
    };
    let none = BTreeSet::new();
    let not_yet = BTreeMap::new();
    let mut state = Rollout::default();
    let events = advance(&state, &tick(50, &health, &none, &not_yet));
    assert_eq!(
        events,
        vec![Event::Permit(Permit {
            retire: true,
            ..permit("h3", ING, true)
        })],
        "the member leaving goes first"
    );
    state.apply(&events[0], 50);
    assert!(!state.steps[0].released && state.steps[0].retire);
    assert_eq!(state.draining(), BTreeSet::from([key("h3", ING)]));

    // Flush once the gateways let go of it, or after the drain limit.
    let gone = BTreeSet::from([key("h3", ING)]);
    assert!(state.flushing(&none, 51).is_empty());
    assert_eq!(state.flushing(&gone, 51), vec![key("h3", ING)]);
    assert_eq!(
        state.flushing(&none, 50 + DRAIN_LIMIT_SECONDS),
        vec![key("h3", ING)]
    );

    // Released only once it left its ring; nothing else of its backend meanwhile.
    let flushing = BTreeMap::from([(key("h3", ING), Err("flushing".to_string()))]);
    assert_eq!(advance(&state, &tick(60, &health, &gone, &not_yet)), vec![]);
    assert_eq!(
        advance(&state, &tick(60, &health, &gone, &flushing)),
        vec![]
    );
    let left = BTreeMap::from([(key("h3", ING), Ok(()))]);
    assert_eq!(
        advance(&state, &tick(60, &health, &gone, &left)),
        vec![Event::Release(key("h3", ING))]
    );

    // Not out in time: pause, saying why and how to abandon it.
    let refused = BTreeMap::from([(
        key("h3", ING),
        Err("POST /flush: connection refused".to_string()),
    )]);
    let events = advance(&state, &tick(150, &health, &gone, &refused));
    let [Event::Pause(why)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert!(
        why.contains("did not flush and leave its ring 100s")
            && why.contains("POST /flush: connection refused")
            && why.contains("lgtmctl unassign-role h3 tempo:ingester --force"),
        "{why}"
    );
    let mut paused = state.clone();
    paused.apply(&events[0], 150);
    assert!(
        paused.flushing(&gone, 150).is_empty(),
        "paused: nothing is asked to flush"
    );

    // Released and gone from its host: done; then the restart of h1 may go.
    state.apply(&Event::Release(key("h3", ING)), 60);
    let mut health = health.clone();
    health.remove(&key("h3", ING));
    let stateful_left: BTreeSet<ProcessKey> = stateful()
        .into_iter()
        .filter(|k| k.host.as_str() != "h3")
        .collect();
    let only_h1 = vec![waiting[0].clone()];
    let t = Tick {
        now: 61,
        policy: POLICY,
        waiting: &only_h1,
        health: &health,
        stateful: &stateful_left,
        drained: &none,
        left: &not_yet,
    };
    assert_eq!(
        advance(&state, &t),
        vec![
            Event::Done(key("h3", ING)),
            Event::Permit(permit("h1", ING, true))
        ]
    );
}

/// A retiring member that is down is not removed at once like a down process is restarted:
/// it must come back and flush, or an operator abandons it.
#[test]
fn a_retiring_member_that_is_down_still_waits_for_its_flush() {
    let waiting = vec![Waiting {
        retire: true,
        ..waiting("h3", ING)
    }];
    let mut health = healthy();
    health.insert(key("h3", ING), Health::Unhealthy("failed".into()));
    let tick = Tick {
        now: 50,
        policy: POLICY,
        waiting: &waiting,
        health: &health,
        stateful: &stateful(),
        drained: &BTreeSet::new(),
        left: &BTreeMap::new(),
    };
    let events = advance(&Rollout::default(), &tick);
    assert_eq!(
        events,
        vec![Event::Permit(Permit {
            retire: true,
            ..permit("h3", ING, false)
        })]
    );
    let mut state = Rollout::default();
    state.apply(&events[0], 50);
    assert!(!state.steps[0].released);
}

#[test]
fn released_steps_are_stamped_once_with_their_hosts_index() {
    let mut r = Rollout {
        flushed: BTreeMap::new(),
        steps: vec![
            Step {
                released_at: None,
                ..step("h1", ING, 0)
            },
            Step {
                released: false,
                released_at: None,
                ..step("h2", ING, 0)
            },
            Step {
                released_at: Some(3),
                ..step("h3", ING, 0)
            },
        ],
        paused: None,
    };
    r.stamp_released(|h| if h.as_str() == "h1" { 7 } else { 9 });
    let got: Vec<Option<u64>> = r.steps.iter().map(|s| s.released_at).collect();
    assert_eq!(got, [Some(7), None, Some(3)]);
    // A later release stamps only the newly released step.
    r.apply(&Event::Release(key("h2", ING)), 5);
    r.stamp_released(|_| 11);
    let got: Vec<Option<u64>> = r.steps.iter().map(|s| s.released_at).collect();
    assert_eq!(got, [Some(7), Some(11), Some(3)]);
}

/// A Tempo config as rendered: the ingester ring's factor, and a block list poll if set.
fn tempo_config(factor: u8, poll: Option<&str>) -> String {
    let poll = poll.map_or(String::new(), |p| {
        format!("storage:\n  trace:\n    blocklist_poll: {p}\n")
    });
    format!("ingester:\n  lifecycler:\n    ring:\n      replication_factor: {factor}\n{poll}")
}

#[test]
fn only_tempo_readers_of_a_rising_factor_wait_for_a_flush() {
    let (one, three) = (tempo_config(1, Some("10s")), tempo_config(3, Some("10s")));
    let cases = [
        (
            "querier, 1 -> 3, poll 10s",
            "tempo:querier",
            one.clone(),
            three.clone(),
            Some(35),
        ),
        (
            "ingester, 1 -> 3",
            ING,
            one.clone(),
            three.clone(),
            Some(35),
        ),
        (
            "querier, default poll (5m)",
            "tempo:querier",
            tempo_config(1, None),
            tempo_config(3, None),
            Some(615),
        ),
        (
            "distributor: moves first",
            DIST,
            one.clone(),
            three.clone(),
            None,
        ),
        (
            "all: runs a distributor too",
            "tempo:all",
            one.clone(),
            three.clone(),
            None,
        ),
        (
            "querier, 3 -> 1: reads from all",
            "tempo:querier",
            three.clone(),
            one.clone(),
            None,
        ),
        (
            "querier, factor unchanged",
            "tempo:querier",
            three.clone(),
            three.clone(),
            None,
        ),
        (
            "loki read: not Tempo",
            "loki:read",
            "common:\n  replication_factor: 1\n".into(),
            "common:\n  replication_factor: 3\n".into(),
            None,
        ),
    ];
    for (name, role, old, new, want) in cases {
        let got = after_flush(&process(role, &old), &process(role, &new));
        assert_eq!(got, want, "{name}");
    }
}

/// Tempo on two hosts moving from replication 1 to 3: distributors restart first, then the
/// ingesters holding what was written at 1 are flushed, and only once the queriers' block
/// lists can show it do queriers and ingesters restart; then the flush is forgotten.
#[test]
fn a_rising_tempo_factor_restarts_distributors_then_flushes_then_settles() {
    const QUERIER: &str = "tempo:querier";
    let gated = |host: &str, role: &str| Waiting {
        after_flush: Some(35),
        ..waiting(host, role)
    };
    let health: BTreeMap<ProcessKey, Health> = ["h1", "h2"]
        .iter()
        .flat_map(|h| [key(h, DIST), key(h, QUERIER), key(h, ING)])
        .map(|k| (k, Health::Healthy { since: 0 }))
        .collect();
    let members: BTreeSet<ProcessKey> = ["h1", "h2"].iter().map(|h| key(h, ING)).collect();
    let (drained, left) = (BTreeSet::new(), BTreeMap::new());
    let decide = |state: &Rollout, waiting: &[Waiting], now: u64| {
        let tick = Tick {
            now,
            policy: POLICY,
            waiting,
            health: &health,
            stateful: &members,
            drained: &drained,
            left: &left,
        };
        (advance(state, &tick), blocked(state, &tick))
    };
    let mut all = vec![
        waiting("h1", DIST),
        waiting("h2", DIST),
        gated("h1", QUERIER),
        gated("h2", QUERIER),
        gated("h1", ING),
        gated("h2", ING),
    ];
    all.sort_by(|a, b| a.key.cmp(&b.key));
    let mut state = Rollout::default();

    let (events, _) = decide(&state, &all, 50);
    assert_eq!(permits(&events), ["lgtm-tempo-distributor.service on h1"]);

    // The distributors are through: only gated processes are left, and nothing has flushed.
    let gated_only: Vec<Waiting> = all
        .iter()
        .filter(|w| w.after_flush.is_some())
        .cloned()
        .collect();
    let (events, _) = decide(&state, &gated_only, 80);
    assert_eq!(events, [Event::Flush(Backend::Tempo)]);
    state.apply_all(&events, 80);
    assert_eq!(state.flushed.get(&Backend::Tempo), Some(&80));

    let (events, why) = decide(&state, &gated_only, 100);
    assert_eq!(events, [], "settling");
    let why = why.expect("says why nothing restarts");
    assert!(
        why.contains("waits 15s more") && why.contains("blocklist_poll"),
        "{why}"
    );
    assert_eq!(settles_at(&state, &gated_only, 100), Some(115));

    let (events, _) = decide(&state, &gated_only, 115);
    assert_eq!(permits(&events), ["lgtm-tempo-querier.service on h1"]);

    let (events, _) = decide(&state, &[], 300);
    assert_eq!(events, [Event::Settled(Backend::Tempo)]);
    state.apply_all(&events, 300);
    assert!(state.flushed.is_empty());
}
