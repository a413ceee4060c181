//! Which cluster a group's instances join, and whether their agent stays
//! connected: the findings E015 (another named cluster), E035 (nothing
//! sets `ECS_CLUSTER`: the `default` cluster), W106 (keel can't read the
//! user data) and E036 (registered, disconnected), each with a fix in the
//! program's names and in the user data's own form.

use super::declared::{Declared, EcsHosts, urn_of};
use super::ecs::fix_for;
use super::findings::{Finding, Severity};
use super::network::Model;
use super::reach::{Blocked, Code};
use super::user_data::{AgentCluster, ECS_CONFIG, UserDataForm};

pub(super) fn cluster_label(cluster: &str) -> String {
    match urn_of(cluster) {
        Some(u) => format!("the name of cluster {}", u.name()),
        None => format!("`{cluster}`"),
    }
}

/// The line that sets the cluster, in the user data's form, for the first
/// cluster of the stack.
fn line_to_add(d: &Declared, form: UserDataForm, template: &str) -> String {
    let Some(c) = d.clusters.first() else {
        return String::new();
    };
    let cluster = c.urn.name();
    let (name, from_output) = match &c.name {
        Some(n) => (n.clone(), false),
        None => ("{n}".to_string(), true),
    };
    let echo = format!("echo ECS_CLUSTER={name} >> {ECS_CONFIG}");
    let script = |prefix: &str| {
        if from_output {
            format!(
                "{prefix}launch template {template}'s user data from the cluster's name: .user_data({cluster}.name().map(|n| format!(\"#!/bin/bash\\n{echo}\\n\")))"
            )
        } else {
            format!("{prefix}launch template {template}'s user data: `{echo}`")
        }
    };
    match form {
        UserDataForm::None => script("give the instances a script that sets it, in "),
        UserDataForm::Text => format!(
            "start the user data with a `#!/bin/bash` line so cloud-init runs it, and have it write the cluster: {}",
            script("in ")
        ),
        UserDataForm::Script | UserDataForm::Mime => script(&format!(
            "add `{echo}` (cluster {cluster}) to the script in "
        )),
        UserDataForm::CloudConfig => format!(
            "add to the cloud-config's write_files of launch template {template}: `- path: {ECS_CONFIG}` with `append: true` and `content: ECS_CLUSTER={name}` (cluster {cluster}{})",
            if from_output { ", its name from cluster.name().map(…)" } else { "" }
        ),
        UserDataForm::Bottlerocket => format!(
            "add `[settings.ecs]` with `cluster = \"{name}\"` (cluster {cluster}) to launch template {template}'s Bottlerocket settings"
        ),
    }
}

/// E015, E035 or W106 for `h`, if its agent joins no cluster of the stack.
pub(super) fn cluster_findings(d: &Declared, h: &EcsHosts, template: &str, out: &mut Vec<Finding>) {
    if d.clusters.is_empty() {
        return;
    }
    let asg = h.urn.name();
    let ours = |name: &str| {
        d.clusters
            .iter()
            .any(|c| c.name_key == name || c.name.as_deref() == Some(name))
    };
    let names: Vec<&str> = d.clusters.iter().map(|c| c.urn.name()).collect();
    let names = names.join(", ");
    let finding = |code: Code, severity, message: String, fix: String| Finding {
        code,
        severity,
        urn: h.urn.clone(),
        subnet: None,
        message,
        path: Vec::new(),
        blocked_at: Some(format!("launch template {template}: user data")),
        fix,
    };
    match &h.cluster {
        AgentCluster::Named(n) if ours(n) => {}
        AgentCluster::Named(n) => out.push(finding(
            Code::WrongCluster,
            Severity::Error,
            format!(
                "instances of {asg} register with cluster {}, not with this stack's cluster {names}",
                cluster_label(n),
            ),
            format!(
                "write ECS_CLUSTER=<name> into {ECS_CONFIG} in launch template {template}'s user data, from the cluster: cluster.name().map(|n| format!(\"...ECS_CLUSTER={{n}}...\"))"
            ),
        )),
        AgentCluster::Default { .. } if ours("default") => {}
        AgentCluster::Default { form, why } => out.push(finding(
            Code::ClusterNotSet,
            Severity::Error,
            format!(
                "instances of {asg} join the `default` cluster, not this stack's cluster {names}: nothing in their user data sets ECS_CLUSTER ({why})"
            ),
            line_to_add(d, *form, template),
        )),
        AgentCluster::Unknown(what) => out.push(finding(
            Code::UserDataUnreadable,
            Severity::Warning,
            format!(
                "keel can't tell which cluster instances of {asg} join: {what}"
            ),
            format!(
                "make sure the user data of launch template {template} leaves ECS_CLUSTER set to the name of cluster {names} in {ECS_CONFIG} (a literal write, e.g. from cluster.name().map(…), can be checked)"
            ),
        )),
    }
}

/// The fix for a registered agent that can't reach `missing` (E036).
pub(super) fn disconnected_fix(
    model: &Model,
    b: &Blocked,
    h: &EcsHosts,
    subnet_key: &str,
    missing: &[&str],
) -> String {
    let vpc = model.subnets.get(subnet_key).map(|s| s.vpc.as_str());
    let ecs_endpoint = model
        .endpoints
        .values()
        .find(|e| e.service == "ecs" && Some(e.vpc.as_str()) == vpc);
    match (b.code, ecs_endpoint) {
        (Code::NoRoute, Some(e)) => format!(
            "add interface endpoints for {} like {} (VpcEndpoint::interface(vpc, \"com.amazonaws.<region>.{}\") with private DNS, in the same subnets and security groups), or route 0.0.0.0/0 through a NAT gateway",
            missing.join(" and "),
            e.label,
            missing[0]
        ),
        _ => fix_for(model, b, h, subnet_key),
    }
}
