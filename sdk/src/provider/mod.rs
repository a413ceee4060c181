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

/// Look for live resources that carry a declared resource's ownership tags
/// (`keel:urn`), e.g. what a run cut short created but never recorded.
#[derive(Clone, Debug)]
pub struct FindRequest {
    /// The resource; its `keel:urn` tag value is `urn.to_string()`.
    pub urn: Urn,
}

/// A live resource found by its tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Its cloud id.
    pub id: String,
    /// Its outputs, as a read would report them.
    pub outputs: Outputs,
}

/// What kind of failure a provider call met. Retry decisions and
/// not-found handling read the kind, never the message.
///
/// ```
/// use keel::provider::{ErrorKind, ProviderError};
/// let e = ProviderError::aws("RequestLimitExceeded", "Request limit exceeded.");
/// assert!(e.retryable());
/// assert_eq!(ProviderError::timeout("waited 600 s").kind, ErrorKind::Timeout);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorKind {
    /// AWS (or the simulator, answering as AWS does) refused the call.
    Aws {
        /// AWS's error code (`DependencyViolation`, `InvalidSubnet.Conflict`…).
        code: String,
        /// Whether trying again later may succeed (throttling, 5xx, a
        /// dropped connection).
        retryable: bool,
    },
    /// The resource doesn't exist (anymore).
    NotFound,
    /// A bounded wait ran out.
    Timeout,
    /// Inputs don't deserialize into the resource type: a keel bug or a
    /// state file written by another version.
    InvalidInputs,
    /// The provider doesn't manage this resource type.
    Unsupported,
    /// An unexpected response or a bug in keel.
    Internal,
}

/// A failed provider call: its [`ErrorKind`] and a message naming the
/// resource.
///
/// ```
/// let e = keel::provider::ProviderError::aws("InvalidSubnet.Range", "The CIDR '10.1.0.0/24' is invalid.");
/// assert_eq!(e.to_string(), "InvalidSubnet.Range: The CIDR '10.1.0.0/24' is invalid.");
/// assert_eq!(e.code(), "InvalidSubnet.Range");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderError {
    /// What kind of failure.
    #[serde(flatten)]
    pub kind: ErrorKind,
    /// What happened, naming the resource where known.
    pub message: String,
}

/// AWS error codes that mean "try again later".
const RETRYABLE_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
];

/// Whether an AWS error code says the resource doesn't exist.
fn is_not_found_code(code: &str) -> bool {
    code.ends_with(".NotFound")
        || code.ends_with("NotFound")
        || code.ends_with("NotFoundException")
        || code == "NoSuchEntity"
}

impl ProviderError {
    /// An error AWS answered with `code`; retryable if the code is one of
    /// AWS's throttling or server-side codes.
    pub fn aws(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        let retryable = RETRYABLE_CODES.contains(&code.as_str()) || code.contains("Throttl");
        Self {
            kind: ErrorKind::Aws { code, retryable },
            message: message.into(),
        }
    }

    /// The same as [`ProviderError::aws`].
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::aws(code, message)
    }

    /// An error of `kind`.
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The resource doesn't exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::NotFound, message)
    }

    /// A bounded wait ran out.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Timeout, message)
    }

    /// An unexpected response or a keel bug.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Internal, message)
    }

    /// The provider doesn't manage this type.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Unsupported, message)
    }

    /// Inputs that don't deserialize into the resource type: a keel bug or a
    /// state file written by another version.
    pub fn bad_inputs(urn: &Urn, e: impl fmt::Display) -> Self {
        Self::of(
            ErrorKind::InvalidInputs,
            format!("{urn}: inputs don't match the resource type: {e}"),
        )
    }

    /// AWS's error code, or keel's name for the kind (`NotFound`,
    /// `KeelTimeout`, `InvalidInputs`, `UnsupportedType`, `KeelInternal`).
    pub fn code(&self) -> &str {
        match &self.kind {
            ErrorKind::Aws { code, .. } => code,
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Timeout => "KeelTimeout",
            ErrorKind::InvalidInputs => "InvalidInputs",
            ErrorKind::Unsupported => "UnsupportedType",
            ErrorKind::Internal => "KeelInternal",
        }
    }

    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Aws {
                retryable: true,
                ..
            }
        )
    }

    /// This error, marked retryable or not (for transport failures the
    /// code alone doesn't tell).
    pub fn with_retryable(mut self, on: bool) -> Self {
        if let ErrorKind::Aws { retryable, .. } = &mut self.kind {
            *retryable = on;
        }
        self
    }

    /// Whether the error says the resource doesn't exist: the
    /// [`ErrorKind::NotFound`] kind or an AWS not-found code.
    pub fn is_not_found(&self) -> bool {
        match &self.kind {
            ErrorKind::NotFound => true,
            ErrorKind::Aws { code, .. } => is_not_found_code(code),
            _ => false,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
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
    /// Every live resource of the request's type tagged with its URN (none,
    /// one, or several after repeated interrupted runs). Providers that
    /// can't search say [`ErrorKind::Unsupported`].
    async fn find_by_tags(&self, request: FindRequest) -> Result<Vec<Found>, ProviderError> {
        Err(ProviderError::unsupported(format!(
            "{}: the {} provider can't search by tags",
            request.urn,
            self.name()
        )))
    }
    /// Reads a resource whose create was interrupted, once it has finished
    /// what a create waits for (a NAT gateway available, an Auto Scaling
    /// group in service), so recovery records it as a create would have;
    /// `None` if it no longer exists. By default, a plain [`read`](Self::read).
    async fn settle(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        self.read(request).await
    }
    /// API calls made so far, by operation name (empty if not counted).
    fn api_calls(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
}

/// Forwards every call to the provider inside, so wrappers compose.
macro_rules! forward_provider {
    ($($wrapper:ident),*) => {$(
        #[async_trait]
        impl<P: Provider + ?Sized> Provider for $wrapper<P> {
            fn name(&self) -> &str {
                (**self).name()
            }
            async fn create(&self, request: CreateRequest) -> Result<CreateResponse, ProviderError> {
                (**self).create(request).await
            }
            async fn read(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
                (**self).read(request).await
            }
            async fn read_many(
                &self,
                requests: Vec<ReadRequest>,
            ) -> Vec<Result<Option<ReadResponse>, ProviderError>> {
                (**self).read_many(requests).await
            }
            async fn update(&self, request: UpdateRequest) -> Result<Outputs, ProviderError> {
                (**self).update(request).await
            }
            async fn delete(&self, request: DeleteRequest) -> Result<(), ProviderError> {
                (**self).delete(request).await
            }
            async fn find_by_tags(&self, request: FindRequest) -> Result<Vec<Found>, ProviderError> {
                (**self).find_by_tags(request).await
            }
            async fn settle(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
                (**self).settle(request).await
            }
            fn api_calls(&self) -> BTreeMap<String, u64> {
                (**self).api_calls()
            }
        }
    )*};
}

use std::sync::Arc;
forward_provider!(Arc, Box);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arc_and_box_wrappers_forward_calls() {
        let sim = sim::SimProvider::in_memory();
        let boxed: Box<dyn Provider> = Box::new(Arc::new(sim.clone()));
        assert_eq!(boxed.name(), "sim");
        let vpc = serde_json::json!({"cidr_block": "10.0.0.0/16", "tags": {}});
        let urn = Urn::new("t", "aws:ec2:Vpc", "main");
        let made = boxed
            .create(CreateRequest { urn, inputs: vpc })
            .await
            .expect("create through two wrappers");
        assert!(made.id.starts_with("vpc-"));
        assert_eq!(boxed.api_calls().get("CreateVpc"), Some(&1));
        assert_eq!(sim.resource_count(), 1);
    }
}
