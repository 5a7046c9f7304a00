//! The lab network: one bridge per lab in the root namespace, one veth pair per host.
//!
//! A lab owns a *slot* `k` in 0..512: bridge `lgtmlab<k>`, subnet `198.(18 + k/256).(k%256).0/24`
//! inside 198.18.0.0/15 (set aside for benchmark labs), gateway `.1` on the bridge, host `N`
//! at `.N+1`. The slot is claimed by creating `/run/lgtm-lab/lgtmlab<k>.pid` exclusively, with
//! the owner's pid and start time; a slot whose owner is gone is swept on the next claim.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::error::LabError;
use super::process::{alive, run, start_time};

/// Where slot claims live.
pub const RUN_DIR: &str = "/run/lgtm-lab";
/// Number of /24 subnets in 198.18.0.0/15.
pub const SLOTS: u16 = 512;
const BRIDGE_PREFIX: &str = "lgtmlab";
static NEXT: AtomicU32 = AtomicU32::new(0);

/// One lab's bridge, subnet and link names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    index: u16,
}

impl Slot {
    /// The slot with this index (below [`SLOTS`]).
    pub fn new(index: u16) -> Option<Slot> {
        (index < SLOTS).then_some(Slot { index })
    }

    /// The bridge's name.
    pub fn bridge(self) -> String {
        format!("{BRIDGE_PREFIX}{}", self.index)
    }

    fn octets(self) -> (u8, u8) {
        // Both fit: index < 512.
        ((18 + self.index / 256) as u8, (self.index % 256) as u8)
    }

    /// The bridge's MAC address, fixed (locally administered, unique per slot). Left to the
    /// kernel, a bridge takes the lowest MAC of its ports and changes it when that port leaves:
    /// a host powering off would then leave the other hosts answering the root namespace at its
    /// old MAC until their neighbour entries expire (seen: 13 s without a packet through).
    fn mac(self) -> String {
        let [hi, lo] = self.index.to_be_bytes();
        format!("02:6c:67:6c:{hi:02x}:{lo:02x}")
    }

    /// The root namespace's address on the bridge (`.1`).
    pub fn gateway(self) -> Ipv4Addr {
        let (b, c) = self.octets();
        Ipv4Addr::new(198, b, c, 1)
    }

    /// Host `n`'s address (`.n+1`), for `n` in 1..=253.
    pub fn host_ip(self, n: usize) -> Option<Ipv4Addr> {
        let (b, c) = self.octets();
        let d = u8::try_from(n + 1).ok().filter(|d| (2..=254).contains(d))?;
        Some(Ipv4Addr::new(198, b, c, d))
    }

    /// Root-side end of host `n`'s veth pair.
    pub fn veth(self, n: usize) -> String {
        format!("lgl{}h{n}", self.index)
    }

    /// Host-side end of host `n`'s veth pair, before it is renamed `eth0`.
    fn peer(self, n: usize) -> String {
        format!("lgp{}h{n}", self.index)
    }

    fn owns_link(self, name: &str) -> bool {
        name == self.bridge()
            || [format!("lgl{}h", self.index), format!("lgp{}h", self.index)]
                .iter()
                .any(|p| {
                    name.strip_prefix(p.as_str())
                        .is_some_and(|n| n.parse::<u16>().is_ok())
                })
    }

    fn pidfile(self) -> PathBuf {
        PathBuf::from(RUN_DIR).join(format!("{}.pid", self.bridge()))
    }
}

/// A loopback TCP port free right now, for processes a test runs outside any lab host.
pub fn free_local_port() -> Result<u16, LabError> {
    let l =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(LabError::io("bind a loopback port"))?;
    Ok(l.local_addr()
        .map_err(LabError::io("read a bound port"))?
        .port())
}

/// Names of every network link in the root namespace.
pub fn links() -> Result<Vec<String>, LabError> {
    let out = run(&["ip", "-o", "link", "show"])?;
    Ok(parse_links(&String::from_utf8_lossy(&out.stdout)))
}

/// Link names from `ip -o link show` (`3: name@peer: <FLAGS> ...`).
fn parse_links(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect()
}

/// Owner record in a pidfile: `pid start_time`.
fn parse_owner(text: &str) -> Option<(i32, u64)> {
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn owner_alive(text: &str) -> bool {
    parse_owner(text).is_some_and(|(pid, start)| alive(pid) && start_time(pid) == Some(start))
}

/// Claims a free slot for this process and creates its bridge.
pub fn claim() -> Result<Slot, LabError> {
    fs::create_dir_all(RUN_DIR).map_err(LabError::io(format!("create {RUN_DIR}")))?;
    sweep_stale()?;
    let existing = links()?;
    let me = std::process::id() as i32;
    let record = format!("{me} {}\n", start_time(me).unwrap_or(0));
    // Start where this process's previous lab did not: a test checking that its lab's links
    // are gone must not see the next lab re-create the same names.
    let start = (me as u32 + NEXT.fetch_add(1, Ordering::Relaxed)) % u32::from(SLOTS);
    for offset in 0..SLOTS {
        let index = ((start + u32::from(offset)) % u32::from(SLOTS)) as u16;
        let slot = Slot { index };
        if existing.iter().any(|l| slot.owns_link(l)) {
            continue;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(slot.pidfile());
        match file {
            Ok(mut f) => {
                f.write_all(record.as_bytes())
                    .map_err(LabError::io(format!("write {}", slot.pidfile().display())))?;
                create_bridge(slot).inspect_err(|_| release(slot))?;
                return Ok(slot);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(LabError::io(format!("create {}", slot.pidfile().display()))(e)),
        }
    }
    Err(LabError::NoFreeSlot)
}

/// Removes links and claims of labs whose owner process is gone.
pub fn sweep_stale() -> Result<(), LabError> {
    let Ok(entries) = fs::read_dir(RUN_DIR) else {
        return Ok(());
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(index) = name
            .strip_prefix(BRIDGE_PREFIX)
            .and_then(|n| n.strip_suffix(".pid"))
            .and_then(|n| n.parse().ok())
            .and_then(Slot::new)
        else {
            continue;
        };
        let text = fs::read_to_string(entry.path()).unwrap_or_default();
        // An empty record is a claim being written right now, unless it is old.
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < Duration::from_secs(10));
        if !(owner_alive(&text) || text.is_empty() && young) {
            stale.push(index);
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    let existing = links()?;
    for slot in stale {
        eprintln!(
            "lgtm-lab: removing stale lab {} (owner gone)",
            slot.bridge()
        );
        delete_links(slot, &existing);
        release(slot);
    }
    Ok(())
}

fn create_bridge(slot: Slot) -> Result<(), LabError> {
    let bridge = slot.bridge();
    run(&[
        "ip",
        "link",
        "add",
        "name",
        &bridge,
        "address",
        &slot.mac(),
        "type",
        "bridge",
    ])?;
    let cidr = format!("{}/24", slot.gateway());
    run(&["ip", "addr", "add", &cidr, "dev", &bridge])?;
    run(&["ip", "link", "set", &bridge, "up"])?;
    Ok(())
}

/// Connects host `n` (namespace of `pid`) to the bridge as `eth0` and brings up `lo`.
pub fn attach_host(slot: Slot, n: usize, pid: i32) -> Result<Ipv4Addr, LabError> {
    let ip = slot.host_ip(n).ok_or_else(|| LabError::Invalid {
        what: "host number".into(),
        why: format!("{n} is outside 1..=253"),
    })?;
    let (veth, peer, bridge) = (slot.veth(n), slot.peer(n), slot.bridge());
    let pid = pid.to_string();
    run(&[
        "ip", "link", "add", &veth, "type", "veth", "peer", "name", &peer,
    ])?;
    run(&["ip", "link", "set", &veth, "master", &bridge, "up"])?;
    run(&["ip", "link", "set", &peer, "netns", &pid])?;
    let inside = |args: &[&str]| {
        let mut argv = vec!["nsenter", "-t", &pid, "-n", "ip"];
        argv.extend_from_slice(args);
        run(&argv)
    };
    inside(&["link", "set", &peer, "name", "eth0"])?;
    inside(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"])?;
    inside(&["link", "set", "eth0", "up"])?;
    inside(&["link", "set", "lo", "up"])?;
    Ok(ip)
}

/// Brings host `n`'s root-side link up or down (a partition when down).
pub fn set_link(slot: Slot, n: usize, up: bool) -> Result<(), LabError> {
    let state = if up { "up" } else { "down" };
    run(&["ip", "link", "set", &slot.veth(n), state])?;
    Ok(())
}

fn delete_links(slot: Slot, existing: &[String]) {
    // Veths first: deleting one end deletes its peer; the bridge goes last.
    for link in existing
        .iter()
        .filter(|l| slot.owns_link(l) && **l != slot.bridge())
    {
        let _ = run(&["ip", "link", "del", link]);
    }
    if existing.contains(&slot.bridge()) {
        let _ = run(&["ip", "link", "del", &slot.bridge()]);
    }
}

fn release(slot: Slot) {
    let _ = fs::remove_file(slot.pidfile());
}

/// Deletes the slot's links and releases its claim.
pub fn teardown(slot: Slot) {
    match links() {
        Ok(existing) => delete_links(slot, &existing),
        Err(e) => eprintln!(
            "lgtm-lab: cannot list links to remove {}: {e}",
            slot.bridge()
        ),
    }
    release(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_map_into_198_18_0_0_15() {
        let first = Slot::new(0).unwrap();
        assert_eq!(first.bridge(), "lgtmlab0");
        assert_eq!(first.gateway(), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(first.host_ip(1), Some(Ipv4Addr::new(198, 18, 0, 2)));
        let last = Slot::new(511).unwrap();
        assert_eq!(last.gateway(), Ipv4Addr::new(198, 19, 255, 1));
        assert_eq!(last.host_ip(253), Some(Ipv4Addr::new(198, 19, 255, 254)));
        assert_eq!(last.host_ip(254), None);
        assert_eq!(last.host_ip(0), None);
        assert!(Slot::new(512).is_none());
        // Interface names are limited to 15 bytes.
        assert!(last.veth(253).len() <= 15 && last.peer(253).len() <= 15);
    }

    #[test]
    fn a_slot_owns_only_its_own_links() {
        let s = Slot::new(3).unwrap();
        assert!(s.owns_link("lgtmlab3") && s.owns_link("lgl3h1") && s.owns_link("lgp3h12"));
        for other in ["lgtmlab30", "lgl30h1", "lgl3hx", "eth0", "lgl3h"] {
            assert!(!s.owns_link(other), "{other}");
        }
    }

    #[test]
    fn parses_ip_link_output() {
        let text =
            "1: lo: <LOOPBACK,UP> mtu 65536\n7: lgl0h1@if6: <BROADCAST> mtu 1500 master lgtmlab0\n";
        assert_eq!(parse_links(text), ["lo", "lgl0h1"]);
    }

    #[test]
    fn owner_records() {
        assert_eq!(parse_owner("12 345\n"), Some((12, 345)));
        assert_eq!(parse_owner(""), None);
        let me = std::process::id() as i32;
        assert!(owner_alive(&format!("{me} {}", start_time(me).unwrap())));
        assert!(
            !owner_alive(&format!("{me} 1")),
            "a reused pid is not the owner"
        );
    }
}
