//! A minimal blocking HTTP/1.1 client for probing lab hosts (`/ready`, the stand-in's
//! `/standin/*`) from synchronous tests, without pulling a runtime into every test.
//!
//! Coordinators the lab starts are registered with [`coordinator_at`]: requests to them go
//! over TLS pinning their CA and carry their admin token unless the caller gives an
//! `Authorization` header itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::error::LabError;

/// Lab hosts sit on a local bridge: a connect that takes longer is a host cut off.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Coordinators' state directories, by address.
static COORDINATORS: std::sync::Mutex<Vec<(SocketAddr, PathBuf)>> =
    std::sync::Mutex::new(Vec::new());

/// From now on, requests to `addr` go over TLS pinning the CA in `state_dir` and carry its
/// admin token (both read at each request, as the coordinator writes them at its first start).
pub fn coordinator_at(addr: SocketAddr, state_dir: PathBuf) {
    let mut all = COORDINATORS.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|(a, _)| *a != addr);
    all.push((addr, state_dir));
}

fn state_dir(addr: SocketAddr) -> Option<PathBuf> {
    let all = COORDINATORS.lock().unwrap_or_else(|p| p.into_inner());
    Some(all.iter().find(|(a, _)| *a == addr)?.1.clone())
}

/// The admin token of the coordinator at `addr`, when registered and written.
pub fn admin_token(addr: SocketAddr) -> Option<String> {
    let token = std::fs::read_to_string(state_dir(addr)?.join("credentials/admin.token")).ok()?;
    Some(token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A TLS client trusting only the CA certificate in `ca_file`.
fn tls_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("read {}: {e}", ca_file.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("parse {}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("use {}: {e}", ca_file.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `GET http://addr/path`.
pub fn get(addr: SocketAddr, path: &str) -> Result<Response, LabError> {
    request("GET", addr, path, &[], b"")
}

/// `POST http://addr/path` with `body`.
pub fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Result<Response, LabError> {
    request("POST", addr, path, &[], body)
}

/// `POST http://addr/path` with `body`, waiting up to `timeout` for each read and write.
pub fn post_within(
    addr: SocketAddr,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, LabError> {
    request_within("POST", addr, path, &[], body, timeout)
}

/// One request on a fresh connection (`Connection: close`).
pub fn request(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, LabError> {
    request_within(method, addr, path, headers, body, TIMEOUT)
}

fn request_within(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, LabError> {
    let what = format!("{method} http://{addr}{path}");
    let bad = |why: String| LabError::Http {
        what: what.clone(),
        why,
    };
    let clean = |s: &str| !s.bytes().any(|b| b.is_ascii_control());
    if !path.starts_with('/') || !clean(path) || !clean(method) {
        return Err(bad(
            "path must start with '/' and hold no control bytes".into()
        ));
    }
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        if !clean(n) || !clean(v) {
            return Err(bad(format!("header {n:?} holds control bytes")));
        }
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        && let Some(token) = admin_token(addr)
    {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| bad(format!("connect: {e}")))?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let mut stream: Box<dyn ReadWrite> = match state_dir(addr) {
        None => Box::new(tcp),
        Some(dir) => {
            let config = tls_config(&dir.join("tls/ca.pem")).map_err(&bad)?;
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let conn = rustls::ClientConnection::new(config, name)
                .map_err(|e| bad(format!("TLS: {e}")))?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    };
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush())
        .map_err(|e| bad(format!("send: {e}")))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| bad(format!("read: {e}")))?;
    parse(&raw).map_err(bad)
}

/// A plain or TLS connection.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Parses a whole HTTP/1.1 response read until the connection closed.
fn parse(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        // A response cut short says what arrived, for whoever looks into why.
        dechunk(rest).map_err(|e| {
            let tail = &rest[rest.len().saturating_sub(120)..];
            format!(
                "{e} ({} body bytes read, ending {:?}; headers {head:?})",
                rest.len(),
                String::from_utf8_lossy(tail)
            )
        })?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nready").unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ready"));
        assert_eq!(r.header("x-a"), Some("b"));
        let r = parse(
            b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.text().as_str()), (503, "abcde"));
        assert!(parse(b"garbage").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }

    #[test]
    fn refuses_control_bytes() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let e = request("GET", addr, "/a\r\nX: y", &[], b"").unwrap_err();
        assert!(e.to_string().contains("control bytes"), "{e}");
    }
}
