//! Route tables in the simulated cloud: the implicit local route, routes
//! (to a block or a prefix list) to internet and NAT gateways of the same
//! VPC and to outside objects the cloud was seeded with (`outside`), one
//! explicit association per subnet (others use the VPC's main table, see
//! `main_route_tables`), and no deleting the main table. A route made by a standalone route resource or a
//! gateway endpoint names its owner. Where routes lead is decided on the
//! network model (`model`). Also the provider handler for [`RouteTable`],
//! which makes the live table match the declared one route by route and
//! association by association, leaving routes others own alone.

use super::SimProvider;
use super::cloud::{Cloud, Done, dependency, fresh_id, invalid};
use super::dispatch::{Simulated, configured, resolved};
use super::table::{Association, Record, facts};
use crate::analysis::cidr;
use crate::aws::ec2::{RouteTable, RouteTableOutputs, RouteTarget};
use crate::provider::ProviderError;
use crate::resource::Input;
use crate::resource::{RouteTableId, Tags, Urn, VpcId};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Where a (non-local) route sends traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Target {
    InternetGateway(String),
    NatGateway(String),
    TransitGateway(String),
    PeeringConnection(String),
    VpnGateway(String),
    GatewayEndpoint(String),
}

impl Target {
    pub(super) fn id(&self) -> &str {
        match self {
            Target::InternetGateway(id)
            | Target::NatGateway(id)
            | Target::TransitGateway(id)
            | Target::PeeringConnection(id)
            | Target::VpnGateway(id)
            | Target::GatewayEndpoint(id) => id,
        }
    }

    /// The declared target, resolved (`None` for the local route).
    pub(super) fn of(
        urn: &Urn,
        field: &str,
        target: &RouteTarget,
    ) -> Result<Option<Self>, ProviderError> {
        fn id<T: AsRef<str>>(
            urn: &Urn,
            field: &str,
            i: &Input<T>,
        ) -> Result<String, ProviderError> {
            Ok(resolved(urn, field, i)?.as_ref().to_string())
        }
        Ok(Some(match target {
            RouteTarget::Local => return Ok(None),
            RouteTarget::InternetGateway(g) => Target::InternetGateway(id(urn, field, g)?),
            RouteTarget::NatGateway(n) => Target::NatGateway(id(urn, field, n)?),
            RouteTarget::TransitGateway(t) => Target::TransitGateway(id(urn, field, t)?),
            RouteTarget::VpcPeeringConnection(p) => Target::PeeringConnection(id(urn, field, p)?),
            RouteTarget::VpnGateway(v) => Target::VpnGateway(id(urn, field, v)?),
            RouteTarget::EgressOnlyInternetGateway(e) => {
                return Err(invalid(format!(
                    "egress-only internet gateway {} routes IPv6 traffic only",
                    id(urn, field, e)?
                )));
            }
        }))
    }
}

/// A route's destination: a block, or a prefix list (`pl-…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Dest {
    Cidr(Ipv4Net),
    PrefixList(String),
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Cidr(net) => net.fmt(f),
            Dest::PrefixList(pl) => f.write_str(pl),
        }
    }
}

/// A route other than the local one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RouteRec {
    pub destination: Dest,
    pub target: Target,
    /// What made it, if not the table's own declaration: a route
    /// resource's id or a gateway endpoint's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// A route table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RouteTableRec {
    pub id: String,
    pub vpc_id: String,
    /// The id of the VPC's main association while this is the VPC's main
    /// table: subnets without an association use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_association: Option<String>,
    /// AWS made it with the VPC (and deletes it with the VPC).
    #[serde(default)]
    pub made_with_vpc: bool,
    pub routes: Vec<RouteRec>,
    pub associations: Vec<Association>,
    pub tags: Tags,
}

facts!(
    RouteTableRec for RouteTable, "DescribeRouteTables": "route tables",
    not found "InvalidRouteTableID.NotFound", "The routeTable ID '{id}' does not exist",
    noun "routeTable"
);

impl Record for RouteTableRec {
    fn built_in(&self) -> bool {
        self.made_with_vpc
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }

    fn associations(&self) -> &[Association] {
        &self.associations
    }
}

impl Cloud {
    /// The main route table of a new VPC (part of CreateVpc), with the
    /// VPC's main association.
    pub(super) fn add_main_route_table(&mut self, vpc_id: &str) -> String {
        let association = self.fresh_route_table_association_id();
        let id = self.add_route_table(vpc_id, Tags::new());
        if let Ok(table) = self.route_tables.get_mut(&id) {
            table.main_association = Some(association);
            table.made_with_vpc = true;
        }
        id
    }

    /// A new table in `vpc_id`: not main, with the local route only.
    fn add_route_table(&mut self, vpc_id: &str, tags: Tags) -> String {
        let id = fresh_id("rtb", &self.route_tables);
        let table = RouteTableRec {
            id: id.clone(),
            vpc_id: vpc_id.to_string(),
            main_association: None,
            made_with_vpc: false,
            routes: Vec::new(),
            associations: Vec::new(),
            tags,
        };
        self.route_tables.insert(id.clone(), table);
        id
    }

    /// CreateRouteTable.
    pub(super) fn create_route_table(
        &mut self,
        vpc_id: &str,
        tags: Tags,
    ) -> Result<String, ProviderError> {
        self.vpcs.get(vpc_id)?;
        Ok(self.add_route_table(vpc_id, tags))
    }

    /// A new `rtbassoc-…` id: subnet and main associations share the kind.
    pub(super) fn fresh_route_table_association_id(&self) -> String {
        let tables = self.route_tables.values();
        let ids = tables.flat_map(|t| {
            let subnets = t.associations.iter().map(|a| a.id.clone());
            subnets.chain(t.main_association.clone())
        });
        let taken: std::collections::BTreeMap<String, ()> = ids.map(|id| (id, ())).collect();
        fresh_id("rtbassoc", &taken)
    }

    /// Checks that `target` may be used in table `table_id`: it exists
    /// (AWS's not-found code for its kind) and belongs to the table's VPC.
    fn check_target(&self, table_id: &str, target: &Target) -> Done {
        let vpc = &self.route_tables.get(table_id)?.vpc_id;
        let in_vpc = match target {
            Target::InternetGateway(id) => {
                self.internet_gateways.get(id)?.vpc_id.as_deref() == Some(vpc.as_str())
            }
            Target::NatGateway(id) => {
                let nat = self.nat_gateways.get(id).map_err(|_| {
                    ProviderError::new(
                        "InvalidNatGatewayID.NotFound",
                        format!("The natGateway ID '{id}' does not exist"),
                    )
                })?;
                &nat.vpc_id == vpc
            }
            Target::TransitGateway(_) | Target::PeeringConnection(_) | Target::VpnGateway(_) => {
                self.check_outside_target(vpc, target)?
            }
            Target::GatewayEndpoint(id) => {
                return Err(invalid(format!(
                    "route table {table_id}: a gateway endpoint ({id}) is not a route target; associate the route table with the endpoint instead"
                )));
            }
        };
        if !in_vpc {
            return Err(invalid(format!(
                "route table {table_id} and network gateway {} belong to different networks",
                target.id()
            )));
        }
        Ok(())
    }

    /// Parses a destination (a block, or a prefix list id) and checks it
    /// against the VPC's local route and the prefix lists AWS has.
    pub(super) fn destination(
        &self,
        table_id: &str,
        destination: &str,
    ) -> Result<Dest, ProviderError> {
        if destination.starts_with("pl-") {
            self.route_tables.get(table_id)?;
            return match crate::analysis::network::prefix_list_service(destination) {
                Some(_) => Ok(Dest::PrefixList(destination.to_string())),
                None => Err(ProviderError::new(
                    "InvalidPrefixListID.NotFound",
                    format!("The prefix list ID '{destination}' does not exist"),
                )),
            };
        }
        let dest = cidr::parse(destination).map_err(|_| {
            invalid(format!(
                "Value ({destination}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block."
            ))
        })?;
        let vpc = self.vpcs.get(&self.route_tables.get(table_id)?.vpc_id)?;
        if dest == vpc.cidr_block {
            return Err(ProviderError::new(
                "RouteAlreadyExists",
                format!("The route identified by {dest} already exists (the local route)."),
            ));
        }
        Ok(Dest::Cidr(dest))
    }

    /// The declared local route: valid only for exactly the VPC's block, and
    /// then it is already there.
    pub(super) fn check_local_route(&self, table_id: &str, destination: &str) -> Done {
        let vpc = self.vpcs.get(&self.route_tables.get(table_id)?.vpc_id)?;
        match cidr::parse(destination) {
            Ok(dest) if dest == vpc.cidr_block => Ok(()),
            _ => Err(invalid(format!(
                "a local route must have the VPC's block {} as destination, not {destination}",
                vpc.cidr_block
            ))),
        }
    }

    /// CreateRoute (`replace` false: no route to the destination may exist)
    /// or ReplaceRoute (`replace` true: one must); `owner` made it, if not
    /// the table's own declaration.
    pub(super) fn put_route(
        &mut self,
        table: &str,
        to: &str,
        target: Target,
        replace: bool,
        owner: Option<&str>,
    ) -> Done {
        let dest = self.destination(table, to)?;
        let routes = &self.route_tables.get(table)?.routes;
        match (routes.iter().any(|r| r.destination == dest), replace) {
            (true, false) => return Err(route_exists(&dest)),
            (false, true) => return Err(no_route(table, &dest)),
            _ => {}
        }
        self.check_target(table, &target)?;
        self.add_route(table, dest, target, owner)
    }

    /// Puts a checked route in `table`, replacing the one to the same
    /// destination.
    pub(super) fn add_route(
        &mut self,
        table: &str,
        dest: Dest,
        target: Target,
        owner: Option<&str>,
    ) -> Done {
        let routes = &mut self.route_tables.get_mut(table)?.routes;
        let owner = owner.map(str::to_string);
        match routes.iter_mut().find(|r| r.destination == dest) {
            Some(route) => (route.target, route.owner) = (target, owner),
            None => routes.push(RouteRec {
                destination: dest,
                target,
                owner,
            }),
        }
        Ok(())
    }

    /// DeleteRoute.
    pub(super) fn delete_route(&mut self, table_id: &str, dest: &Dest) -> Done {
        let table = self.route_tables.get_mut(table_id)?;
        let before = table.routes.len();
        table.routes.retain(|r| &r.destination != dest);
        if table.routes.len() == before {
            return Err(no_route(table_id, dest));
        }
        Ok(())
    }

    /// AssociateRouteTable: the subnet must be in the table's VPC and not
    /// explicitly associated with any table yet.
    pub(super) fn associate_route_table(
        &mut self,
        table_id: &str,
        subnet_id: &str,
    ) -> Result<String, ProviderError> {
        let table = self.route_tables.get(table_id)?;
        let subnet = self.subnets.get(subnet_id)?;
        if subnet.vpc_id != table.vpc_id {
            return Err(invalid(format!(
                "route table {table_id} and subnet {subnet_id} belong to different networks"
            )));
        }
        if let Some((other, assoc)) = self.route_tables.association_of(subnet_id) {
            return Err(ProviderError::new(
                "Resource.AlreadyAssociated",
                format!(
                    "the specified association for route table {} conflicts with an existing association ({} of {subnet_id})",
                    other.id, assoc.id
                ),
            ));
        }
        let id = self.fresh_route_table_association_id();
        let table = self.route_tables.get_mut(table_id)?;
        table.associations.push(Association {
            id: id.clone(),
            subnet_id: subnet_id.to_string(),
        });
        Ok(id)
    }

    /// DisassociateRouteTable: a subnet's association; a VPC's main
    /// association can only be replaced.
    pub(super) fn disassociate_route_table(&mut self, association_id: &str) -> Done {
        let mut tables = self.route_tables.values();
        if tables.any(|t| t.main_association.as_deref() == Some(association_id)) {
            return Err(invalid(format!(
                "cannot disassociate the main route table association {association_id}"
            )));
        }
        for table in self.route_tables.values_mut() {
            if let Some(i) = table
                .associations
                .iter()
                .position(|a| a.id == association_id)
            {
                table.associations.remove(i);
                return Ok(());
            }
        }
        Err(ProviderError::new(
            "InvalidAssociationID.NotFound",
            format!("The association ID '{association_id}' does not exist"),
        ))
    }

    /// DeleteRouteTable: not the main table, not while subnets are associated.
    pub(super) fn delete_route_table(&mut self, id: &str) -> Done {
        let table = self.route_tables.get(id)?;
        if table.main_association.is_some() {
            return Err(dependency(format!(
                "The routeTable '{id}' is the main route table of {} and cannot be deleted",
                table.vpc_id
            )));
        }
        self.remove_unused::<RouteTableRec>(id).map(drop)
    }
}

pub(super) fn no_route(table_id: &str, dest: &Dest) -> ProviderError {
    ProviderError::new(
        "InvalidRoute.NotFound",
        format!("no route with destination {dest} in route table {table_id}"),
    )
}

pub(super) fn route_exists(dest: &Dest) -> ProviderError {
    ProviderError::new(
        "RouteAlreadyExists",
        format!("The route identified by {dest} already exists."),
    )
}

impl Simulated for RouteTable {
    fn outputs(_: &Cloud, t: &RouteTableRec) -> RouteTableOutputs {
        RouteTableOutputs {
            id: RouteTableId::new(&t.id),
            vpc_id: VpcId::new(&t.vpc_id),
            association_ids: t.associations.iter().map(|a| a.id.clone()).collect(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let vpc = resolved(urn, "vpc_id", &props.vpc_id)?.as_str();
        let id = sim.api("CreateRouteTable", |c, _| {
            c.create_route_table(vpc, props.tags.clone())
        })?;
        configured(sim, urn, id, props)
    }

    /// Makes table `id`'s routes and associations match `props`.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        // The declared routes, local ones checked and dropped.
        let mut want: Vec<(Dest, String, Target)> = Vec::new();
        for route in &props.routes {
            let dest_text = &route.destination_cidr_block;
            let Some(target) = Target::of(urn, "routes", &route.target)? else {
                sim.peek(|c| c.check_local_route(id, dest_text))?;
                continue;
            };
            let dest = sim.peek(|c| c.destination(id, dest_text))?;
            if want.iter().any(|(d, _, _)| *d == dest) {
                return Err(route_exists(&dest));
            }
            want.push((dest, dest_text.clone(), target));
        }
        // Routes others own (route resources, gateway endpoints) stay.
        let have = sim.peek(|c| c.route_tables.get(id).cloned())?;
        for route in have.routes.iter().filter(|r| r.owner.is_none()) {
            if !want.iter().any(|(d, _, _)| *d == route.destination) {
                sim.api("DeleteRoute", |c, _| c.delete_route(id, &route.destination))?;
            }
        }
        for (dest, text, target) in want {
            match have.routes.iter().find(|r| r.destination == dest) {
                Some(r) if r.owner.is_some() => return Err(route_exists(&dest)),
                Some(r) if r.target == target => {}
                Some(_) => sim.api("ReplaceRoute", |c, _| {
                    c.put_route(id, &text, target, true, None)
                })?,
                None => sim.api("CreateRoute", |c, _| {
                    c.put_route(id, &text, target, false, None)
                })?,
            }
        }
        // Associations: keep unchanged ones (and their ids), in declared order.
        let mut subnets = Vec::new();
        for s in &props.subnet_ids {
            subnets.push(resolved(urn, "subnet_ids", s)?.to_string());
        }
        for assoc in &have.associations {
            if !subnets.contains(&assoc.subnet_id) {
                sim.api("DisassociateRouteTable", |c, _| {
                    c.disassociate_route_table(&assoc.id)
                })?;
            }
        }
        for subnet in &subnets {
            let mine = have.associations.iter().any(|a| &a.subnet_id == subnet);
            if !mine || subnets.iter().filter(|s| *s == subnet).count() > 1 {
                sim.api("AssociateRouteTable", |c, _| {
                    c.associate_route_table(id, subnet)
                })?;
            }
        }
        sim.peek_mut(|c| {
            if let Ok(t) = c.route_tables.get_mut(id) {
                let order = |a: &Association| subnets.iter().position(|s| *s == a.subnet_id);
                t.associations.sort_by_key(order);
            }
        });
        Ok(())
    }

    /// Disassociates every subnet of table `id`, then deletes it.
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let assocs = sim.peek(|c| c.route_tables.get(id).map(|t| t.associations.clone()))?;
        for assoc in assocs {
            sim.api("DisassociateRouteTable", |c, _| {
                c.disassociate_route_table(&assoc.id)
            })?;
        }
        sim.api("DeleteRouteTable", |c, _| c.delete_route_table(id))
    }
}
