//! Tests of the simulator through the [`Provider`] trait, with no latency:
//! AWS's rules and error codes per service (`network`, `routes`, `services`,
//! `acls`, `endpoints`, `elb`, `ecs_rules`), the load balancer stack serving from
//! private container instances (`serving`), the ECS registration rule on
//! whole topologies (`registration`, and with network ACLs and endpoints in `acls` and
//! `endpoints`), persistence, API accounting and time (`lifecycle`), one
//! cloud file shared by several handles (`shared`), and finding resources
//! by their ownership tags (`find`).
//! This file holds the helpers that build requests from keel's resource
//! structs and the topology under test.

/// Tests that deploy a [`Shape`] on which no instance registers: each
/// instance gives finding `code`, with a reason that says all of `says`.
macro_rules! unregistered_tests {
    ($($name:ident: $shape:expr, $code:expr, [$($says:literal),+];)+) => {$(
        #[tokio::test]
        async fn $name() {
            let sim = sim();
            for why in super::registration::unregistered(&sim, &$shape, $code).await {
                $(assert!(why.contains($says), "{why}");)+
            }
        }
    )+};
}

mod acls;
mod ecs_rules;
mod elb;
mod endpoints;
mod find;
mod lifecycle;
mod network;
mod registration;
mod routes;
mod services;
mod serving;
mod shared;

use super::*;
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::{
    AclRule, ElasticIp, InternetGateway, LaunchTemplate, NatGateway, NetworkAcl, RouteTable, Rule,
    SecurityGroup, Subnet, Vpc, VpcEndpoint,
};
use crate::aws::ecs::EcsCluster;
use crate::aws::iam::ECS_INSTANCE_POLICY_ARN;
use crate::aws::iam::{IamRole, InstanceProfile};
use crate::resource::{
    AllocationId, ClusterName, InstanceProfileName, InternetGatewayId, LaunchTemplateId,
    NatGatewayId, Resource, SecurityGroupId, SubnetId, Tags, VpcId,
};

/// A simulator with no latency.
pub(super) fn sim() -> SimProvider {
    SimProvider::in_memory().with_latency(SimLatency::none())
}

pub(super) fn urn<R: Resource>(name: &str) -> Urn {
    Urn::new("test", R::TYPE, name)
}

/// Creates `props` as resource `name` of its type.
pub(super) async fn try_create<R: Resource>(
    sim: &SimProvider,
    name: &str,
    props: &R,
) -> Result<CreateResponse, ProviderError> {
    let inputs = serde_json::to_value(props).expect("resource structs serialize");
    let request = CreateRequest {
        urn: urn::<R>(name),
        inputs,
    };
    sim.create(request).await
}

/// The error code AWS refuses creating `props` as resource `name` with.
pub(super) async fn refused<R: Resource>(sim: &SimProvider, name: &str, props: &R) -> String {
    code(try_create(sim, name, props).await)
}

/// Creates `props`, failing the test on an error; returns the id.
pub(super) async fn create<R: Resource>(sim: &SimProvider, name: &str, props: &R) -> String {
    match try_create(sim, name, props).await {
        Ok(r) => {
            assert_eq!(r.outputs["id"], r.id.as_str(), "id output");
            r.id
        }
        Err(e) => panic!("creating {name}: {e}"),
    }
}

pub(super) async fn read<R: Resource>(sim: &SimProvider, name: &str, id: &str) -> Option<Outputs> {
    let request = ReadRequest {
        urn: urn::<R>(name),
        id: id.to_string(),
        inputs: serde_json::Value::Null,
        outputs: Outputs::new(),
    };
    sim.read(request).await.expect("read").map(|r| r.outputs)
}

pub(super) async fn update<R: Resource>(
    sim: &SimProvider,
    name: &str,
    id: &str,
    props: &R,
) -> Result<Outputs, ProviderError> {
    let request = UpdateRequest {
        urn: urn::<R>(name),
        id: id.to_string(),
        old_inputs: Value::Null,
        old_outputs: Outputs::new(),
        new_inputs: serde_json::to_value(props).expect("resource structs serialize"),
    };
    sim.update(request).await
}

pub(super) async fn delete<R: Resource>(
    sim: &SimProvider,
    name: &str,
    id: &str,
) -> Result<(), ProviderError> {
    let request = DeleteRequest {
        urn: urn::<R>(name),
        id: id.to_string(),
        inputs: Value::Null,
        outputs: Outputs::new(),
    };
    sim.delete(request).await
}

/// The error code of a failed call.
pub(super) fn code<T: fmt::Debug>(result: Result<T, ProviderError>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().to_string(),
    }
}

/// The VPC most tests use, 10.0.0.0/16, with DNS hostnames on (as
/// interface endpoints with private DNS need).
pub(super) fn dns_vpc() -> Vpc {
    Vpc::new("10.0.0.0/16").enable_dns_hostnames(true)
}

/// Creates subnet `name` with block `cidr` in VPC `vpc` and zone `az`;
/// returns its id.
pub(super) async fn subnet(
    sim: &SimProvider,
    name: &str,
    vpc: &str,
    cidr: &str,
    az: &str,
) -> String {
    create(sim, name, &Subnet::new(VpcId::new(vpc), cidr, az)).await
}

/// A VPC with one subnet; returns their ids.
pub(super) async fn vpc_with_subnet(sim: &SimProvider) -> (String, String) {
    let vpc = create(sim, "main", &Vpc::new("10.0.0.0/16")).await;
    let subnet = subnet(sim, "a", &vpc, "10.0.1.0/24", "us-east-1a").await;
    (vpc, subnet)
}

/// What varies between the topologies under test; the default is the
/// tutorial's working stack (private subnets, a NAT gateway per AZ).
#[derive(Clone, Debug)]
pub(super) struct Shape {
    /// Private route tables route 0.0.0.0/0 to the NAT gateways.
    pub nat_route: bool,
    /// The hosts' security group allows all outbound traffic (else only TCP 80).
    pub https_egress: bool,
    /// The NAT gateways sit in the private subnets (no internet route).
    pub nat_in_private_subnets: bool,
    /// The hosts run in the public subnets.
    pub hosts_in_public_subnets: bool,
    /// The launch template's public IP setting.
    pub public_ip: Option<bool>,
    /// The hosts get an instance profile.
    pub instance_profile: bool,
    /// The cluster the user data names (`None`: no user data).
    pub user_data_cluster: Option<&'static str>,
    /// User data as is, instead of the line naming `user_data_cluster`.
    pub user_data: Option<&'static str>,
    /// A custom network ACL for the private subnets.
    pub private_acl: Option<Acl>,
    /// A custom network ACL for the public subnets.
    pub public_acl: Option<Acl>,
    /// Interface endpoints (short service names) with private DNS in the
    /// private subnets.
    pub endpoints: &'static [&'static str],
    /// The endpoints' security group admits HTTPS from the VPC (else only
    /// TCP 80).
    pub endpoint_https_ingress: bool,
}

/// The rules of a custom network ACL.
#[derive(Clone, Debug, Default)]
pub(super) struct Acl {
    pub ingress: Vec<AclRule>,
    pub egress: Vec<AclRule>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            nat_route: true,
            https_egress: true,
            nat_in_private_subnets: false,
            hosts_in_public_subnets: false,
            public_ip: None,
            instance_profile: true,
            user_data_cluster: Some("app"),
            user_data: None,
            private_acl: None,
            public_acl: None,
            endpoints: &[],
            endpoint_https_ingress: true,
        }
    }
}

/// A deployed topology: what was created, in order.
pub(super) struct Deployed {
    pub created: Vec<(Urn, String)>,
    pub cluster: String,
    pub private_route_tables: Vec<String>,
    pub nats: Vec<String>,
    pub asg: String,
}

impl Deployed {
    /// The id of the resource of type `R` named `name`.
    pub(super) fn id<R: Resource>(&self, name: &str) -> &str {
        let urn = urn::<R>(name);
        let found = self.created.iter().find(|(u, _)| *u == urn);
        found.map(|(_, id)| id.as_str()).expect("deployed")
    }

    /// Deletes everything, newest first.
    pub(super) async fn destroy(&self, sim: &SimProvider) {
        for (urn, id) in self.created.iter().rev() {
            let request = DeleteRequest {
                urn: urn.clone(),
                id: id.clone(),
                inputs: Value::Null,
                outputs: Outputs::new(),
            };
            if let Err(e) = sim.delete(request).await {
                panic!("deleting {urn}: {e}");
            }
        }
    }
}

/// Deploys the tutorial's stack across two AZs, shaped by `shape`.
pub(super) async fn deploy(sim: &SimProvider, shape: &Shape) -> Deployed {
    let mut created = Vec::new();
    macro_rules! add {
        ($name:expr_2021, $props:expr_2021) => {{
            let props = $props;
            let id = create(sim, $name, &props).await;
            created.push((urn_of(&props, $name), id.clone()));
            id
        }};
    }
    fn urn_of<R: Resource>(_: &R, name: &str) -> Urn {
        urn::<R>(name)
    }
    let vpc = add!("main", dns_vpc());
    let vpc_id = || VpcId::new(&vpc);
    let igw = add!("igw", InternetGateway::new().vpc(vpc_id()));
    let mut public = Vec::new();
    let mut private = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        let p = Subnet::new(vpc_id(), format!("10.0.{i}.0/24"), az).map_public_ip_on_launch(true);
        public.push(add!(&format!("public-{i}"), p));
        let q = Subnet::new(vpc_id(), format!("10.0.1{i}.0/24"), az);
        private.push(add!(&format!("private-{i}"), q));
    }
    let mut public_rt = RouteTable::new(vpc_id())
        .route_to_internet_gateway("0.0.0.0/0", InternetGatewayId::new(&igw));
    for s in &public {
        public_rt = public_rt.associate(SubnetId::new(s));
    }
    add!("public", public_rt);
    let mut nats = Vec::new();
    let mut private_route_tables = Vec::new();
    for i in 0..2 {
        let eip = add!(&format!("nat-{i}"), ElasticIp::new());
        let home = if shape.nat_in_private_subnets {
            &private[i]
        } else {
            &public[i]
        };
        let nat = NatGateway::public(SubnetId::new(home), AllocationId::new(&eip));
        let nat = add!(&format!("nat-{i}"), nat);
        let mut rt = RouteTable::new(vpc_id()).associate(SubnetId::new(&private[i]));
        if shape.nat_route {
            rt = rt.route_to_nat_gateway("0.0.0.0/0", NatGatewayId::new(&nat));
        }
        private_route_tables.push(add!(&format!("private-{i}"), rt));
        nats.push(nat);
    }
    let acls = [
        ("private", &shape.private_acl, &private),
        ("public", &shape.public_acl, &public),
    ];
    for (name, acl, subnets) in acls {
        if let Some(rules) = acl {
            let mut acl = NetworkAcl::new(vpc_id());
            acl.ingress = rules.ingress.clone();
            acl.egress = rules.egress.clone();
            for s in subnets {
                acl = acl.associate(SubnetId::new(s));
            }
            add!(name, acl);
        }
    }
    if !shape.endpoints.is_empty() {
        let https = if shape.endpoint_https_ingress {
            443
        } else {
            80
        };
        let sg =
            SecurityGroup::new(vpc_id(), "endpoints").ingress(Rule::tcp(https).cidr("10.0.0.0/16"));
        let sg = add!("endpoints", sg);
        for service in shape.endpoints {
            let name = format!("com.amazonaws.us-east-1.{service}");
            let mut endpoint =
                VpcEndpoint::interface(vpc_id(), name).security_group(SecurityGroupId::new(&sg));
            for s in &private {
                endpoint = endpoint.subnet(SubnetId::new(s));
            }
            add!(service, endpoint);
        }
    }
    let cluster = add!("app", EcsCluster::new().name("app"));
    let role = add!(
        "ecs-host",
        IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN)
    );
    let profile = add!(
        "ecs-host",
        InstanceProfile::new(crate::resource::RoleName::new(&role))
    );
    let mut sg = SecurityGroup::new(vpc_id(), "ECS hosts");
    if !shape.https_egress {
        sg = sg
            .revoke_default_egress()
            .egress(Rule::tcp(80).cidr("0.0.0.0/0"));
    }
    let sg = add!("ecs-hosts", sg);
    let mut lt = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small")
        .security_group(SecurityGroupId::new(&sg));
    if let Some(raw) = shape.user_data {
        lt = lt.user_data(raw);
    } else if let Some(c) = shape.user_data_cluster {
        lt = lt.user_data(format!(
            "#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"
        ));
    }
    if shape.instance_profile {
        lt = lt.iam_instance_profile(InstanceProfileName::new(&profile));
    }
    if let Some(p) = shape.public_ip {
        lt = lt.associate_public_ip_address(p);
    }
    let lt = add!("ecs-hosts", lt);
    let hosts = if shape.hosts_in_public_subnets {
        &public
    } else {
        &private
    };
    let mut asg = AutoScalingGroup::new(LaunchTemplateId::new(&lt), 1, 4).desired_capacity(2);
    for s in hosts {
        asg = asg.subnet(SubnetId::new(s));
    }
    let asg = add!("ecs-hosts", asg);
    assert_eq!(ClusterName::new(&cluster).as_str(), "app");
    Deployed {
        created,
        cluster,
        private_route_tables,
        nats,
        asg,
    }
}
