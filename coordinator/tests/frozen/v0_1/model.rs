//! The model types the 0.1 wire types name, as a 0.1 client reads them: only their JSON
//! shapes and the checks a 0.1 client makes when it parses an answer (host name rules, role
//! names of the 0.1 catalog, backend names). Written by hand at the freeze; never edited.

/// `lgtm_model::names` at 0.1.
pub mod names {
    use std::fmt;
    use std::str::FromStr;

    use serde::{Deserialize, Serialize};

    /// A host name per RFC 1123.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(try_from = "String", into = "String")]
    pub struct HostName(String);

    impl FromStr for HostName {
        type Err = String;

        fn from_str(s: &str) -> Result<Self, Self::Err> {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if s.is_empty() || s.len() > 253 || !s.split('.').all(label_ok) {
                return Err(format!("bad host name {s:?}"));
            }
            Ok(HostName(s.to_ascii_lowercase()))
        }
    }

    impl TryFrom<String> for HostName {
        type Error = String;

        fn try_from(s: String) -> Result<Self, Self::Error> {
            s.parse()
        }
    }

    impl From<HostName> for String {
        fn from(h: HostName) -> String {
            h.0
        }
    }

    impl fmt::Display for HostName {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    /// A backend.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Backend {
        Mimir,
        Loki,
        Tempo,
    }
}

/// `lgtm_model::catalog` at 0.1: a role is one of [`ROLES`].
pub mod catalog {
    use std::str::FromStr;

    use serde::{Deserialize, Serialize};

    /// Every role of the 0.1 catalog, as `grep -n '^pub static\|^        [a-z]*("\|name: "'
    /// model/src/catalog.rs` listed them (targets, meta-roles), and each backend's gateway.
    pub const ROLES: &[&str] = &[
        "mimir:distributor",
        "mimir:ingester",
        "mimir:querier",
        "mimir:query-frontend",
        "mimir:query-scheduler",
        "mimir:store-gateway",
        "mimir:compactor",
        "mimir:ruler",
        "mimir:alertmanager",
        "mimir:overrides-exporter",
        "mimir:flusher",
        "mimir:all",
        "mimir:read",
        "mimir:write",
        "mimir:backend",
        "mimir:gateway",
        "loki:distributor",
        "loki:ingester",
        "loki:querier",
        "loki:query-frontend",
        "loki:query-scheduler",
        "loki:compactor",
        "loki:index-gateway",
        "loki:ruler",
        "loki:pattern-ingester",
        "loki:all",
        "loki:read",
        "loki:write",
        "loki:backend",
        "loki:gateway",
        "tempo:distributor",
        "tempo:ingester",
        "tempo:querier",
        "tempo:query-frontend",
        "tempo:compactor",
        "tempo:metrics-generator",
        "tempo:all",
        "tempo:gateway",
    ];

    /// A role, `backend:name`; a 0.1 client refuses names its catalog does not have.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(try_from = "String", into = "String")]
    pub struct Role(String);

    impl FromStr for Role {
        type Err = String;

        fn from_str(s: &str) -> Result<Self, Self::Err> {
            match ROLES.contains(&s) {
                true => Ok(Role(s.to_owned())),
                false => Err(format!("unknown role '{s}'")),
            }
        }
    }

    impl TryFrom<String> for Role {
        type Error = String;

        fn try_from(s: String) -> Result<Self, Self::Error> {
            s.parse()
        }
    }

    impl From<Role> for String {
        fn from(r: Role) -> String {
            r.0
        }
    }
}

/// `lgtm_model::process` at 0.1.
pub mod process {
    use serde::{Deserialize, Serialize};

    use super::catalog::Role;
    use super::names::Backend;

    /// The ports one process listens on.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Ports {
        pub http: u16,
        pub grpc: u16,
        pub memberlist: u16,
    }

    /// One backend process.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub struct ProcessId {
        pub backend: Backend,
        pub role: Option<Role>,
    }
}

/// `lgtm_model::consistency` at 0.1.
pub mod consistency {
    use serde::{Deserialize, Serialize};

    use super::catalog::Role;
    use super::names::Backend;

    /// What assigning a role did.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "outcome", rename_all = "snake_case")]
    pub enum AssignOutcome {
        Added,
        AlreadyAssigned,
    }

    /// Replication of one replicated target.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Replication {
        pub role: Role,
        pub hosts: usize,
        pub factor: u8,
    }

    /// The verdict on one backend.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BackendConsistency {
        pub backend: Backend,
        pub deployed: bool,
        pub consistent: bool,
        pub missing: Vec<Role>,
        pub replication: Vec<Replication>,
        pub warnings: Vec<String>,
    }
}
