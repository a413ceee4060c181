//! Network ACLs: the default ACL every VPC and subnet gets, AWS's rules for
//! custom ones (entries, associations, deletion), and what they do to ECS
//! registration — stateless rules need the request and its return traffic
//! allowed, on the instances' subnet and on the NAT gateway's.

use super::registration::registered;
use super::*;
use crate::analysis::reach::Code;
use crate::aws::ec2::{AclRule, NetworkAclOutputs};

/// Where subnet `subnet` is associated: ACL id and whether it is the default.
fn acl_of(sim: &SimProvider, subnet: &str) -> (String, bool) {
    sim.peek(|c| {
        let (acl, _) = c.network_acls.association_of(subnet).expect("associated");
        (acl.id.clone(), acl.default)
    })
}

#[tokio::test]
async fn every_subnet_starts_on_its_vpcs_default_acl() {
    let sim = sim();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let (default, is_default) = acl_of(&sim, &subnet);
    assert!(is_default && default.starts_with("acl-"), "{default}");
    let rules = sim.peek(|c| c.network_acls[&default].clone());
    assert_eq!((rules.ingress.len(), rules.egress.len()), (1, 1));
    assert!(rules.ingress[0].allow && rules.ingress[0].rule_number == 100);
    assert_eq!(sim.resource_count(), 2, "the default ACL doesn't count");
    // Neither AWS nor the provider deletes a default ACL.
    let raw = sim.api("DeleteNetworkAcl", |c, _| c.delete_network_acl(&default));
    assert_eq!(code(raw), "InvalidParameterValue");
    let err = delete::<NetworkAcl>(&sim, "default", &default)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("cannot delete default network ACL"),
        "{err}"
    );
    assert_eq!(acl_of(&sim, &subnet), (default.clone(), true));
    // It goes with its VPC.
    delete::<Subnet>(&sim, "a", &subnet).await.unwrap();
    delete::<Vpc>(&sim, "main", &vpc).await.unwrap();
    assert!(sim.peek(|c| c.network_acls.is_empty()));
}

#[tokio::test]
async fn custom_acls_follow_aws_rules() {
    let sim = sim();
    let (vpc, a) = vpc_with_subnet(&sim).await;
    let (default, _) = acl_of(&sim, &a);
    let acl = NetworkAcl::new(VpcId::new(&vpc))
        .egress(AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0"))
        .ingress(AclRule::allow_tcp(100, 1024, 65535, "0.0.0.0/0"))
        .associate(SubnetId::new(&a));
    let r = try_create(&sim, "private", &acl).await.unwrap();
    let out: NetworkAclOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert_eq!(out.vpc_id.as_str(), vpc);
    assert_eq!(
        acl_of(&sim, &a),
        (r.id.clone(), false),
        "moved from the default"
    );
    let calls = sim.api_calls();
    assert_eq!(calls["CreateNetworkAcl"], 1);
    assert_eq!(calls["CreateNetworkAclEntry"], 2);
    assert_eq!(calls["ReplaceNetworkAclAssociation"], 1);
    assert!(calls["DescribeNetworkAcls"] >= 1);
    assert_eq!(sim.resource_count(), 3);

    // Two rules with one number in one direction: AWS refuses the second.
    let mut twice = acl.clone();
    twice.egress.push(AclRule::deny_all(100, "0.0.0.0/0"));
    let b = subnet(&sim, "b", &vpc, "10.0.2.0/24", "us-east-1b").await;
    twice.subnet_ids = vec![SubnetId::new(&b).into()];
    assert_eq!(
        refused(&sim, "twice", &twice).await,
        "NetworkAclEntryAlreadyExists"
    );
    // A subnet of another VPC can't be associated.
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let far = subnet(&sim, "far", &other, "10.1.0.0/24", "us-east-1a").await;
    let foreign = NetworkAcl::new(VpcId::new(&vpc)).associate(SubnetId::new(&far));
    assert_eq!(
        refused(&sim, "foreign", &foreign).await,
        "InvalidParameterValue"
    );
    // Failed creates rolled back, subnets where they were.
    assert_eq!(sim.resource_count(), 6);
    assert_eq!(acl_of(&sim, &b), (default.clone(), true));

    // AWS won't delete an ACL subnets use, nor a VPC with a custom ACL.
    let raw = sim.api("DeleteNetworkAcl", |c, _| c.delete_network_acl(&r.id));
    assert_eq!(code(raw), "DependencyViolation");
    let err = delete::<Vpc>(&sim, "main", &vpc).await.unwrap_err();
    assert!(err.message.contains("network ACLs"), "{err}");

    // Updates replace entries and associations in place.
    let changed = NetworkAcl::new(VpcId::new(&vpc))
        .egress(AclRule::allow_tcp(100, 443, 443, "10.0.0.0/8"))
        .egress(AclRule::allow_tcp(110, 80, 80, "0.0.0.0/0"))
        .associate(SubnetId::new(&b));
    update(&sim, "private", &r.id, &changed).await.unwrap();
    let calls = sim.api_calls();
    assert_eq!(calls["ReplaceNetworkAclEntry"], 1);
    assert_eq!(calls["DeleteNetworkAclEntry"], 1);
    // Two of the first create, three of the failed one, one now.
    assert_eq!(calls["CreateNetworkAclEntry"], 6);
    assert_eq!(
        acl_of(&sim, &a),
        (default.clone(), true),
        "back to the default"
    );
    assert_eq!(acl_of(&sim, &b), (r.id.clone(), false));
    let live = sim.peek(|c| c.network_acls[&r.id].clone());
    assert!(live.ingress.is_empty() && live.egress.len() == 2);

    // The provider's delete moves subnets back to the default ACL first.
    delete::<NetworkAcl>(&sim, "private", &r.id).await.unwrap();
    assert_eq!(acl_of(&sim, &b), (default, true));
    assert_eq!(read::<NetworkAcl>(&sim, "private", &r.id).await, None);
    delete::<NetworkAcl>(&sim, "private", &r.id).await.unwrap();
    for (name, id) in [("a", &a), ("b", &b)] {
        delete::<Subnet>(&sim, name, id).await.unwrap();
    }
    delete::<Subnet>(&sim, "far", &far).await.unwrap();
    delete::<Vpc>(&sim, "main", &vpc).await.unwrap();
    delete::<Vpc>(&sim, "other", &other).await.unwrap();
    assert_eq!(sim.resource_count(), 0);
    assert!(sim.peek(|c| c.network_acls.is_empty()));
}

/// An ACL that allows everything but what `rule` denies first.
fn allow_all_but(rule: AclRule, egress: bool) -> Acl {
    let all = AclRule::allow_all(200, "0.0.0.0/0");
    let (mut ingress, mut out) = (vec![all.clone()], vec![all]);
    if egress { &mut out } else { &mut ingress }.push(rule);
    Acl {
        ingress,
        egress: out,
    }
}

unregistered_tests! {
    an_acl_denying_outbound_https_stops_registration:
        Shape {
            private_acl: Some(allow_all_but(AclRule::deny_tcp(100, 443, 443, "0.0.0.0/0"), true)),
            ..Shape::default()
        },
        Code::AclRequest, ["outbound rule 100 denies"];
    an_acl_without_ephemeral_return_traffic_stops_registration:
        Shape {
            private_acl: Some(Acl {
                egress: vec![AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0")],
                // Return traffic arrives on 32768-60999, which this misses.
                ingress: vec![AclRule::allow_tcp(100, 1024, 32767, "0.0.0.0/0")],
            }),
            ..Shape::default()
        },
        Code::AclReturn, ["return traffic"];
}

#[tokio::test]
async fn correct_acls_on_both_tiers_let_instances_register() {
    let sim = sim();
    let shape = Shape {
        private_acl: Some(Acl {
            egress: vec![AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0")],
            ingress: vec![AclRule::allow_tcp(100, 1024, 65535, "0.0.0.0/0")],
        }),
        // The NAT gateways' subnets: HTTPS in from the VPC and out to the
        // internet, return traffic both ways.
        public_acl: Some(Acl {
            ingress: vec![
                AclRule::allow_tcp(100, 443, 443, "10.0.0.0/16"),
                AclRule::allow_tcp(110, 1024, 65535, "0.0.0.0/0"),
            ],
            egress: vec![
                AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0"),
                AclRule::allow_tcp(110, 1024, 65535, "10.0.0.0/16"),
            ],
        }),
        ..Shape::default()
    };
    let stack = deploy(&sim, &shape).await;
    assert_eq!(registered(&sim, &stack.cluster).await, 2);
    assert!(sim.instances().iter().all(|i| i.agent_connected));
    let model = sim.network_model();
    assert!(!model.network_acls[stack.id::<NetworkAcl>("public")].default);
    for (_, path) in sim.instance_reachability() {
        let hops = path.expect("reachable");
        assert!(hops.iter().any(|h| h.contains("NAT gateway")), "{hops:?}");
    }
    stack.destroy(&sim).await;
    assert_eq!(sim.resource_count(), 0, "{:?}", sim.resource_counts());
}
