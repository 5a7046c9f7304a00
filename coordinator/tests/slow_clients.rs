//! Slow clients cannot hold connections: the real binary drops a client that sends its
//! request head one byte per second (slowloris), one that never sends anything (over HTTP/1.1
//! or after choosing HTTP/2), and answers
//! 408 to one that trickles its body; meanwhile it keeps serving everyone else.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use common::process::{Coordinator, admin_token, ca_pem, http, tls_config, tls_connect};

/// Far beyond the server's 10 s limits: reaching it means the client was never dropped.
const GIVE_UP_AFTER_BYTES: usize = 90;

/// What the server did to a client that sent `head` and then `trickle`, one byte a second.
fn trickle(addr: SocketAddr, head: &[u8], trickle: &[u8]) -> Result<String, String> {
    let mut s = tls_connect(addr, tls_config(ca_pem(addr).as_deref())).unwrap();
    s.sock
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    s.write_all(head).unwrap();
    s.flush().unwrap();
    let mut answer = Vec::new();
    for i in 0..GIVE_UP_AFTER_BYTES {
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // Reset by the server: dropped as well.
            Err(_) => return Ok(String::from_utf8_lossy(&answer).into_owned()),
        }
        // An empty trickle sends nothing at all.
        let byte = trickle.get(i % trickle.len().max(1));
        if byte.is_some_and(|b| {
            s.write_all(std::slice::from_ref(b))
                .and_then(|()| s.flush())
                .is_err()
        }) {
            return Ok(String::from_utf8_lossy(&answer).into_owned());
        }
    }
    Err(format!(
        "still connected after {GIVE_UP_AFTER_BYTES} s; got {:?}",
        String::from_utf8_lossy(&answer)
    ))
}

/// What a client that connects and never starts TLS gets: the connection closed (bytes read).
fn silent_before_tls(addr: SocketAddr) -> Result<usize, String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(GIVE_UP_AFTER_BYTES as u64)))
        .unwrap();
    let mut buf = [0u8; 64];
    s.read(&mut buf).map_err(|e| format!("not closed: {e}"))
}

/// What a client that negotiates HTTP/2 and then sends nothing gets: the connection closed
/// (after the server's own preface, if it sends one first).
fn silent_after_h2(addr: SocketAddr) -> Result<(), String> {
    let mut config = (*tls_config(ca_pem(addr).as_deref())).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let mut s = tls_connect(addr, std::sync::Arc::new(config)).unwrap();
    if s.conn.alpn_protocol() != Some(b"h2") {
        return Err("the server did not choose HTTP/2".into());
    }
    s.sock
        .set_read_timeout(Some(Duration::from_secs(GIVE_UP_AFTER_BYTES as u64)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("still connected after {GIVE_UP_AFTER_BYTES} s"));
            }
            Err(_) => return Ok(()),
        }
    }
}

#[test]
fn slow_and_silent_clients_are_dropped_and_others_still_served() {
    let tmp = tempfile::tempdir().unwrap();
    let c = Coordinator::start(&tmp.path().join("state"), &[]);
    let addr = c.addr;
    let slow_head = thread::spawn(move || {
        trickle(
            addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
            b"X-Slow: aaaaaaaa\r\n",
        )
    });
    // Silent before the TLS handshake, and after it.
    let silent_tcp = thread::spawn(move || silent_before_tls(addr));
    let silent = thread::spawn(move || trickle(addr, b"", b""));
    let silent_h2 = thread::spawn(move || silent_after_h2(addr));
    let token = admin_token(addr).unwrap();
    let slow_body = thread::spawn(move || {
        let head = format!(
            "PUT /v1/settings/mimir.log_level HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
        );
        trickle(addr, head.as_bytes(), b" ")
    });
    // Others are served while those hang on.
    thread::sleep(Duration::from_secs(2));
    assert_eq!(http(addr, "GET", "/healthz", None).unwrap().0, 200);

    let head = slow_head.join().unwrap();
    assert!(head.is_ok(), "slow head: {head:?}");
    // Silence counts as an idle connection: dropped too, without an answer.
    assert_eq!(silent_tcp.join().unwrap(), Ok(0), "silent before TLS");
    let silent = silent.join().unwrap();
    assert_eq!(silent, Ok(String::new()), "silent client");
    assert_eq!(silent_h2.join().unwrap(), Ok(()), "silent HTTP/2 client");
    let body = slow_body.join().unwrap().unwrap();
    assert!(body.starts_with("HTTP/1.1 408"), "slow body: {body:?}");
    assert!(body.contains("body_timeout"), "slow body: {body:?}");
    // Nothing changed.
    let (_, settings) = http(addr, "GET", "/v1/settings", None).unwrap();
    assert!(
        settings.contains(r#""key":"mimir.log_level","value":"info""#),
        "{settings}"
    );
}
