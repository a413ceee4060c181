//! One cloud file shared by several handles, as several processes (stacks
//! of one state directory) share it: each sees the others' changes and none
//! saves over them; time-driven transitions happen on reads too and are
//! saved; the clock runs on from the furthest any handle has seen; and what
//! is being deleted reads as gone while a delete of it still waits for it to
//! go, also after the handle that started the delete went away mid-wait.

use super::lifecycle::temp_dir;
use super::*;
use crate::provider::sim::table::Phase;
use std::fs;
use std::time::Duration;

fn open(path: &Path) -> SimProvider {
    SimProvider::open(path, SimLatency::none()).expect("open the shared cloud")
}

#[tokio::test]
async fn handles_on_one_file_keep_each_others_changes() {
    let dir = temp_dir("shared");
    let path = dir.join("sim").join("cloud.json");
    let (a, b) = (open(&path), open(&path));
    // Interleaved: each handle's copy is stale when it calls next.
    let vpc_a = create(&a, "a", &Vpc::new("10.0.0.0/16")).await;
    let vpc_b = create(&b, "b", &Vpc::new("10.1.0.0/16")).await;
    subnet(&a, "a", &vpc_a, "10.0.1.0/24", "us-east-1a").await;
    subnet(&b, "b", &vpc_b, "10.1.1.0/24", "us-east-1a").await;
    assert_eq!(a.resource_count(), 4);
    assert_eq!(b.resource_count(), 4);
    // What one handle deletes, the other no longer finds.
    let vpc_c = create(&a, "c", &Vpc::new("10.2.0.0/16")).await;
    delete::<Vpc>(&b, "c", &vpc_c).await.unwrap();
    assert_eq!(read::<Vpc>(&a, "c", &vpc_c).await, None);
    assert_eq!(open(&path).resource_count(), 4);
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_through_two_handles_lose_nothing() {
    let dir = temp_dir("concurrent");
    let path = dir.join("cloud.json");
    let (a, b) = (open(&path), open(&path));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let sim = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            let vpc = create(&sim, "v", &Vpc::new(format!("10.{i}.0.0/16"))).await;
            subnet(&sim, "s", &vpc, &format!("10.{i}.1.0/24"), "us-east-1a").await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a create task");
    }
    let counts = open(&path).resource_counts();
    assert_eq!(counts["aws:ec2:Vpc"], 12, "{counts:?}");
    assert_eq!(counts["aws:ec2:Subnet"], 12, "{counts:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn a_read_saves_what_time_changed() {
    let dir = temp_dir("read-saves");
    let path = dir.join("cloud.json");
    let latency = SimLatency::scaled(0.001); // a NAT gateway deletes in 60 ms
    let sim = SimProvider::open(&path, latency).unwrap();
    let (_vpc, subnet) = vpc_with_subnet(&sim).await;
    let eip = create(&sim, "ip", &ElasticIp::new()).await;
    let nat = NatGateway::public(SubnetId::new(&subnet), AllocationId::new(&eip));
    let nat = create(&sim, "nat", &nat).await;
    // Deleting starts; the process dies before it waited.
    sim.api("DeleteNatGateway", |c, clock| {
        c.delete_nat_gateway(&nat, clock)
    })
    .unwrap();
    drop(sim);

    let next = SimProvider::open(&path, latency).unwrap();
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(read::<NatGateway>(&next, "nat", &nat).await, None);
    assert_eq!(next.api_calls()["DescribeNatGateways"], 1);
    // A third look at the file finds it deleted without waiting: the read
    // saved the transition.
    let later = SimProvider::open(&path, latency).unwrap();
    let state = later.peek(|c| c.nat_gateways[&nat].state);
    assert_eq!(state, Phase::Deleted);
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn the_clock_runs_on_from_the_furthest_handle() {
    let dir = temp_dir("clock");
    let path = dir.join("cloud.json");
    let a = open(&path);
    create(&a, "a", &Vpc::new("10.0.0.0/16")).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    // Opened now, `b` starts from the clock saved 10 s ago.
    let b = open(&path);
    assert_eq!(b.peek(|c| c.clock_ms), 0);
    create(&a, "b", &Vpc::new("10.1.0.0/16")).await;
    assert_eq!(b.peek(|c| c.clock_ms), 10_000, "b reloaded a's clock");
    tokio::time::advance(Duration::from_millis(50)).await;
    assert_eq!(b.peek(|c| c.clock_ms), 10_050, "and runs on from it");
    let _ = fs::remove_dir_all(&dir);
}

/// A group of one instance in a new VPC; the group's name and the subnet.
async fn group(sim: &SimProvider) -> (String, String) {
    let (_vpc, subnet) = vpc_with_subnet(sim).await;
    let lt = LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small");
    let lt = create(sim, "lt", &lt).await;
    let asg = AutoScalingGroup::new(LaunchTemplateId::new(&lt), 1, 1)
        .subnet(SubnetId::new(&subnet))
        .tag(
            crate::resource::URN_TAG,
            urn::<AutoScalingGroup>("asg").to_string(),
        );
    (create(sim, "asg", &asg).await, subnet)
}

#[tokio::test(start_paused = true)]
async fn a_group_being_deleted_reads_as_gone_and_a_killed_delete_converges() {
    let dir = temp_dir("killed-destroy");
    let path = dir.join("cloud.json");
    let latency = SimLatency::scaled(0.001); // instances terminate in 30 ms
    let sim = SimProvider::open(&path, latency).unwrap();
    let (name, subnet) = group(&sim).await;
    // `destroy` starts deleting the group and is killed while it waits.
    let destroy = {
        let sim = sim.clone();
        let name = name.clone();
        tokio::spawn(async move { delete::<AutoScalingGroup>(&sim, "asg", &name).await })
    };
    while sim.peek(|c| c.groups.get(&name).map(|g| g.deleting).ok()) != Some(true) {
        tokio::task::yield_now().await;
    }
    destroy.abort();
    assert!(destroy.await.unwrap_err().is_cancelled());
    drop(sim);

    let next = SimProvider::open(&path, latency).unwrap();
    assert!(
        next.peek(|c| c.groups.contains_key(&name)),
        "still deleting"
    );
    assert_eq!(read::<AutoScalingGroup>(&next, "asg", &name).await, None);
    let found = next.find_by_tags(FindRequest {
        urn: urn::<AutoScalingGroup>("asg"),
    });
    assert_eq!(found.await.unwrap(), Vec::new());
    // Its instances still use the subnet; deleting the group again waits
    // until they and it are gone, and then the subnet can go.
    assert_eq!(
        code(delete::<Subnet>(&next, "a", &subnet).await),
        "DependencyViolation"
    );
    delete::<AutoScalingGroup>(&next, "asg", &name)
        .await
        .unwrap();
    assert!(next.instances().is_empty());
    delete::<Subnet>(&next, "a", &subnet).await.unwrap();
    let reopened = open(&path);
    assert!(reopened.peek(|c| c.groups.is_empty() && c.instances.is_empty()));
    let _ = fs::remove_dir_all(&dir);
}
