//! Bearer tokens: 32 random bytes, base64url, prefixed by their kind; stored only as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What a credential may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Everything.
    Admin,
    /// Reads status, hosts, settings and rendered (redacted) state.
    Read,
    /// Registers hosts, each getting a [`Kind::Host`] credential.
    Join,
    /// One host's desired state, report and registration.
    Host,
}

impl Kind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Admin => "admin",
            Kind::Read => "read",
            Kind::Join => "join",
            Kind::Host => "host",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Admin, Kind::Read, Kind::Join, Kind::Host]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The token prefix, `lgtm_<kind>_`.
    pub fn prefix(self) -> String {
        format!("lgtm_{}_", self.as_str())
    }
}

/// SHA-256 of a token: what the database keeps.
pub type TokenHash = [u8; 32];

/// A new random token of `kind`.
pub fn generate(kind: Kind) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes))
}

/// A short random public id (hex), to name a credential without revealing it.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash stored for `token`.
pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_kind_and_differ() {
        let a = generate(Kind::Join);
        let b = generate(Kind::Join);
        assert!(a.starts_with("lgtm_join_"), "{a}");
        assert_eq!(a.len(), "lgtm_join_".len() + 43);
        assert_ne!(a, b);
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(Kind::parse("host"), Some(Kind::Host));
        assert_eq!(Kind::parse("root"), None);
    }
}
