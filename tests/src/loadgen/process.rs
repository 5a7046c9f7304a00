//! The coordinator under test: started from its binary with a temporary state directory on
//! a free loopback port (or an existing one, by PID), its peak RSS, and the open-file limit.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// A coordinator this benchmark started; killed on drop.
pub struct Spawned {
    child: Child,
    /// Its base URL.
    pub url: String,
    _state: tempfile::TempDir,
}

impl Spawned {
    /// The admin token the coordinator wrote into its state directory.
    pub fn admin_token(&self) -> anyhow::Result<String> {
        let file = self._state.path().join("credentials/admin.token");
        let token = std::fs::read_to_string(&file)
            .with_context(|| format!("failed to read {}", file.display()))?;
        Ok(token.trim().to_owned())
    }

    /// Starts `bin` and waits until `/healthz` answers.
    pub async fn start(bin: &Path) -> anyhow::Result<Spawned> {
        let state = tempfile::tempdir().context("failed to create a state directory")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("failed to find a free loopback port")?
            .port();
        let url = format!("https://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
            .arg(state.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("failed to start {}", bin.display()))?;
        let mut spawned = Spawned {
            child,
            url,
            _state: state,
        };
        spawned.wait_healthy().await?;
        Ok(spawned)
    }

    /// Its process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its CA certificate, once written.
    pub fn ca(&self) -> anyhow::Result<reqwest::Certificate> {
        let file = self._state.path().join("tls/ca.pem");
        let pem =
            std::fs::read(&file).with_context(|| format!("failed to read {}", file.display()))?;
        Ok(reqwest::Certificate::from_pem(&pem)?)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match self.ca() {
                Ok(ca) => {
                    break reqwest::Client::builder()
                        .tls_built_in_root_certs(false)
                        .add_root_certificate(ca)
                        .build()?;
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let health = format!("{}/healthz", self.url);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the coordinator exited before answering: {status}");
            }
            if client
                .get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the coordinator did not answer {health} within 30s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `lgtm-coordinator` next to this binary (both live in `target/<profile>/`).
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("failed to find this binary's path")?;
    let bin = exe
        .parent()
        .map(|d| d.join("lgtm-coordinator"))
        .context("this binary has no parent directory")?;
    if !bin.is_file() {
        bail!(
            "{} is missing: build it (cargo build --release -p lgtm-coordinator) or pass --coordinator-bin",
            bin.display()
        );
    }
    Ok(bin)
}

/// Raises this process's open-file limit towards `want` (children inherit it); returns the
/// new soft limit, which stays below `want` when the hard limit is lower and cannot be raised.
pub fn raise_nofile(want: u64) -> anyhow::Result<u64> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).context("failed to read RLIMIT_NOFILE")?;
    if soft >= want {
        return Ok(soft);
    }
    // Raising the hard limit needs CAP_SYS_RESOURCE; without it, take what the hard limit allows.
    let new_hard = hard.max(want);
    if setrlimit(Resource::RLIMIT_NOFILE, want, new_hard).is_ok() {
        return Ok(want);
    }
    let soft = want.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).context("failed to raise RLIMIT_NOFILE")?;
    Ok(soft)
}
