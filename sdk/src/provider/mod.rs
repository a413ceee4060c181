//! The [`Provider`] contract: create, read, update and delete one resource,
//! with request and response structs (Pulumi's shape, minus the 35 methods).
//! Providers receive resolved inputs as JSON (every output they depend on is
//! known by then) and return the resource's outputs. This module owns the
//! trait and its error type; `sim` is the embedded simulator.

#[cfg(feature = "aws")]
pub mod aws;
pub mod sim;

use crate::resource::Urn;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Outputs of a resource: the fields its `*Outputs` struct declares.
pub type Outputs = Map<String, Value>;

/// Create a resource.
#[derive(Clone, Debug)]
pub struct CreateRequest {
    /// The resource; its type token and logical name are in the URN.
    pub urn: Urn,
    /// The resolved inputs, as the resource struct serializes, tags included.
    pub inputs: Value,
}

/// What a create produced.
#[derive(Clone, Debug)]
pub struct CreateResponse {
    /// The cloud id (`vpc-…`, a role name…).
    pub id: String,
    /// The outputs.
    pub outputs: Outputs,
}

/// Read a resource as it is now.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    /// The resource.
    pub urn: Urn,
    /// Its cloud id.
    pub id: String,
    /// The inputs recorded for it (the shape to answer in).
    pub inputs: Value,
    /// The outputs recorded for it.
    pub outputs: Outputs,
}

/// A resource as the cloud has it now.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadResponse {
    /// Its configuration in the shape of its inputs: the recorded inputs
    /// with what the provider can observe replaced by what it observed.
    pub inputs: Value,
    /// Its outputs.
    pub outputs: Outputs,
}

/// Update a resource in place.
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    /// The resource.
    pub urn: Urn,
    /// Its cloud id.
    pub id: String,
    /// The inputs it was created or last updated with.
    pub old_inputs: Value,
    /// The outputs recorded last time.
    pub old_outputs: Outputs,
    /// The new resolved inputs.
    pub new_inputs: Value,
}

/// Delete a resource.
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    /// The resource.
    pub urn: Urn,
    /// Its cloud id.
    pub id: String,
    /// The inputs it was created or last updated with.
    pub inputs: Value,
    /// The outputs recorded last time.
    pub outputs: Outputs,
}

/// A failed provider call, with AWS's error code where there is one.
///
/// ```
/// let e = keel::provider::ProviderError::new("InvalidSubnet.Range", "The CIDR '10.1.0.0/24' is invalid.");
/// assert_eq!(e.to_string(), "InvalidSubnet.Range: The CIDR '10.1.0.0/24' is invalid.");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderError {
    /// AWS's error code (`DependencyViolation`, `InvalidSubnet.Conflict`…).
    pub code: String,
    /// The message.
    pub message: String,
    /// Whether trying again later may succeed (throttling, 5xx).
    pub retryable: bool,
}

impl ProviderError {
    /// A permanent error.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    /// Inputs that don't deserialize into the resource type: a keel bug or a
    /// state file written by another version.
    pub fn bad_inputs(urn: &Urn, e: impl fmt::Display) -> Self {
        Self::new(
            "InvalidInputs",
            format!("{urn}: inputs don't match the resource type: {e}"),
        )
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ProviderError {}

/// Something that can create, read, update and delete resources.
///
/// Implementations must be safe to call concurrently; the engine bounds how
/// many calls run at once.
///
/// ```
/// use keel::provider::{Provider, sim::SimProvider};
/// let sim = SimProvider::in_memory();
/// assert_eq!(sim.name(), "sim");
/// ```
#[async_trait]
pub trait Provider: Send + Sync {
    /// A short name for messages (`sim`, `aws`).
    fn name(&self) -> &str;
    /// Creates the resource.
    async fn create(&self, request: CreateRequest) -> Result<CreateResponse, ProviderError>;
    /// Reads the resource as it is now; `None` if it no longer exists.
    async fn read(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError>;
    /// Reads several resources of one type. Providers batch where the API
    /// allows (one Describe call per page); the default reads one by one.
    async fn read_many(
        &self,
        requests: Vec<ReadRequest>,
    ) -> Vec<Result<Option<ReadResponse>, ProviderError>> {
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            out.push(self.read(r).await);
        }
        out
    }
    /// Updates in place; returns the new outputs.
    async fn update(&self, request: UpdateRequest) -> Result<Outputs, ProviderError>;
    /// Deletes the resource. Deleting one that is already gone succeeds.
    async fn delete(&self, request: DeleteRequest) -> Result<(), ProviderError>;
    /// API calls made so far, by operation name (empty if not counted).
    fn api_calls(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
}
