//! Rolling restarts against the real Loki: a change that restarts every write process rolls
//! one host at a time under continuous push and query load through the gateway, and a host
//! whose restart fails pauses the rollout until an operator resumes it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use lgtm_model::gateway::LOKI_PORT;
use lgtm_model::wire::RolloutStatus;
use lgtm_tests::clients::loki::{self, Stream};
use lgtm_tests::lab::{Host, Lab};

use super::real::{process, simple_scalable_on_three, wait_all};
use super::support::*;

/// What the load saw while it ran.
#[derive(Debug, Default)]
struct Load {
    pushed: BTreeSet<String>,
    push_failures: Vec<String>,
    queries: usize,
    query_failures: Vec<String>,
    /// Most write processes not (active and ready) at one sample, and when.
    max_down: usize,
    down_samples: Vec<String>,
    /// Each time a write process went down or came back: (seconds since the load started,
    /// host, up).
    transitions: Vec<(f64, String, bool)>,
}

/// Pushes one line every 50 ms and queries every 500 ms through the gateway, and samples
/// every write process's systemd state and `/ready`, until `stop`.
fn run_load(gw: SocketAddr, hosts: &[Host], stop: &AtomicBool) -> Load {
    {
        let mut load = Load::default();
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
                labels: "{job=\"rolling\"}",
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
                if let Err(e) = loki::query_lines(gw, "{job=\"rolling\"}", start) {
                    load.query_failures.push(e);
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

fn rollout(lab: &Lab) -> RolloutStatus {
    serde_json::from_str(&ctl_ok(lab, &["--output", "json", "rollout", "status"])).unwrap()
}

/// Waits until the rollout has nothing restarting or waiting (at most `limit`).
fn rollout_idle(lab: &Lab, limit: Duration) {
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

    // A change every process of Loki must restart for, under load.
    let pids: Vec<u32> = hosts.iter().map(|h| main_pid(h, &write)).collect();
    let stop = AtomicBool::new(false);
    let (load, took) = thread::scope(|s| {
        let load = s.spawn(|| run_load(gw, hosts, &stop));
        thread::sleep(Duration::from_secs(5));
        let started = Instant::now();
        ctl_ok(&lab, &["config", "set", "loki.log_level", "warn"]);
        let seen = rollout(&lab);
        assert_eq!(
            seen.restarting.len() + seen.waiting.len(),
            7,
            "every Loki process of the three hosts restarts: {seen:#?}"
        );
        rollout_idle(&lab, Duration::from_secs(900));
        let took = started.elapsed();
        thread::sleep(Duration::from_secs(5));
        stop.store(true, Ordering::SeqCst);
        (load.join().unwrap(), took)
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
    assert!(
        load.push_failures.is_empty(),
        "{} of {} pushes failed: {:#?}",
        load.push_failures.len(),
        load.pushed.len() + load.push_failures.len(),
        load.push_failures
    );
    assert!(
        load.query_failures.is_empty(),
        "{} of {} queries failed: {:#?}",
        load.query_failures.len(),
        load.queries,
        load.query_failures
    );
    assert!(
        load.max_down <= 1,
        "more than one write process down at once: {:?}",
        load.down_samples
    );
    assert!(load.pushed.len() > 100, "the load ran: {load:?}");
    logs_all_there(gw, &load.pushed);

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
    logs_all_there(gw, &load.pushed);
}

/// Every line pushed comes back through the gateway.
fn logs_all_there(gw: SocketAddr, pushed: &BTreeSet<String>) {
    let start = loki::now_ns() - 3_600_000_000_000;
    let mut last = String::new();
    let found =
        lgtm_tests::lab::wait_for("every pushed line", PATIENCE, || {
            match loki::query_lines(gw, "{job=\"rolling\"}", start) {
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
