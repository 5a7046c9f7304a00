//! Durability under kill -9: the real `lgtm-coordinator` binary on a loopback port takes
//! concurrent assignments, is killed mid-way, and must come back with every acknowledged
//! assignment, its index never going backwards. Repeated a few times on one state directory.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::process::{Coordinator, http};
use serde_json::Value;

fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, None).unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

const ROLES: [&str; 3] = ["mimir:querier", "loki:read", "tempo:querier"];
const WRITERS: usize = 4;

/// Assigns roles until the coordinator stops answering; records what was acknowledged.
fn writer(
    addr: SocketAddr,
    round: usize,
    w: usize,
    acked: Arc<Mutex<Vec<(String, String, u64)>>>,
    stop: Arc<AtomicBool>,
) {
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let host = format!("r{round}-w{w}-h{}", i / ROLES.len());
        let role = ROLES[i % ROLES.len()];
        let body = format!(r#"{{"role":"{role}"}}"#);
        match http(
            addr,
            "POST",
            &format!("/v1/hosts/{host}/roles"),
            Some(&body),
        ) {
            Ok((200, answer)) => {
                let v: Value = serde_json::from_str(&answer).unwrap();
                let index = v["index"].as_u64().unwrap();
                acked.lock().unwrap().push((host, role.to_owned(), index));
            }
            // Killed mid-request or refused: this one was never acknowledged.
            Ok((status, answer)) if status >= 500 || answer.is_empty() => return,
            Ok((status, answer)) => panic!("{host} {role}: {status} {answer}"),
            Err(_) => return,
        }
    }
}

/// Every acknowledged assignment is there, and the index is not behind any acknowledged one.
fn verify(addr: SocketAddr, acked: &[(String, String, u64)]) {
    let hosts = json(addr, "/v1/hosts");
    let present: BTreeSet<(String, String)> = hosts
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| {
            let name = h["name"].as_str().unwrap().to_owned();
            h["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |r| (name.clone(), r.as_str().unwrap().to_owned()))
        })
        .collect();
    for (host, role, _) in acked {
        assert!(
            present.contains(&(host.clone(), role.clone())),
            "acknowledged {role} on {host} was lost"
        );
    }
    let index = json(addr, "/healthz")["index"].as_u64().unwrap();
    let max_acked = acked.iter().map(|a| a.2).max().unwrap_or(0);
    assert!(
        index >= max_acked,
        "index went back: {index} < acknowledged {max_acked}"
    );
}

/// Puts every backend on S3: the writers put each backend on many hosts, which
/// filesystem storage refuses.
fn object_storage(addr: SocketAddr) {
    for b in ["mimir", "loki", "tempo"] {
        for (k, v) in [
            ("storage.s3.endpoint", "http://198.18.0.1:9000".to_owned()),
            ("storage.s3.bucket", format!("crash-{b}")),
            ("storage.s3.access_key_id", "crash".to_owned()),
            ("storage.s3.secret_access_key", "secret".to_owned()),
            ("storage.backend", "s3".to_owned()),
        ] {
            let body = format!(r#"{{"value":"{v}"}}"#);
            let path = format!("/v1/settings/{b}.{k}");
            let (status, answer) = http(addr, "PUT", &path, Some(&body)).unwrap();
            assert_eq!(status, 200, "{path}: {answer}");
        }
    }
}

#[test]
fn acknowledged_assignments_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..3 {
        let c = Coordinator::start(&state, &[]);
        if round == 0 {
            object_storage(c.addr);
        }
        verify(c.addr, &acked.lock().unwrap());
        let before = acked.lock().unwrap().len();
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (acked, stop, addr) = (acked.clone(), stop.clone(), c.addr);
                thread::spawn(move || writer(addr, round, w, acked, stop))
            })
            .collect();
        // Kill once the writers are well under way, with requests in flight.
        while acked.lock().unwrap().len() < before + 40 {
            thread::sleep(Duration::from_millis(5));
        }
        c.kill_9();
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.join().unwrap();
        }
        assert!(acked.lock().unwrap().len() >= before + 40);
    }
    let c = Coordinator::start(&state, &[]);
    let acked = acked.lock().unwrap();
    verify(c.addr, &acked);
    eprintln!("{} acknowledged assignments survived 3 kills", acked.len());
}
