//! Table tests of `plan`, and the property: after a successful execute, planning again
//! yields nothing (checked on random hosts with the fake).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::desired::{Content, Desired};
use crate::execute::execute;
use crate::fake::{FakeHost, State};
use crate::layout::tests::layout;
use crate::observed::{FileState, UnitState, observe};
use crate::unit::tests::process;

/// Roles of one process and its data directory.
type Proc<'a> = (&'a [&'a str], &'a str);

fn desired(procs: &[Proc], data_root: &str) -> Desired {
    let mut l = layout();
    l.data_root = SafePath::parse(data_root).unwrap();
    let state = lgtm_model::wire::DesiredState {
        host: "h1".parse().unwrap(),
        index: 3,
        processes: procs.iter().map(|(r, d)| process(r, d)).collect(),
        gateway: None,
    };
    Desired::new(&state, &"h1".parse().unwrap(), &l).unwrap()
}

fn mimir() -> Desired {
    desired(&[(&["mimir:all"], "/var/lib/lgtm/mimir")], "/var/lib/lgtm")
}

fn file(spec: &FileSpec) -> FileState {
    FileState {
        content: spec.content.clone(),
        mode: spec.mode,
        group: Some(spec.group.unwrap_or("root").to_owned()),
    }
}

fn running() -> UnitState {
    UnitState {
        active: ActiveState::Active,
        enabled: true,
        need_reload: false,
    }
}

/// The host after a successful apply of `d`.
fn converged(d: &Desired) -> Observed {
    let mut o = Observed::default();
    for u in &d.users {
        o.files.insert(u.sysusers.path.clone(), file(&u.sysusers));
        o.users.insert(u.name.to_owned());
    }
    for p in &d.processes {
        o.files.insert(p.config.path.clone(), file(&p.config));
        o.files.insert(p.unit_file.path.clone(), file(&p.unit_file));
        o.units.insert(p.unit.clone(), running());
        for dir in &p.create_dirs {
            o.dirs.insert(dir.clone(), Some(p.user.to_owned()));
        }
    }
    o
}

fn texts(actions: &[Action]) -> Vec<String> {
    actions.iter().map(ToString::to_string).collect()
}

const CONFIG: &str = "/etc/lgtm/mimir/mimir.yaml";
const UNIT: &str = "/etc/systemd/system/lgtm-mimir.service";
const MARKER: &str = "/var/lib/lgtm-agent/restart-pending/lgtm-mimir.service";

fn p(s: &str) -> SafePath {
    SafePath::parse(s).unwrap()
}

#[test]
fn table() {
    let d = mimir();
    type Change = fn(&mut Observed);
    let cases: Vec<(&str, Change, Vec<String>)> = vec![
        ("converged: nothing to do", |_| {}, vec![]),
        (
            "fresh host",
            |o| *o = Observed::default(),
            vec![
                "write /etc/sysusers.d/lgtm-mimir.conf".into(),
                "ensure user mimir".into(),
                format!("write {MARKER}"),
                format!("write {CONFIG}"),
                format!("write {UNIT}"),
                "daemon-reload".into(),
                "enable lgtm-mimir.service".into(),
                "reset-failed lgtm-mimir.service".into(),
                "start lgtm-mimir.service".into(),
            ],
        ),
        (
            "config changed: restart, no reload",
            |o| o.files.get_mut(&p(CONFIG)).unwrap().content = "old".into(),
            vec![
                format!("write {MARKER}"),
                format!("write {CONFIG}"),
                "reset-failed lgtm-mimir.service".into(),
                "restart lgtm-mimir.service".into(),
            ],
        ),
        (
            "unit changed: reload and restart",
            |o| o.files.get_mut(&p(UNIT)).unwrap().content = "old".into(),
            vec![
                format!("write {MARKER}"),
                format!("write {UNIT}"),
                "daemon-reload".into(),
                "reset-failed lgtm-mimir.service".into(),
                "restart lgtm-mimir.service".into(),
            ],
        ),
        (
            "config mode wrong: rewrite, no restart",
            |o| o.files.get_mut(&p(CONFIG)).unwrap().mode = 0o644,
            vec![format!("write {CONFIG}")],
        ),
        (
            "config group wrong: rewrite, no restart",
            |o| o.files.get_mut(&p(CONFIG)).unwrap().group = Some("root".into()),
            vec![format!("write {CONFIG}")],
        ),
        (
            "stopped by someone: start (rate limit reset), never restart",
            |o| o.units.get_mut("lgtm-mimir.service").unwrap().active = ActiveState::Inactive,
            vec![
                "reset-failed lgtm-mimir.service".into(),
                "start lgtm-mimir.service".into(),
            ],
        ),
        (
            "failed: reset the rate limit, then start",
            |o| o.units.get_mut("lgtm-mimir.service").unwrap().active = ActiveState::Failed,
            vec![
                "reset-failed lgtm-mimir.service".into(),
                "start lgtm-mimir.service".into(),
            ],
        ),
        (
            "still coming up: leave it",
            |o| o.units.get_mut("lgtm-mimir.service").unwrap().active = ActiveState::Activating,
            vec![],
        ),
        (
            "crashed between write and restart: restart",
            |o| {
                let marker = restart_marker(&p(MARKER));
                o.files.insert(marker.path.clone(), file(&marker));
            },
            vec![
                "reset-failed lgtm-mimir.service".into(),
                "restart lgtm-mimir.service".into(),
            ],
        ),
        (
            "unit file edited behind systemd's back: reload only",
            |o| o.units.get_mut("lgtm-mimir.service").unwrap().need_reload = true,
            vec!["daemon-reload".into()],
        ),
        (
            "disabled: enable only",
            |o| o.units.get_mut("lgtm-mimir.service").unwrap().enabled = false,
            vec!["enable lgtm-mimir.service".into()],
        ),
        (
            "user deleted: recreate from the existing file",
            |o| {
                o.users.clear();
            },
            vec!["ensure user mimir".into()],
        ),
        (
            "role removed from this host: stop, disable, delete, reload",
            |o| {
                let l = layout();
                let loki = lgtm_model::process::ProcessId::for_role("loki:all".parse().unwrap());
                o.files
                    .insert(l.unit_file(loki), file(&restart_marker(&l.unit_file(loki))));
                o.files.insert(
                    l.config_file(loki),
                    file(&restart_marker(&l.config_file(loki))),
                );
                o.units.insert("lgtm-loki.service".into(), running());
            },
            vec![
                "stop lgtm-loki.service".into(),
                "disable lgtm-loki.service".into(),
                "remove /etc/systemd/system/lgtm-loki.service".into(),
                "remove /etc/lgtm/loki/loki.yaml".into(),
                "daemon-reload".into(),
            ],
        ),
        (
            "removed unit still stopping: wait for the stop",
            |o| {
                let stopping = UnitState {
                    active: ActiveState::Deactivating,
                    ..UnitState::default()
                };
                o.units.insert("lgtm-loki.service".into(), stopping);
            },
            vec!["stop lgtm-loki.service".into()],
        ),
        (
            "removed unit left failed: forget it",
            |o| {
                let failed = UnitState {
                    active: ActiveState::Failed,
                    ..UnitState::default()
                };
                o.units.insert("lgtm-tempo-ingester.service".into(), failed);
            },
            vec!["reset-failed lgtm-tempo-ingester.service".into()],
        ),
    ];
    for (name, change, want) in cases {
        let mut o = converged(&d);
        change(&mut o);
        assert_eq!(texts(&plan(&d, &o)), want, "case: {name}");
    }
}

#[test]
fn starts_and_restarts_clear_the_marker_only_when_there_is_one() {
    let d = mimir();
    let unit = || "lgtm-mimir.service".to_owned();
    let mut changed = converged(&d);
    changed.files.get_mut(&p(CONFIG)).unwrap().content = "old".into();
    assert_eq!(
        plan(&d, &changed).last(),
        Some(&Action::Restart {
            unit: unit(),
            clears: Some(p(MARKER)),
        })
    );
    changed.units.get_mut("lgtm-mimir.service").unwrap().active = ActiveState::Inactive;
    assert_eq!(
        plan(&d, &changed).last(),
        Some(&Action::Start {
            unit: unit(),
            clears: Some(p(MARKER)),
        })
    );
    let mut stopped = converged(&d);
    stopped.units.get_mut("lgtm-mimir.service").unwrap().active = ActiveState::Inactive;
    assert_eq!(
        plan(&d, &stopped),
        [
            Action::ResetFailed(unit()),
            Action::Start {
                unit: unit(),
                clears: None,
            }
        ]
    );
}

#[test]
fn empty_desired_state_removes_everything_it_owns_only() {
    let none = desired(&[], "/var/lib/lgtm");
    let mut o = converged(&mimir());
    o.units.insert("lgtm-agent.service".into(), running());
    let got = texts(&plan(&none, &o));
    assert_eq!(
        got,
        [
            "stop lgtm-mimir.service",
            "disable lgtm-mimir.service",
            format!("remove {UNIT}").as_str(),
            format!("remove {CONFIG}").as_str(),
            "daemon-reload",
        ]
    );
    assert!(plan(&none, &Observed::default()).is_empty());
}

#[test]
fn data_dirs_outside_var_lib() {
    let d = desired(&[(&["loki:all"], "/srv/lgtm/loki")], "/srv/lgtm");
    let mut o = converged(&d);
    assert!(plan(&d, &o).is_empty());
    o.dirs.insert(p("/srv/lgtm/loki"), Some("root".into()));
    assert_eq!(
        texts(&plan(&d, &o)),
        ["create directory /srv/lgtm/loki for loki"]
    );
    o.dirs.clear();
    assert_eq!(
        texts(&plan(&d, &o)),
        [
            "create directory /srv/lgtm/loki for loki",
            "create directory /srv/lgtm/loki-store for loki"
        ]
    );
}

/// A random host: every managed file missing, right, stale or with wrong metadata; units in
/// any state; users and markers present or not.
fn random_host(rng: &mut StdRng, d: &Desired) -> State {
    let mut s = State::default();
    let mut files: Vec<(SafePath, Option<&str>)> = Vec::new();
    for u in &d.users {
        files.push((u.sysusers.path.clone(), None));
        if rng.random_bool(0.5) {
            s.users.insert(u.name.to_owned());
        }
    }
    for p in &d.processes {
        files.push((p.config.path.clone(), Some(p.user)));
        files.push((p.unit_file.path.clone(), None));
        if rng.random_bool(0.2) {
            files.push((p.restart_marker.clone(), None));
        }
        for dir in &p.create_dirs {
            if rng.random_bool(0.5) {
                s.dirs.insert(dir.clone(), Some("root".into()));
            }
        }
    }
    for u in &d.unwanted {
        for f in &u.files {
            if rng.random_bool(0.2) {
                files.push((f.clone(), None));
            }
        }
    }
    let wanted: Vec<FileSpec> = d
        .users
        .iter()
        .map(|u| u.sysusers.clone())
        .chain(
            d.processes
                .iter()
                .flat_map(|p| [p.config.clone(), p.unit_file.clone()]),
        )
        .collect();
    for (path, _group) in files {
        let right = wanted.iter().find(|w| w.path == path);
        let state = match (rng.random_range(0..4), right) {
            (0, _) => continue,
            (1, Some(w)) => file(w),
            (2, Some(w)) => FileState {
                mode: 0o666,
                ..file(w)
            },
            _ => FileState {
                content: Content(vec![b'x'; rng.random_range(0..3)]),
                mode: 0o644,
                group: Some("root".into()),
            },
        };
        s.files.insert(path, state);
    }
    let states = [
        ActiveState::Active,
        ActiveState::Inactive,
        ActiveState::Failed,
        ActiveState::Activating,
        ActiveState::Deactivating,
    ];
    for unit in d.all_units() {
        if rng.random_bool(0.6) {
            s.active
                .insert(unit.clone(), states[rng.random_range(0..states.len())]);
            if rng.random_bool(0.5) {
                s.loaded.insert(unit.clone(), Content::from("stale"));
            }
        }
        if rng.random_bool(0.4) {
            s.enabled.insert(unit);
        }
    }
    s
}

/// The host runs exactly what `d` says.
fn assert_converged(d: &Desired, o: &Observed, round: usize) {
    for p in &d.processes {
        let unit = o.units.get(&p.unit).cloned().unwrap_or_default();
        // Activating is left alone: it is coming up with the current files.
        assert!(
            unit.active.is_running() && unit.enabled && !unit.need_reload,
            "round {round}: {} {unit:?}",
            p.unit
        );
        for f in [&p.config, &p.unit_file] {
            assert_eq!(
                o.files.get(&f.path),
                Some(&file(f)),
                "round {round}: {}",
                f.path
            );
        }
        assert!(!o.files.contains_key(&p.restart_marker), "round {round}");
    }
    for u in &d.unwanted {
        let unit = o.units.get(&u.unit).cloned().unwrap_or_default();
        assert!(
            unit.active == ActiveState::Inactive && !unit.enabled,
            "round {round}: {} {unit:?}",
            u.unit
        );
        assert!(
            u.files.iter().all(|f| !o.files.contains_key(f)),
            "round {round}"
        );
    }
    assert!(
        d.users.iter().all(|u| o.users.contains(u.name)),
        "round {round}"
    );
}

#[tokio::test]
async fn planning_after_a_successful_execute_yields_nothing() {
    let shapes: [(&[Proc], &str); 4] = [
        (&[(&["mimir:all"], "/var/lib/lgtm/mimir")], "/var/lib/lgtm"),
        (
            &[
                (&["mimir:write"], "/var/lib/lgtm/mimir"),
                (&["loki:read"], "/var/lib/lgtm/loki"),
                (&["tempo:ingester"], "/var/lib/lgtm/tempo-ingester"),
                (&["tempo:querier"], "/var/lib/lgtm/tempo-querier"),
            ],
            "/var/lib/lgtm",
        ),
        (&[(&["tempo:all"], "/srv/lgtm/tempo-all")], "/srv/lgtm"),
        (&[], "/var/lib/lgtm"),
    ];
    let mut rng = StdRng::seed_from_u64(0x1967);
    let mut executed = 0;
    for round in 0..400 {
        let (procs, root) = shapes[round % shapes.len()];
        let d = desired(procs, root);
        let host = FakeHost::new(random_host(&mut rng, &d));
        let before = observe(&d, &host, &host).await.unwrap();
        let actions = plan(&d, &before);
        let results = execute(&actions, &host, &host).await;
        assert_eq!(results.len(), actions.len());
        let failed: Vec<_> = results.iter().filter(|r| !r.ok).collect();
        assert!(failed.is_empty(), "round {round}: {failed:?}");
        executed += actions.len();
        let after = observe(&d, &host, &host).await.unwrap();
        assert_converged(&d, &after, round);
        let again = plan(&d, &after);
        assert!(
            again.is_empty(),
            "round {round}: before {before:?}\nplanned {:?}\nthen {:?}",
            texts(&actions),
            texts(&again)
        );
    }
    assert!(
        executed > 1000,
        "the random hosts must need work: {executed}"
    );
}

#[tokio::test]
async fn executor_carries_on_past_failures() {
    let d = mimir();
    let host = FakeHost::new(State::default());
    host.state().fail.insert(format!("write {CONFIG}"));
    let actions = plan(&d, &observe(&d, &host, &host).await.unwrap());
    let results = execute(&actions, &host, &host).await;
    let summary: Vec<(String, bool)> = results.iter().map(|r| (r.action.clone(), r.ok)).collect();
    assert_eq!(summary.len(), actions.len());
    let failed: Vec<&str> = summary
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(a, _)| a.as_str())
        .collect();
    assert_eq!(failed, [format!("write {CONFIG}").as_str()]);
    let error = results.iter().find_map(|r| r.error.clone()).unwrap();
    assert!(
        error.contains(CONFIG) && error.contains("injected failure"),
        "{error}"
    );
    // Later actions ran; the next plan retries only what is missing.
    let again = plan(&d, &observe(&d, &host, &host).await.unwrap());
    assert_eq!(
        texts(&again),
        [
            format!("write {MARKER}"),
            format!("write {CONFIG}"),
            "reset-failed lgtm-mimir.service".to_owned(),
            "restart lgtm-mimir.service".to_owned()
        ]
    );
}

#[tokio::test]
async fn failed_restart_keeps_the_marker() {
    let d = mimir();
    let mut state = State::default();
    let host = FakeHost::new(std::mem::take(&mut state));
    execute(
        &plan(&d, &observe(&d, &host, &host).await.unwrap()),
        &host,
        &host,
    )
    .await;
    host.state().files.get_mut(&p(CONFIG)).unwrap().content = "old".into();
    host.state()
        .fail
        .insert("restart lgtm-mimir.service".into());
    let results = execute(
        &plan(&d, &observe(&d, &host, &host).await.unwrap()),
        &host,
        &host,
    )
    .await;
    let restart = results
        .iter()
        .find(|r| r.action.starts_with("restart"))
        .unwrap();
    assert!(
        !restart.ok
            && restart
                .error
                .as_deref()
                .unwrap()
                .contains("injected failure")
    );
    host.state().fail.clear();
    let again = plan(&d, &observe(&d, &host, &host).await.unwrap());
    assert_eq!(
        texts(&again),
        [
            "reset-failed lgtm-mimir.service",
            "restart lgtm-mimir.service"
        ]
    );
}

#[test]
fn a_change_of_memberlist_seeds_is_written_without_a_restart() {
    let mut d = mimir();
    let seeds =
        |s: &str| format!("memberlist:\n  join_members: [{s}]\nserver:\n  log_level: info\n");
    d.processes[0].config.content = seeds("a:7946, b:7946").as_str().into();
    let mut o = converged(&d);
    o.files.get_mut(&p(CONFIG)).unwrap().content = seeds("a:7946, c:7946").as_str().into();
    assert_eq!(texts(&plan(&d, &o)), [format!("write {CONFIG}")]);
    // Any other change restarts.
    o.files.get_mut(&p(CONFIG)).unwrap().content = seeds("a:7946, b:7946")
        .replace("info", "debug")
        .as_str()
        .into();
    assert_eq!(
        texts(&plan(&d, &o)),
        [
            format!("write {MARKER}"),
            format!("write {CONFIG}"),
            "reset-failed lgtm-mimir.service".to_owned(),
            "restart lgtm-mimir.service".to_owned()
        ]
    );
}
