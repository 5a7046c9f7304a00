//! The lab's object storage: `lgtm-s3` on the bridge's gateway address, its buckets under
//! the lab's directory, credentials made up per lab; and the one call that points a backend
//! at it through `lgtmctl`, as an operator would.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use lgtm_model::Backend;

use super::error::LabError;
use super::host::tail;
use super::process::{command, guarded, wait_for};
use super::{Lab, binaries};

/// The S3 port on the gateway address.
pub const S3_PORT: u16 = 9000;

/// A running `lgtm-s3`; killed on drop.
#[derive(Debug)]
pub struct S3Server {
    addr: SocketAddr,
    root: PathBuf,
    access_key: String,
    secret: String,
    log: PathBuf,
    child: Child,
}

/// 32 random hex digits from the kernel.
fn random_hex() -> Result<String, LabError> {
    let uuid = fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map_err(LabError::io("read a random uuid"))?;
    Ok(uuid.trim().replace('-', ""))
}

impl S3Server {
    /// Starts `lgtm-s3` on `addr` with a bucket per backend; data under `dir/root`.
    pub(crate) fn start(addr: SocketAddr, dir: &Path) -> Result<S3Server, LabError> {
        fs::create_dir_all(dir).map_err(LabError::io("create the S3 directory"))?;
        let access_key = format!("lab{}", &random_hex()?[..12]);
        let secret = random_hex()?;
        let secret_file = dir.join("secret");
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&secret_file)
            .and_then(|mut f| f.write_all(secret.as_bytes()))
            .map_err(LabError::io("write the S3 secret"))?;
        let root = dir.join("root");
        let log = dir.join("lgtm-s3.log");
        let out = File::create(&log).map_err(LabError::io("create the S3 log"))?;
        let err = out
            .try_clone()
            .map_err(LabError::io("duplicate the S3 log"))?;
        let mut argv: Vec<String> = vec![
            binaries::find("lgtm-s3")?.to_string_lossy().into_owned(),
            "--listen".into(),
            addr.to_string(),
            "--root".into(),
            root.to_string_lossy().into_owned(),
            "--access-key".into(),
            access_key.clone(),
            "--secret-key-file".into(),
            secret_file.to_string_lossy().into_owned(),
        ];
        for b in Backend::ALL {
            argv.extend(["--bucket".to_owned(), Self::bucket_of(b)]);
        }
        let child = guarded(&argv)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(LabError::io("start lgtm-s3"))?;
        let mut server = S3Server {
            addr,
            root,
            access_key,
            secret,
            log,
            child,
        };
        let up = wait_for("lgtm-s3 to listen", Duration::from_secs(30), || {
            if matches!(server.child.try_wait(), Ok(Some(_))) {
                return Some(false);
            }
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                .ok()
                .map(|_| true)
        })?;
        if !up {
            return Err(LabError::Unavailable(format!(
                "lgtm-s3 exited at start; log: {}",
                tail(&server.log)
            )));
        }
        Ok(server)
    }

    /// The bucket the lab gives `backend`.
    pub fn bucket_of(backend: Backend) -> String {
        format!("lab-{backend}")
    }

    /// `http://GATEWAY:9000`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The access key it accepts.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret it accepts.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Directory holding one directory per bucket.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every object key in `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(base, &path, out);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        let base = self.root.join(bucket);
        walk(&base, &base, &mut out);
        out.sort();
        out
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lab {
    /// Starts `lgtm-s3` on the gateway address (once; later calls return the same server).
    pub fn start_s3(&mut self) -> Result<&S3Server, LabError> {
        if self.s3.is_none() {
            let addr = SocketAddr::from((self.gateway(), S3_PORT));
            self.s3 = Some(S3Server::start(addr, &self.dir.path().join("s3"))?);
        }
        self.s3.as_ref().ok_or(LabError::NoFreeSlot)
    }

    /// The lab's S3 server, once started.
    pub fn s3(&self) -> Option<&S3Server> {
        self.s3.as_ref()
    }

    /// Puts `backend` on the lab's S3 server through `lgtmctl config set`: endpoint, its
    /// bucket, access key, path style, the secret from stdin, then `storage.backend s3`.
    pub fn use_s3(&self, backend: Backend) -> Result<(), LabError> {
        let s3 = self
            .s3
            .as_ref()
            .ok_or_else(|| LabError::Unavailable("call Lab::start_s3 before Lab::use_s3".into()))?;
        let b = backend.as_str();
        let settings = [
            ("storage.s3.endpoint", s3.endpoint()),
            ("storage.s3.region", "us-east-1".to_owned()),
            ("storage.s3.bucket", S3Server::bucket_of(backend)),
            ("storage.s3.access_key_id", s3.access_key.clone()),
            ("storage.s3.path_style", "true".to_owned()),
        ];
        for (key, value) in settings {
            self.lgtmctl_ok(&["config", "set", &format!("{b}.{key}"), &value])?;
        }
        self.set_secret(&format!("{b}.storage.s3.secret_access_key"), &s3.secret)?;
        self.lgtmctl_ok(&["config", "set", &format!("{b}.storage.backend"), "s3"])?;
        Ok(())
    }

    /// `lgtmctl config set KEY --from-stdin` with `value` on stdin.
    pub fn set_secret(&self, key: &str, value: &str) -> Result<(), LabError> {
        let argv = self
            .ctx
            .lgtmctl_argv(&["config", "set", key, "--from-stdin"])?;
        let mut child = command(&argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(LabError::io("start lgtmctl"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(format!("{value}\n").as_bytes())
                .map_err(LabError::io("write the secret to lgtmctl"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(LabError::io("wait for lgtmctl"))?;
        if !out.status.success() {
            return Err(LabError::command(&argv[3..], &out));
        }
        Ok(())
    }
}
