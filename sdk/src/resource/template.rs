//! Input templates: a declared resource's inputs, serialized once when the
//! resource joins a stack, with every [`Output`] it reads left as a numbered
//! reference. The references give the resource's dependencies at declaration
//! time; resolving the template against known outputs is a pure function, so
//! planning and applying never serialize the user's resource again.

use super::Urn;
use super::output::{Output, Resolve, UNKNOWN};
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;

/// The prefix of a reference inside a template; the output's index follows.
const REF_PREFIX: &str = "\u{1}keel:ref:";

thread_local! {
    /// The outputs met by the serialization [`Template::of`] is running on
    /// this thread (serde has no other way to hand a serializer context).
    static RECORDING: RefCell<Option<Vec<Output<Value>>>> = const { RefCell::new(None) };
}

/// While a template is being recorded: registers `output` and returns the
/// marker it serializes as. `None` otherwise.
pub(super) fn reference<T>(output: &Output<T>) -> Option<String> {
    RECORDING.with(|r| {
        let mut r = r.borrow_mut();
        let refs = r.as_mut()?;
        refs.push(output.erase());
        Some(format!("{REF_PREFIX}{}", refs.len() - 1))
    })
}

/// A resource's inputs as JSON with references to the outputs they read.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    json: Value,
    refs: Vec<Output<Value>>,
    deps: Vec<Urn>,
}

impl Template {
    /// Serializes `value`, recording the outputs it reads.
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        struct Restore(Option<Vec<Output<Value>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                RECORDING.with(|r| *r.borrow_mut() = self.0.take());
            }
        }
        // A template recorded inside another one's serialization (a custom
        // Serialize impl could do that) gets its own list.
        let outer = Restore(RECORDING.with(|r| r.borrow_mut().replace(Vec::new())));
        let json = serde_json::to_value(value);
        let refs = RECORDING
            .with(|r| r.borrow_mut().take())
            .unwrap_or_default();
        drop(outer);
        let mut deps: Vec<Urn> = refs
            .iter()
            .flat_map(|o| o.dependencies().iter().cloned())
            .collect();
        deps.sort();
        deps.dedup();
        Ok(Self {
            json: json?,
            refs,
            deps,
        })
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
            Value::String(s) => {
                let index = s
                    .strip_prefix(REF_PREFIX)
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(output) = index.and_then(|i| self.refs.get(i)) {
                    *value = output
                        .resolve_json(known)
                        .unwrap_or_else(|| Value::String(UNKNOWN.into()));
                }
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
        // serializing outside a recording never reads a value
        assert_eq!(serde_json::to_value(&inputs).unwrap()[1], json!(UNKNOWN));
    }
}
