//! What this host should look like, derived purely from a [`DesiredState`] and the [`Layout`].
//!
//! Every file is rendered here, before anything is touched: a desired state that cannot be
//! rendered completely (a hostile data directory, a Tempo process with two targets, a state
//! meant for another host) is refused as a whole, so nothing is ever half-applied.

use std::collections::BTreeSet;
use std::fmt;

use lgtm_model::process::ProcessId;
use lgtm_model::wire::DesiredState;
use lgtm_model::{Backend, HostName};

use crate::gateway;
use crate::layout::Layout;
use crate::safe_path::SafePath;
use crate::unit::{self, UnitError, UnitSpec};

/// File content; `Debug` shows only its size because configs hold secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Content(pub Vec<u8>);

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Content {
        Content(s.as_bytes().to_vec())
    }
}

/// A file the agent wants on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// Where.
    pub path: SafePath,
    /// What.
    pub content: Content,
    /// Permission bits.
    pub mode: u32,
    /// Group owning the file (owner is always the agent, root); `None`: root's group.
    pub group: Option<&'static str>,
}

/// One backend process this host should run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedProcess {
    /// The process.
    pub id: ProcessId,
    /// Its unit name.
    pub unit: String,
    /// Its config file: 0640, owner root, group the backend's (it may hold S3 secrets).
    pub config: FileSpec,
    /// Its unit file.
    pub unit_file: FileSpec,
    /// Marker written while files changed but the process has not restarted yet.
    pub restart_marker: SafePath,
    /// Data directories the agent creates (outside `/var/lib`, where systemd does not).
    pub create_dirs: Vec<SafePath>,
    /// The system user it runs as.
    pub user: &'static str,
}

/// A backend's system user, declared in a sysusers.d file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedUser {
    /// User and group name.
    pub name: &'static str,
    /// Its sysusers.d file.
    pub sysusers: FileSpec,
}

/// A process this host must not run: everything of it that may exist goes away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnwantedProcess {
    /// Its unit name.
    pub unit: String,
    /// Files it may have left: unit file, config file, restart marker.
    pub files: Vec<SafePath>,
    /// Its unit file (removing it needs a daemon-reload).
    pub unit_file: SafePath,
}

/// The gateway (nginx) this host should run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedGateway {
    /// Its unit name.
    pub unit: String,
    /// nginx.conf: 0644, it holds no secret.
    pub config: FileSpec,
    /// Where a new config is checked with `nginx -t` before it replaces `config`.
    pub candidate: SafePath,
    /// Its unit file.
    pub unit_file: FileSpec,
}

/// The whole desired picture of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Index of the desired state this was derived from.
    pub index: u64,
    /// Users first: configs are group-owned by them.
    pub users: Vec<WantedUser>,
    /// Processes to run, in `ProcessId` order.
    pub processes: Vec<WantedProcess>,
    /// Every other process the agent could manage (and the gateway, when not wanted).
    pub unwanted: Vec<UnwantedProcess>,
    /// The gateway, when the host has gateway roles.
    pub gateway: Option<WantedGateway>,
}

/// Why a desired state was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    #[error(
        "desired state index {index} is for host {got}, but this host is {want}; fix host_name"
    )]
    WrongHost {
        index: u64,
        got: HostName,
        want: HostName,
    },
    #[error("desired state index {index} lists process {process} twice")]
    Duplicate { index: u64, process: String },
    #[error("desired state index {index} is refused")]
    Unit {
        index: u64,
        #[source]
        source: UnitError,
    },
}

impl Desired {
    /// Renders every file of `state` for `host`.
    pub fn new(
        state: &DesiredState,
        host: &HostName,
        layout: &Layout,
    ) -> Result<Desired, DesiredError> {
        let index = state.index;
        if &state.host != host {
            return Err(DesiredError::WrongHost {
                index,
                got: state.host.clone(),
                want: host.clone(),
            });
        }
        let mut seen = BTreeSet::new();
        let mut processes = Vec::new();
        for p in &state.processes {
            if !seen.insert(p.id) {
                return Err(DesiredError::Duplicate {
                    index,
                    process: p.id.instance(),
                });
            }
            let unit_error = |source| DesiredError::Unit { index, source };
            let spec = UnitSpec::new(p, layout).map_err(unit_error)?;
            let text = unit::render(&spec).map_err(unit_error)?;
            processes.push(WantedProcess {
                id: p.id,
                unit: p.id.unit_name(),
                config: FileSpec {
                    path: layout.config_file(p.id),
                    content: Content(p.config.as_bytes().to_vec()),
                    mode: 0o640,
                    group: Some(spec.user()),
                },
                unit_file: FileSpec {
                    path: layout.unit_file(p.id),
                    content: Content(text.into_bytes()),
                    mode: 0o644,
                    group: None,
                },
                restart_marker: layout.restart_marker(p.id),
                create_dirs: match spec.state_directories {
                    Some(_) => Vec::new(),
                    None => spec.writable_dirs(),
                },
                user: spec.user(),
            });
        }
        processes.sort_by_key(|p| p.id);
        let backends: BTreeSet<Backend> = processes.iter().map(|p| p.id.backend).collect();
        let users = backends
            .into_iter()
            .map(|b| WantedUser {
                name: b.as_str(),
                sysusers: FileSpec {
                    path: layout.sysusers_file(b),
                    content: Content(unit::sysusers(b).into_bytes()),
                    mode: 0o644,
                    group: None,
                },
            })
            .collect();
        let mut unwanted: Vec<UnwantedProcess> = ProcessId::all()
            .into_iter()
            .filter(|id| !seen.contains(id))
            .map(|id| UnwantedProcess {
                unit: id.unit_name(),
                files: vec![
                    layout.unit_file(id),
                    layout.config_file(id),
                    layout.restart_marker(id),
                ],
                unit_file: layout.unit_file(id),
            })
            .collect();
        let gateway = state.gateway.as_ref().map(|g| WantedGateway {
            unit: gateway::UNIT.to_owned(),
            config: FileSpec {
                path: layout.gateway_config(),
                content: Content(g.config.as_bytes().to_vec()),
                mode: 0o644,
                group: None,
            },
            candidate: layout.gateway_candidate(),
            unit_file: FileSpec {
                path: layout.gateway_unit_file(),
                content: Content(gateway::unit_file(&layout.gateway_config()).into_bytes()),
                mode: 0o644,
                group: None,
            },
        });
        if gateway.is_none() {
            unwanted.push(UnwantedProcess {
                unit: gateway::UNIT.to_owned(),
                files: vec![
                    layout.gateway_unit_file(),
                    layout.gateway_config(),
                    layout.gateway_candidate(),
                ],
                unit_file: layout.gateway_unit_file(),
            });
        }
        Ok(Desired {
            index,
            users,
            processes,
            unwanted,
            gateway,
        })
    }

    /// Every unit name the agent manages, wanted or not.
    pub fn all_units(&self) -> Vec<String> {
        let wanted = self.processes.iter().map(|p| p.unit.clone());
        let gateway = self.gateway.iter().map(|g| g.unit.clone());
        wanted
            .chain(gateway)
            .chain(self.unwanted.iter().map(|u| u.unit.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::layout;
    use crate::unit::tests::process;

    fn state(host: &str, procs: Vec<lgtm_model::wire::DesiredProcess>) -> DesiredState {
        DesiredState {
            host: host.parse().unwrap(),
            index: 7,
            processes: procs,
            gateway: None,
        }
    }

    #[test]
    fn renders_every_file() {
        let s = state(
            "h1",
            vec![
                process(&["tempo:ingester"], "/var/lib/lgtm/tempo-ingester"),
                process(&["mimir:all"], "/var/lib/lgtm/mimir"),
            ],
        );
        let d = Desired::new(&s, &"h1".parse().unwrap(), &layout()).unwrap();
        let units: Vec<_> = d.processes.iter().map(|p| p.unit.as_str()).collect();
        assert_eq!(units, ["lgtm-mimir.service", "lgtm-tempo-ingester.service"]);
        let mimir = &d.processes[0];
        assert_eq!(mimir.config.path.as_str(), "/etc/lgtm/mimir/mimir.yaml");
        assert_eq!(
            (mimir.config.mode, mimir.config.group),
            (0o640, Some("mimir"))
        );
        assert!(mimir.create_dirs.is_empty(), "StateDirectory= creates it");
        let users: Vec<_> = d.users.iter().map(|u| u.name).collect();
        assert_eq!(users, ["mimir", "tempo"]);
        assert_eq!(d.unwanted.len(), 11, "10 processes and the gateway");
        assert!(d.unwanted.iter().all(|u| u.unit != "lgtm-mimir.service"));
        assert_eq!(d.all_units().len(), 13);
        assert!(
            !format!("{d:?}").contains("http_listen_port"),
            "Debug hides content"
        );
    }

    #[test]
    fn refusals() {
        let l = layout();
        let me: HostName = "h1".parse().unwrap();
        let other = state("h2", vec![]);
        assert!(matches!(
            Desired::new(&other, &me, &l),
            Err(DesiredError::WrongHost { .. })
        ));
        let dup = state(
            "h1",
            vec![
                process(&["mimir:querier"], "/var/lib/lgtm/mimir"),
                process(&["mimir:ingester"], "/var/lib/lgtm/mimir"),
            ],
        );
        assert!(matches!(
            Desired::new(&dup, &me, &l),
            Err(DesiredError::Duplicate { .. })
        ));
        let hostile = state(
            "h1",
            vec![process(&["loki:all"], "/var/lib/lgtm/loki\nUser=root")],
        );
        let e = Desired::new(&hostile, &me, &l).unwrap_err();
        assert!(matches!(e, DesiredError::Unit { .. }), "{e}");
        // Outside /var/lib the agent creates the data directory itself.
        let mut srv = l.clone();
        srv.data_root = SafePath::parse("/srv/lgtm").unwrap();
        let s = state("h1", vec![process(&["loki:all"], "/srv/lgtm/loki")]);
        let d = Desired::new(&s, &me, &srv).unwrap();
        let dirs: Vec<&str> = d.processes[0]
            .create_dirs
            .iter()
            .map(SafePath::as_str)
            .collect();
        assert_eq!(dirs, ["/srv/lgtm/loki", "/srv/lgtm/loki-store"]);
    }
}
