//! The Ansible controller of the test: its own `ansible.cfg`, inventory, SSH control sockets
//! and home in the test's directory, `ansible-playbook` runs, and the PLAY RECAP read back.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::lab::process;
use anyhow::{Context, Result};

/// One `ansible-playbook` run.
#[derive(Debug)]
pub struct Run {
    /// Whether it exited 0.
    pub success: bool,
    /// stdout and stderr, in that order.
    pub output: String,
    /// Per host: `ok`, `changed`, `unreachable`, `failed`, ... from the PLAY RECAP.
    pub recap: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Run {
    /// Hosts whose recap counter is not zero, with its value.
    pub fn nonzero(&self, counter: &str) -> Vec<String> {
        self.recap
            .iter()
            .filter_map(|(h, c)| {
                c.get(counter)
                    .filter(|n| **n > 0)
                    .map(|n| format!("{h}: {counter}={n}"))
            })
            .collect()
    }

    /// The last `n` lines of the output, for a failure message.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.output.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// A controller configuration in `dir`; dropping it closes the SSH master connections.
pub struct Controller {
    dir: PathBuf,
    playbook: PathBuf,
    runs: usize,
}

impl Controller {
    /// Writes `ansible.cfg` (strict host keys from `known_hosts`, the key `id_ed25519`, control
    /// sockets under `dir/cp`) into `dir`.
    pub fn new(dir: &Path, playbook: &Path, known_hosts: &str) -> Result<Controller> {
        for sub in ["cp", "home", "local"] {
            fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("create {sub} in the test dir"))?;
        }
        let kh = dir.join("known_hosts");
        fs::write(&kh, known_hosts).context("write known_hosts")?;
        let cfg = format!(
            "[defaults]\n\
             host_key_checking = True\n\
             retry_files_enabled = False\n\
             interpreter_python = /usr/bin/python3\n\
             private_key_file = {key}\n\
             remote_user = root\n\
             forks = 8\n\
             nocolor = True\n\
             local_tmp = {local}\n\
             \n\
             [ssh_connection]\n\
             pipelining = True\n\
             control_path_dir = {cp}\n\
             ssh_args = -F /dev/null -o ControlMaster=auto -o ControlPersist=60s \
             -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \
             -o BatchMode=yes\n",
            key = dir.join("id_ed25519").display(),
            local = dir.join("local").display(),
            cp = dir.join("cp").display(),
            kh = kh.display(),
        );
        fs::write(dir.join("ansible.cfg"), cfg).context("write ansible.cfg")?;
        Ok(Controller {
            dir: dir.to_path_buf(),
            playbook: playbook.to_path_buf(),
            runs: 0,
        })
    }

    /// Runs `ansible-playbook -i INVENTORY site.yml EXTRA...`; its output is also kept in
    /// `dir/run-N.log`.
    pub fn playbook(&mut self, inventory: &Path, extra: &[&str]) -> Result<Run> {
        self.runs += 1;
        let mut argv: Vec<String> = vec!["ansible-playbook".into(), "-i".into()];
        argv.push(inventory.to_string_lossy().into_owned());
        argv.push(self.playbook.to_string_lossy().into_owned());
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let out = process::command(&argv)
            .env("HOME", self.dir.join("home"))
            .env("ANSIBLE_CONFIG", self.dir.join("ansible.cfg"))
            .env("ANSIBLE_HOME", self.dir.join("home"))
            .env("ANSIBLE_FORCE_COLOR", "0")
            .output()
            .context("start ansible-playbook (apt-get install ansible-core)")?;
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        let log = self.dir.join(format!("run-{}.log", self.runs));
        fs::write(&log, &output).with_context(|| format!("write {}", log.display()))?;
        Ok(Run {
            success: out.status.success(),
            recap: parse_recap(&output),
            output,
        })
    }
}

impl Drop for Controller {
    /// Ends the SSH master connections ControlPersist would keep around.
    fn drop(&mut self) {
        let Ok(entries) = fs::read_dir(self.dir.join("cp")) else {
            return;
        };
        for socket in entries.flatten() {
            let path = socket.path().to_string_lossy().into_owned();
            let _ = process::output(&[
                "ssh",
                "-F",
                "/dev/null",
                "-o",
                &format!("ControlPath={path}"),
                "-O",
                "exit",
                "lgtm-rollout",
            ]);
        }
    }
}

/// The PLAY RECAP: `host : ok=3 changed=1 unreachable=0 failed=0 ...` per host.
pub fn parse_recap(output: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut recap = BTreeMap::new();
    let Some(start) = output.rfind("PLAY RECAP") else {
        return recap;
    };
    for line in output[start..].lines().skip(1) {
        let Some((host, counters)) = line.split_once(" : ") else {
            continue;
        };
        let counts: BTreeMap<String, u64> = counters
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect();
        if !counts.is_empty() {
            recap.insert(host.trim().to_owned(), counts);
        }
    }
    recap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_is_read_per_host() {
        let out = "TASK [x] ***\nok: [host1]\n\nPLAY RECAP *********\n\
            host1                      : ok=20   changed=3    unreachable=0    failed=0    skipped=5    rescued=0    ignored=0   \n\
            host2                      : ok=9    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   \n\n";
        let r = Run {
            success: false,
            output: out.into(),
            recap: parse_recap(out),
        };
        assert_eq!(r.recap.len(), 2);
        assert_eq!(r.recap["host1"]["changed"], 3);
        assert_eq!(r.nonzero("changed"), vec!["host1: changed=3".to_owned()]);
        assert_eq!(r.nonzero("failed"), vec!["host2: failed=1".to_owned()]);
        assert!(parse_recap("no recap here").is_empty());
    }
}
