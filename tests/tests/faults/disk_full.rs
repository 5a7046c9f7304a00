//! The coordinator's state directory on a full disk: a 4 MiB tmpfs in a mount namespace of
//! its own (held open by a `sleep`, so the coordinator can be restarted on the same tmpfs).
//! Writes are refused with a clear error, reads are served, and once space is back nothing
//! is lost or corrupted, across a restart too.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use lgtm_tests::lab::process::guarded;
use lgtm_tests::lab::{binaries, http, unavailable, wait_for};

use super::probes::put_setting;

/// A child killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tmpfs seen only by the namespace of `holder`.
struct SmallDisk {
    holder: Killed,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallDisk {
    fn new() -> SmallDisk {
        let tmp = tempfile::Builder::new()
            .prefix("lgtm-full-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let dir = tmp.path().join("disk");
        fs::create_dir(&dir).unwrap();
        let script = format!(
            "mount -t tmpfs -o size=4m lgtm-full '{}' && echo mounted && exec sleep infinity",
            dir.display()
        );
        let mut child = guarded(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let holder = Killed(child);
        assert_eq!(line.trim(), "mounted", "the tmpfs did not mount");
        SmallDisk {
            holder,
            dir,
            _tmp: tmp,
        }
    }

    /// `path` inside the namespace, as this process can reach it.
    fn inside(&self, path: &Path) -> PathBuf {
        let rel = path.strip_prefix("/").unwrap();
        PathBuf::from(format!("/proc/{}/root", self.holder.0.id())).join(rel)
    }

    /// Starts the coordinator on the tmpfs and waits until it answers.
    fn coordinator(&self, addr: SocketAddr, log: &Path) -> Killed {
        let bin = binaries::find("lgtm-coordinator").unwrap();
        let log = File::options().create(true).append(true).open(log).unwrap();
        let pid = self.holder.0.id().to_string();
        let state = self.dir.join("state");
        let child = guarded(&[
            "nsenter".as_ref(),
            "-t".as_ref(),
            pid.as_ref(),
            "-m".as_ref(),
            bin.as_os_str(),
            "--listen".as_ref(),
            addr.to_string().as_ref(),
            "--state-dir".as_ref(),
            state.as_os_str(),
        ])
        .stderr(log)
        .spawn()
        .unwrap();
        let c = Killed(child);
        http::coordinator_at(addr, self.inside(&state));
        wait_for(
            "the coordinator on the small disk",
            Duration::from_secs(30),
            || http::get(addr, "/healthz").ok().filter(|r| r.status == 200),
        )
        .unwrap();
        c
    }

    /// Fills the tmpfs with one file; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.inside(&self.dir.join("filler"));
        let mut f = File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) || e.kind() == ErrorKind::StorageFull => {
                    break;
                }
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Down to the last bytes too.
        while f.write_all(&[0u8; 512]).is_ok() {}
        while f.write_all(&[0u8]).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

/// Everything a client can read back: hosts and settings.
fn snapshot(addr: SocketAddr) -> (String, String) {
    let get = |p: &str| {
        let r = http::get(addr, p).unwrap();
        assert_eq!(r.status, 200, "{p} while full: {}", r.text());
        r.text()
    };
    (get("/v1/hosts"), get("/v1/settings"))
}

fn assign(addr: SocketAddr, host: &str, role: &str) -> (u16, String) {
    let body = format!(r#"{{"role":"{role}"}}"#);
    let r = http::request(
        "POST",
        addr,
        &format!("/v1/hosts/{host}/roles"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    (r.status, r.text())
}

#[test]
fn a_full_state_disk_refuses_writes_serves_reads_and_loses_nothing() {
    if let Some(why) = unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let disk = SmallDisk::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = disk._tmp.path().join("coordinator.log");
    let mut c = disk.coordinator(addr, &log);
    // Some state: a registered host (agents read its desired state), roles, a setting.
    let reg = r#"{"host":"h1","address":"198.18.255.1","data_root":"/var/lib/lgtm","agent_version":"0.1.0"}"#;
    let r = http::request(
        "POST",
        addr,
        "/v1/hosts",
        &[("Content-Type", "application/json")],
        reg.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(assign(addr, "h1", "mimir:all").0, 200);
    assert_eq!(assign(addr, "h2", "loki:all").0, 200);
    put_setting(addr, "cluster.name", "before-full").unwrap();
    let before = snapshot(addr);

    let filler = disk.fill();
    let mut refusals = Vec::new();
    // Several writes: the first may still fit in pages SQLite already has.
    for i in 0..40 {
        let bucket = format!("full-{i:03}-{}", "x".repeat(50));
        match put_setting(addr, "mimir.storage.s3.bucket", &bucket) {
            Ok(_) => {}
            Err(e) => refusals.push(e),
        }
        let (status, body) = assign(addr, &format!("full{i}"), "tempo:querier");
        if status != 200 {
            refusals.push(format!("{status} {body}"));
        }
    }
    assert!(!refusals.is_empty(), "every write fitted on a full disk");
    for r in &refusals {
        assert!(r.starts_with("507 "), "a write on a full disk: {r}");
        assert!(
            r.contains("state_disk_full") && r.contains("free space"),
            "{r}"
        );
    }
    eprintln!(
        "{} writes refused on the full disk, e.g. {}",
        refusals.len(),
        refusals[0]
    );
    // Reads are served, and show what was there (plus any write that fitted).
    let full = snapshot(addr);
    for path in [
        "/v1/status",
        "/v1/hosts/h1",
        "/v1/hosts/h1/rendered",
        "/v1/hosts/h1/desired",
    ] {
        let r = http::get(addr, path).unwrap();
        assert_eq!(r.status, 200, "{path} while full: {}", r.text());
    }

    // Space back: writes work again, and a restart shows the same state.
    fs::remove_file(&filler).unwrap();
    put_setting(addr, "cluster.name", "after-full").unwrap();
    let after = snapshot(addr);
    assert_ne!(after, full);
    let hosts = |text: &str| -> Vec<serde_json::Value> { serde_json::from_str(text).unwrap() };
    let kept = hosts(&after.0);
    for h in hosts(&before.0) {
        assert!(kept.contains(&h), "lost on the full disk: {h}");
    }
    drop(c);
    c = disk.coordinator(addr, &log);
    assert_eq!(snapshot(addr), after, "the state changed across a restart");
    drop(c);
}
