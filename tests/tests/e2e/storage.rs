//! Object storage as the backends see it: what each stand-in was handed (bucket, prefix,
//! endpoint, access key) from its `/standin/storage` record, and what landed in the lab's
//! S3 server's directory, per backend and per Mimir purpose.

use lgtm_model::process::ProcessId;
use lgtm_tests::lab::{Host, Lab, S3Server, http};
use serde_json::Value;

use super::support::*;

/// `/standin/storage` of the process that runs `role` on `host`, once it answers.
pub fn storage_record(host: &Host, role: &str) -> Vec<Value> {
    let port = ProcessId::for_role(role.parse().unwrap()).ports().http;
    until(&format!("{}'s {role} to answer", host.name()), || {
        let r = http::get(host.addr(port), "/standin/storage").ok()?;
        (r.status == 200).then(|| serde_json::from_str(&r.text()).unwrap())
    })
}

/// The process running `role` on `host` checked `(purpose, prefix)` locations in the
/// backend's own lab bucket, with the lab's endpoint and access key, and every check worked;
/// each object is in the S3 server's directory under that bucket and prefix.
pub fn assert_stored(lab: &Lab, host: &Host, role: &str, want: &[(&str, &str)]) {
    let s3 = lab.s3().expect("the lab runs an S3 server");
    let backend: lgtm_model::Role = role.parse().unwrap();
    let bucket = S3Server::bucket_of(backend.backend());
    let checks = until(&format!("{}'s {role} storage checks", host.name()), || {
        let c = storage_record(host, role);
        (!c.is_empty() && c.iter().all(|c| c["ok"] == true)).then_some(c)
    });
    let got: Vec<(&str, &str)> = checks
        .iter()
        .map(|c| {
            let l = &c["location"];
            (
                l["purpose"].as_str().unwrap(),
                l["prefix"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want, "{}: {checks:#?}", host.name());
    let keys = s3.keys(&bucket);
    for c in &checks {
        let l = &c["location"];
        assert_eq!(l["bucket"], bucket.as_str(), "{c:#}");
        assert_eq!(l["endpoint"], s3.endpoint().as_str(), "{c:#}");
        assert_eq!(l["access_key_id"], s3.access_key(), "{c:#}");
        assert!(l["path_style"].as_bool().unwrap(), "{c:#}");
        let key = c["key"].as_str().unwrap();
        let prefix = l["prefix"].as_str().unwrap();
        let name = format!("lgtm-standin/{}/", host.name());
        let expected = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        assert!(key.starts_with(&expected), "{key} is not under {expected}");
        assert!(
            keys.iter().any(|k| k == key),
            "{key} is not in bucket {bucket}: {keys:?}"
        );
    }
}

/// Every object in every lab bucket, as `bucket/key`, sorted.
pub fn all_objects(lab: &Lab) -> Vec<String> {
    let s3 = lab.s3().expect("the lab runs an S3 server");
    let mut all: Vec<String> = lgtm_model::Backend::ALL
        .into_iter()
        .flat_map(|b| {
            let bucket = S3Server::bucket_of(b);
            s3.keys(&bucket)
                .into_iter()
                .map(move |k| format!("{bucket}/{k}"))
        })
        .collect();
    all.sort();
    all
}
