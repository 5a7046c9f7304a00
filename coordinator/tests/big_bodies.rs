//! A request body over the limit gets a 413 the client can read, as a new user meets it: a
//! 10 MB body sent at once (the connection stays usable afterwards), and one announced with
//! `Expect: 100-continue` (answered before the body is sent). Nothing changes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};

use common::process::{Coordinator, admin_token, ca_pem, http, tls_config, tls_connect};

const TEN_MB: usize = 10 * 1024 * 1024;

/// Reads one HTTP/1.1 answer (head and a `Content-Length` body) from `s`.
fn answer(s: &mut impl Read) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "cut after {got:?}");
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn a_body_over_the_limit_gets_a_readable_413() {
    let tmp = tempfile::tempdir().unwrap();
    let c = Coordinator::start(&tmp.path().join("state"), &[]);
    let token = admin_token(c.addr).unwrap();
    let body = format!(r#"{{"role":"{}"}}"#, "a".repeat(TEN_MB));
    let head = |expect: &str| {
        format!(
            "POST /v1/hosts/h1/roles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n{expect}\r\n",
            body.len()
        )
    };
    let connect = || tls_connect(c.addr, tls_config(ca_pem(c.addr).as_deref())).unwrap();

    // Sent at once: the whole body goes out, the answer comes back, the connection lives on.
    let mut s = connect();
    s.write_all(head("").as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    s.flush().unwrap();
    let first = answer(&mut s);
    assert!(first.starts_with("HTTP/1.1 413"), "{first}");
    assert!(
        first.contains(r#""code":"body_too_large""#) && first.contains("larger than 65536 bytes"),
        "{first}"
    );
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let next = answer(&mut s);
    assert!(next.starts_with("HTTP/1.1 200"), "{next}");

    // Announced: the 413 comes instead of `100 Continue`, before any of the body.
    let mut s = connect();
    s.write_all(head("Expect: 100-continue\r\n").as_bytes())
        .unwrap();
    s.flush().unwrap();
    let refused = answer(&mut s);
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    assert!(refused.contains("body_too_large"), "{refused}");

    // Nothing changed.
    let (status, hosts) = http(c.addr, "GET", "/v1/hosts", None).unwrap();
    assert_eq!(status, 200, "{hosts}");
    assert!(!hosts.contains("h1"), "{hosts}");
}
