//! Smoke tests of the lab harness: real systemd hosts on a bridge, a backend unit reachable
//! from the root namespace, and nothing left behind afterwards.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use lgtm_model::render::{Cluster, HostIntent, host_processes};
use lgtm_model::settings::{Secrets, Settings};
use lgtm_tests::lab::{Lab, LabSpec, http, net, process, wait_for};

/// A rendered `mimir:all` config for `host1` at `ip`.
fn mimir_config(ip: std::net::Ipv4Addr) -> String {
    let hosts: BTreeMap<_, _> = [(
        "host1".parse().unwrap(),
        HostIntent {
            address: Some(ip.into()),
            data_root: Some("/var/lib/lgtm".into()),
            roles: vec!["mimir:all".parse().unwrap()],
        },
    )]
    .into();
    let settings = Settings::default();
    let cluster = Cluster {
        settings: &settings,
        secrets: &Secrets::new(),
        hosts: &hosts,
    };
    host_processes(cluster, &"host1".parse().unwrap()).unwrap()[0]
        .config
        .clone()
}

/// What a lab made, to check it is all gone after drop.
struct Footprint {
    links: Vec<String>,
    pids: Vec<i32>,
    dir: PathBuf,
    pidfile: PathBuf,
}

fn footprint(lab: &Lab) -> Footprint {
    let mut links = vec![lab.bridge()];
    links.extend(lab.hosts().iter().map(|h| lab.veth(h.number())));
    Footprint {
        links,
        pids: lab.hosts().iter().map(|h| h.pid()).collect(),
        dir: lab.dir().to_path_buf(),
        pidfile: PathBuf::from(net::RUN_DIR).join(format!("{}.pid", lab.bridge())),
    }
}

fn assert_gone(f: &Footprint) {
    let links = net::links().unwrap();
    for l in &f.links {
        assert!(!links.contains(l), "link {l} left behind");
    }
    for pid in &f.pids {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            !process::alive(*pid),
            "host init {pid} left running: {stat}"
        );
    }
    assert!(!f.dir.exists(), "{} left behind", f.dir.display());
    assert!(!f.pidfile.exists(), "{} left behind", f.pidfile.display());
    let dir = f.dir.to_string_lossy().into_owned();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir), "a mount under {dir} is left");
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !(cmdline.contains(&dir) && process::alive(pid)),
            "process {pid} left: {cmdline}"
        );
    }
}

#[test]
fn hosts_boot_network_run_units_and_clean_up() {
    let Some(lab) = Lab::start_or_skip(LabSpec::hosts(2)) else {
        return;
    };
    let print = footprint(&lab);
    let (h1, h2) = (lab.host(1), lab.host(2));
    for host in lab.hosts() {
        assert_eq!(host.run(&["hostname"]).unwrap().trim(), host.name());
        let state = host.run(&["systemctl", "is-system-running"]).unwrap();
        assert!(matches!(state.trim(), "running" | "degraded"), "{state}");
        let addr = host
            .run(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
            .unwrap();
        assert!(addr.contains(&format!("{}/24", host.ip())), "{addr}");
    }

    // A transient unit runs, and the host's own D-Bus answers.
    h1.run(&["systemd-run", "--unit=lab-probe", "sleep", "300"])
        .unwrap();
    assert_eq!(
        h1.run(&["systemctl", "is-active", "lab-probe.service"])
            .unwrap()
            .trim(),
        "active"
    );
    let version = h1
        .run(&[
            "busctl",
            "get-property",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "Version",
        ])
        .unwrap();
    assert!(version.starts_with("s \""), "{version}");

    // The stand-in, installed as `mimir`, runs as a Type=notify unit with a rendered config.
    let bin = lab.bin_dir().join("mimir");
    h1.write_file(
        "/etc/lgtm/mimir.yaml",
        mimir_config(h1.ip()).as_bytes(),
        0o600,
    )
    .unwrap();
    let unit = format!(
        "[Service]\nType=notify\nExecStart={} -config.file=/etc/lgtm/mimir.yaml -target=all\n",
        bin.display()
    );
    h1.write_file(
        "/etc/systemd/system/lgtm-mimir.service",
        unit.as_bytes(),
        0o644,
    )
    .unwrap();
    h1.run(&["systemctl", "daemon-reload"]).unwrap();
    // Type=notify: `start` returns once the stand-in sent READY=1.
    h1.run(&["systemctl", "start", "lgtm-mimir.service"])
        .unwrap();
    assert_eq!(
        h1.run(&["systemctl", "is-active", "lgtm-mimir.service"])
            .unwrap()
            .trim(),
        "active"
    );

    // Reachable from the root namespace over the bridge...
    let ready = wait_for(
        "mimir's /ready from the root namespace",
        Duration::from_secs(30),
        || {
            http::get(h1.addr(8080), "/ready")
                .ok()
                .filter(|r| r.status == 200)
        },
    )
    .unwrap();
    assert_eq!(ready.text(), "ready");
    // ...and from the other host (TCP: the machine has no ping).
    let url = format!("http://{}:8080/ready", h1.ip());
    let body = h2.run(&["curl", "-sS", "--max-time", "10", &url]).unwrap();
    assert_eq!(body, "ready");
    let back = format!("http://{}:8080/ready", h2.ip());
    let refused = h1
        .exec(&["curl", "-sS", "--max-time", "10", &back])
        .unwrap();
    // curl exit 7: failed to connect (host2 answers, nothing listens there).
    assert_eq!(
        refused.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let journal = h1.journal("lgtm-mimir.service", 20).unwrap();
    assert!(journal.contains("lgtm-standin started"), "{journal}");

    // A partition cuts the root namespace off the host, and healing restores it.
    h1.link_down().unwrap();
    assert!(http::get(h1.addr(8080), "/ready").is_err());
    h1.link_up().unwrap();
    wait_for(
        "mimir after the partition heals",
        Duration::from_secs(30),
        || {
            http::get(h1.addr(8080), "/ready")
                .ok()
                .filter(|r| r.status == 200)
        },
    )
    .unwrap();

    drop(lab);
    assert_gone(&print);
}

#[test]
fn a_stopped_host_is_gone_and_the_rest_of_the_lab_stays() {
    let Some(mut lab) = Lab::start_or_skip(LabSpec::hosts(2)) else {
        return;
    };
    // The S3 server goes with the lab too (assert_gone: no process names the lab dir).
    let gateway = lab.gateway();
    let s3 = lab.start_s3().unwrap();
    assert!(s3.endpoint().starts_with(&format!("http://{gateway}:")));
    let secret = fs::metadata(s3.root().with_file_name("secret")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&secret.permissions()) & 0o777,
        0o600
    );
    let print = footprint(&lab);
    lab.host(2).stop();
    assert!(!lab.host(2).is_running());
    assert!(lab.host(1).is_running());
    assert_eq!(lab.host(1).run(&["hostname"]).unwrap().trim(), "host1");
    drop(lab);
    assert_gone(&print);
}

#[test]
fn labs_of_dead_owners_are_swept() {
    if let Some(why) = lgtm_tests::lab::unavailable() {
        eprintln!("skipping lab test: {why}");
        return;
    }
    // A crashed run: a claim whose owner is gone, its bridge and a veth still there.
    let existing = net::links().unwrap();
    let slot = (0..net::SLOTS)
        .rev()
        .filter_map(net::Slot::new)
        .find(|s| {
            !existing.contains(&s.bridge())
                && !PathBuf::from(net::RUN_DIR)
                    .join(format!("{}.pid", s.bridge()))
                    .exists()
        })
        .unwrap();
    let pidfile = PathBuf::from(net::RUN_DIR).join(format!("{}.pid", slot.bridge()));
    fs::create_dir_all(net::RUN_DIR).unwrap();
    fs::write(&pidfile, "2147483646 1\n").unwrap();
    let (bridge, veth) = (slot.bridge(), slot.veth(1));
    process::run(&["ip", "link", "add", "name", &bridge, "type", "bridge"]).unwrap();
    process::run(&[
        "ip",
        "link",
        "add",
        &veth,
        "type",
        "veth",
        "peer",
        "name",
        "lgtmlabtmp",
    ])
    .unwrap();
    process::run(&["ip", "link", "set", &veth, "master", &bridge]).unwrap();

    net::sweep_stale().unwrap();

    let links = net::links().unwrap();
    for l in [&bridge, &veth, "lgtmlabtmp"] {
        assert!(!links.iter().any(|x| x == l), "{l} survived the sweep");
    }
    assert!(!pidfile.exists());
}

/// The coordinator, `lgtmctl` and the agent are other packages: skip when they are not built.
fn built(names: &[&str]) -> bool {
    let missing: Vec<String> = names
        .iter()
        .filter_map(|n| lgtm_tests::lab::binaries::find(n).err())
        .map(|e| e.to_string())
        .collect();
    for m in &missing {
        eprintln!("skipping: {m}");
    }
    missing.is_empty()
}

#[test]
fn coordinator_restarts_on_its_state_dir_and_an_agent_registers() {
    if !built(&["lgtm-coordinator", "lgtmctl", "lgtm-agent"]) {
        return;
    }
    let Some(mut lab) = Lab::start_or_skip(LabSpec::hosts(1)) else {
        return;
    };
    lab.start_coordinator().unwrap();
    let out = lab.lgtmctl(&["assign-role", "host1", "mimir:all"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A crash and a restart on the same state directory keep the assignment.
    let c = lab.coordinator().unwrap();
    c.kill9();
    assert!(!c.is_running());
    c.start().unwrap();
    let hosts = lab.lgtmctl(&["hosts", "--output", "json"]).unwrap();
    let text = String::from_utf8_lossy(&hosts.stdout);
    assert!(
        hosts.status.success() && text.contains("mimir:all"),
        "{text}"
    );

    // The agent, started as a unit in the host, registers with the host's address.
    let h1 = lab.host(1);
    h1.start_agent().unwrap();
    let ip = h1.ip().to_string();
    wait_for("host1's agent to register", Duration::from_secs(60), || {
        let r = http::get(c.addr(), "/v1/hosts/host1").ok()?;
        (r.status == 200 && r.text().contains(&ip)).then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}; journal:\n{}",
            h1.journal("lgtm-agent.service", 50).unwrap_or_default()
        )
    });
    assert_eq!(
        h1.run(&[
            "systemctl",
            "show",
            "-p",
            "KillMode",
            "--value",
            "lgtm-agent.service"
        ])
        .unwrap()
        .trim(),
        "process"
    );
    c.stop();
    assert!(!c.is_running());
}
