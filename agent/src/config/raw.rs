//! Stage one of the configuration: raw values, every field optional.
//!
//! The same shape comes from `/etc/lgtm/agent.toml` and from command-line flags; flags are
//! merged over the file, then [`super::Settings::validate`] checks everything at once.

use serde::Deserialize;

/// Raw agent configuration: what the file or the flags said, unchecked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Base URL of the coordinator, `http://10.0.0.1:7700`.
    pub coordinator: Option<String>,
    /// This host's name (default: the system hostname).
    pub host_name: Option<String>,
    /// The address peers reach this host's backends on (default: the route to the coordinator).
    pub address: Option<String>,
    /// Directory holding the `mimir`, `loki` and `tempo` binaries (default `/usr/bin`).
    pub bin_dir: Option<String>,
    /// Directory under which backend data directories live (default `/var/lib/lgtm`).
    pub data_root: Option<String>,
    /// The agent's own state, the last applied desired state (default `/var/lib/lgtm-agent`).
    pub state_dir: Option<String>,
    /// Backend config files go to `<config_dir>/<backend>/` (default `/etc/lgtm`).
    pub config_dir: Option<String>,
    /// Where unit files are written (default `/etc/systemd/system`).
    pub unit_dir: Option<String>,
    /// File holding a join token (`lgtmctl join-token create`), used when this host has no credential yet.
    pub join_token_file: Option<String>,
    /// The coordinator's CA certificate (its `tls/ca.pem`), the only CA trusted.
    pub ca_file: Option<String>,
    /// Seconds between heartbeat reports (default 10).
    pub heartbeat_seconds: Option<u64>,
    /// Where the agent serves its Prometheus metrics (default `127.0.0.1:7701`; `off`: not).
    pub metrics_listen: Option<String>,
}

/// Why the configuration file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("failed to read config file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: String, message: String },
}

impl RawConfig {
    /// Parses TOML text; `path` only names the file in errors.
    pub fn from_toml(text: &str, path: &str) -> Result<RawConfig, ReadError> {
        toml::from_str(text).map_err(|e| {
            // toml's own Display draws the source over several lines; one line is enough.
            let message = e.message().trim().replace('\n', " ");
            let at = e.span().map(|s| {
                let start = s.start.min(text.len());
                let n = text[..start].matches('\n').count() + 1;
                let line = text.lines().nth(n - 1).unwrap_or("").trim();
                let shown: String = line.chars().filter(|c| !c.is_control()).take(80).collect();
                format!("line {n} ({shown}): ")
            });
            ReadError::Parse {
                path: path.to_owned(),
                message: format!("{}{message}", at.unwrap_or_default()),
            }
        })
    }

    /// Reads `path`; a missing file is an error only when `required`.
    pub fn read(path: &str, required: bool) -> Result<RawConfig, ReadError> {
        match std::fs::read_to_string(path) {
            Ok(text) => RawConfig::from_toml(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(RawConfig::default())
            }
            Err(source) => Err(ReadError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// `over`'s fields where set, else this one's.
    pub fn merge(self, over: RawConfig) -> RawConfig {
        RawConfig {
            coordinator: over.coordinator.or(self.coordinator),
            host_name: over.host_name.or(self.host_name),
            address: over.address.or(self.address),
            bin_dir: over.bin_dir.or(self.bin_dir),
            data_root: over.data_root.or(self.data_root),
            state_dir: over.state_dir.or(self.state_dir),
            config_dir: over.config_dir.or(self.config_dir),
            unit_dir: over.unit_dir.or(self.unit_dir),
            join_token_file: over.join_token_file.or(self.join_token_file),
            ca_file: over.ca_file.or(self.ca_file),
            heartbeat_seconds: over.heartbeat_seconds.or(self.heartbeat_seconds),
            metrics_listen: over.metrics_listen.or(self.metrics_listen),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let text = r#"
            coordinator = "http://10.0.0.1:7700"
            host_name = "host3"
            address = "10.0.0.3"
            bin_dir = "/usr/local/bin"
            data_root = "/srv/lgtm"
            state_dir = "/var/lib/lgtm-agent"
            config_dir = "/etc/lgtm"
            unit_dir = "/etc/systemd/system"
            join_token_file = "/etc/lgtm/agent.token"
            heartbeat_seconds = 5
        "#;
        let raw = RawConfig::from_toml(text, "agent.toml").unwrap();
        assert_eq!(raw.host_name.as_deref(), Some("host3"));
        assert_eq!(raw.heartbeat_seconds, Some(5));
        assert_eq!(
            raw.join_token_file.as_deref(),
            Some("/etc/lgtm/agent.token")
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = RawConfig::from_toml("coordinater = \"x\"", "/etc/lgtm/agent.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `coordinater`") && e.contains("/etc/lgtm/agent.toml"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e:?}");
        let e = RawConfig::from_toml("heartbeat_seconds = \"ten\"", "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1 (heartbeat_seconds = \"ten\")"), "{e}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = RawConfig {
            coordinator: Some("http://a:1".into()),
            bin_dir: Some("/opt/bin".into()),
            ..Default::default()
        };
        let flags = RawConfig {
            coordinator: Some("http://b:2".into()),
            ..Default::default()
        };
        let merged = file.merge(flags);
        assert_eq!(merged.coordinator.as_deref(), Some("http://b:2"));
        assert_eq!(merged.bin_dir.as_deref(), Some("/opt/bin"));
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        let path = path.to_str().unwrap();
        assert_eq!(RawConfig::read(path, false).unwrap(), RawConfig::default());
        let e = RawConfig::read(path, true).unwrap_err().to_string();
        assert!(e.contains(path), "{e}");
    }
}
