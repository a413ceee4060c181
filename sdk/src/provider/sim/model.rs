//! The simulated cloud as the shared network [`Model`]: the facts
//! reachability is decided on, keyed by cloud ids and labelled by the logical
//! name in each resource's `keel:urn` tag (else the id). Main route tables and
//! default network ACLs are marked as such; NAT gateways are available only
//! in the `available` state; security group rules are the effective ones
//! (AWS's default egress included unless revoked), with CIDR and group
//! peers; a route to a prefix list stands for the list's blocks; only
//! available endpoints are in it (gateway endpoints apart), since their private DNS names
//! resolve only then; only active load balancers, keyed by ARN, since
//! a provisioning one has no nodes yet. This module owns the translation and nothing else:
//! the rules live in `analysis::reach`, so the simulator and the pre-deploy
//! analysis can differ only in the facts they feed it.

use super::acls::AclEntry;
use super::cloud::Cloud;
use super::routing::{Dest, Target as RouteTarget};
use super::security::{PeerRec, Permission};
use super::table::Phase;
use crate::analysis::network::{
    AclFacts, AclRuleFacts, EndpointFacts, GatewayEndpointFacts, GatewayFacts, LoadBalancerFacts,
    Model, NatFacts, RouteFacts, RouteTableFacts, SgFacts, SgRuleFacts, SubnetFacts, Target,
    VpcFacts, gateway_prefix_list, prefix_list_service,
};
use crate::aws::ec2::{AvailabilityMode, Connectivity, Protocol};
use crate::aws::elb::Scheme;
use crate::resource::{Tags, URN_TAG};

/// A resource's label: the logical name in its `keel:urn` tag (the URN's
/// last `::` segment), else its id.
pub(super) fn label(tags: &Tags, id: &str) -> String {
    let logical = tags
        .get(URN_TAG)
        .and_then(|urn| urn.rsplit("::").next())
        .filter(|name| !name.is_empty());
    logical.unwrap_or(id).to_string()
}

/// The blocks a route's destination stands for: its block, or the blocks
/// of the AWS prefix list it names.
fn destinations(dest: &Dest) -> Vec<ipnet::Ipv4Net> {
    match dest {
        Dest::Cidr(net) => vec![*net],
        Dest::PrefixList(pl) => prefix_list_service(pl)
            .and_then(gateway_prefix_list)
            .map(|(_, blocks)| blocks)
            .unwrap_or_default(),
    }
}

/// A security group permission as a rule of the model.
fn sg_rule(p: &Permission) -> SgRuleFacts {
    let protocol = match p.protocol.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        _ => Protocol::All,
    };
    let (cidrs, groups) = match &p.peer {
        PeerRec::Cidr(net) => (vec![*net], Vec::new()),
        PeerRec::Group(g) => (Vec::new(), vec![g.clone()]),
    };
    SgRuleFacts {
        protocol,
        ports: (p.from_port, p.to_port),
        cidrs,
        groups,
    }
}

/// A network ACL entry as a rule of the model.
fn acl_rule(e: &AclEntry) -> AclRuleFacts {
    AclRuleFacts {
        number: e.rule_number,
        protocol: e.protocol,
        ports: (e.from_port, e.to_port),
        cidr: e.cidr_block,
        allow: e.allow,
    }
}

impl Cloud {
    /// The network facts of the whole cloud, as reachability sees them now.
    pub(super) fn network_model(&self) -> Model {
        let mut m = Model::default();
        for v in self.vpcs.values() {
            let facts = VpcFacts {
                label: label(&v.tags, &v.id),
                cidr: Some(v.cidr_block),
                dns_support: v.enable_dns_support,
                dns_hostnames: v.enable_dns_hostnames,
            };
            m.vpcs.insert(v.id.clone(), facts);
        }
        for s in self.subnets.values() {
            let facts = SubnetFacts {
                label: label(&s.tags, &s.id),
                vpc: s.vpc_id.clone(),
                cidr: Some(s.cidr_block),
                az: s.availability_zone.clone(),
                map_public_ip: s.map_public_ip_on_launch,
            };
            m.subnets.insert(s.id.clone(), facts);
        }
        for t in self.route_tables.values() {
            let routes = t.routes.iter().flat_map(|r| {
                let target = match &r.target {
                    RouteTarget::InternetGateway(g) => Target::InternetGateway(g.clone()),
                    RouteTarget::NatGateway(n) => Target::NatGateway(n.clone()),
                    RouteTarget::TransitGateway(g) => Target::TransitGateway(g.clone()),
                    RouteTarget::PeeringConnection(p) => Target::PeeringConnection(p.clone()),
                    RouteTarget::VpnGateway(g) => Target::VpnGateway(g.clone()),
                    RouteTarget::GatewayEndpoint(e) => Target::GatewayEndpoint(e.clone()),
                };
                destinations(&r.destination)
                    .into_iter()
                    .map(move |destination| RouteFacts {
                        destination,
                        target: target.clone(),
                    })
            });
            let facts = RouteTableFacts {
                label: label(&t.tags, &t.id),
                vpc: t.vpc_id.clone(),
                main: t.main_association.is_some(),
                routes: routes.collect(),
                subnets: t.associations.iter().map(|a| a.subnet_id.clone()).collect(),
            };
            m.route_tables.insert(t.id.clone(), facts);
        }
        for g in self.internet_gateways.values() {
            let facts = GatewayFacts {
                label: label(&g.tags, &g.id),
                vpc: g.vpc_id.clone(),
            };
            m.internet_gateways.insert(g.id.clone(), facts);
        }
        for n in self.nat_gateways.values() {
            let facts = NatFacts {
                label: label(&n.tags, &n.id),
                subnet: n.subnet_id.clone().unwrap_or_default(),
                regional: (n.availability_mode == AvailabilityMode::Regional)
                    .then(|| n.vpc_id.clone()),
                public: n.connectivity == Connectivity::Public,
                has_eip: n.allocation_id.is_some()
                    || n.availability_mode == AvailabilityMode::Regional,
                available: n.state == Phase::Available,
            };
            m.nat_gateways.insert(n.id.clone(), facts);
        }
        for g in self.security_groups.values() {
            let facts = SgFacts {
                label: label(&g.tags, &g.id),
                vpc: g.vpc_id.clone(),
                ingress: g.ingress.iter().map(sg_rule).collect(),
                egress: g.egress.iter().map(sg_rule).collect(),
            };
            m.security_groups.insert(g.id.clone(), facts);
        }
        for a in self.network_acls.values() {
            let facts = AclFacts {
                label: label(&a.tags, &a.id),
                vpc: a.vpc_id.clone(),
                default: a.default,
                subnets: a.associations.iter().map(|s| s.subnet_id.clone()).collect(),
                ingress: a.ingress.iter().map(acl_rule).collect(),
                egress: a.egress.iter().map(acl_rule).collect(),
            };
            m.network_acls.insert(a.id.clone(), facts);
        }
        let available = self
            .vpc_endpoints
            .values()
            .filter(|e| e.state == Phase::Available);
        for e in available {
            if e.is_gateway() {
                let facts = GatewayEndpointFacts {
                    label: label(&e.tags, &e.id),
                    vpc: e.vpc_id.clone(),
                    service: e.service.clone(),
                    route_tables: e.route_table_ids.clone(),
                };
                m.gateway_endpoints.insert(e.id.clone(), facts);
                continue;
            }
            let facts = EndpointFacts {
                label: label(&e.tags, &e.id),
                vpc: e.vpc_id.clone(),
                service: e.service.clone(),
                private_dns: e.private_dns,
                subnets: e.subnet_ids().cloned().collect(),
                security_groups: e.security_group_ids.clone(),
            };
            m.endpoints.insert(e.id.clone(), facts);
        }
        // Only active load balancers have nodes in their subnets.
        let active = self
            .load_balancers
            .values()
            .filter(|l| l.state == Phase::Available);
        for l in active {
            let facts = LoadBalancerFacts {
                label: label(&l.tags, &l.name),
                vpc: l.vpc_id.clone(),
                internet_facing: l.scheme == Scheme::InternetFacing,
                subnets: l.subnet_ids.clone(),
                security_groups: l.security_group_ids.clone(),
            };
            m.load_balancers.insert(l.arn.clone(), facts);
        }
        m
    }
}
