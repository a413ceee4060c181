//! [`MockProvider`]: a provider for tests that want neither the simulator
//! nor AWS. Each resource type can have a typed closure that makes its
//! outputs from its typed inputs, and one that injects a failure; types
//! with neither get their inputs back as outputs with a made-up id, ARN
//! and name (Pulumi's default mock). It keeps what it created, so reads,
//! updates, deletes and the search by ownership tags behave, and counts
//! its calls.

use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, FindRequest, Found, Outputs, Provider,
    ProviderError, ReadRequest, ReadResponse, UpdateRequest,
};
use crate::resource::{Resource, Urn};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

type MakeOutputs = dyn Fn(&Urn, &Value) -> Result<Outputs, ProviderError> + Send + Sync;
type Failure = dyn Fn(&Urn, &Value) -> Option<ProviderError> + Send + Sync;

/// One resource the mock holds.
#[derive(Clone, Debug)]
struct Live {
    urn: Urn,
    inputs: Value,
    outputs: Outputs,
}

#[derive(Default)]
struct Cloud {
    live: BTreeMap<String, Live>,
    calls: BTreeMap<String, u64>,
    next: u64,
}

/// A provider whose outputs and failures are closures of the test's, by
/// resource type.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::ProviderError;
/// use keel::testing::{MockProvider, deploy};
/// use std::sync::Arc;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
/// let mock = MockProvider::new().fail::<Subnet>(|name, _| {
///     Some(ProviderError::aws("InsufficientFreeAddressesInSubnet", format!("no room for {name}")))
/// });
/// let deployed = deploy(&stack, Arc::new(mock));
/// assert!(!deployed.report.succeeded());
/// assert!(deployed.state.get(vpc.urn()).is_some(), "the VPC was made and recorded");
/// ```
#[derive(Clone, Default)]
pub struct MockProvider {
    outputs: BTreeMap<&'static str, Arc<MakeOutputs>>,
    failures: BTreeMap<&'static str, Arc<Failure>>,
    cloud: Arc<Mutex<Cloud>>,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("outputs", &self.outputs.keys().collect::<Vec<_>>())
            .field("failures", &self.failures.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The inputs as the typed declaration, or an error naming the resource.
fn typed<R: Resource>(urn: &Urn, inputs: &Value) -> Result<R, ProviderError> {
    serde_json::from_value(inputs.clone()).map_err(|e| ProviderError::bad_inputs(urn, e))
}

impl MockProvider {
    /// A mock that answers every type with its inputs and a made-up id.
    ///
    /// ```
    /// let mock = keel::testing::MockProvider::new();
    /// assert!(mock.live().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the outputs of every `R` from its name and typed inputs
    /// (references already resolved to the values the mock gave).
    ///
    /// ```
    /// use keel::aws::ec2::VpcOutputs;
    /// use keel::prelude::*;
    /// use keel::testing::{MockProvider, apply_with};
    /// use std::sync::Arc;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let mock = MockProvider::new().outputs::<Vpc>(|name, vpc| VpcOutputs {
    ///     id: VpcId::new(format!("vpc-{name}")),
    ///     arn: Arn::new(format!("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-{name}")),
    ///     cidr_block: vpc.cidr_block.clone(),
    ///     main_route_table_id: RouteTableId::new("rtb-main"),
    ///     default_security_group_id: SecurityGroupId::new("sg-default"),
    /// });
    /// let deployed = apply_with(&stack, Arc::new(mock));
    /// assert_eq!(deployed.outputs(&vpc).id.as_str(), "vpc-main");
    /// ```
    pub fn outputs<R: Resource>(
        mut self,
        make: impl Fn(&str, &R) -> R::Outputs + Send + Sync + 'static,
    ) -> Self {
        let make = move |urn: &Urn, inputs: &Value| {
            let outputs = make(urn.name(), &typed::<R>(urn, inputs)?);
            match serde_json::to_value(outputs) {
                Ok(Value::Object(map)) => Ok(map),
                other => Err(ProviderError::internal(format!(
                    "{urn}: the mock's outputs aren't an object: {other:?}"
                ))),
            }
        };
        self.outputs.insert(R::TYPE, Arc::new(make));
        self
    }

    /// Fails the create or update of an `R` whenever `fail` returns an
    /// error for its name and typed inputs (see [`MockProvider`]).
    pub fn fail<R: Resource>(
        mut self,
        fail: impl Fn(&str, &R) -> Option<ProviderError> + Send + Sync + 'static,
    ) -> Self {
        let fail = move |urn: &Urn, inputs: &Value| match typed::<R>(urn, inputs) {
            Ok(r) => fail(urn.name(), &r),
            Err(e) => Some(e),
        };
        self.failures.insert(R::TYPE, Arc::new(fail));
        self
    }

    /// What the mock holds now: each live resource's URN and id.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use keel::testing::{MockProvider, apply_with};
    /// use std::sync::Arc;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let mock = MockProvider::new();
    /// apply_with(&stack, Arc::new(mock.clone()));
    /// let live = mock.live();
    /// assert_eq!(live.len(), 1);
    /// assert!(live[0].1.starts_with("vpc-mock-"));
    /// ```
    pub fn live(&self) -> Vec<(Urn, String)> {
        let cloud = self.cloud();
        cloud
            .live
            .iter()
            .map(|(id, l)| (l.urn.clone(), id.clone()))
            .collect()
    }

    fn cloud(&self) -> MutexGuard<'_, Cloud> {
        // Each call leaves the data whole; a panic elsewhere can't tear it.
        self.cloud.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, op: &str, urn: &Urn) {
        let key = format!("{op} {}", urn.type_token());
        *self.cloud().calls.entry(key).or_default() += 1;
    }

    /// The outputs for `urn` with `inputs`, keeping `id` when given.
    fn make(&self, urn: &Urn, inputs: &Value, id: Option<&str>) -> Result<Outputs, ProviderError> {
        if let Some(e) = self
            .failures
            .get(urn.type_token())
            .and_then(|f| f(urn, inputs))
        {
            return Err(e);
        }
        let mut outputs = match self.outputs.get(urn.type_token()) {
            Some(make) => make(urn, inputs)?,
            None => echo(
                urn,
                inputs,
                id.map_or_else(|| self.fresh_id(urn), str::to_string),
            ),
        };
        if let Some(id) = id {
            outputs.insert("id".into(), Value::String(id.to_string()));
        }
        Ok(outputs)
    }

    fn fresh_id(&self, urn: &Urn) -> String {
        let mut cloud = self.cloud();
        cloud.next += 1;
        let kind = urn.type_token().rsplit(':').next().unwrap_or_default();
        format!("{}-mock-{}", kind.to_lowercase(), cloud.next)
    }
}

/// Pulumi's default mock: the inputs as outputs, with an id, an ARN and a
/// name when the inputs have none.
fn echo(urn: &Urn, inputs: &Value, id: String) -> Outputs {
    let mut outputs = inputs.as_object().cloned().unwrap_or_default();
    let service = urn.type_token().split(':').nth(1).unwrap_or_default();
    let arn = format!("arn:aws:{service}:us-east-1:123456789012:{id}");
    outputs.entry("arn").or_insert(Value::String(arn));
    outputs
        .entry("name")
        .or_insert(Value::String(urn.name().to_string()));
    outputs.insert("id".into(), Value::String(id));
    outputs
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        "mock"
    }

    async fn create(&self, request: CreateRequest) -> Result<CreateResponse, ProviderError> {
        self.count("Create", &request.urn);
        let outputs = self.make(&request.urn, &request.inputs, None)?;
        let id = match outputs.get("id") {
            Some(Value::String(id)) => id.clone(),
            _ => self.fresh_id(&request.urn),
        };
        let live = Live {
            urn: request.urn,
            inputs: request.inputs,
            outputs: outputs.clone(),
        };
        self.cloud().live.insert(id.clone(), live);
        Ok(CreateResponse { id, outputs })
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        self.count("Read", &request.urn);
        let cloud = self.cloud();
        Ok(cloud.live.get(&request.id).map(|l| ReadResponse {
            inputs: l.inputs.clone(),
            outputs: l.outputs.clone(),
        }))
    }

    async fn update(&self, request: UpdateRequest) -> Result<Outputs, ProviderError> {
        self.count("Update", &request.urn);
        if !self.cloud().live.contains_key(&request.id) {
            return Err(ProviderError::not_found(format!(
                "{}: {} is gone",
                request.urn, request.id
            )));
        }
        let outputs = self.make(&request.urn, &request.new_inputs, Some(&request.id))?;
        let live = Live {
            urn: request.urn,
            inputs: request.new_inputs,
            outputs: outputs.clone(),
        };
        self.cloud().live.insert(request.id, live);
        Ok(outputs)
    }

    async fn delete(&self, request: DeleteRequest) -> Result<(), ProviderError> {
        self.count("Delete", &request.urn);
        self.cloud().live.remove(&request.id);
        Ok(())
    }

    async fn find_by_tags(&self, request: FindRequest) -> Result<Vec<Found>, ProviderError> {
        self.count("Find", &request.urn);
        let owner = request.urn.to_string();
        let cloud = self.cloud();
        let found = cloud.live.iter().filter(|(_, l)| {
            l.urn.type_token() == request.urn.type_token()
                && l.inputs.pointer("/tags/keel:urn").and_then(Value::as_str) == Some(&owner)
        });
        Ok(found
            .map(|(id, l)| Found {
                id: id.clone(),
                outputs: l.outputs.clone(),
            })
            .collect())
    }

    fn api_calls(&self) -> BTreeMap<String, u64> {
        self.cloud().calls.clone()
    }
}
