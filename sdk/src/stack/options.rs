//! [`ResourceOptions`]: what a declaration says beyond the resource's own
//! properties, explicit dependencies and lifecycle guards (`protect`,
//! `retain_on_delete`, `ignore_changes`), and turning them into a declared
//! resource's [`Guards`] when it joins a stack.

use super::DeclarationError;
use crate::plan::Guards;
use crate::resource::{Field, Resource, Urn};

/// Options that are not properties of the resource itself: explicit
/// dependencies and lifecycle guards (previews show the guards).
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let igw = stack.add("igw", InternetGateway::new());
/// // Something that needs the gateway without consuming any of its outputs:
/// let eip = stack.add_with("nat-ip", ElasticIp::new(), ResourceOptions::new().depends_on(igw.urn()));
/// # let _ = eip;
/// ```
#[derive(Clone, Debug, Default)]
pub struct ResourceOptions {
    pub(super) depends_on: Vec<Urn>,
    protect: bool,
    retain_on_delete: bool,
    /// (type token, field) of each ignored field, checked against the
    /// resource's type when it is added.
    ignore_changes: Vec<(&'static str, &'static str)>,
}

impl ResourceOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an explicit dependency for ordering that data flow doesn't show.
    pub fn depends_on(mut self, urn: &Urn) -> Self {
        self.depends_on.push(urn.clone());
        self
    }

    /// Protects the resource: a plan that would delete it (removed from
    /// the program, or `destroy`) or replace it is refused before any
    /// provider call. State records the protection, so it holds after the
    /// resource leaves the program; to drop it, remove `.protect()` and run
    /// `up` (which records that without touching the cloud).
    ///
    /// ```
    /// use keel::prelude::*;
    /// use keel::provider::sim::SimProvider;
    /// use keel::state::MemoryStore;
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let (sim, store) = (Arc::new(SimProvider::in_memory()), MemoryStore::new("demo"));
    /// let mut stack = Stack::new("demo");
    /// stack.add_with("main", Vpc::new("10.0.0.0/16"), ResourceOptions::new().protect());
    /// let opts = Default::default();
    /// keel::ops::up(&stack, sim.clone(), Box::new(store.clone()), &opts).await.unwrap();
    /// let refused = keel::ops::destroy(&stack, sim, Box::new(store), &opts).await.unwrap_err();
    /// assert!(refused.to_string().contains("is protected"));
    /// # });
    /// ```
    pub fn protect(mut self) -> Self {
        self.protect = true;
        self
    }

    /// Retains the resource on delete: when a plan deletes it (removed from
    /// the program, `destroy`, or the old half of a replacement) keel drops
    /// it from state and leaves it in the cloud, with no provider call.
    /// Recorded in state, so it holds after the resource leaves the program.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use keel::provider::sim::SimProvider;
    /// use keel::state::MemoryStore;
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let (sim, store) = (SimProvider::in_memory(), MemoryStore::new("demo"));
    /// let mut stack = Stack::new("demo");
    /// stack.add_with("main", Vpc::new("10.0.0.0/16"), ResourceOptions::new().retain_on_delete());
    /// let opts = Default::default();
    /// keel::ops::up(&stack, Arc::new(sim.clone()), Box::new(store.clone()), &opts).await.unwrap();
    /// keel::ops::destroy(&stack, Arc::new(sim.clone()), Box::new(store), &opts).await.unwrap();
    /// assert_eq!(sim.resource_count(), 1); // still in the cloud, no longer in state
    /// # });
    /// ```
    pub fn retain_on_delete(mut self) -> Self {
        self.retain_on_delete = true;
        self
    }

    /// Ignores changes to `fields` once the resource exists: the value state
    /// records is kept for them when planning, updating and replacing, so
    /// neither a program edit nor drift in the cloud (found by a refresh) is
    /// planned; a create uses the declared value. Fields are the constants
    /// `#[derive(Resource)]` generates (see [`Field`]), so a misspelt one
    /// doesn't compile; one of another resource type is a declaration error.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// # let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// # let a = stack.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    /// # let lt = stack.add("web", LaunchTemplate::new("ami-0123456789abcdef0", "t3.micro"));
    /// // Autoscaling policies move the desired capacity; don't move it back.
    /// stack.add_with(
    ///     "web",
    ///     AutoScalingGroup::new(lt.id(), 1, 4).desired_capacity(2).subnet(a.id()),
    ///     ResourceOptions::new().ignore_changes([AutoScalingGroup::DESIRED_CAPACITY]),
    /// );
    /// assert!(stack.validate().is_ok());
    /// ```
    pub fn ignore_changes<R: Resource>(
        mut self,
        fields: impl IntoIterator<Item = Field<R>>,
    ) -> Self {
        for f in fields {
            let entry = (R::TYPE, f.name());
            if !self.ignore_changes.contains(&entry) {
                self.ignore_changes.push(entry);
            }
        }
        self
    }

    /// The guards of a resource of type `R` declared as `urn`, and what is
    /// wrong with them.
    pub(super) fn guards<R: Resource>(&self, urn: &Urn) -> (Guards, Vec<DeclarationError>) {
        let mut errors = Vec::new();
        let mut ignore_changes = Vec::new();
        for &(type_token, field) in &self.ignore_changes {
            if type_token == R::TYPE {
                ignore_changes.push(field.to_string());
            } else {
                errors.push(DeclarationError::Field {
                    urn: urn.clone(),
                    field: field.to_string(),
                    message: format!(
                        "`ignore_changes` names `{field}` of {type_token}, but this resource is a {}",
                        R::TYPE
                    ),
                });
            }
        }
        let guards = Guards {
            protect: self.protect,
            retain_on_delete: self.retain_on_delete,
            ignore_changes,
        };
        (guards, errors)
    }
}
