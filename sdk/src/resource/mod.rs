//! The resource model: the [`Resource`] trait every resource type implements
//! once, [`Urn`]s that name declared resources, typed ids, [`Input`]/[`Output`]
//! values and [`Handle`]s returned when a resource joins a stack. This module
//! knows nothing about AWS specifics (see `aws`) or about planning.

mod ids;
mod output;
mod template;

pub use ids::*;
pub use keel_macros::References;
pub use keel_macros::{Outputs, Resource};
pub use output::{Input, Output, OutputValues};
pub(crate) use output::{
    Placeholders, Resolve, UNKNOWN, contains_unknown, parse_placeholder, placeholder,
};
pub use template::References;
pub(crate) use template::{Template, pointer_token};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Tags on a resource: AWS's key/value pairs.
pub type Tags = BTreeMap<String, String>;

/// The tag key keel writes on every resource with its URN.
pub const URN_TAG: &str = "keel:urn";
/// The tag key keel writes on every resource with its stack's name.
pub const STACK_TAG: &str = "keel:stack";

/// The unique name of a declared resource: stack, type and logical name.
///
/// ```
/// let urn = keel::Urn::new("prod", "aws:ec2:Vpc", "main");
/// assert_eq!(urn.to_string(), "urn:keel:prod::aws:ec2:Vpc::main");
/// assert_eq!(urn.name(), "main");
/// assert_eq!(urn.type_token(), "aws:ec2:Vpc");
/// assert_eq!(urn.to_string().parse::<keel::Urn>().unwrap(), urn);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Urn {
    stack: String,
    type_token: String,
    name: String,
}

impl Urn {
    /// The URN of resource `name` of type `type_token` in `stack`.
    pub fn new(stack: &str, type_token: &str, name: &str) -> Self {
        Self {
            stack: stack.to_string(),
            type_token: type_token.to_string(),
            name: name.to_string(),
        }
    }

    /// The stack the resource belongs to.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The resource type, e.g. `aws:ec2:Subnet`.
    pub fn type_token(&self) -> &str {
        &self.type_token
    }

    /// The logical name given in the program.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "urn:keel:{}::{}::{}",
            self.stack, self.type_token, self.name
        )
    }
}

impl fmt::Debug for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string that is not a keel URN.
///
/// ```
/// let e = "vpc-1".parse::<keel::Urn>().unwrap_err();
/// assert_eq!(e.to_string(), "`vpc-1` is not a keel URN (urn:keel:<stack>::<type>::<name>)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a keel URN (urn:keel:<stack>::<type>::<name>)")]
pub struct UrnError(String);

impl std::str::FromStr for Urn {
    type Err = UrnError;
    fn from_str(s: &str) -> Result<Self, UrnError> {
        let rest = s
            .strip_prefix("urn:keel:")
            .ok_or_else(|| UrnError(s.to_string()))?;
        let mut parts = rest.splitn(3, "::");
        match (parts.next(), parts.next(), parts.next()) {
            (Some(stack), Some(ty), Some(name)) if !stack.is_empty() && !ty.is_empty() => {
                Ok(Urn::new(stack, ty, name))
            }
            _ => Err(UrnError(s.to_string())),
        }
    }
}

impl TryFrom<String> for Urn {
    type Error = UrnError;
    fn try_from(s: String) -> Result<Self, UrnError> {
        s.parse()
    }
}

impl From<Urn> for String {
    fn from(u: Urn) -> String {
        u.to_string()
    }
}

/// A problem with one field of one resource's declaration, found before any
/// provider call.
///
/// ```
/// let e = keel::FieldError::new("cidr_block", "`10.0.0.0/33` is not a valid IPv4 CIDR");
/// assert_eq!(e.field, "cidr_block");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as named in the builder (`cidr_block`, `desired_capacity`).
    pub field: String,
    /// What is wrong and what would be right.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`; `message` is any error or text.
    pub fn new(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// How the planner compares a list field of a resource.
///
/// ```
/// use keel::prelude::*;
/// let ingress = SecurityGroup::FIELDS.iter().find(|f| f.name == "ingress").unwrap();
/// assert!(matches!(ingress.list, ListRule::Set));
/// ```
#[derive(Clone, Copy, Debug)]
pub enum ListRule {
    /// Element by element, by position (the order means something).
    Ordered,
    /// As a set of values: reordering is no change; an element added or
    /// removed is one change.
    Set,
    /// As a set whose elements are matched by a key (a route by its
    /// destination), so a changed element shows as changed, not replaced.
    Keyed(fn(&serde_json::Value) -> Option<String>),
}

/// What the engine must know about one field of a resource type, written as
/// an attribute on the field (`#[resource(replace)]`, `#[resource(set)]`,
/// `#[resource(set_key = …)]`, `#[resource(sensitive)]`).
///
/// ```
/// use keel::prelude::*;
/// let cidr = Subnet::FIELDS.iter().find(|f| f.name == "cidr_block").unwrap();
/// assert!(cidr.replace);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FieldRule {
    /// The field's name, as it serializes.
    pub name: &'static str,
    /// A change replaces the resource.
    pub replace: bool,
    /// A change is refused at plan time: the resource can neither be
    /// updated in place nor quietly replaced (replacing it would lose what
    /// it holds). Moving to a new value means declaring a new resource.
    pub immutable: bool,
    /// How a list is compared.
    pub list: ListRule,
    /// The value is shown as `[sensitive]`.
    pub sensitive: bool,
}

/// One field of resource type `R`, named by a constant `#[derive(Resource)]`
/// generates for every field (`Vpc::CIDR_BLOCK`, `AutoScalingGroup::DESIRED_CAPACITY`),
/// so a misspelt field doesn't compile. [`crate::ResourceOptions::ignore_changes`]
/// takes them.
///
/// ```
/// use keel::prelude::*;
/// let f: Field<AutoScalingGroup> = AutoScalingGroup::DESIRED_CAPACITY;
/// assert_eq!(f.name(), "desired_capacity");
/// assert_eq!(f.to_string(), "aws:autoscaling:Group.desired_capacity");
/// ```
pub struct Field<R> {
    name: &'static str,
    resource: std::marker::PhantomData<fn() -> R>,
}

impl<R> Field<R> {
    /// The field `name` of `R`: what the generated constants call. Use the
    /// constants; a name given here isn't checked against the type.
    #[doc(hidden)]
    pub const fn new_unchecked(name: &'static str) -> Self {
        Self {
            name,
            resource: std::marker::PhantomData,
        }
    }

    /// The field's name, as it serializes.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<R> Clone for Field<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Field<R> {}

impl<R> PartialEq for Field<R> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<R> Eq for Field<R> {}

impl<R: Resource> fmt::Debug for Field<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field({self})")
    }
}

impl<R: Resource> fmt::Display for Field<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", R::TYPE, self.name)
    }
}

/// A resource type, declared once with `#[derive(Resource)]`: its props are
/// the struct (serialized for state and diffs), its typed id and outputs are
/// associated types, and the per-field rules are attributes on the fields.
///
/// Implemented by every type in [`crate::aws`]; the providers give each type
/// its behaviour.
///
/// ```
/// use keel::prelude::*;
/// assert_eq!(<Vpc as Resource>::TYPE, "aws:ec2:Vpc");
/// assert!(<Subnet as Resource>::field("cidr_block").is_some_and(|f| f.replace));
/// let _: Option<<Vpc as Resource>::Id> = None::<VpcId>;
/// ```
pub trait Resource:
    Clone + fmt::Debug + Serialize + DeserializeOwned + References + Send + Sync + 'static
{
    /// The type token, `aws:<service>:<Type>`.
    const TYPE: &'static str;
    /// The typed cloud id (`VpcId`, `RoleName`…).
    type Id: CloudId;
    /// What the cloud reports once it exists.
    type Outputs: ResourceOutputs<Id = Self::Id>;
    /// Fields with rules (replacement, set-like lists, sensitive); fields
    /// not listed are plain, ordered and updatable in place.
    const FIELDS: &'static [FieldRule] = &[];
    /// Whether a replacement must delete the old resource before creating
    /// the new one (e.g. a subnet's CIDR can't exist twice in a VPC).
    const DELETE_BEFORE_REPLACE: bool = false;
    /// Typical seconds to create on AWS; the scheduler starts long chains
    /// first and the simulator takes this long (scaled) to create it.
    const COST: u32 = 1;
    /// Whether AWS keeps tags on this type (routes and main route table
    /// associations have none: their `tags` field is keel's bookkeeping only).
    ///
    /// ```
    /// use keel::prelude::*;
    /// assert!(<Vpc as Resource>::TAGGABLE);
    /// assert!(!<Route as Resource>::TAGGABLE);
    /// ```
    const TAGGABLE: bool = true;

    /// The rule of field `name`, if it has one.
    fn field(name: &str) -> Option<&'static FieldRule> {
        Self::FIELDS.iter().find(|f| f.name == name)
    }

    /// Checks of this declaration alone (formats, ranges). Checks that need
    /// other resources live in `analysis`.
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// The resource's declared tags.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let vpc = Vpc::new("10.0.0.0/16").tag("team", "platform");
    /// assert_eq!(vpc.tags().get("team").map(String::as_str), Some("platform"));
    /// ```
    fn tags(&self) -> &Tags;

    /// The resource's tags, so the engine and users can add to them.
    fn tags_mut(&mut self) -> &mut Tags;

    /// Adds a tag.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let vpc = Vpc::new("10.0.0.0/16").tag("team", "platform");
    /// assert_eq!(vpc.tags["team"], "platform");
    /// ```
    fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self
    where
        Self: Sized,
    {
        self.tags_mut().insert(key.into(), value.into());
        self
    }
}

/// The outputs struct of a resource type, declared with `#[derive(Outputs)]`:
/// it names the typed id and the accessor struct a [`Handle`] dereferences to.
///
/// ```
/// use keel::aws::ecs::EcsClusterOutputs;
/// use keel::prelude::*;
/// use keel::ResourceOutputs;
/// let o = EcsClusterOutputs {
///     id: ClusterName::new("app"),
///     name: ClusterName::new("app"),
///     arn: Arn::new("arn:aws:ecs:us-east-1:123456789012:cluster/app"),
///     status: "ACTIVE".into(),
///     registered_container_instances_count: 0,
///     connected_container_instances_count: 0,
/// };
/// assert_eq!(o.id().as_str(), "app");
/// ```
pub trait ResourceOutputs:
    Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The typed cloud id (the `id` field).
    type Id: CloudId;
    /// The generated struct of typed `Output<T>` accessors, one per field.
    type Refs: From<OutputSource> + Clone + fmt::Debug;
    /// The id.
    fn id(&self) -> &Self::Id;
}

/// Where a declared resource's outputs come from: what the generated output
/// accessors read. Made by [`crate::Stack::add`].
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let id: Output<VpcId> = vpc.id(); // an accessor of the generated `VpcOutputRefs`
/// assert_eq!(id.source().map(|(urn, field)| (urn.name(), field)), Some(("main", "id")));
/// ```
#[derive(Clone)]
pub struct OutputSource {
    urn: Urn,
}

impl fmt::Debug for OutputSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OutputSource({})", self.urn)
    }
}

impl OutputSource {
    /// Output `field` of the resource: used by generated accessors, which
    /// take the field name from the outputs struct itself.
    #[doc(hidden)]
    pub fn output<T>(&self, field: &'static str) -> Output<T> {
        Output::field(self.urn.clone(), field)
    }
}

/// A resource declared in a [`crate::Stack`]: ask it for outputs.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc: Handle<Vpc> = stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert_eq!(vpc.urn().name(), "main");
/// let _id: Output<VpcId> = vpc.id();
/// ```
pub struct Handle<R: Resource> {
    urn: Urn,
    refs: <R::Outputs as ResourceOutputs>::Refs,
}

impl<R: Resource> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Self {
            urn: self.urn.clone(),
            refs: self.refs.clone(),
        }
    }
}

impl<R: Resource> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.urn)
    }
}

impl<R: Resource> std::ops::Deref for Handle<R> {
    type Target = <R::Outputs as ResourceOutputs>::Refs;
    fn deref(&self) -> &Self::Target {
        &self.refs
    }
}

impl<R: Resource> Handle<R> {
    pub(crate) fn new(urn: Urn) -> Self {
        let refs = OutputSource { urn: urn.clone() }.into();
        Self { urn, refs }
    }

    /// The resource's URN.
    pub fn urn(&self) -> &Urn {
        &self.urn
    }
}
