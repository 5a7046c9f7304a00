//! `kill -9` of the agent while it applies a change to every backend of host1: the configs
//! on disk are always whole (the old file or the new one, never a mix or a torn file), the
//! backends never fail on them, and the agent systemd restarts finishes the plan.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use lgtm_tests::lab::{Host, Lab};

use super::probes::{
    assert_configs_applied, configs_on_disk, converged, coordinator, desired_configs, put_setting,
};
use super::support::{main_pid, n_restarts, show, until, wait_host};

/// Milliseconds between resuming the frozen agent (with the change waiting in its socket)
/// and `kill -9`: a sweep across the plan, from before the first write to after the restarts.
const KILL_AFTER_MS: [u32; 10] = [0, 1, 2, 4, 7, 12, 20, 35, 60, 120];

const AGENT: &str = "lgtm-agent.service";

/// The lab's agent unit keeps systemd's default start limit (5 starts in 10 s): kills closer
/// together than this would make systemd give up on the agent, which is not the fault here.
const MIN_KILL_GAP: Duration = Duration::from_millis(2500);

/// The agent's MainPID on `host`.
fn agent_pid(host: &Host) -> String {
    let pid = show(host, AGENT, "MainPID");
    assert_ne!(pid, "0", "{}: the agent runs no process", host.name());
    pid
}

pub fn an_agent_killed_mid_apply_leaves_whole_configs(lab: &Lab) {
    let h = lab.host(1);
    let mut mid_plan = 0;
    for (i, at) in KILL_AFTER_MS.iter().enumerate() {
        let old = desired_configs(lab, "host1");
        assert_configs_applied(lab, h);
        let pids: BTreeMap<String, (u32, u32)> = super::probes::backend_units(h)
            .into_iter()
            .map(|u| {
                let seen = (main_pid(h, &u), n_restarts(h, &u));
                (u, seen)
            })
            .collect();
        // Freeze the agent, make the change, then resume and kill it from inside the host
        // (one shell: no process start between the two signals).
        let pid = agent_pid(h);
        h.run(&["kill", "-STOP", &pid]).unwrap();
        put_setting(coordinator(lab), "cluster.name", &format!("fault{i}")).unwrap();
        // The rollout releases each backend's one process (its ring's only member) within
        // a few seconds: the frozen agent's last report still counts.
        let new = lgtm_tests::lab::wait_for(
            "the rollout to release every new config",
            Duration::from_secs(60),
            || {
                let new = desired_configs(lab, "host1");
                old.iter()
                    .all(|(p, t)| new.get(p) != Some(t))
                    .then_some(new)
            },
        )
        .expect("cluster.name changes every config");
        assert_eq!(
            old.keys().collect::<Vec<_>>(),
            new.keys().collect::<Vec<_>>()
        );
        // Let the long-poll answer reach the frozen agent's socket.
        thread::sleep(Duration::from_millis(300));
        let delay = format!("{}.{:03}", at / 1000, at % 1000);
        let script = format!("kill -CONT {pid}; sleep {delay}; kill -KILL {pid}");
        h.run(&["sh", "-c", &script]).unwrap();
        let killed = Instant::now();
        let disk = configs_on_disk(h, new.keys());
        let mut changed = 0;
        for (path, text) in &disk {
            let text = text.as_deref();
            assert!(
                text == Some(old[path].as_str()) || text == Some(new[path].as_str()),
                "kill {i} ({at} ms): {path} is neither the old nor the new config: {text:?}"
            );
            changed += usize::from(text == Some(new[path].as_str()));
        }
        mid_plan += usize::from(changed > 0 && changed < disk.len());
        eprintln!(
            "kill {i} ({at} ms after resuming): {changed} of {} configs new at the kill",
            disk.len()
        );

        // systemd restarts the agent (Restart=always); it finishes the plan.
        wait_host(lab, "host1");
        assert_configs_applied(lab, h);
        for (unit, (pid, restarts)) in &pids {
            until(&format!("{unit} to run its new config"), || {
                let now = main_pid(h, unit);
                (now != 0 && now != *pid && show(h, unit, "ActiveState") == "active").then_some(())
            });
            assert_eq!(
                n_restarts(h, unit),
                *restarts,
                "{unit} crashed on its config"
            );
        }
        thread::sleep(MIN_KILL_GAP.saturating_sub(killed.elapsed()));
    }
    eprintln!(
        "agent kill -9 mid-apply x{}: {mid_plan} kills landed with some configs new and some old",
        KILL_AFTER_MS.len()
    );
    converged(lab);
}
