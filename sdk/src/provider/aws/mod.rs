//! The `aws` provider: real AWS (or any AWS API such as moto or LocalStack)
//! through the official SDK. Credentials and region come from the standard
//! chain (`aws-config`); `AWS_ENDPOINT_URL` points every client at another
//! endpoint with no code change. Throttling and 5xx errors are retried with
//! backoff by the SDK's standard retry policy; other errors are surfaced
//! with AWS's code and message and the resource's URN. Every created
//! resource carries the `keel:stack` and `keel:urn` tags (through
//! `TagSpecifications` where the API has them). Calls are counted per
//! operation by an interceptor.
//!
//! This module owns configuration and the [`Provider`] impl; `resource`
//! defines the typed contract every resource type implements (and what is
//! the same for all of them), `dispatch` erases the types (the only place
//! JSON is parsed and written) and routes each call to the resource type's
//! implementation, and each service's resources live in their own file.

mod autoscaling;
mod calls;
mod dispatch;
mod ec2_acls;
mod ec2_endpoints;
mod ec2_gateways;
mod ec2_main_route_tables;
mod ec2_network;
mod ec2_routes;
mod ec2_routing;
mod ec2_security;
mod ec2_templates;
mod ecs;
mod ecs_capacity;
mod ecs_services;
mod ecs_tasks;
mod elbv2;
mod elbv2_targets;
mod iam;
mod resource;
mod retry;
mod util;

pub use calls::CallCounter;

use super::{
    CreateRequest, CreateResponse, DeleteRequest, FindRequest, Found, Outputs, Provider,
    ProviderError, ReadRequest, ReadResponse, UpdateRequest,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait for slow AWS state changes.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// A NAT gateway becoming available or deleted.
    pub nat_gateway: Duration,
    /// An Auto Scaling group reaching its capacity, or draining on delete.
    pub capacity: Duration,
    /// An interface endpoint becoming available or deleted.
    pub endpoint: Duration,
    /// A load balancer becoming `active`, or going once deleted.
    pub load_balancer: Duration,
    /// An ECS service's deployment starting after a create or an update,
    /// or the service draining to `INACTIVE` once deleted.
    pub service: Duration,
    /// Between two polls.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            nat_gateway: Duration::from_secs(600),
            capacity: Duration::from_secs(600),
            endpoint: Duration::from_secs(600),
            load_balancer: Duration::from_secs(600),
            service: Duration::from_secs(600),
            poll: Duration::from_secs(5),
        }
    }
}

/// The SDK clients, shared by every call.
#[derive(Clone)]
pub(crate) struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub asg: aws_sdk_autoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub region: String,
    pub timeouts: Timeouts,
}

/// The provider for AWS.
///
/// ```no_run
/// # async fn demo() -> Result<(), keel::provider::ProviderError> {
/// let aws = keel::provider::aws::AwsProvider::from_env().await?;
/// println!("deploying to {}", aws.region());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AwsProvider {
    clients: Arc<Clients>,
    calls: Arc<CallCounter>,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider")
            .field("region", &self.clients.region)
            .finish_non_exhaustive()
    }
}

impl AwsProvider {
    /// Loads configuration from the environment: credentials chain, region
    /// (`AWS_REGION`, profile…), `AWS_ENDPOINT_URL`; five attempts with
    /// exponential backoff for throttling and server errors.
    pub async fn from_env() -> Result<Self, ProviderError> {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::from_config(&conf)
    }

    /// Uses an SDK configuration the program built itself (endpoint,
    /// region, credentials), e.g. for a local AWS API, without touching the
    /// process environment; five attempts with exponential backoff for
    /// throttling and server errors, as with [`AwsProvider::from_env`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), keel::provider::ProviderError> {
    /// let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
    ///     .endpoint_url("http://127.0.0.1:5000")
    ///     .region(aws_config::Region::new("us-east-1"))
    ///     .load()
    ///     .await;
    /// let aws = keel::provider::aws::AwsProvider::from_config(&conf)?;
    /// assert_eq!(aws.region(), "us-east-1");
    /// # Ok(()) }
    /// ```
    pub fn from_config(conf: &aws_config::SdkConfig) -> Result<Self, ProviderError> {
        let mut conf = conf.to_builder();
        conf.set_retry_config(Some(
            aws_config::retry::RetryConfig::standard().with_max_attempts(5),
        ));
        let conf = conf.build();
        let region = conf.region().map(|r| r.to_string()).ok_or_else(|| {
            ProviderError::new(
                "NoRegion",
                "no AWS region configured: set AWS_REGION or a profile's region",
            )
        })?;
        let calls = Arc::new(CallCounter::default());
        let clients = Clients {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&conf)
                    .interceptor(calls.interceptor())
                    .build(),
            ),
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(&conf)
                    .interceptor(calls.interceptor())
                    .build(),
            ),
            asg: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(&conf)
                    .interceptor(calls.interceptor())
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&conf)
                    .interceptor(calls.interceptor())
                    .build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&conf)
                    .interceptor(calls.interceptor())
                    .build(),
            ),
            region,
            timeouts: Timeouts::default(),
        };
        Ok(Self {
            clients: Arc::new(clients),
            calls,
        })
    }

    /// Replaces the wait timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        let mut clients = (*self.clients).clone();
        clients.timeouts = timeouts;
        self.clients = Arc::new(clients);
        self
    }

    /// The region resources are created in.
    pub fn region(&self) -> &str {
        &self.clients.region
    }

    /// API calls made so far, by `Service.Operation`.
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        self.calls.snapshot()
    }

    /// Calls that may change something (not Describe/Get/List).
    pub fn mutating_calls(&self) -> u64 {
        self.calls.mutating()
    }
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }

    fn api_calls(&self) -> BTreeMap<String, u64> {
        AwsProvider::api_calls(self)
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        dispatch::ops(&req.urn)?.create(&self.clients, req).await
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let ops = dispatch::ops(&req.urn)?;
        let read = ops.read_many(&self.clients, vec![req]).await;
        read.into_iter().next().unwrap_or(Ok(None))
    }

    async fn read_many(
        &self,
        reqs: Vec<ReadRequest>,
    ) -> Vec<Result<Option<ReadResponse>, ProviderError>> {
        let same_type = reqs
            .windows(2)
            .all(|w| w[0].urn.type_token() == w[1].urn.type_token());
        match reqs.first().map(|r| dispatch::ops(&r.urn)) {
            Some(Ok(ops)) if same_type => ops.read_many(&self.clients, reqs).await,
            _ => {
                let mut out = Vec::with_capacity(reqs.len());
                for r in reqs {
                    out.push(self.read(r).await);
                }
                out
            }
        }
    }

    async fn update(&self, req: UpdateRequest) -> Result<Outputs, ProviderError> {
        dispatch::ops(&req.urn)?.update(&self.clients, req).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        dispatch::ops(&req.urn)?.delete(&self.clients, req).await
    }

    async fn find_by_tags(&self, req: FindRequest) -> Result<Vec<Found>, ProviderError> {
        dispatch::ops(&req.urn)?.find(&self.clients, &req.urn).await
    }
}
