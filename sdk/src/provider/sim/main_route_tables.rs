//! Which route table is a VPC's main table in the simulated cloud: the main
//! association (its own `rtbassoc-…` id, made with the VPC on the table AWS
//! made), ReplaceRouteTableAssociation (for a main association or a
//! subnet's, within one VPC), and the provider handler for
//! [`MainRouteTableAssociation`], which records the table that was main
//! before and gives it the role back on delete. The handle kept here holds
//! nothing AWS has: which table is main is read from the tables each time,
//! so a change made outside keel shows.

use super::SimProvider;
use super::cloud::{Cloud, Done, invalid};
use super::dispatch::{Made, Simulated, resolved};
use super::latency::Op;
use super::routing::RouteTableRec;
use super::table::{Association, Record, facts};
use crate::aws::ec2::{MainRouteTableAssociation, MainRouteTableAssociationOutputs};
use crate::provider::ProviderError;
use crate::resource::{
    MainRouteTableAssociationId, RouteTableAssociationId, RouteTableId, Tags, Urn, VpcId,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// keel's handle on a main association it replaced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct MainAssociationRec {
    /// `<vpc>_<original table>`.
    pub id: String,
    pub vpc_id: String,
    /// The table that was main before.
    pub original_route_table_id: String,
    /// Always empty: AWS associations have no tags.
    pub tags: Tags,
}

facts!(
    MainAssociationRec for MainRouteTableAssociation, "DescribeRouteTables": "main route table associations",
    not found "InvalidAssociationID.NotFound", "The association ID '{id}' does not exist"
);

impl Record for MainAssociationRec {}

/// AWS's error for an association id no table has.
fn no_association(id: &str) -> ProviderError {
    ProviderError::new(
        "InvalidAssociationID.NotFound",
        format!("The association ID '{id}' does not exist"),
    )
}

impl Cloud {
    /// VPC `vpc_id`'s main table (DescribeRouteTables with the filters
    /// `vpc-id` and `association.main=true`) and its main association id.
    pub(super) fn main_association_of(
        &self,
        vpc_id: &str,
    ) -> Result<(&RouteTableRec, &str), ProviderError> {
        self.vpcs.get(vpc_id)?;
        let tables = self.route_tables.values();
        let mut main = tables.filter(|t| t.vpc_id == vpc_id);
        main.find_map(|t| Some((t, t.main_association.as_deref()?)))
            .ok_or_else(|| ProviderError::internal(format!("{vpc_id} has no main route table")))
    }

    /// Gives the tables of a cloud saved before main associations had ids
    /// (when a table was only flagged main) what AWS has: the table made
    /// with each VPC is built in, and main with an association id unless
    /// another table of the VPC is.
    pub(super) fn backfill_main_associations(&mut self) {
        let vpcs: Vec<(String, String)> = (self.vpcs.values())
            .map(|v| (v.id.clone(), v.main_route_table_id.clone()))
            .collect();
        for (vpc, made) in vpcs {
            let has_main = (self.route_tables.values())
                .any(|t| t.vpc_id == vpc && t.main_association.is_some());
            let association = self.fresh_route_table_association_id();
            if let Ok(table) = self.route_tables.get_mut(&made) {
                table.made_with_vpc = true;
                if !has_main {
                    table.main_association = Some(association);
                }
            }
        }
    }

    /// ReplaceRouteTableAssociation: moves association `association_id` (a
    /// VPC's main association or a subnet's) to table `table_id` of the
    /// same VPC; the new association's id. The table that already has it
    /// answers with the same id, as AWS does.
    pub(super) fn replace_route_table_association(
        &mut self,
        association_id: &str,
        table_id: &str,
    ) -> Result<String, ProviderError> {
        let new_vpc = self.route_tables.get(table_id)?.vpc_id.clone();
        let holds = |t: &RouteTableRec| {
            t.main_association.as_deref() == Some(association_id)
                || t.associations.iter().any(|a| a.id == association_id)
        };
        let holder = (self.route_tables.values().find(|t| holds(t)))
            .ok_or_else(|| no_association(association_id))?;
        if holder.vpc_id != new_vpc {
            return Err(invalid(format!(
                "route table {table_id} and association {association_id} of route table {} belong to different networks",
                holder.id
            )));
        }
        if holder.id == table_id {
            return Ok(association_id.to_string());
        }
        let holder = holder.id.clone();
        let new_id = self.fresh_route_table_association_id();
        let old = self.route_tables.get_mut(&holder)?;
        let subnet = if old.main_association.as_deref() == Some(association_id) {
            old.main_association = None;
            None
        } else {
            let at = old.associations.iter().position(|a| a.id == association_id);
            at.map(|i| old.associations.remove(i).subnet_id)
        };
        let new = self.route_tables.get_mut(table_id)?;
        match subnet {
            None => new.main_association = Some(new_id.clone()),
            Some(subnet_id) => new.associations.push(Association {
                id: new_id.clone(),
                subnet_id,
            }),
        }
        Ok(new_id)
    }
}

#[async_trait]
impl Simulated for MainRouteTableAssociation {
    fn outputs(c: &Cloud, h: &MainAssociationRec) -> MainRouteTableAssociationOutputs {
        let now = c.main_association_of(&h.vpc_id).ok();
        let (table, association) = match now {
            Some((t, a)) => (t.id.as_str(), a),
            None => (h.original_route_table_id.as_str(), ""),
        };
        MainRouteTableAssociationOutputs {
            id: MainRouteTableAssociationId::new(&h.id),
            vpc_id: VpcId::new(&h.vpc_id),
            route_table_id: RouteTableId::new(table),
            association_id: RouteTableAssociationId::new(association),
            original_route_table_id: RouteTableId::new(&h.original_route_table_id),
        }
    }

    /// Finds the VPC's main association, then replaces it with the
    /// declared table, recording the table that was main.
    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let vpc = resolved(urn, "vpc_id", &props.vpc_id)?.as_str();
        let table = resolved(urn, "route_table_id", &props.route_table_id)?.as_str();
        let (association, original) = sim.api("DescribeRouteTables", |c, _| {
            let (t, a) = c.main_association_of(vpc)?;
            Ok((a.to_string(), t.id.clone()))
        })?;
        let id = MainRouteTableAssociationId::of(vpc, &original).to_string();
        sim.api("ReplaceRouteTableAssociation", |c, _| {
            c.replace_route_table_association(&association, table)?;
            let handle = MainAssociationRec {
                id: id.clone(),
                vpc_id: vpc.to_string(),
                original_route_table_id: original.clone(),
                tags: Tags::new(),
            };
            c.main_route_table_associations.insert(id.clone(), handle);
            Ok(id.clone())
        })
    }

    /// Replaces the main association again when another table is declared
    /// (or the main table was changed outside keel).
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let table = resolved(urn, "route_table_id", &props.route_table_id)?.as_str();
        let vpc = sim.peek(|c| {
            let handle = c.main_route_table_associations.get(id)?;
            Ok::<_, ProviderError>(handle.vpc_id.clone())
        })?;
        let (association, now) = sim.api("DescribeRouteTables", |c, _| {
            let (t, a) = c.main_association_of(&vpc)?;
            Ok((a.to_string(), t.id.clone()))
        })?;
        if now != table {
            sim.api("ReplaceRouteTableAssociation", |c, _| {
                c.replace_route_table_association(&association, table)
                    .map(drop)
            })?;
        }
        Ok(())
    }

    /// Gives the original table the main role back, unless it is gone or
    /// already main (or the VPC is gone); then forgets the handle.
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let restore = sim.api("DescribeRouteTables", |c, _| {
            let handle = c.main_route_table_associations.get(id)?.clone();
            let original = &handle.original_route_table_id;
            let restore = match c.main_association_of(&handle.vpc_id) {
                Ok((t, a)) if t.id != *original && c.route_tables.find(original).is_some() => {
                    Some((a.to_string(), original.clone()))
                }
                _ => None,
            };
            if restore.is_none() {
                c.main_route_table_associations.remove(id)?;
            }
            Ok(restore)
        })?;
        let Some((association, original)) = restore else {
            return Ok(());
        };
        sim.api("ReplaceRouteTableAssociation", |c, _| {
            c.replace_route_table_association(&association, &original)?;
            c.main_route_table_associations.remove(id).map(drop)
        })
    }

    /// Like any update, without tags: AWS associations have none.
    async fn update(sim: &SimProvider, urn: &Urn, id: &str, props: Self) -> Made<Self> {
        Self::modify(sim, urn, id, &props)?;
        sim.pause(Op::Call).await;
        sim.outputs_of::<Self>(id)
    }

    /// Present while its VPC is: the outputs say which table is main now.
    async fn read(
        sim: &SimProvider,
        id: &str,
    ) -> Result<Option<MainRouteTableAssociationOutputs>, ProviderError> {
        let found = |c: &Cloud| {
            let handle = c.main_route_table_associations.find_live(id)?;
            c.main_association_of(&handle.vpc_id).ok()?;
            Some(Self::outputs(c, handle))
        };
        sim.describe(<Self as super::table::Kept>::DESCRIBE, found)
            .await
    }
}
