//! sshd inside lab hosts: each host gets its own host key (generated in its overlay), root
//! login by the test's key only, and `ssh.service` started by the host's own systemd.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::lab::Host;
use crate::lab::process;
use anyhow::{Context, Result, bail};

/// Only what the test needs; everything else stays the machine's default configuration.
const SSHD_DROP_IN: &str = "\
# lgtm rollout test: this host's own key, root by key only.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
";

/// `ssh-keygen` making an ed25519 key pair without a passphrase at `path` (and `path.pub`).
fn keygen(path: &str) -> [&str; 8] {
    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path]
}

/// Makes the controller's key pair `<dir>/id_ed25519{,.pub}`; returns the public key line.
pub fn client_key(dir: &Path) -> Result<String> {
    let key = dir.join("id_ed25519");
    let path = key.to_string_lossy().into_owned();
    process::run(&keygen(&path)).context("generate the test's SSH key")?;
    let public =
        std::fs::read_to_string(dir.join("id_ed25519.pub")).context("read the public key")?;
    Ok(public.trim().to_owned())
}

/// Prepares `host` like a freshly installed server reachable over SSH, and returns its
/// `known_hosts` line.
pub fn start(host: &Host, authorized_key: &str) -> Result<String> {
    let name = host.name();
    // This machine's Docker-style policy-rc.d forbids package scripts to start services; a real
    // server has none. The file is removed in the host's overlay only.
    host.run(&["rm", "-f", "/usr/sbin/policy-rc.d"])?;
    // The machine's own host keys (visible through the overlay) are not this host's.
    host.run(&["sh", "-c", "rm -f /etc/ssh/ssh_host_*"])?;
    host.run(&keygen("/etc/ssh/ssh_host_ed25519_key"))
        .with_context(|| format!("generate {name}'s host key"))?;
    host.write_file(
        "/etc/ssh/sshd_config.d/lgtm-rollout-test.conf",
        SSHD_DROP_IN.as_bytes(),
        0o644,
    )?;
    host.run(&["install", "-d", "-m", "0700", "/root/.ssh"])?;
    host.write_file(
        "/root/.ssh/authorized_keys",
        format!("{authorized_key}\n").as_bytes(),
        0o600,
    )?;
    let out = host.systemctl(&["start", "ssh.service"])?;
    if !out.status.success() {
        let journal = host.journal("ssh.service", 20).unwrap_or_default();
        bail!(
            "{name}: systemctl start ssh.service failed: {}\n{journal}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let public = host.read_file("/etc/ssh/ssh_host_ed25519_key.pub")?;
    Ok(known_hosts_line(
        host.ip(),
        &String::from_utf8_lossy(&public),
    ))
}

/// `IP TYPE KEY`, from a `.pub` file's `TYPE KEY COMMENT`.
fn known_hosts_line(ip: Ipv4Addr, public: &str) -> String {
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    format!("{ip} {}", key.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_line_drops_the_comment() {
        let line = known_hosts_line(
            Ipv4Addr::new(198, 18, 0, 2),
            "ssh-ed25519 AAAAC3 root@host1\n",
        );
        assert_eq!(line, "198.18.0.2 ssh-ed25519 AAAAC3");
    }
}
