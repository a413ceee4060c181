//! Private subnets routed through the VPC's main table, made main by a
//! `MainRouteTableAssociation`: the subnets have no explicit association,
//! a keel `RouteTable` routes 0.0.0.0/0 to the NAT gateway, and the
//! association makes it the main table. The analysis follows them there
//! and finds nothing, and on the simulator the instances register; without
//! the association the private subnets use the VPC's own main table, which
//! has only the local route, and both say so (E001). Destroying the stack
//! gives the VPC its own main table back, so the keel table can go.

use keel::engine::{ApplyOptions, Deployment};
use keel::prelude::*;
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::LocalStore;
use keel_tests::{ecs_hosts, state_dir};
use std::sync::Arc;

/// One zone: a public subnet with the NAT gateway, a private subnet with
/// two ECS hosts and no route table association; `associate` makes the
/// table routing to the NAT gateway the VPC's main table.
fn stack(name: &str, associate: bool) -> Stack {
    let mut s = Stack::new(name);
    let vpc = s.add("main", Vpc::new("10.0.0.0/16").enable_dns_hostnames(true));
    let igw = s.add("main", InternetGateway::new().vpc(vpc.id()));
    let public = s.add(
        "public",
        Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a").map_public_ip_on_launch(true),
    );
    s.add(
        "public",
        RouteTable::new(vpc.id())
            .route_to_internet_gateway("0.0.0.0/0", igw.id())
            .associate(public.id()),
    );
    let private = s.add(
        "private",
        Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"),
    );
    let eip = s.add("nat", ElasticIp::new());
    let nat = s.add("nat", NatGateway::public(public.id(), eip.id()));
    let to_nat = s.add(
        "to-nat",
        RouteTable::new(vpc.id()).route_to_nat_gateway("0.0.0.0/0", nat.id()),
    );
    if associate {
        s.add(
            "main-table",
            MainRouteTableAssociation::new(vpc.id(), to_nat.id()),
        );
    }
    ecs_hosts(&mut s, vpc.id(), [private.id()]);
    s
}

/// Deploys `stack` on a fresh simulator; the simulator and the deployment's
/// state directory.
async fn deploy(stack: &Stack) -> (SimProvider, tempfile::TempDir) {
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let dir = state_dir();
    let store = LocalStore::open(dir.path(), stack.name()).unwrap();
    let mut d = Deployment::open(stack, provider, Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    (sim, dir)
}

#[tokio::test]
async fn private_subnets_route_through_the_table_made_main() {
    let stack = stack("main-table", true);
    stack.validate().unwrap();
    let report = keel::analysis::check(&stack);
    assert!(report.findings.is_empty(), "{}", report.render_text());

    let (sim, dir) = deploy(&stack).await;
    let instances = sim.instances();
    assert_eq!(instances.len(), 2);
    for i in &instances {
        assert!(i.registered_cluster.is_some(), "{i:?}");
        assert!(i.agent_connected, "{i:?}");
    }
    // The simulator's model agrees on which table is main: the keel one.
    let model = sim.network_model();
    let main: Vec<&str> = model
        .route_tables
        .values()
        .filter(|t| t.main)
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(main, ["to-nat"]);

    // Destroy: the association gives the VPC its own main table back
    // first, so the keel table can be deleted, and nothing is left.
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let (_, report) = keel_tests::destroy(&stack, provider, dir.path()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(sim.resource_count(), 0, "{:?}", sim.resource_counts());
}

#[tokio::test]
async fn without_the_association_the_private_subnet_has_no_way_out() {
    let stack = stack("no-main-table", false);
    stack.validate().unwrap();
    let report = keel::analysis::check(&stack);
    assert_eq!(report.codes(), ["E001"], "{}", report.render_text());
    assert_eq!(report.findings[0].subnet.as_deref(), Some("private"));

    let (sim, _dir) = deploy(&stack).await;
    let instances = sim.instances();
    assert_eq!(instances.len(), 2);
    for i in &instances {
        assert!(i.registered_cluster.is_none(), "{i:?}");
    }
}
