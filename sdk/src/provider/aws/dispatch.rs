//! Dispatch of [`Provider`](crate::provider::Provider) calls to each
//! resource type's AWS implementation: the [`AwsResource`] trait, one impl
//! per registered type, and the table the provider looks types up in, built
//! from the registry's list (a registered type without an impl doesn't
//! compile). What is the same for every type, wrapping recorded inputs
//! around read outputs and reading one by one where AWS has no batch call,
//! is written once here.

use super::{
    Clients, compute, ec2_acls, ec2_endpoints, ec2_gateways, ec2_network, ec2_routing,
    ec2_security, ecs, iam,
};
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::{
    ElasticIp, InternetGateway, LaunchTemplate, NatGateway, NetworkAcl, RouteTable, SecurityGroup,
    Subnet, Vpc, VpcEndpoint,
};
use crate::aws::ecs::EcsCluster;
use crate::aws::iam::{IamRole, InstanceProfile};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    ReadResponse, UpdateRequest,
};
use crate::resource::{Resource, Urn};
use async_trait::async_trait;
use std::marker::PhantomData;

/// The results of reading several resources.
pub(crate) type ReadResults = Vec<Result<Option<ReadResponse>, ProviderError>>;

/// A resource type the AWS provider manages.
#[async_trait]
pub(crate) trait AwsResource: Resource {
    /// Creates the resource.
    async fn create(c: &Clients, req: CreateRequest) -> Result<CreateResponse, ProviderError>;
    /// Reads it back: its outputs, and its configuration where drift is
    /// observed (else the recorded inputs).
    async fn read(c: &Clients, req: ReadRequest) -> Result<Option<ReadResponse>, ProviderError>;
    /// Reads several; one by one unless the type has a batched Describe.
    async fn read_many(c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults {
        let mut out = Vec::with_capacity(reqs.len());
        for r in reqs {
            out.push(Self::read(c, r).await);
        }
        out
    }
    /// Updates in place; returns the new outputs.
    async fn update(c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError>;
    /// Deletes it; one already gone is fine.
    async fn delete(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError>;
}

/// Outputs read for `req`, with its recorded inputs as the configuration.
fn as_recorded(req: &ReadRequest, outputs: Option<Outputs>) -> Option<ReadResponse> {
    outputs.map(|outputs| ReadResponse {
        inputs: req.inputs.clone(),
        outputs,
    })
}

/// Implements [`AwsResource`] for a type from its module's functions; with
/// `batched`, `read_many` uses the type's batched reader.
macro_rules! aws_resource {
    ($R:ty, $m:ident :: { $create:ident, $read:ident, $update:ident, $delete:ident } $(, batched $many:ident)?) => {
        #[async_trait]
        impl AwsResource for $R {
            async fn create(c: &Clients, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
                $m::$create(c, req).await
            }
            async fn read(c: &Clients, req: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
                let recorded = req.clone();
                Ok(as_recorded(&recorded, $m::$read(c, req).await?))
            }
            $(
            async fn read_many(c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults {
                let results = $m::$many(c, &reqs).await;
                reqs.iter()
                    .zip(results)
                    .map(|(req, r)| r.map(|o| as_recorded(req, o)))
                    .collect()
            }
            )?
            async fn update(c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
                $m::$update(c, req).await
            }
            async fn delete(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
                $m::$delete(c, req).await
            }
        }
    };
}

aws_resource!(Vpc, ec2_network::{create_vpc, read_vpc, update_vpc, delete_vpc}, batched read_vpcs);
aws_resource!(Subnet, ec2_network::{create_subnet, read_subnet, update_subnet, delete_subnet}, batched read_subnets);
aws_resource!(InternetGateway, ec2_gateways::{create_igw, read_igw, update_igw, delete_igw}, batched read_igws);
aws_resource!(ElasticIp, ec2_gateways::{create_eip, read_eip, update_tags_only, delete_eip}, batched read_eips);
aws_resource!(NatGateway, ec2_gateways::{create_nat, read_nat, update_tags_only, delete_nat}, batched read_nats);
aws_resource!(SecurityGroup, ec2_security::{create_security_group, read_security_group, update_security_group, delete_security_group}, batched read_security_groups);
aws_resource!(NetworkAcl, ec2_acls::{create_network_acl, read_network_acl, update_network_acl, delete_network_acl});
aws_resource!(VpcEndpoint, ec2_endpoints::{create_vpc_endpoint, read_vpc_endpoint, update_vpc_endpoint, delete_vpc_endpoint});
aws_resource!(LaunchTemplate, compute::{create_launch_template, read_launch_template, update_launch_template, delete_launch_template});
aws_resource!(AutoScalingGroup, compute::{create_group, read_group, update_group, delete_group});
aws_resource!(IamRole, iam::{create_role, read_role, update_role, delete_role});
aws_resource!(InstanceProfile, iam::{create_instance_profile, read_instance_profile, update_instance_profile, delete_instance_profile});
aws_resource!(EcsCluster, ecs::{create_cluster, read_cluster, update_cluster, delete_cluster});

/// Route tables report drift in their routes and associations, so their
/// reads return the observed configuration, not the recorded one.
#[async_trait]
impl AwsResource for RouteTable {
    async fn create(c: &Clients, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        ec2_routing::create_route_table(c, req).await
    }
    async fn read(c: &Clients, req: ReadRequest) -> Result<Option<ReadResponse>, ProviderError> {
        let now = ec2_routing::read_route_table_inputs(c, &req).await?;
        Ok(now.map(|(outputs, inputs)| ReadResponse { inputs, outputs }))
    }
    async fn read_many(c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults {
        ec2_routing::read_route_tables(c, &reqs)
            .await
            .into_iter()
            .map(|r| r.map(|o| o.map(|(outputs, inputs)| ReadResponse { inputs, outputs })))
            .collect()
    }
    async fn update(c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
        ec2_routing::update_route_table(c, req).await
    }
    async fn delete(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
        ec2_routing::delete_route_table(c, req).await
    }
}

/// One type's [`AwsResource`] impl with the type erased.
#[async_trait]
pub(crate) trait AwsOps: Send + Sync {
    async fn create(
        &self,
        c: &Clients,
        req: CreateRequest,
    ) -> Result<CreateResponse, ProviderError>;
    async fn read(
        &self,
        c: &Clients,
        req: ReadRequest,
    ) -> Result<Option<ReadResponse>, ProviderError>;
    async fn read_many(&self, c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults;
    async fn update(&self, c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError>;
    async fn delete(&self, c: &Clients, req: DeleteRequest) -> Result<(), ProviderError>;
}

struct Ops<R>(PhantomData<fn() -> R>);

#[async_trait]
impl<R: AwsResource> AwsOps for Ops<R> {
    async fn create(
        &self,
        c: &Clients,
        req: CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        R::create(c, req).await
    }
    async fn read(
        &self,
        c: &Clients,
        req: ReadRequest,
    ) -> Result<Option<ReadResponse>, ProviderError> {
        R::read(c, req).await
    }
    async fn read_many(&self, c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults {
        R::read_many(c, reqs).await
    }
    async fn update(&self, c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
        R::update(c, req).await
    }
    async fn delete(&self, c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
        R::delete(c, req).await
    }
}

/// The implementation for the type named by `urn`.
pub(crate) fn ops(urn: &Urn) -> Result<&'static dyn AwsOps, ProviderError> {
    macro_rules! table {
        ($($R:ty),* $(,)?) => {
            &[$((<$R as Resource>::TYPE, &Ops::<$R>(PhantomData) as &dyn AwsOps)),*]
        };
    }
    let table: &[(&str, &'static dyn AwsOps)] = crate::registry::resource_types!(table);
    let token = urn.type_token();
    crate::registry::find(table, token).ok_or_else(|| {
        ProviderError::unsupported(format!("the aws provider does not manage {token} yet"))
    })
}
