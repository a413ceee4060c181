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
    // How to write it in the program, `{n}` being the cluster's name.
    let program = |prefix: &str| {
        if from_output {
            format!(
                ", {{n}} being cluster {cluster}'s name: cluster.name().map(|n| format!(\"{prefix}{echo}\\n\"))"
            )
        } else {
            String::new()
        }
    };
    match form {
        UserDataForm::None => match from_output {
            true => format!(
                "give launch template {template} user data that sets it: .user_data(cluster.name().map(|n| format!(\"#!/bin/bash\\n{echo}\\n\"))), cluster being cluster {cluster}"
            ),
            false => format!(
                "give launch template {template} user data that sets it: .user_data(\"#!/bin/bash\\n{echo}\\n\")"
            ),
        },
        UserDataForm::Text => format!(
            "start the user data of launch template {template} with a `#!/bin/bash` line so cloud-init runs it, and have it run `{echo}`{}",
            program("#!/bin/bash\\n…\\n")
        ),
        UserDataForm::Script | UserDataForm::Mime => format!(
            "add `{echo}` to the script in the user data of launch template {template}{}",
            program("…\\n")
        ),
        UserDataForm::CloudConfig => format!(
            "add to the cloud-config's write_files of launch template {template}: `- path: {ECS_CONFIG}` with `append: true` and `content: ECS_CLUSTER={name}`{}",
            if from_output {
                format!(", {{n}} being cluster {cluster}'s name (cluster.name().map(…))")
            } else {
                String::new()
            }
        ),
        UserDataForm::Bottlerocket => format!(
            "add `[settings.ecs]` with `cluster = \"{name}\"` to the Bottlerocket settings of launch template {template}{}",
            if from_output {
                format!(", {{n}} being cluster {cluster}'s name (cluster.name().map(…))")
            } else {
                String::new()
            }
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
        policy: None,
        severity,
        urn: h.urn.clone(),
        subnet: None,
        field: None,
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
    let region = model.subnets.get(subnet_key).map_or("<region>", |s| {
        s.az.trim_end_matches(|c: char| c.is_ascii_lowercase())
    });
    match (b.code, ecs_endpoint) {
        (Code::NoRoute, Some(e)) => format!(
            "add interface endpoints for {} like {} (VpcEndpoint::interface(vpc.id(), \"com.amazonaws.{region}.{}\") with private DNS, in the same subnets and security groups), or route 0.0.0.0/0 through a NAT gateway",
            missing.join(" and "),
            e.label,
            missing[0]
        ),
        _ => fix_for(model, b, h, subnet_key),
    }
}

#[cfg(test)]
mod tests {
    use crate::aws::iam::ECS_INSTANCE_POLICY_ARN;
    use crate::prelude::*;

    /// A public subnet with a working path to ECS, a cluster and one group
    /// whose user data `user_data` makes from the cluster.
    fn stack(
        cluster: EcsCluster,
        user_data: impl Fn(&Handle<EcsCluster>) -> Option<Input<String>>,
    ) -> Stack {
        let mut s = Stack::new("t");
        let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
        let igw = s.add("main", InternetGateway::new().vpc(vpc.id()));
        let subnet = s.add(
            "a",
            Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a").map_public_ip_on_launch(true),
        );
        s.add(
            "public",
            RouteTable::new(vpc.id())
                .route_to_internet_gateway("0.0.0.0/0", igw.id())
                .associate(subnet.id()),
        );
        let cluster = s.add("app", cluster);
        let role = s.add(
            "ecs",
            IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN),
        );
        let profile = s.add("ecs", InstanceProfile::new(role.name()));
        let mut lt = LaunchTemplate::new("ami-0123456789abcdef0", "t3.small")
            .iam_instance_profile(profile.name());
        if let Some(u) = user_data(&cluster) {
            lt = lt.user_data(u);
        }
        let lt = s.add("hosts", lt);
        s.add(
            "hosts",
            AutoScalingGroup::new(lt.id(), 1, 1).subnet(subnet.id()),
        );
        s
    }

    fn literal(text: &'static str) -> impl Fn(&Handle<EcsCluster>) -> Option<Input<String>> {
        move |_| Some(text.into())
    }

    #[test]
    fn a_stack_whose_user_data_sets_its_cluster_passes() {
        let ok = stack(EcsCluster::new(), |c| {
            Some(
                c.name()
                    .map(|n| {
                        format!(
                            "#!/bin/bash\ncat <<EOF >> /etc/ecs/ecs.config\nECS_CLUSTER={n}\nEOF\n"
                        )
                    })
                    .into(),
            )
        });
        assert!(crate::analysis::check(&ok).findings.is_empty());
    }

    #[test]
    fn no_user_data_joins_default_and_the_fix_is_the_line_to_add() {
        let report = crate::analysis::check(&stack(EcsCluster::new(), |_| None));
        assert_eq!(report.codes(), ["E035"]);
        let f = &report.findings[0];
        assert!(f.is_error());
        assert_eq!(
            f.message,
            "instances of hosts join the `default` cluster, not this stack's cluster app: nothing in their user data sets ECS_CLUSTER (there is no user data)"
        );
        assert_eq!(
            f.blocked_at.as_deref(),
            Some("launch template hosts: user data")
        );
        assert!(
            f.fix.contains(".user_data(cluster.name().map(|n| format!(\"#!/bin/bash\\necho ECS_CLUSTER={n} >> /etc/ecs/ecs.config\\n\"))), cluster being cluster app"),
            "{}",
            f.fix
        );
        // A literal cluster name gives the literal line.
        let named = stack(
            EcsCluster::new().name("prod"),
            literal("#!/bin/bash\nyum install -y jq\n"),
        );
        let report = crate::analysis::check(&named);
        assert_eq!(report.codes(), ["E035"]);
        assert!(
            report.findings[0]
                .fix
                .contains("`echo ECS_CLUSTER=prod >> /etc/ecs/ecs.config`")
        );
        assert!(
            report.findings[0]
                .message
                .contains("its script never writes ECS_CLUSTER")
        );
    }

    #[test]
    fn the_fix_takes_the_user_data_form() {
        let text = stack(
            EcsCluster::new().name("prod"),
            literal("echo ECS_CLUSTER=prod >> /etc/ecs/ecs.config"),
        );
        let report = crate::analysis::check(&text);
        assert_eq!(report.codes(), ["E035"]);
        assert!(
            report.findings[0].fix.starts_with(
                "start the user data of launch template hosts with a `#!/bin/bash` line"
            )
        );
        let bottlerocket = stack(
            EcsCluster::new().name("prod"),
            literal("[settings.ecs]\nloglevel = \"debug\"\n"),
        );
        let report = crate::analysis::check(&bottlerocket);
        assert_eq!(report.codes(), ["E035"]);
        assert!(
            report.findings[0]
                .fix
                .contains("`[settings.ecs]` with `cluster = \"prod\"`")
        );
        let cloud = stack(
            EcsCluster::new().name("prod"),
            literal(
                "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    content: ECS_LOGLEVEL=debug\n",
            ),
        );
        let report = crate::analysis::check(&cloud);
        assert_eq!(report.codes(), ["E035"]);
        assert!(
            report.findings[0]
                .fix
                .contains("`content: ECS_CLUSTER=prod`")
        );
    }

    #[test]
    fn a_cluster_named_default_is_joined_without_user_data() {
        let report = crate::analysis::check(&stack(EcsCluster::new().name("default"), |_| None));
        assert!(report.findings.is_empty(), "{}", report.render_text());
    }

    #[test]
    fn another_named_cluster_is_e015() {
        let other = stack(
            EcsCluster::new(),
            literal("#!/bin/bash\necho ECS_CLUSTER=legacy >> /etc/ecs/ecs.config\n"),
        );
        let report = crate::analysis::check(&other);
        assert_eq!(report.codes(), ["E015"]);
        assert!(report.findings[0].message.contains("`legacy`"));
    }

    #[test]
    fn unreadable_user_data_is_a_warning_saying_what() {
        let computed = stack(
            EcsCluster::new(),
            literal("#!/bin/bash\necho ECS_CLUSTER=$(hostname -s) >> /etc/ecs/ecs.config\n"),
        );
        let report = crate::analysis::check(&computed);
        assert_eq!(report.codes(), ["W106"]);
        let f = &report.findings[0];
        assert!(!f.is_error());
        assert_eq!(
            f.message,
            "keel can't tell which cluster instances of hosts join: ECS_CLUSTER is written as `ECS_CLUSTER=$(hostname -s)`"
        );
    }

    #[test]
    fn groups_that_dont_run_the_agent_are_left_alone() {
        let mut s = stack(EcsCluster::new(), |c| {
            Some(
                c.name()
                    .map(|n| format!("#!/bin/bash\necho ECS_CLUSTER={n} >> /etc/ecs/ecs.config\n"))
                    .into(),
            )
        });
        // A bastion group beside the ECS hosts: no user data, not an ECS host.
        let lt = s.add(
            "bastion",
            LaunchTemplate::new("ami-0123456789abcdef0", "t3.micro"),
        );
        let subnet = SubnetId::new("subnet-0123456789abcdef0");
        s.add(
            "bastion",
            AutoScalingGroup::new(lt.id(), 1, 1).subnet(subnet),
        );
        assert!(crate::analysis::check(&s).findings.is_empty());
    }
}
