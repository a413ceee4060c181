//! Stacks shared by the examples and the integration tests.
