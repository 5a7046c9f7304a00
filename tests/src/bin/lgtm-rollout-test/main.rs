//! `lgtm-rollout-test`: rolls the built `.deb` packages out with `ansible/site.yml` over real
//! SSH to four lab hosts (systemd in namespaces, each running its own sshd) and checks the
//! result: a bad inventory stops before any change; check mode changes nothing; the cluster
//! comes up consistent with the inventory's roles and settings; a second run changes nothing;
//! an agent upgrade through the playbook leaves every backend process alone; `apt-get remove`
//! keeps configuration and data and `purge` removes them.
//!
//! ```text
//! packaging/build && cargo run -p lgtm-tests --bin lgtm-rollout-test
//! ```
//!
//! Needs root, `ansible-playbook` (ansible-core), `sshd` (openssh-server, not running on the
//! machine itself) and `dpkg-deb`. Ends with "N passed, M failed"; exits 1 if anything failed.
//! Everything it makes (lab hosts, bridge, the temp dir with the SSH keys, SSH masters) goes
//! away when it ends, also on failure.

mod catalog;
mod cluster;
mod packages;
mod tally;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use lgtm_tests::lab::{self, HOST_BIN_DIR, Host, Lab, LabSpec};
use serde_json::json;

use cluster::{backend_pids, inconsistent, installed, lgtmctl_json, setting, unit};
use lgtm_tests::ansible::{Controller, Run};
use lgtm_tests::sshd;
use tally::{Tally, ensure};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// Hosts: the coordinator, then one agent per backend (filesystem storage: one host each).
const AGENTS: [(usize, &str); 3] = [(2, "mimir:all"), (3, "loki:all"), (4, "tempo:all")];

/// Roll lgtm out with Ansible over SSH to lab hosts and check the result.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Directory of the built packages [default: target/packages of the workspace]
    #[arg(long, value_name = "DIR")]
    packages: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut tally = Tally::default();
    if let Err(e) = run(&args, &mut tally) {
        tally.check("the test ran to the end", Err(format!("{e:#}")));
    }
    println!("lgtm-rollout-test: {}", tally.summary());
    if tally.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(args: &Args, t: &mut Tally) -> Result<()> {
    if let Some(why) = lab::unavailable() {
        bail!("cannot run: {why}");
    }
    for tool in [
        "/usr/bin/ansible-playbook",
        "/usr/sbin/sshd",
        "/usr/bin/ssh-keygen",
        "/usr/bin/dpkg-deb",
    ] {
        if !Path::new(tool).is_file() {
            bail!(
                "{tool} is missing: apt-get install ansible-core openssh-server (with a policy-rc.d exiting 101, so the machine's own sshd stays off)"
            );
        }
    }
    let pkg_dir = args
        .packages
        .clone()
        .unwrap_or_else(|| Path::new(WORKSPACE).join("target/packages"));
    let agent_deb = packages::find(&pkg_dir, "lgtm-agent")?;
    let coord_deb = packages::find(&pkg_dir, "lgtm-coordinator")?;
    let v1 = packages::version(&agent_deb)?;
    let coord_v = packages::version(&coord_deb)?;

    let tmp = tempfile::Builder::new()
        .prefix("lgtm-rollout-")
        .tempdir_in("/var/tmp")?;
    let dir = tmp.path();
    // The upgrade: the agent re-packed as revision 2 beside the same coordinator package.
    let next = dir.join("packages-next");
    fs::create_dir_all(&next)?;
    let agent_next = packages::repack(&agent_deb, 2, dir, &next)?;
    let v2 = packages::version(&agent_next)?;
    fs::copy(
        &coord_deb,
        next.join(coord_deb.file_name().context("package file name")?),
    )?;

    let lab = Lab::start(LabSpec::hosts(4)).context("start the lab")?;
    let public = sshd::client_key(dir)?;
    let mut known = String::new();
    for host in lab.hosts() {
        known.push_str(&sshd::start(host, &public)?);
        known.push('\n');
    }
    let playbook = Path::new(WORKSPACE).join("ansible/site.yml");
    let mut ctl = Controller::new(dir, &playbook, &known)?;
    let secret = format!("rollout-secret-{}", std::process::id());
    let inventory = dir.join("inventory.yml");
    write_inventory(&inventory, &lab, &pkg_dir, &secret, "mimir:all")?;
    let bad_inventory = dir.join("bad-inventory.yml");
    write_inventory(&bad_inventory, &lab, &pkg_dir, &secret, "mimir:ingestr")?;
    let coord = lab.host(1);
    let agents: Vec<&Host> = AGENTS.iter().map(|(n, _)| lab.host(*n)).collect();

    // 1. A bad role in the inventory stops the run before anything is installed.
    let r = ctl.playbook(&bad_inventory, &[])?;
    t.check(
        "bad inventory: the run fails",
        ensure(!r.success, || r.tail(30)),
    );
    t.check(
        "bad inventory: the message names host and variable",
        ensure(
            r.output.contains("host host2: lgtm_roles[0]")
                && r.output.contains("mimir:ingestr")
                && r.output.contains("is not a role"),
            || r.tail(30),
        ),
    );
    t.check("bad inventory: nothing installed", nothing_installed(&lab));

    // 2. Check mode on fresh hosts: succeeds, changes nothing.
    let r = ctl.playbook(&inventory, &["--check"])?;
    t.check("check mode on fresh hosts: succeeds", clean(&r));
    t.check(
        "check mode on fresh hosts: nothing installed",
        nothing_installed(&lab),
    );

    // 3. The rollout.
    let r = ctl.playbook(&inventory, &[])?;
    let first_output = r.output.clone();
    if !t.check("rollout: succeeds", clean(&r)) {
        dump(&lab);
        bail!("the rollout failed; not going on");
    }
    t.check(
        "rollout: packages installed",
        ensure(
            installed(coord, "lgtm-coordinator").as_deref() == Some(coord_v.as_str())
                && agents
                    .iter()
                    .all(|h| installed(h, "lgtm-agent").as_deref() == Some(v1.as_str())),
            || format!("want lgtm-coordinator {coord_v} on host1 and lgtm-agent {v1} on host2-4"),
        ),
    );
    t.check(
        "rollout: services enabled and active",
        services_up(coord, &agents),
    );
    let agent_toml = cluster::run(agents[0], &["cat", "/etc/lgtm/agent.toml"]).unwrap_or_default();
    t.check(
        "rollout: agent.toml names the coordinator and host",
        ensure(
            agent_toml.contains(&format!("coordinator = \"https://{}:7700\"", coord.ip()))
                && agent_toml.contains("host_name = \"host2\"")
                && agent_toml.contains(&format!("bin_dir = \"{HOST_BIN_DIR}\"")),
            || agent_toml.clone(),
        ),
    );
    let status = lgtmctl_json(coord, &["status"]);
    t.check(
        "rollout: lgtmctl status says every backend is consistent",
        status.and_then(|s| {
            let bad = inconsistent(&s);
            ensure(bad.is_empty(), || bad.join("\n"))
        }),
    );
    t.check(
        "rollout: roles as the inventory says",
        roles_assigned(coord),
    );
    let backends: Vec<_> = agents.iter().map(|h| backend_pids(h)).collect();
    t.check(
        "rollout: each agent host runs its backend",
        ensure(
            backends
                .iter()
                .all(|b| b.len() == 1 && b.values().all(|p| p != "0")),
            || format!("{backends:?}"),
        ),
    );
    t.check(
        "rollout: settings applied, secret stored",
        settings_are(coord, "warn"),
    );
    t.check(
        "rollout: the secret is not in Ansible's output",
        ensure(!first_output.contains(&secret), || {
            "the secret value appears in the playbook output".into()
        }),
    );

    // 4. Idempotence.
    let r = ctl.playbook(&inventory, &[])?;
    t.check("second run: succeeds", clean(&r));
    t.check(
        "second run: changed=0",
        ensure(r.nonzero("changed").is_empty(), || {
            r.nonzero("changed").join("\n")
        }),
    );

    // 5. Check mode with changes pending (a new agent package, a changed setting).
    let pending = dir.join("pending.yml");
    fs::write(
        &pending,
        serde_yaml_ng::to_string(&json!({
            "lgtm_package_dir": next,
            "lgtm_settings": {"cluster.name": "rollout", "mimir.log_level": "debug"},
        }))?,
    )?;
    let pending_arg = format!("@{}", pending.display());
    let agent_pids: Vec<String> = agents
        .iter()
        .map(|h| unit(h, "lgtm-agent.service", "MainPID"))
        .collect();
    let r = ctl.playbook(&inventory, &["--check", "-e", &pending_arg])?;
    t.check("check mode with changes pending: succeeds", clean(&r));
    t.check(
        "check mode with changes pending: reports them",
        ensure(
            r.recap
                .get("host1")
                .and_then(|c| c.get("changed"))
                .is_some_and(|n| *n > 0)
                && r.recap
                    .get("host2")
                    .and_then(|c| c.get("changed"))
                    .is_some_and(|n| *n > 0),
            || r.tail(30),
        ),
    );
    t.check(
        "check mode with changes pending: nothing changed",
        ensure(
            agents
                .iter()
                .all(|h| installed(h, "lgtm-agent").as_deref() == Some(v1.as_str()))
                && agent_pids
                    == agents
                        .iter()
                        .map(|h| unit(h, "lgtm-agent.service", "MainPID"))
                        .collect::<Vec<_>>(),
            || "an agent was upgraded or restarted".into(),
        )
        .and_then(|()| settings_are(coord, "warn")),
    );

    // 6. Upgrade the agent through the playbook: backends keep running, untouched.
    let next_arg = format!("lgtm_package_dir={}", next.display());
    let r = ctl.playbook(&inventory, &["-e", &next_arg])?;
    t.check("agent upgrade: succeeds", clean(&r));
    t.check(
        "agent upgrade: new version installed",
        ensure(
            agents
                .iter()
                .all(|h| installed(h, "lgtm-agent").as_deref() == Some(v2.as_str())),
            || format!("want lgtm-agent {v2}"),
        ),
    );
    let now: Vec<String> = agents
        .iter()
        .map(|h| unit(h, "lgtm-agent.service", "MainPID"))
        .collect();
    t.check(
        "agent upgrade: agents restarted",
        ensure(
            now.iter().zip(&agent_pids).all(|(a, b)| a != b && a != "0"),
            || format!("agent MainPIDs before {agent_pids:?}, after {now:?}"),
        ),
    );
    let after: Vec<_> = agents.iter().map(|h| backend_pids(h)).collect();
    t.check(
        "agent upgrade: no backend restarted (same MainPIDs)",
        ensure(after == backends, || {
            format!("before {backends:?}\nafter  {after:?}")
        }),
    );
    let r = ctl.playbook(&inventory, &["-e", &next_arg])?;
    t.check(
        "agent upgrade again: changed=0",
        clean(&r).and_then(|()| {
            ensure(r.nonzero("changed").is_empty(), || {
                r.nonzero("changed").join("\n")
            })
        }),
    );

    // 7. Remove keeps configuration and data; purge removes them.
    let host2 = agents[0];
    t.check(
        "apt-get remove lgtm-agent",
        apt(host2, "remove", "lgtm-agent"),
    );
    t.check(
        "remove: agent.toml and backend data kept, backend running",
        all_exist(
            host2,
            &[
                "/etc/lgtm/agent.toml",
                "/var/lib/lgtm",
                "/var/lib/lgtm-agent",
            ],
        )
        .and_then(|()| {
            ensure(backend_pids(host2) == backends[0], || {
                "the backend stopped".into()
            })
        }),
    );
    t.check(
        "apt-get purge lgtm-agent",
        apt(host2, "purge", "lgtm-agent"),
    );
    t.check(
        "purge: agent.toml, agent state and backend data removed",
        none_exist(
            host2,
            &[
                "/etc/lgtm/agent.toml",
                "/var/lib/lgtm",
                "/var/lib/lgtm-agent",
            ],
        ),
    );
    t.check(
        "apt-get remove lgtm-coordinator",
        apt(coord, "remove", "lgtm-coordinator"),
    );
    t.check(
        "remove: coordinator.toml and database kept",
        all_exist(
            coord,
            &["/etc/lgtm/coordinator.toml", "/var/lib/lgtm-coordinator"],
        ),
    );
    t.check(
        "apt-get purge lgtm-coordinator",
        apt(coord, "purge", "lgtm-coordinator"),
    );
    t.check(
        "purge: coordinator.toml and database removed",
        none_exist(
            coord,
            &["/etc/lgtm/coordinator.toml", "/var/lib/lgtm-coordinator"],
        ),
    );
    if !t.all_passed() {
        dump(&lab);
    }
    drop(ctl);
    Ok(())
}

/// The inventory: host1 the coordinator, host2..4 one backend each (host2's role given).
fn write_inventory(
    path: &Path,
    lab: &Lab,
    packages: &Path,
    secret: &str,
    host2_role: &str,
) -> Result<()> {
    let mut agents = serde_json::Map::new();
    for (n, role) in AGENTS {
        let role = if n == 2 { host2_role } else { role };
        agents.insert(
            lab.host(n).name().into(),
            json!({
                "ansible_host": lab.host(n).ip().to_string(),
                "lgtm_roles": [role],
            }),
        );
    }
    let inventory = json!({"all": {
        "vars": {
            "ansible_user": "root",
            "lgtm_package_dir": packages,
            // The lab's stand-in backend plays mimir, loki and tempo.
            "lgtm_agent_bin_dir": HOST_BIN_DIR,
            "lgtm_settings": {"cluster.name": "rollout", "mimir.log_level": "warn"},
            "lgtm_secrets": {"mimir.storage.s3.secret_access_key": secret},
        },
        "children": {
            "lgtm_coordinator": {"hosts": {lab.host(1).name(): {"ansible_host": lab.host(1).ip().to_string()}}},
            "lgtm_agents": {"hosts": agents},
        },
    }});
    fs::write(path, serde_yaml_ng::to_string(&inventory)?).context("write the inventory")
}

/// The run exited 0 with no failed or unreachable host.
fn clean(r: &Run) -> Result<(), String> {
    let bad = [r.nonzero("failed"), r.nonzero("unreachable")].concat();
    ensure(r.success && bad.is_empty() && !r.recap.is_empty(), || {
        format!("{}\n{}", bad.join(", "), r.tail(40))
    })
}

fn nothing_installed(lab: &Lab) -> Result<(), String> {
    for host in lab.hosts() {
        for package in ["lgtm-agent", "lgtm-coordinator"] {
            if let Some(v) = installed(host, package) {
                return Err(format!("{}: {package} {v} is installed", host.name()));
            }
        }
    }
    none_exist(lab.host(2), &["/etc/lgtm", "/var/cache/lgtm-ansible"])
}

fn services_up(coord: &Host, agents: &[&Host]) -> Result<(), String> {
    let mut units = vec![(coord, "lgtm-coordinator.service")];
    units.extend(agents.iter().map(|h| (*h, "lgtm-agent.service")));
    for (host, u) in units {
        let state = (unit(host, u, "UnitFileState"), unit(host, u, "ActiveState"));
        if state != ("enabled".into(), "active".into()) {
            return Err(format!("{}: {u} is {state:?}", host.name()));
        }
    }
    Ok(())
}

fn roles_assigned(coord: &Host) -> Result<(), String> {
    let hosts = lgtmctl_json(coord, &["hosts"])?;
    for (n, role) in AGENTS {
        let name = format!("host{n}");
        let found = hosts
            .as_array()
            .and_then(|a| a.iter().find(|h| h["name"] == name.as_str()));
        let roles = found.map(|h| h["roles"].clone()).unwrap_or_default();
        ensure(roles == json!([role]), || {
            format!("{name}: roles {roles}, want [{role}]")
        })?;
    }
    Ok(())
}

fn settings_are(coord: &Host, log_level: &str) -> Result<(), String> {
    let s = lgtmctl_json(coord, &["config", "get"])?;
    let got = (
        setting(&s, "cluster.name"),
        setting(&s, "mimir.log_level"),
        setting(&s, "mimir.storage.s3.secret_access_key"),
    );
    let want = (
        Some((Some("rollout".into()), true)),
        Some((Some(log_level.into()), true)),
        Some((None, true)),
    );
    ensure(got == want, || format!("settings {got:?}, want {want:?}"))
}

fn apt(host: &Host, action: &str, package: &str) -> Result<(), String> {
    cluster::run(
        host,
        &[
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            action,
            "-y",
            "-q",
            package,
        ],
    )
    .map(drop)
}

fn all_exist(host: &Host, paths: &[&str]) -> Result<(), String> {
    for p in paths {
        cluster::run(host, &["test", "-e", p])
            .map_err(|_| format!("{}: {p} is missing", host.name()))?;
    }
    Ok(())
}

fn none_exist(host: &Host, paths: &[&str]) -> Result<(), String> {
    for p in paths {
        ensure(cluster::run(host, &["test", "-e", p]).is_err(), || {
            format!("{}: {p} is still there", host.name())
        })?;
    }
    Ok(())
}

/// The journals of every host's lgtm units, for a failed run.
fn dump(lab: &Lab) {
    for host in lab.hosts() {
        eprintln!(
            "===== {}: journal of lgtm-* units =====\n{}",
            host.name(),
            host.dump_journals()
        );
    }
}
