//! Values that flow between resources. An [`Output<T>`] is a value another
//! resource will produce (its id, its name…), possibly transformed with
//! [`Output::map`]; an [`Input<T>`] is what a builder accepts: a plain value or
//! an output. Passing an output records a dependency edge, so data flow never
//! needs a hand-written `depends_on`.
//!
//! This module owns how outputs are resolved (through the producing resource's
//! [`Cells`], filled by the engine) and how inputs serialize: a resolved output
//! serializes as its value, an unresolved one as the unknown marker that plans
//! render as `(known after apply)`. It does not decide *when* cells are filled;
//! the planner and executor do.

use super::Urn;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// The marker an unresolved output serializes to inside resolved inputs.
/// It never reaches a provider: the engine refuses inputs that contain it.
pub(crate) const UNKNOWN: &str = "\u{1}keel:unknown-until-apply\u{1}";

/// Whether `value` (or anything nested in it) is still unknown.
pub(crate) fn contains_unknown(value: &Value) -> bool {
    match value {
        Value::String(s) => s == UNKNOWN,
        Value::Array(items) => items.iter().any(contains_unknown),
        Value::Object(map) => map.values().any(contains_unknown),
        _ => false,
    }
}

/// The outputs of one declared resource, shared between its handle and every
/// [`Output`] derived from it. Empty until the engine knows them.
#[derive(Default, Debug)]
pub(crate) struct Cells {
    values: Mutex<Option<Map<String, Value>>>,
}

impl Cells {
    pub(crate) fn set(&self, outputs: Map<String, Value>) {
        *self.lock() = Some(outputs);
    }

    pub(crate) fn clear(&self) {
        *self.lock() = None;
    }

    pub(crate) fn get(&self, field: &str) -> Option<Value> {
        self.lock().as_ref().and_then(|m| m.get(field).cloned())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Map<String, Value>>> {
        // A poisoned lock only means another thread panicked while holding a
        // plain map; the map itself is still consistent.
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }
}

thread_local! {
    static COLLECTOR: RefCell<Option<Vec<Urn>>> = const { RefCell::new(None) };
    static PLACEHOLDERS: RefCell<bool> = const { RefCell::new(false) };
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

/// Runs `f` with every output resolving to a placeholder naming the
/// resource and field it comes from (mapped outputs see the placeholder as
/// their input). Static analysis uses it to follow references, including
/// through user data built with [`Output::map`].
pub(crate) fn with_placeholders<R>(f: impl FnOnce() -> R) -> R {
    struct Off;
    impl Drop for Off {
        fn drop(&mut self) {
            PLACEHOLDERS.with(|p| *p.borrow_mut() = false);
        }
    }
    PLACEHOLDERS.with(|p| *p.borrow_mut() = true);
    let _off = Off;
    f()
}

/// Serializes `f`'s subject while recording the resources its outputs come
/// from. Used when a resource is added to a stack to find its dependencies
/// from the data it consumes.
pub(crate) fn collect_dependencies<R>(f: impl FnOnce() -> R) -> (R, Vec<Urn>) {
    COLLECTOR.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let result = f();
    let mut deps = COLLECTOR
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    deps.sort();
    deps.dedup();
    (result, deps)
}

type Eval = Arc<dyn Fn() -> Option<Value> + Send + Sync>;

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
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        Self {
            deps: self.deps.clone(),
            source: self.source.clone(),
            eval: self.eval.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("dependencies", &self.deps)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<T> Output<T> {
    /// An output that reads `field` of the resource `urn` from its cells.
    pub(crate) fn field(urn: Urn, cells: Arc<Cells>, field: &'static str) -> Self {
        Self {
            deps: Arc::from(vec![urn.clone()]),
            source: Some((urn.clone(), field)),
            eval: Arc::new(move || {
                if PLACEHOLDERS.with(|p| *p.borrow()) {
                    Some(Value::String(placeholder(&urn, field)))
                } else {
                    cells.get(field)
                }
            }),
            _type: PhantomData,
        }
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

    /// The value as JSON, or `None` while it is unknown.
    pub(crate) fn resolve_json(&self) -> Option<Value> {
        (self.eval)()
    }
}

impl<T: DeserializeOwned> Output<T> {
    /// The value if the producing resource's outputs are known.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// assert_eq!(vpc.id().get(), None); // nothing has been deployed
    /// ```
    pub fn get(&self) -> Option<T> {
        self.resolve_json()
            .filter(|v| !contains_unknown(v))
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
            eval: Arc::new(move || {
                let value = inner()?;
                if contains_unknown(&value) {
                    return None;
                }
                let typed: T = serde_json::from_value(value).ok()?;
                serde_json::to_value(f(typed)).ok()
            }),
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
            eval: Arc::new(move || {
                let (x, y) = (a()?, b()?);
                if contains_unknown(&x) || contains_unknown(&y) {
                    return None;
                }
                Some(Value::Array(vec![x, y]))
            }),
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
        Output {
            deps: Arc::from(deps),
            source: None,
            eval: Arc::new(move || {
                let values: Option<Vec<Value>> = evals
                    .iter()
                    .map(|e| e().filter(|v| !contains_unknown(v)))
                    .collect();
                values.map(Value::Array)
            }),
            _type: PhantomData,
        }
    }
}

impl<T> Serialize for Output<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        COLLECTOR.with(|c| {
            if let Some(deps) = c.borrow_mut().as_mut() {
                deps.extend(self.deps.iter().cloned());
            }
        });
        match self.resolve_json() {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str(UNKNOWN),
        }
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

    /// The output this input reads, if it is one.
    pub fn as_output(&self) -> Option<&Output<T>> {
        match self {
            Input::Value(_) => None,
            Input::Output(o) => Some(o),
        }
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
    fn unresolved_output_serializes_as_unknown_and_records_dependency() {
        let cells = Arc::new(Cells::default());
        let out: Output<String> = Output::field(urn("a"), cells.clone(), "id");
        let input: Input<String> = out.clone().into();
        let (json, deps) = collect_dependencies(|| serde_json::to_value(&input).unwrap());
        assert_eq!(json, Value::String(UNKNOWN.into()));
        assert_eq!(deps, vec![urn("a")]);

        let mut m = Map::new();
        m.insert("id".into(), Value::String("vpc-1".into()));
        cells.set(m);
        assert_eq!(serde_json::to_value(&input).unwrap(), "vpc-1");
        assert_eq!(out.map(|s| s.len()).get(), Some(5));
    }

    #[test]
    fn zip_is_unknown_until_both_sides_are_known() {
        let (ca, cb) = (Arc::new(Cells::default()), Arc::new(Cells::default()));
        let a: Output<String> = Output::field(urn("a"), ca.clone(), "id");
        let b: Output<String> = Output::field(urn("b"), cb.clone(), "id");
        let z = a.zip(&b);
        let mut m = Map::new();
        m.insert("id".into(), Value::String("x".into()));
        ca.set(m.clone());
        assert_eq!(z.get(), None);
        cb.set(m);
        assert_eq!(z.get(), Some(("x".to_string(), "x".to_string())));
    }
}
