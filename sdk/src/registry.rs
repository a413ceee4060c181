//! The one list of resource types keel manages. Adding a type is one line
//! here; every provider builds its dispatch table from this list, so a type
//! that a provider doesn't implement fails to compile there, and no provider
//! matches on type-token strings.
//!
//! The list is a macro that hands the types to another macro (`$callback!`),
//! which each provider writes to build its own table (see
//! `provider::sim::dispatch` and `provider::aws::dispatch`). Each entry also
//! names the type's collection (`Vpc => vpcs`): the simulator's table of
//! them, so the simulator's cloud is generated from this list too.

/// Calls `$callback!` with every resource type, each with the name of its
/// collection (`Vpc => vpcs`: the simulator's table of them),
/// comma-separated.
macro_rules! resource_types {
    ($callback:ident) => {
        $crate::registry::resource_types! { @list $callback [] }
    };
    (@list $callback:ident [$($extra:tt)*]) => {
        $callback! {
            crate::aws::ec2::Vpc => vpcs,
            crate::aws::ec2::Subnet => subnets,
            crate::aws::ec2::InternetGateway => internet_gateways,
            crate::aws::ec2::ElasticIp => addresses,
            crate::aws::ec2::NatGateway => nat_gateways,
            crate::aws::ec2::RouteTable => route_tables,
            crate::aws::ec2::Route => routes,
            crate::aws::ec2::MainRouteTableAssociation => main_route_table_associations,
            crate::aws::ec2::SecurityGroup => security_groups,
            crate::aws::ec2::NetworkAcl => network_acls,
            crate::aws::ec2::VpcEndpoint => vpc_endpoints,
            crate::aws::ec2::LaunchTemplate => launch_templates,
            crate::aws::iam::IamRole => roles,
            crate::aws::iam::InstanceProfile => instance_profiles,
            crate::aws::autoscaling::AutoScalingGroup => groups,
            crate::aws::ecs::EcsCluster => clusters,
            crate::aws::elb::LoadBalancer => load_balancers,
            crate::aws::elb::TargetGroup => target_groups,
            crate::aws::elb::Listener => listeners,
            crate::aws::ecs_task::TaskDefinition => task_definitions,
            crate::aws::ecs::CapacityProvider => capacity_providers,
            crate::aws::ecs::EcsService => services,
            $($extra)*
        }
    };
}
pub(crate) use resource_types;

/// [`resource_types!`] and, in keel's own tests, the test-only types, which
/// only the simulator serves: what the simulator builds its tables and its
/// dispatch from.
#[cfg(not(test))]
macro_rules! simulated_types {
    ($callback:ident) => {
        $crate::registry::resource_types! { @list $callback [] }
    };
}
#[cfg(test)]
macro_rules! simulated_types {
    ($callback:ident) => {
        $crate::registry::resource_types! { @list $callback [
            crate::testing::queue::Queue => queues,
        ] }
    };
}
pub(crate) use simulated_types;

/// The entry of a provider's dispatch table (built with
/// [`resource_types!`]) for `token`.
pub(crate) fn find<T: ?Sized>(
    table: &[(&'static str, &'static T)],
    token: &str,
) -> Option<&'static T> {
    table.iter().find(|(t, _)| *t == token).map(|(_, ops)| *ops)
}

/// Every registered type token, in registry order.
///
/// ```
/// assert!(keel::registry::type_tokens().contains(&"aws:ec2:Vpc"));
/// ```
pub fn type_tokens() -> &'static [&'static str] {
    macro_rules! tokens {
        ($($R:ty => $table:ident),* $(,)?) => {
            &[$(<$R as crate::Resource>::TYPE),*]
        };
    }
    resource_types!(tokens)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn type_tokens_are_unique() {
        let tokens = super::type_tokens();
        let unique: BTreeSet<_> = tokens.iter().collect();
        assert_eq!(unique.len(), tokens.len());
        assert_eq!(tokens.len(), 22);
    }
}
