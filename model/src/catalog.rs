//! The role catalog: every role of every backend, as static data.
//!
//! A *target* is an upstream `-target` module (`ingester`); a *meta-role* names a group of
//! targets (`write`). Sources: Mimir `pkg/mimir/modules.go`, Loki 3.x `pkg/loki/modules.go`,
//! Tempo 2.x `cmd/tempo/app/modules.go`, and Canonical's COS coordinators for the minimal sets.
//! A new upstream generation (Tempo 3's Kafka architecture) is another [`BackendCatalog`] value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::{Backend, BackendError};
use crate::suggest::did_you_mean;

/// How a backend's roles map onto processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessModel {
    /// All roles of the backend on a host run in one process (`-target=a,b`).
    Shared,
    /// Each role runs in a process of its own (`-target` takes exactly one module).
    OnePerRole,
    /// A host runs one process per meta-role group: the targets of `write`, `read` and
    /// `backend` each in their own process (with their own ports), `all` in one process.
    ///
    /// Loki decides how its index store behaves from the first matching target of the
    /// process (`pkg/loki/modules.go`, `initStore`): an ingester sharing a process with a
    /// querier or ruler makes that querier read only its own host's index. Upstream's
    /// simple-scalable mode keeps read, write and backend apart for that reason.
    Grouped,
}

/// An upstream `-target` module.
#[derive(Debug)]
pub struct TargetSpec {
    /// Upstream module name.
    pub name: &'static str,
    /// Holds data on local disk: never moved automatically, restarts roll host by host.
    pub stateful: bool,
    /// What its ring replicates; the factor follows the number of hosts carrying it.
    pub replication: Replicated,
    /// The meta-role whose process runs it under [`ProcessModel::Grouped`].
    pub group: &'static str,
}

/// What a replicated ring protects, which decides how bad a replication factor of 1 is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replicated {
    /// Not replicated.
    No,
    /// Data that exists nowhere else yet (ingesters): losing a host loses it.
    Data,
    /// Service over data kept in object storage: losing a host interrupts it.
    Service,
}

/// A named group of targets.
#[derive(Debug)]
pub struct MetaSpec {
    /// The name operators assign (`write`, `all`).
    pub name: &'static str,
    /// What is passed to `-target` for it (Tempo's `all` runs as `scalable-single-binary`).
    pub target: &'static str,
    /// The targets it runs.
    pub expands: &'static [&'static str],
}

/// Everything lgtm knows about one backend generation.
#[derive(Debug)]
pub struct BackendCatalog {
    /// Which backend.
    pub backend: Backend,
    /// The upstream release line these facts were taken from.
    pub upstream: &'static str,
    /// Processes per host.
    pub process_model: ProcessModel,
    /// Targets, in display order.
    pub targets: &'static [TargetSpec],
    /// Meta-roles and their expansion.
    pub meta_roles: &'static [MetaSpec],
    /// Targets that must run on at least one host for the backend to work.
    pub required: &'static [&'static str],
    /// Upstream targets lgtm deliberately does not run, with the reason an operator is told.
    pub not_offered: &'static [(&'static str, &'static str)],
}

const fn t(name: &'static str, stateful: bool, replication: Replicated) -> TargetSpec {
    TargetSpec {
        name,
        stateful,
        replication,
        group: "",
    }
}

/// A target of a [`ProcessModel::Grouped`] backend, run by the process of meta-role `group`.
const fn g(
    name: &'static str,
    stateful: bool,
    replication: Replicated,
    group: &'static str,
) -> TargetSpec {
    TargetSpec {
        name,
        stateful,
        replication,
        group,
    }
}

/// Mimir 2.x (classic architecture, before ingest storage).
pub static MIMIR: BackendCatalog = BackendCatalog {
    backend: Backend::Mimir,
    upstream: "Mimir 2.x",
    process_model: ProcessModel::Shared,
    targets: &[
        t("distributor", false, Replicated::No),
        t("ingester", true, Replicated::Data),
        t("querier", false, Replicated::No),
        t("query-frontend", false, Replicated::No),
        t("query-scheduler", false, Replicated::No),
        t("store-gateway", true, Replicated::Service),
        t("compactor", true, Replicated::No),
        t("ruler", false, Replicated::No),
        t("alertmanager", true, Replicated::Service),
        t("overrides-exporter", false, Replicated::No),
        t("flusher", false, Replicated::No),
    ],
    meta_roles: &[
        // Mimir's own groups; `all` leaves out alertmanager and overrides-exporter upstream.
        MetaSpec {
            name: "all",
            target: "all",
            expands: &[
                "compactor",
                "distributor",
                "ingester",
                "querier",
                "query-frontend",
                "query-scheduler",
                "ruler",
                "store-gateway",
            ],
        },
        MetaSpec {
            name: "read",
            target: "read",
            expands: &["query-frontend", "querier"],
        },
        MetaSpec {
            name: "write",
            target: "write",
            expands: &["distributor", "ingester"],
        },
        MetaSpec {
            name: "backend",
            target: "backend",
            expands: &[
                "alertmanager",
                "compactor",
                "overrides-exporter",
                "query-scheduler",
                "ruler",
                "store-gateway",
            ],
        },
    ],
    // Mimir's documented minimum plus the ruler, as Canonical's coordinator requires it.
    required: &[
        "compactor",
        "distributor",
        "ingester",
        "querier",
        "query-frontend",
        "ruler",
        "store-gateway",
    ],
    not_offered: &[],
};

/// Why Loki's bloom targets are not offered.
const BLOOM: &str = "blooms are experimental upstream, and with them enabled (planner and gateway addresses wired, filtering on) queries through real Loki 3.7.6 timed out in lgtm's tests";

/// Loki 3.x: simple-scalable meta-roles and microservice targets.
pub static LOKI: BackendCatalog = BackendCatalog {
    backend: Backend::Loki,
    upstream: "Loki 3.x",
    process_model: ProcessModel::Grouped,
    // Groups as upstream's simple-scalable targets run them (`pkg/loki/loki.go`).
    targets: &[
        g("distributor", false, Replicated::No, "write"),
        g("ingester", true, Replicated::Data, "write"),
        g("querier", false, Replicated::No, "read"),
        g("query-frontend", false, Replicated::No, "read"),
        g("query-scheduler", false, Replicated::No, "backend"),
        g("compactor", true, Replicated::No, "backend"),
        // Its ring's replication factor is a matter of read availability, decided when
        // rendering (see `render::loki`), not a copy of the data.
        g("index-gateway", true, Replicated::No, "backend"),
        g("ruler", false, Replicated::No, "backend"),
        g("pattern-ingester", true, Replicated::No, "write"),
    ],
    meta_roles: &[
        // Loki's `all` does not run the index gateway; `backend` does.
        MetaSpec {
            name: "all",
            target: "all",
            expands: &[
                "compactor",
                "distributor",
                "ingester",
                "querier",
                "query-frontend",
                "query-scheduler",
                "ruler",
            ],
        },
        MetaSpec {
            name: "read",
            target: "read",
            expands: &["query-frontend", "querier"],
        },
        // Upstream's `all` and `write` load the pattern ingester too, but it runs only when
        // enabled (off by default), and lgtm enables it only when assigned: with it on, every
        // distributor tees pushes to it, and Loki 3.7.6 may build that tee before the tenant
        // configs it reads (neither depends on the other in `pkg/loki/modules.go`; dskit's
        // module manager orders such modules by map iteration, so at random), then crashes on
        // its first push (nil pointer in `TenantConfigs.LogPushRequestStreams`; seen in a
        // rolling restart).
        MetaSpec {
            name: "write",
            target: "write",
            expands: &["distributor", "ingester"],
        },
        // Upstream's `backend` also loads the bloom modules, which do nothing until enabled.
        MetaSpec {
            name: "backend",
            target: "backend",
            expands: &["compactor", "index-gateway", "query-scheduler", "ruler"],
        },
    ],
    // read + write + backend (Canonical's minimal set) covers exactly these.
    required: &[
        "compactor",
        "distributor",
        "ingester",
        "querier",
        "query-frontend",
    ],
    not_offered: &[
        ("bloom-planner", BLOOM),
        ("bloom-builder", BLOOM),
        ("bloom-gateway", BLOOM),
        (
            "overrides-exporter",
            "it exports per-tenant overrides from a runtime config file, which lgtm does not manage, and Loki refuses to start it without one",
        ),
    ],
};

/// Tempo 2.x: the ingester architecture, one target per process.
pub static TEMPO: BackendCatalog = BackendCatalog {
    backend: Backend::Tempo,
    upstream: "Tempo 2.x",
    process_model: ProcessModel::OnePerRole,
    targets: &[
        t("distributor", false, Replicated::No),
        t("ingester", true, Replicated::Data),
        t("querier", false, Replicated::No),
        t("query-frontend", false, Replicated::No),
        t("compactor", false, Replicated::No),
        t("metrics-generator", true, Replicated::No),
    ],
    meta_roles: &[
        // Tempo's `all` pins every ring in memory; `scalable-single-binary` clusters.
        MetaSpec {
            name: "all",
            target: "scalable-single-binary",
            expands: &[
                "compactor",
                "distributor",
                "ingester",
                "metrics-generator",
                "querier",
                "query-frontend",
            ],
        },
    ],
    // metrics-generator is optional: it only runs with a remote-write target.
    required: &[
        "compactor",
        "distributor",
        "ingester",
        "querier",
        "query-frontend",
    ],
    not_offered: &[],
};

/// The gateway role of every backend: nginx in front of the backend's workers on that host.
///
/// Not an upstream target and not a backend process: it is not required, holds no state,
/// is not replicated, and its hosts run one `lgtm-gateway.service` for all their gateways.
pub const GATEWAY: &str = "gateway";

/// The catalog in force for a backend.
pub fn catalog(backend: Backend) -> &'static BackendCatalog {
    match backend {
        Backend::Mimir => &MIMIR,
        Backend::Loki => &LOKI,
        Backend::Tempo => &TEMPO,
    }
}

/// A role of one backend, known to be in the catalog: a target or a meta-role.
///
/// Serialized as `backend:name` (`mimir:ingester`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Role {
    backend: Backend,
    name: &'static str,
}

/// Why a role was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("unknown role '{input}' for {backend}{hint}")]
    Unknown {
        input: String,
        backend: Backend,
        hint: String,
    },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("role '{input}' names backend {named} but --backend says {flag}; drop one of them")]
    Conflict {
        input: String,
        named: Backend,
        flag: Backend,
    },
    #[error("role is empty; give a role such as 'ingester' or 'mimir:ingester'")]
    Empty,
    #[error("{backend}:{role} is an upstream target lgtm does not offer: {why}")]
    NotOffered {
        role: &'static str,
        backend: Backend,
        why: &'static str,
    },
}

impl BackendCatalog {
    /// Looks a role up by its unqualified name.
    pub fn role(&'static self, name: &str) -> Result<Role, RoleError> {
        self.names()
            .find(|n| *n == name)
            .map(|n| Role {
                backend: self.backend,
                name: n,
            })
            .ok_or_else(|| match self.not_offered.iter().find(|(n, _)| *n == name) {
                Some((n, why)) => RoleError::NotOffered {
                    role: n,
                    backend: self.backend,
                    why,
                },
                None => RoleError::Unknown {
                    input: name.escape_debug().to_string(),
                    backend: self.backend,
                    hint: did_you_mean(name, self.names()),
                },
            })
    }

    /// Every role name: targets, then meta-roles, then the gateway.
    pub fn names(&'static self) -> impl Iterator<Item = &'static str> + Clone {
        let targets = self.targets.iter().map(|t| t.name);
        let metas = targets.chain(self.meta_roles.iter().map(|m| m.name));
        metas.chain(std::iter::once(GATEWAY))
    }

    /// The gateway role of this backend.
    pub fn gateway(&'static self) -> Role {
        Role {
            backend: self.backend,
            name: GATEWAY,
        }
    }

    /// Every role: targets, then meta-roles, then the gateway.
    pub fn roles(&'static self) -> impl Iterator<Item = Role> {
        self.names().map(|name| Role {
            backend: self.backend,
            name,
        })
    }

    fn target(&self, name: &str) -> Option<&'static TargetSpec> {
        // The statics live forever; re-borrow through the backend to get `'static`.
        catalog(self.backend)
            .targets
            .iter()
            .find(|t| t.name == name)
    }

    fn meta(&self, name: &str) -> Option<&'static MetaSpec> {
        catalog(self.backend)
            .meta_roles
            .iter()
            .find(|m| m.name == name)
    }
}

impl Role {
    /// Parses `name` or `backend:name`; an unqualified name belongs to `explicit`, else `default`.
    pub fn resolve(
        input: &str,
        explicit: Option<Backend>,
        default: Backend,
    ) -> Result<Role, RoleError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(RoleError::Empty);
        }
        match input.split_once(':') {
            Some((backend, name)) => {
                let named: Backend = backend.parse()?;
                if let Some(flag) = explicit.filter(|f| *f != named) {
                    return Err(RoleError::Conflict {
                        input: input.to_owned(),
                        named,
                        flag,
                    });
                }
                catalog(named).role(name)
            }
            None => catalog(explicit.unwrap_or(default)).role(input),
        }
    }

    /// The backend this role belongs to.
    pub fn backend(self) -> Backend {
        self.backend
    }

    /// The unqualified name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The backend's catalog.
    pub fn catalog(self) -> &'static BackendCatalog {
        catalog(self.backend)
    }

    /// Whether this is the backend's gateway (nginx), not a backend process role.
    pub fn is_gateway(self) -> bool {
        self.name == GATEWAY
    }

    /// Whether this is a meta-role.
    pub fn is_meta(self) -> bool {
        self.catalog().meta(self.name).is_some()
    }

    /// The value passed to `-target` for this role.
    pub fn upstream_target(self) -> &'static str {
        self.catalog()
            .meta(self.name)
            .map_or(self.name, |m| m.target)
    }

    /// The targets this role runs: itself for a target, the expansion for a meta-role.
    pub fn expand(self) -> Vec<Role> {
        match self.catalog().meta(self.name) {
            Some(m) => m
                .expands
                .iter()
                .map(|n| Role {
                    backend: self.backend,
                    name: n,
                })
                .collect(),
            None => vec![self],
        }
    }

    /// Whether any target this role runs holds data on local disk.
    pub fn is_stateful(self) -> bool {
        self.expand()
            .iter()
            .any(|r| r.spec().is_some_and(|t| t.stateful))
    }

    /// Whether any target this role runs holds data that exists nowhere else yet (an
    /// ingester), which it flushes when it stops.
    pub fn flushes_on_stop(self) -> bool {
        self.expand()
            .iter()
            .any(|r| r.replicated() == Replicated::Data)
    }

    /// Whether this is a replicated target.
    pub fn is_replicated(self) -> bool {
        self.replicated() != Replicated::No
    }

    /// What this target's ring replicates.
    pub fn replicated(self) -> Replicated {
        self.spec().map_or(Replicated::No, |t| t.replication)
    }

    /// Under [`ProcessModel::Grouped`], the meta-role whose process runs this role: a group
    /// meta-role runs in its own process, a target in its group's; `None` for `all`, which
    /// runs every target in one process.
    pub fn group(self) -> Option<Role> {
        let name = match self.spec() {
            Some(t) => t.group,
            None if self.name == "all" => return None,
            None => self.name,
        };
        Some(Role {
            backend: self.backend,
            name: self.catalog().meta(name).map_or(self.name, |m| m.name),
        })
    }

    /// Whether this target is required for a consistent backend.
    pub fn is_required(self) -> bool {
        self.catalog().required.contains(&self.name)
    }

    fn spec(self) -> Option<&'static TargetSpec> {
        self.catalog().target(self.name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.backend, self.name)
    }
}

impl FromStr for Role {
    type Err = RoleError;

    /// Parses the qualified form `backend:name` only.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(_) => Role::resolve(s, None, Backend::Mimir),
            None => Err(RoleError::Unknown {
                input: s.escape_debug().to_string(),
                backend: Backend::Mimir,
                hint: "; qualify it as backend:role, e.g. 'mimir:ingester'".into(),
            }),
        }
    }
}

// Hand-written: a derive would tie the `'static` name to the deserializer's lifetime.
impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// By hand: every role of the catalog, qualified, which the derive cannot list.
impl schemars::JsonSchema for Role {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Role".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let roles: Vec<String> = Backend::ALL
            .iter()
            .flat_map(|b| catalog(*b).roles())
            .map(|r| r.to_string())
            .collect();
        schemars::json_schema!({
            "type": "string",
            "enum": roles,
            "description": "a role of the catalog, qualified: mimir:ingester",
        })
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogs_are_self_consistent() {
        for backend in Backend::ALL {
            let c = catalog(backend);
            assert_eq!(c.backend, backend);
            let targets: HashSet<_> = c.targets.iter().map(|t| t.name).collect();
            assert_eq!(
                targets.len(),
                c.targets.len(),
                "{backend}: duplicate target"
            );
            for m in c.meta_roles {
                assert!(
                    !targets.contains(m.name),
                    "{backend}: meta {} shadows a target",
                    m.name
                );
                for e in m.expands {
                    assert!(
                        targets.contains(e),
                        "{backend}: {} expands to unknown {e}",
                        m.name
                    );
                }
            }
            for r in c.required {
                assert!(
                    targets.contains(r),
                    "{backend}: required {r} is not a target"
                );
            }
            for name in c.names() {
                assert!(
                    name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                    "{name}"
                );
            }
        }
    }

    /// (input, --backend, default backend, resolved role or error text)
    type ResolveCase = (
        &'static str,
        Option<Backend>,
        Backend,
        Result<&'static str, &'static str>,
    );

    #[test]
    fn resolution_table() {
        use Backend::*;
        let cases: &[ResolveCase] = &[
            ("ingester", None, Mimir, Ok("mimir:ingester")),
            ("ingester", None, Loki, Ok("loki:ingester")),
            ("mimir:querier", None, Loki, Ok("mimir:querier")),
            ("write", Some(Loki), Mimir, Ok("loki:write")),
            ("loki:write", Some(Loki), Mimir, Ok("loki:write")),
            ("all", Some(Tempo), Mimir, Ok("tempo:all")),
            (" querier ", None, Mimir, Ok("mimir:querier")),
            (
                "quorier",
                None,
                Mimir,
                Err("unknown role 'quorier' for mimir; did you mean 'querier'?"),
            ),
            (
                "index-gateway",
                None,
                Mimir,
                Err("unknown role 'index-gateway' for mimir"),
            ),
            (
                "tempo:write",
                None,
                Mimir,
                Err("unknown role 'write' for tempo"),
            ),
            ("mimr:ingester", None, Mimir, Err("did you mean 'mimir'?")),
            (
                "loki:write",
                Some(Mimir),
                Mimir,
                Err("--backend says mimir"),
            ),
            ("", None, Mimir, Err("role is empty")),
            ("../etc", None, Mimir, Err("unknown role '../etc'")),
            (
                "loki:bloom-gateway",
                None,
                Mimir,
                Err(
                    "loki:bloom-gateway is an upstream target lgtm does not offer: blooms are experimental upstream",
                ),
            ),
        ];
        for (input, explicit, default, want) in cases {
            let got = Role::resolve(input, *explicit, *default);
            match (got, want) {
                (Ok(r), Ok(w)) => assert_eq!(r.to_string(), *w, "{input}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn expansion_and_targets() {
        let write = Role::resolve("mimir:write", None, Backend::Mimir).unwrap();
        assert!(write.is_meta());
        let names: Vec<_> = write.expand().iter().map(|r| r.name()).collect();
        assert_eq!(names, ["distributor", "ingester"]);
        assert_eq!(write.upstream_target(), "write");
        let all = Role::resolve("tempo:all", None, Backend::Mimir).unwrap();
        assert_eq!(all.upstream_target(), "scalable-single-binary");
        assert_eq!(all.expand().len(), 6);
        let ing = Role::resolve("loki:ingester", None, Backend::Mimir).unwrap();
        assert!(ing.is_stateful() && ing.is_replicated() && ing.is_required());
        assert_eq!(ing.expand(), vec![ing]);
        let q = Role::resolve("mimir:querier", None, Backend::Mimir).unwrap();
        assert!(!q.is_stateful() && !q.is_replicated());
        let gw = Role::resolve("loki:gateway", None, Backend::Mimir).unwrap();
        assert!(gw.is_gateway() && !gw.is_meta() && !gw.is_stateful() && !gw.is_required());
        assert!(!gw.is_replicated() && !q.is_gateway());
        assert_eq!(
            catalog(Backend::Tempo).gateway().to_string(),
            "tempo:gateway"
        );
        let generator = Role::resolve("tempo:metrics-generator", None, Backend::Mimir).unwrap();
        assert!(!generator.is_required(), "metrics-generator is optional");
        // Loki's `all` does not run the index gateway; `backend` does.
        let all = Role::resolve("loki:all", None, Backend::Mimir).unwrap();
        assert!(!all.expand().iter().any(|r| r.name() == "index-gateway"));
        assert!(all.is_stateful());
    }

    #[test]
    fn loki_targets_run_in_their_simple_scalable_group() {
        let r = |s: &str| Role::resolve(s, None, Backend::Loki).unwrap();
        for (role, group) in [
            ("ingester", Some("loki:write")),
            ("pattern-ingester", Some("loki:write")),
            ("query-frontend", Some("loki:read")),
            ("index-gateway", Some("loki:backend")),
            ("backend", Some("loki:backend")),
            ("write", Some("loki:write")),
            ("all", None),
        ] {
            assert_eq!(
                r(role).group().map(|g| g.to_string()).as_deref(),
                group,
                "{role}"
            );
        }
        // Every Loki target belongs to a group meta-role that runs it.
        for t in LOKI.targets {
            let group = r(t.name).group().unwrap();
            assert!(group.is_meta(), "{}", t.name);
        }
    }

    #[test]
    fn serde_round_trip() {
        let r = Role::resolve("tempo:query-frontend", None, Backend::Mimir).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"tempo:query-frontend\"");
        assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        assert!(serde_json::from_str::<Role>("\"ingester\"").is_err());
        assert!(serde_json::from_str::<Role>("\"mimir:nope\"").is_err());
    }
}
