//! Routing through the `aws` provider on moto, read back with the SDK (not
//! keel's reads): a standalone `Route` into the VPC's main table to a NAT
//! gateway, an S3 gateway endpoint associated with a route table (AWS adds
//! the prefix-list route to the endpoint), and a `MainRouteTableAssociation`
//! added next makes a keel table the VPC's main table; removing it again
//! gives the VPC's own main table its role back, and destroying the stack
//! leaves nothing.
//!
//! moto differs from AWS here: it does not refuse deleting a main table
//! or ReplaceRouteTableAssociation with a table of another VPC (the
//! simulator's tests cover those rules), so this test checks only what moto
//! does model.

use aws_sdk_ec2::types::{Filter, RouteTable as LiveTable};
use keel::engine::{ApplyOptions, Deployment};
use keel::prelude::*;
use keel::provider::Provider;
use keel::state::LocalStore;
use keel_tests::{aws_on_fresh_moto, state_dir};
use std::sync::Arc;

const STACK: &str = "moto-routes";
const S3: &str = "com.amazonaws.us-east-1.s3";

/// The network: a public subnet with a NAT gateway, a route from the VPC's
/// main table to it, a private table with the S3 gateway endpoint, and
/// (with `associate`) that table made the VPC's main table.
fn stack(associate: bool) -> Stack {
    let mut s = Stack::new(STACK);
    let vpc = s.add("main", Vpc::new("10.0.0.0/16").enable_dns_hostnames(true));
    let igw = s.add("main", InternetGateway::new().vpc(vpc.id()));
    let public = s.add("public", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
    s.add(
        "public",
        RouteTable::new(vpc.id())
            .route_to_internet_gateway("0.0.0.0/0", igw.id())
            .associate(public.id()),
    );
    let eip = s.add("nat", ElasticIp::new());
    let nat = s.add("nat", NatGateway::public(public.id(), eip.id()));
    s.add(
        "main-default",
        Route::new(
            vpc.main_route_table_id(),
            "0.0.0.0/0",
            RouteTarget::nat_gateway(nat.id()),
        ),
    );
    let private = s.add("private", RouteTable::new(vpc.id()));
    s.add(
        "s3",
        VpcEndpoint::gateway(vpc.id(), S3).route_table(private.id()),
    );
    if associate {
        s.add(
            "main-table",
            MainRouteTableAssociation::new(vpc.id(), private.id()),
        );
    }
    s
}

async fn apply<'a>(
    stack: &'a Stack,
    provider: Arc<dyn Provider>,
    dir: &std::path::Path,
) -> Deployment<'a> {
    let store = LocalStore::open(dir, STACK).unwrap();
    let mut d = Deployment::open(stack, provider, Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    d
}

/// The recorded id and outputs of resource `name` of type `R`.
fn recorded<R: Resource>(d: &Deployment<'_>, name: &str) -> (String, serde_json::Value) {
    let r = d
        .snapshot()
        .resources
        .iter()
        .find(|r| r.urn.type_token() == R::TYPE && r.urn.name() == name)
        .unwrap_or_else(|| panic!("{} {name} in the state", R::TYPE));
    (r.id.clone(), serde_json::Value::Object(r.outputs.clone()))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Route table `id` as EC2 describes it.
async fn table(ec2: &aws_sdk_ec2::Client, id: &str) -> LiveTable {
    let out = ec2
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
        .unwrap();
    out.route_tables()[0].clone()
}

/// The main table of `vpc` as EC2 describes it.
async fn main_table(ec2: &aws_sdk_ec2::Client, vpc: &str) -> String {
    let out = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", vpc))
        .filters(filter("association.main", "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.route_tables().len(), 1, "{out:?}");
    out.route_tables()[0].route_table_id().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_endpoints_and_the_main_table_on_moto() {
    let aws = aws_on_fresh_moto().await;
    let provider: Arc<dyn Provider> = Arc::new(aws);
    let ec2 = aws_sdk_ec2::Client::new(&keel_tests::moto_config().await);
    let dir = state_dir();

    // First the network without the association.
    let without = stack(false);
    let d = apply(&without, provider.clone(), dir.path()).await;
    let (vpc, vpc_out) = recorded::<Vpc>(&d, "main");
    let original = vpc_out["main_route_table_id"].as_str().unwrap().to_string();
    let (nat, _) = recorded::<NatGateway>(&d, "nat");
    let (private, _) = recorded::<RouteTable>(&d, "private");
    let (endpoint, endpoint_out) = recorded::<VpcEndpoint>(&d, "s3");
    drop(d);
    assert_eq!(main_table(&ec2, &vpc).await, original);
    // The route into the VPC's own main table, to the NAT gateway.
    let own_main = table(&ec2, &original).await;
    assert!(
        own_main.routes().iter().any(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0") && r.nat_gateway_id() == Some(&nat)
        }),
        "{own_main:?}"
    );
    // The gateway endpoint's prefix-list route in the private table.
    let private_live = table(&ec2, &private).await;
    let list = endpoint_out["prefix_list_id"].as_str();
    assert!(list.is_some_and(|l| l.starts_with("pl-")), "{endpoint_out}");
    assert!(
        private_live.routes().iter().any(|r| {
            r.destination_prefix_list_id() == list && r.gateway_id() == Some(&endpoint)
        }),
        "{private_live:?}"
    );

    // The association makes the keel table the VPC's main table; keel
    // remembers the original.
    let full = stack(true);
    let d = apply(&full, provider.clone(), dir.path()).await;
    let (assoc_id, assoc_out) = recorded::<MainRouteTableAssociation>(&d, "main-table");
    drop(d);
    assert_eq!(main_table(&ec2, &vpc).await, private);
    assert_eq!(assoc_id, format!("{vpc}_{original}"));
    assert_eq!(assoc_out["original_route_table_id"], original.as_str());
    assert_eq!(assoc_out["route_table_id"], private.as_str());
    let association = assoc_out["association_id"].as_str().unwrap();
    let private_live = table(&ec2, &private).await;
    assert!(
        private_live.associations().iter().any(|a| {
            a.main() == Some(true) && a.route_table_association_id() == Some(association)
        }),
        "{private_live:?}"
    );

    // Without the association again, the VPC's own table is main again.
    drop(apply(&without, provider.clone(), dir.path()).await);
    assert_eq!(main_table(&ec2, &vpc).await, original);

    // Destroy: nothing of the stack is left.
    let (_, report) = keel_tests::destroy(&without, provider, dir.path()).await;
    assert!(report.succeeded(), "{report:#?}");
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:keel:stack", STACK))
        .send()
        .await
        .unwrap();
    assert!(vpcs.vpcs().is_empty(), "{vpcs:?}");
}
