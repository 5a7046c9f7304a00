//! The version skew rule between the coordinator and its clients (agents, `lgtmctl`).
//!
//! Operators upgrade the coordinator and a fleet of agents at different times, so a client
//! works with a coordinator of the same major version whose minor version is at most one
//! apart: coordinator 0.5 serves agents and `lgtmctl` 0.4, 0.5 and 0.6. Requests carry the
//! client's version in [`HEADER`], answers the coordinator's; a request from outside the rule
//! is refused with both versions named. Within the rule, answers may carry fields a client
//! does not know (see [`crate::wire`]).

use std::fmt;

/// The HTTP header carrying the sender's version, on requests and on answers.
pub const HEADER: &str = "lgtm-version";

/// This build's version (every lgtm program of one release has the same).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The part of a version the rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major version: never mixed.
    pub major: u64,
    /// Minor version: one apart at most.
    pub minor: u64,
}

impl Version {
    /// Reads `MAJOR.MINOR.PATCH`, with any pre-release or build suffix (`0.1.0-rc1+abc`).
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let number = |p: Option<&str>| p?.parse::<u64>().ok();
        let version = Version {
            major: number(parts.next())?,
            minor: number(parts.next())?,
        };
        number(parts.next())?;
        parts.next().is_none().then_some(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a client and the coordinator cannot work together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkewError {
    /// The client's version does not read as one.
    #[error("client version {0:?} is not MAJOR.MINOR.PATCH; send lgtm-version as e.g. 0.1.0")]
    Unreadable(String),
    /// Too far apart.
    #[error(
        "client version {client} and coordinator version {coordinator} are too far apart: clients work with a coordinator of the same major version and at most one minor version apart; upgrade the {older} to {newer}"
    )]
    TooFar {
        /// The client's version, as sent.
        client: String,
        /// The coordinator's version.
        coordinator: String,
        /// Which of the two to upgrade.
        older: &'static str,
        /// The version series to upgrade it to.
        newer: String,
    },
}

/// Whether a client of version `client` may work with coordinator version `coordinator`.
pub fn check(client: &str, coordinator: &str) -> Result<(), SkewError> {
    let unreadable = || SkewError::Unreadable(client.to_owned());
    let c = Version::parse(client).ok_or_else(unreadable)?;
    // The coordinator's own version is this build's: a test passes other ones.
    let s = Version::parse(coordinator).ok_or_else(unreadable)?;
    if c.major == s.major && c.minor.abs_diff(s.minor) <= 1 {
        return Ok(());
    }
    let client_older = (c.major, c.minor) < (s.major, s.minor);
    let (older, newer) = if client_older {
        ("client", s)
    } else {
        ("coordinator", c)
    };
    Err(SkewError::TooFar {
        client: client.to_owned(),
        coordinator: coordinator.to_owned(),
        older,
        newer: format!("{newer}.x"),
    })
}

/// What to do about an answer this build cannot read, from the version the coordinator said.
pub fn unreadable(coordinator: Option<&str>) -> String {
    let this = Version::parse(VERSION).expect("this build's version reads");
    match coordinator.map(|text| (text, Version::parse(text))) {
        Some((text, Some(c))) if (c.major, c.minor) > (this.major, this.minor) => {
            format!("the coordinator runs lgtm {text}: upgrade this program to {c}.x")
        }
        Some((text, _)) => format!(
            "the coordinator runs lgtm {text:?}, not newer than this program: a defect, please report it with the answer"
        ),
        None => format!(
            "the answer does not say its version ({HEADER} header): is the address an lgtm coordinator, not a proxy's page?"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_with_or_without_suffixes() {
        let v = |major, minor| Some(Version { major, minor });
        for (text, want) in [
            ("0.1.0", v(0, 1)),
            ("1.12.3", v(1, 12)),
            ("0.1.0-test", v(0, 1)),
            ("2.0.1-rc.1+build.5", v(2, 0)),
            ("0.1", None),
            ("0.1.0.0", None),
            ("a.b.c", None),
            ("", None),
            (" 0.1.0", None),
        ] {
            assert_eq!(Version::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn one_minor_version_apart_at_most_within_one_major() {
        for (client, coordinator, ok) in [
            ("0.5.0", "0.5.0", true),
            ("0.4.9", "0.5.0", true),
            ("0.6.0-rc1", "0.5.3", true),
            ("0.3.0", "0.5.0", false),
            ("0.7.0", "0.5.0", false),
            ("1.5.0", "0.5.0", false),
            ("0.5.0", "1.5.0", false),
        ] {
            assert_eq!(
                check(client, coordinator).is_ok(),
                ok,
                "{client} with {coordinator}"
            );
        }
    }

    #[test]
    fn an_unreadable_answer_says_whom_to_upgrade() {
        let this = Version::parse(VERSION).expect("reads");
        let newer = format!("{}.{}.0", this.major, this.minor + 1);
        for (coordinator, want) in [
            (
                Some(newer.as_str()),
                format!(
                    "upgrade this program to {}.{}.x",
                    this.major,
                    this.minor + 1
                ),
            ),
            (Some(VERSION), "a defect".to_owned()),
            (Some("banana"), r#"lgtm "banana""#.to_owned()),
            (None, "lgtm-version header".to_owned()),
        ] {
            let advice = unreadable(coordinator);
            assert!(advice.contains(&want), "{coordinator:?}: {advice}");
        }
    }

    #[test]
    fn refusals_name_both_versions_and_what_to_upgrade() {
        let old = check("0.3.1", "0.5.0").unwrap_err().to_string();
        assert!(
            old.contains("client version 0.3.1 and coordinator version 0.5.0")
                && old.contains("upgrade the client to 0.5.x"),
            "{old}"
        );
        let new = check("0.7.0", "0.5.0").unwrap_err().to_string();
        assert!(new.contains("upgrade the coordinator to 0.7.x"), "{new}");
        let bad = check("0.1.0\n", "0.1.0").unwrap_err().to_string();
        assert!(bad.contains(r#""0.1.0\n""#), "{bad}");
    }
}
