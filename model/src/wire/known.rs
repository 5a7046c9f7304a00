//! Enum values in answers, read so that a newer coordinator may add values.
//!
//! Within the skew rule ([`crate::skew`]) a coordinator may be a minor version ahead of the
//! agent or `lgtmctl` reading it, and a new state or action (a liveness, a plan step) must not
//! make the whole answer unreadable. An answer's enum field is a [`Known`]: the value when
//! this build knows it, else the text as sent, which a client shows but never acts on.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value of `T` as an answer carries it: known to this build, or newer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known<T> {
    /// A value this build knows.
    Is(T),
    /// A value only a newer coordinator knows, as sent.
    Newer(String),
}

impl<T> Known<T> {
    /// Values this build knows, as an answer carries them.
    pub fn all(values: impl IntoIterator<Item = T>) -> Vec<Known<T>> {
        values.into_iter().map(Known::Is).collect()
    }

    /// The values of `list` this build knows, in order; newer ones are left out.
    pub fn known_values(list: &[Known<T>]) -> Vec<T>
    where
        T: Clone,
    {
        list.iter().filter_map(Known::known).cloned().collect()
    }

    /// The value, when this build knows it.
    pub fn known(&self) -> Option<&T> {
        match self {
            Known::Is(t) => Some(t),
            Known::Newer(_) => None,
        }
    }
}

impl<T> From<T> for Known<T> {
    fn from(t: T) -> Self {
        Known::Is(t)
    }
}

impl<T: PartialEq> PartialEq<T> for Known<T> {
    fn eq(&self, other: &T) -> bool {
        self.known() == Some(other)
    }
}

impl<T: Serialize> Serialize for Known<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Known::Is(t) => t.serialize(s),
            Known::Newer(text) => text.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Known<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match T::deserialize(&value) {
            Ok(t) => Ok(Known::Is(t)),
            // Only text can be a value added later; anything else is a broken answer.
            Err(e) => match value {
                serde_json::Value::String(text) => Ok(Known::Newer(text)),
                _ => Err(D::Error::custom(e)),
            },
        }
    }
}

/// Shown as `T` shows it; a newer value as its text.
impl<T: fmt::Display> fmt::Display for Known<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Known::Is(t) => t.fmt(f),
            Known::Newer(text) => f.write_str(text),
        }
    }
}

// The API document names `T`: the values this coordinator sends.
impl<T: JsonSchema> JsonSchema for Known<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Liveness;

    #[test]
    fn known_values_read_as_themselves_and_newer_text_as_text() {
        let cases: [(&str, Result<Known<Liveness>, ()>); 4] = [
            (r#""alive""#, Ok(Known::Is(Liveness::Alive))),
            (r#""stale""#, Ok(Known::Is(Liveness::Stale))),
            (r#""draining""#, Ok(Known::Newer("draining".into()))),
            ("7", Err(())),
        ];
        for (json, want) in cases {
            let got = serde_json::from_str::<Known<Liveness>>(json).map_err(|_| ());
            assert_eq!(got, want, "{json}");
        }
    }

    #[test]
    fn it_writes_what_it_read() {
        for json in [r#""alive""#, r#""draining""#] {
            let k: Known<Liveness> = serde_json::from_str(json).expect("reads");
            assert_eq!(serde_json::to_string(&k).expect("writes"), json);
        }
        assert!(Known::Is(Liveness::Stale) == Liveness::Stale);
        assert!(Known::<Liveness>::Newer("stale".into()) != Liveness::Stale);
    }
}
