//! Route tables on EC2: the table, its routes (local is implicit) and its
//! subnet associations. Updates compare against what AWS reports, so a
//! declared route changed or deleted out of band is put back; a table
//! deletes only the routes it declared before and no longer does, so routes
//! of standalone `Route` resources and gateway endpoints stay. Reads observe
//! the declared routes, the associated subnets (recorded order kept for what
//! is still there), the VPC and the tags. Association ids are output in
//! subnet-id order. Also [`Via`], a route's target as EC2 names it, shared
//! with the standalone route's handler.

use super::resource::{
    AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, keep_order, must_live, send,
};
use super::util::{sync_tags, tag_specs, tags_of, val, vals};
use crate::aws::ec2::{RouteEntry, RouteTable, RouteTableOutputs, RouteTarget};
use crate::provider::ProviderError;
use crate::resource::{
    Input, InternetGatewayId, NatGatewayId, RouteTableId, SubnetId, Tags, TransitGatewayId, VpcId,
    VpcPeeringConnectionId, VpnGatewayId,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use std::collections::BTreeMap;

/// Where a route goes, as keel and AWS both can name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    Gateway(String),
    Nat(String),
    Transit(String),
    Peering(String),
    Vpn(String),
}

impl Via {
    /// The declared target (`None`: local, unresolved, or one EC2 refuses
    /// for IPv4, which validation stops first).
    pub(crate) fn of(target: &RouteTarget) -> Option<Self> {
        Some(match target {
            RouteTarget::Local | RouteTarget::EgressOnlyInternetGateway(_) => return None,
            RouteTarget::InternetGateway(g) => Via::Gateway(g.value()?.to_string()),
            RouteTarget::NatGateway(n) => Via::Nat(n.value()?.to_string()),
            RouteTarget::TransitGateway(t) => Via::Transit(t.value()?.to_string()),
            RouteTarget::VpcPeeringConnection(p) => Via::Peering(p.value()?.to_string()),
            RouteTarget::VpnGateway(v) => Via::Vpn(v.value()?.to_string()),
        })
    }

    /// The target of a described route, if keel can declare it.
    pub(crate) fn of_live(r: &aws_sdk_ec2::types::Route) -> Option<Self> {
        if let Some(g) = r.gateway_id() {
            return match g.split_once('-') {
                Some(("igw", _)) => Some(Via::Gateway(g.to_string())),
                Some(("vgw", _)) => Some(Via::Vpn(g.to_string())),
                _ => None, // `local`, or a gateway endpoint's route
            };
        }
        (r.nat_gateway_id().map(|n| Via::Nat(n.to_string())))
            .or_else(|| r.transit_gateway_id().map(|t| Via::Transit(t.to_string())))
            .or_else(|| {
                let p = r.vpc_peering_connection_id();
                p.map(|p| Via::Peering(p.to_string()))
            })
    }

    /// As a declared target.
    pub(crate) fn target(&self) -> RouteTarget {
        match self {
            Via::Gateway(g) => {
                RouteTarget::InternetGateway(Input::Value(InternetGatewayId::new(g)))
            }
            Via::Nat(n) => RouteTarget::NatGateway(Input::Value(NatGatewayId::new(n))),
            Via::Transit(t) => RouteTarget::TransitGateway(Input::Value(TransitGatewayId::new(t))),
            Via::Peering(p) => {
                RouteTarget::VpcPeeringConnection(Input::Value(VpcPeeringConnectionId::new(p)))
            }
            Via::Vpn(v) => RouteTarget::VpnGateway(Input::Value(VpnGatewayId::new(v))),
        }
    }
}

/// Sets the target of a CreateRoute or ReplaceRoute call.
macro_rules! route_to {
    ($call:expr_2021, $via:expr_2021) => {
        match $via {
            Via::Gateway(g) | Via::Vpn(g) => $call.gateway_id(g),
            Via::Nat(n) => $call.nat_gateway_id(n),
            Via::Transit(t) => $call.transit_gateway_id(t),
            Via::Peering(p) => $call.vpc_peering_connection_id(p),
        }
    };
}
pub(crate) use route_to;

fn wanted_routes(rt: &RouteTable) -> BTreeMap<String, Via> {
    rt.routes
        .iter()
        .filter_map(|r| Some((r.destination_cidr_block.clone(), Via::of(&r.target)?)))
        .collect()
}

/// A route table as described.
pub(crate) struct LiveTable {
    id: String,
    vpc: String,
    routes: BTreeMap<String, Via>,
    /// subnet id → association id
    associations: BTreeMap<String, String>,
    tags: Tags,
}

fn live_of(t: &aws_sdk_ec2::types::RouteTable) -> LiveTable {
    let mut routes = BTreeMap::new();
    for r in t.routes() {
        let Some(dest) = r.destination_cidr_block() else {
            continue;
        };
        let Some(via) = Via::of_live(r) else {
            continue; // the local route, or a target keel doesn't manage
        };
        routes.insert(dest.to_string(), via);
    }
    let associations = t
        .associations()
        .iter()
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| {
            Some((
                a.subnet_id()?.to_string(),
                a.route_table_association_id()?.to_string(),
            ))
        })
        .collect();
    LiveTable {
        id: t.route_table_id().unwrap_or_default().to_string(),
        vpc: t.vpc_id().unwrap_or_default().to_string(),
        routes,
        associations,
        tags: tags_of(t.tags()),
    }
}

async fn put_route(
    cx: &Cx<'_>,
    id: &str,
    dest: &str,
    via: &Via,
    replace: bool,
) -> Result<(), ProviderError> {
    macro_rules! to {
        ($call:expr_2021) => {
            route_to!($call.route_table_id(id).destination_cidr_block(dest), via)
        };
    }
    if replace {
        send!(cx, "ReplaceRoute", to!(cx.c.ec2.replace_route()))?;
    } else {
        send!(cx, "CreateRoute", to!(cx.c.ec2.create_route()))?;
    }
    Ok(())
}

/// Makes the table's routes and associations match `rt`; of the routes it
/// doesn't declare, deletes those `old` (what it declared before) did.
async fn converge(
    cx: &Cx<'_>,
    id: &str,
    old: Option<&RouteTable>,
    rt: &RouteTable,
) -> Result<RouteTableOutputs, ProviderError> {
    let cur = must_live::<RouteTable>(cx, id, "before its routes were set").await?;
    let want = wanted_routes(rt);
    let before = old.map(wanted_routes).unwrap_or_default();
    let dropped = cur
        .routes
        .keys()
        .filter(|d| !want.contains_key(*d) && before.contains_key(*d));
    for dest in dropped {
        let call = cx.c.ec2.delete_route();
        let call = call.route_table_id(id).destination_cidr_block(dest);
        send!(cx, "DeleteRoute", call)?;
    }
    for (dest, via) in &want {
        match cur.routes.get(dest) {
            Some(v) if v == via => {}
            other => put_route(cx, id, dest, via, other.is_some()).await?,
        }
    }
    let subnets = vals(&rt.subnet_ids);
    for (subnet, assoc) in &cur.associations {
        if !subnets.contains(subnet) {
            let call = cx.c.ec2.disassociate_route_table().association_id(assoc);
            send!(cx, "DisassociateRouteTable", call)?;
        }
    }
    for subnet in subnets
        .iter()
        .filter(|s| !cur.associations.contains_key(*s))
    {
        let call = cx.c.ec2.associate_route_table();
        let call = call.route_table_id(id).subnet_id(subnet);
        send!(cx, "AssociateRouteTable", call)?;
    }
    let now = must_live::<RouteTable>(cx, id, "while its routes were set").await?;
    RouteTable::outputs(cx, &now)
}

#[async_trait]
impl AwsResource for RouteTable {
    type Live = LiveTable;

    async fn create(cx: &Cx<'_>, rt: &Self) -> Res<Self::Outputs> {
        let vpc = val(&rt.vpc_id);
        let call = cx.c.ec2.create_route_table().vpc_id(&vpc);
        let call = call.set_tag_specifications(tag_specs(ResourceType::RouteTable, &rt.tags));
        let out = send!(cx, "CreateRouteTable", call)?;
        let id = cx.new_id(
            "CreateRouteTable",
            out.route_table().and_then(|t| t.route_table_id()),
        )?;
        let made = converge(cx, &id, None, rt).await;
        if made.is_err() {
            // Don't leave a half-made table keel doesn't record.
            let _ = Self::delete(cx, &RouteTableId::new(&id)).await;
        }
        made
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeRouteTables" =>
            describe_route_tables(set_route_table_ids, filters))?;
        Ok(out.route_tables().iter().map(live_of).collect())
    }

    fn outputs(_: &Cx<'_>, t: &Self::Live) -> Res<Self::Outputs> {
        Ok(RouteTableOutputs {
            id: RouteTableId::new(&t.id),
            vpc_id: VpcId::new(&t.vpc),
            association_ids: t.associations.values().cloned().collect(),
        })
    }

    /// The declared routes as AWS reports them and the subnets (recorded
    /// order kept for what is still there), so a declared route deleted or
    /// changed out of band shows up as drift and the next `up` puts it
    /// back. Routes the table doesn't declare belong to others (route
    /// resources, gateway endpoints) and are not its drift.
    fn observe(recorded: &Self, t: &Self::Live) -> Self {
        let mut routes = Vec::new();
        for r in &recorded.routes {
            if matches!(r.target, RouteTarget::Local) {
                routes.push(r.clone());
            } else if let Some(via) = t.routes.get(&r.destination_cidr_block) {
                routes.push(RouteEntry::new(
                    r.destination_cidr_block.clone(),
                    via.target(),
                ));
            }
        }
        let seen: Vec<String> = t.associations.keys().cloned().collect();
        let subnets = keep_order(&vals(&recorded.subnet_ids), &seen);
        RouteTable {
            vpc_id: Input::Value(VpcId::new(&t.vpc)),
            routes,
            subnet_ids: subnets
                .iter()
                .map(|s| Input::Value(SubnetId::new(s)))
                .collect(),
            tags: t.tags.clone(),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let made = converge(cx, id.as_str(), Some(old), new).await?;
        sync_tags(cx, id.as_str(), &old.tags, &new.tags).await?;
        Ok(made)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let Some(cur) = super::resource::live::<Self>(cx, id.as_str()).await? else {
            return Ok(());
        };
        for assoc in cur.associations.values() {
            let call = cx.c.ec2.disassociate_route_table().association_id(assoc);
            gone_is_fine(send!(cx, "DisassociateRouteTable", call))?;
        }
        let call = cx.c.ec2.delete_route_table().route_table_id(id.as_str());
        gone_is_fine(send!(cx, "DeleteRouteTable", call))
    }
}
