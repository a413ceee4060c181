//! The provider handler for a standalone [`Route`] in the simulated cloud:
//! CreateRoute, ReplaceRoute and DeleteRoute on any table (a declared one,
//! a VPC's main table, or one outside the stack), with the rules of
//! `routing`. AWS gives routes no id and no tags; keel's id is
//! `<table>_<destination>`, and the route itself, in its table, names that
//! id as its owner so the table's own handler leaves it alone. The handle
//! kept here holds nothing else: a route deleted out of band reads as gone.

use super::SimProvider;
use super::cloud::{Cloud, Done};
use super::dispatch::{Made, Simulated, resolved};
use super::latency::Op;
use super::routing::Target;
use super::table::{Record, facts};
use crate::aws::ec2::{Route, RouteOutputs};
use crate::provider::ProviderError;
use crate::resource::{RouteId, RouteTableId, Tags, Urn};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// keel's handle on a route it made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RouteHandleRec {
    /// `<table>_<destination>`.
    pub id: String,
    pub route_table_id: String,
    /// Always empty: AWS routes have no tags.
    pub tags: Tags,
}

facts!(
    RouteHandleRec for Route, "DescribeRouteTables": "routes",
    not found "InvalidRoute.NotFound", "The route {id} does not exist"
);

impl Record for RouteHandleRec {}

impl Cloud {
    /// The route handle `id` stands for, if it is still in its table.
    fn owned_route(&self, id: &str) -> Option<&super::routing::RouteRec> {
        let handle = self.routes.find(id)?;
        let table = self.route_tables.find(&handle.route_table_id)?;
        table.routes.iter().find(|r| r.owner.as_deref() == Some(id))
    }

    /// Whether a route's target still exists (else AWS shows `blackhole`).
    fn target_exists(&self, target: &Target) -> bool {
        match target {
            Target::InternetGateway(g) => self.internet_gateways.find(g).is_some(),
            Target::NatGateway(n) => self.nat_gateways.find(n).is_some_and(|n| !n.is_gone()),
            Target::GatewayEndpoint(e) => self.vpc_endpoints.find(e).is_some(),
            other => self.outside.find(other.id()).is_some(),
        }
    }
}

/// The table, the destination as AWS names it, and the target `props` declare.
fn parts(urn: &Urn, props: &Route) -> Result<(String, String, Target), ProviderError> {
    let table = resolved(urn, "route_table_id", &props.route_table_id)?.to_string();
    let dest = match (
        &props.destination_cidr_block,
        &props.destination_prefix_list_id,
    ) {
        (Some(block), _) => block.clone(),
        (None, Some(list)) => resolved(urn, "destination_prefix_list_id", list)?.to_string(),
        (None, None) => {
            return Err(ProviderError::bad_inputs(
                urn,
                "a route needs a destination",
            ));
        }
    };
    let Some(target) = Target::of(urn, "target", &props.target)? else {
        return Err(ProviderError::bad_inputs(
            urn,
            "the local route can't be added",
        ));
    };
    Ok((table, dest, target))
}

#[async_trait]
impl Simulated for Route {
    fn outputs(c: &Cloud, h: &RouteHandleRec) -> RouteOutputs {
        let active = c
            .owned_route(&h.id)
            .is_some_and(|r| c.target_exists(&r.target));
        RouteOutputs {
            id: RouteId::new(&h.id),
            route_table_id: RouteTableId::new(&h.route_table_id),
            state: if active { "active" } else { "blackhole" }.to_string(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let (table, dest, target) = parts(urn, props)?;
        let id = RouteId::of(&table, &dest).to_string();
        sim.api("CreateRoute", |c, _| {
            c.put_route(&table, &dest, target, false, Some(&id))?;
            let handle = RouteHandleRec {
                id: id.clone(),
                route_table_id: table.clone(),
                tags: Tags::new(),
            };
            c.routes.insert(id.clone(), handle);
            Ok(id.clone())
        })
    }

    /// ReplaceRoute when the target changed.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let (table, dest, target) = parts(urn, props)?;
        let current = sim.peek(|c| c.owned_route(id).map(|r| r.target.clone()));
        match current {
            Some(t) if t == target => Ok(()),
            Some(_) => sim.api("ReplaceRoute", |c, _| {
                c.put_route(&table, &dest, target, true, Some(id))
            }),
            None => Err(ProviderError::new(
                "InvalidRoute.NotFound",
                format!("no route with destination {dest} in route table {table}"),
            )),
        }
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteRoute", |c, _| {
            let handle = c.routes.get(id)?.clone();
            let dest = c.owned_route(id).map(|r| r.destination.clone());
            c.routes.remove(id)?;
            match dest {
                Some(dest) => c.delete_route(&handle.route_table_id, &dest),
                None => Err(RouteHandleRec::not_found(id)),
            }
        })
    }

    /// Like any update, without tags: AWS routes have none.
    async fn update(sim: &SimProvider, urn: &Urn, id: &str, props: Self) -> Made<Self> {
        Self::modify(sim, urn, id, &props)?;
        sim.pause(Op::Call).await;
        sim.outputs_of::<Self>(id)
    }

    /// Present while its route is in its table.
    async fn read(sim: &SimProvider, id: &str) -> Result<Option<RouteOutputs>, ProviderError> {
        let found = |c: &Cloud| {
            c.owned_route(id)?;
            c.routes.find_live(id).map(|h| Self::outputs(c, h))
        };
        sim.describe(<Self as super::table::Kept>::DESCRIBE, found)
            .await
    }
}
