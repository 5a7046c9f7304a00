//! lgtm's lab: the stand-in backend ([`standin`]) and real-systemd test hosts ([`lab`]) used
//! by the end-to-end tests in `tests/` and by the benchmarks.

// Unit tests panic on purpose: a failed unwrap is a failed assertion there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod lab;
pub mod standin;
