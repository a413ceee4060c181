//! Stacks shared by the examples and the integration tests, so the tests
//! exercise exactly what the examples deploy.

pub mod stacks;
