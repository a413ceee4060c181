//! The serving side of a declared [`Stack`]: load balancers (as
//! [`LoadBalancerFacts`] in the network [`Model`]), listeners, target
//! groups, task definitions, capacity providers and services, with the
//! references between them resolved to the declarations they name (through
//! the placeholders [`super::declared`] leaves in inputs).

use super::declared::{all, key, sibling, urn_of};
use super::network::{Key, LoadBalancerFacts, Model};
use crate::aws::ecs::{CapacityProvider, EcsService};
use crate::aws::ecs_task::{NetworkMode, TaskDefinition};
use crate::aws::elb::{HealthCheckPort, Listener, LoadBalancer, Scheme, TargetGroup, TargetType};
use crate::resource::Urn;
use crate::stack::Stack;
use std::collections::{BTreeMap, BTreeSet};

/// A declared listener.
#[derive(Clone, Debug)]
pub(crate) struct ListenerDecl {
    pub urn: Urn,
    /// The model key of its load balancer (`None`: outside the stack).
    pub lb: Option<Key>,
    pub port: u16,
    /// Its target group (`None`: outside the stack).
    pub target_group: Option<Urn>,
}

/// A declared target group.
#[derive(Clone, Debug)]
pub(crate) struct TargetGroupDecl {
    pub urn: Urn,
    pub port: u16,
    pub health_port: HealthCheckPort,
    pub target_type: TargetType,
    /// Its VPC's model key.
    pub vpc: Key,
}

/// A declared service with its references resolved.
#[derive(Clone, Debug)]
pub(crate) struct ServiceDecl {
    pub urn: Urn,
    pub service: EcsService,
    /// The cluster input's key (a placeholder, or a literal name).
    pub cluster: Key,
    /// Its task definition (`None`: outside the stack).
    pub task_definition: Option<(Urn, TaskDefinition)>,
    /// The Auto Scaling group its capacity provider names, if any.
    pub capacity_group: Option<Urn>,
    /// `awsvpc` subnets and groups as model keys.
    pub subnets: Vec<Key>,
    pub security_groups: Vec<Key>,
    /// Everything created before it (its dependencies, transitively).
    pub after: BTreeSet<Urn>,
    /// The cluster its capacity provider is associated with, if it names one.
    pub capacity_cluster: Option<Key>,
}

impl ServiceDecl {
    /// The network mode of its tasks (bridge when unknown).
    pub(super) fn mode(&self) -> NetworkMode {
        self.task_definition
            .as_ref()
            .map_or(NetworkMode::Bridge, |(_, td)| td.network_mode)
    }
}

/// Everything serving-related a stack declares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Serving {
    /// Each declared load balancer's dependencies, transitively.
    pub lb_after: BTreeMap<Urn, BTreeSet<Urn>>,
    pub listeners: Vec<ListenerDecl>,
    pub target_groups: Vec<TargetGroupDecl>,
    pub services: Vec<ServiceDecl>,
}

impl Serving {
    /// The target group `urn`.
    pub(super) fn target_group(&self, urn: &Urn) -> Option<&TargetGroupDecl> {
        self.target_groups.iter().find(|t| &t.urn == urn)
    }
}

/// The model key of the declaration a reference names, given the keys of
/// the declarations of that type.
fn same_resource(reference: &str, candidates: &[Key]) -> Option<Key> {
    let urn = urn_of(reference)?;
    candidates
        .iter()
        .find(|k| urn_of(k).as_ref() == Some(&urn))
        .cloned()
}

/// Adds the stack's load balancers to `m` (after subnets and groups): the
/// VPC is its first known subnet's, its groups the VPC's default group when
/// it names none.
pub(super) fn load_balancers(stack: &Stack, m: &mut Model) {
    for (urn, k, lb) in all::<LoadBalancer>(stack) {
        let subnets: Vec<Key> = lb.subnet_ids.iter().map(key).collect();
        let vpc = subnets
            .iter()
            .find_map(|s| m.subnets.get(s))
            .map(|s| s.vpc.clone())
            .unwrap_or_default();
        let mut security_groups: Vec<Key> = lb.security_group_ids.iter().map(key).collect();
        if security_groups.is_empty() && !vpc.is_empty() {
            security_groups.push(sibling(&vpc, "default_security_group_id"));
        }
        m.load_balancers.insert(
            k,
            LoadBalancerFacts {
                label: urn.name().to_string(),
                vpc,
                internet_facing: lb.scheme == Scheme::InternetFacing,
                subnets,
                security_groups,
            },
        );
    }
}

/// Listeners, target groups and services of `stack`.
pub(super) fn serving(stack: &Stack) -> Serving {
    let lbs: Vec<Key> = all::<LoadBalancer>(stack)
        .into_iter()
        .map(|(_, k, _)| k)
        .collect();
    let tgs = all::<TargetGroup>(stack);
    let tg_keys: Vec<Key> = tgs.iter().map(|(_, k, _)| k.clone()).collect();
    let urn_in =
        |reference: &str, keys: &[Key]| same_resource(reference, keys).and_then(|k| urn_of(&k));
    let listeners = all::<Listener>(stack)
        .into_iter()
        .map(|(urn, _, l)| ListenerDecl {
            urn,
            lb: same_resource(&key(&l.load_balancer_arn), &lbs),
            port: l.port,
            target_group: urn_in(&key(&l.target_group_arn), &tg_keys),
        })
        .collect();
    let target_groups = tgs
        .into_iter()
        .map(|(urn, _, t)| TargetGroupDecl {
            urn,
            port: t.port,
            health_port: t.health_check.port,
            target_type: t.target_type,
            vpc: key(&t.vpc_id),
        })
        .collect();
    let tds = all::<TaskDefinition>(stack);
    let providers = all::<CapacityProvider>(stack);
    let services = all::<EcsService>(stack)
        .into_iter()
        .map(|(urn, _, s)| {
            let td_urn = urn_of(&key(&s.task_definition));
            let task_definition = tds
                .iter()
                .find(|(u, _, _)| Some(u) == td_urn.as_ref())
                .map(|(u, _, td)| (u.clone(), td.clone()));
            let cp_urn = s.capacity_provider.as_ref().and_then(|c| urn_of(&key(c)));
            let provider = providers
                .iter()
                .find(|(u, _, _)| Some(u) == cp_urn.as_ref());
            let capacity_group =
                provider.and_then(|(_, _, cp)| urn_of(&key(&cp.auto_scaling_group_arn)));
            let capacity_cluster = provider.map(|(_, _, cp)| key(&cp.cluster));
            let (subnets, security_groups) =
                s.network.as_ref().map_or_else(Default::default, |n| {
                    (
                        n.subnet_ids.iter().map(key).collect(),
                        n.security_group_ids.iter().map(key).collect(),
                    )
                });
            ServiceDecl {
                urn: urn.clone(),
                cluster: key(&s.cluster),
                task_definition,
                capacity_group,
                subnets,
                security_groups,
                after: dependencies(stack, &urn),
                capacity_cluster,
                service: s,
            }
        })
        .collect();
    let lb_after = all::<LoadBalancer>(stack)
        .into_iter()
        .map(|(urn, _, _)| {
            let after = dependencies(stack, &urn);
            (urn, after)
        })
        .collect();
    Serving {
        lb_after,
        listeners,
        target_groups,
        services,
    }
}

/// What `urn` depends on, directly or not: all of it exists before `urn`
/// is created.
fn dependencies(stack: &Stack, urn: &Urn) -> BTreeSet<Urn> {
    let deps: BTreeMap<&Urn, &Vec<Urn>> =
        stack.resources.iter().map(|d| (&d.urn, &d.deps)).collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![urn.clone()];
    while let Some(u) = todo.pop() {
        for d in deps.get(&u).map(|v| v.as_slice()).unwrap_or_default() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ecs_task::{Container, PortMapping};
    use crate::prelude::*;
    use crate::resource::placeholder;
    use crate::stack::ResourceOptions;

    #[test]
    fn references_resolve_to_the_declarations_they_name() {
        let mut s = Stack::new("t");
        let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
        let a = s.add("a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
        let b = s.add("b", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1b"));
        let lb = s.add("web", LoadBalancer::new().subnet(a.id()).subnet(b.id()));
        let tg = s.add("web", TargetGroup::http(80, vpc.id()));
        let listener = s.add("http", Listener::http(lb.arn(), 80, tg.arn()));
        let td = s.add(
            "web",
            TaskDefinition::new().container(
                Container::new("web", "nginx:1.27")
                    .memory(256)
                    .port(PortMapping::dynamic(80)),
            ),
        );
        let cluster = s.add("app", EcsCluster::new());
        let service =
            EcsService::new(cluster.name(), td.arn(), 2).load_balancer(tg.arn(), "web", 80);
        s.add_with(
            "web",
            service,
            ResourceOptions::new().depends_on(listener.urn()),
        );

        let mut m = Model::default();
        for (h, az) in [(&a, "us-east-1a"), (&b, "us-east-1b")] {
            m.subnets.insert(
                placeholder(h.urn(), "id"),
                crate::analysis::network::SubnetFacts {
                    label: h.urn().name().into(),
                    vpc: placeholder(vpc.urn(), "id"),
                    cidr: None,
                    az: az.into(),
                    map_public_ip: false,
                },
            );
        }
        load_balancers(&s, &mut m);
        let lb_key = placeholder(lb.urn(), "id");
        let facts = &m.load_balancers[&lb_key];
        assert!(facts.internet_facing);
        assert_eq!(facts.vpc, placeholder(vpc.urn(), "id"));
        // no group named: the VPC's default group
        assert!(facts.security_groups[0].ends_with("#default_security_group_id"));

        let serving = serving(&s);
        assert_eq!(serving.listeners[0].lb.as_deref(), Some(lb_key.as_str()));
        assert_eq!(serving.listeners[0].target_group.as_ref(), Some(tg.urn()));
        let svc = &serving.services[0];
        assert_eq!(svc.task_definition.as_ref().map(|(u, _)| u), Some(td.urn()));
        assert_eq!(urn_of(&svc.cluster).as_ref(), Some(cluster.urn()));
        // the listener, and through it the load balancer, come first
        assert!(svc.after.contains(listener.urn()) && svc.after.contains(lb.urn()));
        assert_eq!(svc.mode(), NetworkMode::Bridge);
    }
}
