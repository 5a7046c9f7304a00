//! The real `lgtm-coordinator` binary as a child process, and raw HTTP/1.1 over std sockets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// A running coordinator, killed with SIGKILL when dropped.
pub struct Coordinator {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Coordinator {
    /// Starts the binary on a free loopback port and waits until it answers.
    pub fn start(state_dir: &Path, env: &[(&str, &str)]) -> Coordinator {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(state_dir.with_extension("log"))
                .unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_lgtm-coordinator"))
                .args(["--listen", &addr.to_string(), "--state-dir"])
                .arg(state_dir)
                .env_remove("NOTIFY_SOCKET")
                .env_remove("JOURNAL_STREAM")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut c = Coordinator { child, addr };
            remember_token(addr, state_dir);
            for _ in 0..600 {
                if let Ok((200, _)) = http(addr, "GET", "/healthz", None) {
                    return c;
                }
                if c.child.try_wait().unwrap().is_some() {
                    break; // The port was taken in between: try another.
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "lgtm-coordinator did not start; see {}",
            state_dir.with_extension("log").display()
        );
    }

    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// State directories of the coordinators started, by address: [`http`] sends their admin
/// token and pins their CA.
static STATES: std::sync::Mutex<Vec<(SocketAddr, std::path::PathBuf)>> =
    std::sync::Mutex::new(Vec::new());

fn remember_token(addr: SocketAddr, state_dir: &Path) {
    let mut states = STATES.lock().unwrap();
    states.retain(|(a, _)| *a != addr);
    states.push((addr, state_dir.to_owned()));
}

fn state_of(addr: SocketAddr) -> Option<std::path::PathBuf> {
    let states = STATES.lock().unwrap();
    Some(states.iter().find(|(a, _)| *a == addr)?.1.clone())
}

/// The admin token of the coordinator at `addr`, once it wrote it.
pub fn admin_token(addr: SocketAddr) -> Option<String> {
    let path = state_of(addr)?.join("credentials/admin.token");
    Some(std::fs::read_to_string(path).ok()?.trim().to_owned())
}

/// The CA certificate (PEM) of the coordinator at `addr`.
pub fn ca_pem(addr: SocketAddr) -> Option<Vec<u8>> {
    std::fs::read(state_of(addr)?.join("tls/ca.pem")).ok()
}

/// A TLS client trusting only the CA in `ca_pem` (none: trusting nothing).
pub fn tls_config(ca_pem: Option<&[u8]>) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    std::sync::Arc::new(config)
}

/// A TLS connection to `addr` (by its IP address) trusting only `config`'s roots.
pub fn tls_connect(
    addr: SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(conn, s);
    // Finish the handshake now, so a refused certificate fails here.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// One HTTP/1.1 request over a fresh connection with the coordinator's admin token:
/// (status, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let auth = admin_token(addr)
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    http_with(addr, method, path, &auth, body)
}

/// One HTTP/1.1 request with extra header lines (each ending in CRLF): (status, body).
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = tls_connect(addr, tls_config(ca_pem(addr).as_deref()))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {answer:?}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
