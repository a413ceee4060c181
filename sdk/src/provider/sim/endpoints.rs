//! Interface VPC endpoints in the simulated cloud: a service the simulator
//! knows, in its own region; at most one subnet per availability zone, each
//! getting an endpoint network interface with a private address from the
//! subnet; security groups of the VPC (its default group when none are
//! given); private DNS only with both DNS attributes of the VPC on, and only
//! one endpoint per service and VPC with it (the private hosted zones would
//! conflict). An endpoint is `pending` for about a minute before it is
//! `available`, and `deleting` for a while after DeleteVpcEndpoints; its
//! network interfaces keep its subnets and security groups from being
//! deleted until then. Also the provider handler for [`VpcEndpoint`], which
//! waits for both, and changes subnets, groups and private DNS in place with
//! ModifyVpcEndpoint.
//!
//! Gateway endpoints (S3, DynamoDB) live in `gateway_endpoints`.
//! What an endpoint does for reachability is decided on the network model
//! (`model`), which sees available endpoints only.

use super::SimProvider;
use super::cloud::{Clock, Cloud, Done, fresh_id};
use super::dispatch::{Made, Simulated, resolved};
use super::latency::Op;
use super::network::SubnetRec;
use super::security::SecurityGroupRec;
use super::table::{Life, Phase, Record, Stored, Use, facts};
use crate::aws::ec2::{EndpointType, VpcEndpoint, VpcEndpointOutputs};
use crate::provider::ProviderError;
use crate::resource::{PrefixListId, Tags, Urn, VpcEndpointId};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The services (`com.amazonaws.<region>.<service>`) the simulator offers
/// interface endpoints for.
const SERVICES: &[&str] = &[
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "s3",
    "dynamodb",
    "sts",
    "secretsmanager",
    "kms",
];

/// One endpoint network interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct EndpointInterface {
    /// `eni-…`
    pub id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its address, from the subnet.
    pub private_ip: Ipv4Addr,
}

/// An interface VPC endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct EndpointRec {
    /// `vpce-…`
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// `com.amazonaws.<region>.<service>`.
    pub service_name: String,
    /// The short service name (`ecs-agent`).
    pub service: String,
    /// One per subnet, in the order the subnets were given.
    pub interfaces: Vec<EndpointInterface>,
    /// The interfaces' security groups.
    pub security_group_ids: Vec<String>,
    /// The service's regional name resolves to the interfaces.
    pub private_dns: bool,
    /// Interface or gateway.
    #[serde(default)]
    pub endpoint_type: EndpointType,
    /// The route tables with its prefix-list route (gateway endpoints).
    #[serde(default)]
    pub route_table_ids: Vec<String>,
    /// The policy document, if one was given.
    #[serde(default)]
    pub policy: Option<String>,
    /// Its life-cycle state.
    pub state: Phase,
    /// When the current `pending` or `deleting` state ends (cloud clock).
    pub until_ms: u64,
    /// Tags.
    pub tags: Tags,
}

impl EndpointRec {
    /// Deleted (AWS keeps showing deleted endpoints for a while).
    pub(super) fn is_gone(&self) -> bool {
        self.state == Phase::Deleted
    }

    /// A gateway endpoint.
    pub(super) fn is_gateway(&self) -> bool {
        self.endpoint_type == EndpointType::Gateway
    }

    /// The subnets it has interfaces in.
    pub(super) fn subnet_ids(&self) -> impl Iterator<Item = &String> + '_ {
        self.interfaces.iter().map(|i| &i.subnet_id)
    }
}

/// What CreateVpcEndpoint asks for.
#[derive(Clone, Debug)]
pub(super) struct EndpointSpec {
    /// The VPC.
    pub vpc_id: String,
    /// The full service name.
    pub service_name: String,
    /// Subnets for interfaces, one per zone.
    pub subnet_ids: Vec<String>,
    /// Security groups (none: the VPC's default group).
    pub security_group_ids: Vec<String>,
    /// Private DNS on.
    pub private_dns: bool,
    /// Interface or gateway.
    pub endpoint_type: EndpointType,
    /// Route tables (gateway endpoints).
    pub route_table_ids: Vec<String>,
    /// The policy document.
    pub policy: Option<String>,
}

/// What ModifyVpcEndpoint changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct EndpointChange {
    /// Subnets to add interfaces in.
    pub add_subnets: Vec<String>,
    /// Subnets whose interfaces go.
    pub remove_subnets: Vec<String>,
    /// Security groups to add.
    pub add_groups: Vec<String>,
    /// Security groups to remove.
    pub remove_groups: Vec<String>,
    /// Private DNS on or off, if it changes.
    pub private_dns: Option<bool>,
    /// Route tables to associate (gateway endpoints).
    pub add_route_tables: Vec<String>,
    /// Route tables to disassociate.
    pub remove_route_tables: Vec<String>,
    /// The new policy, if it changes (`Some(None)`: back to AWS's default).
    pub policy: Option<Option<String>>,
}

pub(super) fn invalid_parameter(message: impl Into<String>) -> ProviderError {
    ProviderError::new("InvalidParameter", message)
}

facts!(
    EndpointRec for VpcEndpoint, "DescribeVpcEndpoints": "VPC endpoints",
    not found "InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '{id}' does not exist"
);

impl Record for EndpointRec {
    fn life(&self) -> Life {
        self.state.life()
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }

    /// Its network interfaces' subnets and security groups.
    fn uses(&self, id: &str) -> Vec<Use> {
        let interfaces = self.interfaces.iter().map(|i| {
            let eni = format!("{} ({id})", i.id);
            let what = "VPC endpoint network interfaces";
            Use::new(SubnetRec::TYPE, &i.subnet_id, what, &eni)
        });
        let groups = self.security_group_ids.iter();
        let groups = groups.map(|g| Use::of::<Self>(SecurityGroupRec::TYPE, g, id));
        interfaces.chain(groups).collect()
    }
}

impl Cloud {
    /// Endpoints that still have network interfaces (not deleted).
    pub(super) fn live_endpoints(&self) -> impl Iterator<Item = &EndpointRec> + '_ {
        self.vpc_endpoints.values().filter(|e| !e.is_gone())
    }

    /// The short name of a service this region offers, or `InvalidServiceName`.
    pub(super) fn endpoint_service(&self, service_name: &str) -> Result<String, ProviderError> {
        let prefix = format!("com.amazonaws.{}.", self.region);
        service_name
            .strip_prefix(&prefix)
            .filter(|s| SERVICES.contains(s))
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    "InvalidServiceName",
                    format!("The Vpc Endpoint Service '{service_name}' does not exist"),
                )
            })
    }

    /// Subnets must exist, be in `vpc_id`, and be one per availability zone.
    fn check_endpoint_subnets(&self, vpc_id: &str, subnets: &[&String]) -> Done {
        let mut zones: BTreeMap<&str, &str> = BTreeMap::new();
        for id in subnets {
            let subnet = self.subnets.get(id)?;
            if subnet.vpc_id != vpc_id {
                return Err(invalid_parameter(format!(
                    "The subnet ID '{id}' belongs to {}, not to the endpoint's VPC {vpc_id}",
                    subnet.vpc_id
                )));
            }
            if let Some(other) = zones.insert(&subnet.availability_zone, id) {
                return Err(ProviderError::new(
                    "DuplicateSubnetsInSameZone",
                    format!(
                        "Found another VPC endpoint subnet in the availability zone of {id} ({other}). VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service."
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Security groups must exist and be in `vpc_id`.
    fn check_endpoint_groups(&self, vpc_id: &str, groups: &[String]) -> Done {
        for g in groups {
            let group = self.security_groups.get(g)?;
            if group.vpc_id != vpc_id {
                return Err(invalid_parameter(format!(
                    "Security group {g} and VPC {vpc_id} belong to different networks"
                )));
            }
        }
        Ok(())
    }

    /// Private DNS needs the VPC's DNS attributes, and no other endpoint of
    /// the service in the VPC with private DNS.
    fn check_private_dns(&self, vpc_id: &str, service: &str, except: Option<&str>) -> Done {
        let vpc = self.vpcs.get(vpc_id)?;
        if !(vpc.enable_dns_support && vpc.enable_dns_hostnames) {
            return Err(invalid_parameter(format!(
                "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for {vpc_id}"
            )));
        }
        let conflict = self.live_endpoints().find(|e| {
            e.vpc_id == vpc_id
                && e.service == service
                && e.private_dns
                && Some(e.id.as_str()) != except
        });
        if let Some(other) = conflict {
            return Err(invalid_parameter(format!(
                "private-dns-enabled cannot be set because there is already a conflicting DNS domain for {service}.{}.amazonaws.com in the VPC {vpc_id} ({})",
                self.region, other.id
            )));
        }
        Ok(())
    }

    /// An endpoint network interface in each of `subnets`.
    fn endpoint_interfaces(
        &self,
        subnets: &[&String],
    ) -> Result<Vec<EndpointInterface>, ProviderError> {
        let mut taken: BTreeMap<String, ()> = self
            .vpc_endpoints
            .values()
            .flat_map(|e| e.interfaces.iter().map(|i| (i.id.clone(), ())))
            .collect();
        let mut out = Vec::new();
        for subnet in subnets {
            let id = fresh_id("eni", &taken);
            taken.insert(id.clone(), ());
            out.push(EndpointInterface {
                id,
                subnet_id: subnet.to_string(),
                private_ip: self.allocate_private_ip(subnet)?,
            });
        }
        Ok(out)
    }

    /// CreateVpcEndpoint (interface): `pending` until `clock` says it is available.
    pub(super) fn create_vpc_endpoint(
        &mut self,
        spec: EndpointSpec,
        tags: Tags,
        clock: &Clock,
    ) -> Result<String, ProviderError> {
        if spec.endpoint_type == EndpointType::Gateway {
            return self.create_gateway_endpoint(spec, tags, clock);
        }
        let vpc = self.vpcs.get(&spec.vpc_id)?;
        let default_group = vpc.default_security_group_id.clone();
        let service = self.endpoint_service(&spec.service_name)?;
        let subnets: Vec<&String> = spec.subnet_ids.iter().collect();
        self.check_endpoint_subnets(&spec.vpc_id, &subnets)?;
        let groups = if spec.security_group_ids.is_empty() {
            vec![default_group]
        } else {
            spec.security_group_ids.clone()
        };
        self.check_endpoint_groups(&spec.vpc_id, &groups)?;
        if spec.private_dns {
            self.check_private_dns(&spec.vpc_id, &service, None)?;
        }
        let interfaces = self.endpoint_interfaces(&subnets)?;
        let id = fresh_id("vpce", &self.vpc_endpoints);
        let endpoint = EndpointRec {
            id: id.clone(),
            vpc_id: spec.vpc_id,
            service_name: spec.service_name,
            service,
            interfaces,
            security_group_ids: groups,
            private_dns: spec.private_dns,
            endpoint_type: EndpointType::Interface,
            route_table_ids: Vec::new(),
            policy: spec.policy,
            state: Phase::Pending,
            until_ms: clock.after(Op::EndpointCreate),
            tags,
        };
        self.vpc_endpoints.insert(id.clone(), endpoint);
        Ok(id)
    }

    /// ModifyVpcEndpoint: subnets, security groups and private DNS, checked
    /// as at creation.
    pub(super) fn modify_vpc_endpoint(&mut self, id: &str, change: &EndpointChange) -> Done {
        let current = self.vpc_endpoints.get(id)?.clone();
        if current.state == Phase::Deleting {
            return Err(ProviderError::new(
                "IncorrectState",
                format!("The Vpc Endpoint {id} is being deleted"),
            ));
        }
        if current.is_gateway() {
            return self.modify_gateway_endpoint(id, change);
        }
        let kept: Vec<&EndpointInterface> = current
            .interfaces
            .iter()
            .filter(|i| !change.remove_subnets.contains(&i.subnet_id))
            .collect();
        let mut subnets: Vec<&String> = kept.iter().map(|i| &i.subnet_id).collect();
        subnets.extend(change.add_subnets.iter());
        self.check_endpoint_subnets(&current.vpc_id, &subnets)?;
        let mut groups: Vec<String> = current.security_group_ids.clone();
        groups.retain(|g| !change.remove_groups.contains(g));
        for g in &change.add_groups {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
        if groups.is_empty() {
            return Err(invalid_parameter(
                "An interface endpoint needs at least one security group",
            ));
        }
        self.check_endpoint_groups(&current.vpc_id, &groups)?;
        let private_dns = change.private_dns.unwrap_or(current.private_dns);
        if private_dns && !current.private_dns {
            self.check_private_dns(&current.vpc_id, &current.service, Some(id))?;
        }
        let added: Vec<&String> = change.add_subnets.iter().collect();
        let mut interfaces: Vec<EndpointInterface> = kept.into_iter().cloned().collect();
        interfaces.extend(self.endpoint_interfaces(&added)?);
        let e = self.vpc_endpoints.get_mut(id)?;
        e.interfaces = interfaces;
        e.security_group_ids = groups;
        e.private_dns = private_dns;
        if let Some(policy) = &change.policy {
            e.policy = policy.clone();
        }
        Ok(())
    }

    /// DeleteVpcEndpoints (one id): `deleting`, then `deleted`.
    pub(super) fn delete_vpc_endpoint(&mut self, id: &str, clock: &Clock) -> Done {
        let done = clock.after(Op::EndpointDelete);
        self.vpc_endpoints.start_deleting(id, done)?;
        self.drop_endpoint_routes(id);
        Ok(())
    }
}

/// The endpoint `props` declares.
fn endpoint_spec(urn: &Urn, props: &VpcEndpoint) -> Result<EndpointSpec, ProviderError> {
    let mut subnet_ids = Vec::new();
    for s in &props.subnet_ids {
        subnet_ids.push(resolved(urn, "subnet_ids", s)?.to_string());
    }
    let mut security_group_ids = Vec::new();
    for g in &props.security_group_ids {
        let g = resolved(urn, "security_group_ids", g)?.to_string();
        if !security_group_ids.contains(&g) {
            security_group_ids.push(g);
        }
    }
    let mut route_table_ids = Vec::new();
    for t in &props.route_table_ids {
        let t = resolved(urn, "route_table_ids", t)?.to_string();
        if !route_table_ids.contains(&t) {
            route_table_ids.push(t);
        }
    }
    Ok(EndpointSpec {
        vpc_id: resolved(urn, "vpc_id", &props.vpc_id)?.to_string(),
        service_name: props.service_name.clone(),
        subnet_ids,
        security_group_ids,
        private_dns: props.private_dns_enabled,
        endpoint_type: props.vpc_endpoint_type,
        route_table_ids,
        policy: props.policy.clone(),
    })
}

#[async_trait]
impl Simulated for VpcEndpoint {
    fn outputs(_: &Cloud, e: &EndpointRec) -> VpcEndpointOutputs {
        VpcEndpointOutputs {
            id: VpcEndpointId::new(&e.id),
            state: e.state.as_str().to_string(),
            private_ips: e
                .interfaces
                .iter()
                .map(|i| i.private_ip.to_string())
                .collect(),
            prefix_list_id: e.prefix_list().map(PrefixListId::new),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let spec = endpoint_spec(urn, props)?;
        sim.api("CreateVpcEndpoint", |c, clock| {
            c.create_vpc_endpoint(spec, props.tags.clone(), clock)
        })
    }

    /// ModifyVpcEndpoint with what differs: subnets, groups, private DNS.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let want = endpoint_spec(urn, props)?;
        let have = sim.peek(|c| c.vpc_endpoints.get(id).cloned())?;
        if have.is_gateway() {
            let change = EndpointChange {
                add_route_tables: (want.route_table_ids.iter())
                    .filter(|t| !have.route_table_ids.contains(t))
                    .cloned()
                    .collect(),
                remove_route_tables: (have.route_table_ids.iter())
                    .filter(|t| !want.route_table_ids.contains(t))
                    .cloned()
                    .collect(),
                policy: (want.policy != have.policy).then_some(want.policy),
                ..EndpointChange::default()
            };
            if change != EndpointChange::default() {
                sim.api("ModifyVpcEndpoint", |c, _| {
                    c.modify_vpc_endpoint(id, &change)
                })?;
            }
            return Ok(());
        }
        let have_subnets: Vec<&String> = have.subnet_ids().collect();
        let want_groups = if want.security_group_ids.is_empty() {
            let default = sim.peek(|c| {
                c.vpcs
                    .get(&have.vpc_id)
                    .map(|v| v.default_security_group_id.clone())
            })?;
            vec![default]
        } else {
            want.security_group_ids
        };
        let change = EndpointChange {
            add_subnets: (want.subnet_ids.iter())
                .filter(|s| !have_subnets.contains(s))
                .cloned()
                .collect(),
            remove_subnets: (have_subnets.iter())
                .filter(|s| !want.subnet_ids.contains(s))
                .map(|s| s.to_string())
                .collect(),
            add_groups: (want_groups.iter())
                .filter(|g| !have.security_group_ids.contains(g))
                .cloned()
                .collect(),
            remove_groups: (have.security_group_ids.iter())
                .filter(|g| !want_groups.contains(g))
                .cloned()
                .collect(),
            private_dns: (want.private_dns != have.private_dns).then_some(want.private_dns),
            policy: (want.policy != have.policy).then_some(want.policy.clone()),
            ..EndpointChange::default()
        };
        if change != EndpointChange::default() {
            sim.api("ModifyVpcEndpoint", |c, _| {
                c.modify_vpc_endpoint(id, &change)
            })?;
        }
        Ok(())
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteVpcEndpoints", |c, clock| {
            c.delete_vpc_endpoint(id, clock)
        })
    }

    /// Waits for `available`, polling as Terraform does.
    async fn settle(sim: &SimProvider, id: &str) -> Made<Self> {
        sim.available::<Self>(id, "VpcEndpointFailed").await
    }

    async fn gone(sim: &SimProvider, id: &str) -> Done {
        sim.deleted::<Self>(id).await
    }
}
