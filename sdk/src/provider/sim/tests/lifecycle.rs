//! Persistence (round trip, corrupt files), API-call accounting, and time:
//! NAT gateways and instances pending until their ready time, on the
//! simulated clock.

use super::*;
use crate::provider::sim::cloud::{Clock, Cloud};
use crate::provider::sim::latency::Op;
use std::fs;

/// A fresh directory under the system's temporary directory.
pub(super) fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keel-sim-{test}-{}-{}",
        std::process::id(),
        cloud::random_hex(8)
    ));
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn the_cloud_survives_a_reopen() {
    let dir = temp_dir("persist");
    let path = dir.join("sim").join("cloud.json");
    let sim = SimProvider::open(&path, SimLatency::none()).unwrap();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let before = read::<Subnet>(&sim, "a", &subnet).await;
    drop(sim);

    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&vpc) && text.contains("\n  \"region\": \"us-east-1\""),
        "pretty JSON"
    );
    let again = SimProvider::open(&path, SimLatency::none()).unwrap();
    assert_eq!(again.resource_count(), 2);
    assert_eq!(read::<Subnet>(&again, "a", &subnet).await, before);
    // Rules still apply to what was loaded.
    assert_eq!(
        code(delete::<Vpc>(&again, "main", &vpc).await),
        "DependencyViolation"
    );
    delete::<Subnet>(&again, "a", &subnet).await.unwrap();
    delete::<Vpc>(&again, "main", &vpc).await.unwrap();
    let reloaded = SimProvider::open(&path, SimLatency::none()).unwrap();
    assert_eq!(reloaded.resource_count(), 0);
    let mut leftovers: Vec<String> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["cloud.json", "cloud.json.lock"],
        "the cloud and its lock, no temporary files left"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_cloud_is_an_error_not_a_reset() {
    let dir = temp_dir("corrupt");
    let path = dir.join("cloud.json");
    for junk in ["", "{\"format\": 1, \"region\": ", "[]"] {
        fs::write(&path, junk).unwrap();
        let err = SimProvider::open(&path, SimLatency::none()).unwrap_err();
        assert!(matches!(err, SimStoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("cloud.json"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), junk, "left as it was");
    }
    let mut future = serde_json::to_value(Cloud::new("us-east-1")).unwrap();
    future["format"] = 99.into();
    fs::write(&path, future.to_string()).unwrap();
    assert!(SimProvider::open(&path, SimLatency::none()).is_err());
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn calls_are_counted_by_aws_name() {
    let sim = sim();
    let vpc = create(&sim, "main", &dns_vpc()).await;
    let calls = sim.api_calls();
    assert_eq!(calls["CreateVpc"], 1);
    assert_eq!(calls["ModifyVpcAttribute"], 1);
    assert_eq!(sim.mutating_calls(), 2);
    read::<Vpc>(&sim, "main", &vpc).await.unwrap();
    assert_eq!(sim.api_calls()["DescribeVpcs"], 1);
    assert_eq!(sim.mutating_calls(), 2, "reads don't mutate");
    // An update that changes nothing calls nothing that mutates.
    update(&sim, "main", &vpc, &dns_vpc()).await.unwrap();
    assert_eq!(sim.mutating_calls(), 2);
    update(&sim, "main", &vpc, &dns_vpc().tag("a", "b"))
        .await
        .unwrap();
    assert_eq!(sim.api_calls()["CreateTags"], 1);
    // Clones share the cloud and the counts.
    assert_eq!(sim.clone().mutating_calls(), 3);
    let unknown = CreateRequest {
        urn: Urn::new("test", "aws:s3:Bucket", "b"),
        inputs: Value::Null,
    };
    assert_eq!(code(sim.create(unknown).await), "UnsupportedType");
    let bad = CreateRequest {
        urn: urn::<Vpc>("bad"),
        inputs: serde_json::json!({"cidr": 1}),
    };
    assert_eq!(code(sim.create(bad).await), "InvalidInputs");
}

#[test]
fn pending_things_become_ready_on_the_simulated_clock() {
    let mut cloud = Cloud::new("us-east-1");
    let latency = SimLatency::realistic();
    let at = |now| Clock { now, latency };
    let vpc = cloud.create_vpc("10.0.0.0/16", Tags::new()).unwrap();
    let subnet = cloud
        .create_subnet(&vpc, "10.0.0.0/24", "us-east-1a", Tags::new())
        .unwrap();
    let eip = cloud.allocate_address(Tags::new());
    let nat = cloud
        .create_nat_gateway(
            &subnet,
            Some(&eip),
            crate::aws::ec2::Connectivity::Public,
            Tags::new(),
            &at(0),
        )
        .unwrap();
    let ready = latency.millis(Op::NatCreate);
    assert_eq!(ready, 2_000);
    cloud.reconcile(&at(ready - 1));
    assert_eq!(cloud.nat_gateways[&nat].state.as_str(), "pending");
    // Saved and loaded while pending, it stays pending for the rest of its time.
    let mut cloud: Cloud = serde_json::from_str(&serde_json::to_string(&cloud).unwrap()).unwrap();
    cloud.reconcile(&at(0));
    assert_eq!(cloud.nat_gateways[&nat].state.as_str(), "pending");
    cloud.reconcile(&at(ready));
    assert_eq!(cloud.nat_gateways[&nat].state.as_str(), "available");
    cloud.delete_nat_gateway(&nat, &at(ready)).unwrap();
    assert_eq!(code(cloud.release_address(&eip)), "InvalidIPAddress.InUse");
    cloud.reconcile(&at(ready + latency.millis(Op::NatDelete)));
    assert!(cloud.nat_gateways[&nat].is_gone());
    cloud.release_address(&eip).unwrap();
}

#[tokio::test]
async fn providers_wait_for_nat_gateways_and_instances() {
    // A NAT gateway takes 120 ms at this scale; the create polls until then.
    let sim = SimProvider::in_memory().with_latency(SimLatency::scaled(0.001));
    let (_vpc, subnet) = vpc_with_subnet(&sim).await;
    let eip = create(&sim, "ip", &ElasticIp::new()).await;
    let nat = try_create(
        &sim,
        "nat",
        &NatGateway::public(SubnetId::new(&subnet), AllocationId::new(&eip)),
    )
    .await
    .unwrap();
    assert_eq!(nat.outputs["state"], "available");
    assert!(sim.api_calls()["DescribeNatGateways"] >= 2, "polled");
    delete::<NatGateway>(&sim, "nat", &nat.id).await.unwrap();
    assert_eq!(sim.resource_count(), 3);

    let lt = create(
        &sim,
        "lt",
        &LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small"),
    )
    .await;
    let asg =
        AutoScalingGroup::new(LaunchTemplateId::new(&lt), 1, 1).subnet(SubnetId::new(&subnet));
    let r = try_create(&sim, "asg", &asg).await.unwrap();
    assert_eq!(
        r.outputs["instance_count"], 1,
        "waited for the instance to boot"
    );
    delete::<AutoScalingGroup>(&sim, "asg", &r.id)
        .await
        .unwrap();
    assert!(sim.instances().is_empty(), "waited for termination");
}

#[tokio::test]
async fn a_cloud_saved_before_network_acls_gets_its_defaults() {
    let dir = temp_dir("backfill");
    let path = dir.join("cloud.json");
    let sim = SimProvider::open(&path, SimLatency::none()).unwrap();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    drop(sim);
    let mut old: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("network_acls");
    fs::write(&path, old.to_string()).unwrap();

    let sim = SimProvider::open(&path, SimLatency::none()).unwrap();
    let model = sim.network_model();
    let (acl, facts) = model.acl_of(&subnet).expect("associated");
    assert!(facts.default && facts.vpc == vpc, "{acl}: {facts:?}");
    let main = sim.peek(|c| c.vpcs[&vpc].main_route_table_id.clone());
    assert!(model.route_tables[&main].main);
    assert_eq!(sim.resource_count(), 2);
    let _ = fs::remove_dir_all(&dir);
}
