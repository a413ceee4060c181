//! The VPC's main route table association on EC2
//! (`aws:ec2:MainRouteTableAssociation`): DescribeRouteTables with the
//! filters `vpc-id` and `association.main=true` finds the main table and
//! its association id; ReplaceRouteTableAssociation moves that association
//! to the declared table on create and update, and back to the original
//! table on delete (unless that table is gone). AWS's association id
//! changes with every replacement, so keel's id is `<vpc>_<original table>`
//! and a search by tag finds nothing. Observed: which table is main.

use super::resource::{AwsResource, Cx, Query, Res, outputs_now, send};
use super::util::val;
use crate::aws::ec2::{MainRouteTableAssociation, MainRouteTableAssociationOutputs};
use crate::provider::ProviderError;
use crate::resource::{MainRouteTableAssociationId, RouteTableAssociationId, RouteTableId, VpcId};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, RouteTable};

/// A VPC's main association as described, with keel's id for it.
pub(crate) struct LiveMain {
    vpc: String,
    original: String,
    /// The main table now.
    table: String,
    /// Its main association's id.
    association: String,
}

fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

/// The main association's id of a described table, if it is main.
fn main_association(t: &RouteTable) -> Option<&str> {
    let mut associations = t.associations().iter();
    associations
        .find(|a| a.main() == Some(true))
        .and_then(|a| a.route_table_association_id())
}

/// The main tables of `vpcs` (one DescribeRouteTables call): `(vpc, table,
/// association)` for each VPC that still exists.
async fn main_tables(cx: &Cx<'_>, vpcs: Vec<String>) -> Res<Vec<(String, String, String)>> {
    let call = cx.c.ec2.describe_route_tables();
    let call = call.filters(filter("vpc-id", vpcs));
    let call = call.filters(filter("association.main", vec!["true".into()]));
    let out = send!(cx, "DescribeRouteTables", call)?;
    let found = out.route_tables().iter().filter_map(|t| {
        Some((
            t.vpc_id()?.to_string(),
            t.route_table_id()?.to_string(),
            main_association(t)?.to_string(),
        ))
    });
    Ok(found.collect())
}

/// VPC `vpc`'s main table and association; `None` if the VPC is gone.
async fn main_of(cx: &Cx<'_>, vpc: &str) -> Res<Option<(String, String)>> {
    let found = main_tables(cx, vec![vpc.to_string()]).await?;
    Ok(found
        .into_iter()
        .find(|(v, _, _)| v == vpc)
        .map(|(_, t, a)| (t, a)))
}

/// Moves main association `association` to `table`.
async fn replace(cx: &Cx<'_>, association: &str, table: &str) -> Res<()> {
    let call = cx.c.ec2.replace_route_table_association();
    let call = call.association_id(association).route_table_id(table);
    send!(cx, "ReplaceRouteTableAssociation", call).map(drop)
}

/// The VPC and original table keel's id names; an error for an id of
/// another form.
fn parts<'i>(cx: &Cx<'_>, id: &'i MainRouteTableAssociationId) -> Res<(&'i str, &'i str)> {
    id.parts().ok_or_else(|| {
        ProviderError::bad_inputs(
            cx.urn,
            format!("`{id}` is not a main route table association id (<vpc>_<route table>)"),
        )
    })
}

#[async_trait]
impl AwsResource for MainRouteTableAssociation {
    type Live = LiveMain;

    async fn create(cx: &Cx<'_>, r: &Self) -> Res<Self::Outputs> {
        let vpc = val(&r.vpc_id);
        let Some((original, association)) = main_of(cx, &vpc).await? else {
            return Err(ProviderError::new(
                "InvalidVpcID.NotFound",
                format!("{}: the vpc ID '{vpc}' does not exist", cx.urn),
            ));
        };
        replace(cx, &association, &val(&r.route_table_id)).await?;
        let id = MainRouteTableAssociationId::of(&vpc, &original);
        outputs_now::<Self>(cx, id.as_str(), "after ReplaceRouteTableAssociation").await
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let Query::Ids(ids) = query else {
            return Ok(Vec::new()); // associations carry no tags
        };
        let ids: Vec<MainRouteTableAssociationId> =
            ids.iter().map(MainRouteTableAssociationId::new).collect();
        let wanted: Vec<(&str, &str)> = ids.iter().filter_map(|i| i.parts()).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let vpcs = wanted.iter().map(|(v, _)| v.to_string()).collect();
        let found = main_tables(cx, vpcs).await?;
        let live = wanted.iter().filter_map(|(vpc, original)| {
            let (_, table, association) = found.iter().find(|(v, _, _)| v == vpc)?;
            Some(LiveMain {
                vpc: vpc.to_string(),
                original: original.to_string(),
                table: table.clone(),
                association: association.clone(),
            })
        });
        Ok(live.collect())
    }

    fn outputs(_: &Cx<'_>, l: &Self::Live) -> Res<Self::Outputs> {
        Ok(MainRouteTableAssociationOutputs {
            id: MainRouteTableAssociationId::of(&l.vpc, &l.original),
            vpc_id: VpcId::new(&l.vpc),
            route_table_id: RouteTableId::new(&l.table),
            association_id: RouteTableAssociationId::new(&l.association),
            original_route_table_id: RouteTableId::new(&l.original),
        })
    }

    fn observe(recorded: &Self, l: &Self::Live) -> Self {
        MainRouteTableAssociation {
            route_table_id: RouteTableId::new(&l.table).into(),
            ..recorded.clone()
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, _old: &Self, new: &Self) -> Res<Self::Outputs> {
        let (vpc, _) = parts(cx, id)?;
        let table = val(&new.route_table_id);
        let Some((now, association)) = main_of(cx, vpc).await? else {
            return Err(ProviderError::not_found(format!(
                "{}: the vpc ID '{vpc}' does not exist",
                cx.urn
            )));
        };
        if now != table {
            replace(cx, &association, &table).await?;
        }
        outputs_now::<Self>(cx, id.as_str(), "after ReplaceRouteTableAssociation").await
    }

    /// Gives the original table the main role back, unless the VPC is
    /// gone, the original table is already main, or it no longer exists.
    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let Some((vpc, original)) = id.parts() else {
            return Ok(());
        };
        let Some((now, association)) = main_of(cx, vpc).await? else {
            return Ok(());
        };
        if now == original {
            return Ok(());
        }
        let call = cx.c.ec2.describe_route_tables().route_table_ids(original);
        match send!(cx, "DescribeRouteTables", call) {
            Ok(out) if !out.route_tables().is_empty() => replace(cx, &association, original).await,
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_association_is_the_one_marked_main() {
        let assoc = |id: &str, main: bool| {
            aws_sdk_ec2::types::RouteTableAssociation::builder()
                .route_table_association_id(id)
                .main(main)
                .build()
        };
        let table = RouteTable::builder()
            .associations(assoc("rtbassoc-subnet", false))
            .associations(assoc("rtbassoc-main", true))
            .build();
        assert_eq!(main_association(&table), Some("rtbassoc-main"));
        let plain = RouteTable::builder()
            .associations(assoc("rtbassoc-subnet", false))
            .build();
        assert_eq!(main_association(&plain), None);
    }
}
