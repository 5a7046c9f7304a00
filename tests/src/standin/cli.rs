//! The stand-in's command line, parsed like Go's `flag` package parses the real binaries':
//! `-flag=value`, `-flag value`, `--flag=value`; booleans take no separate value; parsing
//! stops at the first non-flag argument or `--`; an unknown flag is an error (exit 2).

use lgtm_model::Backend;

/// What the invocation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run the service.
    Run,
    /// Validate the config, print the modules and exit (mimir `-modules`).
    Modules,
    /// Validate the config and exit (loki `-verify-config`, tempo `-config.verify`).
    Verify,
    /// Print the version and exit.
    Version,
    /// Print usage and exit 0.
    Help,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Which backend the stand-in answers as.
    pub backend: Backend,
    /// `-config.file`.
    pub config_file: Option<String>,
    /// `-config.expand-env`.
    pub expand_env: bool,
    /// `-target` as given.
    pub target: Option<String>,
    /// What to do.
    pub mode: Mode,
    /// `-server.http-listen-port`.
    pub http_port: Option<u16>,
    /// `-server.grpc-listen-port`.
    pub grpc_port: Option<u16>,
    /// `-memberlist.bind-port`.
    pub memberlist_port: Option<u16>,
    /// Arguments after the flags (ignored, as Go programs ignore them, but reported).
    pub positional: Vec<String>,
}

/// Why the command line was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error(
        "cannot tell which backend to answer as from {argv0:?}; run it as mimir, loki or tempo (a symlink or copy) or pass --as NAME"
    )]
    NoPersonality { argv0: String },
    #[error("invalid value {value:?} for --as: use mimir, loki or tempo")]
    BadPersonality { value: String },
    #[error("flag provided but not defined: -{0}")]
    Unknown(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid value {value:?} for flag -{flag}: {why}")]
    BadValue {
        flag: String,
        value: String,
        why: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Text,
    Port,
}

/// Flags every backend has.
const COMMON: &[(&str, Kind)] = &[
    ("config.file", Kind::Text),
    ("config.expand-env", Kind::Bool),
    ("target", Kind::Text),
    ("version", Kind::Bool),
    ("help", Kind::Bool),
    ("h", Kind::Bool),
    ("log.level", Kind::Text),
    ("log.format", Kind::Text),
    ("server.http-listen-port", Kind::Port),
    ("server.grpc-listen-port", Kind::Port),
    ("server.http-listen-address", Kind::Text),
    ("server.grpc-listen-address", Kind::Text),
    ("memberlist.bind-port", Kind::Port),
    ("memberlist.join", Kind::Text),
    ("shutdown-delay", Kind::Text),
];

fn backend_flags(backend: Backend) -> &'static [(&'static str, Kind)] {
    match backend {
        Backend::Mimir => &[
            ("modules", Kind::Bool),
            ("print.config", Kind::Bool),
            ("help-all", Kind::Bool),
            ("runtime-config.file", Kind::Text),
            ("auth.multitenancy-enabled", Kind::Bool),
        ],
        Backend::Loki => &[
            ("verify-config", Kind::Bool),
            ("print-config-stderr", Kind::Bool),
            ("log-config-reverse-order", Kind::Bool),
            ("list-targets", Kind::Bool),
            ("auth.enabled", Kind::Bool),
            ("runtime-config.file", Kind::Text),
        ],
        Backend::Tempo => &[
            ("config.verify", Kind::Bool),
            ("multitenancy.enabled", Kind::Bool),
            ("mutex-profile-fraction", Kind::Text),
            ("block-profile-threshold", Kind::Text),
        ],
    }
}

fn kind(backend: Backend, name: &str) -> Option<Kind> {
    COMMON
        .iter()
        .chain(backend_flags(backend))
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(flag: &str, value: &str) -> Result<bool, CliError> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(CliError::BadValue {
            flag: flag.to_owned(),
            value: value.to_owned(),
            why: "parse error".into(),
        }),
    }
}

/// The backend named by argv[0]'s basename or `--as NAME` (which is removed from `args`).
pub fn personality(argv0: &str, args: &mut Vec<String>) -> Result<Backend, CliError> {
    let pos = args.iter().position(|a| {
        matches!(a.as_str(), "--as" | "-as") || a.starts_with("--as=") || a.starts_with("-as=")
    });
    if let Some(i) = pos {
        let arg = args.remove(i);
        let value = match arg.split_once('=') {
            Some((_, v)) => v.to_owned(),
            None if i < args.len() => args.remove(i),
            None => return Err(CliError::MissingValue("as".into())),
        };
        return value
            .parse()
            .map_err(|_| CliError::BadPersonality { value });
    }
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    base.parse().map_err(|_| CliError::NoPersonality {
        argv0: argv0.to_owned(),
    })
}

/// Parses the arguments after argv[0] (with `--as` already removed) for `backend`.
pub fn parse(backend: Backend, args: &[String]) -> Result<Invocation, CliError> {
    let mut inv = Invocation {
        backend,
        config_file: None,
        expand_env: false,
        target: None,
        mode: Mode::Run,
        http_port: None,
        grpc_port: None,
        memberlist_port: None,
        positional: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            inv.positional.extend_from_slice(&args[i..]);
            break;
        }
        let Some(body) = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|b| !b.is_empty() && !b.starts_with('-') && !b.starts_with('='))
        else {
            inv.positional.extend_from_slice(&args[i - 1..]);
            break;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (body, None),
        };
        let kind = kind(backend, name).ok_or_else(|| CliError::Unknown(name.to_owned()))?;
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (_, Some(v)) => v,
            (_, None) => {
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| CliError::MissingValue(name.to_owned()))?;
                i += 1;
                v
            }
        };
        apply(&mut inv, name, kind, &value)?;
    }
    Ok(inv)
}

fn apply(inv: &mut Invocation, name: &str, kind: Kind, value: &str) -> Result<(), CliError> {
    let port = || {
        value.parse::<u16>().map_err(|_| CliError::BadValue {
            flag: name.to_owned(),
            value: value.to_owned(),
            why: "not a port number".into(),
        })
    };
    let on = || parse_bool(name, value);
    match name {
        "config.file" => inv.config_file = Some(value.to_owned()),
        "config.expand-env" => inv.expand_env = on()?,
        "target" => inv.target = Some(value.to_owned()),
        "server.http-listen-port" => inv.http_port = Some(port()?),
        "server.grpc-listen-port" => inv.grpc_port = Some(port()?),
        "memberlist.bind-port" => inv.memberlist_port = Some(port()?),
        "version" if on()? => inv.mode = Mode::Version,
        "help" | "h" | "help-all" if on()? => inv.mode = Mode::Help,
        "modules" if on()? => inv.mode = Mode::Modules,
        "verify-config" | "config.verify" if on()? => inv.mode = Mode::Verify,
        _ if kind == Kind::Bool => {
            on()?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn p(backend: Backend, s: &[&str]) -> Result<Invocation, CliError> {
        parse(backend, &args(s))
    }

    #[test]
    fn go_flag_forms() {
        for form in [
            &["-config.file=/c.yaml"][..],
            &["-config.file", "/c.yaml"],
            &["--config.file=/c.yaml"],
            &["--config.file", "/c.yaml"],
        ] {
            let inv = p(Backend::Mimir, form).unwrap();
            assert_eq!(inv.config_file.as_deref(), Some("/c.yaml"), "{form:?}");
        }
        let inv = p(
            Backend::Mimir,
            &["-config.expand-env", "-target=a,b", "-modules"],
        )
        .unwrap();
        assert!(inv.expand_env);
        assert_eq!(inv.target.as_deref(), Some("a,b"));
        assert_eq!(inv.mode, Mode::Modules);
        let inv = p(Backend::Mimir, &["-config.expand-env=false"]).unwrap();
        assert!(!inv.expand_env);
    }

    #[test]
    fn booleans_take_no_separate_value_and_parsing_stops_at_positionals() {
        // Tempo's `-config.verify /path` validates defaults: the path is positional.
        let inv = p(Backend::Tempo, &["-config.verify", "/etc/tempo.yaml"]).unwrap();
        assert_eq!(inv.mode, Mode::Verify);
        assert_eq!(inv.config_file, None);
        assert_eq!(inv.positional, ["/etc/tempo.yaml"]);
        let inv = p(Backend::Loki, &["-verify-config", "--", "-target=x"]).unwrap();
        assert_eq!(inv.target, None);
        assert_eq!(inv.positional, ["-target=x"]);
    }

    #[test]
    fn validate_only_flags_are_per_backend() {
        assert_eq!(
            p(Backend::Loki, &["-verify-config"]).unwrap().mode,
            Mode::Verify
        );
        assert_eq!(
            p(Backend::Tempo, &["-config.verify=true"]).unwrap().mode,
            Mode::Verify
        );
        assert_eq!(
            p(Backend::Mimir, &["-version"]).unwrap().mode,
            Mode::Version
        );
        assert_eq!(
            p(Backend::Loki, &["-modules"]),
            Err(CliError::Unknown("modules".into()))
        );
        assert_eq!(
            p(Backend::Mimir, &["-config.verify"]),
            Err(CliError::Unknown("config.verify".into()))
        );
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            p(Backend::Mimir, &["-nope=1"]).unwrap_err().to_string(),
            "flag provided but not defined: -nope"
        );
        assert_eq!(
            p(Backend::Mimir, &["-config.file"])
                .unwrap_err()
                .to_string(),
            "flag needs an argument: -config.file"
        );
        assert!(matches!(
            p(Backend::Mimir, &["-modules=maybe"]),
            Err(CliError::BadValue { .. })
        ));
        assert!(matches!(
            p(Backend::Mimir, &["-server.http-listen-port=99999"]),
            Err(CliError::BadValue { .. })
        ));
        assert_eq!(
            p(Backend::Mimir, &["-server.http-listen-port", "8081"])
                .unwrap()
                .http_port,
            Some(8081)
        );
    }

    #[test]
    fn personality_from_argv0_or_as() {
        let mut a = args(&["-target=all"]);
        assert_eq!(
            personality("/usr/local/lib/lgtm-lab/bin/mimir", &mut a),
            Ok(Backend::Mimir)
        );
        let mut a = args(&["--as", "tempo", "-target=all"]);
        assert_eq!(personality("lgtm-standin", &mut a), Ok(Backend::Tempo));
        assert_eq!(a, ["-target=all"]);
        let mut a = args(&["-as=loki"]);
        assert_eq!(personality("/x/lgtm-standin", &mut a), Ok(Backend::Loki));
        assert!(a.is_empty());
        let mut a = Vec::new();
        assert!(matches!(
            personality("lgtm-standin", &mut a),
            Err(CliError::NoPersonality { .. })
        ));
        let mut a = args(&["--as", "prometheus"]);
        assert!(matches!(
            personality("x", &mut a),
            Err(CliError::BadPersonality { .. })
        ));
    }
}
