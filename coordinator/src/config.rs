//! Configuration in stages: the TOML file and the command line each give a [`RawConfig`]
//! (every field optional), flags override the file, and [`validate`] turns the result into a
//! [`Config`], reporting every problem at once.
//!
//! The file is `/etc/lgtm/coordinator.toml`, read only if it exists; `--config PATH` names
//! another, which must exist. No file at all is fine: every field has a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG: &str = "/etc/lgtm/coordinator.toml";
/// Default listen address: loopback only, until an operator opens it up.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";
/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/lgtm-coordinator";
/// Default seconds without a report before a host is stale.
pub const DEFAULT_HOST_TTL_SECONDS: u64 = 30;

/// Command-line flags; each overrides the same key of the config file.
#[derive(Clone, Debug, Default, Parser)]
#[command(
    name = "lgtm-coordinator",
    version,
    about = "lgtm coordinator: cluster state, desired state for agents, status, HTTP API"
)]
pub struct Flags {
    /// Config file; must exist when given [default: /etc/lgtm/coordinator.toml, if it exists]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7700]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory of the state database [default: /var/lib/lgtm-coordinator]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Seconds without a report before a host counts as stale [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub host_ttl_seconds: Option<u64>,
    /// A setup step instead of serving.
    #[command(subcommand)]
    pub command: Option<Setup>,
}

/// Setup steps.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Setup {
    /// Create the CA and the server certificate in <state-dir>/tls/ (the first start does it
    /// too); the certificate names localhost, 127.0.0.1, ::1, this machine's name, the listen
    /// address and every --san and tls_sans.
    Init {
        /// One more DNS name or IP address the certificate is valid for (repeatable).
        #[arg(long, value_name = "NAME")]
        san: Vec<String>,
    },
}

/// One layer of configuration: the file, or the flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Listen address, `ip:port`.
    pub listen: Option<String>,
    /// State directory.
    pub state_dir: Option<PathBuf>,
    /// Seconds without a report before a host is stale.
    pub host_ttl_seconds: Option<u64>,
    /// More names the TLS certificate is valid for, as clients reach the coordinator.
    pub tls_sans: Option<Vec<String>>,
}

/// Validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// State directory.
    pub state_dir: PathBuf,
    /// A host is stale after this long without a report.
    pub host_ttl: Duration,
    /// More names for the TLS certificate.
    pub tls_sans: Vec<String>,
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read config file {path}")]
    Read {
        /// The file.
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, naming the key and line.
        message: String,
    },
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl From<&Flags> for RawConfig {
    fn from(f: &Flags) -> RawConfig {
        RawConfig {
            listen: f.listen.clone(),
            state_dir: f.state_dir.clone(),
            host_ttl_seconds: f.host_ttl_seconds,
            tls_sans: match &f.command {
                Some(Setup::Init { san }) if !san.is_empty() => Some(san.clone()),
                _ => None,
            },
        }
    }
}

/// Parses a config file's text.
pub fn parse(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

/// `top` over `base`, key by key.
pub fn merge(base: RawConfig, top: RawConfig) -> RawConfig {
    RawConfig {
        listen: top.listen.or(base.listen),
        state_dir: top.state_dir.or(base.state_dir),
        host_ttl_seconds: top.host_ttl_seconds.or(base.host_ttl_seconds),
        tls_sans: match (base.tls_sans, top.tls_sans) {
            (Some(mut b), Some(t)) => {
                b.extend(t);
                Some(b)
            }
            (b, t) => t.or(b),
        },
    }
}

/// Fills defaults and checks every field, reporting all problems together.
pub fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
        problems.push(format!(
            "listen '{}' is not an ip:port address such as 127.0.0.1:7700 or [::]:7700",
            listen_text.escape_debug()
        ))
    });
    let state_dir = raw.state_dir.unwrap_or_else(|| DEFAULT_STATE_DIR.into());
    if state_dir.as_os_str().is_empty() {
        problems
            .push("state_dir is empty; give a directory such as /var/lib/lgtm-coordinator".into());
    }
    let ttl = raw.host_ttl_seconds.unwrap_or(DEFAULT_HOST_TTL_SECONDS);
    if !(1..=86_400).contains(&ttl) {
        problems.push(format!(
            "host_ttl_seconds {ttl} is out of range; use 1 to 86400"
        ));
    }
    for san in raw.tls_sans.iter().flatten() {
        let ok = !san.is_empty()
            && san
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'));
        if !ok {
            problems.push(format!(
                "tls_sans entry '{}' is not a DNS name or IP address; give names such as lgtm.example.com or 10.0.0.1",
                san.escape_debug()
            ));
        }
    }
    match listen {
        Ok(listen) if problems.is_empty() => Ok(Config {
            listen,
            state_dir,
            host_ttl: Duration::from_secs(ttl),
            tls_sans: raw.tls_sans.unwrap_or_default(),
        }),
        _ => Err(ConfigError::Invalid(problems)),
    }
}

/// Reads the config file (if any), applies the flags and validates.
pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
    let (path, required) = match &flags.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, &path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => RawConfig::default(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    validate(merge(file, RawConfig::from(flags)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let c = validate(RawConfig::default()).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(c.host_ttl, Duration::from_secs(30));
    }

    #[test]
    fn flags_override_the_file_key_by_key() {
        let file = parse(
            "listen = \"0.0.0.0:7700\"\nhost_ttl_seconds = 60\n",
            Path::new("f"),
        )
        .unwrap();
        let flags = Flags::try_parse_from([
            "lgtm-coordinator",
            "--listen",
            "127.0.0.1:9",
            "--state-dir",
            "/tmp/x",
        ])
        .unwrap();
        let c = validate(merge(file, RawConfig::from(&flags))).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9".parse().unwrap());
        assert_eq!(c.state_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.host_ttl, Duration::from_secs(60));
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse(
            "listen = \"127.0.0.1:1\"\nstate_dri = \"/x\"\n",
            Path::new("/etc/lgtm/coordinator.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("state_dri") && e.contains("/etc/lgtm/coordinator.toml"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let raw = RawConfig {
            listen: Some("localhost".into()),
            state_dir: Some(PathBuf::new()),
            host_ttl_seconds: Some(0),
            tls_sans: Some(vec!["ok.example".into(), "bad name\n".into()]),
        };
        let e = validate(raw).unwrap_err().to_string();
        for want in [
            "listen 'localhost'",
            "state_dir is empty",
            "host_ttl_seconds 0",
            "tls_sans entry 'bad name\\n'",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn an_explicit_config_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let flags = Flags {
            config: Some(dir.path().join("missing.toml")),
            ..Flags::default()
        };
        assert!(matches!(load(&flags), Err(ConfigError::Read { .. })));
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "host_ttl_seconds = 5\n").unwrap();
        let flags = Flags {
            config: Some(path),
            host_ttl_seconds: Some(7),
            ..Flags::default()
        };
        assert_eq!(load(&flags).unwrap().host_ttl, Duration::from_secs(7));
    }
}
