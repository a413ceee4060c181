//! The one list of resource types keel manages. Adding a type is one line
//! here; every provider builds its dispatch table from this list, so a type
//! that a provider doesn't implement fails to compile there, and no provider
//! matches on type-token strings.
//!
//! The list is a macro that hands the types to another macro (`$callback!`),
//! which each provider writes to build its own table (see
//! `provider::sim::dispatch` and `provider::aws::dispatch`).

/// Calls `$callback!` with every resource type, comma-separated.
macro_rules! resource_types {
    ($callback:ident) => {
        $callback! {
            crate::aws::ec2::Vpc,
            crate::aws::ec2::Subnet,
            crate::aws::ec2::InternetGateway,
            crate::aws::ec2::ElasticIp,
            crate::aws::ec2::NatGateway,
            crate::aws::ec2::RouteTable,
            crate::aws::ec2::SecurityGroup,
            crate::aws::ec2::NetworkAcl,
            crate::aws::ec2::VpcEndpoint,
            crate::aws::ec2::LaunchTemplate,
            crate::aws::iam::IamRole,
            crate::aws::iam::InstanceProfile,
            crate::aws::autoscaling::AutoScalingGroup,
            crate::aws::ecs::EcsCluster,
        }
    };
}
pub(crate) use resource_types;

/// Calls `$callback!` with the types only keel's own tests declare (the
/// simulator serves them in its tests; no other provider knows them).
#[cfg(test)]
macro_rules! test_resource_types {
    ($callback:ident) => {
        $callback! {
            crate::testing::queue::Queue,
        }
    };
}
#[cfg(test)]
pub(crate) use test_resource_types;

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
        ($($R:ty),* $(,)?) => {
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
        assert_eq!(tokens.len(), 14);
    }
}
