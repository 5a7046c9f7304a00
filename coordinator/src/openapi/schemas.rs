//! The document's schemas, derived from the wire types by `schemars`: request bodies as the
//! coordinator reads them (serde's deserialize side: a defaulted field is optional, unknown
//! fields are refused), answers as it writes them (a field it always sends is required).
//!
//! A type both read and written (an agent reports its units, the status shows them) may have
//! two schemas; the one read is then named `<Type>Request`.

use std::collections::BTreeSet;

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

/// A wire type: adds its schema to a generator and returns a reference to it.
pub type Type = fn(&mut SchemaGenerator) -> Schema;

/// The [`Type`] of `T`.
pub fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// Where the document keeps its named schemas.
const DEFINITIONS: &str = "/components/schemas/";

/// The schemas referenced so far, one generator per direction.
pub struct Schemas {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
    /// Types read and written with different schemas: their read schema is renamed.
    renamed: BTreeSet<String>,
}

impl Schemas {
    /// No schema yet; the read schemas of `renamed` types get their own names.
    pub fn new(renamed: BTreeSet<String>) -> Schemas {
        let generator = |contract| {
            let mut s = SchemaSettings::draft2020_12();
            s.definitions_path = DEFINITIONS.into();
            s.meta_schema = None;
            s.contract = contract;
            SchemaGenerator::new(s)
        };
        Schemas {
            requests: generator(Contract::Deserialize),
            answers: generator(Contract::Serialize),
            renamed,
        }
    }

    /// The schema of a request body of type `t` (usually a reference).
    pub fn request(&mut self, t: Type) -> Value {
        let mut schema = t(&mut self.requests).to_value();
        self.rename_refs(&mut schema);
        schema
    }

    /// The schema of an answer of type `t` (usually a reference).
    pub fn answer(&mut self, t: Type) -> Value {
        t(&mut self.answers).to_value()
    }

    /// Types whose read and written schemas differ (and are not renamed yet).
    pub fn clashes(&self) -> BTreeSet<String> {
        let answers = self.answers.definitions();
        self.requests
            .definitions()
            .iter()
            .filter(|(name, schema)| answers.get(*name).is_some_and(|a| a != *schema))
            .map(|(name, _)| name.clone())
            .filter(|name| !self.renamed.contains(name))
            .collect()
    }

    /// Every named schema referenced, for `components.schemas`.
    pub fn into_definitions(mut self) -> Map<String, Value> {
        let mut all = self.answers.take_definitions(true);
        for (name, mut schema) in self.requests.take_definitions(true) {
            self.rename_refs(&mut schema);
            let name = match self.renamed.contains(&name) {
                true => format!("{name}{REQUEST}"),
                false => name,
            };
            all.insert(name, schema);
        }
        all
    }

    /// Points references to renamed types at their read schema.
    fn rename_refs(&self, schema: &mut Value) {
        match schema {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get_mut("$ref")
                    && let Some(name) = r.strip_prefix(REF)
                    && self.renamed.contains(name)
                {
                    r.push_str(REQUEST);
                }
                o.values_mut().for_each(|v| self.rename_refs(v));
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.rename_refs(v)),
            _ => {}
        }
    }
}

/// How a reference to a named schema starts.
const REF: &str = "#/components/schemas/";
/// The suffix of a renamed read schema.
const REQUEST: &str = "Request";
