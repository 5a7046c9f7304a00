//! The coordinator's TLS: a private CA and a server certificate in `<state_dir>/tls/`,
//! created by `lgtm-coordinator init` or at the first start, and the acceptor serving them.
//!
//! `ca.pem` is world-readable: agents and lgtmctl pin it. Keys are mode 0600.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The TLS directory inside the state directory.
pub const TLS_DIR: &str = "tls";
/// The CA certificate agents and lgtmctl pin.
pub const CA_FILE: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const CERT_FILE: &str = "server.pem";
const KEY_FILE: &str = "server.key";
/// The names the server certificate was issued for, one a line.
const NAMES_FILE: &str = "names";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to write {path}")]
    Io {
        /// The file.
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to create a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} holds no usable {what}; remove {dir} and run `lgtm-coordinator init` again")]
    Load {
        /// The file.
        path: String,
        /// What it should hold.
        what: &'static str,
        /// The TLS directory.
        dir: String,
    },
    #[error("the TLS configuration was refused: {0}")]
    Config(#[from] rustls::Error),
    #[error(
        "{0} already exists; remove it first to create a new CA (agents and lgtmctl then need the new ca.pem)"
    )]
    Exists(String),
}

/// The names a server certificate is valid for: localhost, loopback, this machine's name,
/// the listen address unless unspecified, and `extra` (`tls_sans`, `--san`).
pub fn sans(listen: Option<SocketAddr>, extra: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_owned());
        }
    }
    if let Some(addr) = listen.filter(|a| !a.ip().is_unspecified()) {
        names.push(addr.ip().to_string());
    }
    names.extend(extra.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The TLS directory of `state_dir`.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join(TLS_DIR)
}

/// Whether `state_dir` has its TLS files.
pub fn exists(state_dir: &Path) -> bool {
    dir(state_dir).join(CA_FILE).is_file()
}

/// Creates the CA and a server certificate for `names` in `<state_dir>/tls/`, all at once:
/// the files are written to a new directory renamed into place.
pub fn init(state_dir: &Path, names: &[String]) -> Result<PathBuf, TlsError> {
    let target = dir(state_dir);
    if target.exists() {
        return Err(TlsError::Exists(target.display().to_string()));
    }
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| TlsError::Io { path, source }
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(io(state_dir))?;
    let tmp = state_dir.join(".tls-new");
    let _ = fs::remove_dir_all(&tmp);
    DirBuilder::new()
        .mode(0o755)
        .create(&tmp)
        .map_err(io(&tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).map_err(io(&tmp))?;

    let ca_key = rcgen::KeyPair::generate()?;
    let ca = ca_params()?.self_signed(&ca_key)?;
    write(&tmp.join(CA_FILE), &ca.pem(), 0o644)?;
    write(&tmp.join(CA_KEY), &ca_key.serialize_pem(), 0o600)?;
    issue(&tmp, &ca, &ca_key, names)?;
    fs::rename(&tmp, &target).map_err(io(&target))?;
    Ok(target)
}

/// The CA's parameters: the same every time, so the CA can sign again from its key alone
/// (its name and key identifier are what a certificate it signs refers to).
fn ca_params() -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lgtm coordinator CA");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params.not_after = rcgen::date_time_ymd(2126, 1, 1);
    Ok(params)
}

/// Writes a new server key and certificate for `names`, signed by the CA, into `dir`
/// (each file replaced atomically), and the names last.
fn issue(
    dir: &Path,
    ca: &rcgen::Certificate,
    ca_key: &rcgen::KeyPair,
    names: &[String],
) -> Result<(), TlsError> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lgtm coordinator");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.not_after = rcgen::date_time_ymd(2126, 1, 1);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.signed_by(&key, ca, ca_key)?;
    replace(&dir.join(KEY_FILE), &key.serialize_pem(), 0o600)?;
    replace(&dir.join(CERT_FILE), &cert.pem(), 0o644)?;
    replace(&dir.join(NAMES_FILE), &(names.join("\n") + "\n"), 0o644)
}

/// Makes sure `<state_dir>/tls/` exists with a server certificate for `names`: creates it
/// all, or re-issues the server certificate with the same CA when the names changed.
/// Returns what it did, if anything.
pub fn ensure(state_dir: &Path, names: &[String]) -> Result<Option<&'static str>, TlsError> {
    let tls = dir(state_dir);
    if !tls.exists() {
        init(state_dir, names)?;
        return Ok(Some("created the CA and the server certificate"));
    }
    let issued = fs::read_to_string(tls.join(NAMES_FILE)).unwrap_or_default();
    if issued.lines().eq(names.iter().map(String::as_str)) {
        return Ok(None);
    }
    let key_file = tls.join(CA_KEY);
    let pem = fs::read_to_string(&key_file).map_err(|source| TlsError::Io {
        path: key_file.display().to_string(),
        source,
    })?;
    let ca_key = rcgen::KeyPair::from_pem(&pem).map_err(|_| TlsError::Load {
        path: key_file.display().to_string(),
        what: "CA key",
        dir: tls.display().to_string(),
    })?;
    let ca = ca_params()?.self_signed(&ca_key)?;
    issue(&tls, &ca, &ca_key, names)?;
    Ok(Some(
        "re-issued the server certificate for changed names (same CA)",
    ))
}

/// Replaces `path` atomically with `text` in `mode`.
fn replace(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("new");
    let _ = fs::remove_file(&tmp);
    write(&tmp, text, mode)?;
    fs::rename(&tmp, path).map_err(|source| TlsError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    // The mode given, whatever the umask (the unit's is 0077): ca.pem is for everyone.
    f.write_all(text.as_bytes())
        .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| f.sync_all())
        .map_err(err)
}

/// The acceptor for the server certificate in `<state_dir>/tls/`.
pub fn acceptor(state_dir: &Path) -> Result<TlsAcceptor, TlsError> {
    let tls = dir(state_dir);
    let load = |file: &str, what: &'static str| TlsError::Load {
        path: tls.join(file).display().to_string(),
        what,
        dir: tls.display().to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls.join(CERT_FILE))
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|_| load(CERT_FILE, "certificate"))?;
    if certs.is_empty() {
        return Err(load(CERT_FILE, "certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(tls.join(KEY_FILE))
        .map_err(|_| load(KEY_FILE, "private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = crate::connections::ALPN.map(<[u8]>::to_vec).to_vec();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use rustls::client::danger::ServerCertVerifier;

    use super::*;

    #[test]
    fn init_writes_a_pinnable_ca_and_private_keys_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = sans(
            Some("0.0.0.0:7700".parse().expect("addr")),
            &["lgtm.example".into()],
        );
        assert!(names.contains(&"localhost".to_owned()));
        assert!(!names.contains(&"0.0.0.0".to_owned()));
        assert!(names.contains(&"lgtm.example".to_owned()));
        let tls = init(dir.path(), &names).expect("init");
        let mode = |f: &str| {
            fs::metadata(tls.join(f))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(CA_FILE), 0o644);
        assert_eq!(mode(CA_KEY), 0o600);
        assert_eq!(mode(KEY_FILE), 0o600);
        acceptor(dir.path()).expect("the files serve");
        assert!(matches!(init(dir.path(), &names), Err(TlsError::Exists(_))));
        assert_eq!(ensure(dir.path(), &names).expect("ensure"), None);
        let ca = fs::read(tls.join(CA_FILE)).expect("ca");
        let server = fs::read(tls.join(CERT_FILE)).expect("server");
        let more = [names.clone(), vec!["10.9.9.9".into()]].concat();
        assert!(ensure(dir.path(), &more).expect("re-issue").is_some());
        assert_eq!(fs::read(tls.join(CA_FILE)).expect("ca"), ca, "the CA stays");
        assert_ne!(fs::read(tls.join(CERT_FILE)).expect("server"), server);
        assert_eq!(mode(KEY_FILE), 0o600);
        acceptor(dir.path()).expect("the new files serve");
        // The new certificate chains to the CA clients already pinned.
        let root = CertificateDer::from_pem_slice(&ca).expect("ca pem");
        let leaf = CertificateDer::from_pem_slice(&fs::read(tls.join(CERT_FILE)).expect("pem"))
            .expect("server pem");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("verifier");
        let name = rustls::pki_types::ServerName::try_from("10.9.9.9").expect("name");
        let now = rustls::pki_types::UnixTime::now();
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], now)
            .expect("valid for the new name under the old CA");
    }
}
