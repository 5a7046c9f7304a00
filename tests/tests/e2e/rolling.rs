//! Rolling restarts against the real Loki: a change that restarts every write process rolls
//! one host at a time under continuous push and query load through the gateway, and a host
//! whose restart fails pauses the rollout until an operator resumes it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use lgtm_model::gateway::LOKI_PORT;
use lgtm_model::wire::{ChangePlan, RolloutStatus};
use lgtm_tests::clients::loki::{self, Stream};
use lgtm_tests::lab::{Host, Lab};

use super::real::{place, process, simple_scalable_on_three, wait_all};
use super::support::*;

/// What the load saw while it ran.
#[derive(Debug, Default)]
pub(super) struct Load {
    /// The stream it pushed to and queried, its own: `{job="rolling",load="N"}`.
    pub(super) selector: String,
    pub(super) pushed: BTreeSet<String>,
    push_failures: Vec<String>,
    pub(super) queries: usize,
    pub(super) query_failures: Vec<String>,
    /// Most write processes not (active and ready) at one sample, and when.
    max_down: usize,
    down_samples: Vec<String>,
    /// Each time a write process went down or came back: (seconds since the load started,
    /// host, up).
    transitions: Vec<(f64, String, bool)>,
}

impl Load {
    /// Asserts that the load ran, no push or query failed (naming nginx's errors on `gw`
    /// when one did), and never more than one write process was down.
    pub(super) fn assert_clean(&self, gw: &Host) {
        self.assert_served(gw);
        assert!(
            self.max_down <= 1,
            "more than one write process down at once: {:?}",
            self.down_samples
        );
    }

    /// Asserts that the load ran and no push or query failed (naming nginx's errors on `gw`
    /// when one did).
    pub(super) fn assert_served(&self, gw: &Host) {
        self.assert_pushed();
        assert!(
            self.query_failures.is_empty(),
            "{} of {} queries failed: {:#?}; nginx says:\n{}",
            self.query_failures.len(),
            self.queries,
            self.query_failures,
            nginx_errors(gw)
        );
    }

    /// Asserts that the load ran and no push failed.
    pub(super) fn assert_pushed(&self) {
        assert!(
            self.push_failures.is_empty(),
            "{} of {} pushes failed: {:#?}",
            self.push_failures.len(),
            self.pushed.len() + self.push_failures.len(),
            self.push_failures
        );
        assert!(self.pushed.len() > 100, "the load ran: {self:?}");
    }
}

/// Pushes one line every 50 ms and queries every 500 ms through the gateway, and samples
/// every write process's systemd state and `/ready`, until `stop`.
fn run_load(gw: SocketAddr, hosts: &[Host], stop: &AtomicBool) -> Load {
    {
        // A stream per load: a later load's lines neither collide with an earlier one's nor
        // push them out of a query's 5,000-line limit.
        static LOADS: AtomicUsize = AtomicUsize::new(0);
        let mut load = Load {
            selector: format!(
                "{{job=\"rolling\",load=\"{}\"}}",
                LOADS.fetch_add(1, Ordering::SeqCst)
            ),
            ..Load::default()
        };
        let write = process("loki:write");
        let start = loki::now_ns() - 60_000_000_000;
        let began = Instant::now();
        let mut up: Vec<bool> = vec![true; hosts.len()];
        let (mut next_query, mut next_sample) = (Instant::now(), Instant::now());
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let line = format!("rolling line {i:06}");
            let lines = [(loki::now_ns(), line.clone())];
            let stream = Stream {
                labels: &load.selector,
                lines: &lines,
            };
            match loki::push_protobuf(gw, &stream) {
                Ok(_) => {
                    load.pushed.insert(line);
                }
                Err(e) => load.push_failures.push(format!("{line}: {e}")),
            }
            i += 1;
            if Instant::now() >= next_query {
                next_query = Instant::now() + Duration::from_millis(500);
                load.queries += 1;
                if let Err(e) = loki::query_lines(gw, &load.selector, start) {
                    load.query_failures
                        .push(format!("{e}\n{}", recent_logs(hosts)));
                }
            }
            if Instant::now() >= next_sample {
                next_sample = Instant::now() + Duration::from_millis(250);
                let mut down: Vec<&str> = Vec::new();
                for (h, was_up) in hosts.iter().zip(up.iter_mut()) {
                    let is_up = show(h, &write.unit_name(), "ActiveState") == "active"
                        && ready(h, write.ports().http).is_some();
                    if is_up != *was_up {
                        let at = began.elapsed().as_secs_f64();
                        load.transitions.push((at, h.name().to_owned(), is_up));
                        *was_up = is_up;
                    }
                    if !is_up {
                        down.push(h.name());
                    }
                }
                if down.len() > 1 {
                    load.down_samples.push(down.join(","));
                }
                load.max_down = load.max_down.max(down.len());
            }
            thread::sleep(Duration::from_millis(50));
        }
        load
    }
}

/// When every Loki unit of every host last started (systemd's monotonic clock, one for all
/// the lab's hosts), by (host, unit); units a host does not run are absent.
fn starts(hosts: &[Host]) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for h in hosts {
        for role in ["loki:write", "loki:read", "loki:backend"] {
            let unit = process(role).unit_name();
            let at = show(h, &unit, "ExecMainStartTimestampMonotonic");
            if let Ok(at) = at.parse::<u64>()
                && at > 0
            {
                out.insert((h.name().to_owned(), unit), at);
            }
        }
    }
    out
}

/// The processes that restarted are exactly those the dry run planned, and wave after wave:
/// every process of a wave started after every process of the wave before.
fn applied_as_planned(
    plan: &ChangePlan,
    before: &BTreeMap<(String, String), u64>,
    after: &BTreeMap<(String, String), u64>,
) {
    let restarted: BTreeSet<&(String, String)> = after
        .iter()
        .filter(|(k, at)| before.get(*k) != Some(*at))
        .map(|(k, _)| k)
        .collect();
    let waves: Vec<Vec<(String, String)>> = plan
        .waves
        .iter()
        .map(|w| {
            w.iter()
                .map(|s| (s.host.to_string(), s.unit.clone()))
                .collect()
        })
        .collect();
    let planned: BTreeSet<&(String, String)> = waves.iter().flatten().collect();
    assert_eq!(restarted, planned, "restarted as planned: {waves:?}");
    for pair in waves.windows(2) {
        let last = pair[0].iter().map(|k| after[k]).max().unwrap_or(0);
        let first = pair[1].iter().map(|k| after[k]).min().unwrap_or(u64::MAX);
        assert!(
            last < first,
            "wave {:?} started before wave {:?} was through: {after:?}",
            pair[1],
            pair[0]
        );
    }
    eprintln!("restarted as the dry run planned, in {} waves", waves.len());
}

/// Runs [`run_load`] through host1's gateway (sampling the write processes of `hosts`),
/// makes `change` after 5 s, waits for the rollout it starts to finish, and stops the load
/// 5 s later: what the load saw, and how long from the change to an idle rollout.
pub(super) fn roll_under_load(
    lab: &Lab,
    hosts: &[Host],
    change: impl FnOnce(),
) -> (Load, Duration) {
    let gw = lab.host(1).addr(LOKI_PORT);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let load = s.spawn(|| run_load(gw, hosts, &stop));
        thread::sleep(Duration::from_secs(5));
        let started = Instant::now();
        change();
        rollout_idle(lab, Duration::from_secs(900));
        let took = started.elapsed();
        thread::sleep(Duration::from_secs(5));
        stop.store(true, Ordering::SeqCst);
        (load.join().unwrap(), took)
    })
}

/// Plans `change` (an lgtmctl command line) with `--dry-run`, then applies it at the planned
/// index under [`roll_under_load`], runs `check` right after applying, and asserts that the
/// processes restarted exactly as planned, wave after wave.
fn roll_as_planned(
    lab: &Lab,
    hosts: &[Host],
    change: &[&str],
    check: impl FnOnce(),
) -> (Load, Duration) {
    let plan: ChangePlan = serde_json::from_str(&ctl_ok(
        lab,
        &[&["-o", "json"][..], change, &["--dry-run"]].concat(),
    ))
    .unwrap();
    let before = starts(hosts);
    let rolled = roll_under_load(lab, hosts, || {
        let at = plan.intent_index.to_string();
        ctl_ok(lab, &[change, &["--check-index", &at]].concat());
        check();
    });
    applied_as_planned(&plan, &before, &starts(hosts));
    rolled
}

pub(super) fn rollout(lab: &Lab) -> RolloutStatus {
    serde_json::from_str(&ctl_ok(lab, &["--output", "json", "rollout", "status"])).unwrap()
}

/// Waits until the rollout has nothing restarting or waiting (at most `limit`).
pub(super) fn rollout_idle(lab: &Lab, limit: Duration) {
    let mut last = RolloutStatus::default();
    let done = lgtm_tests::lab::wait_for("the rollout to finish", limit, || {
        last = rollout(lab);
        assert_eq!(last.paused, None, "{last:#?}");
        last.is_idle().then_some(())
    });
    done.unwrap_or_else(|e| panic!("{e}: {last:#?}"));
}

#[test]
fn real_loki_restarts_roll_one_write_process_at_a_time_under_load_and_pause_on_failure() {
    let Some(lab) = real_lab(3, &[Backend::Loki]) else {
        return;
    };
    ctl_ok(&lab, &["config", "set", "rollout.min_healthy_seconds", "5"]);
    ctl_ok(
        &lab,
        &["config", "set", "rollout.step_timeout_seconds", "60"],
    );
    simple_scalable_on_three(&lab);
    rollout_idle(&lab, Duration::from_secs(600));
    let gw = lab.host(1).addr(LOKI_PORT);
    let write = process("loki:write").unit_name();
    let hosts = lab.hosts();

    // Two changes every process of Loki must restart for, in one rollout under load: the
    // rollout paused, the log level set, an overrides change (an operator's YAML over every
    // Loki config) planned and applied at the planned index, the rollout resumed.
    let pids: Vec<u32> = hosts.iter().map(|h| main_pid(h, &write)).collect();
    ctl_ok(
        &lab,
        &["rollout", "pause", "--reason", "two changes at once"],
    );
    ctl_ok(&lab, &["config", "set", "loki.log_level", "warn"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loki-overrides.yaml");
    std::fs::write(&file, "limits_config:\n  max_query_series: 1000\n").unwrap();
    let file = file.to_str().unwrap();
    let set = ["config", "set", "loki.overrides", "--from-file", file];
    let (load, took) = roll_as_planned(&lab, hosts, &set, || {
        ctl_ok(&lab, &["rollout", "resume"]);
        let seen = rollout(&lab);
        assert_eq!(
            seen.restarting.len() + seen.waiting.len(),
            7,
            "every Loki process of the three hosts restarts: {seen:#?}"
        );
    });
    eprintln!(
        "rolling restart of 3 write, 2 read and 2 backend processes took {:.0}s; {} pushes, {} queries",
        took.as_secs_f64(),
        load.pushed.len(),
        load.queries
    );
    for (at, host, up) in &load.transitions {
        let what = if *up { "ready again" } else { "down" };
        eprintln!("  +{at:6.1}s {host} {write} {what}");
    }
    for (h, before) in hosts.iter().zip(&pids) {
        assert_ne!(main_pid(h, &write), *before, "{} restarted", h.name());
        assert_eq!(
            n_restarts(h, &write),
            0,
            "{}: restarted by lgtm, not crashed",
            h.name()
        );
    }
    load.assert_clean(lab.host(1));
    logs_all_there(gw, &load.selector, &load.pushed);

    // host2's write process cannot start: the rollout stops at host2.
    let h2 = lab.host(2);
    let dropin = format!("/run/systemd/system/{write}.d/broken.conf");
    h2.write_file(&dropin, b"[Service]\nExecStartPre=/bin/false\n", 0o644)
        .unwrap();
    assert!(h2.systemctl(&["daemon-reload"]).unwrap().status.success());
    let h3_before = main_pid(lab.host(3), &write);
    ctl_ok(&lab, &["config", "set", "loki.log_level", "error"]);
    let mut last = RolloutStatus::default();
    let paused =
        lgtm_tests::lab::wait_for("the rollout to pause", Duration::from_secs(600), || {
            last = rollout(&lab);
            last.paused.clone()
        });
    let reason = paused.unwrap_or_else(|e| panic!("{e}: {last:#?}"));
    assert!(
        reason.contains(&format!("{write} on host2 is not healthy 60s after"))
            && reason.contains("lgtmctl rollout resume"),
        "{reason}"
    );
    let status = ctl_ok(&lab, &["status"]);
    assert!(status.contains("rollout PAUSED"), "{status}");
    let out = ctl(&lab, &["wait", "host3", "--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(1), "wait fails at once: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the rollout is paused"), "{err}");
    thread::sleep(Duration::from_secs(10));
    assert_eq!(
        main_pid(lab.host(3), &write),
        h3_before,
        "nothing else restarts while paused"
    );

    // Fixed and resumed: host2 comes back and the rollout goes on to host3.
    h2.exec(&["rm", "-f", &dropin]).unwrap();
    assert!(h2.systemctl(&["daemon-reload"]).unwrap().status.success());
    // A Loki ingester that failed its starts takes systemd's restart delay and its own 30 s
    // to get ready: the operator gives the step time before resuming.
    ctl_ok(
        &lab,
        &["config", "set", "rollout.step_timeout_seconds", "600"],
    );
    ctl_ok(&lab, &["rollout", "resume"]);
    rollout_idle(&lab, Duration::from_secs(600));
    assert_ne!(
        main_pid(lab.host(3), &write),
        h3_before,
        "host3 restarted after the resume"
    );
    wait_all(&lab);
    logs_all_there(gw, &load.selector, &load.pushed);
}

/// The gateway's error lines on `gw` (why nginx cut or refused a request).
fn nginx_errors(gw: &Host) -> String {
    gw.journal("lgtm-gateway.service", 400)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            ["[emerg]", "[alert]", "[crit]", "[error]", "[warn]"]
                .iter()
                .any(|x| l.contains(x))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last seconds of every host's gateway and Loki read process, warnings and worse: what
/// they said as a query failed.
fn recent_logs(hosts: &[Host]) -> String {
    let mut out = Vec::new();
    for h in hosts {
        for unit in ["lgtm-gateway.service", &process("loki:read").unit_name()] {
            let Ok(o) = h.exec(&[
                "journalctl",
                "--no-pager",
                "-o",
                "short-precise",
                "--since",
                "-3s",
                "-u",
                unit,
            ]) else {
                continue;
            };
            out.extend(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| !l.contains("level=info") && !l.contains("level=debug"))
                    .map(str::to_owned),
            );
        }
    }
    out.join("\n")
}

/// Every line pushed comes back through the gateway from `query`.
pub(super) fn logs_all_there(gw: SocketAddr, query: &str, pushed: &BTreeSet<String>) {
    let start = loki::now_ns() - 3_600_000_000_000;
    let mut last = String::new();
    let found =
        lgtm_tests::lab::wait_for("every pushed line", PATIENCE, || {
            match loki::query_lines(gw, query, start) {
                Ok(got) => {
                    let got: BTreeSet<String> = got.into_iter().collect();
                    let missing = pushed.difference(&got).count();
                    last = format!("{missing} of {} lines missing", pushed.len());
                    (missing == 0).then_some(())
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
    found.unwrap_or_else(|e| panic!("{e}; last answer: {last}"));
}

/// Real Loki, simple scalable on two hosts (replication 1) and a third write process joining
/// under push and query load through the gateway: its distributors and ingesters move to replication 3 one
/// process at a time, with no push or query refused and never two write processes down.
#[test]
fn real_loki_replication_rises_from_1_to_3_under_load_without_a_refused_push() {
    let Some(lab) = real_lab(3, &[Backend::Loki]) else {
        return;
    };
    ctl_ok(&lab, &["config", "set", "rollout.min_healthy_seconds", "5"]);
    // Two of each: one read process keeps answering queries and one query scheduler
    // (backend) keeps scheduling them while the other restarts.
    place(
        &lab,
        "loki",
        &["host1=write,read,backend", "host2=write,read,backend"],
    );
    assign(&lab, "host1", "loki:gateway");
    wait_all(&lab);
    rollout_idle(&lab, Duration::from_secs(600));
    let gw = lab.host(1).addr(LOKI_PORT);
    let hosts = lab.hosts();
    let plan = ctl_ok(&lab, &["assign-role", "host3", "loki:write", "--dry-run"]);
    assert!(
        plan.contains("replication factor of loki:ingester: 1 -> 3"),
        "{plan}"
    );
    // host3's process is new: starting it is no restart.
    let (load, took) = roll_under_load(&lab, &hosts[..2], || {
        assign(&lab, "host3", "loki:write");
    });
    eprintln!(
        "replication 1 -> 3 took {:.0}s; {} pushes, {} queries; transitions: {:?}",
        took.as_secs_f64(),
        load.pushed.len(),
        load.queries,
        load.transitions
    );
    load.assert_clean(lab.host(1));
    let status = cluster_status(&lab);
    let loki = status
        .backends
        .iter()
        .find(|b| b.backend == Backend::Loki)
        .expect("loki");
    assert!(
        loki.replication.iter().any(|r| r.factor == 3),
        "{:?}",
        loki.replication
    );
    logs_all_there(gw, &load.selector, &load.pushed);
}
