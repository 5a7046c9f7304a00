//! The coordinator gone for a while: no backend restarts, and agents come back spread out
//! (their retries back off with jitter), not in one herd.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lgtm_tests::lab::{Host, Lab};

use super::probes::{converged, processes};
use super::support::until;

/// Three agent heartbeats (10 s each) and two long-poll waits' worth of retries: long enough
/// for every agent to fail several times and back off to multi-second delays. Minutes would
/// prove no more (nothing polls the coordinator on a longer period) and cost CI time.
pub const OUTAGE: Duration = Duration::from_secs(30);

const RECONNECTED: &str = "Reached the coordinator again";

/// Realtime (µs) of every journal line of the agent on `host` containing `text`.
pub fn agent_lines_at(host: &Host, text: &str) -> Vec<u64> {
    let out = host
        .run(&[
            "journalctl",
            "--no-pager",
            "-o",
            "json",
            "-u",
            "lgtm-agent.service",
        ])
        .unwrap();
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["MESSAGE"].as_str().is_some_and(|m| m.contains(text)))
        .filter_map(|v| v["__REALTIME_TIMESTAMP"].as_str()?.parse().ok())
        .collect()
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

pub fn backends_outlive_a_coordinator_outage(lab: &mut Lab) {
    let before = processes(lab);
    assert!(before.len() >= 3, "backends to watch: {before:?}");
    let seen: Vec<usize> = lab
        .hosts()
        .iter()
        .map(|h| agent_lines_at(h, RECONNECTED).len())
        .collect();

    lab.coordinator().unwrap().stop();
    thread::sleep(OUTAGE);
    assert_eq!(
        processes(lab),
        before,
        "a backend restarted while it was gone"
    );

    lab.start_coordinator().unwrap();
    let back = now_us();
    let mut delays_ms = Vec::new();
    for (host, seen) in lab.hosts().iter().zip(seen) {
        let at = until(&format!("{}'s agent to reconnect", host.name()), || {
            let lines = agent_lines_at(host, RECONNECTED);
            (lines.len() > seen).then(|| lines[seen])
        });
        delays_ms.push((at as i64 - back as i64) / 1000);
    }
    eprintln!(
        "coordinator outage of {OUTAGE:?}: agents reconnected {delays_ms:?} ms after it \
         answered again (long-poll answers, so a full poll wait may be included)"
    );
    assert!(
        delays_ms.windows(2).any(|w| w[0] != w[1]),
        "every agent came back at the same moment: {delays_ms:?}"
    );
    converged(lab);
    assert_eq!(
        processes(lab),
        before,
        "a backend restarted after it came back"
    );
}
