//! The pure model of an lgtm cluster, shared by the coordinator, the agent and `lgtmctl`.
//!
//! Nothing here does I/O: names are parsed once at the boundary ([`names`]), the role
//! [`catalog`] is static data, [`consistency`] and [`render`] are functions over plain values,
//! and [`wire`] holds the JSON shapes of the HTTP API.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod consistency;
pub mod drain;
pub mod gateway;
pub mod go_duration;
pub mod names;
pub mod process;
pub mod render;
pub mod ring;
pub mod rollout;
pub mod settings;
pub mod skew;
pub mod suggest;
pub mod topology;
pub mod upstream;
pub mod wire;

pub use catalog::{BackendCatalog, Role};
pub use names::{Backend, HostName};
