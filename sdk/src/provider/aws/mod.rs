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
//! This module owns configuration, dispatch and shared helpers; each
//! service's resources live in their own file.

mod calls;
mod compute;
mod ec2_acls;
mod ec2_endpoints;
mod ec2_gateways;
mod ec2_network;
mod ec2_routing;
mod ec2_security;
mod ecs;
mod iam;
mod retry;
mod util;

pub use calls::CallCounter;

use super::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, Provider, ProviderError, ReadRequest,
    ReadResponse, UpdateRequest,
};
use crate::aws::ec2;
use crate::resource::Resource;
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
    /// Between two polls.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            nat_gateway: Duration::from_secs(600),
            capacity: Duration::from_secs(600),
            endpoint: Duration::from_secs(600),
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

impl AwsProvider {
    /// Loads configuration from the environment: credentials chain, region
    /// (`AWS_REGION`, profile…), `AWS_ENDPOINT_URL`; five attempts with
    /// exponential backoff for throttling and server errors.
    pub async fn from_env() -> Result<Self, ProviderError> {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
            .load()
            .await;
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
        let c = &*self.clients;
        let ty = req.urn.type_token().to_string();
        match ty.as_str() {
            ec2::Vpc::TYPE => ec2_network::create_vpc(c, req).await,
            ec2::Subnet::TYPE => ec2_network::create_subnet(c, req).await,
            ec2::InternetGateway::TYPE => ec2_gateways::create_igw(c, req).await,
            ec2::ElasticIp::TYPE => ec2_gateways::create_eip(c, req).await,
            ec2::NatGateway::TYPE => ec2_gateways::create_nat(c, req).await,
            ec2::RouteTable::TYPE => ec2_routing::create_route_table(c, req).await,
            ec2::SecurityGroup::TYPE => ec2_security::create_security_group(c, req).await,
            ec2::LaunchTemplate::TYPE => compute::create_launch_template(c, req).await,
            crate::aws::autoscaling::AutoScalingGroup::TYPE => compute::create_group(c, req).await,
            crate::aws::iam::IamRole::TYPE => iam::create_role(c, req).await,
            crate::aws::iam::InstanceProfile::TYPE => iam::create_instance_profile(c, req).await,
            crate::aws::ecs::EcsCluster::TYPE => ecs::create_cluster(c, req).await,
            ec2::NetworkAcl::TYPE => ec2_acls::create_network_acl(c, req).await,
            ec2::VpcEndpoint::TYPE => ec2_endpoints::create_vpc_endpoint(c, req).await,
            _ => Err(unsupported(&ty)),
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let c = &*self.clients;
        let ty = req.urn.type_token().to_string();
        if ty == ec2::RouteTable::TYPE {
            let now = ec2_routing::read_route_table_inputs(c, &req).await?;
            return Ok(now.map(|(outputs, inputs)| ReadResponse { inputs, outputs }));
        }
        let recorded = req.inputs.clone();
        let outputs = match ty.as_str() {
            ec2::Vpc::TYPE => ec2_network::read_vpc(c, req).await,
            ec2::Subnet::TYPE => ec2_network::read_subnet(c, req).await,
            ec2::InternetGateway::TYPE => ec2_gateways::read_igw(c, req).await,
            ec2::ElasticIp::TYPE => ec2_gateways::read_eip(c, req).await,
            ec2::NatGateway::TYPE => ec2_gateways::read_nat(c, req).await,
            ec2::RouteTable::TYPE => ec2_routing::read_route_table(c, req).await,
            ec2::SecurityGroup::TYPE => ec2_security::read_security_group(c, req).await,
            ec2::LaunchTemplate::TYPE => compute::read_launch_template(c, req).await,
            crate::aws::autoscaling::AutoScalingGroup::TYPE => compute::read_group(c, req).await,
            crate::aws::iam::IamRole::TYPE => iam::read_role(c, req).await,
            crate::aws::iam::InstanceProfile::TYPE => iam::read_instance_profile(c, req).await,
            crate::aws::ecs::EcsCluster::TYPE => ecs::read_cluster(c, req).await,
            ec2::NetworkAcl::TYPE => ec2_acls::read_network_acl(c, req).await,
            ec2::VpcEndpoint::TYPE => ec2_endpoints::read_vpc_endpoint(c, req).await,
            _ => Err(unsupported(&ty)),
        }?;
        Ok(outputs.map(|outputs| ReadResponse {
            inputs: recorded,
            outputs,
        }))
    }

    async fn read_many(
        &self,
        reqs: Vec<ReadRequest>,
    ) -> Vec<Result<Option<ReadResponse>, ProviderError>> {
        let c = &*self.clients;
        let same_type = reqs
            .windows(2)
            .all(|w| w[0].urn.type_token() == w[1].urn.type_token());
        let ty = reqs
            .first()
            .map(|r| r.urn.type_token().to_string())
            .unwrap_or_default();
        if same_type && ty == ec2::RouteTable::TYPE {
            return ec2_routing::read_route_tables(c, &reqs)
                .await
                .into_iter()
                .map(|r| r.map(|o| o.map(|(outputs, inputs)| ReadResponse { inputs, outputs })))
                .collect();
        }
        if same_type {
            let batched = match ty.as_str() {
                ec2::Vpc::TYPE => Some(ec2_network::read_vpcs(c, &reqs).await),
                ec2::Subnet::TYPE => Some(ec2_network::read_subnets(c, &reqs).await),
                ec2::SecurityGroup::TYPE => {
                    Some(ec2_security::read_security_groups(c, &reqs).await)
                }
                ec2::InternetGateway::TYPE => Some(ec2_gateways::read_igws(c, &reqs).await),
                ec2::ElasticIp::TYPE => Some(ec2_gateways::read_eips(c, &reqs).await),
                ec2::NatGateway::TYPE => Some(ec2_gateways::read_nats(c, &reqs).await),
                _ => None,
            };
            if let Some(results) = batched {
                return reqs
                    .iter()
                    .zip(results)
                    .map(|(req, r)| {
                        r.map(|o| {
                            o.map(|outputs| ReadResponse {
                                inputs: req.inputs.clone(),
                                outputs,
                            })
                        })
                    })
                    .collect();
            }
        }
        let mut out = Vec::with_capacity(reqs.len());
        for r in reqs {
            out.push(self.read(r).await);
        }
        out
    }

    async fn update(&self, req: UpdateRequest) -> Result<Outputs, ProviderError> {
        let c = &*self.clients;
        let ty = req.urn.type_token().to_string();
        match ty.as_str() {
            ec2::Vpc::TYPE => ec2_network::update_vpc(c, req).await,
            ec2::Subnet::TYPE => ec2_network::update_subnet(c, req).await,
            ec2::InternetGateway::TYPE => ec2_gateways::update_igw(c, req).await,
            ec2::ElasticIp::TYPE => ec2_gateways::update_tags_only(c, req).await,
            ec2::NatGateway::TYPE => ec2_gateways::update_tags_only(c, req).await,
            ec2::RouteTable::TYPE => ec2_routing::update_route_table(c, req).await,
            ec2::SecurityGroup::TYPE => ec2_security::update_security_group(c, req).await,
            ec2::LaunchTemplate::TYPE => compute::update_launch_template(c, req).await,
            crate::aws::autoscaling::AutoScalingGroup::TYPE => compute::update_group(c, req).await,
            crate::aws::iam::IamRole::TYPE => iam::update_role(c, req).await,
            crate::aws::iam::InstanceProfile::TYPE => iam::update_instance_profile(c, req).await,
            crate::aws::ecs::EcsCluster::TYPE => ecs::update_cluster(c, req).await,
            ec2::NetworkAcl::TYPE => ec2_acls::update_network_acl(c, req).await,
            ec2::VpcEndpoint::TYPE => ec2_endpoints::update_vpc_endpoint(c, req).await,
            _ => Err(unsupported(&ty)),
        }
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        let c = &*self.clients;
        let ty = req.urn.type_token().to_string();
        match ty.as_str() {
            ec2::Vpc::TYPE => ec2_network::delete_vpc(c, req).await,
            ec2::Subnet::TYPE => ec2_network::delete_subnet(c, req).await,
            ec2::InternetGateway::TYPE => ec2_gateways::delete_igw(c, req).await,
            ec2::ElasticIp::TYPE => ec2_gateways::delete_eip(c, req).await,
            ec2::NatGateway::TYPE => ec2_gateways::delete_nat(c, req).await,
            ec2::RouteTable::TYPE => ec2_routing::delete_route_table(c, req).await,
            ec2::SecurityGroup::TYPE => ec2_security::delete_security_group(c, req).await,
            ec2::LaunchTemplate::TYPE => compute::delete_launch_template(c, req).await,
            crate::aws::autoscaling::AutoScalingGroup::TYPE => compute::delete_group(c, req).await,
            crate::aws::iam::IamRole::TYPE => iam::delete_role(c, req).await,
            crate::aws::iam::InstanceProfile::TYPE => iam::delete_instance_profile(c, req).await,
            crate::aws::ecs::EcsCluster::TYPE => ecs::delete_cluster(c, req).await,
            ec2::NetworkAcl::TYPE => ec2_acls::delete_network_acl(c, req).await,
            ec2::VpcEndpoint::TYPE => ec2_endpoints::delete_vpc_endpoint(c, req).await,
            _ => Err(unsupported(&ty)),
        }
    }
}

fn unsupported(ty: &str) -> ProviderError {
    ProviderError::new(
        "UnsupportedType",
        format!("the aws provider does not manage {ty} yet"),
    )
}
