//! A [`Stack`]: the set of resources a program declares, with their
//! dependencies, options and exported outputs. This module owns declaring and
//! validating a stack (names, field checks, references, cycles, and the
//! cross-resource checks in `checks`); the pre-deploy analysis builds on a
//! valid stack, and planning and applying it live in `plan` and `engine`.

mod checks;
mod options;
mod query;

pub use options::ResourceOptions;
pub use query::{Declaration, Reference};

use crate::graph::Dag;
use crate::plan::Guards;
use crate::policy::Policy;
use crate::resource::{FieldError, FieldRule, Handle, Output, Resource, Tags, Template, Urn};
use serde::Serialize;
use serde_json::Value;
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// The engine-facing facts of a resource type, copied from its [`Resource`] impl.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schema {
    pub type_token: &'static str,
    pub fields: &'static [FieldRule],
    pub delete_before_replace: bool,
    pub cost: u32,
    pub taggable: bool,
}

impl Schema {
    fn of<R: Resource>() -> Self {
        Schema {
            type_token: R::TYPE,
            fields: R::FIELDS,
            delete_before_replace: R::DELETE_BEFORE_REPLACE,
            cost: R::COST,
            taggable: R::TAGGABLE,
        }
    }
}

/// A resource with its type erased, as the engine holds it.
pub(crate) trait ErasedResource: Send + Sync {
    fn validate(&self) -> Vec<FieldError>;
    fn tags(&self) -> &Tags;
    fn as_any(&self) -> &dyn Any;
}

impl<R: Resource> ErasedResource for R {
    fn validate(&self) -> Vec<FieldError> {
        Resource::validate(self)
    }
    fn tags(&self) -> &Tags {
        Resource::tags(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One declared resource.
pub(crate) struct Declared {
    pub urn: Urn,
    pub schema: Schema,
    pub resource: Box<dyn ErasedResource>,
    /// The inputs, serialized once at declaration with references to the
    /// outputs they read (or why they could not be serialized).
    pub inputs: Result<Template, serde_json::Error>,
    /// Data dependencies (from inputs) and explicit ones, sorted, deduplicated.
    pub deps: Vec<Urn>,
    /// Its lifecycle guards (protect, retain on delete, ignored fields).
    pub guards: Guards,
}

impl Declared {
    /// The declaration as type `R`, if it is one.
    pub(crate) fn downcast<R: Resource>(&self) -> Option<&R> {
        self.resource.as_any().downcast_ref::<R>()
    }
}

/// A value read from the cloud after `up` finishes, optionally waiting (with
/// a bound) until it reaches a minimum, e.g. an ECS cluster's registered
/// container instance count.
///
/// ```
/// use keel::prelude::*;
/// use std::time::Duration;
/// let mut stack = Stack::new("demo");
/// let cluster = stack.add("app", EcsCluster::new());
/// let probe = cluster.registered_container_instances().wait_for_at_least(2, Duration::from_secs(60));
/// stack.export_probe("registered", probe);
/// ```
#[derive(Clone, Debug)]
pub struct Probe {
    pub(crate) urn: Urn,
    pub(crate) field: &'static str,
    pub(crate) at_least: Option<u64>,
    pub(crate) timeout: Duration,
    pub(crate) as_fraction: bool,
}

impl Probe {
    pub(crate) fn new(urn: Urn, field: &'static str) -> Self {
        Self {
            urn,
            field,
            at_least: None,
            timeout: Duration::ZERO,
            as_fraction: false,
        }
    }

    /// Polls until the value is at least `n`, for at most `timeout`. If it
    /// isn't reached, `up` reports the export as not met and exits non-zero.
    pub fn wait_for_at_least(mut self, n: u64, timeout: Duration) -> Self {
        self.at_least = Some(n);
        self.timeout = timeout;
        self
    }

    /// Exports the value as `value/minimum` (`"2/2"`), as a fraction of the
    /// minimum [`Probe::wait_for_at_least`] waits for, rather than a number.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use std::time::Duration;
    /// let mut stack = Stack::new("demo");
    /// let cluster = stack.add("app", EcsCluster::new());
    /// let probe = cluster.registered_container_instances().wait_for_at_least(2, Duration::from_secs(60));
    /// stack.export_probe("registered", probe.as_fraction());
    /// ```
    pub fn as_fraction(mut self) -> Self {
        self.as_fraction = true;
        self
    }
}

pub(crate) enum Export {
    Value(Output<Value>),
    Probe(Probe),
}

/// Everything wrong with a stack's declaration, found before any provider
/// call. Each names the resource and, where it applies, the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeclarationError {
    /// Two resources of one type share a logical name.
    #[error("{urn}: the name `{name}` is declared twice for type {type_token}")]
    Duplicate {
        /// The resource declared twice.
        urn: Urn,
        /// Its logical name.
        name: String,
        /// Its type.
        type_token: String,
    },
    /// A field's value is invalid.
    #[error("{urn}: field `{field}`: {message}")]
    Field {
        /// The resource.
        urn: Urn,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A dependency on a resource the stack doesn't declare.
    #[error("{urn}: depends on {missing}, which is not declared in this stack")]
    MissingReference {
        /// The resource with the dangling reference.
        urn: Urn,
        /// What it refers to.
        missing: Urn,
    },
    /// Resources that depend on each other in a loop.
    #[error("dependency cycle: {}", format_cycle(.urns))]
    Cycle {
        /// The resources in the cycle.
        urns: Vec<Urn>,
    },
    /// The stack's own name can't be used.
    #[error("stack name `{name}`: {message}")]
    StackName {
        /// The name given.
        name: String,
        /// What is wrong.
        message: String,
    },
}

fn format_cycle(urns: &[Urn]) -> String {
    let mut names: Vec<String> = urns.iter().map(|u| u.to_string()).collect();
    if let Some(first) = names.first().cloned() {
        names.push(first);
    }
    names.join(" -> ")
}

/// All declaration errors of a stack, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct DeclarationErrors(pub Vec<DeclarationError>);

/// The resources a program declares, and the outputs it exports.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("network");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let subnet = stack.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// stack.export("subnet_id", subnet.id());
/// assert_eq!(stack.len(), 2);
/// assert!(stack.validate().is_ok());
/// ```
pub struct Stack {
    name: String,
    pub(crate) resources: Vec<Declared>,
    index: BTreeMap<Urn, usize>,
    pub(crate) exports: Vec<(String, Export)>,
    /// Problems found as resources are added (duplicates, bad options).
    add_errors: Vec<DeclarationError>,
    /// What the analysis knows about the declarations, built on first use
    /// and dropped when a resource is added.
    analysis: OnceLock<crate::analysis::declared::Declared>,
    /// The policies `check`, `preview` and `up` run (see [`Stack::policy`]).
    policies: Vec<Policy>,
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("name", &self.name)
            .field(
                "resources",
                &self.resources.iter().map(|d| &d.urn).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Stack {
    /// An empty stack. The name keys its state directory.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            resources: Vec::new(),
            index: BTreeMap::new(),
            exports: Vec::new(),
            add_errors: Vec::new(),
            analysis: OnceLock::new(),
            policies: Vec::new(),
        }
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many resources are declared.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The URNs of the declared resources, in declaration order.
    pub fn urns(&self) -> impl Iterator<Item = &Urn> {
        self.resources.iter().map(|d| &d.urn)
    }

    /// Declares resource `name`. Inputs that are outputs of other resources
    /// become dependencies.
    pub fn add<R: Resource>(&mut self, name: &str, resource: R) -> Handle<R> {
        self.add_with(name, resource, ResourceOptions::default())
    }

    /// Declares resource `name` with options such as explicit dependencies
    /// and lifecycle guards.
    pub fn add_with<R: Resource>(
        &mut self,
        name: &str,
        resource: R,
        options: ResourceOptions,
    ) -> Handle<R> {
        let urn = Urn::new(&self.name, R::TYPE, name);
        let handle = Handle::new(urn.clone());
        self.analysis = OnceLock::new();
        if self.index.contains_key(&urn) {
            self.add_errors.push(DeclarationError::Duplicate {
                urn: urn.clone(),
                name: name.to_string(),
                type_token: R::TYPE.to_string(),
            });
            return handle;
        }
        let inputs = Template::of(&resource);
        let mut deps = inputs
            .as_ref()
            .map(|t| t.deps().to_vec())
            .unwrap_or_default();
        let (guards, errors) = options.guards::<R>(&urn);
        self.add_errors.extend(errors);
        deps.extend(options.depends_on);
        deps.sort();
        deps.dedup();
        self.index.insert(urn.clone(), self.resources.len());
        self.resources.push(Declared {
            urn,
            schema: Schema::of::<R>(),
            resource: Box::new(resource),
            inputs,
            deps,
            guards,
        });
        handle
    }

    /// Registers a policy: `keel::ops::check`, `preview` and `up` run it
    /// next to the network checks (an error-severity violation blocks
    /// `preview` and `up` like a network error), and
    /// [`crate::testing::assert_policies`] runs it in tests.
    ///
    /// ```
    /// use keel::policy::builtins;
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.policy(builtins::require_tag("team"));
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let report = keel::ops::check(&stack).unwrap();
    /// assert_eq!(report.codes(), ["P002"]);
    /// ```
    pub fn policy(&mut self, policy: Policy) {
        self.policies.push(policy);
    }

    /// The registered policies, in registration order.
    ///
    /// ```
    /// use keel::policy::builtins;
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.policy(builtins::no_ssh_from_anywhere());
    /// let names: Vec<&str> = stack.policies().iter().map(|p| p.name()).collect();
    /// assert_eq!(names, ["no-ssh-from-anywhere"]);
    /// ```
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Exports an output (shown after `up`, and in `--json` output; as
    /// `[sensitive]` if the output is secret, see [`Output::secret`]).
    pub fn export<T>(&mut self, name: &str, output: Output<T>) {
        self.exports
            .push((name.to_string(), Export::Value(output.erase())));
    }

    /// The names of exports whose value is secret ([`Output::secret`]).
    pub(crate) fn secret_exports(&self) -> Vec<String> {
        self.exports
            .iter()
            .filter(|(_, e)| matches!(e, Export::Value(o) if o.is_secret()))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Exports a value read from the cloud after `up` (see [`Probe`]).
    pub fn export_probe(&mut self, name: &str, probe: Probe) {
        self.exports.push((name.to_string(), Export::Probe(probe)));
    }

    pub(crate) fn declared(&self, urn: &Urn) -> Option<&Declared> {
        self.index.get(urn).map(|&i| &self.resources[i])
    }

    /// What the analysis knows about the declarations (the network model,
    /// the ECS hosts, the load balancers), built once per set of
    /// declarations: network assertions over a large stack share it.
    pub(crate) fn analysis(&self) -> &crate::analysis::declared::Declared {
        self.analysis
            .get_or_init(|| crate::analysis::declared::declared(self))
    }

    /// The declaration of `urn` as type `R`.
    pub(crate) fn get_as<R: Resource>(&self, urn: &Urn) -> Option<&R> {
        self.declared(urn).and_then(|d| d.downcast::<R>())
    }

    /// The dependency graph of the declared resources (edges to undeclared
    /// resources are left out; [`Stack::validate`] reports them).
    pub(crate) fn dag(&self) -> Dag<Urn> {
        let mut dag = Dag::new();
        for d in &self.resources {
            dag.add_node(d.urn.clone());
        }
        for d in &self.resources {
            for dep in &d.deps {
                if self.index.contains_key(dep) {
                    dag.add_edge(&d.urn, dep);
                }
            }
        }
        dag
    }

    /// Declared resources with each after its dependencies, ties broken by
    /// declaration order (so plans read like the program). Declaration
    /// order if there is a cycle ([`Stack::validate`] reports it).
    pub(crate) fn dependency_order(&self) -> Vec<&Declared> {
        let mut dag = Dag::new();
        for (i, d) in self.resources.iter().enumerate() {
            dag.add_node(i);
            for dep in &d.deps {
                if let Some(&j) = self.index.get(dep) {
                    dag.add_edge(&i, &j);
                }
            }
        }
        let order = dag
            .topological_order()
            .unwrap_or_else(|| (0..self.resources.len()).collect());
        order.into_iter().map(|i| &self.resources[i]).collect()
    }

    /// Every problem with the declaration: duplicate names, invalid fields,
    /// references to undeclared resources, cycles, and cross-resource checks
    /// (CIDR containment and overlap, capacity ranges).
    pub fn validate(&self) -> Result<(), DeclarationErrors> {
        self.validated().map(|_| ())
    }

    /// [`Stack::validate`], returning the proof operations take.
    pub fn validated(&self) -> Result<ValidStack<'_>, DeclarationErrors> {
        let mut errors = Vec::new();
        if let Some(message) = stack_name_problem(&self.name) {
            errors.push(DeclarationError::StackName {
                name: self.name.clone(),
                message: message.to_string(),
            });
        }
        errors.extend(self.add_errors.iter().cloned());
        for d in &self.resources {
            for e in d.resource.validate() {
                errors.push(DeclarationError::Field {
                    urn: d.urn.clone(),
                    field: e.field,
                    message: e.message,
                });
            }
            for dep in &d.deps {
                if !self.index.contains_key(dep) {
                    errors.push(DeclarationError::MissingReference {
                        urn: d.urn.clone(),
                        missing: dep.clone(),
                    });
                }
            }
        }
        for cycle in self.dag().cycles() {
            errors.push(DeclarationError::Cycle { urns: cycle });
        }
        for (urn, e) in checks::cross_resource(self) {
            errors.push(DeclarationError::Field {
                urn,
                field: e.field,
                message: e.message,
            });
        }
        // Stable and deduplicated (a field error may be found twice).
        let mut seen = BTreeSet::new();
        errors.retain(|e| seen.insert(e.to_string()));
        if errors.is_empty() {
            Ok(ValidStack(self))
        } else {
            Err(DeclarationErrors(errors))
        }
    }
}

// A declared stack holds no values and no interior mutability: planning it
// from several threads at once is safe.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Stack>();
};

/// A [`Stack`] that passed [`Stack::validate`]: what the operations in
/// [`crate::ops`] and [`crate::engine::Deployment::open_valid`] take, so a
/// stack is validated once per operation however many layers it crosses.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let valid = stack.validated().unwrap();
/// assert_eq!(valid.name(), "demo"); // derefs to the stack
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ValidStack<'a>(&'a Stack);

impl<'a> ValidStack<'a> {
    /// The stack.
    pub fn stack(self) -> &'a Stack {
        self.0
    }
}

impl std::ops::Deref for ValidStack<'_> {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        self.0
    }
}

/// A stack, validated or not, as operations accept it: `&Stack` is
/// validated on the way in, a [`ValidStack`] is taken as it is.
///
/// ```
/// use keel::prelude::*;
/// use keel::IntoValid;
/// let stack = Stack::new("demo");
/// assert!((&stack).into_valid().is_ok());
/// assert!((&Stack::new("no/slash")).into_valid().is_err());
/// ```
pub trait IntoValid<'a> {
    /// The validated stack, or everything wrong with its declaration.
    fn into_valid(self) -> Result<ValidStack<'a>, DeclarationErrors>;
}

impl<'a> IntoValid<'a> for &'a Stack {
    fn into_valid(self) -> Result<ValidStack<'a>, DeclarationErrors> {
        self.validated()
    }
}

impl<'a> IntoValid<'a> for ValidStack<'a> {
    fn into_valid(self) -> Result<ValidStack<'a>, DeclarationErrors> {
        Ok(self)
    }
}

/// What is wrong with `name` as a stack name (it is a path component of
/// the state directory), if anything.
fn stack_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 100 {
        return Some("must be 1 to 100 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        || name.starts_with('.')
    {
        return Some("may contain only letters, digits, `-`, `_` and `.`, and not start with `.`");
    }
    None
}
