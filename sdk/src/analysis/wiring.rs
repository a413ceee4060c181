//! Wiring checks: references between declared resources that the AWS APIs
//! refuse, found before any call and for every resource, not only those
//! behind an ECS group. A route's target in another VPC than its table
//! (E041); an association across VPCs (E042); two declarations claiming
//! what AWS gives one, a subnet's route table, a NAT gateway's Elastic IP
//! or a VPC's main route table (E043); one group's subnets spanning VPCs (E044); a security group used
//! in another VPC than its own (E045). Each finding names both resources,
//! the field and the error code the call would get.
//!
//! A reference's VPC is known when the resource is declared in this stack
//! (from the network [`Model`]); two VPCs are told apart only when both are
//! declared or both are literal ids, so nothing is guessed about resources
//! outside the stack.

use super::declared::{Declared, all, key, urn_of};
use super::findings::{Finding, Severity};
use super::network::Model;
use super::reach::Code;
use crate::aws::autoscaling::AutoScalingGroup;
use crate::aws::ec2::{
    LaunchTemplate, MainRouteTableAssociation, NatGateway, NetworkAcl, Route, RouteTable,
    RouteTarget, VpcEndpoint,
};
use crate::aws::ecs::EcsService;
use crate::aws::elb::LoadBalancer;
use crate::resource::{Input, Urn};
use crate::stack::Stack;
use std::collections::BTreeMap;

/// What the wiring checks found.
pub(super) struct Wired {
    /// The findings.
    pub findings: Vec<Finding>,
    /// Auto Scaling groups that can't launch an instance (their subnets
    /// span VPCs, or their template's groups are another VPC's): whether
    /// their instances would reach ECS is moot.
    pub unlaunchable: Vec<Urn>,
}

/// The wiring findings of `stack`.
pub(super) fn check(stack: &Stack, d: &Declared) -> Wired {
    let mut w = Wiring {
        m: &d.model,
        out: Vec::new(),
        unlaunchable: Vec::new(),
    };
    w.route_targets(stack);
    w.associations(stack);
    w.claimed_twice(stack);
    w.spans_and_groups(stack);
    Wired {
        findings: w.out,
        unlaunchable: w.unlaunchable,
    }
}

struct Wiring<'a> {
    m: &'a Model,
    out: Vec<Finding>,
    unlaunchable: Vec<Urn>,
}

/// Whether VPC keys `a` and `b` are known to name different VPCs.
fn differ(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && a != b && urn_of(a).is_some() == urn_of(b).is_some()
}

/// The keys of a list of references.
fn keys<T: AsRef<str>>(inputs: &[Input<T>]) -> Vec<String> {
    inputs.iter().map(key).collect()
}

impl<'a> Wiring<'a> {
    /// The VPC of a declared subnet, route table, security group, network
    /// ACL, endpoint, load balancer or NAT gateway (or of a VPC itself).
    fn vpc_of(&self, k: &str) -> Option<&'a str> {
        let m = self.m;
        let vpc = if let Some((k, _)) = m.vpcs.get_key_value(k) {
            Some(k.as_str())
        } else if let Some(nat) = m.nat_gateways.get(k) {
            nat.regional.as_deref().or_else(|| {
                let subnet = m.subnets.get(&nat.subnet);
                subnet.map(|s| s.vpc.as_str())
            })
        } else {
            None.or_else(|| m.subnets.get(k).map(|f| &f.vpc))
                .or_else(|| m.route_tables.get(k).map(|f| &f.vpc))
                .or_else(|| m.security_groups.get(k).map(|f| &f.vpc))
                .or_else(|| m.network_acls.get(k).map(|f| &f.vpc))
                .or_else(|| m.endpoints.get(k).map(|f| &f.vpc))
                .or_else(|| m.gateway_endpoints.get(k).map(|f| &f.vpc))
                .or_else(|| m.load_balancers.get(k).map(|f| &f.vpc))
                .map(String::as_str)
        };
        vpc.filter(|v| !v.is_empty())
    }

    fn label(&self, k: &str) -> String {
        self.m.label(k).to_string()
    }

    /// The one VPC of `subnets` (`Ok(None)`: none known), or the first two
    /// subnets in different VPCs.
    fn one_vpc(&self, subnets: &[String]) -> Result<Option<&'a str>, (String, String)> {
        let mut first: Option<(&str, &'a str)> = None;
        for s in subnets {
            let Some(vpc) = self.vpc_of(s) else { continue };
            match first {
                None => first = Some((s, vpc)),
                Some((f, v)) if differ(v, vpc) => return Err((f.to_string(), s.clone())),
                Some(_) => {}
            }
        }
        Ok(first.map(|(_, v)| v))
    }

    fn push(&mut self, code: Code, urn: &Urn, field: &str, message: String, fix: String) {
        self.out.push(Finding {
            code,
            policy: None,
            severity: Severity::Error,
            urn: urn.clone(),
            subnet: None,
            field: Some(field.to_string()),
            message,
            path: Vec::new(),
            blocked_at: None,
            fix,
        });
    }

    /// E041: every route's internet or NAT gateway in its table's VPC.
    fn route_targets(&mut self, stack: &Stack) {
        for (urn, _, rt) in all::<RouteTable>(stack) {
            let vpc = key(&rt.vpc_id);
            for r in &rt.routes {
                let table = format!("route table {}", urn.name());
                self.route_target(
                    &urn,
                    "routes",
                    &table,
                    &vpc,
                    &r.destination_cidr_block,
                    &r.target,
                );
            }
        }
        for (urn, _, r) in all::<Route>(stack) {
            let table_key = key(&r.route_table_id);
            let Some(vpc) = self.vpc_of(&table_key) else {
                continue;
            };
            let dest = match (&r.destination_cidr_block, &r.destination_prefix_list_id) {
                (Some(block), _) => block.clone(),
                (None, Some(list)) => key(list),
                (None, None) => continue,
            };
            let table = format!(
                "route {} in route table {}",
                urn.name(),
                self.label(&table_key)
            );
            self.route_target(&urn, "target", &table, vpc, &dest, &r.target);
        }
    }

    fn route_target(
        &mut self,
        urn: &Urn,
        field: &str,
        table: &str,
        vpc: &str,
        dest: &str,
        target: &RouteTarget,
    ) {
        let m = self.m;
        let (what, k, target_vpc) = match target {
            RouteTarget::InternetGateway(g) => {
                let k = key(g);
                let Some(igw) = m.internet_gateways.get(&k) else {
                    return;
                };
                ("internet gateway", k, igw.vpc.as_deref())
            }
            RouteTarget::NatGateway(n) => {
                let k = key(n);
                let Some(nat_vpc) = self.vpc_of(&k) else {
                    return;
                };
                ("NAT gateway", k, Some(nat_vpc))
            }
            _ => return,
        };
        let (where_, fix) = match target_vpc {
            Some(v) if !differ(v, vpc) => return,
            Some(v) => (
                format!("in VPC {}", self.label(v)),
                match self.same_kind_in(target, vpc) {
                    Some(other) => {
                        format!("route {dest} to {what} {other} of VPC {}", self.label(vpc))
                    }
                    None => format!(
                        "route {dest} to a {what} of VPC {} (declare one there), or move the table to VPC {}",
                        self.label(vpc),
                        self.label(v)
                    ),
                },
            ),
            None => (
                "attached to no VPC".to_string(),
                format!(
                    "attach internet gateway {} to VPC {}: InternetGateway::new().vpc({}.id())",
                    self.label(&k),
                    self.label(vpc),
                    self.label(vpc)
                ),
            ),
        };
        self.push(
            Code::RouteTargetOtherVpc,
            urn,
            field,
            format!(
                "{table} (VPC {}) sends {dest} to {what} {}, which is {where_}: CreateRoute fails with InvalidParameterValue (the route table and the gateway belong to different networks)",
                self.label(vpc),
                self.label(&k),
            ),
            fix,
        );
    }

    /// A gateway of `target`'s kind declared in `vpc`, for the fix.
    fn same_kind_in(&self, target: &RouteTarget, vpc: &str) -> Option<String> {
        let m = self.m;
        let found = match target {
            RouteTarget::InternetGateway(_) => m
                .internet_gateways
                .iter()
                .find(|(_, g)| g.vpc.as_deref() == Some(vpc))
                .map(|(k, _)| k),
            _ => m.nat_gateways.keys().find(|k| self.vpc_of(k) == Some(vpc)),
        };
        found.map(|k| self.label(k))
    }

    /// E042: a reference's VPC differs from the VPC of the resource that
    /// associates it.
    fn across(
        &mut self,
        urn: &Urn,
        field: &str,
        own: (&str, &str),
        vpc: &str,
        (kind_of_refs, refs): (&str, &[String]),
        call: &str,
    ) {
        for r in refs {
            let Some(theirs) = self.vpc_of(r) else {
                continue;
            };
            if !differ(theirs, vpc) {
                continue;
            }
            let (kind, name) = own;
            let other = self.label(r);
            self.push(
                Code::AssociationOtherVpc,
                urn,
                field,
                format!(
                    "{kind} {name} (VPC {}) is associated with {kind_of_refs} {other} of VPC {}: {call}",
                    self.label(vpc),
                    self.label(theirs)
                ),
                format!(
                    "associate {kind} {name} only with resources of VPC {}, or declare another {kind} in VPC {} for {other}",
                    self.label(vpc),
                    self.label(theirs)
                ),
            );
        }
    }

    fn associations(&mut self, stack: &Stack) {
        for (urn, _, rt) in all::<RouteTable>(stack) {
            self.across(
                &urn,
                "subnet_ids",
                ("route table", urn.name()),
                &key(&rt.vpc_id),
                ("subnet", &keys(&rt.subnet_ids)),
                "AssociateRouteTable fails with InvalidParameterValue (the route table and the subnet belong to different networks)",
            );
        }
        for (urn, _, acl) in all::<NetworkAcl>(stack) {
            self.across(
                &urn,
                "subnet_ids",
                ("network ACL", urn.name()),
                &key(&acl.vpc_id),
                ("subnet", &keys(&acl.subnet_ids)),
                "ReplaceNetworkAclAssociation fails with InvalidParameterValue (the network ACL and the subnet belong to different networks)",
            );
        }
        for (urn, _, m) in all::<MainRouteTableAssociation>(stack) {
            self.across(
                &urn,
                "route_table_id",
                ("main route table association", urn.name()),
                &key(&m.vpc_id),
                ("route table", &[key(&m.route_table_id)]),
                "ReplaceRouteTableAssociation fails with InvalidParameterValue (the route table and the VPC's main association belong to different networks)",
            );
        }
        for (urn, _, e) in all::<VpcEndpoint>(stack) {
            let vpc = key(&e.vpc_id);
            let own = ("endpoint", urn.name());
            let call = "CreateVpcEndpoint fails with InvalidParameter";
            let subnets = keys(&e.subnet_ids);
            self.across(&urn, "subnet_ids", own, &vpc, ("subnet", &subnets), call);
            let tables = keys(&e.route_table_ids);
            let tables = ("route table", tables.as_slice());
            self.across(&urn, "route_table_ids", own, &vpc, tables, call);
        }
    }

    /// E043: a subnet in two route tables; an Elastic IP in two NAT
    /// gateways; a VPC's main route table set twice.
    fn claimed_twice(&mut self, stack: &Stack) {
        self.main_set_twice(stack);
        let mut tables: BTreeMap<String, Urn> = BTreeMap::new();
        for (urn, _, rt) in all::<RouteTable>(stack) {
            for s in keys(&rt.subnet_ids) {
                match tables.get(&s) {
                    Some(first) => {
                        let (first, subnet) = (first.name().to_string(), self.label(&s));
                        self.push(
                            Code::ClaimedTwice,
                            &urn,
                            "subnet_ids",
                            format!(
                                "route tables {first} and {} both associate subnet {subnet}: a subnet has one route table, so the second AssociateRouteTable fails with Resource.AlreadyAssociated",
                                urn.name()
                            ),
                            format!(
                                "associate subnet {subnet} with one of route tables {first} and {} only",
                                urn.name()
                            ),
                        );
                    }
                    None => {
                        tables.insert(s, urn.clone());
                    }
                }
            }
        }
        let mut addresses: BTreeMap<String, Urn> = BTreeMap::new();
        for (urn, _, nat) in all::<NatGateway>(stack) {
            let Some(eip) = nat.allocation_id.as_ref().map(key) else {
                continue;
            };
            let Some(first) = addresses.get(&eip) else {
                addresses.insert(eip, urn);
                continue;
            };
            let (first, name) = (first.name().to_string(), urn.name());
            let address = urn_of(&eip).map_or(eip.clone(), |u| u.name().to_string());
            self.push(
                Code::ClaimedTwice,
                &urn,
                "allocation_id",
                format!(
                    "NAT gateways {first} and {name} both use Elastic IP {address}: an Elastic IP serves one NAT gateway, so the second CreateNatGateway fails with Resource.AlreadyAssociated"
                ),
                format!(
                    "give NAT gateway {name} its own Elastic IP: stack.add(\"{name}\", ElasticIp::new())"
                ),
            );
        }
    }

    /// E043: two main route table associations for one VPC. AWS refuses
    /// neither: the later ReplaceRouteTableAssociation silently undoes the
    /// earlier, so which table is main depends on the order of the apply.
    fn main_set_twice(&mut self, stack: &Stack) {
        let mut mains: BTreeMap<String, Urn> = BTreeMap::new();
        for (urn, _, m) in all::<MainRouteTableAssociation>(stack) {
            let vpc = key(&m.vpc_id);
            let Some(first) = mains.get(&vpc) else {
                mains.insert(vpc, urn);
                continue;
            };
            let (first, name, vpc) = (first.name().to_string(), urn.name(), self.label(&vpc));
            self.push(
                Code::ClaimedTwice,
                &urn,
                "vpc_id",
                format!(
                    "main route table associations {first} and {name} both set the main route table of VPC {vpc}: AWS accepts both and the later ReplaceRouteTableAssociation silently replaces the earlier, so which table is main depends on the apply order (and deleting either restores the wrong one)"
                ),
                format!(
                    "keep one of main route table associations {first} and {name} for VPC {vpc}"
                ),
            );
        }
    }

    /// E044 and E045: an Auto Scaling group's, a load balancer's and a
    /// service's subnets in one VPC, with their security groups (a launch
    /// template's for a group) in that VPC; an interface endpoint's groups
    /// in its VPC.
    fn spans_and_groups(&mut self, stack: &Stack) {
        let templates: BTreeMap<String, (Urn, LaunchTemplate)> = all::<LaunchTemplate>(stack)
            .into_iter()
            .map(|(urn, k, lt)| (k, (urn, lt)))
            .collect();
        for (urn, _, asg) in all::<AutoScalingGroup>(stack) {
            let subnets = keys(&asg.subnet_ids);
            let what = ("Auto Scaling group", urn.name());
            let call = "CreateAutoScalingGroup fails with ValidationError";
            let Some(vpc) = self.subnets_in_one_vpc(&urn, what, &subnets, call) else {
                self.unlaunchable.push(urn);
                continue;
            };
            let Some((lt_urn, lt)) = templates.get(&key(&asg.launch_template_id)) else {
                continue;
            };
            let used = format!(
                "launch template {}, whose instances Auto Scaling group {} launches into VPC {}",
                lt_urn.name(),
                urn.name(),
                self.label(vpc)
            );
            let call = "RunInstances fails with InvalidGroup.NotFound (the security group does not exist in the subnet's VPC) and the group launches no instance";
            let before = self.out.len();
            self.groups_in(lt_urn, &used, vpc, &keys(&lt.security_group_ids), call);
            if self.out.len() > before {
                self.unlaunchable.push(urn);
            }
        }
        for (urn, _, lb) in all::<LoadBalancer>(stack) {
            let subnets = keys(&lb.subnet_ids);
            let what = ("load balancer", urn.name());
            let call = "CreateLoadBalancer fails with InvalidConfigurationRequest";
            let Some(vpc) = self.subnets_in_one_vpc(&urn, what, &subnets, call) else {
                continue;
            };
            let used = format!("load balancer {} (VPC {})", urn.name(), self.label(vpc));
            let call = "CreateLoadBalancer fails with InvalidSecurityGroup";
            self.groups_in(&urn, &used, vpc, &keys(&lb.security_group_ids), call);
        }
        for (urn, _, svc) in all::<EcsService>(stack) {
            let Some(net) = &svc.network else { continue };
            let subnets = keys(&net.subnet_ids);
            let what = ("service", urn.name());
            let call = "CreateService fails with InvalidParameterException";
            let Some(vpc) = self.subnets_in_one_vpc(&urn, what, &subnets, call) else {
                continue;
            };
            let used = format!(
                "the tasks of service {} (VPC {})",
                urn.name(),
                self.label(vpc)
            );
            self.groups_in(&urn, &used, vpc, &keys(&net.security_group_ids), call);
        }
        for (urn, _, e) in all::<VpcEndpoint>(stack) {
            let vpc = key(&e.vpc_id);
            let used = format!("endpoint {} (VPC {})", urn.name(), self.label(&vpc));
            let call = "CreateVpcEndpoint fails with InvalidParameter";
            self.groups_in(&urn, &used, &vpc, &keys(&e.security_group_ids), call);
        }
    }

    /// The one VPC of a resource's subnets, or E044 (and `None`).
    fn subnets_in_one_vpc(
        &mut self,
        urn: &Urn,
        (kind, name): (&str, &str),
        subnets: &[String],
        call: &str,
    ) -> Option<&'a str> {
        match self.one_vpc(subnets) {
            Ok(vpc) => vpc,
            Err((a, b)) => {
                let va = self.vpc_of(&a).map(|v| self.label(v)).unwrap_or_default();
                let vb = self.vpc_of(&b).map(|v| self.label(v)).unwrap_or_default();
                let (la, lb) = (self.label(&a), self.label(&b));
                self.push(
                    Code::SubnetsSpanVpcs,
                    urn,
                    "subnet_ids",
                    format!(
                        "{kind} {name} has subnet {la} of VPC {va} and subnet {lb} of VPC {vb}: its subnets must all be in one VPC, so {call}"
                    ),
                    format!("keep the subnets of {kind} {name} in one VPC (drop {lb}, or {la})"),
                );
                None
            }
        }
    }

    /// E045: each of `groups` in `vpc`.
    fn groups_in(&mut self, urn: &Urn, used: &str, vpc: &str, groups: &[String], call: &str) {
        for g in groups {
            let Some(theirs) = self.vpc_of(g) else {
                continue;
            };
            if !differ(theirs, vpc) {
                continue;
            }
            let group = self.label(g);
            self.push(
                Code::SecurityGroupOtherVpc,
                urn,
                "security_group_ids",
                format!(
                    "security group {group} of VPC {} is used by {used}: {call}",
                    self.label(theirs)
                ),
                format!(
                    "use a security group of VPC {} (SecurityGroup::new({}.id(), …)) instead of {group}",
                    self.label(vpc),
                    self.label(vpc)
                ),
            );
        }
    }
}
