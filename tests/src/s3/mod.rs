//! The lab's object storage: an S3-compatible server ([`server`]) over a directory, with
//! SigV4 authentication for one access key, so multi-host tests run backends on real S3
//! requests and can read what landed where (`<root>/<bucket>/<key>`).

pub mod server;
pub mod store;
