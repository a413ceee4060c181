//! The stable codes of findings (`E001`…, `W100`…, and `P000`… for
//! policies), shared by the reachability rules, the pre-deploy checks, the
//! policies and the simulator's failure reasons. A code never changes meaning; new problems get new numbers.

use serde::Serialize;
use std::fmt;

/// Stable codes of findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Code {
    /// E001: the subnet's route table has no route to the endpoint.
    #[serde(rename = "E001")]
    NoRoute,
    /// E002: the route goes to an internet gateway not attached to the VPC.
    #[serde(rename = "E002")]
    GatewayNotAttached,
    /// E003: the route goes to an internet gateway but instances have no public address.
    #[serde(rename = "E003")]
    NoPublicIp,
    /// E004: the route goes to a private NAT gateway.
    #[serde(rename = "E004")]
    NatPrivate,
    /// E005: the NAT gateway has no Elastic IP.
    #[serde(rename = "E005")]
    NatNoEip,
    /// E006: the NAT gateway's own subnet doesn't route to an attached internet gateway.
    #[serde(rename = "E006")]
    NatNoInternet,
    /// E007: the route goes to a NAT gateway of another VPC.
    #[serde(rename = "E007")]
    NatOtherVpc,
    /// E008: the NAT gateway isn't available.
    #[serde(rename = "E008")]
    NatNotAvailable,
    /// E009: security group egress doesn't allow TCP 443 to the endpoint.
    #[serde(rename = "E009")]
    SecurityGroupEgress,
    /// E010: a network ACL blocks the HTTPS request.
    #[serde(rename = "E010")]
    AclRequest,
    /// E011: a network ACL blocks the return traffic (ephemeral ports).
    #[serde(rename = "E011")]
    AclReturn,
    /// E012: the interface endpoint's security group doesn't admit TCP 443 from the instances.
    #[serde(rename = "E012")]
    EndpointSecurityGroup,
    /// E013: the VPC can't resolve the service's name (DNS support off).
    #[serde(rename = "E013")]
    DnsDisabled,
    /// E014: instances have no instance profile, so the agent can't call ECS.
    #[serde(rename = "E014")]
    NoInstanceProfile,
    /// E015: the user data registers instances with another cluster.
    #[serde(rename = "E015")]
    WrongCluster,
    /// E020: internet clients can't reach a listener: the load balancer is
    /// internal, or its security groups don't admit the listener port from
    /// the internet.
    #[serde(rename = "E020")]
    ListenerUnreachable,
    /// E021: a subnet of an internet-facing load balancer doesn't route
    /// 0.0.0.0/0 to an internet gateway attached to its VPC.
    #[serde(rename = "E021")]
    LoadBalancerNoInternetRoute,
    /// E022: a load balancer's subnets span fewer than two availability
    /// zones, or two of them share a zone (ELB rejects both).
    #[serde(rename = "E022")]
    LoadBalancerOneZone,
    /// E023: the load balancer's security groups allow no outbound traffic
    /// to the targets on the traffic or health-check port.
    #[serde(rename = "E023")]
    LoadBalancerEgress,
    /// E024: the targets' security groups don't admit the load balancer on
    /// the traffic or health-check port.
    #[serde(rename = "E024")]
    TargetIngress,
    /// E025: the tasks' image can't be pulled (no path to the registry, or
    /// for a private ECR image to `ecr.api`, `ecr.dkr` or `s3`).
    #[serde(rename = "E025")]
    ImagePull,
    /// E026: a service has no instances to run on: its cluster has no Auto
    /// Scaling group, or the cluster's instances can't register or connect
    /// (the root cause is named).
    #[serde(rename = "E026")]
    NoCapacity,
    /// E027: the declaration is inconsistent in a way the API rejects (a
    /// service's container or port not in its task definition, a target
    /// group of the wrong type or VPC).
    #[serde(rename = "E027")]
    Inconsistent,
    /// E028: the load balancer and its target lie in different VPCs.
    #[serde(rename = "E028")]
    OtherVpc,
    /// E029: the health check connects to a port the tasks don't listen
    /// on: every target stays unhealthy.
    #[serde(rename = "E029")]
    HealthCheckPortClosed,
    /// E035: nothing in the user data sets `ECS_CLUSTER` (no user data, a
    /// script that doesn't write `/etc/ecs/ecs.config`, text cloud-init
    /// doesn't run): the agent joins the `default` cluster, not the stack's.
    #[serde(rename = "E035")]
    ClusterNotSet,
    /// E036: the instances register with ECS but can't reach `ecs-agent` or
    /// `ecs-telemetry`: the agent stays disconnected and no task is ever
    /// placed on them.
    #[serde(rename = "E036")]
    AgentDisconnected,
    /// E040: a regional NAT gateway's VPC has no attached internet gateway,
    /// so its traffic has no way out.
    #[serde(rename = "E040")]
    RegionalNatNoInternetGateway,
    /// E041: a route's target (an internet or NAT gateway, a gateway
    /// endpoint) belongs to another VPC than its route table, or the
    /// internet gateway is attached to none: CreateRoute fails.
    #[serde(rename = "E041")]
    RouteTargetOtherVpc,
    /// E042: an association across VPCs: a route table or network ACL with
    /// another VPC's subnet, an endpoint with another VPC's subnet or route
    /// table, a main-table association with another VPC's table.
    #[serde(rename = "E042")]
    AssociationOtherVpc,
    /// E043: two declarations claim what AWS gives one: a subnet's route
    /// table or network ACL, a VPC's main route table, an Elastic IP.
    #[serde(rename = "E043")]
    ClaimedTwice,
    /// E044: the subnets of an Auto Scaling group, a load balancer or a
    /// service's tasks span more than one VPC.
    #[serde(rename = "E044")]
    SubnetsSpanVpcs,
    /// E045: a security group used in another VPC than its own: by a launch
    /// template's instances, an endpoint, a load balancer, a service's tasks.
    #[serde(rename = "E045")]
    SecurityGroupOtherVpc,
    /// W100: something on the path is outside what keel can see.
    #[serde(rename = "W100")]
    Unknown,
    /// W101: one NAT gateway serves subnets in several availability zones.
    #[serde(rename = "W101")]
    SingleNatManyZones,
    /// W102: instances launch in an availability zone that has no NAT gateway of its own.
    #[serde(rename = "W102")]
    ZoneWithoutNat,
    /// W103, retired: a registered agent that can't reach `ecs-agent` is
    /// now an error, [`Code::AgentDisconnected`] (E036), and one that can't
    /// reach `ecs-telemetry` is [`Code::TelemetryUnreachable`] (W107). No
    /// check reports W103 any more; the number isn't reused.
    #[serde(rename = "W103")]
    AgentEndpointUnreachable,
    /// W106: keel can't read which cluster the user data makes the agent
    /// join (a computed value, a script fetched or run from a file, a
    /// compressed part); the finding says what.
    #[serde(rename = "W106")]
    UserDataUnreadable,
    /// W107: registered, connected instances that can't reach
    /// `ecs-telemetry`: tasks run, but the agent sends no metrics (the
    /// agent's telemetry session is apart from its connection).
    #[serde(rename = "W107")]
    TelemetryUnreachable,
    /// P000: a violation of a policy the program defines
    /// ([`crate::policy::Policy::new`]); the finding names the policy and
    /// the policy sets its severity.
    #[serde(rename = "P000")]
    Policy,
    /// P001: a security group admits SSH (TCP 22, a range covering it, or
    /// all traffic) from 0.0.0.0/0
    /// ([`crate::policy::builtins::no_ssh_from_anywhere`]).
    #[serde(rename = "P001")]
    SshFromAnywhere,
    /// P002: a taggable resource lacks a required tag key
    /// ([`crate::policy::builtins::require_tag`]).
    #[serde(rename = "P002")]
    MissingTag,
    /// P003: instances get a public IP in a subnet named private
    /// ([`crate::policy::builtins::no_public_ip_in_private_subnets`]).
    #[serde(rename = "P003")]
    PublicIpInPrivateSubnet,
    /// P004: a subnet reaches the internet through a NAT gateway of another
    /// zone ([`crate::policy::builtins::nat_per_zone`]).
    #[serde(rename = "P004")]
    NatOfAnotherZone,
}

impl Code {
    /// The code as shown: `E001`…
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NoRoute => "E001",
            Code::GatewayNotAttached => "E002",
            Code::NoPublicIp => "E003",
            Code::NatPrivate => "E004",
            Code::NatNoEip => "E005",
            Code::NatNoInternet => "E006",
            Code::NatOtherVpc => "E007",
            Code::NatNotAvailable => "E008",
            Code::SecurityGroupEgress => "E009",
            Code::AclRequest => "E010",
            Code::AclReturn => "E011",
            Code::EndpointSecurityGroup => "E012",
            Code::DnsDisabled => "E013",
            Code::NoInstanceProfile => "E014",
            Code::WrongCluster => "E015",
            Code::ListenerUnreachable => "E020",
            Code::LoadBalancerNoInternetRoute => "E021",
            Code::LoadBalancerOneZone => "E022",
            Code::LoadBalancerEgress => "E023",
            Code::TargetIngress => "E024",
            Code::ImagePull => "E025",
            Code::NoCapacity => "E026",
            Code::Inconsistent => "E027",
            Code::OtherVpc => "E028",
            Code::HealthCheckPortClosed => "E029",
            Code::ClusterNotSet => "E035",
            Code::AgentDisconnected => "E036",
            Code::RegionalNatNoInternetGateway => "E040",
            Code::RouteTargetOtherVpc => "E041",
            Code::AssociationOtherVpc => "E042",
            Code::ClaimedTwice => "E043",
            Code::SubnetsSpanVpcs => "E044",
            Code::SecurityGroupOtherVpc => "E045",
            Code::Unknown => "W100",
            Code::SingleNatManyZones => "W101",
            Code::ZoneWithoutNat => "W102",
            Code::AgentEndpointUnreachable => "W103",
            Code::UserDataUnreadable => "W106",
            Code::TelemetryUnreachable => "W107",
            Code::Policy => "P000",
            Code::SshFromAnywhere => "P001",
            Code::MissingTag => "P002",
            Code::PublicIpInPrivateSubnet => "P003",
            Code::NatOfAnotherZone => "P004",
        }
    }

    /// Whether findings with this code stop a deploy. Policy codes (`P…`)
    /// are not errors by themselves: the policy sets each finding's severity.
    pub fn is_error(self) -> bool {
        self.as_str().starts_with('E')
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
