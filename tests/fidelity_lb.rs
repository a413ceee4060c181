//! The load balancer stack's invalid requests on the simulator and on moto:
//! the same requests fail with the same AWS error codes (a target group name
//! taken, a target group deleted while a listener forwards to it, a service
//! on a cluster that doesn't exist).
//!
//! Where moto departs from documented AWS behaviour the simulator follows
//! AWS, and the difference is asserted here rather than hidden: moto accepts
//! an application load balancer in a single availability zone (AWS:
//! `ValidationError`, "at least two subnets in two different Availability
//! Zones") and an internet-facing one in a VPC with no internet gateway
//! (AWS: `InvalidSubnet`, "VPC … has no internet gateway"), and a second
//! listener on a load balancer's port (AWS: `DuplicateListener`; moto keys
//! listeners by ARN and looks the port up among the keys, so it never
//! finds one).

use keel::aws::ec2::{InternetGateway, Subnet, Vpc};
use keel::aws::ecs::EcsService;
use keel::aws::ecs_task::{Container, PortMapping, TaskDefinition, TaskDefinitionArn};
use keel::aws::elb::{Listener, LoadBalancer, LoadBalancerArn, TargetGroup, TargetGroupArn};
use keel::provider::sim::{SimLatency, SimProvider};
use keel::provider::{CreateRequest, CreateResponse, DeleteRequest, Provider, ProviderError};
use keel::{ClusterName, Resource, SubnetId, Urn, VpcId};
use keel_tests::aws_on_fresh_moto;

/// A request's outcome: the AWS error code, or `succeeded`.
fn code<T>(r: Result<T, ProviderError>) -> String {
    r.err()
        .map(|e| e.code().to_string())
        .unwrap_or_else(|| "succeeded".into())
}

fn request<R: Resource>(name: &str, resource: &R) -> CreateRequest {
    CreateRequest {
        urn: Urn::new("errors", R::TYPE, name),
        inputs: serde_json::to_value(resource).unwrap(),
    }
}

async fn create<R: Resource>(
    p: &dyn Provider,
    name: &str,
    resource: &R,
) -> Result<CreateResponse, ProviderError> {
    p.create(request(name, resource)).await
}

/// A VPC with subnets in us-east-1a and us-east-1b (blocks `10.<n>.1.0/24`
/// and `10.<n>.2.0/24`), and an attached internet gateway if `igw`.
async fn network(p: &dyn Provider, n: u8, igw: bool) -> (VpcId, Vec<SubnetId>) {
    let vpc = create(p, &format!("vpc-{n}"), &Vpc::new(format!("10.{n}.0.0/16")))
        .await
        .expect("create a VPC");
    let vpc = VpcId::new(&vpc.id);
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        let block = format!("10.{n}.{}.0/24", i + 1);
        let s = create(
            p,
            &format!("subnet-{n}-{i}"),
            &Subnet::new(vpc.clone(), block, az),
        )
        .await
        .expect("create a subnet");
        subnets.push(SubnetId::new(&s.id));
    }
    if igw {
        create(
            p,
            &format!("igw-{n}"),
            &InternetGateway::new().vpc(vpc.clone()),
        )
        .await
        .expect("create an internet gateway");
    }
    (vpc, subnets)
}

fn load_balancer(subnets: &[SubnetId]) -> LoadBalancer {
    subnets
        .iter()
        .fold(LoadBalancer::new(), |lb, s| lb.subnet(s.clone()))
}

/// The requests both clouds must refuse alike, in order; returns the codes.
async fn invalid_requests(p: &dyn Provider) -> Vec<String> {
    let (vpc, subnets) = network(p, 0, true).await;
    let lb = create(p, "web", &load_balancer(&subnets))
        .await
        .expect("create the load balancer");
    let lb = LoadBalancerArn::new(&lb.id);
    let tg = TargetGroup::http(80, vpc.clone()).name("web-targets");
    let tg = create(p, "web", &tg)
        .await
        .expect("create the target group");
    let tg_arn = TargetGroupArn::new(&tg.id);
    let mut codes = Vec::new();
    // The name is the target group's identity in the region.
    let again = TargetGroup::http(8080, vpc.clone()).name("web-targets");
    codes.push(code(create(p, "web-again", &again).await));
    create(p, "http", &Listener::http(lb, 80, tg_arn))
        .await
        .expect("create the listener");
    codes.push(code(
        p.delete(DeleteRequest {
            urn: Urn::new("errors", TargetGroup::TYPE, "web"),
            id: tg.id.clone(),
            inputs: serde_json::Value::Null,
            outputs: tg.outputs.clone(),
        })
        .await,
    ));
    let td = TaskDefinition::new().container(
        Container::new("web", "nginx:1.27")
            .memory(128)
            .port(PortMapping::dynamic(80)),
    );
    let td = create(p, "web", &td)
        .await
        .expect("register the task definition");
    let service = EcsService::new(
        ClusterName::new("no-such-cluster"),
        TaskDefinitionArn::new(&td.id),
        1,
    );
    codes.push(code(create(p, "web", &service).await));
    codes
}

/// Requests AWS refuses and moto accepts; returns the codes.
async fn departures(p: &dyn Provider) -> Vec<String> {
    let (vpc, subnets) = network(p, 1, true).await;
    let one_zone = load_balancer(&subnets[..1]);
    let (_, closed) = network(p, 2, false).await;
    let mut codes = vec![
        code(create(p, "one-zone", &one_zone).await),
        code(create(p, "no-gateway", &load_balancer(&closed)).await),
    ];
    let lb = create(p, "web", &load_balancer(&subnets))
        .await
        .expect("create the load balancer");
    let lb = LoadBalancerArn::new(&lb.id);
    let tg = create(p, "web", &TargetGroup::http(80, vpc))
        .await
        .expect("create the target group");
    let tg = TargetGroupArn::new(&tg.id);
    create(p, "http", &Listener::http(lb.clone(), 80, tg.clone()))
        .await
        .expect("create the listener");
    codes.push(code(
        create(p, "http-again", &Listener::http(lb, 80, tg)).await,
    ));
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_invalid_load_balancer_and_service_requests_fail_alike() {
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let expected = [
        "DuplicateTargetGroupName",
        "ResourceInUse",
        "ClusterNotFoundException",
    ];
    assert_eq!(invalid_requests(&sim).await, expected, "simulator");
    let moto = aws_on_fresh_moto().await;
    assert_eq!(invalid_requests(&moto).await, expected, "moto");

    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    assert_eq!(
        departures(&sim).await,
        ["ValidationError", "InvalidSubnet", "DuplicateListener"],
        "the simulator follows AWS"
    );
    assert_eq!(
        departures(&moto).await,
        ["succeeded", "succeeded", "succeeded"],
        "moto accepts all three (if this fails, moto now checks one: move it up)"
    );
}
