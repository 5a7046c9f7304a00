//! The command line: clap types only, parsed into plain values before anything runs.

use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use lgtm_client::Url;
use lgtm_model::{Backend, HostName};

use crate::error::EXIT_CODES;

/// Where lgtmctl looks for the coordinator unless told otherwise.
pub const DEFAULT_COORDINATOR: &str = "https://127.0.0.1:7700";

/// What waiting prints and how it exits, for the commands that wait.
const WAIT_EXIT: &str = "\
Waiting (--wait, or `lgtmctl wait`) polls the cluster status until the host's agent reports
the change applied, every unit of the host's roles active and its backend ready (/ready
answers 200; until it does, the backend's own reason is shown), and a removed role's unit
gone. On a terminal a progress line shows on stderr. Exits 0 when done, 1 when a unit or
action failed (its error is printed), 4 when the timeout passed.";

/// Operate an lgtm cluster (Mimir, Loki and Tempo on systemd hosts) through its coordinator.
#[derive(Debug, Parser)]
#[command(name = "lgtmctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The coordinator's URL.
    #[arg(
        long,
        global = true,
        env = "LGTM_COORDINATOR",
        default_value = DEFAULT_COORDINATOR,
        value_parser = parse_url,
        value_name = "URL"
    )]
    pub coordinator: Url,
    /// File holding the credential to send [default: LGTM_TOKEN if set, else
    /// /var/lib/lgtm-coordinator/credentials/admin.token if readable]
    #[arg(long, global = true, env = "LGTM_CREDENTIALS", value_name = "FILE")]
    pub credentials: Option<std::path::PathBuf>,
    /// The coordinator's CA certificate to trust (pinned: no other CA is)
    /// [default: /var/lib/lgtm-coordinator/tls/ca.pem if readable]
    #[arg(long, global = true, env = "LGTM_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Output format: tables for people, the API's JSON for programs.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned text.
    Table,
    /// The coordinator's JSON answer, pretty-printed.
    Json,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Assign a role (ingester, mimir:ingester, a meta-role such as write) to a host.
    #[command(after_help = WAIT_EXIT)]
    AssignRole(AssignRole),
    /// Remove a role from a host; a ring member it removes (ingester, ...) first flushes and
    /// leaves its ring, through the rollout.
    #[command(after_help = WAIT_EXIT)]
    UnassignRole(UnassignRole),
    /// Take a host out of service: unassign its roles (of one backend), its ring members
    /// first flushing and leaving their rings, one at a time per ring.
    #[command(after_help = WAIT_EXIT)]
    Drain(Drain),
    /// Place a backend's roles anew in one change, staged (switch between `all`,
    /// read/write/backend and per-role processes): new processes start first, old ring
    /// members flush and leave once the new ones are healthy, and a new process clashing
    /// with an old one on its host starts once that one is gone.
    Switch(Switch),
    /// List hosts and their roles (desired state).
    Hosts,
    /// Show or remove one host.
    #[command(subcommand)]
    Host(HostCommand),
    /// Cluster status: backend verdicts and roles (desired), agents and units (reported).
    Status,
    /// Read and change cluster and backend settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create or revoke join tokens, with which agents join and get their host's credential.
    #[command(subcommand)]
    JoinToken(JoinTokenCommand),
    /// Wait until a host's agent applied its desired state and its backends are ready.
    #[command(after_help = WAIT_EXIT)]
    Wait(Wait),
    /// Follow, pause or resume the rollout that restarts processes after a change, one ring
    /// member at a time.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// `rollout ...`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Which processes restart now, which wait for their turn, and whether it is paused.
    Status,
    /// Permit no further restart until `rollout resume` (restarts in flight finish).
    Pause {
        /// Why, shown in the status.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Permit restarts again after a pause; restarts in flight get a fresh deadline.
    Resume,
    /// Undo the changes being rolled out: roles and settings go back to what they were when
    /// the rollout was last idle, processes not restarted yet keep running as they are, those
    /// already restarted restart back one at a time; a pause ends.
    Abort {
        #[command(flatten)]
        plan: PlanFlags,
    },
}

/// `join-token`.
#[derive(Debug, Subcommand)]
pub enum JoinTokenCommand {
    /// Create a join token; it is printed once, with its id and expiry.
    Create {
        /// How long it stays valid (e.g. 30m, 1h, 24h; at most 7 days).
        #[arg(long, value_parser = parse_duration, default_value = "1h", value_name = "DURATION")]
        ttl: Duration,
    },
    /// Revoke a join token by its id; hosts that joined with it keep their credentials.
    Revoke {
        /// The id printed by `join-token create`.
        id: String,
    },
}

/// `assign-role`.
#[derive(Debug, Args)]
pub struct AssignRole {
    /// The host.
    pub host: HostName,
    /// The role: `ingester` (in the default backend), `mimir:ingester`, `write`, `all`.
    pub role: String,
    /// Backend of an unqualified role: mimir, loki or tempo (default: the cluster's default).
    #[arg(long, short = 'b')]
    pub backend: Option<Backend>,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
}

/// `unassign-role`.
#[derive(Debug, Args)]
pub struct UnassignRole {
    /// The host.
    pub host: HostName,
    /// The role, as it was assigned.
    pub role: String,
    /// Backend of an unqualified role: mimir, loki or tempo (default: the cluster's default).
    #[arg(long, short = 'b')]
    pub backend: Option<Backend>,
    /// Stop a ring member at once, without flushing it and taking it out of its ring first,
    /// even when its ring would keep too few ready members to accept writes.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
}

/// `drain`.
#[derive(Debug, Args)]
pub struct Drain {
    /// The host.
    pub host: HostName,
    /// Only this backend's roles: mimir, loki or tempo (default: every role).
    #[arg(long, short = 'b')]
    pub backend: Option<Backend>,
    /// Stop its ring members at once, without flushing them (also ends a drain under way),
    /// even when a ring would keep too few ready members to accept writes.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub wait: WaitFlags,
}

/// `switch`.
#[derive(Debug, Args)]
pub struct Switch {
    /// The backend: mimir, loki or tempo.
    pub backend: Backend,
    /// HOST=ROLE[,ROLE...] for every host that runs the backend afterwards (e.g.
    /// host1=write,read,backend); hosts not named lose the backend's roles, gateways stay.
    #[arg(required = true, value_name = "HOST=ROLES", value_parser = parse_placement)]
    pub hosts: Vec<(HostName, Vec<String>)>,
    /// Wait until the switch is through: every host of the backend applied it, runs its roles
    /// active and ready, and no longer runs what it lost (old ring members once drained).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits for all of it (e.g. 10m, 1h).
    #[arg(long, value_parser = parse_duration, default_value = "10m", value_name = "DURATION")]
    pub timeout: Duration,
    #[command(flatten)]
    pub plan: PlanFlags,
}

/// `HOST=ROLE[,ROLE...]`.
pub fn parse_placement(s: &str) -> Result<(HostName, Vec<String>), String> {
    let (host, roles) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: give HOST=ROLE[,ROLE...], e.g. host1=write,read,backend"))?;
    let host: HostName = host.parse().map_err(|e| format!("{e}"))?;
    let roles: Vec<String> = roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if roles.is_empty() {
        return Err(format!("{s:?}: name at least one role after '='"));
    }
    Ok((host, roles))
}

/// `--dry-run` and `--check-index` of every changing command.
#[derive(Clone, Copy, Debug, Args)]
pub struct PlanFlags {
    /// Show what the change would do (per host config diffs with secrets redacted, which
    /// processes restart or drain in which order, replication and consistency after it)
    /// without changing anything.
    #[arg(long, conflicts_with = "check_index")]
    pub dry_run: bool,
    /// Apply the change only if no other change to hosts, roles or settings came since this
    /// intent index (the one a dry run printed).
    #[arg(long, value_name = "N")]
    pub check_index: Option<u64>,
}

/// `--wait` and `--timeout` of the commands that change a host.
#[derive(Clone, Copy, Debug, Args)]
pub struct WaitFlags {
    /// Wait until the host's agent applied the change.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 90s, 2m, 1m30s).
    #[arg(long, value_parser = parse_duration, default_value = "2m", value_name = "DURATION")]
    pub timeout: Duration,
}

/// `host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// List hosts (same as `lgtmctl hosts`).
    List,
    /// Show one host: roles (desired), agent, units (reported).
    Show {
        /// The host.
        name: HostName,
    },
    /// Forget a host. One that still has roles is drained first (its ring members flush and
    /// leave their rings) and removed once its agent stopped them.
    Remove {
        /// The host.
        name: HostName,
        /// Remove it at once with its roles, without a drain.
        #[arg(long)]
        force: bool,
        /// How long to wait for the drain (e.g. 10m, 1h).
        #[arg(long, value_parser = parse_duration, default_value = "10m", value_name = "DURATION")]
        timeout: Duration,
        #[command(flatten)]
        plan: PlanFlags,
    },
}

/// `config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show settings (all, or one key); secrets only show whether they are set.
    Get {
        /// A dotted key, e.g. mimir.storage.s3.bucket.
        key: Option<String>,
    },
    /// Change one setting.
    Set(ConfigSet),
    /// Show the configs a host runs once the rollout is through with it (every backend, or one), secret values redacted.
    Rendered {
        /// The host.
        host: HostName,
        /// Only this backend's processes.
        backend: Option<Backend>,
    },
}

/// `config set`.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("source").required(true).args(["value", "from_stdin", "from_file"])),
    override_usage = "lgtmctl config set [OPTIONS] <KEY> <VALUE|--from-stdin|--from-file PATH>"
)]
pub struct ConfigSet {
    /// A dotted key, e.g. mimir.log_level.
    pub key: String,
    /// The new value; empty clears an optional setting. Secrets take --from-stdin instead.
    pub value: Option<String>,
    /// Read the value from standard input (not echoed on a terminal): the way to set secrets.
    #[arg(long)]
    pub from_stdin: bool,
    /// Read the value from a file: the way to set multi-line values such as mimir.overrides.
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<std::path::PathBuf>,
    /// Move the storage of a backend that runs on hosts anyway (its storage kind, S3
    /// endpoint or bucket): what it stored stays where it was, and it starts empty.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub plan: PlanFlags,
}

/// `wait`.
#[derive(Debug, Args)]
pub struct Wait {
    /// The host.
    pub host: HostName,
    /// The index to reach (default: the host's current desired index).
    #[arg(long)]
    pub index: Option<u64>,
    /// How long to wait (e.g. 90s, 2m, 1m30s).
    #[arg(long, value_parser = parse_duration, default_value = "2m", value_name = "DURATION")]
    pub timeout: Duration,
}

/// Accepts `http(s)://host[:port][/prefix]`, or `host:port` meaning plain HTTP.
pub fn parse_url(s: &str) -> Result<Url, String> {
    let with_scheme = if s.contains("://") {
        s.to_owned()
    } else {
        format!("http://{s}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| format!("'{s}' is not a URL ({e}); give one like http://127.0.0.1:7700"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "'{s}' is not an http(s) URL; give one like http://127.0.0.1:7700"
        ));
    }
    Ok(url)
}

/// Parses `90s`, `2m`, `1m30s`, `1h`, `500ms` (a bare number means seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("'{s}' is not a duration; write it like 90s, 2m or 1m30s");
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(unit);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        let ok = [
            ("2m", 120_000),
            ("90s", 90_000),
            ("1m30s", 90_000),
            ("1h", 3_600_000),
            ("500ms", 500),
            ("15", 15_000),
        ];
        for (input, ms) in ok {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_millis(ms)),
                "{input}"
            );
        }
        for bad in ["", "m", "2x", "1.5m", "-3s", "s2"] {
            let e = parse_duration(bad).expect_err("must be refused");
            assert!(e.contains("90s, 2m or 1m30s"), "{bad}: {e}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("127.0.0.1:7700").map(String::from),
            Ok("http://127.0.0.1:7700/".to_owned())
        );
        assert!(parse_url("https://coord.example/lgtm").is_ok());
        assert!(
            parse_url("ftp://x")
                .expect_err("must be refused")
                .contains("not an http(s) URL")
        );
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn the_documented_form_parses() {
        let cli =
            Cli::try_parse_from(["lgtmctl", "assign-role", "host3", "ingester"]).expect("parses");
        match cli.command {
            Command::AssignRole(a) => {
                assert_eq!(a.host.as_str(), "host3");
                assert_eq!(a.role, "ingester");
                assert_eq!(a.backend, None);
                assert!(!a.wait.wait);
            }
            other => panic!("parsed as {other:?}"),
        }
        let e = Cli::try_parse_from(["lgtmctl", "assign-role", "bad_host", "ingester"])
            .expect_err("must be refused")
            .to_string();
        assert!(e.contains("RFC 1123"), "{e}");
        let e = Cli::try_parse_from(["lgtmctl", "config", "set", "cluster.name"])
            .expect_err("must be refused")
            .to_string();
        assert!(e.contains("--from-stdin"), "{e}");
    }
}
