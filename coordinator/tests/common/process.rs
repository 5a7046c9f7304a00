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

/// Admin tokens of the coordinators started, by address: [`http`] sends them.
static TOKENS: std::sync::Mutex<Vec<(SocketAddr, std::path::PathBuf)>> =
    std::sync::Mutex::new(Vec::new());

fn remember_token(addr: SocketAddr, state_dir: &Path) {
    let mut tokens = TOKENS.lock().unwrap();
    tokens.retain(|(a, _)| *a != addr);
    tokens.push((addr, state_dir.join("credentials/admin.token")));
}

/// The admin token of the coordinator at `addr`, once it wrote it.
pub fn admin_token(addr: SocketAddr) -> Option<String> {
    let tokens = TOKENS.lock().unwrap();
    let path = &tokens.iter().find(|(a, _)| *a == addr)?.1;
    Some(std::fs::read_to_string(path).ok()?.trim().to_owned())
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
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
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
