//! The agent's configuration: `/etc/lgtm/agent.toml` merged with flags, then validated.
//!
//! Three stages: [`RawConfig`] (every field optional, unknown keys refused), the merge of
//! flags over the file, and [`Settings`] (typed, checked, defaults applied). Validation
//! reports every problem at once.

mod cli;
mod raw;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lgtm_model::HostName;
use reqwest::Url;

pub use cli::Args;
pub use raw::{RawConfig, ReadError};

use crate::safe_path::SafePath;

/// Where the configuration file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/lgtm/agent.toml";

/// Validated agent settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Base URL of the coordinator, without a trailing slash.
    pub coordinator: Url,
    /// This host's name.
    pub host_name: HostName,
    /// Address to register; `None`: the source address of the route to the coordinator.
    pub address: Option<IpAddr>,
    /// Directory of the backend binaries.
    pub bin_dir: SafePath,
    /// Directory under which data directories live.
    pub data_root: SafePath,
    /// The agent's own state.
    pub state_dir: SafePath,
    /// Root of the backend config files.
    pub config_dir: SafePath,
    /// Where unit files are written.
    pub unit_dir: SafePath,
    /// File holding a join token, used when this host has no credential yet.
    pub join_token_file: Option<SafePath>,
    /// The coordinator's CA certificate, the only CA trusted when set.
    pub ca_file: Option<SafePath>,
    /// Interval of heartbeat reports.
    pub heartbeat: Duration,
    /// Where Prometheus metrics are served; `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Where the agent serves its metrics unless told otherwise: this host only.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:7701";

/// Every problem found in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid agent configuration: {}", self.0.join("; "))
    }
}

impl std::error::Error for ConfigErrors {}

impl Settings {
    /// Checks `raw`; `system_hostname` is the default host name.
    pub fn validate(
        raw: RawConfig,
        system_hostname: Option<&str>,
    ) -> Result<Settings, ConfigErrors> {
        let mut errors = Vec::new();
        let coordinator = match raw.coordinator.as_deref() {
            None => {
                errors.push(
                    "the coordinator URL is not set; set coordinator = \"https://HOST:PORT\" in \
                     /etc/lgtm/agent.toml or pass --coordinator"
                        .to_owned(),
                );
                None
            }
            Some(s) => coordinator_url(s).map_err(|e| errors.push(e)).ok(),
        };
        let host_name = match raw.host_name.as_deref().or(system_hostname) {
            None => {
                errors.push(
                    "the system hostname is unknown; set host_name in /etc/lgtm/agent.toml or pass --host-name"
                        .to_owned(),
                );
                None
            }
            Some(s) => s
                .parse::<HostName>()
                .map_err(|e| errors.push(format!("host_name: {e}")))
                .ok(),
        };
        let address = raw.address.as_deref().and_then(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| {
                    errors.push(format!(
                        "address '{}' is not an IP address; give one such as 10.0.0.3, or leave it out",
                        s.escape_debug()
                    ))
                })
                .ok()
        });
        // Some(None): not set; None: invalid (the error is recorded).
        let mut path = |key: &str, value: Option<String>| match value {
            None => Some(None),
            Some(v) => SafePath::parse(&v)
                .map(Some)
                .map_err(|e| errors.push(format!("{key}: {e}")))
                .ok(),
        };
        let or = |value: Option<String>, default: &str| value.or_else(|| Some(default.to_owned()));
        let bin_dir = path("bin_dir", or(raw.bin_dir, "/usr/bin")).flatten();
        let data_root = path("data_root", or(raw.data_root, "/var/lib/lgtm")).flatten();
        let state_dir = path("state_dir", or(raw.state_dir, "/var/lib/lgtm-agent")).flatten();
        let config_dir = path("config_dir", or(raw.config_dir, "/etc/lgtm")).flatten();
        let unit_dir = path("unit_dir", or(raw.unit_dir, "/etc/systemd/system")).flatten();
        let join_token_file = path("join_token_file", raw.join_token_file);
        let ca_file = path("ca_file", raw.ca_file);
        let heartbeat = match raw.heartbeat_seconds.unwrap_or(10) {
            s @ 1..=3600 => Some(Duration::from_secs(s)),
            s => {
                errors.push(format!(
                    "heartbeat_seconds is {s}; give a value from 1 to 3600"
                ));
                None
            }
        };
        let metrics_listen = match raw.metrics_listen.as_deref().unwrap_or(DEFAULT_METRICS_LISTEN) {
            "off" => Some(None),
            a => a
                .parse::<SocketAddr>()
                .map(Some)
                .map_err(|_| {
                    errors.push(format!(
                        "metrics_listen '{}' is not an address and port; give one such as {DEFAULT_METRICS_LISTEN}, or \"off\"",
                        a.escape_debug()
                    ))
                })
                .ok(),
        };
        match (
            coordinator,
            host_name,
            bin_dir,
            data_root,
            state_dir,
            config_dir,
            unit_dir,
            join_token_file,
            ca_file,
            heartbeat,
            metrics_listen,
        ) {
            (
                Some(coordinator),
                Some(host_name),
                Some(bin_dir),
                Some(data_root),
                Some(state_dir),
                Some(config_dir),
                Some(unit_dir),
                Some(join_token_file),
                Some(ca_file),
                Some(heartbeat),
                Some(metrics_listen),
            ) if errors.is_empty() => Ok(Settings {
                coordinator,
                host_name,
                address,
                bin_dir,
                data_root,
                state_dir,
                config_dir,
                unit_dir,
                join_token_file,
                ca_file,
                heartbeat,
                metrics_listen,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }
}

impl fmt::Display for Settings {
    /// The effective configuration, as `agent.toml` would say it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "coordinator = \"{}\"", self.coordinator)?;
        writeln!(f, "host_name = \"{}\"", self.host_name)?;
        match self.address {
            Some(a) => writeln!(f, "address = \"{a}\"")?,
            None => writeln!(
                f,
                "# address: the source address of the route to the coordinator"
            )?,
        }
        for (key, path) in [
            ("bin_dir", &self.bin_dir),
            ("data_root", &self.data_root),
            ("state_dir", &self.state_dir),
            ("config_dir", &self.config_dir),
            ("unit_dir", &self.unit_dir),
        ] {
            writeln!(f, "{key} = \"{path}\"")?;
        }
        if let Some(c) = &self.join_token_file {
            writeln!(f, "join_token_file = \"{c}\"")?;
        }
        if let Some(c) = &self.ca_file {
            writeln!(f, "ca_file = \"{c}\"")?;
        }
        writeln!(f, "heartbeat_seconds = {}", self.heartbeat.as_secs())?;
        match self.metrics_listen {
            Some(a) => writeln!(f, "metrics_listen = \"{a}\""),
            None => writeln!(f, "metrics_listen = \"off\""),
        }
    }
}

fn coordinator_url(s: &str) -> Result<Url, String> {
    let shown = s.escape_debug();
    let url = Url::parse(s).map_err(|e| {
        format!(
            "coordinator URL '{shown}' is invalid ({e}); give one such as https://10.0.0.1:7700"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "coordinator URL '{shown}' must be http:// or https:// with a host, such as https://10.0.0.1:7700"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "coordinator URL '{shown}' must not carry a query, fragment or user; give scheme://host:port"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> RawConfig {
        RawConfig {
            coordinator: Some("http://10.0.0.1:7700".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let s = Settings::validate(minimal(), Some("Host3")).unwrap();
        assert_eq!(s.host_name.as_str(), "host3");
        assert_eq!(s.bin_dir.as_str(), "/usr/bin");
        assert_eq!(s.data_root.as_str(), "/var/lib/lgtm");
        assert_eq!(s.state_dir.as_str(), "/var/lib/lgtm-agent");
        assert_eq!(s.config_dir.as_str(), "/etc/lgtm");
        assert_eq!(s.unit_dir.as_str(), "/etc/systemd/system");
        assert_eq!(s.heartbeat, Duration::from_secs(10));
        assert_eq!(s.address, None);
        assert_eq!(s.join_token_file, None);
    }

    #[test]
    fn display_round_trips() {
        let raw = RawConfig {
            address: Some("10.0.0.3".into()),
            join_token_file: Some("/etc/lgtm/token".into()),
            ..minimal()
        };
        let s = Settings::validate(raw, Some("h1")).unwrap();
        let text = s.to_string();
        let again = Settings::validate(RawConfig::from_toml(&text, "x").unwrap(), None).unwrap();
        assert_eq!(again, s, "{text}");
    }

    #[test]
    fn flag_host_name_overrides_the_system() {
        let raw = RawConfig {
            host_name: Some("h9".into()),
            ..minimal()
        };
        let s = Settings::validate(raw, Some("ignored")).unwrap();
        assert_eq!(s.host_name.as_str(), "h9");
    }

    #[test]
    fn every_error_at_once() {
        let raw = RawConfig {
            coordinator: None,
            host_name: Some("bad_host".into()),
            address: Some("10.0.0".into()),
            bin_dir: Some("usr/bin".into()),
            data_root: Some("/var/lib/%n".into()),
            unit_dir: Some("/etc/systemd/system\nExecStartPre=/bin/sh".into()),
            join_token_file: Some("token".into()),
            heartbeat_seconds: Some(0),
            ..Default::default()
        };
        let e = Settings::validate(raw, None).unwrap_err();
        let text = e.to_string();
        for want in [
            "coordinator URL is not set",
            "host_name: host name 'bad_host'",
            "address '10.0.0'",
            "bin_dir: path 'usr/bin' is not absolute",
            "data_root: path '/var/lib/%n' contains '%'",
            "unit_dir: path",
            "join_token_file: path 'token'",
            "heartbeat_seconds is 0",
        ] {
            assert!(text.contains(want), "missing {want:?} in {text}");
        }
        assert_eq!(e.0.len(), 8, "{e:?}");
        assert!(!text.contains('\n'), "{text:?}");
    }

    #[test]
    fn coordinator_urls() {
        for ok in [
            "http://10.0.0.1:7700",
            "https://coord.example.com",
            "http://[::1]:7700/",
        ] {
            let raw = RawConfig {
                coordinator: Some(ok.into()),
                ..Default::default()
            };
            assert!(Settings::validate(raw, Some("h")).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.1:7700",
            "ftp://x",
            "http://x/?a=b",
            "http://u:p@x",
            "nope",
        ] {
            let raw = RawConfig {
                coordinator: Some(bad.into()),
                ..Default::default()
            };
            let e = Settings::validate(raw, Some("h")).unwrap_err().to_string();
            assert!(e.contains("coordinator URL"), "{bad}: {e}");
        }
    }
}
