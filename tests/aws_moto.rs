//! The `aws` provider end to end against moto's server (a real AWS API
//! implementation nobody on this project wrote): deploy the `private_ecs`
//! example, verify it with independent SDK calls (not keel's reads), run it
//! again with no changes and no mutating calls, and destroy it leaving
//! nothing tagged with the stack.
//!
//! moto differs from AWS in ways this test documents rather than hides: it
//! never registers ECS container instances (so the example's registered
//! count is 0 here, where the simulator and AWS reach 2), and NAT gateways
//! are available at once.
//!
//! A second test creates one resource of every type through the provider
//! and finds each again by its `keel:urn` tag (`Provider::find_by_tags`),
//! and nothing for a URN nobody declared.

use aws_sdk_ec2::types::Filter;
use keel::aws::autoscaling::AutoScalingGroup;
use keel::aws::ec2::{
    ElasticIp, InternetGateway, LaunchTemplate, NatGateway, NetworkAcl, RouteTable, SecurityGroup,
    Subnet, Vpc, VpcEndpoint,
};
use keel::aws::ecs::{CapacityProvider, EcsCluster, EcsService};
use keel::aws::ecs_task::TaskDefinition;
use keel::aws::elb::{Listener, LoadBalancer, TargetGroup};
use keel::aws::iam::{IamRole, InstanceProfile};
use keel::engine::{ApplyOptions, Deployment};
use keel::provider::{CreateRequest, DeleteRequest, FindRequest, Provider, ReadRequest};
use keel::state::LocalStore;
use keel::{AllocationId, LaunchTemplateId, Resource, RoleName, SubnetId, Urn, VpcId};
use keel_examples::stacks::private_ecs::{Options, build};
use keel_tests::{aws_on_fresh_moto, state_dir};
use std::sync::Arc;

const STACK: &str = "moto-e2e";

/// The tests here share one moto server, and each starts by wiping it.
static MOTO_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tag_filter() -> Filter {
    Filter::builder()
        .name("tag:keel:stack")
        .values(STACK)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ecs_deploys_verifies_is_idempotent_and_destroys_on_moto() {
    let _turn = MOTO_TURN.lock().await;
    let aws = aws_on_fresh_moto().await;
    let shared: Arc<dyn Provider> = Arc::new(aws.clone());
    let stack = build(&Options {
        stack: STACK.into(),
        // moto runs no ECS agents: no waits for registration or tasks.
        wait: false,
        ..Options::default()
    });
    assert!(keel::analysis::check(&stack).findings.is_empty());
    let dir = state_dir();

    // Deploy.
    let store = LocalStore::open(dir.path(), STACK).unwrap();
    let mut d = Deployment::open(&stack, shared.clone(), Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    // moto doesn't run ECS agents: nothing registers (AWS and the simulator: 2).
    assert_eq!(report.outputs["registered_container_instances"], 0);
    drop(d);

    // Verify with independent SDK calls.
    let conf = keel_tests::moto_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let vpcs = ec2
        .describe_vpcs()
        .filters(tag_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc = &vpcs.vpcs()[0];
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    assert_eq!(report.outputs["vpc_id"], vpc_id.as_str());

    let subnets = ec2
        .describe_subnets()
        .filters(tag_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(subnets.subnets().len(), 4);
    let public: Vec<String> = subnets
        .subnets()
        .iter()
        .filter(|s| s.map_public_ip_on_launch() == Some(true))
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect();
    let private: Vec<String> = subnets
        .subnets()
        .iter()
        .filter(|s| s.map_public_ip_on_launch() != Some(true))
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect();
    assert_eq!((public.len(), private.len()), (2, 2));
    assert!(
        subnets
            .subnets()
            .iter()
            .all(|s| s.vpc_id() == Some(vpc_id.as_str()))
    );

    let igws = ec2
        .describe_internet_gateways()
        .filters(tag_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(igws.internet_gateways().len(), 1);
    let igw = &igws.internet_gateways()[0];
    assert_eq!(igw.attachments()[0].vpc_id(), Some(vpc_id.as_str()));
    let igw_id = igw.internet_gateway_id().unwrap().to_string();

    let nats = ec2
        .describe_nat_gateways()
        .filter(tag_filter())
        .send()
        .await
        .unwrap();
    let nats: Vec<_> = nats
        .nat_gateways()
        .iter()
        .filter(|n| n.state().map(|s| s.as_str()) == Some("available"))
        .collect();
    assert_eq!(nats.len(), 2);
    for n in &nats {
        assert!(
            public.contains(&n.subnet_id().unwrap().to_string()),
            "NAT gateways sit in public subnets"
        );
    }
    let nat_ids: Vec<String> = nats
        .iter()
        .map(|n| n.nat_gateway_id().unwrap().to_string())
        .collect();

    let tables = ec2
        .describe_route_tables()
        .filters(tag_filter())
        .send()
        .await
        .unwrap();
    assert_eq!(tables.route_tables().len(), 3);
    for t in tables.route_tables() {
        let default = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .expect("a default route");
        let subnets: Vec<&str> = t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        if subnets.iter().all(|s| private.iter().any(|p| p == s)) {
            assert!(
                nat_ids
                    .iter()
                    .any(|n| Some(n.as_str()) == default.nat_gateway_id()),
                "private 0/0 goes to a NAT gateway"
            );
        } else {
            assert_eq!(
                default.gateway_id(),
                Some(igw_id.as_str()),
                "public 0/0 goes to the internet gateway"
            );
        }
    }

    let asg = aws_sdk_autoscaling::Client::new(&conf);
    let groups = asg.describe_auto_scaling_groups().send().await.unwrap();
    let group = groups
        .auto_scaling_groups()
        .iter()
        .find(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some("keel:stack") && t.value() == Some(STACK))
        })
        .expect("the Auto Scaling group carries the keel tags");
    assert_eq!(group.desired_capacity(), Some(2));
    let lt_name = group
        .launch_template()
        .and_then(|l| l.launch_template_name())
        .unwrap()
        .to_string();
    assert!(lt_name.starts_with("ecs-hosts-"), "{lt_name}");
    for zone in group.vpc_zone_identifier().unwrap().split(',') {
        assert!(
            private.iter().any(|p| p == zone),
            "the group launches into private subnets only"
        );
    }
    let instance_ids: Vec<String> = group
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    assert_eq!(instance_ids.len(), 2);
    let instances = ec2
        .describe_instances()
        .set_instance_ids(Some(instance_ids))
        .send()
        .await
        .unwrap();
    for i in instances.reservations().iter().flat_map(|r| r.instances()) {
        assert!(
            private.iter().any(|p| Some(p.as_str()) == i.subnet_id()),
            "instances run in the private subnets"
        );
    }

    let ecs = aws_sdk_ecs::Client::new(&conf);
    let cluster_name = report.outputs["cluster_name"].as_str().unwrap().to_string();
    let clusters = ecs
        .describe_clusters()
        .clusters(&cluster_name)
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .send()
        .await
        .unwrap();
    let cluster = &clusters.clusters()[0];
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert!(
        cluster
            .tags()
            .iter()
            .any(|t| t.key() == Some("keel:stack") && t.value() == Some(STACK))
    );

    // Every EC2 resource keel made carries its URN.
    for t in tables.route_tables() {
        assert!(t.tags().iter().any(|t| t.key() == Some("keel:urn")));
    }

    // Again: nothing to change, and no mutating call.
    let before = aws.mutating_calls();
    let store = LocalStore::open(dir.path(), STACK).unwrap();
    let mut d = Deployment::open(&stack, shared.clone(), Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    assert!(
        !plan.summary().has_changes(),
        "{}",
        keel::plan::render_text(&plan)
    );
    assert!(
        d.apply(&plan, ApplyOptions::default())
            .await
            .unwrap()
            .succeeded()
    );
    assert_eq!(aws.mutating_calls(), before, "{:?}", aws.api_calls());

    drop(d);

    // Drift: delete a private table's default route behind keel's back.
    let private_table = tables
        .route_tables()
        .iter()
        .find(|t| t.routes().iter().any(|r| r.nat_gateway_id().is_some()))
        .unwrap();
    let table_id = private_table.route_table_id().unwrap().to_string();
    ec2.delete_route()
        .route_table_id(&table_id)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let store = LocalStore::open(dir.path(), STACK).unwrap();
    let mut d = Deployment::open(&stack, shared.clone(), Box::new(store)).unwrap();
    let reads = aws.api_calls();
    let refreshed = d.refresh(true).await.unwrap();
    assert!(refreshed.errors.is_empty(), "{:?}", refreshed.errors);
    let drifted: Vec<String> = refreshed
        .drift
        .iter()
        .map(|x| match x {
            keel::engine::Drift::Changed { urn, .. } => urn.name().to_string(),
            keel::engine::Drift::Gone { urn, .. } => format!("gone {}", urn.name()),
        })
        .collect();
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    assert!(drifted[0].starts_with("net-private-"), "{drifted:?}");
    // Refreshing is batched: the 4 subnets cost one DescribeSubnets, the 2
    // NAT gateways one DescribeNatGateways, the 2 Elastic IPs one
    // DescribeAddresses, the 3 route tables one DescribeRouteTables (plus the
    // VPC's main-table lookup).
    let after = aws.api_calls();
    let delta =
        |op: &str| after.get(op).copied().unwrap_or(0) - reads.get(op).copied().unwrap_or(0);
    assert_eq!(delta("EC2.DescribeSubnets"), 1, "{after:?}");
    assert_eq!(delta("EC2.DescribeNatGateways"), 1, "{after:?}");
    assert_eq!(delta("EC2.DescribeAddresses"), 1, "{after:?}");
    assert_eq!(delta("EC2.DescribeRouteTables"), 2, "{after:?}");
    let plan = d.plan().unwrap();
    let s = plan.summary();
    assert_eq!(
        (s.update, s.create, s.replace, s.delete),
        (1, 0, 0, 0),
        "{}",
        keel::plan::render_text(&plan)
    );
    assert!(
        d.apply(&plan, ApplyOptions::default())
            .await
            .unwrap()
            .succeeded()
    );
    let repaired = ec2
        .describe_route_tables()
        .route_table_ids(&table_id)
        .send()
        .await
        .unwrap();
    assert!(
        repaired.route_tables()[0]
            .routes()
            .iter()
            .any(
                |r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.nat_gateway_id().is_some()
            ),
        "up put the route back"
    );

    // Destroy: nothing tagged with the stack is left.
    let plan = d.plan_destroy().expect("plan destroy");
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(
        ec2.describe_vpcs()
            .filters(tag_filter())
            .send()
            .await
            .unwrap()
            .vpcs()
            .is_empty()
    );
    assert!(
        ec2.describe_subnets()
            .filters(tag_filter())
            .send()
            .await
            .unwrap()
            .subnets()
            .is_empty()
    );
    assert!(
        ec2.describe_route_tables()
            .filters(tag_filter())
            .send()
            .await
            .unwrap()
            .route_tables()
            .is_empty()
    );
    assert!(
        ec2.describe_security_groups()
            .filters(tag_filter())
            .send()
            .await
            .unwrap()
            .security_groups()
            .is_empty()
    );
    assert!(
        ec2.describe_internet_gateways()
            .filters(tag_filter())
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .is_empty()
    );
    let left = asg.describe_auto_scaling_groups().send().await.unwrap();
    assert!(
        !left
            .auto_scaling_groups()
            .iter()
            .any(|g| g.tags().iter().any(|t| t.value() == Some(STACK)))
    );
}

/// Creates `props` as `name` through the provider, tagged with its URN and
/// stack as a deployment would; its URN and id.
async fn create<R: keel::Resource>(aws: &dyn Provider, name: &str, props: R) -> (Urn, String) {
    let urn = Urn::new("found", R::TYPE, name);
    let props = props
        .tag(keel::URN_TAG, urn.to_string())
        .tag(keel::STACK_TAG, "found");
    let inputs = serde_json::to_value(&props).unwrap();
    let made = aws
        .create(CreateRequest {
            urn: urn.clone(),
            inputs,
        })
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    (urn, made.id)
}

async fn found_ids(aws: &dyn Provider, urn: &Urn) -> Vec<String> {
    let found = aws
        .find_by_tags(FindRequest { urn: urn.clone() })
        .await
        .unwrap_or_else(|e| panic!("find {urn}: {e}"));
    found.into_iter().map(|f| f.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_by_tags_finds_what_each_urn_tagged_on_moto() {
    let _turn = MOTO_TURN.lock().await;
    let aws = aws_on_fresh_moto().await;
    let p: &dyn Provider = &aws;
    let mut made = Vec::new();
    let (urn, vpc) = create(p, "vpc", Vpc::new("10.0.0.0/16")).await;
    made.push((urn, vpc.clone()));
    let vpc_id = VpcId::new(&vpc);
    let (urn, subnet) = create(
        p,
        "public",
        Subnet::new(vpc_id.clone(), "10.0.0.0/24", "us-east-1a"),
    )
    .await;
    made.push((urn, subnet.clone()));
    let subnet_id = SubnetId::new(&subnet);
    made.push(create(p, "igw", InternetGateway::new().vpc(vpc_id.clone())).await);
    let (urn, eip) = create(p, "eip", ElasticIp::new()).await;
    made.push((urn, eip.clone()));
    let (nat_urn, nat) = create(
        p,
        "nat",
        NatGateway::public(subnet_id.clone(), AllocationId::new(&eip)),
    )
    .await;
    made.push((nat_urn.clone(), nat.clone()));
    made.push(
        create(
            p,
            "rt",
            RouteTable::new(vpc_id.clone()).associate(subnet_id.clone()),
        )
        .await,
    );
    let (urn, sg) = create(p, "sg", SecurityGroup::new(vpc_id.clone(), "hosts")).await;
    made.push((urn, sg.clone()));
    made.push(create(p, "acl", NetworkAcl::new(vpc_id.clone())).await);
    made.push(
        create(
            p,
            "ecs-endpoint",
            VpcEndpoint::interface(vpc_id.clone(), "com.amazonaws.us-east-1.ecs")
                .subnet(subnet_id.clone()),
        )
        .await,
    );
    let (urn, lt) = create(p, "lt", LaunchTemplate::new("ami-12c6146b", "t3.micro")).await;
    made.push((urn, lt.clone()));
    made.push(
        create(
            p,
            "asg",
            AutoScalingGroup::new(LaunchTemplateId::new(&lt), 0, 1).subnet(subnet_id.clone()),
        )
        .await,
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let (urn, role) = create(p, "role", IamRole::new(trust)).await;
    made.push((urn, role.clone()));
    made.push(create(p, "profile", InstanceProfile::new(RoleName::new(&role))).await);
    made.push(create(p, "cluster", EcsCluster::new()).await);
    // Something of each kind that is not keel's, or another resource's.
    let ec2 = aws_sdk_ec2::Client::new(&keel_tests::moto_config().await);
    ec2.create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    create(p, "other-vpc", Vpc::new("10.8.0.0/16")).await;
    create(p, "other-role", IamRole::new(trust)).await;
    create(p, "other-cluster", EcsCluster::new()).await;

    // The load balancer stack's six types are found by their tags in
    // `aws_moto_lb.rs`, which deploys them together.
    let elsewhere = [
        LoadBalancer::TYPE,
        TargetGroup::TYPE,
        Listener::TYPE,
        TaskDefinition::TYPE,
        CapacityProvider::TYPE,
        EcsService::TYPE,
    ];
    // AWS routes and route table associations carry no tags: a `Route` is
    // found by its table and destination (its id), a
    // `MainRouteTableAssociation` by its VPC (its id), never by tag.
    let untaggable = [
        keel::aws::ec2::Route::TYPE,
        keel::aws::ec2::MainRouteTableAssociation::TYPE,
    ];
    let covered: std::collections::BTreeSet<&str> = made
        .iter()
        .map(|(urn, _)| urn.type_token())
        .chain(elsewhere)
        .chain(untaggable)
        .collect();
    let every: std::collections::BTreeSet<&str> =
        keel::registry::type_tokens().iter().copied().collect();
    assert_eq!(covered, every, "every type");
    for (urn, id) in &made {
        assert_eq!(found_ids(p, urn).await, vec![id.to_string()], "{urn}");
    }
    for ty in keel::registry::type_tokens() {
        let undeclared = Urn::new("found", ty, "undeclared");
        assert!(found_ids(p, &undeclared).await.is_empty(), "{undeclared}");
    }
    // A deleted NAT gateway stays described as `deleted` for a while: not found.
    p.delete(DeleteRequest {
        urn: nat_urn.clone(),
        id: nat,
        inputs: serde_json::Value::Null,
        outputs: Default::default(),
    })
    .await
    .unwrap();
    assert!(found_ids(p, &nat_urn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_report_what_changed_behind_keels_back_on_moto() {
    let _turn = MOTO_TURN.lock().await;
    let aws = aws_on_fresh_moto().await;
    let p: &dyn Provider = &aws;
    let read = |urn: &Urn, id: &str, inputs: &serde_json::Value| {
        let req = ReadRequest {
            urn: urn.clone(),
            id: id.to_string(),
            inputs: inputs.clone(),
            outputs: Default::default(),
        };
        async move { p.read(req).await.unwrap().expect("still there").inputs }
    };
    let (vpc_urn, vpc) = create(p, "vpc", Vpc::new("10.0.0.0/16")).await;
    let (subnet_urn, subnet) = create(
        p,
        "subnet",
        Subnet::new(VpcId::new(&vpc), "10.0.1.0/24", "us-east-1a").tag("team", "core"),
    )
    .await;
    let recorded = |urn: &Urn, props: serde_json::Value| {
        let mut v = props;
        v["tags"]["keel:urn"] = urn.to_string().into();
        v["tags"]["keel:stack"] = "found".into();
        v
    };
    let vpc_inputs = recorded(
        &vpc_urn,
        serde_json::to_value(Vpc::new("10.0.0.0/16")).unwrap(),
    );
    let subnet_props =
        Subnet::new(VpcId::new(&vpc), "10.0.1.0/24", "us-east-1a").tag("team", "core");
    let subnet_inputs = recorded(&subnet_urn, serde_json::to_value(subnet_props).unwrap());
    // Nothing changed: the recorded inputs come back as they are.
    assert_eq!(read(&vpc_urn, &vpc, &vpc_inputs).await, vpc_inputs);
    assert_eq!(
        read(&subnet_urn, &subnet, &subnet_inputs).await,
        subnet_inputs
    );

    let ec2 = aws_sdk_ec2::Client::new(&keel_tests::moto_config().await);
    let on = aws_sdk_ec2::types::AttributeBooleanValue::builder()
        .value(true)
        .build();
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(on.clone())
        .send()
        .await
        .unwrap();
    ec2.modify_subnet_attribute()
        .subnet_id(&subnet)
        .map_public_ip_on_launch(on)
        .send()
        .await
        .unwrap();
    ec2.delete_tags()
        .resources(&subnet)
        .tags(aws_sdk_ec2::types::Tag::builder().key("team").build())
        .send()
        .await
        .unwrap();
    let vpc_now = read(&vpc_urn, &vpc, &vpc_inputs).await;
    assert_eq!(vpc_now["enable_dns_hostnames"], true);
    assert_eq!(vpc_now["cidr_block"], "10.0.0.0/16");
    let subnet_now = read(&subnet_urn, &subnet, &subnet_inputs).await;
    assert_eq!(subnet_now["map_public_ip_on_launch"], true);
    assert!(subnet_now["tags"].get("team").is_none(), "{subnet_now}");
    assert_eq!(subnet_now["tags"]["keel:urn"], subnet_urn.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_deleted_or_deleting_reads_as_gone_and_deletes_cleanly_on_moto() {
    let _turn = MOTO_TURN.lock().await;
    let aws = aws_on_fresh_moto().await;
    let p: &dyn Provider = &aws;
    let (vpc_urn, vpc) = create(p, "vpc", Vpc::new("10.0.0.0/16")).await;
    let (subnet_urn, subnet) = create(
        p,
        "subnet",
        Subnet::new(VpcId::new(&vpc), "10.0.0.0/24", "us-east-1a"),
    )
    .await;
    let (eip_urn, eip) = create(p, "eip", ElasticIp::new()).await;
    let nat_props = NatGateway::public(SubnetId::new(&subnet), AllocationId::new(&eip));
    let nat_inputs = serde_json::to_value(&nat_props).unwrap();
    let (nat_urn, nat) = create(p, "nat", nat_props).await;
    let endpoint = VpcEndpoint::interface(VpcId::new(&vpc), "com.amazonaws.us-east-1.ecs")
        .subnet(SubnetId::new(&subnet));
    let endpoint_inputs = serde_json::to_value(&endpoint).unwrap();
    let (endpoint_urn, endpoint) = create(p, "endpoint", endpoint).await;
    let read = |urn: &Urn, id: &str, inputs: &serde_json::Value| {
        let req = ReadRequest {
            urn: urn.clone(),
            id: id.to_string(),
            inputs: inputs.clone(),
            outputs: Default::default(),
        };
        async move { p.read(req).await.unwrap() }
    };
    assert!(read(&nat_urn, &nat, &nat_inputs).await.is_some());
    assert!(
        read(&endpoint_urn, &endpoint, &endpoint_inputs)
            .await
            .is_some()
    );

    // Deleted behind keel's back (a delete cut short, another tool): moto
    // answers `deleted` at once where AWS goes through `deleting`, which
    // counts as gone the same way.
    let ec2 = aws_sdk_ec2::Client::new(&keel_tests::moto_config().await);
    ec2.delete_nat_gateway()
        .nat_gateway_id(&nat)
        .send()
        .await
        .unwrap();
    ec2.delete_vpc_endpoints()
        .vpc_endpoint_ids(&endpoint)
        .send()
        .await
        .unwrap();
    assert!(read(&nat_urn, &nat, &nat_inputs).await.is_none());
    assert!(
        read(&endpoint_urn, &endpoint, &endpoint_inputs)
            .await
            .is_none()
    );
    assert_eq!(found_ids(p, &nat_urn).await, Vec::<String>::new());
    assert_eq!(found_ids(p, &endpoint_urn).await, Vec::<String>::new());

    // keel's own deletes of them wait until they are gone and succeed, so
    // what they used can go next.
    for (urn, id) in [
        (nat_urn, nat),
        (endpoint_urn, endpoint),
        (eip_urn, eip),
        (subnet_urn, subnet),
        (vpc_urn, vpc),
    ] {
        let request = DeleteRequest {
            urn: urn.clone(),
            id,
            inputs: serde_json::Value::Null,
            outputs: Default::default(),
        };
        p.delete(request)
            .await
            .unwrap_or_else(|e| panic!("delete {urn}: {e}"));
    }
}
