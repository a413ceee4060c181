//! The resource model: the [`Resource`] trait every resource type implements
//! once, [`Urn`]s that name declared resources, typed ids, [`Input`]/[`Output`]
//! values and [`Handle`]s returned when a resource joins a stack. This module
//! knows nothing about AWS specifics (see `aws`) or about planning.

mod ids;
mod output;

pub use ids::*;
pub(crate) use output::{
    collect_dependencies, contains_unknown, parse_placeholder, placeholder, with_placeholders,
    Cells, UNKNOWN,
};
pub use output::{Input, Output};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

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

impl std::str::FromStr for Urn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("urn:keel:")
            .ok_or_else(|| format!("`{s}` is not a keel URN (urn:keel:<stack>::<type>::<name>)"))?;
        let mut parts = rest.splitn(3, "::");
        match (parts.next(), parts.next(), parts.next()) {
            (Some(stack), Some(ty), Some(name)) if !stack.is_empty() && !ty.is_empty() => {
                Ok(Urn::new(stack, ty, name))
            }
            _ => Err(format!(
                "`{s}` is not a keel URN (urn:keel:<stack>::<type>::<name>)"
            )),
        }
    }
}

impl TryFrom<String> for Urn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
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
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A resource type, declared once: its props are this struct (serialized for
/// state and diffs), and the constants say how the engine treats it.
///
/// Implemented by every type in [`crate::aws`]. Users rarely implement it;
/// the providers must know the type too.
///
/// ```
/// use keel::prelude::*;
/// assert_eq!(<Vpc as Resource>::TYPE, "aws:ec2:Vpc");
/// assert!(<Subnet as Resource>::REPLACE_ON.contains(&"cidr_block"));
/// ```
pub trait Resource: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The type token, `aws:<service>:<Type>`.
    const TYPE: &'static str;
    /// Input fields whose change forces a replacement instead of an update.
    const REPLACE_ON: &'static [&'static str] = &[];
    /// Whether a replacement must delete the old resource before creating
    /// the new one (e.g. a subnet's CIDR can't exist twice in a VPC).
    const DELETE_BEFORE_REPLACE: bool = false;
    /// Typical seconds to create on AWS; the scheduler starts long chains first.
    const COST: u32 = 1;

    /// Checks of this declaration alone (formats, ranges). Checks that need
    /// other resources live in `analysis`.
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }

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

/// A resource declared in a [`crate::Stack`]: ask it for outputs.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc: Handle<Vpc> = stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert_eq!(vpc.urn().name(), "main");
/// let _id: Output<VpcId> = vpc.id();
/// ```
pub struct Handle<R> {
    urn: Urn,
    cells: Arc<Cells>,
    _type: PhantomData<fn() -> R>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Self {
            urn: self.urn.clone(),
            cells: self.cells.clone(),
            _type: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.urn)
    }
}

impl<R> Handle<R> {
    pub(crate) fn new(urn: Urn, cells: Arc<Cells>) -> Self {
        Self {
            urn,
            cells,
            _type: PhantomData,
        }
    }

    /// The resource's URN.
    pub fn urn(&self) -> &Urn {
        &self.urn
    }

    /// Output field `field` of this resource (used by typed accessors such
    /// as `vpc.id()`).
    pub(crate) fn output<T>(&self, field: &'static str) -> Output<T> {
        Output::field(self.urn.clone(), self.cells.clone(), field)
    }
}
