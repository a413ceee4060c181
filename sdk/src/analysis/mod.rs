//! Pre-deploy analysis of a valid declaration: whether the network the
//! stack declares lets its instances do what they must (reach the ECS
//! endpoints, register with the cluster) and lets its load balancers serve
//! (internet to listener, load balancer to tasks, image pulls; see
//! [`serving`]), as [`Finding`]s. Declaration
//! errors (a field, a name, a reference, a subnet outside its VPC) are the
//! stack's own checks (`Stack::validate`), which this module builds on;
//! CIDR arithmetic is [`cidr`] (at the crate root, re-exported here).

pub use crate::cidr;
mod codes;
pub(crate) mod declared;
mod declared_lb;
pub(crate) mod ecs;
mod ecs_cluster;
mod findings;
pub mod network;
pub(crate) mod paths;
pub mod reach;
mod reach_nat;
mod reach_route;
mod service;
mod service_decl;
mod service_fix;
pub mod serving;
mod user_data;
mod wiring;
#[cfg(test)]
mod wiring_tests;

pub use findings::{Finding, Report, Severity};
pub use user_data::{AgentCluster, UserDataForm, agent_cluster};

use crate::stack::Stack;

/// Analyses a declared stack before anything is created: for every group of
/// instances that runs the ECS agent, whether they can register with the
/// stack's cluster (reachability of the ECS endpoints hop by hop, instance
/// profile, cluster name), availability warnings, and for every load
/// balancer and ECS service whether it can serve: declarations the APIs
/// reject, internet to each listener, the service's instances, image pulls
/// from every task subnet, and the load balancer to its targets on the
/// traffic and health-check ports. Then the stack's policies
/// ([`Stack::policy`]), each finding with the policy's severity. No provider
/// calls.
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
///     .user_data(cluster.name().map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"))));
/// stack.add("hosts", AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()));
/// // The private subnet has no route anywhere: the instances can't register.
/// let report = keel::analysis::check(&stack);
/// assert_eq!(report.codes(), ["E001"]);
/// ```
pub fn check(stack: &Stack) -> Report {
    let d = stack.analysis();
    let wired = wiring::check(stack, d);
    let mut findings = wired.findings;
    // Instances that can't launch have no path to check.
    let launchable = |f: &Finding| !wired.unlaunchable.contains(&f.urn);
    findings.extend(ecs::check(d).into_iter().filter(launchable));
    let serving = service::check(d, &findings);
    findings.extend(serving);
    for policy in stack.policies() {
        findings.extend(policy.check(stack));
    }
    findings.sort_by(|a, b| (a.severity, &a.urn, a.code).cmp(&(b.severity, &b.urn, b.code)));
    Report { findings }
}
