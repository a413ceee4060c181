//! The mock provider through whole runs: typed outputs flow into the
//! resources that reference them, injected failures stop what depends on
//! them, and an update, a search by tags and a destroy see what it made.

use super::*;
use crate::aws::ec2::VpcOutputs;
use crate::ops::{Options, blocking};
use crate::prelude::*;
use crate::provider::{FindRequest, Provider, ProviderError};
use crate::state::MemoryStore;
use std::sync::Arc;

fn stack(tag: &str) -> (Stack, Handle<Vpc>, Handle<Subnet>) {
    let mut s = Stack::new("mocked");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let subnet = s.add(
        "a",
        Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a").tag("team", tag),
    );
    (s, vpc, subnet)
}

fn vpc_outputs(name: &str, vpc: &Vpc) -> VpcOutputs {
    VpcOutputs {
        id: VpcId::new(format!("vpc-{name}")),
        arn: Arn::new(format!("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-{name}")),
        cidr_block: vpc.cidr_block.clone(),
        main_route_table_id: RouteTableId::new("rtb-main"),
        default_security_group_id: SecurityGroupId::new("sg-default"),
    }
}

#[test]
fn typed_outputs_reach_the_resources_that_reference_them() {
    let (s, vpc, subnet) = stack("web");
    let mock = MockProvider::new().outputs::<Vpc>(vpc_outputs);
    let deployed = apply_with(&s, Arc::new(mock.clone()));
    assert_eq!(deployed.outputs(&vpc).id.as_str(), "vpc-main");
    // the subnet has no closure: its inputs come back, with a made-up id
    let out = deployed.outputs(&subnet);
    assert_eq!(out.vpc_id.as_str(), "vpc-main");
    assert!(out.id.as_str().starts_with("subnet-mock-"), "{}", out.id);
    let calls = mock.api_calls();
    assert_eq!(calls["Create aws:ec2:Vpc"], 1);
    assert_eq!(calls["Create aws:ec2:Subnet"], 1);
}

#[test]
fn an_injected_failure_fails_its_step_and_nothing_else_is_made() {
    let (s, vpc, subnet) = stack("web");
    let mock = MockProvider::new().fail::<Subnet>(|name, s| {
        (s.availability_zone == "us-east-1a").then(|| {
            ProviderError::aws("InsufficientFreeAddressesInSubnet", format!("{name}: full"))
        })
    });
    let deployed = deploy(&s, Arc::new(mock.clone()));
    assert!(!deployed.report.succeeded());
    let failed = deployed
        .applied()
        .unwrap()
        .execution
        .outcomes
        .iter()
        .find_map(|(u, o)| match o {
            crate::engine::Outcome::Failed { error, .. } => {
                Some((u.clone(), error.code().to_string()))
            }
            _ => None,
        });
    assert_eq!(
        failed,
        Some((
            subnet.urn().clone(),
            "InsufficientFreeAddressesInSubnet".into()
        ))
    );
    assert!(deployed.state.get(vpc.urn()).is_some());
    assert!(deployed.state.get(subnet.urn()).is_none());
    assert_eq!(mock.live().len(), 1);
}

#[tokio::test]
async fn updates_keep_the_id_searches_find_by_tag_and_destroy_empties_it() {
    let mock = MockProvider::new();
    let store = MemoryStore::new("mocked");
    let options = Options::default();
    let (first, _, subnet) = stack("web");
    let up = blocking::up(
        &first,
        Arc::new(mock.clone()),
        Box::new(store.clone()),
        &options,
    );
    assert!(up.unwrap().succeeded());
    let before: Vec<(Urn, String)> = mock.live();

    let (second, _, _) = stack("api");
    let up = blocking::up(
        &second,
        Arc::new(mock.clone()),
        Box::new(store.clone()),
        &options,
    );
    let up = up.unwrap();
    assert!(up.succeeded());
    assert_eq!(up.preview.plan.summary().update, 1);
    assert_eq!(mock.live(), before, "updated in place: same ids");
    assert_eq!(mock.api_calls()["Update aws:ec2:Subnet"], 1);

    let found = mock
        .find_by_tags(FindRequest {
            urn: subnet.urn().clone(),
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].outputs["tags"]["team"], "api");

    let down = blocking::destroy(&second, Arc::new(mock.clone()), Box::new(store), &options);
    assert!(down.unwrap().succeeded());
    assert!(mock.live().is_empty());
}
