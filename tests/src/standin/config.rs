//! The stand-in's config: read, env-expanded, parsed and checked like the real binaries check
//! theirs (strict YAML: an unknown key refuses to start), then the few values it acts on.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use lgtm_model::Backend;
use lgtm_model::upstream::ProblemKind;
use serde_json::Value;

use super::cli::Invocation;
use super::expand::expand;

/// Why the config was refused; messages follow the real binaries' wording.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error loading config from {file}: open {file}: {why}")]
    Read { file: String, why: String },
    #[error("error loading config from {file}: yaml: {why}")]
    Yaml { file: String, why: String },
    #[error("error loading config from {file}: yaml: unmarshal errors:\n{}", lines(.problems))]
    Unmarshal { file: String, problems: Vec<String> },
    #[error("invalid config: {key}: {why}")]
    Value { key: String, why: String },
}

fn lines(problems: &[String]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A loaded, checked config.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file's text after env expansion (served on `/config`).
    pub text: String,
    /// The parsed YAML.
    pub value: Value,
}

/// Reads and checks `-config.file` (defaults only when none is given).
pub fn load(inv: &Invocation) -> Result<Config, ConfigError> {
    let Some(file) = inv.config_file.as_deref() else {
        return Ok(Config {
            text: String::new(),
            value: Value::Object(Default::default()),
        });
    };
    let raw = fs::read_to_string(file).map_err(|e| ConfigError::Read {
        file: file.to_owned(),
        why: e.to_string(),
    })?;
    let text = if inv.expand_env {
        expand(inv.backend, &raw, |k| std::env::var(k).ok())
    } else {
        raw
    };
    let value = parse(inv.backend, file, &text)?;
    Ok(Config { text, value })
}

/// Parses and checks config text.
pub fn parse(backend: Backend, file: &str, text: &str) -> Result<Value, ConfigError> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
        file: file.to_owned(),
        why: e.to_string(),
    })?;
    let value = match value {
        Value::Null => Value::Object(Default::default()),
        Value::Object(_) => value,
        _ => {
            return Err(ConfigError::Yaml {
                file: file.to_owned(),
                why: "the document is not a mapping of keys".into(),
            });
        }
    };
    let problems = problems(backend, &value);
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(ConfigError::Unmarshal {
            file: file.to_owned(),
            problems,
        })
    }
}

/// Unknown keys and wrongly typed values, one message each, per upstream's key references.
fn problems(backend: Backend, value: &Value) -> Vec<String> {
    lgtm_model::upstream::check(backend, value)
        .iter()
        .map(|p| match p.kind {
            // Go's wording, with the whole path: the leaf alone is ambiguous in big configs.
            ProblemKind::Unknown => {
                let leaf = p.path.rsplit('.').next().unwrap_or(&p.path);
                format!("field {leaf} not found: {p}")
            }
            _ => p.to_string(),
        })
        .collect()
}

/// The addresses the process listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// HTTP API.
    pub http: SocketAddr,
    /// gRPC (accept only).
    pub grpc: SocketAddr,
    /// memberlist, TCP and UDP.
    pub memberlist: SocketAddr,
    /// Tempo's OTLP gRPC receiver, when enabled on a distributor.
    pub otlp_grpc: Option<SocketAddr>,
    /// Tempo's OTLP HTTP receiver, when enabled on a distributor.
    pub otlp_http: Option<SocketAddr>,
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn port(v: &Value, path: &[&str], flag: Option<u16>, default: u16) -> Result<u16, ConfigError> {
    if let Some(p) = flag {
        return Ok(p);
    }
    match at(v, path) {
        None | Some(Value::Null) => Ok(default),
        Some(p) => p
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| ConfigError::Value {
                key: path.join("."),
                why: format!("{p} is not a port number"),
            }),
    }
}

fn addr(v: &Value, path: &[&str]) -> Result<IpAddr, ConfigError> {
    match at(v, path) {
        Some(Value::String(s)) if !s.is_empty() => s.parse().map_err(|_| ConfigError::Value {
            key: path.join("."),
            why: format!("{s:?} is not an IP address"),
        }),
        // memberlist.bind_addr is a list; the stand-in binds the first.
        Some(Value::Array(a)) if !a.is_empty() => addr(&a[0], &[]),
        _ => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    }
}

/// The first `instance_addr` anywhere in the config: the address rings show the process at.
pub fn instance_addr(v: &Value) -> Option<IpAddr> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("instance_addr", Value::String(s)) => s.parse().ok(),
            _ => instance_addr(v),
        }),
        Value::Array(a) => a.iter().find_map(instance_addr),
        _ => None,
    }
}

/// The backend's default HTTP port.
pub fn default_http_port(backend: Backend) -> u16 {
    match backend {
        Backend::Mimir => 8080,
        Backend::Loki => 3100,
        Backend::Tempo => 3200,
    }
}

/// Where to listen, from the config and the port flags; OTLP only when `modules` include a
/// distributor and the config enables the receiver.
pub fn listen(inv: &Invocation, v: &Value, modules: &[String]) -> Result<Listen, ConfigError> {
    let http_port = port(
        v,
        &["server", "http_listen_port"],
        inv.http_port,
        default_http_port(inv.backend),
    )?;
    let grpc_port = port(v, &["server", "grpc_listen_port"], inv.grpc_port, 9095)?;
    let ml_port = port(v, &["memberlist", "bind_port"], inv.memberlist_port, 7946)?;
    let receiver = |proto: &str, default: u16| -> Result<Option<SocketAddr>, ConfigError> {
        let distributor = modules.iter().any(|m| m == "distributor");
        let path = ["distributor", "receivers", "otlp", "protocols", proto];
        let Some(cfg) = at(v, &path).filter(|_| inv.backend == Backend::Tempo && distributor)
        else {
            return Ok(None);
        };
        let endpoint = cfg.get("endpoint").and_then(Value::as_str).unwrap_or("");
        Ok(Some(endpoint_addr(endpoint, default).map_err(|why| {
            ConfigError::Value {
                key: format!("{}.endpoint", path.join(".")),
                why,
            }
        })?))
    };
    Ok(Listen {
        http: SocketAddr::new(addr(v, &["server", "http_listen_address"])?, http_port),
        grpc: SocketAddr::new(addr(v, &["server", "grpc_listen_address"])?, grpc_port),
        memberlist: SocketAddr::new(addr(v, &["memberlist", "bind_addr"])?, ml_port),
        otlp_grpc: receiver("grpc", 4317)?,
        otlp_http: receiver("http", 4318)?,
    })
}

/// An OTel receiver endpoint `host:port` (empty: all addresses on the default port).
fn endpoint_addr(endpoint: &str, default: u16) -> Result<SocketAddr, String> {
    if endpoint.is_empty() {
        return Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, default)));
    }
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("{endpoint:?} is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{endpoint:?} has no valid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse()
            .map_err(|_| format!("{endpoint:?}: the stand-in takes IP addresses only"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// `target` from the config file, used when no `-target` flag is given.
pub fn config_target(v: &Value) -> Option<String> {
    match v.get("target")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standin::cli::parse as parse_cli;

    fn inv(backend: Backend, args: &[&str]) -> Invocation {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_cli(backend, &args).unwrap()
    }

    #[test]
    fn rings_show_the_instance_address() {
        let v: Value = serde_json::json!({
            "server": {"grpc_listen_port": 9095},
            "ingester": {"ring": {"instance_addr": "198.18.0.2"}},
        });
        assert_eq!(instance_addr(&v), Some("198.18.0.2".parse().unwrap()));
        assert_eq!(instance_addr(&serde_json::json!({"server": {}})), None);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse(Backend::Mimir, "/c.yaml", "server: {}\nnot_a_key: 1\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("error loading config from /c.yaml"),
            "{text}"
        );
        assert!(text.contains("not_a_key"), "{text}");
    }

    #[test]
    fn malformed_yaml_is_refused() {
        let e = parse(Backend::Loki, "/c.yaml", "server: [unclosed\n").unwrap_err();
        assert!(matches!(e, ConfigError::Yaml { .. }), "{e}");
        assert!(parse(Backend::Loki, "/c.yaml", "- a list\n").is_err());
        assert!(
            parse(Backend::Loki, "/c.yaml", "").is_ok(),
            "an empty file means defaults"
        );
    }

    #[test]
    fn ports_from_config_then_flags_then_defaults() {
        let v = parse(
            Backend::Mimir,
            "c",
            "server: {http_listen_port: 8081, grpc_listen_port: 9097}\n",
        )
        .unwrap();
        let l = listen(&inv(Backend::Mimir, &[]), &v, &[]).unwrap();
        assert_eq!(
            (l.http.port(), l.grpc.port(), l.memberlist.port()),
            (8081, 9097, 7946)
        );
        let l = listen(
            &inv(Backend::Mimir, &["-server.http-listen-port=9000"]),
            &v,
            &[],
        )
        .unwrap();
        assert_eq!(l.http.port(), 9000);
        let v = parse(Backend::Loki, "c", "").unwrap();
        assert_eq!(
            listen(&inv(Backend::Loki, &[]), &v, &[])
                .unwrap()
                .http
                .port(),
            3100
        );
        let v = parse(Backend::Mimir, "c", "server: {http_listen_port: 70000}\n").unwrap();
        assert!(listen(&inv(Backend::Mimir, &[]), &v, &[]).is_err());
    }

    #[test]
    fn otlp_receivers_only_on_tempo_distributors() {
        let text = "distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc: {endpoint: \"0.0.0.0:4317\"}\n        http:\n";
        let v = parse(Backend::Tempo, "c", text).unwrap();
        let t = inv(Backend::Tempo, &[]);
        let dist = ["distributor".to_owned()];
        let l = listen(&t, &v, &dist).unwrap();
        assert_eq!(l.otlp_grpc, Some("0.0.0.0:4317".parse().unwrap()));
        assert_eq!(l.otlp_http, Some("0.0.0.0:4318".parse().unwrap()));
        let l = listen(&t, &v, &["ingester".to_owned()]).unwrap();
        assert_eq!((l.otlp_grpc, l.otlp_http), (None, None));
    }

    #[test]
    fn target_from_config() {
        let v = parse(Backend::Mimir, "c", "target: write\n").unwrap();
        assert_eq!(config_target(&v).as_deref(), Some("write"));
    }
}
