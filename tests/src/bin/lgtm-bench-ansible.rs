//! `lgtm-bench-ansible`: a benchmark command, not a test. The same role change on the same
//! three lab hosts, made with lgtm and made the way operators do it by hand today, timed side
//! by side:
//!
//! - lgtm: `lgtmctl assign-role --wait HOST mimir:querier` for the three hosts at once, until
//!   every one answers ready;
//! - by hand: one `ansible-playbook` run over SSH that copies each host's config and unit file
//!   (the very ones lgtm wrote), reloads systemd, restarts the unit and waits until `/ready`
//!   answers (polled every 100 ms on the host).
//!
//! Each is repeated `--cycles` times (undone in between, untimed); ends with one line:
//! `lgtm_ms=.. ansible_ms=.. ratio=..` (medians). Needs root, `ansible-playbook` and `sshd`;
//! use release binaries: `cargo build --release --workspace --bins &&
//! target/release/lgtm-bench-ansible`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use lgtm_model::Backend;
use lgtm_tests::ansible::Controller;
use lgtm_tests::lab::{self, Host, Lab, LabSpec, wait_for};
use lgtm_tests::sshd;

/// The role changed, a stateless one: what is timed is the orchestration, not a ring.
const ROLE: &str = "mimir:querier";
/// What lgtm writes for it, read back to give Ansible the same files.
const LGTM_UNIT: &str = "/etc/systemd/system/lgtm-mimir.service";
const LGTM_CONFIG: &str = "/etc/lgtm/mimir/mimir.yaml";
/// Where the playbook puts them: its own names, so lgtm's agent never sees them.
const UNIT: &str = "bench-mimir.service";
const CONFIG_DIR: &str = "/etc/bench-mimir";
const CONFIG: &str = "/etc/bench-mimir/mimir.yaml";

/// Time one role change on three lab hosts with lgtm and with an Ansible playbook.
#[derive(Debug, Parser)]
#[command(name = "lgtm-bench-ansible")]
struct Args {
    /// Times each way is measured.
    #[arg(long, default_value_t = 5)]
    cycles: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args.cycles.max(1)) {
        Ok((lgtm, ansible)) => {
            let (l, a) = (median(&lgtm), median(&ansible));
            eprintln!("lgtm:    {}", list(&lgtm));
            eprintln!("ansible: {}", list(&ansible));
            println!(
                "lgtm_ms={} ansible_ms={} ratio={:.1}",
                l.as_millis(),
                a.as_millis(),
                a.as_secs_f64() / l.as_secs_f64().max(1e-6)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cycles: usize) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    if let Some(why) = lab::unavailable() {
        bail!("cannot run: {why}");
    }
    for tool in ["/usr/bin/ansible-playbook", "/usr/sbin/sshd"] {
        ensure!(
            Path::new(tool).is_file(),
            "{tool} is missing: apt-get install ansible-core openssh-server"
        );
    }
    let mut lab = Lab::start(LabSpec::hosts(3)).context("failed to start the lab")?;
    lab.start_coordinator()?;
    lab.start_s3()?;
    lab.use_s3(Backend::Mimir)?;
    let dir = tempfile::Builder::new()
        .prefix("lgtm-bench-ansible-")
        .tempdir_in("/var/tmp")?;
    let key = sshd::client_key(dir.path())?;
    let mut known_hosts = String::new();
    for host in lab.hosts() {
        host.start_agent()?;
        known_hosts.push_str(&sshd::start(host, &key)?);
        known_hosts.push('\n');
    }

    eprintln!("lgtm: {cycles} x assign-role --wait on 3 hosts at once ...");
    let mut lgtm = Vec::new();
    for cycle in 0..cycles {
        let started = Instant::now();
        std::thread::scope(|s| {
            let waits: Vec<_> = lab
                .hosts()
                .iter()
                .map(|h| s.spawn(|| lab.lgtmctl_ok(&["assign-role", "--wait", h.name(), ROLE])))
                .collect();
            waits
                .into_iter()
                .try_for_each(|w| w.join().expect("lgtmctl thread").map(drop))
        })?;
        lgtm.push(started.elapsed());
        if cycle == 0 {
            // The files Ansible will copy: exactly what lgtm runs.
            for host in lab.hosts() {
                let unit = String::from_utf8(host.read_file(LGTM_UNIT)?)?;
                let config = host.read_file(LGTM_CONFIG)?;
                let unit = unit.replace(LGTM_CONFIG, CONFIG);
                std::fs::write(dir.path().join(format!("{}.service", host.name())), unit)?;
                std::fs::write(dir.path().join(format!("{}.yaml", host.name())), config)?;
            }
        }
        for host in lab.hosts() {
            lab.lgtmctl_ok(&["unassign-role", host.name(), ROLE])?;
        }
        for host in lab.hosts() {
            wait_for("lgtm's unit to go", Duration::from_secs(60), || {
                host.run(&["test", "-e", LGTM_UNIT]).is_err().then_some(())
            })?;
        }
    }

    let port = http_port(&std::fs::read_to_string(
        dir.path().join(format!("{}.yaml", lab.hosts()[0].name())),
    )?)
    .context("no server.http_listen_port in lgtm's config")?;
    let unit = std::fs::read_to_string(
        dir.path()
            .join(format!("{}.service", lab.hosts()[0].name())),
    )?;
    let user = unit_user(&unit).context("no User= in lgtm's unit")?;
    let playbook = dir.path().join("deploy.yml");
    std::fs::write(&playbook, playbook_text(port, user))?;
    let inventory = dir.path().join("inventory.ini");
    std::fs::write(&inventory, inventory_text(lab.hosts(), dir.path()))?;
    let mut controller = Controller::new(dir.path(), &playbook, &known_hosts)?;

    eprintln!(
        "ansible: {cycles} x ansible-playbook (copy config and unit, restart, wait ready) ..."
    );
    let mut ansible = Vec::new();
    for _ in 0..cycles {
        let started = Instant::now();
        let run = controller.playbook(&inventory, &[])?;
        let took = started.elapsed();
        ensure!(run.success, "ansible-playbook failed:\n{}", run.tail(30));
        ansible.push(took);
        for host in lab.hosts() {
            host.run(&["systemctl", "stop", UNIT])?;
            host.run(&["rm", "-f", &format!("/etc/systemd/system/{UNIT}"), CONFIG])?;
            host.run(&["systemctl", "daemon-reload"])?;
        }
    }
    Ok((lgtm, ansible))
}

/// The playbook an operator would write for one role on every host; the config is readable
/// by the service's `user` (it holds secrets: not by others).
fn playbook_text(port: u16, user: &str) -> String {
    format!(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: config directory
      ansible.builtin.file:
        path: {config_dir}
        state: directory
        mode: "0755"
    - name: config
      ansible.builtin.copy:
        src: "{{{{ files }}}}/{{{{ inventory_hostname }}}}.yaml"
        dest: {CONFIG}
        owner: root
        group: {user}
        mode: "0640"
    - name: unit
      ansible.builtin.copy:
        src: "{{{{ files }}}}/{{{{ inventory_hostname }}}}.service"
        dest: /etc/systemd/system/{UNIT}
        mode: "0644"
    - name: restart
      ansible.builtin.systemd_service:
        name: {UNIT}
        state: restarted
        daemon_reload: true
    - name: ready
      ansible.builtin.shell: |
        for i in $(seq 300); do
          curl -sf -o /dev/null http://127.0.0.1:{port}/ready && exit 0
          sleep 0.1
        done
        exit 1
      changed_when: false
"#,
        config_dir = CONFIG_DIR,
    )
}

fn inventory_text(hosts: &[Host], files: &Path) -> String {
    let mut text = String::from("[all]\n");
    for h in hosts {
        let _ = writeln!(text, "{} ansible_host={}", h.name(), h.ip());
    }
    let _ = writeln!(text, "\n[all:vars]\nfiles={}", files.display());
    text
}

/// The unit's `User=`.
fn unit_user(unit: &str) -> Option<&str> {
    unit.lines()
        .find_map(|l| l.strip_prefix("User="))
        .map(str::trim)
}

/// `http_listen_port: N` under `server:`.
fn http_port(config: &str) -> Option<u16> {
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix("http_listen_port:"))
        .and_then(|v| v.trim().parse().ok())
}

fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s.get(s.len() / 2).copied().unwrap_or_default()
}

fn list(samples: &[Duration]) -> String {
    let ms: Vec<String> = samples
        .iter()
        .map(|d| format!("{} ms", d.as_millis()))
        .collect();
    ms.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_port_and_writes_valid_looking_yaml() {
        assert_eq!(
            http_port("server:\n  http_listen_port: 8080\n  grpc_listen_port: 9095\n"),
            Some(8080)
        );
        assert_eq!(http_port("server: {}\n"), None);
        assert_eq!(
            unit_user("[Service]\nUser=lgtm-mimir\n"),
            Some("lgtm-mimir")
        );
        let p = playbook_text(8080, "lgtm-mimir");
        assert!(p.contains("group: lgtm-mimir"), "{p}");
        assert!(
            p.contains("{{ files }}/{{ inventory_hostname }}.yaml"),
            "{p}"
        );
        assert!(p.contains("http://127.0.0.1:8080/ready"), "{p}");
    }
}
