//! `lgtm-s3` and the stand-in's object-storage check, without a lab: the server refuses a
//! wrong secret, and a stand-in handed a rendered S3 config writes and reads an object at
//! each location, or stays unready saying why (never printing the secret).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lgtm_model::render::{Cluster, HostIntent, host_processes};
use lgtm_model::settings::{Secrets, Settings};
use lgtm_tests::lab::{http, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const S3: &str = env!("CARGO_BIN_EXE_lgtm-s3");
const STANDIN: &str = env!("CARGO_BIN_EXE_lgtm-standin");
const SECRET: &str = "s3cr3t0f32charactersforthelabxyz";
const PATIENCE: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    lgtm_tests::lab::net::free_local_port().unwrap()
}

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// SIGTERM, then everything it wrote on stderr.
    fn stop(mut self) -> String {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let _ = self.0.wait();
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        err
    }
}

/// `lgtm-s3` on a free loopback port with bucket `lab-mimir`.
fn s3(dir: &Path) -> (Proc, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let child = Command::new(S3)
        .args(["--listen", &addr.to_string(), "--root"])
        .arg(dir.join("root"))
        .args(["--access-key", "labkey", "--secret-key-file"])
        .arg(dir.join("secret"))
        .args(["--bucket", "lab-mimir"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("lgtm-s3 to listen", PATIENCE, || {
        std::net::TcpStream::connect(addr).ok()
    })
    .unwrap();
    (Proc(child), addr)
}

/// The config the coordinator renders for a one-host Mimir on that server.
fn mimir_config(addr: SocketAddr, secret: &str, data_root: &Path) -> String {
    let mut settings = Settings::default();
    for (k, v) in [
        ("storage.s3.endpoint", format!("http://{addr}")),
        ("storage.s3.bucket", "lab-mimir".into()),
        ("storage.s3.access_key_id", "labkey".into()),
        ("storage.s3.path_style", "true".into()),
        ("storage.backend", "s3".into()),
    ] {
        settings.set(&format!("mimir.{k}"), &v).unwrap();
    }
    let secrets: Secrets = [(
        "mimir.storage.s3.secret_access_key".to_owned(),
        secret.to_owned(),
    )]
    .into();
    let hosts: BTreeMap<_, _> = [(
        "h1".parse().unwrap(),
        HostIntent {
            address: Some("127.0.0.1".parse().unwrap()),
            data_root: Some(data_root.to_string_lossy().into_owned()),
            roles: vec!["mimir:all".parse().unwrap()],
        },
    )]
    .into();
    let cluster = Cluster {
        settings: &settings,
        secrets: &secrets,
        hosts: &hosts,
    };
    host_processes(cluster, &"h1".parse().unwrap()).unwrap()[0]
        .config
        .clone()
}

/// The stand-in as Mimir on `config`, on free ports; its HTTP address.
fn standin(dir: &Path, config: &str) -> (Proc, SocketAddr) {
    let file = dir.join("mimir.yaml");
    std::fs::write(&file, config).unwrap();
    let http = free_port();
    let child = Command::new(STANDIN)
        .args(["--as", "mimir", "-target=all"])
        .arg(format!("-config.file={}", file.display()))
        .arg(format!("-server.http-listen-port={http}"))
        .arg(format!("-server.grpc-listen-port={}", free_port()))
        .arg(format!("-memberlist.bind-port={}", free_port()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (Proc(child), format!("127.0.0.1:{http}").parse().unwrap())
}

/// `/standin/storage`, once the stand-in answers.
fn storage_checks(addr: SocketAddr) -> Option<Vec<Value>> {
    let r = http::get(addr, "/standin/storage").ok()?;
    assert_eq!(r.status, 200);
    Some(serde_json::from_str(&r.text()).unwrap())
}

#[test]
fn standin_writes_each_mimir_purpose_with_the_credentials_it_was_handed() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, s3_addr) = s3(dir.path());
    let config = mimir_config(s3_addr, SECRET, dir.path());
    let (mimir, addr) = standin(dir.path(), &config);

    let ready = wait_for("the stand-in to be ready", PATIENCE, || {
        http::get(addr, "/ready").ok().filter(|r| r.status == 200)
    });
    let checks = storage_checks(addr).unwrap();
    assert!(ready.is_ok(), "{checks:#?}");
    let host = nix::unistd::gethostname().unwrap();
    let host = host.to_string_lossy();
    let mut purposes = Vec::new();
    for c in &checks {
        let loc = &c["location"];
        let purpose = loc["purpose"].as_str().unwrap();
        purposes.push(purpose.to_owned());
        assert_eq!(c["ok"], true, "{c:#}");
        assert_eq!(loc["bucket"], "lab-mimir", "{c:#}");
        assert_eq!(loc["access_key_id"], "labkey", "{c:#}");
        assert_eq!(loc["endpoint"], format!("http://{s3_addr}"), "{c:#}");
        assert!(loc.get("secret").is_none(), "{c:#}");
        let key = format!(
            "{}/lgtm-standin/{host}/all",
            loc["prefix"].as_str().unwrap()
        );
        assert_eq!(c["key"], key.as_str(), "{c:#}");
        let object = dir.path().join("root/lab-mimir").join(&key);
        assert_eq!(
            std::fs::read_to_string(&object).unwrap(),
            format!("{host}/all\n"),
            "{}",
            object.display()
        );
    }
    assert_eq!(purposes, ["blocks", "ruler", "alertmanager"]);
    let stderr = mimir.stop();
    assert!(stderr.contains("object storage reachable"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}

#[test]
fn a_wrong_secret_is_refused_and_keeps_the_standin_unready() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, s3_addr) = s3(dir.path());
    let wrong = "wrongsecretwrongsecretwrongsecret";
    let config = mimir_config(s3_addr, wrong, dir.path());
    let (mimir, addr) = standin(dir.path(), &config);

    let checks = wait_for("a failed storage attempt", PATIENCE, || {
        let checks = storage_checks(addr)?;
        (!checks.is_empty() && checks.iter().all(|c| c["attempts"].as_u64() > Some(0)))
            .then_some(checks)
    })
    .unwrap();
    assert_eq!(checks.len(), 3, "{checks:#?}");
    for c in &checks {
        assert_eq!(c["ok"], false, "{c:#}");
        let error = c["error"].as_str().unwrap();
        assert!(
            error.contains("403") && error.contains("SignatureDoesNotMatch"),
            "{error}"
        );
    }
    let r = http::get(addr, "/ready").unwrap();
    assert_eq!(r.status, 503);
    assert!(
        r.text()
            .starts_with("object storage is not usable: blocks bucket lab-mimir: PUT"),
        "{}",
        r.text()
    );
    assert!(!dir.path().join("root/lab-mimir/blocks").exists());
    let stderr = mimir.stop();
    assert!(
        stderr.contains("failed to access object storage") && stderr.contains("purpose=blocks"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong), "{stderr}");
}

/// Listings follow S3: an empty `delimiter=` (minio-go, Tempo's client, always sends one)
/// means no delimiter, so every key comes back; a `/` groups them.
#[test]
fn an_empty_delimiter_lists_every_key() {
    use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
    let dir = tempfile::tempdir().unwrap();
    let (_s3, addr) = s3(dir.path());
    let endpoint = format!("http://{addr}").parse().unwrap();
    let bucket = Bucket::new(endpoint, UrlStyle::Path, "lab-mimir", "us-east-1").unwrap();
    let creds = Credentials::new("labkey", SECRET);
    let signed = Duration::from_secs(60);
    let path = |url: reqwest::Url| format!("{}?{}", url.path(), url.query().unwrap_or_default());
    for key in ["tempo/t1/b1/meta.json", "tempo/t1/b2/meta.json"] {
        let put = bucket.put_object(Some(&creds), key).sign(signed);
        let r = http::request("PUT", addr, &path(put), &[], b"{}").unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let list = |delimiter: &str| {
        let mut action = bucket.list_objects_v2(Some(&creds));
        action.with_prefix("tempo/t1/");
        action.with_delimiter(delimiter);
        let r = http::get(addr, &path(action.sign(signed))).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    };
    let all = list("");
    assert!(
        all.contains("<Key>tempo/t1/b1/meta.json</Key>")
            && all.contains("<Key>tempo/t1/b2/meta.json</Key>")
            && !all.contains("<CommonPrefixes>"),
        "{all}"
    );
    let grouped = list("/");
    assert!(
        grouped.contains("<Prefix>tempo/t1/b1/</Prefix>") && !grouped.contains("<Key>"),
        "{grouped}"
    );
}
