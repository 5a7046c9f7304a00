//! The lab: throwaway hosts with their own systemd, D-Bus, hostname and network, booted in
//! fresh namespaces on this machine, plus a coordinator process and, on demand, an S3 server
//! ([`Lab::start_s3`], [`Lab::use_s3`]), for end-to-end tests.
//!
//! ```no_run
//! use lgtm_tests::lab::{Lab, LabSpec};
//! let Some(lab) = Lab::start_or_skip(LabSpec::hosts(2)) else { return };
//! let out = lab.host(1).run(&["hostname"]).unwrap();
//! assert_eq!(out.trim(), "host1");
//! ```
//!
//! Labs need root; [`Lab::start_or_skip`] prints why and returns `None` without it. Labs in one
//! test binary run one at a time (a global lock). Dropping a [`Lab`] powers every host off
//! (SIGKILL after a few seconds), stops the coordinator, deletes the bridge and veths, and,
//! when the test is panicking, first prints the journals of every host's `lgtm-*` units and
//! the coordinator's log.

pub mod binaries;
pub mod coordinator;
pub mod error;
pub mod host;
pub mod http;
pub mod net;
pub mod process;
pub mod s3;

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lgtm_model::Backend;

pub use coordinator::Coordinator;
pub use error::LabError;
pub use host::Host;
pub use process::wait_for;
pub use s3::S3Server;

use host::{BootSpec, LabContext, host_name};
use net::Slot;

/// Where backend binaries are installed inside hosts (unless real ones are used).
pub const HOST_BIN_DIR: &str = "/usr/local/lib/lgtm-lab/bin";
/// The coordinator's port on the bridge's gateway address.
pub const COORDINATOR_PORT: u16 = 7400;
const BOOT_SCRIPT: &str = include_str!("boot.sh");

/// Serializes labs within one test binary: the machine has 2 cores.
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// What to build.
#[derive(Clone, Debug)]
pub struct LabSpec {
    /// Number of hosts, named `host1..hostN` (1..=253).
    pub hosts: usize,
    /// How long a host may take to boot.
    pub boot_timeout: Duration,
    /// Backends that must run their real binary (from `LGTM_BACKEND_BIN_DIR` or
    /// `../shared/real-backends`); the others run the stand-in, unless
    /// `LGTM_BACKEND_BIN_DIR` is set, which makes every backend it holds real in every lab.
    pub real: Vec<Backend>,
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            hosts: 1,
            boot_timeout: Duration::from_secs(60),
            real: Vec::new(),
        }
    }
}

impl LabSpec {
    /// `n` hosts, defaults otherwise.
    pub fn hosts(n: usize) -> LabSpec {
        LabSpec {
            hosts: n,
            ..LabSpec::default()
        }
    }

    /// The same, with `backends` on their real binaries.
    pub fn real(mut self, backends: &[Backend]) -> LabSpec {
        self.real = backends.to_vec();
        self
    }
}

/// A running lab; dropping it removes everything it made.
pub struct Lab {
    slot: Slot,
    hosts: Vec<Host>,
    coordinator: Option<Coordinator>,
    s3: Option<S3Server>,
    ctx: Arc<LabContext>,
    real: BTreeMap<Backend, PathBuf>,
    dir: tempfile::TempDir,
    _lock: MutexGuard<'static, ()>,
}

/// Why this machine cannot run a lab, if it cannot.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("lab tests need root (namespaces, mounts, bridges)".into());
    }
    let on_path = |tool: &str| {
        process::PATH
            .split(':')
            .any(|d| Path::new(d).join(tool).is_file())
    };
    let missing: Vec<&str> = ["unshare", "nsenter", "setpriv", "ip", "mount", "pivot_root"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    if !missing.is_empty() {
        return Some(format!("missing tools: {}", missing.join(", ")));
    }
    if !Path::new("/lib/systemd/systemd").is_file() {
        return Some("/lib/systemd/systemd is not installed".into());
    }
    None
}

impl Lab {
    /// Starts a lab, or prints why this machine cannot and returns `None`; panics on failure.
    /// Under CI (`CI=true`) a lab that cannot run, or a real backend that is missing, fails.
    pub fn start_or_skip(spec: LabSpec) -> Option<Lab> {
        let ci = binaries::in_ci();
        if let Some(why) = unavailable() {
            assert!(!ci, "CI cannot run lab tests: {why}");
            eprintln!("skipping lab test: {why}");
            return None;
        }
        let missing = match binaries::real_backends() {
            Ok(found) => spec
                .real
                .iter()
                .filter(|b| !found.contains_key(b))
                .map(|b| b.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => panic!("failed to find the real backends: {e}"),
        };
        if !missing.is_empty() {
            let why = format!(
                "no real {missing} binary (put shared/real-backends beside the project, or set {})",
                binaries::BACKEND_BIN_DIR_ENV
            );
            assert!(!ci, "CI must run the real-backend tests: {why}");
            eprintln!("skipping real-backend test: {why}");
            return None;
        }
        match Lab::start(spec) {
            Ok(lab) => Some(lab),
            Err(e) => panic!("failed to start the lab: {e}"),
        }
    }

    /// Claims a bridge and subnet, boots every host and waits until all run.
    ///
    /// Call it on the thread that uses the lab: hosts get SIGKILL when that thread ends.
    pub fn start(spec: LabSpec) -> Result<Lab, LabError> {
        if let Some(why) = unavailable() {
            return Err(LabError::Unavailable(why));
        }
        if !(1..=253).contains(&spec.hosts) {
            return Err(LabError::Invalid {
                what: "host count".into(),
                why: format!("{} is outside 1..=253", spec.hosts),
            });
        }
        let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        remember_panics();
        let from_env = binaries::from_env();
        let mut real = binaries::real_backends()?;
        real.retain(|b, _| from_env || spec.real.contains(b));
        if let Some(b) = spec.real.iter().find(|b| !real.contains_key(b)) {
            return Err(LabError::Unavailable(format!("no real {b} binary")));
        }
        let which: Vec<String> = Backend::ALL
            .iter()
            .map(|b| match real.get(b) {
                Some(path) => format!("{b}=real ({})", path.display()),
                None => format!("{b}=stand-in"),
            })
            .collect();
        eprintln!("lab backends: {}", which.join(", "));
        // Not /tmp: hosts mount their own /tmp, and they must see the stand-in's copy.
        let dir = tempfile::Builder::new()
            .prefix("lgtm-lab-")
            .tempdir_in("/var/tmp")
            .map_err(LabError::io("create the lab directory in /var/tmp"))?;
        let slot = net::claim()?;
        let ctx = Arc::new(LabContext {
            coordinator_url: format!(
                "https://{}",
                SocketAddr::from((slot.gateway(), COORDINATOR_PORT))
            ),
            bin_dir: PathBuf::from(HOST_BIN_DIR),
            admin_token_file: dir.path().join("coordinator/state/credentials/admin.token"),
            ca_file: dir.path().join("coordinator/state/tls/ca.pem"),
        });
        let mut lab = Lab {
            slot,
            hosts: Vec::new(),
            coordinator: None,
            s3: None,
            ctx,
            real,
            dir,
            _lock: lock,
        };
        lab.boot(&spec)?;
        Ok(lab)
    }

    fn boot(&mut self, spec: &LabSpec) -> Result<(), LabError> {
        let root = self.dir.path().to_path_buf();
        let script = root.join("boot.sh");
        fs::write(&script, BOOT_SCRIPT).map_err(LabError::io("write boot.sh"))?;
        let standin = if self.real.len() < Backend::ALL.len() {
            let copy = root.join("bin/lgtm-standin");
            fs::create_dir_all(root.join("bin")).map_err(LabError::io("create the lab bin dir"))?;
            // A copy: a rebuild during the test must not change what hosts run.
            fs::copy(binaries::find("lgtm-standin")?, &copy)
                .map_err(LabError::io("copy lgtm-standin into the lab"))?;
            Some(copy)
        } else {
            None
        };
        let hosts_file = self.hosts_file(spec.hosts);
        for n in 1..=spec.hosts {
            let hdir = root.join(host_name(n));
            let stage = hdir.join("stage");
            let scratch = hdir.join("mnt");
            stage_host(&stage, n, &hosts_file, standin.as_deref(), &self.real)?;
            fs::create_dir_all(&scratch).map_err(LabError::io("create a host scratch dir"))?;
            let host = Host::spawn(BootSpec {
                number: n,
                slot: self.slot,
                scratch: &scratch,
                stage: &stage,
                boot_script: &script,
                console_log: &hdir.join("console.log"),
                ctx: self.ctx.clone(),
            })?;
            self.hosts.push(host);
        }
        // Hosts boot in parallel; wait for each in turn.
        let deadline = Instant::now() + spec.boot_timeout;
        for host in &self.hosts {
            host.wait_running(deadline.saturating_duration_since(Instant::now()))?;
        }
        Ok(())
    }

    fn hosts_file(&self, n: usize) -> String {
        let mut text = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost\n");
        text.push_str(&format!("{}\tlgtm-lab-gateway\n", self.gateway()));
        for i in 1..=n {
            if let Some(ip) = self.slot.host_ip(i) {
                text.push_str(&format!("{ip}\t{}\n", host_name(i)));
            }
        }
        text
    }

    /// Every host, in order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Host `n` (1-based, `hostN`); panics if there is no such host.
    pub fn host(&self, n: usize) -> &Host {
        match n.checked_sub(1).and_then(|i| self.hosts.get(i)) {
            Some(h) => h,
            None => panic!("the lab has hosts 1..={}, not {n}", self.hosts.len()),
        }
    }

    /// The bridge's name (`lgtmlab<k>`).
    pub fn bridge(&self) -> String {
        self.slot.bridge()
    }

    /// The root-side link name of host `n`'s veth.
    pub fn veth(&self, n: usize) -> String {
        self.slot.veth(n)
    }

    /// The root namespace's address on the bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        self.slot.gateway()
    }

    /// The lab's scratch directory on the machine (logs, state, staged files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where hosts find `mimir`, `loki` and `tempo` (the agent's `--bin-dir`).
    pub fn bin_dir(&self) -> &Path {
        &self.ctx.bin_dir
    }

    /// Whether hosts run the stand-in for Mimir (tests that use its fault injection or
    /// request records check this).
    pub fn uses_standin(&self) -> bool {
        !self.is_real(Backend::Mimir)
    }

    /// Whether hosts run `backend`'s real binary.
    pub fn is_real(&self, backend: Backend) -> bool {
        self.real.contains_key(&backend)
    }

    /// The coordinator's URL (valid before it is started).
    pub fn coordinator_url(&self) -> &str {
        &self.ctx.coordinator_url
    }

    /// Starts `lgtm-coordinator --listen GATEWAY:7400 --state-dir <lab>/coordinator/state`.
    pub fn start_coordinator(&mut self) -> Result<&Coordinator, LabError> {
        if self.coordinator.is_none() {
            let cdir = self.dir.path().join("coordinator");
            let state = cdir.join("state");
            fs::create_dir_all(&state).map_err(LabError::io("create the coordinator state dir"))?;
            self.coordinator = Some(Coordinator::new(
                SocketAddr::from((self.gateway(), COORDINATOR_PORT)),
                state,
                cdir.join("stderr.log"),
            ));
        }
        let c = self.coordinator.as_ref().ok_or(LabError::NoFreeSlot)?;
        c.start()?;
        Ok(c)
    }

    /// The coordinator, once started.
    pub fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }

    /// Runs `lgtmctl --coordinator URL ARGS` in the root namespace; output whatever its status.
    pub fn lgtmctl<S: AsRef<str>>(&self, args: &[S]) -> Result<Output, LabError> {
        let argv = self.ctx.lgtmctl_argv(args)?;
        process::output(&argv)
    }

    /// Runs `lgtmctl --coordinator URL ARGS`; its stdout, or an error with its stderr unless
    /// it exits 0.
    pub fn lgtmctl_ok<S: AsRef<str>>(&self, args: &[S]) -> Result<String, LabError> {
        let out = self.lgtmctl(args)?;
        if !out.status.success() {
            let mut argv = vec!["lgtmctl".to_owned()];
            argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
            return Err(LabError::command(&argv, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn dump(&self) {
        for host in &self.hosts {
            eprintln!(
                "===== lab {}: journal of lgtm-* units on {} =====",
                self.bridge(),
                host.name()
            );
            eprintln!("{}", host.dump_journals());
        }
        if let Some(c) = &self.coordinator {
            eprintln!(
                "===== lab {}: coordinator log ({}) =====",
                self.bridge(),
                c.log_path().display()
            );
            eprintln!("{}", fs::read_to_string(c.log_path()).unwrap_or_default());
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump();
            // The dump is long and CI shows a test's last lines: say again why it failed.
            let why = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_default();
            eprintln!("===== lab {}: the test failed: {why} =====", self.bridge());
        }
        for host in &self.hosts {
            host.request_poweroff();
        }
        let deadline = Instant::now() + Duration::from_secs(8);
        for host in &self.hosts {
            host.finish_stop(deadline);
        }
        self.hosts.clear();
        self.coordinator.take();
        net::teardown(self.slot);
    }
}

thread_local! {
    /// The message of the last panic on this thread, for [`Lab`]'s drop to repeat.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Keeps each panic's message (with where it happened) in [`LAST_PANIC`], then reports it as before.
fn remember_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            previous(info);
        }));
    });
}

/// Files a host has before boot: hostname, hosts, machine-id, and each backend: the real
/// binary (a link into the machine's root, which the host sees through its overlay) or the
/// stand-in.
fn stage_host(
    stage: &Path,
    n: usize,
    hosts: &str,
    standin: Option<&Path>,
    real: &BTreeMap<Backend, PathBuf>,
) -> Result<(), LabError> {
    let etc = stage.join("etc");
    fs::create_dir_all(&etc).map_err(LabError::io("create a host's staged /etc"))?;
    let write = |name: &str, text: &str| {
        fs::write(etc.join(name), text).map_err(LabError::io(format!("stage /etc/{name}")))
    };
    write("hostname", &format!("{}\n", host_name(n)))?;
    write("hosts", hosts)?;
    // Unique per host, as on real machines (journald and D-Bus key on it).
    let uuid = fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map_err(LabError::io("read a random uuid"))?;
    write("machine-id", &format!("{}\n", uuid.trim().replace('-', "")))?;
    let bin = stage.join(HOST_BIN_DIR.trim_start_matches('/'));
    fs::create_dir_all(&bin).map_err(LabError::io("create a host's staged bin dir"))?;
    if let Some(standin) = standin {
        // Inside the host's own filesystem: backend units run with PrivateTmp=yes, which
        // hides the lab directory under /var/tmp. A hard link costs nothing until boot copies it.
        let own = bin.join("lgtm-standin");
        fs::hard_link(standin, &own)
            .or_else(|_| fs::copy(standin, &own).map(|_| ()))
            .map_err(LabError::io("stage lgtm-standin"))?;
    }
    for backend in Backend::ALL {
        let name = backend.as_str();
        // The stand-in answers as the backend its argv[0] names.
        let to = real
            .get(&backend)
            .map_or_else(|| PathBuf::from("lgtm-standin"), PathBuf::clone);
        symlink(&to, bin.join(name)).map_err(LabError::io(format!("stage {name}")))?;
    }
    Ok(())
}
