//! Builds the network [`Model`] and the list of ECS hosts from a declared
//! [`Stack`], before anything exists. References are followed through
//! placeholders (`keel-ref:<urn>#<field>`) that stand for outputs, so a
//! route's target, a subnet's VPC or the cluster named in user data built
//! with `Output::map` are all known by the resource they come from. Things AWS
//! creates implicitly are added too: each VPC's main route table (local route
//! only) and default security group (all egress allowed). Standalone
//! routes join the table they name (the main table included); a gateway
//! endpoint's prefix-list route joins each table it is associated with; a
//! main route table association makes its table the VPC's main one.

use super::cidr;
use super::network::{
    AclFacts, AclRuleFacts, EndpointFacts, GatewayEndpointFacts, GatewayFacts, Key, Model,
    NatFacts, RouteFacts, RouteTableFacts, SgFacts, SgRuleFacts, SubnetFacts, Target, VpcFacts,
    gateway_prefix_list, prefix_list_service,
};
use super::user_data::{AgentCluster, agent_cluster};
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::{
    AclAction, AclRule, AvailabilityMode, Connectivity, InternetGateway, LaunchTemplate,
    MainRouteTableAssociation, NatGateway, NetworkAcl, Peer, Route, RouteTable, RouteTarget, Rule,
    SecurityGroup, Subnet, Vpc, VpcEndpoint,
};
use crate::aws::ecs::{CapacityProvider, EcsCluster};
use crate::aws::iam::InstanceProfile;
use crate::resource::{Input, Placeholders, Resource, Urn, parse_placeholder, placeholder};
use crate::stack::Stack;
use serde::de::DeserializeOwned;

/// Instances an Auto Scaling group will launch and that run the ECS agent.
#[derive(Clone, Debug)]
pub(crate) struct EcsHosts {
    /// The group.
    pub urn: Urn,
    /// Its launch template.
    pub template: Option<Urn>,
    /// Subnet keys the group launches into.
    pub subnets: Vec<Key>,
    /// Security group keys (the VPC's default group when the template names none).
    pub security_groups: Vec<Key>,
    /// The template's public-IP setting (`None`: the subnet decides).
    pub public_ip: Option<bool>,
    /// Whether the template names an instance profile.
    pub instance_profile: bool,
    /// The cluster its agent joins, as its user data says.
    pub cluster: AgentCluster,
    /// The number of instances it keeps (desired capacity, else minimum).
    pub capacity: u32,
}

/// A declared ECS cluster: its key and, if given, its literal name.
#[derive(Clone, Debug)]
pub(crate) struct ClusterDecl {
    pub urn: Urn,
    pub name_key: Key,
    pub name: Option<String>,
}

/// What analysis knows about a stack.
#[derive(Clone, Debug, Default)]
pub(crate) struct Declared {
    pub model: Model,
    pub hosts: Vec<EcsHosts>,
    /// Every Auto Scaling group with a declared launch template, running
    /// the agent or not (what `keel::testing`'s network assertions start
    /// from).
    pub groups: Vec<EcsHosts>,
    pub clusters: Vec<ClusterDecl>,
    /// The load balancers, listeners, target groups, task definitions and
    /// services.
    pub serving: super::declared_lb::Serving,
}

/// Whether user data configures the ECS agent.
fn configures_ecs(user_data: Option<&str>) -> bool {
    user_data.is_some_and(super::user_data::mentions_ecs)
}

pub(super) fn key(input: &Input<impl AsRef<str>>) -> Key {
    input
        .value()
        .map(|v| v.as_ref().to_string())
        .unwrap_or_default()
}

/// The resource a key's placeholder stands for.
pub(crate) fn urn_of(key: &str) -> Option<Urn> {
    parse_placeholder(key).map(|(u, _)| u)
}

pub(super) fn sibling(vpc_key: &str, field: &str) -> Key {
    match parse_placeholder(vpc_key) {
        Some((urn, _)) => placeholder(&urn, field),
        None => format!("{vpc_key}#{field}"),
    }
}

fn sg_rules(rules: &[Rule], own: &str) -> Vec<SgRuleFacts> {
    rules
        .iter()
        .map(|r| {
            let mut facts = SgRuleFacts {
                protocol: r.protocol,
                ports: (r.from_port, r.to_port),
                cidrs: Vec::new(),
                groups: Vec::new(),
            };
            for p in &r.peers {
                match p {
                    Peer::Cidr(c) => facts.cidrs.extend(cidr::parse(c).ok()),
                    Peer::Group(g) => facts.groups.push(key(g)),
                    Peer::SelfGroup => facts.groups.push(own.to_string()),
                }
            }
            facts
        })
        .collect()
}

fn acl_rules(rules: &[AclRule]) -> Vec<AclRuleFacts> {
    rules
        .iter()
        .filter_map(|r| {
            Some(AclRuleFacts {
                number: r.rule_number,
                protocol: r.protocol,
                ports: (r.from_port, r.to_port),
                cidr: cidr::parse(&r.cidr_block).ok()?,
                allow: r.action == AclAction::Allow,
            })
        })
        .collect()
}

/// Every declaration of type `R`, with references replaced by placeholders.
pub(super) fn all<R: Resource>(stack: &Stack) -> Vec<(Urn, Key, R)> {
    stack
        .resources
        .iter()
        .filter(|d| d.schema.type_token == R::TYPE)
        .filter_map(|d| {
            let json = d.inputs.as_ref().ok()?.resolve(&Placeholders);
            let typed: R = from_json(json)?;
            Some((d.urn.clone(), placeholder(&d.urn, "id"), typed))
        })
        .collect()
}

fn from_json<R: DeserializeOwned>(json: serde_json::Value) -> Option<R> {
    serde_json::from_value(json).ok()
}

/// A declared route target in the model (`None`: local, or one AWS refuses
/// for IPv4, which validation reports).
fn target(t: &RouteTarget) -> Option<Target> {
    Some(match t {
        RouteTarget::Local | RouteTarget::EgressOnlyInternetGateway(_) => return None,
        RouteTarget::InternetGateway(g) => Target::InternetGateway(key(g)),
        RouteTarget::NatGateway(n) => Target::NatGateway(key(n)),
        RouteTarget::TransitGateway(g) => Target::TransitGateway(key(g)),
        RouteTarget::VpcPeeringConnection(p) => Target::PeeringConnection(key(p)),
        RouteTarget::VpnGateway(g) => Target::VpnGateway(key(g)),
    })
}

/// Adds standalone routes to the tables they name, and gateway endpoints
/// with their prefix-list routes. A route on a table the model doesn't have
/// (one outside the stack) changes nothing the analysis follows; a prefix
/// list is followed when it is AWS's list for a service or a gateway
/// endpoint's output.
fn routes_and_gateway_endpoints(stack: &Stack, m: &mut Model) {
    let endpoints = all::<VpcEndpoint>(stack);
    let gateways = endpoints.iter().filter(|(_, _, e)| e.is_gateway());
    for (urn, k, ep) in gateways {
        let service = ep.service().unwrap_or_default().to_string();
        let tables: Vec<Key> = ep.route_table_ids.iter().map(key).collect();
        let blocks = gateway_prefix_list(&service)
            .map(|(_, b)| b)
            .unwrap_or_default();
        for t in &tables {
            if let Some(table) = m.route_tables.get_mut(t) {
                table.routes.extend(blocks.iter().map(|b| RouteFacts {
                    destination: *b,
                    target: Target::GatewayEndpoint(k.clone()),
                }));
            }
        }
        let facts = GatewayEndpointFacts {
            label: urn.name().to_string(),
            vpc: key(&ep.vpc_id),
            service,
            route_tables: tables,
        };
        m.gateway_endpoints.insert(k.clone(), facts);
    }
    for (_, _, r) in all::<Route>(stack) {
        let Some(target) = target(&r.target) else {
            continue;
        };
        let blocks = match (&r.destination_cidr_block, &r.destination_prefix_list_id) {
            (Some(block), _) => cidr::parse(block).ok().into_iter().collect(),
            (None, Some(list)) => prefix_list_blocks(&key(list), &endpoints),
            (None, None) => Vec::new(),
        };
        if let Some(table) = m.route_tables.get_mut(&key(&r.route_table_id)) {
            let routes = blocks.into_iter().map(|destination| RouteFacts {
                destination,
                target: target.clone(),
            });
            table.routes.extend(routes);
        }
    }
}

/// Main route table associations: the declared table becomes its VPC's
/// main table, so subnets without an association route through it, and
/// the VPC's own main table stops being main. A table outside the stack is
/// not in the model (its routes are unknown), so the model keeps the VPC's
/// own main table then.
fn main_associations(stack: &Stack, m: &mut Model) {
    for (_, _, a) in all::<MainRouteTableAssociation>(stack) {
        let vpc = key(&a.vpc_id);
        let table = key(&a.route_table_id);
        if !m.route_tables.contains_key(&table) {
            continue;
        }
        for (k, t) in m.route_tables.iter_mut().filter(|(_, t)| t.vpc == vpc) {
            t.main = *k == table;
        }
    }
}

/// The blocks of prefix list `list`: AWS's list for a service, or a
/// declared gateway endpoint's `prefix_list_id` output.
fn prefix_list_blocks(list: &str, endpoints: &[(Urn, Key, VpcEndpoint)]) -> Vec<ipnet::Ipv4Net> {
    let service = prefix_list_service(list).map(str::to_string).or_else(|| {
        let urn = urn_of(list)?;
        let (_, _, ep) = endpoints.iter().find(|(u, _, _)| *u == urn)?;
        ep.service().map(str::to_string)
    });
    service
        .and_then(|s| gateway_prefix_list(&s))
        .map(|(_, blocks)| blocks)
        .unwrap_or_default()
}

/// Builds what analysis needs from `stack`.
pub(crate) fn declared(stack: &Stack) -> Declared {
    let mut out = Declared::default();
    let m = &mut out.model;
    for (urn, k, vpc) in all::<Vpc>(stack) {
        let label = urn.name().to_string();
        m.route_tables.insert(
            sibling(&k, "main_route_table_id"),
            RouteTableFacts {
                label: format!("{label} (main)"),
                vpc: k.clone(),
                main: true,
                routes: Vec::new(),
                subnets: Vec::new(),
            },
        );
        m.security_groups.insert(
            sibling(&k, "default_security_group_id"),
            SgFacts {
                label: format!("{label} (default)"),
                vpc: k.clone(),
                ingress: sg_rules(
                    &[Rule::all().self_group()],
                    &sibling(&k, "default_security_group_id"),
                ),
                egress: sg_rules(&[Rule::all().cidr("0.0.0.0/0")], ""),
            },
        );
        m.vpcs.insert(
            k,
            VpcFacts {
                label,
                cidr: cidr::parse(&vpc.cidr_block).ok(),
                dns_support: vpc.enable_dns_support,
                dns_hostnames: vpc.enable_dns_hostnames,
            },
        );
    }
    for (urn, k, s) in all::<Subnet>(stack) {
        let facts = SubnetFacts {
            label: urn.name().to_string(),
            vpc: key(&s.vpc_id),
            cidr: cidr::parse(&s.cidr_block).ok(),
            az: s.availability_zone.clone(),
            map_public_ip: s.map_public_ip_on_launch,
        };
        m.subnets.insert(k, facts);
    }
    for (urn, k, rt) in all::<RouteTable>(stack) {
        let routes = rt
            .routes
            .iter()
            .filter_map(|r| {
                Some(RouteFacts {
                    destination: cidr::parse(&r.destination_cidr_block).ok()?,
                    target: target(&r.target)?,
                })
            })
            .collect();
        let facts = RouteTableFacts {
            label: urn.name().to_string(),
            vpc: key(&rt.vpc_id),
            main: false,
            routes,
            subnets: rt.subnet_ids.iter().map(key).collect(),
        };
        m.route_tables.insert(k, facts);
    }
    for (urn, k, igw) in all::<InternetGateway>(stack) {
        let vpc = igw.vpc_id.as_ref().map(key);
        m.internet_gateways.insert(
            k,
            GatewayFacts {
                label: urn.name().to_string(),
                vpc,
            },
        );
    }
    for (urn, k, nat) in all::<NatGateway>(stack) {
        let facts = NatFacts {
            label: urn.name().to_string(),
            subnet: nat.subnet_id.as_ref().map(key).unwrap_or_default(),
            regional: (nat.availability_mode == AvailabilityMode::Regional)
                .then(|| nat.vpc_id.as_ref().map(key).unwrap_or_default()),
            public: nat.connectivity == Connectivity::Public,
            // A regional gateway's addresses are AWS's unless given.
            has_eip: nat.allocation_id.is_some()
                || nat.availability_mode == AvailabilityMode::Regional,
            available: true,
        };
        m.nat_gateways.insert(k, facts);
    }
    for (urn, k, sg) in all::<SecurityGroup>(stack) {
        let facts = SgFacts {
            label: urn.name().to_string(),
            vpc: key(&sg.vpc_id),
            ingress: sg_rules(&sg.ingress, &k),
            egress: sg_rules(&sg.effective_egress(), &k),
        };
        m.security_groups.insert(k, facts);
    }
    for (urn, k, acl) in all::<NetworkAcl>(stack) {
        let facts = AclFacts {
            label: urn.name().to_string(),
            vpc: key(&acl.vpc_id),
            default: false,
            subnets: acl.subnet_ids.iter().map(key).collect(),
            ingress: acl_rules(&acl.ingress),
            egress: acl_rules(&acl.egress),
        };
        m.network_acls.insert(k, facts);
    }
    for (urn, k, ep) in all::<VpcEndpoint>(stack) {
        if ep.is_gateway() {
            continue; // see routes_and_gateway_endpoints
        }
        let vpc = key(&ep.vpc_id);
        let mut groups: Vec<Key> = ep.security_group_ids.iter().map(key).collect();
        if groups.is_empty() {
            groups.push(sibling(&vpc, "default_security_group_id"));
        }
        let facts = EndpointFacts {
            label: urn.name().to_string(),
            service: ep.service().unwrap_or_default().to_string(),
            vpc,
            private_dns: ep.private_dns_enabled,
            subnets: ep.subnet_ids.iter().map(key).collect(),
            security_groups: groups,
        };
        m.endpoints.insert(k, facts);
    }
    routes_and_gateway_endpoints(stack, m);
    main_associations(stack, m);
    for (urn, k, c) in all::<EcsCluster>(stack) {
        let _ = k;
        out.clusters.push(ClusterDecl {
            name_key: placeholder(&urn, "name"),
            urn,
            name: c.name,
        });
    }
    super::declared_lb::load_balancers(stack, m);
    out.serving = super::declared_lb::serving(stack);
    let templates = all::<LaunchTemplate>(stack);
    let profiles = all::<InstanceProfile>(stack);
    let groups: Vec<_> = all::<AutoScalingGroup>(stack)
        .into_iter()
        .filter_map(|(urn, _, asg)| {
            let lt_key = key(&asg.launch_template_id);
            // a template outside the stack: nothing to analyse
            let (lt_urn, _, lt) = templates.iter().find(|(_, k, _)| *k == lt_key)?;
            let user_data = lt.user_data.as_ref().and_then(|u| u.value().cloned());
            Some((urn, asg, lt_urn, lt, user_data))
        })
        .collect();
    let capacity: Vec<Urn> = all::<CapacityProvider>(stack)
        .iter()
        .filter_map(|(_, _, cp)| urn_of(&key(&cp.auto_scaling_group_arn)))
        .collect();
    // ECS hosts: groups whose user data configures the agent or that a
    // capacity provider uses; failing both, with a cluster declared, every
    // group (its instances can only be meant for the cluster).
    let ecs_group = |(urn, _, _, _, user_data): &(Urn, _, _, _, Option<String>)| {
        configures_ecs(user_data.as_deref()) || capacity.contains(urn)
    };
    let any_marked = groups.iter().any(ecs_group);
    let no_cluster = out.clusters.is_empty();
    for g in &groups {
        let runs_ecs = ecs_group(g) || !(any_marked || no_cluster);
        let (urn, asg, lt_urn, lt, user_data) = g.clone();
        let subnets: Vec<Key> = asg.subnet_ids.iter().map(key).collect();
        let mut security_groups: Vec<Key> = lt.security_group_ids.iter().map(key).collect();
        if security_groups.is_empty() {
            let vpcs: Vec<Key> = subnets
                .iter()
                .filter_map(|s| m.subnets.get(s))
                .map(|s| s.vpc.clone())
                .collect();
            if let Some(vpc) = vpcs.first() {
                security_groups.push(sibling(vpc, "default_security_group_id"));
            }
        }
        let instance_profile = match &lt.iam_instance_profile {
            None => false,
            // A profile in the stack always holds a role (it is required);
            // one outside the stack is taken on trust.
            Some(p) => {
                let k = key(p);
                urn_of(&k).is_none()
                    || profiles
                        .iter()
                        .any(|(u, _, _)| Some(u) == urn_of(&k).as_ref())
            }
        };
        let hosts = EcsHosts {
            urn,
            template: Some(lt_urn.clone()),
            subnets,
            security_groups,
            public_ip: lt.associate_public_ip_address,
            instance_profile,
            cluster: agent_cluster(user_data.as_deref()),
            capacity: asg.capacity(),
        };
        if runs_ecs {
            out.hosts.push(hosts.clone());
        }
        out.groups.push(hosts);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn references_and_mapped_user_data_resolve_to_their_resources() {
        let mut s = Stack::new("t");
        let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
        let subnet = s.add("a", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
        let cluster = s.add("app", EcsCluster::new());
        let lt = s.add(
            "hosts",
            LaunchTemplate::new("ami-0123456789abcdef0", "t3.small").user_data(
                cluster
                    .name()
                    .map(|n| format!("#!/bin/bash\necho ECS_CLUSTER={n} >> /etc/ecs/ecs.config\n")),
            ),
        );
        s.add(
            "hosts",
            AutoScalingGroup::new(lt.id(), 1, 1).subnet(subnet.id()),
        );
        let d = declared(&s);
        let subnet_key = placeholder(subnet.urn(), "id");
        assert_eq!(
            d.model.subnets[&subnet_key].vpc,
            placeholder(vpc.urn(), "id")
        );
        assert_eq!(d.hosts.len(), 1);
        assert_eq!(
            d.hosts[0].cluster.joins(),
            Some(d.clusters[0].name_key.as_str())
        );
        assert_eq!(d.hosts[0].subnets, vec![subnet_key]);
        assert!(!d.hosts[0].instance_profile);
        // the default security group stands in for an empty list
        assert!(d.hosts[0].security_groups[0].ends_with("#default_security_group_id"));
        // and analysis leaves nothing behind: outputs are still unknown
        assert_eq!(vpc.id().resolve(&crate::OutputValues::new()), None);
    }
}
