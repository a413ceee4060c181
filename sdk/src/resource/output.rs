//! Values that flow between resources. An [`Output<T>`] is a value another
//! resource will produce (its id, its name…), possibly transformed with
//! [`Output::map`]; an [`Input<T>`] is what a builder accepts: a plain value or
//! an output. Passing an output records a dependency edge, so data flow never
//! needs a hand-written `depends_on`.
//!
//! This module owns what an output *is* (the resources it waits for and how
//! its value is computed from theirs) and how outputs resolve: always against
//! a [`Resolve`] the caller passes in (the engine's known outputs, the saved
//! state, or analysis placeholders). Nothing here holds values: an output is
//! a pure function of the outputs it reads, so a declared stack is immutable
//! and can be planned from any number of threads at once.

use super::Urn;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The marker an unresolved output serializes to inside resolved inputs.
/// It never reaches a provider: the engine refuses inputs that contain it.
pub(crate) const UNKNOWN: &str = "\u{1}keel:unknown-until-apply\u{1}";

/// Whether `value` (or anything nested in it) is still unknown. A
/// reference marker a template didn't replace (an output returned from
/// inside `map`) counts as unknown too: it must never reach a provider.
pub(crate) fn contains_unknown(value: &Value) -> bool {
    match value {
        Value::String(s) => s == UNKNOWN || s.starts_with(super::template::REF_PREFIX),
        Value::Array(items) => items.iter().any(contains_unknown),
        Value::Object(map) => map.values().any(contains_unknown),
        _ => false,
    }
}

/// Where outputs read their values from: output `field` of resource `urn`,
/// or `None` while it is unknown.
pub(crate) trait Resolve {
    fn output(&self, urn: &Urn, field: &str) -> Option<Value>;
}

/// Known outputs of resources, by URN: what an [`Output`] resolves against
/// outside the engine (the engine resolves against its own map and the saved
/// state).
///
/// ```
/// use keel::prelude::*;
/// use keel::OutputValues;
/// let mut stack = Stack::new("demo");
/// let cluster = stack.add("app", EcsCluster::new().name("app"));
/// let config = cluster.name().map(|n| format!("ECS_CLUSTER={n}"));
///
/// let mut known = OutputValues::new();
/// assert_eq!(config.resolve(&known), None);
/// known.insert(cluster.urn().clone(), serde_json::json!({"name": "app"}));
/// assert_eq!(config.resolve(&known).as_deref(), Some("ECS_CLUSTER=app"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputValues {
    values: BTreeMap<Urn, Map<String, Value>>,
}

impl OutputValues {
    /// No outputs known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the outputs of `urn` (a JSON object; anything else counts as
    /// no outputs).
    pub fn insert(&mut self, urn: Urn, outputs: Value) {
        let outputs = match outputs {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.values.insert(urn, outputs);
    }

    /// Output `field` of `urn`, if known.
    pub fn get(&self, urn: &Urn, field: &str) -> Option<&Value> {
        self.values.get(urn)?.get(field)
    }
}

impl Resolve for OutputValues {
    fn output(&self, urn: &Urn, field: &str) -> Option<Value> {
        self.get(urn, field).cloned()
    }
}

/// Resolves every output to a placeholder naming the resource and field it
/// comes from (mapped outputs see the placeholder as their input). Static
/// analysis uses it to follow references, including through user data built
/// with [`Output::map`].
pub(crate) struct Placeholders;

impl Resolve for Placeholders {
    fn output(&self, urn: &Urn, field: &str) -> Option<Value> {
        Some(Value::String(placeholder(urn, field)))
    }
}

/// Resolves nothing: every output is unknown.
#[cfg(test)]
pub(crate) struct NothingKnown;

#[cfg(test)]
impl Resolve for NothingKnown {
    fn output(&self, _: &Urn, _: &str) -> Option<Value> {
        None
    }
}

/// The prefix of reference placeholders.
const PLACEHOLDER_PREFIX: &str = "keel-ref:";

/// The placeholder that stands for output `field` of `urn` during analysis.
pub(crate) fn placeholder(urn: &Urn, field: &str) -> String {
    format!("{PLACEHOLDER_PREFIX}{urn}#{field}")
}

/// The resource and field a placeholder stands for.
pub(crate) fn parse_placeholder(s: &str) -> Option<(Urn, String)> {
    let rest = s.strip_prefix(PLACEHOLDER_PREFIX)?;
    let (urn, field) = rest.rsplit_once('#')?;
    Some((urn.parse().ok()?, field.to_string()))
}

type Eval = Arc<dyn Fn(&dyn Resolve) -> Option<Value> + Send + Sync>;

/// A value that another resource produces once it exists: its id, name, ARN…
///
/// Outputs come from handles (`vpc.id()`) and can be transformed with
/// [`Output::map`] or combined with [`Output::zip`]. Whatever consumes an
/// output depends on the resource that produces it.
///
/// ```
/// use keel::prelude::*;
///
/// let mut stack = Stack::new("demo");
/// let cluster = stack.add("app", EcsCluster::new());
/// let user_data: Output<String> = cluster
///     .name()
///     .map(|name| format!("#!/bin/bash\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\n"));
/// assert_eq!(user_data.dependencies(), &[cluster.urn().clone()]);
/// ```
pub struct Output<T> {
    deps: Arc<[Urn]>,
    source: Option<(Urn, &'static str)>,
    eval: Eval,
    /// The value is sensitive: shown as `[sensitive]` and sealed in state.
    secret: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        Self {
            deps: self.deps.clone(),
            source: self.source.clone(),
            eval: self.eval.clone(),
            secret: self.secret,
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("dependencies", &self.deps)
            .field("source", &self.source)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl<T> Output<T> {
    /// Output `field` of the resource `urn`.
    pub(crate) fn field(urn: Urn, field: &'static str) -> Self {
        Self {
            deps: Arc::from(vec![urn.clone()]),
            source: Some((urn.clone(), field)),
            eval: Arc::new(move |r: &dyn Resolve| r.output(&urn, field)),
            secret: false,
            _type: PhantomData,
        }
    }

    /// The same output, marked sensitive: wherever keel would print its
    /// value (plans, progress, errors, `--json`, exported outputs) it shows
    /// `[sensitive]`, and state files hold it encrypted (see
    /// `keel::state::secrets`). Outputs derived from it with [`Output::map`],
    /// [`Output::zip`] or [`Output::all`] stay sensitive.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new());
    /// let name = cluster.name().secret();
    /// assert!(name.is_secret());
    /// assert!(name.map(|n| format!("ECS_CLUSTER={n}")).is_secret());
    /// assert!(!cluster.name().is_secret());
    /// ```
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Whether the value is sensitive (see [`Output::secret`]).
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// The resources this output waits for.
    pub fn dependencies(&self) -> &[Urn] {
        &self.deps
    }

    /// For an output taken straight from a resource (not mapped): that
    /// resource and the output field. Static checks use it to look at the
    /// declaration the value will come from.
    pub fn source(&self) -> Option<(&Urn, &'static str)> {
        self.source.as_ref().map(|(u, f)| (u, *f))
    }

    /// The value as JSON against `known`, or `None` while it is unknown.
    pub(crate) fn resolve_json(&self, known: &dyn Resolve) -> Option<Value> {
        (self.eval)(known).filter(|v| !contains_unknown(v))
    }

    /// What identifies this output and its clones: the address of the
    /// computation they share.
    pub(super) fn identity(&self) -> usize {
        Arc::as_ptr(&self.eval).cast::<()>() as usize
    }

    /// The same output with its value type erased to JSON.
    pub(crate) fn erase(&self) -> Output<Value> {
        Output {
            deps: self.deps.clone(),
            source: self.source.clone(),
            eval: self.eval.clone(),
            secret: self.secret,
            _type: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Output<T> {
    /// The value, if the outputs it reads are among `known`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// assert_eq!(vpc.id().resolve(&keel::OutputValues::new()), None); // nothing deployed
    /// ```
    pub fn resolve(&self, known: &OutputValues) -> Option<T> {
        self.resolve_json(known)
            .and_then(|v| serde_json::from_value(v).ok())
    }

    /// Derives a new output by applying `f` once the value is known.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new().name("app"));
    /// let config = cluster.name().map(|n| format!("ECS_CLUSTER={n}"));
    /// assert_eq!(config.dependencies().len(), 1);
    /// ```
    pub fn map<U, F>(&self, f: F) -> Output<U>
    where
        U: Serialize,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let inner = self.eval.clone();
        Output {
            deps: self.deps.clone(),
            source: None,
            eval: Arc::new(move |r: &dyn Resolve| {
                let value = inner(r)?;
                if contains_unknown(&value) {
                    return None;
                }
                let typed: T = serde_json::from_value(value).ok()?;
                serde_json::to_value(f(typed)).ok()
            }),
            secret: self.secret,
            _type: PhantomData,
        }
    }

    /// Combines two outputs into one that is known when both are.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let cluster = stack.add("app", EcsCluster::new());
    /// let both = vpc.id().zip(&cluster.name()).map(|(v, c)| format!("{c}@{v}"));
    /// assert_eq!(both.dependencies().len(), 2);
    /// ```
    pub fn zip<U: DeserializeOwned>(&self, other: &Output<U>) -> Output<(T, U)> {
        let (a, b) = (self.eval.clone(), other.eval.clone());
        let mut deps: Vec<Urn> = self.deps.iter().chain(other.deps.iter()).cloned().collect();
        deps.sort();
        deps.dedup();
        Output {
            deps: Arc::from(deps),
            source: None,
            eval: Arc::new(move |r: &dyn Resolve| {
                let (x, y) = (a(r)?, b(r)?);
                if contains_unknown(&x) || contains_unknown(&y) {
                    return None;
                }
                Some(Value::Array(vec![x, y]))
            }),
            secret: self.secret || other.secret,
            _type: PhantomData,
        }
    }
}

impl<T: DeserializeOwned + Serialize> Output<Vec<T>> {
    /// Collects outputs into one list output, known when all are.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let a = stack.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    /// let b = stack.add("b", Subnet::new(vpc.id(), "10.0.2.0/24", "us-east-1b"));
    /// let ids: Output<Vec<SubnetId>> = Output::all([a.id(), b.id()]);
    /// assert_eq!(ids.dependencies().len(), 2);
    /// ```
    pub fn all(outputs: impl IntoIterator<Item = Output<T>>) -> Self {
        let outputs: Vec<Output<T>> = outputs.into_iter().collect();
        let mut deps: Vec<Urn> = outputs
            .iter()
            .flat_map(|o| o.deps.iter().cloned())
            .collect();
        deps.sort();
        deps.dedup();
        let evals: Vec<Eval> = outputs.iter().map(|o| o.eval.clone()).collect();
        let secret = outputs.iter().any(|o| o.secret);
        Output {
            deps: Arc::from(deps),
            source: None,
            eval: Arc::new(move |r: &dyn Resolve| {
                let values: Option<Vec<Value>> = evals
                    .iter()
                    .map(|e| e(r).filter(|v| !contains_unknown(v)))
                    .collect();
                values.map(Value::Array)
            }),
            secret,
            _type: PhantomData,
        }
    }
}

/// An output serializes as a reference marker (see `template`): its value
/// is never read during serialization.
impl<T> Serialize for Output<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::template::marker(self))
    }
}

/// What a builder accepts for a field: a plain value or another resource's
/// [`Output`].
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// // An output of the VPC in the same stack…
/// let a = Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a");
/// // …or the id of a VPC that exists already.
/// let b = Subnet::new(VpcId::new("vpc-0123456789abcdef0"), "10.1.1.0/24", "us-east-1a");
/// assert!(a.vpc_id.value().is_none());
/// assert_eq!(b.vpc_id.value().map(|v| v.as_str()), Some("vpc-0123456789abcdef0"));
/// ```
pub enum Input<T> {
    /// A value known when the program runs.
    Value(T),
    /// A value another resource produces.
    Output(Output<T>),
}

impl<T: Clone> Clone for Input<T> {
    fn clone(&self) -> Self {
        match self {
            Input::Value(v) => Input::Value(v.clone()),
            Input::Output(o) => Input::Output(o.clone()),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Input<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Value(v) => v.fmt(f),
            Input::Output(o) => o.fmt(f),
        }
    }
}

impl<T> Input<T> {
    /// The plain value, if this input is not an output of another resource.
    /// Providers see only resolved inputs, so for them this is always `Some`.
    pub fn value(&self) -> Option<&T> {
        match self {
            Input::Value(v) => Some(v),
            Input::Output(_) => None,
        }
    }

    /// The resources this input waits for: none for a plain value.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let input: Input<VpcId> = vpc.id().into();
    /// assert_eq!(input.deps(), &[vpc.urn().clone()]);
    /// assert!(Input::Value(VpcId::new("vpc-1")).deps().is_empty());
    /// ```
    pub fn deps(&self) -> &[Urn] {
        match self {
            Input::Value(_) => &[],
            Input::Output(o) => o.dependencies(),
        }
    }

    /// The output this input reads, if it is one.
    pub fn as_output(&self) -> Option<&Output<T>> {
        match self {
            Input::Value(_) => None,
            Input::Output(o) => Some(o),
        }
    }
}

impl<T: Serialize> Input<T> {
    /// A sensitive value known when the program runs (a password, a token,
    /// user data with credentials in it): it reaches the provider as it is,
    /// but keel shows it as `[sensitive]` wherever it would print it and
    /// keeps it encrypted in state files (see `keel::state::secrets`). It is
    /// held as an [`Output`] with no dependencies, so [`Input::value`] is
    /// `None` for it; providers see it resolved like any other value.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let lt = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small")
    ///     .user_data(Input::secret("#!/bin/bash\nexport TOKEN=hunter2\n".to_string()));
    /// let user_data = lt.user_data.as_ref().unwrap();
    /// assert!(user_data.is_secret());
    /// assert!(user_data.deps().is_empty());
    /// assert!(!format!("{lt:?}").contains("hunter2"));
    /// ```
    pub fn secret(value: T) -> Self {
        Input::Output(Output::secret_value(value))
    }
}

impl<T: Serialize> Output<T> {
    /// A sensitive value known when the program runs, as an output with no
    /// dependencies, so it can be combined with other outputs ([`Output::zip`],
    /// [`Output::map`]) and whatever derives from it stays sensitive.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new());
    /// let token = Output::secret_value("hunter2".to_string());
    /// let user_data = token
    ///     .zip(&cluster.name())
    ///     .map(|(t, c)| format!("echo ECS_CLUSTER={c} >> /etc/ecs/ecs.config\nexport TOKEN={t}\n"));
    /// assert!(user_data.is_secret());
    /// assert_eq!(user_data.dependencies(), &[cluster.urn().clone()]);
    /// stack.export("user_data", user_data); // shown as [sensitive]
    /// ```
    pub fn secret_value(value: T) -> Self {
        let json = serde_json::to_value(&value).ok();
        Output {
            deps: Arc::from(Vec::new()),
            source: None,
            eval: Arc::new(move |_: &dyn Resolve| json.clone()),
            secret: true,
            _type: PhantomData,
        }
    }
}

impl<T> Input<T> {
    /// Whether the value is sensitive: made with [`Input::secret`] or from
    /// an [`Output::secret`] (a plain value never is; a field can also be
    /// sensitive by its type's rule, `#[resource(sensitive)]`).
    pub fn is_secret(&self) -> bool {
        self.as_output().is_some_and(Output::is_secret)
    }
}

impl<T> From<T> for Input<T> {
    fn from(value: T) -> Self {
        Input::Value(value)
    }
}

impl<T> From<Output<T>> for Input<T> {
    fn from(output: Output<T>) -> Self {
        Input::Output(output)
    }
}

impl<T> From<&Output<T>> for Input<T> {
    fn from(output: &Output<T>) -> Self {
        Input::Output(output.clone())
    }
}

impl From<&str> for Input<String> {
    fn from(value: &str) -> Self {
        Input::Value(value.to_string())
    }
}

impl<T: Serialize> Serialize for Input<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Input::Value(v) => v.serialize(serializer),
            Input::Output(o) => o.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Input<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Input::Value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urn(name: &str) -> Urn {
        Urn::new("s", "aws:ec2:Vpc", name)
    }

    #[test]
    fn an_output_resolves_only_against_what_is_known() {
        let out: Output<String> = Output::field(urn("a"), "id");
        let input: Input<String> = out.clone().into();
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            serde_json::to_value(&out).unwrap(),
            "an output serializes as a reference to itself"
        );
        assert_eq!(input.deps(), &[urn("a")]);

        let mut known = OutputValues::new();
        assert_eq!(out.resolve(&known), None);
        known.insert(urn("a"), serde_json::json!({"id": "vpc-1"}));
        assert_eq!(out.resolve(&known).as_deref(), Some("vpc-1"));
        assert_eq!(out.map(|s| s.len()).resolve(&known), Some(5));
    }

    #[test]
    fn an_output_returned_from_map_is_never_a_value() {
        let a: Output<String> = Output::field(urn("a"), "id");
        let b: Output<String> = Output::field(urn("b"), "id");
        let nested = a.map(move |_| b.clone());
        let mut known = OutputValues::new();
        known.insert(urn("a"), serde_json::json!({"id": "x"}));
        known.insert(urn("b"), serde_json::json!({"id": "y"}));
        assert_eq!(nested.resolve_json(&known), None);
    }

    #[test]
    fn zip_is_unknown_until_both_sides_are_known() {
        let a: Output<String> = Output::field(urn("a"), "id");
        let b: Output<String> = Output::field(urn("b"), "id");
        let z = a.zip(&b);
        let mut known = OutputValues::new();
        known.insert(urn("a"), serde_json::json!({"id": "x"}));
        assert_eq!(z.resolve(&known), None);
        known.insert(urn("b"), serde_json::json!({"id": "x"}));
        assert_eq!(z.resolve(&known), Some(("x".to_string(), "x".to_string())));
    }
}
