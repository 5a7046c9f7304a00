//! A stable digest of a host's rendered desired state.
//!
//! Only compared with itself, to tell whether a host's content changed across restarts of the
//! coordinator, so it must not depend on the Rust release: 128-bit FNV-1a over canonical JSON.

use lgtm_model::wire::DesiredProcess;

use crate::cluster::HostContent;

const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const PRIME: u128 = 0x0000000001000000000000000000013B;

/// A 128-bit content digest, shown as 32 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digest(u128);

impl Digest {
    /// The digest of a host's rendered processes.
    pub fn of(processes: &[DesiredProcess]) -> Digest {
        // Serializing plain structs to JSON cannot fail; the fallback keeps this total.
        let bytes = serde_json::to_vec(processes).unwrap_or_default();
        Digest::of_bytes(&bytes)
    }

    /// The digest of a host's content. Without a gateway it is the digest of its processes,
    /// as before gateways existed, so stored marks stay valid.
    pub fn of_content(content: &HostContent) -> Digest {
        match &content.gateway {
            None => Digest::of(&content.processes),
            Some(gateway) => {
                let both = (&content.processes, gateway);
                Digest::of_bytes(&serde_json::to_vec(&both).unwrap_or_default())
            }
        }
    }

    /// The digest of raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        let mut h = OFFSET;
        for b in bytes {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
        Digest(h)
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// Parses what [`Digest::to_hex`] wrote.
    pub fn from_hex(s: &str) -> Option<Digest> {
        (s.len() == 32)
            .then(|| u128::from_str_radix(s, 16).ok())
            .flatten()
            .map(Digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_round_trip() {
        // FNV-1a 128 of the empty input is its offset basis.
        assert_eq!(
            Digest::of_bytes(b"").to_hex(),
            "6c62272e07bb014262b821756295c58d"
        );
        // Published test vector for "a".
        assert_eq!(
            Digest::of_bytes(b"a").to_hex(),
            "d228cb696f1a8caf78912b704e4a8964"
        );
        let d = Digest::of_bytes(b"lgtm");
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
        assert_ne!(Digest::of_bytes(b"lgtm"), Digest::of_bytes(b"lgtn"));
        assert_eq!(Digest::from_hex("xyz"), None);
    }
}
