//! Input templates: a declared resource's inputs, serialized once when the
//! resource joins a stack, with every [`Output`] it reads left as a
//! reference. Which outputs a value reads is [`References`], implemented for
//! every props type by its derive (so none can hide from keel); an output
//! serializes as a marker naming it. The references give the resource's
//! dependencies at declaration time; resolving the template against known
//! outputs is a pure function, so planning and applying never serialize the
//! user's resource again.
//!
//! A template also knows where its secrets are: the JSON pointers
//! (`/user_data`, `/routes/0/target`) at which it holds an output marked
//! secret ([`Output::secret`], [`Input::secret`]). Those paths, with the
//! fields a type marks `#[resource(sensitive)]`, are what plans mask and
//! state files seal.

use super::Urn;
use super::output::{Input, Output, Resolve, UNKNOWN};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The prefix of a reference inside a template; the output's identity follows.
pub(super) const REF_PREFIX: &str = "\u{1}keel:ref:";

/// The outputs a value reads: implemented by `#[derive(Resource)]` for a
/// props struct and by `#[derive(References)]` for the types inside one
/// (rules, routes, targets).
///
/// ```
/// use keel::prelude::*;
/// use keel::References;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let subnet = Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a");
/// let mut refs = Vec::new();
/// subnet.references(&mut refs);
/// assert_eq!(refs[0].dependencies(), &[vpc.urn().clone()]);
/// ```
pub trait References {
    /// Appends every output this value reads to `refs`.
    fn references(&self, refs: &mut Vec<Output<Value>>);
}

impl<T> References for Output<T> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        refs.push(self.erase());
    }
}

impl<T> References for Input<T> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        if let Some(output) = self.as_output() {
            output.references(refs);
        }
    }
}

impl<T: References> References for Option<T> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        if let Some(v) = self {
            v.references(refs);
        }
    }
}

impl<T: References> References for Vec<T> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        self.iter().for_each(|v| v.references(refs));
    }
}

impl<T: References> References for Box<T> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        (**self).references(refs);
    }
}

impl<T: References> References for BTreeSet<T> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        self.iter().for_each(|v| v.references(refs));
    }
}

impl<K, V: References> References for BTreeMap<K, V> {
    fn references(&self, refs: &mut Vec<Output<Value>>) {
        self.values().for_each(|v| v.references(refs));
    }
}

/// Plain values read no outputs.
macro_rules! no_references {
    ($($t:ty),* $(,)?) => {$(
        impl References for $t {
            fn references(&self, _: &mut Vec<Output<Value>>) {}
        }
    )*};
}
no_references!(
    String, bool, char, u8, u16, u32, u64, usize, i8, i16, i32, i64, f32, f64, Value
);

/// The marker `output` serializes as: its identity (the address of the
/// computation it shares with its clones), meaningful only next to the
/// outputs a [`Template`] keeps alive.
pub(super) fn marker<T>(output: &Output<T>) -> String {
    format!("{REF_PREFIX}{:x}", output.identity())
}

/// A resource's inputs as JSON with references to the outputs they read.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    json: Value,
    refs: BTreeMap<String, Output<Value>>,
    deps: Vec<Urn>,
    secret_paths: Vec<String>,
}

/// Escapes one JSON pointer token (RFC 6901).
pub(crate) fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointers under `prefix` of every reference in `value` whose
/// marker is in `secret`.
fn secret_pointers(value: &Value, prefix: &str, secret: &BTreeSet<String>, out: &mut Vec<String>) {
    match value {
        Value::String(s) if secret.contains(s) => out.push(prefix.to_string()),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                secret_pointers(v, &format!("{prefix}/{i}"), secret, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                secret_pointers(v, &format!("{prefix}/{}", pointer_token(k)), secret, out);
            }
        }
        _ => {}
    }
}

impl Template {
    /// Serializes `value`, with the outputs it reads as references.
    pub(crate) fn of<T: Serialize + References + ?Sized>(value: &T) -> serde_json::Result<Self> {
        let mut outputs = Vec::new();
        value.references(&mut outputs);
        let json = serde_json::to_value(value)?;
        let mut deps: Vec<Urn> = outputs
            .iter()
            .flat_map(|o| o.dependencies().iter().cloned())
            .collect();
        deps.sort();
        deps.dedup();
        // Clones of one output share a marker: secret if any of them is.
        let secret: BTreeSet<String> = outputs
            .iter()
            .filter(|o| o.is_secret())
            .map(marker)
            .collect();
        let mut secret_paths = Vec::new();
        if !secret.is_empty() {
            secret_pointers(&json, "", &secret, &mut secret_paths);
        }
        let refs = outputs.into_iter().map(|o| (marker(&o), o)).collect();
        Ok(Self {
            json,
            refs,
            deps,
            secret_paths,
        })
    }

    /// The JSON pointers at which the inputs hold secret outputs.
    pub(crate) fn secret_paths(&self) -> &[String] {
        &self.secret_paths
    }

    /// The resources the inputs read outputs of, sorted and deduplicated.
    pub(crate) fn deps(&self) -> &[Urn] {
        &self.deps
    }

    /// The inputs with every reference replaced by its value in `known`, or
    /// by the unknown marker.
    pub(crate) fn resolve(&self, known: &dyn Resolve) -> Value {
        let mut json = self.json.clone();
        if !self.refs.is_empty() {
            self.fill(&mut json, known);
        }
        json
    }

    fn fill(&self, value: &mut Value, known: &dyn Resolve) {
        match value {
            Value::String(s) if s.starts_with(REF_PREFIX) => {
                // A marker of an output the value didn't report can't occur:
                // every props type implements `References` by derive.
                let resolved = self
                    .refs
                    .get(s.as_str())
                    .and_then(|o| o.resolve_json(known));
                *value = resolved.unwrap_or_else(|| Value::String(UNKNOWN.into()));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.fill(v, known)),
            Value::Object(map) => map.values_mut().for_each(|v| self.fill(v, known)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::output::{Input, NothingKnown, OutputValues};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_template_records_dependencies_and_resolves_purely() {
        let vpc = Urn::new("s", "aws:ec2:Vpc", "main");
        let id: Output<String> = Output::field(vpc.clone(), "id");
        let inputs: Vec<Input<String>> = vec!["plain".into(), id.clone().into(), id.into()];
        let template = Template::of(&inputs).unwrap();
        assert_eq!(template.deps(), std::slice::from_ref(&vpc));
        assert_eq!(
            template.resolve(&NothingKnown),
            json!(["plain", UNKNOWN, UNKNOWN])
        );
        let mut known = OutputValues::new();
        known.insert(vpc, json!({"id": "vpc-1"}));
        assert_eq!(template.resolve(&known), json!(["plain", "vpc-1", "vpc-1"]));
        // serializing never reads a value: an output is only a reference
        let plain = serde_json::to_value(&inputs).unwrap();
        assert!(plain[1].as_str().unwrap().starts_with(REF_PREFIX));
        assert!(template.secret_paths().is_empty());
    }

    #[test]
    fn a_template_knows_the_paths_of_its_secrets() {
        let vpc = Urn::new("s", "aws:ec2:Vpc", "main");
        let id: Output<String> = Output::field(vpc.clone(), "id");
        let mut inputs: BTreeMap<String, Vec<Input<String>>> = BTreeMap::new();
        inputs.insert(
            "a/b".into(),
            vec!["plain".into(), Input::secret("pw".to_string())],
        );
        inputs.insert(
            "c".into(),
            vec![
                id.clone().into(),
                id.map(|v| format!("{v}!")).secret().into(),
            ],
        );
        let template = Template::of(&inputs).unwrap();
        assert_eq!(template.secret_paths(), ["/a~1b/1", "/c/1"]);
        assert_eq!(template.deps(), std::slice::from_ref(&vpc));
        let mut known = OutputValues::new();
        known.insert(vpc, json!({"id": "vpc-1"}));
        assert_eq!(
            template.resolve(&known),
            json!({"a/b": ["plain", "pw"], "c": ["vpc-1", "vpc-1!"]})
        );
    }
}
