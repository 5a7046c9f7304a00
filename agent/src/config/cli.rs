//! Command-line flags: every configuration key can be given as a flag, which wins over the file.

use clap::Parser;

use super::RawConfig;

/// lgtm-agent: runs this host's Mimir, Loki and Tempo processes under systemd, as the
/// coordinator says.
#[derive(Clone, Debug, Parser)]
#[command(name = "lgtm-agent", version, rename_all = "kebab-case")]
pub struct Args {
    /// Configuration file; must exist when given (default: /etc/lgtm/agent.toml if present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<String>,
    /// Check the configuration, print the settings and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Base URL of the coordinator, e.g. http://10.0.0.1:7700.
    #[arg(long, value_name = "URL")]
    pub coordinator: Option<String>,
    /// This host's name (default: the system hostname).
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// Address peers reach this host on (default: source address of the route to the coordinator).
    #[arg(long, value_name = "IP")]
    pub address: Option<String>,
    /// Directory of the mimir, loki and tempo binaries (default /usr/bin).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<String>,
    /// Directory under which backend data directories live (default /var/lib/lgtm).
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<String>,
    /// The agent's state directory (default /var/lib/lgtm-agent).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
    /// Root of backend config files (default /etc/lgtm).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<String>,
    /// Where unit files are written (default /etc/systemd/system).
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<String>,
    /// File holding a join token, used when this host has no credential yet.
    #[arg(long, value_name = "PATH")]
    pub join_token_file: Option<String>,
    /// The coordinator's CA certificate (its tls/ca.pem), the only CA trusted.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<String>,
    /// Seconds between heartbeat reports (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub heartbeat_seconds: Option<u64>,
    /// Where to serve Prometheus metrics (default 127.0.0.1:7701; `off`: nowhere).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
}

impl Args {
    /// The flags as a raw configuration layer.
    pub fn overrides(&self) -> RawConfig {
        RawConfig {
            coordinator: self.coordinator.clone(),
            host_name: self.host_name.clone(),
            address: self.address.clone(),
            bin_dir: self.bin_dir.clone(),
            data_root: self.data_root.clone(),
            state_dir: self.state_dir.clone(),
            config_dir: self.config_dir.clone(),
            unit_dir: self.unit_dir.clone(),
            join_token_file: self.join_token_file.clone(),
            ca_file: self.ca_file.clone(),
            heartbeat_seconds: self.heartbeat_seconds,
            metrics_listen: self.metrics_listen.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn two_flags_are_enough() {
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "lgtm-agent",
            "--coordinator",
            "http://c:7700",
            "--host-name",
            "h1",
        ])
        .unwrap();
        let raw = args.overrides();
        assert_eq!(raw.coordinator.as_deref(), Some("http://c:7700"));
        assert_eq!(raw.host_name.as_deref(), Some("h1"));
        assert!(super::super::Settings::validate(raw, None).is_ok());
    }
}
