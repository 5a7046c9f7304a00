//! Every way a command can fail, and the exit code each one maps to.
//!
//! Exit codes are part of the CLI's contract (scripts branch on them) and are listed in
//! `lgtmctl --help`; [`EXIT_CODES`] is that text.

use std::time::Duration;

use crate::client::ClientError;

/// The exit-code section of `lgtmctl --help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the coordinator rejected the request, or a waited-for unit failed
  2  usage error (bad arguments)
  3  the coordinator could not be reached
  4  wait timed out";

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{}", client_message(.0))]
    Client(#[from] ClientError),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    WaitFailed(String),
    #[error("timed out after {} waiting for {host}; last seen: {last}", show_duration(*.waited))]
    WaitTimeout {
        host: String,
        waited: Duration,
        last: String,
    },
    #[error("{source}")]
    Hinted {
        source: Box<CtlError>,
        hint: &'static str,
    },
    #[error("failed to {what}: {cause}")]
    Io {
        what: &'static str,
        cause: std::io::Error,
    },
}

impl CtlError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Client(ClientError::Unreachable { .. }) => 3,
            CtlError::Usage(_) => 2,
            CtlError::WaitTimeout { .. } => 4,
            CtlError::Hinted { source, .. } => source.exit_code(),
            CtlError::Client(_)
            | CtlError::Rejected(_)
            | CtlError::WaitFailed(_)
            | CtlError::Io { .. } => 1,
        }
    }

    /// A hint printed after the error, when there is a well-known fix.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CtlError::Hinted { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

/// The client's error, with what an operator can do when the coordinator is not reached.
fn client_message(e: &ClientError) -> String {
    match e {
        ClientError::Unreachable { .. } => format!(
            "{e}; start it, or point lgtmctl elsewhere with --coordinator URL or LGTM_COORDINATOR=URL; for a certificate error, pin the coordinator's CA with --ca-file (its tls/ca.pem)"
        ),
        e => e.to_string(),
    }
}

/// `2m`, `1m30s`, `45s`, `500ms`: the way durations are written on the command line.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_flags() {
        let cases = [
            (120_000, "2m"),
            (90_000, "1m30s"),
            (45_000, "45s"),
            (250, "250ms"),
        ];
        for (ms, want) in cases {
            assert_eq!(show_duration(Duration::from_millis(ms)), want);
        }
    }
}
