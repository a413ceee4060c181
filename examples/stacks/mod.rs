//! One module per example stack.

pub mod private_ecs;
