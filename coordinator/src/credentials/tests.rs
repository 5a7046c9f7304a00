use std::os::unix::fs::PermissionsExt;

use super::*;

fn host(s: &str) -> HostName {
    s.parse().expect("valid host name")
}

#[test]
fn first_start_writes_private_operator_tokens_and_they_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = Credentials::open(dir.path()).expect("open");
    let cdir = dir.path().join(CREDENTIALS_DIR);
    let admin = std::fs::read_to_string(cdir.join(ADMIN_TOKEN_FILE)).expect("admin token");
    let read = std::fs::read_to_string(cdir.join(READ_TOKEN_FILE)).expect("read token");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&cdir), 0o700);
    assert_eq!(mode(&cdir.join(ADMIN_TOKEN_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(db::DB_FILE)), 0o600);
    assert_eq!(creds.authenticate(admin.trim()), Ok(Principal::Admin));
    assert_eq!(creds.authenticate(read.trim()), Ok(Principal::Read));
    drop(creds);
    let again = Credentials::open(dir.path()).expect("reopen");
    let admin2 = std::fs::read_to_string(cdir.join(ADMIN_TOKEN_FILE)).expect("admin token");
    assert_eq!(admin, admin2, "a restart keeps the admin token");
    assert_eq!(again.authenticate(admin.trim()), Ok(Principal::Admin));
    assert_eq!(again.authenticate("lgtm_admin_x"), Err(AuthError::Unknown));
}

#[test]
fn host_credentials_are_unique_per_host_and_revocable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = Credentials::open(dir.path()).expect("open");
    let (_, token) = creds.issue_host(&host("a")).expect("issue");
    assert_eq!(creds.authenticate(&token), Ok(Principal::Host(host("a"))));
    assert!(matches!(
        creds.issue_host(&host("a")),
        Err(CredentialError::HostHasCredential(_))
    ));
    creds.revoke_host(&host("a")).expect("revoke");
    assert!(matches!(
        creds.authenticate(&token),
        Err(AuthError::Revoked { .. })
    ));
    drop(creds);
    let again = Credentials::open(dir.path()).expect("reopen");
    assert!(matches!(
        again.authenticate(&token),
        Err(AuthError::Revoked { .. })
    ));
    again
        .issue_host(&host("a"))
        .expect("a removed host may join again");
}

#[test]
fn join_tokens_expire_and_revoke() {
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = Credentials::open(dir.path()).expect("open");
    let (id, token, _) = creds.create_join(Duration::from_secs(0)).expect("create");
    assert!(matches!(
        creds.authenticate(&token),
        Err(AuthError::Expired { .. })
    ));
    let (id2, token2, _) = creds.create_join(DEFAULT_JOIN_TTL).expect("create");
    assert_eq!(
        creds.authenticate(&token2),
        Ok(Principal::Join(id2.clone()))
    );
    creds.revoke_join(&id2).expect("revoke");
    assert!(matches!(
        creds.authenticate(&token2),
        Err(AuthError::Revoked { .. })
    ));
    assert!(creds.revoke_join("nope").is_err());
    assert!(creds.revoke_join(&id).is_ok());
}
