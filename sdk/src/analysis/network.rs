//! The network facts reachability is decided on: VPCs, subnets, route tables,
//! gateways, security groups, network ACLs, interface and gateway endpoints, each
//! keyed by a string (a cloud id in the simulator, a reference placeholder in
//! static analysis) and labelled for messages. Both the simulator (from its
//! cloud) and the pre-deploy analysis (from a declared stack) build a
//! [`Model`]; [`super::reach`] decides on it, so the two can't disagree about
//! the rules, only about the facts.

use crate::aws::ec2::Protocol;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A key naming one element of the model.
pub type Key = String;

/// A VPC.
#[derive(Clone, Debug, PartialEq)]
pub struct VpcFacts {
    /// For messages.
    pub label: String,
    /// Its block, if known.
    pub cidr: Option<Ipv4Net>,
    /// Amazon DNS resolution on (needed to resolve any service name).
    pub dns_support: bool,
    /// DNS hostnames on (needed for an endpoint's private DNS).
    pub dns_hostnames: bool,
}

/// A subnet.
#[derive(Clone, Debug, PartialEq)]
pub struct SubnetFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// Its block, if known.
    pub cidr: Option<Ipv4Net>,
    /// Its availability zone.
    pub az: String,
    /// Whether instances launched here get a public address.
    pub map_public_ip: bool,
}

/// Where a route sends traffic.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The VPC's local route.
    Local,
    /// An internet gateway.
    InternetGateway(Key),
    /// A NAT gateway.
    NatGateway(Key),
    /// A transit gateway (outside the stack: where it leads isn't known).
    TransitGateway(Key),
    /// A VPC peering connection (outside the stack).
    PeeringConnection(Key),
    /// A virtual private gateway (outside the stack).
    VpnGateway(Key),
    /// A gateway endpoint: the routes its prefix list adds to each
    /// associated table.
    GatewayEndpoint(Key),
}

impl Target {
    /// The kind and key of a target outside the stack, if it is one.
    pub fn outside(&self) -> Option<(&'static str, &Key)> {
        match self {
            Target::TransitGateway(k) => Some(("transit gateway", k)),
            Target::PeeringConnection(k) => Some(("VPC peering connection", k)),
            Target::VpnGateway(k) => Some(("virtual private gateway", k)),
            _ => None,
        }
    }
}

/// One route.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteFacts {
    /// Destination block.
    pub destination: Ipv4Net,
    /// Target.
    pub target: Target,
}

/// A route table.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteTableFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// The VPC's main table: subnets without an association use it.
    pub main: bool,
    /// Routes besides the implicit local one.
    pub routes: Vec<RouteFacts>,
    /// Explicitly associated subnets.
    pub subnets: Vec<Key>,
}

/// An internet gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayFacts {
    /// For messages.
    pub label: String,
    /// The VPC it is attached to.
    pub vpc: Option<Key>,
}

/// A NAT gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct NatFacts {
    /// For messages.
    pub label: String,
    /// The subnet it sits in (empty for a regional gateway).
    pub subnet: Key,
    /// A regional gateway's VPC: it sits in no subnet and serves every zone
    /// of that VPC through the VPC's internet gateway.
    pub regional: Option<Key>,
    /// Public connectivity (else private).
    pub public: bool,
    /// Has an Elastic IP.
    pub has_eip: bool,
    /// In the `available` state (static analysis: will be).
    pub available: bool,
}

/// One security group rule.
#[derive(Clone, Debug, PartialEq)]
pub struct SgRuleFacts {
    /// Protocol.
    pub protocol: Protocol,
    /// Port range.
    pub ports: (u16, u16),
    /// Peer blocks.
    pub cidrs: Vec<Ipv4Net>,
    /// Peer groups.
    pub groups: Vec<Key>,
}

impl SgRuleFacts {
    /// Whether this rule admits TCP `port`.
    pub fn admits_tcp(&self, port: u16) -> bool {
        match self.protocol {
            Protocol::All => true,
            Protocol::Tcp => self.ports.0 <= port && port <= self.ports.1,
            _ => false,
        }
    }
}

/// A security group.
#[derive(Clone, Debug, PartialEq)]
pub struct SgFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// Inbound rules.
    pub ingress: Vec<SgRuleFacts>,
    /// Outbound rules (AWS's default allow-all included unless revoked).
    pub egress: Vec<SgRuleFacts>,
}

/// One network ACL rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AclRuleFacts {
    /// Evaluation order.
    pub number: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// Port range.
    pub ports: (u16, u16),
    /// Peer block.
    pub cidr: Ipv4Net,
    /// Allow (else deny).
    pub allow: bool,
}

/// A network ACL.
#[derive(Clone, Debug, PartialEq)]
pub struct AclFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// The VPC's default ACL: subnets without an association use it.
    pub default: bool,
    /// Explicitly associated subnets.
    pub subnets: Vec<Key>,
    /// Inbound rules.
    pub ingress: Vec<AclRuleFacts>,
    /// Outbound rules.
    pub egress: Vec<AclRuleFacts>,
}

/// An interface endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// The short service name (`ecs`, `ecs-agent`…).
    pub service: String,
    /// Private DNS on.
    pub private_dns: bool,
    /// Subnets with an endpoint interface.
    pub subnets: Vec<Key>,
    /// Security groups of those interfaces.
    pub security_groups: Vec<Key>,
}

/// A gateway endpoint (S3, DynamoDB): no interfaces, no DNS; its prefix
/// list's blocks are routed to it in each associated route table.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayEndpointFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// The short service name (`s3`, `dynamodb`).
    pub service: String,
    /// The associated route tables.
    pub route_tables: Vec<Key>,
}

/// A load balancer: where it sits and which groups guard it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerFacts {
    /// For messages.
    pub label: String,
    /// Its VPC.
    pub vpc: Key,
    /// Internet-facing (else internal).
    pub internet_facing: bool,
    /// Its subnets (one node in each).
    pub subnets: Vec<Key>,
    /// Its security groups.
    pub security_groups: Vec<Key>,
}

/// Everything reachability looks at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// VPCs.
    pub vpcs: BTreeMap<Key, VpcFacts>,
    /// Subnets.
    pub subnets: BTreeMap<Key, SubnetFacts>,
    /// Route tables.
    pub route_tables: BTreeMap<Key, RouteTableFacts>,
    /// Internet gateways.
    pub internet_gateways: BTreeMap<Key, GatewayFacts>,
    /// NAT gateways.
    pub nat_gateways: BTreeMap<Key, NatFacts>,
    /// Security groups.
    pub security_groups: BTreeMap<Key, SgFacts>,
    /// Network ACLs.
    pub network_acls: BTreeMap<Key, AclFacts>,
    /// Interface endpoints.
    pub endpoints: BTreeMap<Key, EndpointFacts>,
    /// Load balancers.
    pub load_balancers: BTreeMap<Key, LoadBalancerFacts>,
    /// Gateway endpoints.
    pub gateway_endpoints: BTreeMap<Key, GatewayEndpointFacts>,
}

impl Model {
    /// The label of any element, or the key itself.
    pub fn label<'a>(&'a self, key: &'a str) -> &'a str {
        None.or_else(|| self.vpcs.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.subnets.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.route_tables.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.internet_gateways.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.nat_gateways.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.security_groups.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.network_acls.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.endpoints.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.load_balancers.get(key).map(|f| f.label.as_str()))
            .or_else(|| self.gateway_endpoints.get(key).map(|f| f.label.as_str()))
            .unwrap_or(key)
    }

    /// The route table a subnet uses: its explicit association, else its
    /// VPC's main table.
    pub fn route_table_of(&self, subnet: &str) -> Option<(&Key, &RouteTableFacts)> {
        let vpc = &self.subnets.get(subnet)?.vpc;
        self.route_tables
            .iter()
            .find(|(_, t)| t.subnets.iter().any(|s| s == subnet))
            .or_else(|| {
                self.route_tables
                    .iter()
                    .find(|(_, t)| t.main && &t.vpc == vpc)
            })
    }

    /// The network ACL a subnet uses: its explicit association, else its
    /// VPC's default ACL (allow all when the model has none).
    pub fn acl_of(&self, subnet: &str) -> Option<(&Key, &AclFacts)> {
        let vpc = &self.subnets.get(subnet)?.vpc;
        self.network_acls
            .iter()
            .find(|(_, a)| a.subnets.iter().any(|s| s == subnet))
            .or_else(|| {
                self.network_acls
                    .iter()
                    .find(|(_, a)| a.default && &a.vpc == vpc)
            })
    }

    /// The most specific route for `dest` in `table`, the local route
    /// included (`None`: no route). A gateway endpoint's prefix-list route
    /// yields to a block route of the same length, as in AWS.
    pub fn best_route(&self, table: &RouteTableFacts, dest: Ipv4Addr) -> Option<(Ipv4Net, Target)> {
        let local = self
            .vpcs
            .get(&table.vpc)
            .and_then(|v| v.cidr)
            .filter(|c| c.contains(&dest))
            .map(|c| (c, Target::Local));
        table
            .routes
            .iter()
            .filter(|r| r.destination.contains(&dest))
            .map(|r| (r.destination, r.target.clone()))
            .chain(local)
            .max_by_key(|(net, t)| {
                let endpoint = matches!(t, Target::GatewayEndpoint(_));
                (net.prefix_len(), matches!(t, Target::Local), !endpoint)
            })
    }
}

/// The public address the simulator and the analysis give an AWS service's
/// regional endpoint (`ecs.<region>.amazonaws.com` and friends), or a public
/// host such as a container registry (`registry-1.docker.io`, `ghcr.io`,
/// `public.ecr.aws`): addresses outside every private range, reachable only
/// via the internet. Any other name gets one shared public address.
///
/// ```
/// use keel::analysis::network::service_address;
/// assert!(!service_address("ecs").is_private());
/// assert_ne!(service_address("ecr.dkr"), service_address("registry-1.docker.io"));
/// ```
pub fn service_address(service: &str) -> Ipv4Addr {
    match service {
        "ecs" => Ipv4Addr::new(52, 46, 141, 38),
        "ecs-agent" => Ipv4Addr::new(52, 46, 141, 52),
        "ecs-telemetry" => Ipv4Addr::new(52, 46, 142, 17),
        "ecr.api" => Ipv4Addr::new(52, 46, 144, 10),
        "ecr.dkr" => Ipv4Addr::new(52, 46, 144, 20),
        "s3" => Ipv4Addr::new(52, 216, 8, 11),
        "dynamodb" => Ipv4Addr::new(3, 218, 180, 10),
        "registry-1.docker.io" => Ipv4Addr::new(54, 236, 113, 205),
        "public.ecr.aws" => Ipv4Addr::new(99, 83, 145, 10),
        "ghcr.io" => Ipv4Addr::new(140, 82, 112, 34),
        _ => Ipv4Addr::new(52, 46, 143, 1),
    }
}

/// AWS's prefix list for a gateway endpoint service in `us-east-1` (the
/// simulator's region): its id and blocks, which hold the service's
/// [`service_address`]. `None` for services without gateway endpoints.
///
/// ```
/// use keel::analysis::network::{gateway_prefix_list, service_address};
/// let (id, blocks) = gateway_prefix_list("s3").unwrap();
/// assert_eq!(id, "pl-63a5400a");
/// assert!(blocks.iter().any(|b| b.contains(&service_address("s3"))));
/// assert!(gateway_prefix_list("ecs").is_none());
/// ```
pub fn gateway_prefix_list(service: &str) -> Option<(&'static str, Vec<Ipv4Net>)> {
    let (id, blocks): (&str, &[&str]) = match service {
        "s3" => ("pl-63a5400a", &["52.216.0.0/15", "3.5.0.0/19"]),
        "dynamodb" => ("pl-02cd2c6b", &["3.218.180.0/22"]),
        _ => return None,
    };
    Some((id, blocks.iter().filter_map(|b| b.parse().ok()).collect()))
}

/// The service whose AWS prefix list has id `id` (see
/// [`gateway_prefix_list`]).
///
/// ```
/// assert_eq!(keel::analysis::network::prefix_list_service("pl-02cd2c6b"), Some("dynamodb"));
/// ```
pub fn prefix_list_service(id: &str) -> Option<&'static str> {
    ["s3", "dynamodb"]
        .into_iter()
        .find(|s| gateway_prefix_list(s).is_some_and(|(pl, _)| pl == id))
}
