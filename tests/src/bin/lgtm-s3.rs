//! `lgtm-s3`: the S3-compatible server the lab tests start (see `lgtm_tests::s3`). Buckets
//! are directories under `--root`; every request must be SigV4-signed with the one key pair.
//!
//! Example: `lgtm-s3 --listen 198.18.0.1:9000 --root /var/tmp/s3 --access-key lab
//! --secret-key-file /var/tmp/s3.secret --bucket mimir --bucket loki`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use lgtm_tests::s3::server::{ServerSpec, bind, serve, service};

/// S3-compatible server over a directory, for lab tests.
#[derive(Debug, Parser)]
#[command(name = "lgtm-s3")]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Directory holding one sub-directory per bucket.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The only access key accepted.
    #[arg(long)]
    access_key: String,
    /// File holding its secret (the secret never goes on a command line).
    #[arg(long, value_name = "FILE")]
    secret_key_file: PathBuf,
    /// A bucket to create at start (repeatable).
    #[arg(long = "bucket", value_name = "NAME")]
    buckets: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let secret = std::fs::read_to_string(&a.secret_key_file)
        .with_context(|| format!("failed to read {}", a.secret_key_file.display()))?;
    let spec = ServerSpec {
        root: a.root,
        access_key: a.access_key,
        secret_key: secret.trim().to_owned(),
        buckets: a.buckets,
    };
    let svc = service(&spec)?;
    let listener = bind(a.listen).await?;
    eprintln!(
        "lgtm-s3 listening on {} (root {}, buckets {})",
        a.listen,
        spec.root.display(),
        spec.buckets.join(",")
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = serve(listener, svc) => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
