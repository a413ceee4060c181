//! Typed queries over a declared [`Stack`], with no deploy: the resources of
//! one type with their names ([`Stack::resources`]), one by name
//! ([`Stack::get`]), counts, and references followed to the declaration
//! they point at ([`Stack::follow`]). Components add their children to the
//! stack like any resource, so queries see them too. This module owns the
//! [`Declaration`] view and those queries; assertions built on them live in
//! [`crate::testing`].

use super::Stack;
use crate::resource::{Handle, Input, Output, Resource, Urn};
use std::collections::BTreeMap;
use std::fmt;

/// One declared resource of type `R`: its name, its URN and its typed
/// declaration (fields are reachable through `Deref`).
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let vpc = stack.get::<Vpc>("main").unwrap();
/// assert_eq!(vpc.name(), "main");
/// assert_eq!(vpc.cidr_block, "10.0.0.0/16");
/// ```
pub struct Declaration<'a, R> {
    urn: &'a Urn,
    resource: &'a R,
}

impl<R> Clone for Declaration<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Declaration<'_, R> {}

impl<R: fmt::Debug> fmt::Debug for Declaration<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.urn.name(), self.resource)
    }
}

impl<'a, R> Declaration<'a, R> {
    /// The name it was declared with (`stack.add(name, …)`).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let names: Vec<&str> = stack.resources::<Vpc>().map(|v| v.name()).collect();
    /// assert_eq!(names, ["main"]);
    /// ```
    pub fn name(&self) -> &'a str {
        self.urn.name()
    }

    /// Its URN.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let vpc = stack.get::<Vpc>("main").unwrap();
    /// assert_eq!(vpc.urn().to_string(), "urn:keel:demo::aws:ec2:Vpc::main");
    /// ```
    pub fn urn(&self) -> &'a Urn {
        self.urn
    }

    /// The typed declaration, with the lifetime of the stack.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let vpc: &Vpc = stack.get::<Vpc>("main").unwrap().resource();
    /// assert!(vpc.enable_dns_support);
    /// ```
    pub fn resource(&self) -> &'a R {
        self.resource
    }
}

impl<R> std::ops::Deref for Declaration<'_, R> {
    type Target = R;
    fn deref(&self) -> &R {
        self.resource
    }
}

/// A reference to a resource of type `R`: an input or an output carrying
/// its id, or its handle. What [`Stack::follow`] takes.
pub trait Reference<R: Resource> {
    /// The URN of the resource referred to, when it is declared in a stack
    /// (`None` for a literal id of a resource outside the stack).
    fn target(&self) -> Option<&Urn>;
}

impl<R: Resource> Reference<R> for Input<R::Id> {
    fn target(&self) -> Option<&Urn> {
        self.as_output().and_then(|o| Reference::<R>::target(o))
    }
}

impl<R: Resource> Reference<R> for Output<R::Id> {
    fn target(&self) -> Option<&Urn> {
        self.source().map(|(urn, _)| urn)
    }
}

impl<R: Resource> Reference<R> for Declaration<'_, R> {
    fn target(&self) -> Option<&Urn> {
        Some(self.urn)
    }
}

impl<R: Resource> Reference<R> for Handle<R> {
    fn target(&self) -> Option<&Urn> {
        Some(self.urn())
    }
}

impl Stack {
    /// Every declared resource of type `R`, in declaration order (a
    /// component's children included).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// stack.add("a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
    /// stack.add("b", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1b"));
    /// // `resource()` borrows from the stack (a field through `Deref`
    /// // borrows from the `Declaration`, which the closure drops)
    /// let zones: Vec<&str> = stack.resources::<Subnet>()
    ///     .map(|s| s.resource().availability_zone.as_str())
    ///     .collect();
    /// assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
    /// ```
    pub fn resources<R: Resource>(&self) -> impl Iterator<Item = Declaration<'_, R>> {
        self.resources.iter().filter_map(|d| {
            let resource = d.downcast::<R>()?;
            Some(Declaration {
                urn: &d.urn,
                resource,
            })
        })
    }

    /// The resource of type `R` declared as `name`, if any.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// assert!(stack.get::<Vpc>("main").is_some());
    /// assert!(stack.get::<Subnet>("main").is_none());
    /// ```
    pub fn get<R: Resource>(&self, name: &str) -> Option<Declaration<'_, R>> {
        let urn = Urn::new(self.name(), R::TYPE, name);
        self.at(&urn)
    }

    /// The declaration of the resource at `urn`, if it is an `R`.
    pub(crate) fn at<R: Resource>(&self, urn: &Urn) -> Option<Declaration<'_, R>> {
        let d = self.declared(urn)?;
        Some(Declaration {
            urn: &d.urn,
            resource: d.downcast::<R>()?,
        })
    }

    /// How many resources of type `R` are declared.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// assert_eq!(stack.count::<Vpc>(), 1);
    /// assert_eq!(stack.count::<Subnet>(), 0);
    /// ```
    pub fn count<R: Resource>(&self) -> usize {
        self.resources
            .iter()
            .filter(|d| d.urn.type_token() == R::TYPE)
            .count()
    }

    /// How many resources of each type are declared, by type token
    /// (`aws:ec2:Subnet`).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// assert_eq!(stack.counts()["aws:ec2:Vpc"], 1);
    /// ```
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for d in &self.resources {
            *counts.entry(d.urn.type_token()).or_default() += 1;
        }
        counts
    }

    /// The declaration a reference points at: an input or output carrying
    /// an `R`'s id (a route's NAT gateway, a NAT gateway's subnet), or a
    /// handle. `None` for a literal id of a resource outside the stack.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// stack.add("a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
    /// let subnet = stack.get::<Subnet>("a").unwrap();
    /// let parent = stack.follow::<Vpc>(&subnet.vpc_id).unwrap();
    /// assert_eq!(parent.name(), "main");
    /// ```
    pub fn follow<R: Resource>(&self, reference: &impl Reference<R>) -> Option<Declaration<'_, R>> {
        self.at(reference.target()?)
    }
}
