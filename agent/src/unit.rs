//! Unit files of backend processes: typed [`UnitSpec`] in, unit file text out.
//!
//! [`UnitSpec::new`] is the only door for outside text: it checks every value that comes
//! from the coordinator (data directory, roles) before anything is rendered. [`render`] is
//! pure and golden-tested; every value it interpolates also passes [`value`], which refuses
//! control characters and escapes systemd's `%` specifiers, so nothing unchecked reaches a
//! unit file even if a future caller forgets the first check.

use lgtm_model::catalog::ProcessModel;
use lgtm_model::process::{ProcessId, store_dir, upstream_targets};
use lgtm_model::wire::DesiredProcess;
use lgtm_model::{Backend, Role};

use crate::layout::Layout;
use crate::safe_path::{PathError, SafePath};

/// Everything a backend unit file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitSpec {
    /// The process.
    pub id: ProcessId,
    /// Upstream `-target` values, in role order.
    pub targets: Vec<&'static str>,
    /// The backend binary.
    pub binary: SafePath,
    /// Its config file.
    pub config_file: SafePath,
    /// Its data directory (working directory, writable).
    pub data_dir: SafePath,
    /// The backend's filesystem object store on this host, writable by each of its
    /// processes (Loki, Tempo: several processes per host share it).
    pub store_dir: Option<SafePath>,
    /// `StateDirectory=` values when every writable directory lies under `/var/lib`.
    pub state_directories: Option<Vec<String>>,
    /// Whether a role holds data that exists nowhere else yet (an ingester): stopping gets
    /// time to flush it.
    pub flushes: bool,
}

/// Why a process cannot get a unit file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid data directory for {process}")]
    DataDir {
        process: String,
        #[source]
        source: PathError,
    },
    #[error(
        "data directory {data_dir} of {process} is not below this agent's data_root {data_root}; fix data_root in the agent or coordinator"
    )]
    OutsideDataRoot {
        process: String,
        data_dir: String,
        data_root: String,
    },
    #[error("process {process} has no roles; the coordinator sent an empty process")]
    NoRoles { process: String },
    #[error("role {role} does not belong to process {process}")]
    ForeignRole { process: String, role: Role },
    #[error(
        "tempo process {process} runs {count} roles but tempo takes exactly one -target; assign tempo roles one per process"
    )]
    TempoTargets { process: String, count: usize },
    #[error("value {0:?} for a unit file holds a control character")]
    ControlChar(String),
}

impl UnitSpec {
    /// Checks `process` and derives its unit from the layout.
    pub fn new(process: &DesiredProcess, layout: &Layout) -> Result<UnitSpec, UnitError> {
        let id = process.id;
        let name = || id.instance();
        let data_dir = SafePath::parse(&process.data_dir).map_err(|source| UnitError::DataDir {
            process: name(),
            source,
        })?;
        if data_dir.strip_prefix(&layout.data_root).is_none() {
            return Err(UnitError::OutsideDataRoot {
                process: name(),
                data_dir: data_dir.to_string(),
                data_root: layout.data_root.to_string(),
            });
        }
        if process.roles.is_empty() {
            return Err(UnitError::NoRoles { process: name() });
        }
        if let Some(role) = process
            .roles
            .iter()
            .find(|r| ProcessId::for_role(**r) != id)
        {
            return Err(UnitError::ForeignRole {
                process: name(),
                role: *role,
            });
        }
        let targets = upstream_targets(&process.roles);
        let one_per_role = id.backend.catalog_model() == ProcessModel::OnePerRole;
        if one_per_role && targets.len() != 1 {
            return Err(UnitError::TempoTargets {
                process: name(),
                count: targets.len(),
            });
        }
        let store_dir = (id.backend != Backend::Mimir)
            .then(|| SafePath::parse(&store_dir(layout.data_root.as_str(), id.backend)))
            .transpose()
            .map_err(|source| UnitError::DataDir {
                process: name(),
                source,
            })?;
        let var_lib = SafePath::parse("/var/lib").expect("a constant safe path");
        let state_directories = std::iter::once(&data_dir)
            .chain(&store_dir)
            .map(|d| d.strip_prefix(&var_lib).map(str::to_owned))
            .collect();
        Ok(UnitSpec {
            id,
            targets,
            binary: layout.binary(id.backend),
            config_file: layout.config_file(id),
            state_directories,
            data_dir,
            store_dir,
            flushes: process.roles.iter().any(|r| r.flushes_on_stop()),
        })
    }

    /// The directories the process writes: its data directory, then the backend's store.
    pub fn writable_dirs(&self) -> Vec<SafePath> {
        std::iter::once(&self.data_dir)
            .chain(&self.store_dir)
            .cloned()
            .collect()
    }

    /// The system user (and group) the process runs as, named as upstream packages do.
    pub fn user(&self) -> &'static str {
        self.id.backend.as_str()
    }
}

/// Backend facts the unit needs, kept next to the unit text they decide.
trait BackendUnit {
    fn display_name(self) -> &'static str;
    fn catalog_model(self) -> ProcessModel;
}

impl BackendUnit for Backend {
    fn display_name(self) -> &'static str {
        match self {
            Backend::Mimir => "Grafana Mimir",
            Backend::Loki => "Grafana Loki",
            Backend::Tempo => "Grafana Tempo",
        }
    }

    fn catalog_model(self) -> ProcessModel {
        lgtm_model::catalog::catalog(self).process_model
    }
}

/// Checks one value for a unit file: no control characters, `%` escaped as `%%`.
pub fn value(s: &str) -> Result<String, UnitError> {
    if s.chars().any(char::is_control) {
        return Err(UnitError::ControlChar(s.escape_debug().to_string()));
    }
    Ok(s.replace('%', "%%"))
}

/// Renders the unit file of `spec`.
pub fn render(spec: &UnitSpec) -> Result<String, UnitError> {
    let unit = value(&spec.id.unit_name())?;
    let targets = value(&spec.targets.join(","))?;
    let binary = value(spec.binary.as_str())?;
    let config = value(spec.config_file.as_str())?;
    let data_dir = value(spec.data_dir.as_str())?;
    let user = value(spec.user())?;
    let backend = spec.id.backend.display_name();
    let mut s = String::with_capacity(3000);
    let mut line = |l: &str| {
        s.push_str(l);
        s.push('\n');
    };
    line(&format!(
        "# {unit}: {backend} for lgtm (-target={targets})."
    ));
    line(
        "# Written by lgtm-agent from the coordinator's desired state; local edits are overwritten.",
    );
    line("");
    line("[Unit]");
    line(&format!("Description=lgtm {backend} ({targets})"));
    line("# Peers are joined by address at start, so wait for the network.");
    line("Wants=network-online.target");
    line("After=network-online.target");
    line(
        "# At most 5 starts in 10 minutes: a crash loop ends up failed and visible, not flapping;",
    );
    line("# lgtm-agent resets the counter when it starts the unit for a new desired state.");
    line("StartLimitIntervalSec=10min");
    line("StartLimitBurst=5");
    line("");
    line("[Service]");
    if spec.id.backend == Backend::Mimir {
        line("# Mimir sends READY=1 once every module runs: active means serving.");
        line("Type=notify");
        line("# An ingester replays its WAL before READY=1, which can take many minutes.");
        line("TimeoutStartSec=20min");
    } else {
        line(&format!(
            "# {backend} does not speak sd_notify; exec still fails the start when the binary cannot run."
        ));
        line("# Readiness is probed by lgtm-agent on /ready.");
        line("Type=exec");
    }
    line(&format!(
        "# A dedicated system user, named as upstream packages name it (/etc/sysusers.d/lgtm-{user}.conf)."
    ));
    line(&format!("User={user}"));
    line(&format!("Group={user}"));
    match spec.id.backend.catalog_model() {
        ProcessModel::OnePerRole => {
            line("# Tempo runs exactly one target per process: one unit per role on this host.")
        }
        ProcessModel::Grouped => line(
            "# Loki runs its write, read and backend targets apart: one unit per group on this host.",
        ),
        ProcessModel::Shared => {
            line("# Every role of this backend on this host runs in this one process.")
        }
    }
    line(&format!(
        "ExecStart={binary} -config.file={config} -target={targets}"
    ));
    line("# Relative paths in the config resolve to the data directory.");
    line(&format!("WorkingDirectory={data_dir}"));
    match &spec.state_directories {
        Some(rels) => {
            line(&format!(
                "# systemd creates the data directories below /var/lib, owned by {user}."
            ));
            let rels: Result<Vec<String>, UnitError> = rels.iter().map(|r| value(r)).collect();
            line(&format!("StateDirectory={}", rels?.join(" ")));
            line("StateDirectoryMode=0750");
        }
        None => {
            line(&format!(
                "# The data directories lie outside /var/lib: lgtm-agent creates them, owned by {user}."
            ));
            let dirs: Result<Vec<String>, UnitError> = spec
                .writable_dirs()
                .iter()
                .map(|d| value(d.as_str()))
                .collect();
            line(&format!("ReadWritePaths={}", dirs?.join(" ")));
        }
    }
    line(
        "# on-failure, not always: a Loki ingester told to /ingester/shutdown exits 0 and must stay down.",
    );
    line("Restart=on-failure");
    line("RestartSec=2s");
    if spec.flushes && spec.targets == ["scalable-single-binary"] {
        line(
            "# SIGTERM starts a graceful stop; the ingester leaves its ring and flushes first. Its",
        );
        line(
            "# query-frontend then never finishes stopping (seen with Tempo 2.10.8): end it after that.",
        );
        line("TimeoutStopSec=2min");
    } else if spec.flushes {
        line("# SIGTERM starts a graceful stop; an ingester leaves its ring and flushes first.");
        line("TimeoutStopSec=10min");
    } else {
        line(
            "# SIGTERM starts a graceful stop: in-flight requests drain (30s by default). Past that,",
        );
        line(
            "# a server whose peers keep a stream open never finishes its stop: a Tempo querier or",
        );
        line(
            "# query-frontend (seen with Tempo 2.10.8), a cluster's only Loki query-scheduler (its",
        );
        line(
            "# frontends keep it while its ring is empty; Loki 3.7.6). Nothing here needs longer:",
        );
        line("# end it rather than hold every later change.");
        line("TimeoutStopSec=45s");
    }
    line("# Ingesters and store-gateways keep many block files and connections open.");
    line("LimitNOFILE=1048576");
    line("# Configs hold secrets and data is private: nothing created here is world-readable.");
    line("UMask=0027");
    line("# Sandbox: read the config, write only the data directories, no privileges at all.");
    line("NoNewPrivileges=yes");
    line("ProtectSystem=strict");
    line("ProtectHome=yes");
    line("PrivateTmp=yes");
    line("PrivateDevices=yes");
    line("ProtectKernelTunables=yes");
    line("ProtectKernelModules=yes");
    line("ProtectControlGroups=yes");
    line("RestrictSUIDSGID=yes");
    line("LockPersonality=yes");
    line("ProtectClock=yes");
    line("RestrictNamespaces=yes");
    line("SystemCallArchitectures=native");
    line("# Every port lgtm plans is above 1024: no capabilities needed.");
    line("CapabilityBoundingSet=");
    line("AmbientCapabilities=");
    line("");
    line("[Install]");
    line("# Enabled: a reboot brings the process back without lgtm-agent or the coordinator.");
    line("WantedBy=multi-user.target");
    Ok(s)
}

/// The sysusers.d file declaring `backend`'s system user and group.
pub fn sysusers(backend: Backend) -> String {
    let user = backend.as_str();
    let name = backend.display_name();
    format!(
        "# lgtm: system user and group {user} for {name}; written by lgtm-agent.\n\
         # Applied with `systemd-sysusers <this file>`; the user is never removed, it owns data.\n\
         u {user} - \"{name}\" - -\n"
    )
}

#[cfg(test)]
#[path = "unit_tests.rs"]
pub(crate) mod tests;
