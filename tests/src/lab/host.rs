//! One lab host: systemd as PID 1 in fresh namespaces over an overlay of the machine's root.
//!
//! The PID of that systemd, seen from the root namespace, is the handle: commands run inside
//! with `nsenter -t PID -a`, and files are written through `/proc/PID/root`.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::binaries;
use super::error::LabError;
use super::net::{self, Slot};
use super::process::{self, alive, children, guarded, signal, wait_for};

/// What every host of a lab shares.
#[derive(Debug)]
pub(crate) struct LabContext {
    /// The coordinator's URL as hosts reach it.
    pub coordinator_url: String,
    /// Where backend binaries live inside hosts.
    pub bin_dir: PathBuf,
    /// The coordinator's admin token file (written at its first start).
    pub admin_token_file: PathBuf,
    /// The coordinator's CA certificate (written at its first start).
    pub ca_file: PathBuf,
}

impl LabContext {
    /// `lgtmctl --coordinator URL --credentials ADMIN_TOKEN_FILE ARGS`.
    pub fn lgtmctl_argv<S: AsRef<str>>(&self, args: &[S]) -> Result<Vec<String>, LabError> {
        let bin = binaries::find("lgtmctl")?;
        let mut argv = vec![
            bin.to_string_lossy().into_owned(),
            "--coordinator".to_owned(),
            self.coordinator_url.clone(),
            "--credentials".to_owned(),
            self.admin_token_file.to_string_lossy().into_owned(),
            "--ca-file".to_owned(),
            self.ca_file.to_string_lossy().into_owned(),
        ];
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Ok(argv)
    }

    /// A new join token, from `lgtmctl join-token create`.
    fn join_token(&self) -> Result<String, LabError> {
        let argv = self.lgtmctl_argv(&["join-token", "create", "--ttl", "1h", "-o", "json"])?;
        let out = process::output(&argv)?;
        if !out.status.success() {
            return Err(LabError::command(&argv, &out));
        }
        let created: lgtm_model::wire::JoinTokenCreated = serde_json::from_slice(&out.stdout)
            .map_err(|e| {
                LabError::Unavailable(format!("lgtmctl join-token create printed no token: {e}"))
            })?;
        Ok(created.token)
    }
}

/// Where the lab puts a host's join token.
const JOIN_TOKEN_FILE: &str = "/etc/lgtm-agent/join.token";
/// Where the lab puts the coordinator's CA certificate in a host.
const CA_FILE: &str = "/etc/lgtm-agent/ca.pem";

/// How to boot one host.
pub(crate) struct BootSpec<'a> {
    pub number: usize,
    pub slot: Slot,
    /// Empty directory the host mounts its tmpfs on (inside its own namespace).
    pub scratch: &'a Path,
    /// Files copied into the overlay's upper layer before boot.
    pub stage: &'a Path,
    pub boot_script: &'a Path,
    pub console_log: &'a Path,
    pub ctx: Arc<LabContext>,
}

/// A running lab host.
#[derive(Debug)]
pub struct Host {
    name: String,
    number: usize,
    ip: Ipv4Addr,
    pid: i32,
    slot: Slot,
    ctx: Arc<LabContext>,
    console_log: PathBuf,
    /// The `setpriv`/`unshare` process whose child is the host's systemd.
    unshare: Mutex<Option<Child>>,
}

/// The name of host `n`.
pub fn host_name(n: usize) -> String {
    format!("host{n}")
}

impl Host {
    /// Starts a host's namespaces and systemd and connects it to the bridge; see [`Host::wait_running`].
    ///
    /// Call it on the thread that owns the lab: the host gets SIGKILL when that thread ends.
    pub(crate) fn spawn(spec: BootSpec<'_>) -> Result<Host, LabError> {
        let name = host_name(spec.number);
        let console = File::create(spec.console_log).map_err(LabError::io(format!(
            "create {}",
            spec.console_log.display()
        )))?;
        let console_err = console
            .try_clone()
            .map_err(LabError::io("duplicate the console log"))?;
        let mut cmd = guarded(&[
            "unshare".as_ref(),
            "--pid".as_ref(),
            "--fork".as_ref(),
            "--kill-child".as_ref(),
            "--mount".as_ref(),
            "--uts".as_ref(),
            "--net".as_ref(),
            "--ipc".as_ref(),
            "--propagation".as_ref(),
            "private".as_ref(),
            "sh".as_ref(),
            spec.boot_script.as_os_str(),
            spec.scratch.as_os_str(),
            name.as_ref(),
            spec.stage.as_os_str(),
        ]);
        cmd.stdout(Stdio::from(console))
            .stderr(Stdio::from(console_err));
        let mut child = cmd.spawn().map_err(LabError::io(format!("start {name}")))?;
        let outer = child.id() as i32;
        let console_tail = || tail(spec.console_log);
        let found = wait_for(
            &format!("{name}'s init process"),
            Duration::from_secs(10),
            || {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return Some(None);
                }
                children(outer).first().map(|p| Some(*p))
            },
        );
        let pid = match found {
            Ok(Some(pid)) => pid,
            Ok(None) => {
                return Err(LabError::Unavailable(format!(
                    "{name} exited while booting; console: {}",
                    console_tail()
                )));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let mut host = Host {
            name,
            number: spec.number,
            ip: Ipv4Addr::UNSPECIFIED,
            pid,
            slot: spec.slot,
            ctx: spec.ctx,
            console_log: spec.console_log.to_path_buf(),
            unshare: Mutex::new(Some(child)),
        };
        // On failure, dropping `host` stops it.
        host.ip = net::attach_host(spec.slot, spec.number, pid)?;
        Ok(host)
    }

    /// Waits until the host's systemd reports `running` (or `degraded`).
    pub(crate) fn wait_running(&self, timeout: Duration) -> Result<(), LabError> {
        let mut last = String::new();
        let what = format!("{}'s systemd to reach 'running'", self.name);
        let res = wait_for(&what, timeout, || {
            let out = self.exec(&["systemctl", "is-system-running"]).ok()?;
            last = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            // `degraded` means booted with a failed unit: still a usable host.
            matches!(last.as_str(), "running" | "degraded").then_some(())
        });
        res.map_err(|e| match e {
            LabError::Timeout { what, detail } => LabError::Timeout {
                what,
                detail: format!(
                    "{detail}, last state {last:?}; console: {}",
                    tail(&self.console_log)
                ),
            },
            e => e,
        })
    }

    /// `host1`, `host2`, ...
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's number N (`hostN`).
    pub fn number(&self) -> usize {
        self.number
    }

    /// The host's address on the lab bridge.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// `ip:port` on this host.
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip, port))
    }

    /// The PID of the host's systemd, seen from the root namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the host's systemd is still alive.
    pub fn is_running(&self) -> bool {
        alive(self.pid)
    }

    /// Runs argv inside the host (every namespace) and returns its output, whatever its status.
    pub fn exec<S: AsRef<str>>(&self, argv: &[S]) -> Result<Output, LabError> {
        process::output(&self.nsenter(argv))
    }

    /// Runs argv inside the host, fails unless it exits 0, and returns its stdout.
    pub fn run<S: AsRef<str>>(&self, argv: &[S]) -> Result<String, LabError> {
        let out = process::run(&self.nsenter(argv))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn nsenter<S: AsRef<str>>(&self, argv: &[S]) -> Vec<String> {
        let mut full: Vec<String> = ["nsenter", "-t", &self.pid.to_string(), "-a", "--"]
            .map(str::to_owned)
            .to_vec();
        full.extend(argv.iter().map(|a| a.as_ref().to_owned()));
        full
    }

    /// `systemctl ARGS` inside the host; output whatever its status.
    pub fn systemctl<S: AsRef<str>>(&self, args: &[S]) -> Result<Output, LabError> {
        let mut argv = vec!["systemctl".to_owned()];
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self.exec(&argv)
    }

    /// The last `lines` journal lines of `unit` (a glob such as `lgtm-*` works).
    pub fn journal(&self, unit: &str, lines: usize) -> Result<String, LabError> {
        let n = lines.to_string();
        let out = self.exec(&[
            "journalctl",
            "--no-pager",
            "-o",
            "short-precise",
            "-n",
            &n,
            "-u",
            unit,
        ])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The path of `path` (absolute, inside the host) as seen from the root namespace.
    fn outside(&self, path: &str) -> Result<PathBuf, LabError> {
        let p = Path::new(path);
        let ok = p.is_absolute()
            && !path.contains('\0')
            && p.components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if !ok {
            return Err(LabError::Invalid {
                what: format!("path {path:?} in {}", self.name),
                why: "give an absolute path without '..'".into(),
            });
        }
        Ok(PathBuf::from(format!("/proc/{}/root", self.pid)).join(path.trim_start_matches('/')))
    }

    /// Writes a file inside the host atomically (temp file + rename), creating parent dirs.
    pub fn write_file(&self, path: &str, bytes: &[u8], mode: u32) -> Result<(), LabError> {
        let target = self.outside(path)?;
        let what = |verb: &str| format!("{verb} {path} in {}", self.name);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(LabError::io(what("create the directory of")))?;
        }
        let tmp = target.with_extension("lgtm-lab-tmp");
        fs::write(&tmp, bytes).map_err(LabError::io(what("write")))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
            .map_err(LabError::io(what("set the mode of")))?;
        fs::rename(&tmp, &target).map_err(LabError::io(what("rename into place")))
    }

    /// Reads a file inside the host.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, LabError> {
        let target = self.outside(path)?;
        fs::read(&target).map_err(LabError::io(format!("read {path} in {}", self.name)))
    }

    /// Cuts the host off the lab network (root side of its veth down).
    pub fn link_down(&self) -> Result<(), LabError> {
        net::set_link(self.slot, self.number, false)
    }

    /// Reconnects the host to the lab network.
    pub fn link_up(&self) -> Result<(), LabError> {
        net::set_link(self.slot, self.number, true)
    }

    /// Installs and starts `lgtm-agent.service` (Type=notify, Restart=always,
    /// KillMode=process) running the workspace's `lgtm-agent`.
    pub fn start_agent(&self) -> Result<(), LabError> {
        let agent = binaries::find("lgtm-agent")?;
        let token = self.ctx.join_token()?;
        self.write_file(JOIN_TOKEN_FILE, token.as_bytes(), 0o600)?;
        let ca = fs::read(&self.ctx.ca_file).map_err(LabError::io(format!(
            "read the coordinator's CA {}",
            self.ctx.ca_file.display()
        )))?;
        self.write_file(CA_FILE, &ca, 0o644)?;
        let unit = agent_unit(
            &agent,
            &self.ctx.coordinator_url,
            &self.name,
            &self.ctx.bin_dir,
        )?;
        self.write_file(
            "/etc/systemd/system/lgtm-agent.service",
            unit.as_bytes(),
            0o644,
        )?;
        self.run(&["systemctl", "daemon-reload"])?;
        self.run(&["systemctl", "start", "--no-block", "lgtm-agent.service"])?;
        Ok(())
    }

    /// Journals of the agent and every `lgtm-*` unit, for a failed test's log.
    pub fn dump_journals(&self) -> String {
        match self.exec(&[
            "journalctl",
            "--no-pager",
            "-o",
            "short-precise",
            "-n",
            "400",
            "-u",
            "lgtm-agent.service",
            "-u",
            "lgtm-*",
        ]) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => format!("(no journal: {e})"),
        }
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.unshare.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the host's systemd to power off, without waiting.
    pub(crate) fn request_poweroff(&self) {
        if self.child().is_some() {
            let _ = self.exec(&["systemctl", "poweroff", "--no-block"]);
        }
    }

    /// Waits until `deadline` for the host to go, then kills it.
    pub(crate) fn finish_stop(&self, deadline: Instant) {
        let mut guard = self.child();
        let Some(child) = guard.as_mut() else { return };
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(self.pid) {
            // SIGKILL to a namespace's init ends every process in it.
            signal(self.pid, Signal::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = wait_for("host init to exit", Duration::from_secs(5), || {
            (!alive(self.pid)).then_some(())
        });
        *guard = None;
    }

    /// Powers the host off (SIGKILL after a few seconds if it does not go).
    pub fn stop(&self) {
        self.request_poweroff();
        self.finish_stop(Instant::now() + Duration::from_secs(8));
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One argument of an `ExecStart=` line, quoted; refuses text systemd would reinterpret.
fn unit_arg(what: &str, s: &str) -> Result<String, LabError> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\\' | '$' | '\''))
    {
        return Err(LabError::Invalid {
            what: what.to_owned(),
            why: format!("{s:?} cannot go into a unit file (quotes, '\\', '$' or control bytes)"),
        });
    }
    Ok(format!("\"{}\"", s.replace('%', "%%")))
}

/// The lab's `lgtm-agent.service`.
fn agent_unit(
    agent: &Path,
    coordinator: &str,
    host: &str,
    bin_dir: &Path,
) -> Result<String, LabError> {
    let exec = [
        unit_arg("agent path", &agent.to_string_lossy())?,
        "--coordinator".into(),
        unit_arg("coordinator URL", coordinator)?,
        "--host-name".into(),
        unit_arg("host name", host)?,
        "--bin-dir".into(),
        unit_arg("backend bin dir", &bin_dir.to_string_lossy())?,
        "--join-token-file".into(),
        JOIN_TOKEN_FILE.into(),
        "--ca-file".into(),
        CA_FILE.into(),
    ]
    .join(" ");
    Ok(format!(
        "[Unit]\n\
         Description=lgtm agent (lab)\n\
         \n\
         [Service]\n\
         Type=notify\n\
         ExecStart={exec}\n\
         Environment=RUST_BACKTRACE=1\n\
         Restart=always\n\
         RestartSec=1\n\
         # An agent restart must never stop the backends it started.\n\
         KillMode=process\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    ))
}

/// The last lines of a log file, for error messages.
pub(crate) fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_unit_is_notify_restart_always_kill_process() {
        let unit = agent_unit(
            Path::new("/w/target/debug/lgtm-agent"),
            "http://198.18.0.1:7400",
            "host1",
            Path::new("/usr/local/lib/lgtm-lab/bin"),
        )
        .unwrap();
        assert!(unit.contains("\nType=notify\n"), "{unit}");
        assert!(unit.contains("\nRestart=always\n") && unit.contains("\nKillMode=process\n"));
        assert!(
            unit.contains(
                "ExecStart=\"/w/target/debug/lgtm-agent\" --coordinator \"http://198.18.0.1:7400\" \
             --host-name \"host1\" --bin-dir \"/usr/local/lib/lgtm-lab/bin\" \
             --join-token-file /etc/lgtm-agent/join.token --ca-file /etc/lgtm-agent/ca.pem\n"
            ),
            "{unit}"
        );
    }

    #[test]
    fn unit_args_refuse_what_systemd_would_reinterpret() {
        assert_eq!(unit_arg("x", "/a b/%n").unwrap(), "\"/a b/%%n\"");
        for bad in ["", "a\"b", "a$b", "a\nb", "a\\b"] {
            assert!(unit_arg("x", bad).is_err(), "{bad:?}");
        }
    }
}
