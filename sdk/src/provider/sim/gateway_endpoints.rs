//! Gateway VPC endpoints (S3, DynamoDB) in the simulated cloud: no network
//! interfaces, no DNS; each associated route table of the endpoint's VPC
//! gets a route for the service's AWS prefix list to the endpoint, owned by
//! it (ModifyVpcEndpoint adds and removes tables; deleting the endpoint
//! removes its routes). A table that already routes that prefix list can't
//! be associated (`RouteAlreadyExists`). Gateway endpoints are `available`
//! as soon as they are made, as in AWS.

use super::cloud::{Clock, Cloud, Done, fresh_id};
use super::endpoints::{EndpointChange, EndpointRec, EndpointSpec, invalid_parameter};
use super::routing::{Dest, Target, route_exists};
use super::table::Phase;
use crate::analysis::network::gateway_prefix_list;
use crate::aws::ec2::{EndpointType, GATEWAY_SERVICES};
use crate::provider::ProviderError;
use crate::resource::Tags;

impl EndpointRec {
    /// The prefix list of a gateway endpoint's service.
    pub(super) fn prefix_list(&self) -> Option<&'static str> {
        let list = gateway_prefix_list(&self.service).map(|(id, _)| id);
        list.filter(|_| self.is_gateway())
    }
}

impl Cloud {
    /// CreateVpcEndpoint (gateway).
    pub(super) fn create_gateway_endpoint(
        &mut self,
        spec: EndpointSpec,
        tags: Tags,
        clock: &Clock,
    ) -> Result<String, ProviderError> {
        self.vpcs.get(&spec.vpc_id)?;
        let service = self.endpoint_service(&spec.service_name)?;
        if !GATEWAY_SERVICES.contains(&service.as_str()) {
            return Err(invalid_parameter(format!(
                "The Vpc Endpoint Service '{}' does not support the Gateway endpoint type",
                spec.service_name
            )));
        }
        if !spec.subnet_ids.is_empty() || !spec.security_group_ids.is_empty() || spec.private_dns {
            return Err(invalid_parameter(
                "Subnets, security groups and private DNS are not supported for Gateway endpoints",
            ));
        }
        let id = fresh_id("vpce", &self.vpc_endpoints);
        self.check_endpoint_tables(&spec.vpc_id, &service, &spec.route_table_ids)?;
        let endpoint = EndpointRec {
            id: id.clone(),
            vpc_id: spec.vpc_id,
            service_name: spec.service_name,
            service,
            interfaces: Vec::new(),
            security_group_ids: Vec::new(),
            private_dns: false,
            endpoint_type: EndpointType::Gateway,
            route_table_ids: Vec::new(),
            policy: spec.policy,
            state: Phase::Available,
            until_ms: clock.now,
            tags,
        };
        self.vpc_endpoints.insert(id.clone(), endpoint);
        for table in &spec.route_table_ids {
            self.add_endpoint_route(&id, table)?;
        }
        Ok(id)
    }

    /// ModifyVpcEndpoint on a gateway endpoint: route tables and policy.
    pub(super) fn modify_gateway_endpoint(&mut self, id: &str, change: &EndpointChange) -> Done {
        let current = self.vpc_endpoints.get(id)?.clone();
        if !change.add_subnets.is_empty() || !change.add_groups.is_empty() {
            return Err(invalid_parameter(
                "Subnets and security groups are not supported for Gateway endpoints",
            ));
        }
        for table in &change.remove_route_tables {
            if !current.route_table_ids.contains(table) {
                return Err(invalid_parameter(format!(
                    "Route table {table} is not associated with {id}"
                )));
            }
        }
        self.check_endpoint_tables(&current.vpc_id, &current.service, &change.add_route_tables)?;
        for table in &change.remove_route_tables {
            if let Ok(t) = self.route_tables.get_mut(table) {
                t.routes.retain(|r| r.owner.as_deref() != Some(id));
            }
            let e = self.vpc_endpoints.get_mut(id)?;
            e.route_table_ids.retain(|t| t != table);
        }
        for table in &change.add_route_tables {
            self.add_endpoint_route(id, table)?;
        }
        if let Some(policy) = &change.policy {
            self.vpc_endpoints.get_mut(id)?.policy = policy.clone();
        }
        Ok(())
    }

    /// Tables must exist, be in `vpc`, and not route the service's prefix
    /// list yet.
    fn check_endpoint_tables(&self, vpc: &str, service: &str, tables: &[String]) -> Done {
        let pl = gateway_prefix_list(service).map(|(id, _)| id.to_string());
        for table in tables {
            let t = self.route_tables.get(table)?;
            if t.vpc_id != vpc {
                return Err(invalid_parameter(format!(
                    "The route table {table} belongs to {}, not to the endpoint's VPC {vpc}",
                    t.vpc_id
                )));
            }
            if let Some(pl) = &pl {
                let dest = Dest::PrefixList(pl.clone());
                if t.routes.iter().any(|r| r.destination == dest) {
                    return Err(route_exists(&dest));
                }
            }
        }
        Ok(())
    }

    /// Adds endpoint `id`'s prefix-list route to `table`, and the table to
    /// the endpoint's associations.
    fn add_endpoint_route(&mut self, id: &str, table: &str) -> Done {
        let e = self.vpc_endpoints.get_mut(id)?;
        let Some(pl) = e.prefix_list() else {
            return Ok(());
        };
        e.route_table_ids.push(table.to_string());
        let target = Target::GatewayEndpoint(id.to_string());
        self.add_route(table, Dest::PrefixList(pl.to_string()), target, Some(id))
    }

    /// Removes every route endpoint `id` owns (it is being deleted).
    pub(super) fn drop_endpoint_routes(&mut self, id: &str) {
        for t in self.route_tables.values_mut() {
            t.routes.retain(|r| r.owner.as_deref() != Some(id));
        }
    }
}
