//! Errors of the lab harness: each names the step that failed and, where there is one, the fix.

use std::io;
use std::path::PathBuf;
use std::process::Output;

/// Why a lab step failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The machine cannot host a lab (not root, a tool missing, ...).
    #[error("lab unavailable: {0}")]
    Unavailable(String),
    /// A binary the lab runs was not built.
    #[error("{name} not found at {}; build it first with `{hint}`", path.display())]
    MissingBinary {
        name: String,
        path: PathBuf,
        hint: String,
    },
    /// A command exited unsuccessfully.
    #[error("failed to run `{command}`: {status}; stderr: {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// An I/O operation failed.
    #[error("failed to {what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// Something did not happen in time.
    #[error("timed out waiting for {what}{detail}")]
    Timeout { what: String, detail: String },
    /// Every lab slot (bridge name and subnet) is taken.
    #[error("no free lab slot: all 512 lab bridges are in use by live processes")]
    NoFreeSlot,
    /// A request or argument was refused before doing anything.
    #[error("invalid {what}: {why}")]
    Invalid { what: String, why: String },
    /// An HTTP exchange failed.
    #[error("failed to {what}: {why}")]
    Http { what: String, why: String },
}

impl LabError {
    /// An I/O error with the step it interrupted.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }

    /// A failed command, from its argv and output.
    pub fn command(argv: &[String], out: &Output) -> LabError {
        LabError::Command {
            command: argv.join(" "),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        }
    }
}
