//! Standalone routes on EC2 (`aws:ec2:Route`): CreateRoute, ReplaceRoute
//! when the target changes, DeleteRoute. EC2 gives routes no id and no
//! tags: keel's id is `<table>_<destination>` (a block or a prefix list
//! id), and reads find the route in DescribeRouteTables by it; a search by
//! tag finds nothing. Observed: the target.

use super::ec2_routing::{Via, route_to};
use super::resource::{AwsResource, Cx, Query, Res, gone_is_fine, must_live, send};
use super::util::val;
use crate::aws::ec2::{Route, RouteOutputs};
use crate::provider::ProviderError;
use crate::resource::{RouteId, RouteTableId};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Route as LiveRoute, RouteState};

/// A route as described, with its table.
pub(crate) struct LiveEntry {
    table: String,
    destination: String,
    route: LiveRoute,
}

/// The destination of a described route, as keel's ids spell it.
fn destination_of(r: &LiveRoute) -> Option<&str> {
    r.destination_cidr_block()
        .or(r.destination_prefix_list_id())
}

/// The CreateRoute request for `route` (resolved inputs).
pub(crate) fn create_request(
    ec2: &aws_sdk_ec2::Client,
    route: &Route,
) -> Result<aws_sdk_ec2::operation::create_route::builders::CreateRouteFluentBuilder, ProviderError>
{
    let via = Via::of(&route.target).ok_or_else(|| {
        ProviderError::new(
            "InvalidParameterValue",
            format!("a route can't target {}", route.target.kind()),
        )
    })?;
    let call = ec2
        .create_route()
        .route_table_id(val(&route.route_table_id));
    let call = call.set_destination_cidr_block(route.destination_cidr_block.clone());
    let list = route.destination_prefix_list_id.as_ref().map(val);
    let call = call.set_destination_prefix_list_id(list);
    Ok(route_to!(call, &via))
}

#[async_trait]
impl AwsResource for Route {
    type Live = LiveEntry;

    async fn create(cx: &Cx<'_>, r: &Self) -> Res<Self::Outputs> {
        let dest = r.destination().unwrap_or_default();
        let table = val(&r.route_table_id);
        send!(cx, "CreateRoute", create_request(&cx.c.ec2, r)?)?;
        let id = RouteId::of(&table, &dest);
        Self::outputs(
            cx,
            &must_live::<Self>(cx, id.as_str(), "after creation").await?,
        )
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let Query::Ids(ids) = query else {
            return Ok(Vec::new()); // routes carry no tags
        };
        let mut found = Vec::new();
        for id in ids {
            let id = RouteId::new(id);
            let Some((table, dest)) = id.parts() else {
                continue;
            };
            let call = cx.c.ec2.describe_route_tables().route_table_ids(table);
            let out = send!(cx, "DescribeRouteTables", call)?;
            let routes = out.route_tables().iter().flat_map(|t| t.routes());
            if let Some(route) = routes.into_iter().find(|r| destination_of(r) == Some(dest)) {
                found.push(LiveEntry {
                    table: table.to_string(),
                    destination: dest.to_string(),
                    route: route.clone(),
                });
            }
        }
        Ok(found)
    }

    fn outputs(_: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        let blackhole = l.route.state() == Some(&RouteState::Blackhole);
        Ok(RouteOutputs {
            id: RouteId::of(&l.table, &l.destination),
            route_table_id: RouteTableId::new(&l.table),
            state: if blackhole { "blackhole" } else { "active" }.to_string(),
        })
    }

    fn observe(recorded: &Self, l: &Self::Live) -> Self {
        let target = Via::of_live(&l.route).map_or(recorded.target.clone(), |v| v.target());
        Route {
            target,
            ..recorded.clone()
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, _old: &Self, new: &Self) -> Res<Self::Outputs> {
        let Some((table, dest)) = id.parts() else {
            return Err(ProviderError::bad_inputs(
                cx.urn,
                format!("`{id}` is not a route id"),
            ));
        };
        let via = Via::of(&new.target)
            .ok_or_else(|| ProviderError::new("InvalidParameterValue", "a route needs a target"))?;
        let call = cx.c.ec2.replace_route().route_table_id(table);
        let call = if dest.starts_with("pl-") {
            call.destination_prefix_list_id(dest)
        } else {
            call.destination_cidr_block(dest)
        };
        send!(cx, "ReplaceRoute", route_to!(call, &via))?;
        Self::outputs(
            cx,
            &must_live::<Self>(cx, id.as_str(), "after ReplaceRoute").await?,
        )
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let Some((table, dest)) = id.parts() else {
            return Ok(());
        };
        let call = cx.c.ec2.delete_route().route_table_id(table);
        let call = if dest.starts_with("pl-") {
            call.destination_prefix_list_id(dest)
        } else {
            call.destination_cidr_block(dest)
        };
        gone_is_fine(send!(cx, "DeleteRoute", call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::RouteTarget;
    use crate::resource::{NatGatewayId, PrefixListId, TransitGatewayId, VpnGatewayId};

    fn client() -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    #[test]
    fn create_route_names_one_destination_and_one_target() {
        let to_nat = Route::new(
            RouteTableId::new("rtb-1"),
            "0.0.0.0/0",
            RouteTarget::nat_gateway(NatGatewayId::new("nat-1")),
        );
        let call = create_request(&client(), &to_nat).unwrap();
        assert_eq!(call.get_route_table_id().as_deref(), Some("rtb-1"));
        assert_eq!(
            call.get_destination_cidr_block().as_deref(),
            Some("0.0.0.0/0")
        );
        assert_eq!(call.get_nat_gateway_id().as_deref(), Some("nat-1"));
        assert_eq!(call.get_gateway_id(), &None);

        let to_tgw = Route::to_prefix_list(
            RouteTableId::new("rtb-1"),
            PrefixListId::new("pl-1"),
            RouteTarget::transit_gateway(TransitGatewayId::new("tgw-1")),
        );
        let call = create_request(&client(), &to_tgw).unwrap();
        assert_eq!(
            call.get_destination_prefix_list_id().as_deref(),
            Some("pl-1")
        );
        assert_eq!(call.get_destination_cidr_block(), &None);
        assert_eq!(call.get_transit_gateway_id().as_deref(), Some("tgw-1"));

        // a virtual private gateway goes in GatewayId, as EC2 wants
        let to_vgw = Route::new(
            RouteTableId::new("rtb-1"),
            "192.168.0.0/16",
            RouteTarget::vpn_gateway(VpnGatewayId::new("vgw-1")),
        );
        let call = create_request(&client(), &to_vgw).unwrap();
        assert_eq!(call.get_gateway_id().as_deref(), Some("vgw-1"));
    }
}
