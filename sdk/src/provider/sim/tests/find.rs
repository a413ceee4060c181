//! Finding resources by their ownership tags ([`Provider::find_by_tags`]):
//! what the engine tagged with a URN is found with the outputs a read
//! reports, for every kind of record; what is deleted or being deleted, what
//! was never created and what carries no ownership tags is not.

use super::*;
use crate::provider::sim::cloud::Clock;
use crate::resource::{STACK_TAG, URN_TAG};

/// Creates `props` as resource `name`, tagged as the engine tags what it
/// creates (`keel:urn` and `keel:stack`); returns the id.
async fn create_owned<R: Resource>(sim: &SimProvider, name: &str, props: R) -> String {
    let urn = urn::<R>(name);
    let owned = props
        .tag(URN_TAG, urn.to_string())
        .tag(STACK_TAG, urn.stack());
    create(sim, name, &owned).await
}

/// What `find_by_tags` finds for resource `name` of type `R`.
async fn find<R: Resource>(sim: &SimProvider, name: &str) -> Vec<Found> {
    let request = FindRequest {
        urn: urn::<R>(name),
    };
    sim.find_by_tags(request).await.expect("find_by_tags")
}

/// `find_by_tags` finds exactly resource `id`, with the outputs a read reports.
async fn finds_one<R: Resource>(sim: &SimProvider, name: &str, id: &str) {
    let read = read::<R>(sim, name, id).await.expect("it exists");
    let found = find::<R>(sim, name).await;
    let expected = vec![Found {
        id: id.to_string(),
        outputs: read,
    }];
    assert_eq!(found, expected, "{}", R::TYPE);
}

#[tokio::test]
async fn what_the_engine_tagged_is_found_with_its_outputs() {
    let sim = sim();
    let vpc = create_owned(&sim, "main", Vpc::new("10.0.0.0/16")).await;
    let subnet = Subnet::new(VpcId::new(&vpc), "10.0.1.0/24", "us-east-1a");
    let subnet = create_owned(&sim, "a", subnet).await;
    let eip = create_owned(&sim, "nat", ElasticIp::new()).await;
    let nat = NatGateway::public(SubnetId::new(&subnet), AllocationId::new(&eip));
    let nat = create_owned(&sim, "nat", nat).await;
    let sg = create_owned(&sim, "web", SecurityGroup::new(VpcId::new(&vpc), "web")).await;
    let role = IamRole::for_service("ec2.amazonaws.com");
    let role = create_owned(&sim, "host", role).await;
    let cluster = create_owned(&sim, "app", EcsCluster::new().name("app")).await;
    let lt = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small");
    let lt = create_owned(&sim, "hosts", lt).await;

    finds_one::<Vpc>(&sim, "main", &vpc).await;
    finds_one::<Subnet>(&sim, "a", &subnet).await;
    finds_one::<ElasticIp>(&sim, "nat", &eip).await;
    finds_one::<NatGateway>(&sim, "nat", &nat).await;
    finds_one::<SecurityGroup>(&sim, "web", &sg).await;
    finds_one::<IamRole>(&sim, "host", &role).await;
    finds_one::<EcsCluster>(&sim, "app", &cluster).await;
    finds_one::<LaunchTemplate>(&sim, "hosts", &lt).await;
}

#[tokio::test]
async fn a_search_is_one_describe_call_of_the_type() {
    let sim = sim();
    create_owned(&sim, "main", Vpc::new("10.0.0.0/16")).await;
    let before = sim.api_calls();
    let writes = sim.mutating_calls();
    assert_eq!(find::<Vpc>(&sim, "main").await.len(), 1);
    assert_eq!(find::<Vpc>(&sim, "other").await.len(), 0);
    let after = sim.api_calls();
    let describes = |calls: &BTreeMap<String, u64>| calls.get("DescribeVpcs").copied();
    assert_eq!(describes(&after), Some(describes(&before).unwrap_or(0) + 2));
    assert_eq!(sim.mutating_calls(), writes, "a search changes nothing");
}

#[tokio::test]
async fn deleted_and_deleting_resources_are_not_found() {
    let sim = sim();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let owned = create_owned(
        &sim,
        "b",
        Subnet::new(VpcId::new(&vpc), "10.0.2.0/24", "us-east-1b"),
    );
    let owned = owned.await;
    finds_one::<Subnet>(&sim, "b", &owned).await;
    delete::<Subnet>(&sim, "b", &owned).await.unwrap();
    assert_eq!(find::<Subnet>(&sim, "b").await, Vec::new());

    // A NAT gateway being deleted reads as gone and is no longer found: it
    // is on its way out, not something to keep or adopt (as in Terraform).
    let eip = create_owned(&sim, "nat", ElasticIp::new()).await;
    let nat = NatGateway::public(SubnetId::new(&subnet), AllocationId::new(&eip));
    let nat = create_owned(&sim, "nat", nat).await;
    finds_one::<NatGateway>(&sim, "nat", &nat).await;
    sim.peek_mut(|c| {
        let clock = Clock {
            now: c.clock_ms,
            latency: SimLatency::realistic(),
        };
        c.delete_nat_gateway(&nat, &clock)
    })
    .unwrap();
    let state = sim.peek(|c| c.nat_gateways[&nat].state);
    assert_eq!(state.as_str(), "deleting", "still in the cloud");
    assert_eq!(read::<NatGateway>(&sim, "nat", &nat).await, None);
    assert_eq!(find::<NatGateway>(&sim, "nat").await, Vec::new());
}

#[tokio::test]
async fn only_resources_tagged_with_the_urn_are_found() {
    let sim = sim();
    // Never created.
    assert_eq!(find::<Vpc>(&sim, "main").await, Vec::new());
    // Created without ownership tags (outside keel, or before it tagged).
    create(&sim, "main", &Vpc::new("10.0.0.0/16")).await;
    assert_eq!(find::<Vpc>(&sim, "main").await, Vec::new());
    // Another resource's URN.
    create_owned(&sim, "other", Vpc::new("10.1.0.0/16")).await;
    assert_eq!(find::<Vpc>(&sim, "main").await, Vec::new());
    // Several runs interrupted after the create: every copy is found.
    let first = create_owned(&sim, "main", Vpc::new("10.2.0.0/16")).await;
    let second = create_owned(&sim, "main", Vpc::new("10.3.0.0/16")).await;
    let mut found: Vec<String> = find::<Vpc>(&sim, "main")
        .await
        .into_iter()
        .map(|f| f.id)
        .collect();
    found.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(found, expected);
    // A type the simulator doesn't know can't be searched.
    let unknown = FindRequest {
        urn: Urn::new("test", "aws:s3:Bucket", "b"),
    };
    assert_eq!(code(sim.find_by_tags(unknown).await), "UnsupportedType");
}
