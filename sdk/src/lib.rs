//! # keel: infrastructure as ordinary Rust programs
//!
//! A program declares AWS resources with typed builders in a [`Stack`];
//! references between them (`subnet.vpc_id(vpc.id())`) are typed outputs that
//! become edges of a dependency graph. keel plans a diff against saved state,
//! applies it in dependency order with bounded concurrency, and records every
//! step durably. The embedded simulator ([`provider::sim`]) is the default
//! target, so programs and their tests run offline.
//!
//! ```
//! use keel::prelude::*;
//!
//! let mut stack = Stack::new("demo");
//! let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
//! let subnet = stack.add("app-a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
//! stack.export("subnet_id", subnet.id());
//! assert!(stack.validate().is_ok());
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

// The derive macros name this crate `::keel`, inside it as outside.
extern crate self as keel;

pub mod analysis;
pub mod aws;
pub mod cidr;
pub mod cli;
pub mod components;

pub mod engine;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod registry;
mod resource;
mod stack;
pub mod state;
pub mod testing;

pub use resource::*;
pub use stack::{
    Declaration, DeclarationError, DeclarationErrors, IntoValid, Probe, Reference, ResourceOptions,
    Stack, ValidStack,
};

#[doc(hidden)]
pub mod __private {
    //! Re-exports the derive macros' generated code uses.
    pub use serde_json;
}

/// Everything a program usually needs: `use keel::prelude::*;`.
pub mod prelude {
    // Every registered resource type, from the registry's one list.
    macro_rules! use_types {
        ($($R:path => $table:ident),* $(,)?) => { $(pub use $R;)* };
    }
    crate::registry::resource_types!(use_types);

    pub use crate::aws::ec2::{
        AclAction, AclRule, Connectivity, Peer, Protocol, RouteEntry, RouteTarget, Rule,
    };
    pub use crate::aws::ecs::{ManagedScaling, TaskNetwork};
    pub use crate::aws::ecs_task::{Container, NetworkMode, PortMapping};
    pub use crate::aws::elb::HealthCheck;
    pub use crate::resource::*;
    pub use crate::stack::{Probe, ResourceOptions, Stack};
}
