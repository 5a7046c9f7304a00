//! What every end-to-end test needs: a lab with a coordinator and agents, `lgtmctl` run as an
//! operator would run it, and what systemd and the kernel inside a host say about a unit.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use lgtm_model::Backend;
use lgtm_model::wire::{ClusterStatus, HostRecord, HostStatus, UnitStatus};
use lgtm_tests::lab::{Host, Lab, LabSpec, http, wait_for};

/// Generous: a 2-core machine may run other builds meanwhile; nothing here measures time.
pub const PATIENCE: Duration = Duration::from_secs(120);
/// The same, as `lgtmctl`'s `--timeout`.
pub const PATIENCE_ARG: &str = "120s";

/// A lab of `hosts` hosts with a coordinator; agents run on the hosts in `agents` (1-based)
/// and have registered. With several hosts, every backend stores on the lab's S3 server
/// (filesystem storage is for a single host). `None` when this machine cannot run labs.
pub fn lab_with_agents(hosts: usize, agents: &[usize]) -> Option<Lab> {
    lab_from(LabSpec::hosts(hosts), agents)
}

/// A lab of `hosts` hosts, every one with an agent, where `real` run their real binaries.
/// `None` (with one line saying why) when this machine cannot run it; under CI a missing
/// real binary fails instead.
pub fn real_lab(hosts: usize, real: &[Backend]) -> Option<Lab> {
    let all: Vec<usize> = (1..=hosts).collect();
    lab_from(LabSpec::hosts(hosts).real(real), &all)
}

fn lab_from(spec: LabSpec, agents: &[usize]) -> Option<Lab> {
    let hosts = spec.hosts;
    let mut lab = Lab::start_or_skip(spec)?;
    lab.start_coordinator().unwrap();
    // Setups assign roles one after another, each rolling restarts through the cluster: a
    // short healthy dwell keeps them quick; the rollout tests set their own.
    ctl_ok(&lab, &["config", "set", "rollout.min_healthy_seconds", "1"]);
    if hosts > 1 {
        lab.start_s3().unwrap();
        for backend in Backend::ALL {
            lab.use_s3(backend).unwrap();
        }
    }
    for n in agents {
        lab.host(*n).start_agent().unwrap();
    }
    for n in agents {
        wait_registered(&lab, lab.host(*n).name());
    }
    Some(lab)
}

/// A lab where every host runs an agent.
pub fn lab(hosts: usize) -> Option<Lab> {
    let all: Vec<usize> = (1..=hosts).collect();
    lab_with_agents(hosts, &all)
}

/// Waits until `host`'s agent registered its address with the coordinator.
pub fn wait_registered(lab: &Lab, host: &str) {
    until(&format!("{host} to register"), || {
        let out = ctl(lab, &["--output", "json", "host", "show", host]);
        // 2 is a usage error: waiting will not fix it.
        assert_ne!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rec: HostRecord = serde_json::from_slice(&out.stdout).ok()?;
        rec.address.map(|_| ())
    });
}

/// Runs `lgtmctl ARGS`; its output whatever the exit status.
pub fn ctl(lab: &Lab, args: &[&str]) -> Output {
    lab.lgtmctl(args).unwrap()
}

/// Runs `lgtmctl ARGS`, panics with its stderr unless it exits 0, returns its stdout.
pub fn ctl_ok(lab: &Lab, args: &[&str]) -> String {
    lab.lgtmctl_ok(args).unwrap_or_else(|e| panic!("{e}"))
}

/// `lgtmctl assign-role HOST ROLE`.
pub fn assign(lab: &Lab, host: &str, role: &str) {
    ctl_ok(lab, &["assign-role", host, role]);
}

/// `lgtmctl unassign-role --force HOST ROLE`.
pub fn unassign(lab: &Lab, host: &str, role: &str) {
    ctl_ok(lab, &["unassign-role", "--force", host, role]);
}

/// `lgtmctl wait HOST`: its agent applied the current desired state and its units are active.
pub fn wait_host(lab: &Lab, host: &str) {
    ctl_ok(lab, &["wait", host, "--timeout", PATIENCE_ARG]);
}

/// `lgtmctl --output json status`, parsed.
pub fn cluster_status(lab: &Lab) -> ClusterStatus {
    let out = ctl_ok(lab, &["--output", "json", "status"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status JSON: {e}: {out}"))
}

/// One host of the status.
pub fn host_status(status: &ClusterStatus, host: &str) -> HostStatus {
    status
        .hosts
        .iter()
        .find(|h| h.name.as_str() == host)
        .cloned()
        .unwrap_or_else(|| panic!("{host} is not in the status: {status:#?}"))
}

/// One unit of a host's status.
pub fn reported<'a>(host: &'a HostStatus, unit: &str) -> Option<&'a UnitStatus> {
    host.units.iter().find(|u| u.unit == unit)
}

/// Polls `probe` for [`PATIENCE`]; panics naming `what` when it never yields.
pub fn until<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    wait_for(what, PATIENCE, probe).unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until `lgtmctl status` satisfies `check`; returns that status.
pub fn until_status(
    lab: &Lab,
    what: &str,
    check: impl Fn(&ClusterStatus) -> bool,
) -> ClusterStatus {
    let mut last = None;
    let found = wait_for(what, PATIENCE, || {
        let s = cluster_status(lab);
        let ok = check(&s);
        last = Some(s.clone());
        ok.then_some(s)
    });
    found.unwrap_or_else(|e| panic!("{e}; last status: {last:#?}"))
}

/// `systemctl show --value -p PROPERTY UNIT` inside `host`.
pub fn show(host: &Host, unit: &str, property: &str) -> String {
    host.run(&["systemctl", "show", "--value", "-p", property, unit])
        .unwrap()
        .trim()
        .to_owned()
}

/// The unit's MainPID (0 when it runs nothing).
pub fn main_pid(host: &Host, unit: &str) -> u32 {
    let pid = show(host, unit, "MainPID");
    pid.parse()
        .unwrap_or_else(|_| panic!("{}: MainPID of {unit} is {pid:?}", host.name()))
}

/// The unit's NRestarts (restarts systemd made on its own).
pub fn n_restarts(host: &Host, unit: &str) -> u32 {
    let n = show(host, unit, "NRestarts");
    n.parse()
        .unwrap_or_else(|_| panic!("{}: NRestarts of {unit} is {n:?}", host.name()))
}

/// The command line of process `pid` inside `host`, one element per argument.
pub fn cmdline(host: &Host, pid: u32) -> Vec<String> {
    let raw = host.run(&["cat", &format!("/proc/{pid}/cmdline")]).unwrap();
    raw.split('\0')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `-target` list the unit's running process was started with.
pub fn running_targets(host: &Host, unit: &str) -> BTreeSet<String> {
    let pid = main_pid(host, unit);
    assert_ne!(pid, 0, "{}: {unit} runs no process", host.name());
    let args = cmdline(host, pid);
    let targets: Vec<&String> = args.iter().filter(|a| a.starts_with("-target=")).collect();
    assert_eq!(targets.len(), 1, "{}: one -target in {args:?}", host.name());
    targets[0]["-target=".len()..]
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A set of names, for comparing target lists.
pub fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Whether `GET http://HOST:PORT/ready` answers 200 from this (the root) namespace; the
/// answer's `x-lgtm-served-by` header when it does.
pub fn ready(host: &Host, port: u16) -> Option<String> {
    let r = http::get(host.addr(port), "/ready").ok()?;
    (r.status == 200).then(|| r.header("x-lgtm-served-by").unwrap_or_default().to_owned())
}

/// A file inside `host` as text.
pub fn read_text(host: &Host, path: &str) -> String {
    String::from_utf8(host.read_file(path).unwrap()).unwrap()
}

/// Whether `path` exists inside `host`.
pub fn exists(host: &Host, path: &str) -> bool {
    host.exec(&["test", "-e", path]).unwrap().status.success()
}

/// The lines only in `a` (`-`) and only in `b` (`+`), for a readable failure.
pub fn line_diff(a: &str, b: &str) -> String {
    let only = |x: &str, y: &str, mark: char| -> Vec<String> {
        x.lines()
            .filter(|l| !y.lines().any(|o| o == *l))
            .map(|l| format!("{mark} {l}"))
            .collect()
    };
    let mut out = only(a, b, '-');
    out.extend(only(b, a, '+'));
    out.join("\n")
}

/// `lgtmctl ARGS --wait --timeout 120s`; its output whatever the exit status.
pub fn ctl_wait(lab: &Lab, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--wait", "--timeout", PATIENCE_ARG]);
    ctl(lab, &all)
}

/// [`ctl_wait`], panicking with its stderr unless it exits 0.
pub fn ctl_wait_ok(lab: &Lab, args: &[&str]) {
    let out = ctl_wait(lab, args);
    assert!(
        out.status.success(),
        "lgtmctl {} --wait failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}
