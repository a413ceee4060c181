//! Checks of a whole stack before anything is created: rules that need more
//! than one resource's declaration (a subnet's block inside its VPC's, subnets
//! of one VPC not overlapping). Single-field rules live with each resource
//! type's `validate`; CIDR arithmetic lives in [`cidr`].

pub mod cidr;
mod declared;
mod ecs;
mod findings;
pub mod network;
pub mod reach;

pub use declared::cluster_in_user_data;
pub use findings::{Finding, Report, Severity};

use crate::aws::ec2::{Subnet, Vpc};
use crate::resource::{FieldError, Resource, Urn};
use crate::stack::Stack;
use std::collections::BTreeMap;

/// Analyses a declared stack before anything is created: for every group of
/// instances that runs the ECS agent, whether they can register with the
/// stack's cluster (reachability of the ECS endpoints hop by hop, instance
/// profile, cluster name), and availability warnings. No provider calls.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"));
/// let cluster = stack.add("app", EcsCluster::new());
/// let profile = stack.add("ecs", InstanceProfile::new(RoleName::new("ecsInstanceRole")));
/// let lt = stack.add("hosts", LaunchTemplate::new("ami-0123456789abcdef0", "t3.small")
///     .iam_instance_profile(profile.name())
///     .user_data(cluster.name().map(|c| format!("echo ECS_CLUSTER={c} >> /etc/ecs/ecs.config"))));
/// stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// // The private subnet has no route anywhere: the instances can't register.
/// let report = keel::analysis::check(&stack);
/// assert_eq!(report.codes(), ["E001"]);
/// ```
pub fn check(stack: &Stack) -> Report {
    let d = declared::declared(stack);
    let mut findings = ecs::check(&d);
    findings.sort_by(|a, b| (a.severity, &a.urn, a.code).cmp(&(b.severity, &b.urn, b.code)));
    Report { findings }
}

/// Cross-resource problems, each with the resource it belongs to.
pub(crate) fn check_stack(stack: &Stack) -> Vec<(Urn, FieldError)> {
    let mut errors = Vec::new();
    // Subnets grouped by the VPC declaration they reference.
    let mut by_vpc: BTreeMap<Urn, Vec<(Urn, ipnet::Ipv4Net)>> = BTreeMap::new();
    for d in &stack.resources {
        let Some(subnet) = d.downcast::<Subnet>() else {
            continue;
        };
        let Ok(block) = cidr::parse_block(&subnet.cidr_block) else {
            continue; // reported by Subnet::validate
        };
        let Some((vpc_urn, "id")) = subnet.vpc_id.as_output().and_then(|o| o.source()) else {
            continue; // an existing VPC: only the cloud knows its block
        };
        let Some(vpc) = stack.get_as::<Vpc>(vpc_urn) else {
            continue;
        };
        if let Ok(vpc_block) = cidr::parse_block(&vpc.cidr_block) {
            if !vpc_block.contains(&block) {
                errors.push((
                    d.urn.clone(),
                    FieldError::new(
                        "cidr_block",
                        format!(
                            "{block} is outside the block {vpc_block} of VPC `{}` (AWS would refuse it: InvalidSubnet.Range)",
                            vpc_urn.name()
                        ),
                    ),
                ));
                continue;
            }
        }
        by_vpc
            .entry(vpc_urn.clone())
            .or_default()
            .push((d.urn.clone(), block));
    }
    for (vpc_urn, subnets) in &by_vpc {
        for (i, (a_urn, a)) in subnets.iter().enumerate() {
            for (b_urn, b) in &subnets[..i] {
                if cidr::overlaps(a, b) {
                    errors.push((
                        a_urn.clone(),
                        FieldError::new(
                            "cidr_block",
                            format!(
                                "{a} overlaps {b} of subnet `{}` in VPC `{}` (AWS would refuse it: InvalidSubnet.Conflict)",
                                b_urn.name(),
                                vpc_urn.name()
                            ),
                        ),
                    ));
                }
            }
        }
    }
    debug_assert!(errors.iter().all(|(u, _)| u.type_token() == Subnet::TYPE));
    errors
}
