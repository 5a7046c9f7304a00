//! `lgtm-s3`'s server: `s3s-fs` stores buckets as directories under a root and objects as
//! files ([`super::store`]); `s3s` parses the S3 protocol and checks every request's SigV4 signature (header
//! or presigned) against the one configured key pair, answering 403 to anything else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;

/// What to serve.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// Directory holding one sub-directory per bucket.
    pub root: PathBuf,
    /// The only access key accepted.
    pub access_key: String,
    /// Its secret.
    pub secret_key: String,
    /// Buckets that exist from the start.
    pub buckets: Vec<String>,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("failed to create bucket directory {path}: {source}")]
    Bucket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid bucket name {0:?}: use 3 to 63 characters of a-z, 0-9, '.' and '-'")]
    BucketName(String),
    #[error("failed to open the storage root {path}: {why}")]
    Root { path: PathBuf, why: String },
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// S3 bucket naming: never a path, so a name cannot escape the root.
fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !name.starts_with('.')
        && !name.contains("..")
}

/// Creates the buckets and the S3 service over `spec.root`.
pub fn service(spec: &ServerSpec) -> Result<S3Service, ServerError> {
    std::fs::create_dir_all(&spec.root).map_err(|source| ServerError::Bucket {
        path: spec.root.clone(),
        source,
    })?;
    for b in &spec.buckets {
        if !valid_bucket(b) {
            return Err(ServerError::BucketName(b.clone()));
        }
        let path = spec.root.join(b);
        std::fs::create_dir_all(&path).map_err(|source| ServerError::Bucket { path, source })?;
    }
    let fs = s3s_fs::FileSystem::new(&spec.root).map_err(|e| ServerError::Root {
        path: spec.root.clone(),
        why: format!("{e:?}"),
    })?;
    let mut builder = S3ServiceBuilder::new(super::store::Store(fs));
    builder.set_auth(SimpleAuth::from_single(
        spec.access_key.clone(),
        spec.secret_key.clone(),
    ));
    Ok(builder.build())
}

/// Binds `addr`; the caller then hands the listener to [`serve`].
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr, source })
}

/// Serves S3 on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, service: S3Service) {
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            // Out of file descriptors and the like: the next accept may work.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// Where `bucket`/`key` lands under `root`.
pub fn object_path(root: &Path, bucket: &str, key: &str) -> PathBuf {
    root.join(bucket).join(key)
}
