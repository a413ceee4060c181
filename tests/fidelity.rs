//! The simulator against moto: the same program deployed on both yields the
//! same resources with the same attributes once ids, names and addresses are
//! normalised, and the same invalid requests fail with the same AWS error
//! codes. Where moto departs from documented AWS behaviour the simulator
//! follows AWS, and the difference is spelled out here rather than hidden:
//!
//! - moto never registers ECS container instances (no agents run), so a
//!   cluster's `registered_container_instances_count` (and
//!   `connected_container_instances_count`) stays 0 there; the
//!   simulator registers instances that could reach ECS, as AWS does; for
//!   the same reason no task runs there (a service's running and pending
//!   counts, a target group's registered and healthy targets differ), and
//!   moto answers one fixed hosted zone and DNS suffix for every load
//!   balancer, so those fields are left out of the comparison;
//! - moto makes NAT gateways `available` at once (AWS: one to two minutes;
//!   the simulator models `pending`);
//! - moto ignores `ClientToken` on CreateNatGateway (AWS returns the first
//!   gateway for a repeated token) — see the last test.

use keel::aws::ec2::{Subnet, Vpc};
use keel::engine::{ApplyOptions, Deployment};
use keel::provider::sim::{SimLatency, SimProvider};
use keel::provider::{CreateRequest, DeleteRequest, Provider, ProviderError};
use keel::state::{LocalStore, Snapshot};
use keel::{Urn, VpcId};
use keel_examples::stacks::private_ecs::{Options, build};
use keel_tests::{aws_on_fresh_moto, state_dir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The tests here reset moto; they take turns.
static MOTO_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn deploy(provider: Arc<dyn Provider>, stack_name: &str) -> Snapshot {
    let stack = build(&Options {
        stack: stack_name.into(),
        // moto runs no ECS agents: no waits for registration or tasks.
        wait: false,
        ..Options::default()
    });
    let dir = state_dir();
    let store = LocalStore::open(dir.path(), stack.name()).unwrap();
    let mut d = Deployment::open(&stack, provider, Box::new(store)).unwrap();
    let plan = d.plan().unwrap();
    let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert!(report.succeeded(), "{stack_name}: {report:#?}");
    d.snapshot().clone()
}

/// Replaces what legitimately differs between two clouds: ids (by the URN
/// that owns them), generated names, account ids in ARNs, addresses.
fn normalise(snapshot: &Snapshot) -> BTreeMap<String, (Value, Value)> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for r in &snapshot.resources {
        ids.push((r.id.clone(), format!("<{}>", r.urn.name())));
        if let Some(Value::String(name)) = r.outputs.get("name") {
            ids.push((name.clone(), format!("<{}:name>", r.urn.name())));
        }
    }
    // Longest first, so `ecs-hosts-1a2b3c4` is replaced before a prefix of it.
    ids.sort_by_key(|(id, _)| std::cmp::Reverse(id.len()));
    fn walk(v: &Value, ids: &[(String, String)]) -> Value {
        match v {
            Value::String(s) => {
                let mut s = s.clone();
                for (id, token) in ids {
                    s = s.replace(id.as_str(), token);
                }
                if s.parse::<std::net::Ipv4Addr>().is_ok() {
                    return Value::String("<ip>".into());
                }
                if s.starts_with("arn:aws:") {
                    let parts: Vec<&str> = s.splitn(6, ':').collect();
                    if parts.len() == 6 {
                        // An Auto Scaling group's ARN embeds a random UUID.
                        let resource = match parts[5].split_once(":autoScalingGroupName/") {
                            Some((_, name)) => {
                                format!("autoScalingGroup:<uuid>:autoScalingGroupName/{name}")
                            }
                            None => parts[5].to_string(),
                        };
                        s = format!("arn:aws:{}:{}:<account>:{resource}", parts[2], parts[3]);
                    }
                }
                for prefix in [
                    "rtbassoc-",
                    "eni-",
                    "vpc-",
                    "subnet-",
                    "rtb-",
                    "sg-",
                    "igw-",
                    "acl-",
                    "lt-",
                ] {
                    if s.starts_with(prefix) {
                        return Value::String(format!("<{prefix}>"));
                    }
                }
                Value::String(s)
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, ids)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), walk(x, ids))).collect())
            }
            other => other.clone(),
        }
    }
    snapshot
        .resources
        .iter()
        .map(|r| {
            let name = r
                .urn
                .to_string()
                .replace("fidelity-sim", "S")
                .replace("fidelity-moto", "S");
            let mut outputs = walk(&Value::Object(r.outputs.clone()), &ids);
            // Known, documented differences (see the module docs).
            if let Some(o) = outputs.as_object_mut() {
                o.remove("registered_container_instances_count");
                o.remove("connected_container_instances_count");
                // moto runs no tasks (ECS agents) and answers a fixed zone
                // and DNS suffix for every load balancer.
                for field in [
                    "running_count",
                    "pending_count",
                    "healthy_targets",
                    "registered_targets",
                    "dns_name",
                    "canonical_hosted_zone_id",
                ] {
                    o.remove(field);
                }
            }
            let mut inputs = walk(&r.inputs, &ids);
            if let Some(tags) = inputs.get_mut("tags").and_then(Value::as_object_mut) {
                tags.remove("keel:urn");
                tags.remove("keel:stack");
            }
            (name, (inputs, outputs))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_program_yields_the_same_resources_on_the_simulator_and_on_moto() {
    let _turn = MOTO_TURN.lock().await;
    let sim = deploy(
        Arc::new(SimProvider::in_memory().with_latency(SimLatency::none())),
        "fidelity-sim",
    )
    .await;
    let moto = deploy(Arc::new(aws_on_fresh_moto().await), "fidelity-moto").await;
    let (sim, moto) = (normalise(&sim), normalise(&moto));
    assert_eq!(
        sim.keys().collect::<Vec<_>>(),
        moto.keys().collect::<Vec<_>>()
    );
    let mut differences = Vec::new();
    for (urn, (sim_in, sim_out)) in &sim {
        let (moto_in, moto_out) = &moto[urn];
        if sim_in != moto_in {
            differences.push(format!("{urn} inputs:\n  sim  {sim_in}\n  moto {moto_in}"));
        }
        if sim_out != moto_out {
            differences.push(format!(
                "{urn} outputs:\n  sim  {sim_out}\n  moto {moto_out}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

fn urn(ty: &str, name: &str) -> Urn {
    Urn::new("errors", ty, name)
}

/// Runs the same invalid requests against a provider; returns the codes.
async fn invalid_requests(p: &dyn Provider) -> Vec<String> {
    let vpc = p
        .create(CreateRequest {
            urn: urn("aws:ec2:Vpc", "main"),
            inputs: serde_json::to_value(Vpc::new("10.0.0.0/16")).unwrap(),
        })
        .await
        .expect("create the VPC");
    let subnet = |name: &str, block: &str| CreateRequest {
        urn: urn("aws:ec2:Subnet", name),
        inputs: serde_json::to_value(Subnet::new(VpcId::new(&vpc.id), block, "us-east-1a"))
            .unwrap(),
    };
    let code = |r: Result<_, ProviderError>| {
        r.err()
            .map(|e| e.code().to_string())
            .unwrap_or_else(|| "succeeded".into())
    };
    let mut codes = Vec::new();
    codes.push(code(
        p.create(subnet("outside", "10.1.0.0/24")).await.map(|_| ()),
    ));
    p.create(subnet("a", "10.0.1.0/24"))
        .await
        .expect("create a subnet");
    codes.push(code(
        p.create(subnet("overlap", "10.0.1.128/25"))
            .await
            .map(|_| ()),
    ));
    codes.push(code(
        p.delete(DeleteRequest {
            urn: urn("aws:ec2:Vpc", "main"),
            id: vpc.id.clone(),
            inputs: Value::Null,
            outputs: vpc.outputs.clone(),
        })
        .await,
    ));
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_invalid_requests_fail_with_the_same_aws_codes() {
    let _turn = MOTO_TURN.lock().await;
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let expected = [
        "InvalidSubnet.Range",
        "InvalidSubnet.Conflict",
        "DependencyViolation",
    ];
    assert_eq!(invalid_requests(&sim).await, expected, "simulator");
    assert_eq!(
        invalid_requests(&aws_on_fresh_moto().await).await,
        expected,
        "moto"
    );
}
