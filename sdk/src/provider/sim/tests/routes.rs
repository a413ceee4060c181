//! Routes and which table is main: the main route table association's round
//! trip (create, update to another table, delete restores the original)
//! and its error codes, and the error codes of standalone routes
//! (CreateRoute, ReplaceRoute, DeleteRoute) on any table.

use super::*;
use crate::aws::ec2::{
    MainRouteTableAssociation, MainRouteTableAssociationOutputs, Route, RouteTarget,
};
use crate::provider::sim::routing::Target;
use crate::resource::{PrefixListId, RouteTableId};

fn main_outputs(outputs: Outputs) -> MainRouteTableAssociationOutputs {
    serde_json::from_value(Value::Object(outputs)).expect("main association outputs")
}

/// The VPC's main table and its main association id, as the cloud has them.
fn main_now(sim: &SimProvider, vpc: &str) -> (String, String) {
    sim.peek(|c| {
        let (t, a) = c.main_association_of(vpc).expect("a main table");
        (t.id.clone(), a.to_string())
    })
}

/// The table the model routes subnet `subnet` through.
fn table_of(sim: &SimProvider, subnet: &str) -> Option<String> {
    let model = sim.network_model();
    model.route_table_of(subnet).map(|(id, _)| id.clone())
}

#[tokio::test]
async fn the_main_association_moves_to_a_declared_table_and_back() {
    let sim = sim();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let (original, first_assoc) = main_now(&sim, &vpc);
    assert!(first_assoc.starts_with("rtbassoc-"), "{first_assoc}");
    assert_eq!(
        sim.peek(|c| c.vpcs[&vpc].main_route_table_id.clone()),
        original
    );
    let a = create(&sim, "a", &RouteTable::new(VpcId::new(&vpc))).await;
    let b = create(&sim, "b", &RouteTable::new(VpcId::new(&vpc))).await;
    assert_eq!(table_of(&sim, &subnet), Some(original.clone()));

    let to =
        |table: &str| MainRouteTableAssociation::new(VpcId::new(&vpc), RouteTableId::new(table));
    let r = try_create(&sim, "main", &to(&a)).await.unwrap();
    let out = main_outputs(r.outputs);
    assert_eq!(r.id, format!("{vpc}_{original}"));
    assert_eq!(out.id.as_str(), r.id);
    assert_eq!(out.original_route_table_id.as_str(), original);
    assert_eq!(out.route_table_id.as_str(), a);
    assert_eq!(
        main_now(&sim, &vpc),
        (a.clone(), out.association_id.to_string())
    );
    assert_ne!(
        out.association_id.as_str(),
        first_assoc,
        "a new association id"
    );
    // The subnet without an association now routes through `a`; the model
    // has exactly one main table in the VPC.
    assert_eq!(table_of(&sim, &subnet), Some(a.clone()));
    // A read of the VPC reports the main table now, as AWS does.
    let vpc_now = read::<Vpc>(&sim, "main", &vpc).await.unwrap();
    assert_eq!(vpc_now["main_route_table_id"], a.as_str());
    let model = sim.network_model();
    assert!(model.route_tables[&a].main);
    assert!(!model.route_tables[&original].main);
    // A main table can't be deleted; the original one no longer is main.
    let refuse = |id: &str| sim.api("DeleteRouteTable", |c, _| c.delete_route_table(id));
    assert_eq!(code(refuse(&a)), "DependencyViolation");
    // The main association can be replaced, not disassociated.
    let assoc = out.association_id.to_string();
    let err = sim
        .api("DisassociateRouteTable", |c, _| {
            c.disassociate_route_table(&assoc)
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    assert!(
        err.message.contains("main route table association"),
        "{err}"
    );

    // Update: the association moves again.
    let moved = main_outputs(update(&sim, "main", &r.id, &to(&b)).await.unwrap());
    assert_eq!(moved.route_table_id.as_str(), b);
    assert_eq!(moved.original_route_table_id.as_str(), original);
    assert_ne!(moved.association_id, out.association_id);
    assert_eq!(table_of(&sim, &subnet), Some(b.clone()));
    delete::<RouteTable>(&sim, "a", &a).await.unwrap();
    assert_eq!(sim.api_calls()["ReplaceRouteTableAssociation"], 2);

    // A change outside keel shows in a read.
    let (_, now_assoc) = main_now(&sim, &vpc);
    sim.api("ReplaceRouteTableAssociation", |c, _| {
        c.replace_route_table_association(&now_assoc, &original)
    })
    .unwrap();
    let read_back = main_outputs(
        read::<MainRouteTableAssociation>(&sim, "main", &r.id)
            .await
            .unwrap(),
    );
    assert_eq!(read_back.route_table_id.as_str(), original, "drift");
    update(&sim, "main", &r.id, &to(&b)).await.unwrap();
    assert_eq!(main_now(&sim, &vpc).0, b);

    // Delete: the original table is main again, and `b` can go.
    assert_eq!(code(refuse(&b)), "DependencyViolation");
    delete::<MainRouteTableAssociation>(&sim, "main", &r.id)
        .await
        .unwrap();
    assert_eq!(main_now(&sim, &vpc).0, original);
    assert_eq!(table_of(&sim, &subnet), Some(original.clone()));
    assert_eq!(
        read::<MainRouteTableAssociation>(&sim, "main", &r.id).await,
        None
    );
    delete::<RouteTable>(&sim, "b", &b).await.unwrap();
    // Deleting it again finds nothing to do.
    delete::<MainRouteTableAssociation>(&sim, "main", &r.id)
        .await
        .unwrap();
    delete::<Subnet>(&sim, "a", &subnet).await.unwrap();
    delete::<Vpc>(&sim, "main", &vpc).await.unwrap();
    assert_eq!(sim.resource_count(), 0);
}

#[tokio::test]
async fn a_main_association_keeps_to_its_vpc_and_leaves_a_deleted_original_alone() {
    let sim = sim();
    let (vpc, _) = vpc_with_subnet(&sim).await;
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let foreign = create(&sim, "far", &RouteTable::new(VpcId::new(&other))).await;
    let (original, assoc) = main_now(&sim, &vpc);
    let err = try_create(
        &sim,
        "main",
        &MainRouteTableAssociation::new(VpcId::new(&vpc), RouteTableId::new(&foreign)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    assert!(
        err.message.contains("belong to different networks"),
        "{err}"
    );
    assert!(err.message.contains(&foreign), "{err}");
    assert_eq!(main_now(&sim, &vpc), (original.clone(), assoc.clone()));
    assert_eq!(sim.peek(|c| c.main_route_table_associations.len()), 0);
    // ReplaceRouteTableAssociation with an association id nobody has.
    let missing = sim.api("ReplaceRouteTableAssociation", |c, _| {
        c.replace_route_table_association("rtbassoc-00000000000000000", &original)
    });
    assert_eq!(code(missing), "InvalidAssociationID.NotFound");
    let unknown_table = sim.api("ReplaceRouteTableAssociation", |c, _| {
        c.replace_route_table_association(&assoc, "rtb-00000000000000000")
    });
    assert_eq!(code(unknown_table), "InvalidRouteTableID.NotFound");
    let no_vpc = MainRouteTableAssociation::new(
        VpcId::new("vpc-00000000000000000"),
        RouteTableId::new(&original),
    );
    assert_eq!(
        refused(&sim, "main", &no_vpc).await,
        "InvalidVpcID.NotFound"
    );

    // Once `own` is main, the original table may be deleted out of band;
    // deleting the association then leaves `own` main.
    let own = create(&sim, "own", &RouteTable::new(VpcId::new(&vpc))).await;
    let main = MainRouteTableAssociation::new(VpcId::new(&vpc), RouteTableId::new(&own));
    let id = create(&sim, "main", &main).await;
    sim.api("DeleteRouteTable", |c, _| c.delete_route_table(&original))
        .unwrap();
    delete::<MainRouteTableAssociation>(&sim, "main", &id)
        .await
        .unwrap();
    assert_eq!(main_now(&sim, &vpc).0, own);
    assert_eq!(sim.peek(|c| c.main_route_table_associations.len()), 0);
}

#[tokio::test]
async fn a_subnet_association_is_replaced_within_its_vpc() {
    let sim = sim();
    let (vpc, subnet) = vpc_with_subnet(&sim).await;
    let a = RouteTable::new(VpcId::new(&vpc)).associate(SubnetId::new(&subnet));
    let a = try_create(&sim, "a", &a).await.unwrap();
    let assoc = a.outputs["association_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let b = create(&sim, "b", &RouteTable::new(VpcId::new(&vpc))).await;
    let new = sim
        .api("ReplaceRouteTableAssociation", |c, _| {
            c.replace_route_table_association(&assoc, &b)
        })
        .unwrap();
    assert_ne!(new, assoc);
    assert_eq!(table_of(&sim, &subnet), Some(b.clone()));
    // Asking again for the table that has it answers with the same id.
    let again = sim.api("ReplaceRouteTableAssociation", |c, _| {
        c.replace_route_table_association(&new, &b)
    });
    assert_eq!(again.unwrap(), new);
    // The old id is gone.
    let stale = sim.api("DisassociateRouteTable", |c, _| {
        c.disassociate_route_table(&assoc)
    });
    assert_eq!(code(stale), "InvalidAssociationID.NotFound");
}

#[tokio::test]
async fn routes_are_refused_with_aws_codes() {
    let sim = sim();
    let (vpc, public) = vpc_with_subnet(&sim).await;
    let table = create(&sim, "rt", &RouteTable::new(VpcId::new(&vpc))).await;
    let rt = || RouteTableId::new(&table);
    let igw = create(&sim, "igw", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    let to_igw = || RouteTarget::internet_gateway(InternetGatewayId::new(&igw));

    let route = Route::new(rt(), "0.0.0.0/0", to_igw());
    let id = create(&sim, "default", &route).await;
    assert_eq!(id, format!("{table}_0.0.0.0/0"));
    // RouteAlreadyExists: the same destination again, and the local route.
    assert_eq!(refused(&sim, "again", &route).await, "RouteAlreadyExists");
    let local = Route::new(rt(), "10.0.0.0/16", to_igw());
    let err = try_create(&sim, "local", &local).await.unwrap_err();
    assert_eq!(err.code(), "RouteAlreadyExists");
    assert!(err.message.contains("local route"), "{err}");
    // The VPC's main table takes routes too.
    let main = sim.peek(|c| c.vpcs[&vpc].main_route_table_id.clone());
    let on_main = Route::new(RouteTableId::new(&main), "0.0.0.0/0", to_igw());
    create(&sim, "on-main", &on_main).await;

    // Targets: a NAT gateway that doesn't exist, gateways of another VPC.
    let nat = |id: &str| RouteTarget::nat_gateway(NatGatewayId::new(id));
    let missing = Route::new(rt(), "10.9.0.0/16", nat("nat-00000000000000000"));
    assert_eq!(
        refused(&sim, "x", &missing).await,
        "InvalidNatGatewayID.NotFound"
    );
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let far_subnet = subnet(&sim, "far", &other, "10.1.1.0/24", "us-east-1a").await;
    let eip = create(&sim, "ip", &ElasticIp::new()).await;
    let far_nat = NatGateway::public(SubnetId::new(&far_subnet), AllocationId::new(&eip));
    let far_nat = create(&sim, "far-nat", &far_nat).await;
    let far_igw = create(
        &sim,
        "far-igw",
        &InternetGateway::new().vpc(VpcId::new(&other)),
    )
    .await;
    for target in [
        nat(&far_nat),
        RouteTarget::internet_gateway(InternetGatewayId::new(&far_igw)),
    ] {
        let far = Route::new(rt(), "10.9.0.0/16", target);
        let err = try_create(&sim, "x", &far).await.unwrap_err();
        assert_eq!(err.code(), "InvalidParameterValue");
        assert!(
            err.message.contains("belong to different networks"),
            "{err}"
        );
        assert!(err.message.contains(&table), "{err}");
    }
    // A prefix list AWS doesn't have; AWS's S3 list is fine.
    let unknown = Route::to_prefix_list(rt(), PrefixListId::new("pl-00000000000000000"), to_igw());
    assert_eq!(
        refused(&sim, "x", &unknown).await,
        "InvalidPrefixListID.NotFound"
    );
    let s3 = Route::to_prefix_list(rt(), PrefixListId::new("pl-63a5400a"), to_igw());
    assert_eq!(
        create(&sim, "s3", &s3).await,
        format!("{table}_pl-63a5400a")
    );
    // Failed creates left no route behind.
    let routes = sim.peek(|c| c.route_tables[&table].routes.len());
    assert_eq!(routes, 2);

    // A gateway endpoint is associated with a table, never a route target.
    let ep = VpcEndpoint::gateway(VpcId::new(&vpc), "com.amazonaws.us-east-1.s3");
    let ep = create(&sim, "s3-endpoint", &ep).await;
    let err = sim
        .api("CreateRoute", |c, _| {
            c.put_route(
                &table,
                "10.9.0.0/16",
                Target::GatewayEndpoint(ep.clone()),
                false,
                None,
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    assert!(err.message.contains("not a route target"), "{err}");

    // A subnet associated twice by one table.
    let twice = RouteTable::new(VpcId::new(&vpc))
        .associate(SubnetId::new(&public))
        .associate(SubnetId::new(&public));
    assert_eq!(
        refused(&sim, "twice", &twice).await,
        "Resource.AlreadyAssociated"
    );
}

#[tokio::test]
async fn replacing_or_deleting_a_route_that_is_gone_is_invalid_route_not_found() {
    let sim = sim();
    let (vpc, _) = vpc_with_subnet(&sim).await;
    let table = create(&sim, "rt", &RouteTable::new(VpcId::new(&vpc))).await;
    let igw = create(&sim, "igw", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    let eip = create(&sim, "ip", &ElasticIp::new()).await;
    let public = sim.peek(|c| c.subnets.keys().next().cloned()).unwrap();
    let nat = NatGateway::public(SubnetId::new(&public), AllocationId::new(&eip));
    let nat = create(&sim, "nat", &nat).await;
    let route = Route::new(
        RouteTableId::new(&table),
        "0.0.0.0/0",
        RouteTarget::internet_gateway(InternetGatewayId::new(&igw)),
    );
    let id = create(&sim, "default", &route).await;
    // ReplaceRoute in place when the target changes.
    let to_nat = Route {
        target: RouteTarget::nat_gateway(NatGatewayId::new(&nat)),
        ..route.clone()
    };
    let out = update(&sim, "default", &id, &to_nat).await.unwrap();
    assert_eq!(out["state"], "active");
    assert_eq!(sim.api_calls()["ReplaceRoute"], 1);

    // The route deleted outside keel: a read finds nothing, ReplaceRoute
    // and DeleteRoute fail as AWS does.
    let dest = sim.peek(|c| c.route_tables[&table].routes[0].destination.clone());
    sim.api("DeleteRoute", |c, _| c.delete_route(&table, &dest))
        .unwrap();
    assert_eq!(read::<Route>(&sim, "default", &id).await, None);
    let back = update(&sim, "default", &id, &route).await;
    assert_eq!(code(back), "InvalidRoute.NotFound");
    let raw_delete = sim.api("DeleteRoute", |c, _| c.delete_route(&table, &dest));
    assert_eq!(code(raw_delete), "InvalidRoute.NotFound");
    let raw_replace = sim.api("ReplaceRoute", |c, _| {
        c.put_route(
            &table,
            "0.0.0.0/0",
            Target::InternetGateway(igw.clone()),
            true,
            None,
        )
    });
    assert_eq!(code(raw_replace), "InvalidRoute.NotFound");
    // keel's delete of a route already gone succeeds.
    delete::<Route>(&sim, "default", &id).await.unwrap();
}

#[test]
fn a_cloud_saved_before_main_associations_had_ids_gets_them() {
    let sim = sim();
    let (vpc, made) = sim.peek_mut(|c| {
        let vpc = c.create_vpc("10.0.0.0/16", Tags::new()).unwrap();
        let made = c.vpcs[&vpc].main_route_table_id.clone();
        // What an older cloud file loads as: no main association, not built in.
        let t = c.route_tables.get_mut(&made).unwrap();
        (t.main_association, t.made_with_vpc) = (None, false);
        c.backfill_main_associations();
        (vpc, made)
    });
    let (main, assoc) = main_now(&sim, &vpc);
    assert_eq!(main, made);
    assert!(assoc.starts_with("rtbassoc-"), "{assoc}");
    assert!(sim.peek(|c| c.route_tables[&made].made_with_vpc));
    assert_eq!(sim.resource_count(), 1, "the VPC only");
    // Backfilling again changes nothing.
    sim.peek_mut(|c| c.backfill_main_associations());
    assert_eq!(main_now(&sim, &vpc), (made, assoc));
}
