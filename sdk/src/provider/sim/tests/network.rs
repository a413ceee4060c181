//! EC2 networking rules: VPC and subnet CIDRs, dependency violations,
//! gateway attachment, routes and associations, Elastic IPs, NAT gateways
//! and security groups, each with AWS's error code.

use super::*;
use crate::aws::ec2::{
    AvailabilityMode, NatGatewayOutputs, RouteEntry, RouteTableOutputs, RouteTarget, VpcOutputs,
};

fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            hex.len() == 17
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
}

#[tokio::test]
async fn a_vpc_comes_with_a_main_route_table_and_default_security_group() {
    let sim = sim();
    let r = try_create(&sim, "main", &Vpc::new("10.0.0.0/16"))
        .await
        .unwrap();
    let out: VpcOutputs = serde_json::from_value(Value::Object(r.outputs.clone())).unwrap();
    assert!(is_aws_id(&r.id, "vpc"), "{}", r.id);
    assert!(is_aws_id(out.main_route_table_id.as_str(), "rtb"));
    assert!(is_aws_id(out.default_security_group_id.as_str(), "sg"));
    assert_eq!(
        out.arn.as_str(),
        format!("arn:aws:ec2:us-east-1:123456789012:vpc/{}", r.id)
    );
    // Exactly the outputs struct's fields.
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        Value::Object(r.outputs)
    );
    // The main table and default group don't count as resources.
    assert_eq!(sim.resource_count(), 1);
    delete::<Vpc>(&sim, "main", &r.id).await.unwrap();
    assert_eq!(sim.resource_count(), 0);
    assert!(sim.peek(|c| c.route_tables.is_empty() && c.security_groups.is_empty()));
    // Deleting what is gone succeeds.
    delete::<Vpc>(&sim, "main", &r.id).await.unwrap();
    assert_eq!(read::<Vpc>(&sim, "main", &r.id).await, None);
}

#[tokio::test]
async fn vpc_blocks_follow_aws_rules() {
    let sim = sim();
    assert_eq!(
        refused(&sim, "v", &Vpc::new("10.0.0.0/8")).await,
        "InvalidVpc.Range"
    );
    assert_eq!(
        refused(&sim, "v", &Vpc::new("10.0.0.0/29")).await,
        "InvalidVpc.Range"
    );
    assert_eq!(
        refused(&sim, "v", &Vpc::new("ten/16")).await,
        "InvalidParameterValue"
    );
    let id = create(&sim, "v", &Vpc::new("10.0.0.0/16")).await;
    let updated = dns_vpc();
    update(&sim, "v", &id, &updated).await.unwrap();
    assert!(sim.peek(|c| c.vpcs[&id].enable_dns_hostnames));
}

#[tokio::test]
async fn subnet_blocks_must_fit_the_vpc_and_not_overlap() {
    let sim = sim();
    let (vpc, _a) = vpc_with_subnet(&sim).await;
    let subnet = |block: &str, az: &str| Subnet::new(VpcId::new(&vpc), block, az);
    let outside = try_create(&sim, "x", &subnet("10.1.0.0/24", "us-east-1a")).await;
    assert_eq!(code(outside), "InvalidSubnet.Range");
    let tiny = try_create(&sim, "x", &subnet("10.0.9.0/29", "us-east-1a")).await;
    assert_eq!(code(tiny), "InvalidSubnet.Range");
    let overlap = try_create(&sim, "x", &subnet("10.0.1.128/25", "us-east-1b")).await;
    assert_eq!(code(overlap), "InvalidSubnet.Conflict");
    let zone = try_create(&sim, "x", &subnet("10.0.2.0/24", "us-west-2a")).await;
    assert_eq!(code(zone), "InvalidParameterValue");
    let no_vpc = Subnet::new(
        VpcId::new("vpc-00000000000000000"),
        "10.0.2.0/24",
        "us-east-1a",
    );
    assert_eq!(refused(&sim, "x", &no_vpc).await, "InvalidVpcID.NotFound");
}

#[tokio::test]
async fn a_vpc_with_subnets_cannot_be_deleted() {
    let sim = sim();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let err = delete::<Vpc>(&sim, "main", &vpc).await.unwrap_err();
    assert_eq!(err.code(), "DependencyViolation");
    assert!(err.message.contains(&subnet), "{}", err.message);
    delete::<Subnet>(&sim, "a", &subnet).await.unwrap();
    delete::<Vpc>(&sim, "main", &vpc).await.unwrap();
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn internet_gateways_attach_one_per_vpc_and_detach_before_delete() {
    let sim = sim();
    let (vpc, _) = vpc_with_subnet(&sim).await;
    let igw = create(&sim, "igw", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    let second = try_create(&sim, "igw2", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    assert_eq!(code(second), "Resource.AlreadyAssociated");
    // The failed create rolled back its gateway.
    assert_eq!(sim.peek(|c| c.internet_gateways.len()), 1);
    // AWS refuses to delete an attached gateway…
    let raw = sim.api("DeleteInternetGateway", |c, _| {
        c.delete_internet_gateway(&igw)
    });
    assert_eq!(code(raw), "DependencyViolation");
    // …and so does DeleteVpc while it is attached.
    assert_eq!(
        code(delete::<Vpc>(&sim, "main", &vpc).await),
        "DependencyViolation"
    );
    // Moving it to another VPC detaches and attaches.
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let moved = update(
        &sim,
        "igw",
        &igw,
        &InternetGateway::new().vpc(VpcId::new(&other)),
    )
    .await
    .unwrap();
    assert_eq!(moved["vpc_id"], other.as_str());
    // The provider's delete detaches first.
    delete::<InternetGateway>(&sim, "igw", &igw).await.unwrap();
    assert_eq!(sim.api_calls()["DetachInternetGateway"], 2);
}

#[tokio::test]
async fn routes_must_target_gateways_of_the_same_vpc() {
    let sim = sim();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let foreign = create(&sim, "igw", &InternetGateway::new().vpc(VpcId::new(&other))).await;
    let before = sim.resource_count();
    let rt = |target: &str| {
        RouteTable::new(VpcId::new(&vpc))
            .route_to_internet_gateway("0.0.0.0/0", InternetGatewayId::new(target))
    };
    let err = try_create(&sim, "rt", &rt(&foreign)).await.unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    assert!(
        err.message.contains("belong to different networks"),
        "{}",
        err.message
    );
    assert!(err.message.contains(&foreign), "{}", err.message);
    let missing = try_create(&sim, "rt", &rt("igw-00000000000000000")).await;
    assert_eq!(code(missing), "InvalidInternetGatewayID.NotFound");
    let nat = RouteTable::new(VpcId::new(&vpc))
        .route_to_nat_gateway("0.0.0.0/0", NatGatewayId::new("nat-00000000000000000"));
    assert_eq!(
        refused(&sim, "rt", &nat).await,
        "InvalidNatGatewayID.NotFound"
    );
    // Failed creates leave no table behind.
    assert_eq!(sim.resource_count(), before);

    let local_ok =
        RouteTable::new(VpcId::new(&vpc)).route(RouteEntry::new("10.0.0.0/16", RouteTarget::Local));
    create(&sim, "local", &local_ok).await;
    let local_bad =
        RouteTable::new(VpcId::new(&vpc)).route(RouteEntry::new("10.9.0.0/16", RouteTarget::Local));
    assert_eq!(
        refused(&sim, "local2", &local_bad).await,
        "InvalidParameterValue"
    );

    let igw = create(&sim, "own", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    let twice = rt(&igw).route_to_internet_gateway("0.0.0.0/0", InternetGatewayId::new(&igw));
    assert_eq!(refused(&sim, "rt", &twice).await, "RouteAlreadyExists");
    let table = create(&sim, "rt", &rt(&igw).associate(SubnetId::new(&subnet))).await;
    let other_table = RouteTable::new(VpcId::new(&vpc)).associate(SubnetId::new(&subnet));
    assert_eq!(
        refused(&sim, "rt2", &other_table).await,
        "Resource.AlreadyAssociated"
    );
    assert_eq!(
        sim.network_model()
            .route_table_of(&subnet)
            .map(|(id, _)| id.clone()),
        Some(table)
    );
}

#[tokio::test]
async fn route_table_updates_keep_unchanged_associations() {
    let sim = sim();
    let (vpc, a) = vpc_with_subnet(&sim).await;
    let b = subnet(&sim, "b", &vpc, "10.0.2.0/24", "us-east-1b").await;
    let c = subnet(&sim, "c", &vpc, "10.0.3.0/24", "us-east-1c").await;
    let igw = create(&sim, "igw", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    let table = RouteTable::new(VpcId::new(&vpc))
        .associate(SubnetId::new(&a))
        .associate(SubnetId::new(&b));
    let r = try_create(&sim, "rt", &table).await.unwrap();
    let first: RouteTableOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    let table = RouteTable::new(VpcId::new(&vpc))
        .route_to_internet_gateway("0.0.0.0/0", InternetGatewayId::new(&igw))
        .associate(SubnetId::new(&c))
        .associate(SubnetId::new(&a));
    let out = update(&sim, "rt", &r.id, &table).await.unwrap();
    let second: RouteTableOutputs = serde_json::from_value(Value::Object(out)).unwrap();
    assert_eq!(second.association_ids.len(), 2);
    assert_eq!(
        second.association_ids[1], first.association_ids[0],
        "a's association is kept"
    );
    assert_ne!(second.association_ids[0], first.association_ids[1]);
    let calls = sim.api_calls();
    assert_eq!(calls["CreateRoute"], 1);
    assert_eq!(calls["DisassociateRouteTable"], 1);
    assert_eq!(calls["AssociateRouteTable"], 3);
    // The main table can't be deleted; this one can, associations and all.
    let main = sim.peek(|c| c.vpcs[&vpc].main_route_table_id.clone());
    assert_eq!(
        code(sim.api("DeleteRouteTable", |c, _| c.delete_route_table(&main))),
        "DependencyViolation"
    );
    delete::<RouteTable>(&sim, "rt", &r.id).await.unwrap();
}

#[tokio::test]
async fn nat_gateways_hold_their_elastic_ip_and_subnet() {
    let sim = sim();
    let (_vpc, subnet) = vpc_with_subnet(&sim).await;
    let eip = try_create(&sim, "ip", &ElasticIp::new()).await.unwrap();
    let nat = NatGateway::public(SubnetId::new(&subnet), AllocationId::new(&eip.id));
    let r = try_create(&sim, "nat", &nat).await.unwrap();
    let out: NatGatewayOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert_eq!(out.state, "available");
    assert_eq!(out.private_ip.as_deref(), Some("10.0.1.4"));
    assert_eq!(out.public_ip.as_deref(), eip.outputs["public_ip"].as_str());
    assert!(is_aws_id(&r.id, "nat"));

    assert_eq!(
        refused(&sim, "nat2", &nat).await,
        "Resource.AlreadyAssociated"
    );
    let missing = NatGateway::public(
        SubnetId::new(&subnet),
        AllocationId::new("eipalloc-00000000000000000"),
    );
    assert_eq!(
        refused(&sim, "nat2", &missing).await,
        "InvalidAllocationID.NotFound"
    );
    let nowhere = NatGateway::public(
        SubnetId::new("subnet-00000000000000000"),
        AllocationId::new(&eip.id),
    );
    assert_eq!(
        refused(&sim, "nat2", &nowhere).await,
        "InvalidSubnetID.NotFound"
    );
    assert_eq!(
        code(delete::<ElasticIp>(&sim, "ip", &eip.id).await),
        "InvalidIPAddress.InUse"
    );
    assert_eq!(
        code(delete::<Subnet>(&sim, "a", &subnet).await),
        "DependencyViolation"
    );

    delete::<NatGateway>(&sim, "nat", &r.id).await.unwrap();
    assert_eq!(read::<NatGateway>(&sim, "nat", &r.id).await, None);
    delete::<ElasticIp>(&sim, "ip", &eip.id).await.unwrap();
    delete::<Subnet>(&sim, "a", &subnet).await.unwrap();
}

#[tokio::test]
async fn security_groups_are_unique_per_vpc_and_guard_their_references() {
    let sim = sim();
    let (vpc, _) = vpc_with_subnet(&sim).await;
    let web = SecurityGroup::new(VpcId::new(&vpc), "web").name("web");
    let web_id = create(&sim, "web", &web).await;
    assert!(is_aws_id(&web_id, "sg"));
    assert_eq!(refused(&sim, "web2", &web).await, "InvalidGroup.Duplicate");
    let dangling = SecurityGroup::new(VpcId::new(&vpc), "db")
        .ingress(Rule::tcp(5432).group(SecurityGroupId::new("sg-00000000000000000")));
    assert_eq!(
        refused(&sim, "db", &dangling).await,
        "InvalidGroup.NotFound"
    );
    let db = SecurityGroup::new(VpcId::new(&vpc), "db")
        .ingress(Rule::tcp(5432).group(SecurityGroupId::new(&web_id)));
    let db_id = create(&sim, "db", &db).await;
    let name = sim.peek(|c| c.security_groups[&db_id].name.clone());
    assert!(
        name.starts_with("db-") && name.len() == 10,
        "auto-named: {name}"
    );
    assert_eq!(
        code(delete::<SecurityGroup>(&sim, "web", &web_id).await),
        "DependencyViolation"
    );

    // Rules change in place: revoke the default egress, allow HTTPS only.
    let db2 = db
        .clone()
        .revoke_default_egress()
        .egress(Rule::tcp(443).cidr("0.0.0.0/0"));
    update(&sim, "db", &db_id, &db2).await.unwrap();
    let egress = sim.peek(|c| c.security_groups[&db_id].egress.clone());
    assert_eq!(egress.len(), 1);
    assert_eq!(
        (egress[0].protocol.as_str(), egress[0].from_port),
        ("tcp", 443)
    );
    delete::<SecurityGroup>(&sim, "db", &db_id).await.unwrap();
    delete::<SecurityGroup>(&sim, "web", &web_id).await.unwrap();
}

/// The group's egress as the simulator holds it: (protocol, from port, peer).
fn egress_of(sim: &SimProvider, id: &str) -> Vec<(String, u16, String)> {
    let mut rules: Vec<_> = sim.peek(|c| {
        c.security_groups[id]
            .egress
            .iter()
            .map(|p| (p.protocol.clone(), p.from_port, format!("{:?}", p.peer)))
            .collect()
    });
    rules.sort();
    rules
}

#[tokio::test]
async fn declared_egress_replaces_the_default_rule_and_none_keeps_it() {
    let sim = sim();
    let (vpc, _) = vpc_with_subnet(&sim).await;
    let vpc = VpcId::new(&vpc);
    let all = ("-1".to_string(), 0, "Cidr(0.0.0.0/0)".to_string());
    let https = ("tcp".to_string(), 443, "Cidr(0.0.0.0/0)".to_string());

    // No egress declared: AWS's default stays.
    let open_id = create(&sim, "open", &SecurityGroup::new(vpc.clone(), "open")).await;
    assert_eq!(egress_of(&sim, &open_id), vec![all.clone()]);

    // Egress declared, no revoke call: only what is declared.
    let https_only =
        SecurityGroup::new(vpc.clone(), "hosts").egress(Rule::tcp(443).cidr("0.0.0.0/0"));
    let id = create(&sim, "hosts", &https_only).await;
    assert_eq!(egress_of(&sim, &id), vec![https.clone()]);

    // Everything, said explicitly, next to a declared rule.
    let both = https_only.clone().allow_all_egress();
    update(&sim, "hosts", &id, &both).await.unwrap();
    assert_eq!(egress_of(&sim, &id), vec![all.clone(), https.clone()]);

    // State saved when egress was added to the default: the default rule
    // stands until the group is updated to the declared rules.
    let mut legacy = https_only.clone();
    legacy.revoke_default_egress = false;
    update(&sim, "hosts", &id, &legacy).await.unwrap();
    assert_eq!(egress_of(&sim, &id), vec![all.clone(), https.clone()]);
    update(&sim, "hosts", &id, &https_only).await.unwrap();
    assert_eq!(egress_of(&sim, &id), vec![https]);

    // Nothing declared and the default revoked: no outbound at all.
    let closed = SecurityGroup::new(vpc, "closed").revoke_default_egress();
    let closed_id = create(&sim, "closed", &closed).await;
    assert!(egress_of(&sim, &closed_id).is_empty());
    for (name, id) in [("open", open_id), ("hosts", id), ("closed", closed_id)] {
        delete::<SecurityGroup>(&sim, name, &id).await.unwrap();
    }
}

#[tokio::test]
async fn a_regional_nat_gateway_is_made_for_a_vpc_in_no_subnet() {
    let sim = sim();
    let (vpc, _) = vpc_with_subnet(&sim).await;
    let eip = create(&sim, "eip", &ElasticIp::new()).await;
    let nat = create(&sim, "regional", &NatGateway::regional(VpcId::new(&vpc))).await;
    let rec = sim.peek(|c| c.nat_gateways[&nat].clone());
    assert_eq!(rec.availability_mode, AvailabilityMode::Regional);
    assert_eq!((rec.vpc_id.as_str(), rec.subnet_id), (vpc.as_str(), None));
    let out: NatGatewayOutputs = serde_json::from_value(Value::Object(
        read::<NatGateway>(&sim, "regional", &nat).await.unwrap(),
    ))
    .unwrap();
    assert_eq!((out.subnet_id, out.private_ip), (None, None));

    // Private tables of any zone route to it.
    let table = RouteTable::new(VpcId::new(&vpc))
        .route_to_nat_gateway("0.0.0.0/0", NatGatewayId::new(&nat));
    create(&sim, "private", &table).await;

    // An Elastic IP it is given is its own, as with a zonal gateway.
    let second = NatGateway::regional(VpcId::new(&vpc)).allocation_id(AllocationId::new(&eip));
    create(&sim, "second", &second).await;
    let third = NatGateway::regional(VpcId::new(&vpc)).allocation_id(AllocationId::new(&eip));
    assert_eq!(
        refused(&sim, "third", &third).await,
        "Resource.AlreadyAssociated"
    );
    let nowhere = NatGateway::regional(VpcId::new("vpc-00000000000000000"));
    assert_eq!(
        refused(&sim, "nowhere", &nowhere).await,
        "InvalidVpcID.NotFound"
    );
}
