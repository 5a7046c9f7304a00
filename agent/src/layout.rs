//! Where every file the agent manages lives, derived from the settings.
//!
//! The set of processes an agent can run is finite (`ProcessId::all`: Mimir, Loki, one per
//! Tempo role), so the set of files it may own is finite too: observing them needs no
//! directory scans, and a file not on this list (the agent's own unit, an operator's file)
//! is never touched.

use lgtm_model::Backend;
use lgtm_model::process::ProcessId;

use crate::config::Settings;
use crate::safe_path::SafePath;

/// The directories the agent writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Directory of the backend binaries.
    pub bin_dir: SafePath,
    /// Root of backend config files.
    pub config_dir: SafePath,
    /// Where unit files are written.
    pub unit_dir: SafePath,
    /// The agent's own state.
    pub state_dir: SafePath,
    /// Directory under which data directories live.
    pub data_root: SafePath,
    /// Where sysusers.d files declaring backend users go.
    pub sysusers_dir: SafePath,
}

// Every name joined below is built from static catalog names, which are safe components.
const SAFE: &str = "names from the role catalog are safe path components";

impl Layout {
    /// The layout of `settings`, with sysusers files in `/etc/sysusers.d`.
    pub fn from_settings(settings: &Settings) -> Layout {
        Layout {
            bin_dir: settings.bin_dir.clone(),
            config_dir: settings.config_dir.clone(),
            unit_dir: settings.unit_dir.clone(),
            state_dir: settings.state_dir.clone(),
            data_root: settings.data_root.clone(),
            sysusers_dir: SafePath::parse("/etc/sysusers.d").expect(SAFE),
        }
    }

    /// `<bin_dir>/<backend>`.
    pub fn binary(&self, backend: Backend) -> SafePath {
        self.bin_dir.join(backend.as_str()).expect(SAFE)
    }

    /// `<config_dir>/<backend>/<instance>.yaml`, e.g. `/etc/lgtm/tempo/tempo-ingester.yaml`.
    pub fn config_file(&self, id: ProcessId) -> SafePath {
        let name = format!("{}/{}.yaml", id.backend, id.instance());
        self.config_dir.join(&name).expect(SAFE)
    }

    /// `<unit_dir>/lgtm-<instance>.service`.
    pub fn unit_file(&self, id: ProcessId) -> SafePath {
        self.unit_dir.join(&id.unit_name()).expect(SAFE)
    }

    /// `<sysusers_dir>/lgtm-<backend>.conf`.
    pub fn sysusers_file(&self, backend: Backend) -> SafePath {
        let name = format!("lgtm-{backend}.conf");
        self.sysusers_dir.join(&name).expect(SAFE)
    }

    /// Marker saying a process must restart to pick up files written for it.
    pub fn restart_marker(&self, id: ProcessId) -> SafePath {
        let name = format!("restart-pending/{}", id.unit_name());
        self.state_dir.join(&name).expect(SAFE)
    }

    /// `<config_dir>/gateway/nginx.conf`: the gateway's config, as nginx serves it.
    pub fn gateway_config(&self) -> SafePath {
        self.config_dir.join("gateway/nginx.conf").expect(SAFE)
    }

    /// Where a new gateway config waits for `nginx -t`.
    pub fn gateway_candidate(&self) -> SafePath {
        self.config_dir
            .join("gateway/nginx.conf.candidate")
            .expect(SAFE)
    }

    /// `<unit_dir>/lgtm-gateway.service`.
    pub fn gateway_unit_file(&self) -> SafePath {
        self.unit_dir.join(crate::gateway::UNIT).expect(SAFE)
    }

    /// The last accepted desired state.
    pub fn ledger_file(&self) -> SafePath {
        self.state_dir.join("desired.json").expect(SAFE)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The default layout.
    pub(crate) fn layout() -> Layout {
        let p = |s: &str| SafePath::parse(s).unwrap();
        Layout {
            bin_dir: p("/usr/bin"),
            config_dir: p("/etc/lgtm"),
            unit_dir: p("/etc/systemd/system"),
            state_dir: p("/var/lib/lgtm-agent"),
            data_root: p("/var/lib/lgtm"),
            sysusers_dir: p("/etc/sysusers.d"),
        }
    }

    #[test]
    fn paths() {
        let l = layout();
        let tempo_ingester = ProcessId::for_role("tempo:ingester".parse().unwrap());
        let mimir = ProcessId::for_role("mimir:querier".parse().unwrap());
        assert_eq!(l.config_file(mimir).as_str(), "/etc/lgtm/mimir/mimir.yaml");
        assert_eq!(
            l.config_file(tempo_ingester).as_str(),
            "/etc/lgtm/tempo/tempo-ingester.yaml"
        );
        assert_eq!(
            l.unit_file(tempo_ingester).as_str(),
            "/etc/systemd/system/lgtm-tempo-ingester.service"
        );
        assert_eq!(l.binary(Backend::Loki).as_str(), "/usr/bin/loki");
        assert_eq!(
            l.sysusers_file(Backend::Tempo).as_str(),
            "/etc/sysusers.d/lgtm-tempo.conf"
        );
        assert_eq!(
            l.restart_marker(mimir).as_str(),
            "/var/lib/lgtm-agent/restart-pending/lgtm-mimir.service"
        );
    }
}
