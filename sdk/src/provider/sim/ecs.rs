//! ECS in the simulated cloud: clusters (CreateCluster is idempotent for an
//! ACTIVE cluster of that name, as in AWS; no deleting one with registered
//! container instances) and the rule keel exists for, container instance
//! registration. A running instance's agent registers with the cluster its
//! user data names (`ECS_CLUSTER=…`, else `default`) only if the cluster is
//! active, the instance has an instance profile holding a role, and it can
//! reach the regional ECS endpoint over HTTPS: routes by longest prefix from
//! its subnet's route table to an attached internet gateway (with a public
//! address) or to an available public NAT gateway whose own subnet routes to
//! an attached internet gateway, and security groups allowing TCP 443 out.
//! Agents keep retrying, and a registration lasts until the instance
//! terminates. Also the provider handler for [`EcsCluster`].

use super::cloud::{Cloud, Kind};
use super::compute::{InstanceRec, InstanceState};
use super::latency::Op;
use super::routing::{Hop, Target};
use super::{outputs, Outputs, SimProvider, Simulated};
use crate::aws::ec2::Connectivity;
use crate::aws::ecs::{EcsCluster, EcsClusterOutputs};
use crate::provider::ProviderError;
use crate::resource::{Arn, ClusterName, Tags, Urn, URN_TAG};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The address the simulator resolves the regional ECS endpoint
/// (`ecs.<region>.amazonaws.com`) to: a public Amazon address, outside any
/// private range, so only a route to the internet reaches it.
pub const ECS_ENDPOINT_ADDRESS: Ipv4Addr = Ipv4Addr::new(52, 46, 141, 38);

/// An ECS cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ClusterRec {
    pub name: String,
    pub status: String,
    pub container_insights: bool,
    pub tags: Tags,
}

/// The cluster an ECS agent joins given instance user data: the last
/// `ECS_CLUSTER=` value (up to whitespace, a quote or the end of the line),
/// else `default`, as the agent does.
pub(super) fn cluster_in_user_data(user_data: Option<&str>) -> String {
    const KEY: &str = "ECS_CLUSTER=";
    let text = user_data.unwrap_or("");
    let value = text
        .match_indices(KEY)
        .filter(|(at, _)| {
            // `MY_ECS_CLUSTER=` is another variable.
            let before = text[..*at].chars().next_back();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            let rest = &text[at + KEY.len()..];
            // `ECS_CLUSTER="name"`: the shell drops the quotes.
            let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ';' | '`'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .last()
        .unwrap_or("");
    if value.is_empty() {
        "default".to_string()
    } else {
        value.to_string()
    }
}

impl Cloud {
    /// The ACTIVE cluster `name`.
    pub fn cluster(&self, name: &str) -> Result<&ClusterRec, ProviderError> {
        let found = self.clusters.get(name).filter(|c| c.status == "ACTIVE");
        found.ok_or_else(|| Kind::Cluster.not_found(name))
    }

    /// CreateCluster: an ACTIVE cluster of that name is returned as it is.
    pub fn create_cluster(
        &mut self,
        name: &str,
        container_insights: bool,
        tags: Tags,
    ) -> &ClusterRec {
        self.clusters
            .entry(name.to_string())
            .or_insert_with(|| ClusterRec {
                name: name.to_string(),
                status: "ACTIVE".into(),
                container_insights,
                tags,
            })
    }

    /// UpdateClusterSettings containerInsights.
    pub fn update_cluster_settings(
        &mut self,
        name: &str,
        container_insights: bool,
    ) -> Result<(), ProviderError> {
        self.cluster(name)?;
        if let Some(c) = self.clusters.get_mut(name) {
            c.container_insights = container_insights;
        }
        Ok(())
    }

    /// DeleteCluster: not while container instances are registered.
    pub fn delete_cluster(&mut self, name: &str) -> Result<(), ProviderError> {
        self.cluster(name)?;
        let registered = self.registered_count(name);
        if registered > 0 {
            return Err(ProviderError::new(
                "ClusterContainsContainerInstancesException",
                format!("The Cluster cannot be deleted while Container Instances are active or draining ({registered} registered)."),
            ));
        }
        self.clusters.remove(name);
        Ok(())
    }

    /// Container instances registered with cluster `name`.
    pub fn registered_count(&self, name: &str) -> u64 {
        let registered = self
            .instances
            .values()
            .filter(|i| i.registered_cluster.as_deref() == Some(name));
        registered.count() as u64
    }

    /// Every running, unregistered instance's agent tries to register.
    pub fn register_instances(&mut self) {
        let attempts: Vec<(String, Result<String, String>)> = self
            .instances
            .values()
            .filter(|i| i.state == InstanceState::Running && i.registered_cluster.is_none())
            .map(|i| (i.id.clone(), self.registration(i)))
            .collect();
        for (id, attempt) in attempts {
            if let Some(i) = self.instances.get_mut(&id) {
                match attempt {
                    Ok(cluster) => {
                        i.registered_cluster = Some(cluster);
                        i.registration_error = None;
                    }
                    Err(why) => i.registration_error = Some(why),
                }
            }
        }
    }

    /// The cluster `i`'s agent can register with, or why it can't.
    fn registration(&self, i: &InstanceRec) -> Result<String, String> {
        let cluster = cluster_in_user_data(i.spec.user_data.as_deref());
        if self.cluster(&cluster).is_err() {
            let source = if i
                .spec
                .user_data
                .as_deref()
                .is_some_and(|u| u.contains("ECS_CLUSTER="))
            {
                "ECS_CLUSTER in its user data"
            } else {
                "no ECS_CLUSTER in its user data, so the agent uses `default`"
            };
            return Err(format!(
                "{}: cluster `{cluster}` ({source}) doesn't exist or isn't ACTIVE",
                i.id
            ));
        }
        let profile = i.spec.iam_instance_profile.as_deref().ok_or_else(|| {
            format!(
                "{} has no instance profile: the ECS agent has no credentials to register",
                i.id
            )
        })?;
        let holder = self
            .instance_profile(profile)
            .map_err(|_| format!("{}: instance profile `{profile}` doesn't exist", i.id))?;
        if !holder.roles.iter().any(|r| self.roles.contains_key(r)) {
            return Err(format!(
                "{}: instance profile `{profile}` holds no role",
                i.id
            ));
        }
        self.ecs_reachability(i)?;
        Ok(cluster)
    }

    /// Whether instance `i` can open HTTPS to the regional ECS endpoint, or
    /// the hop that fails.
    pub fn ecs_reachability(&self, i: &InstanceRec) -> Result<(), String> {
        let addr = ECS_ENDPOINT_ADDRESS;
        let endpoint = format!("{addr} (ecs.{}.amazonaws.com)", self.region);
        let vpc = self
            .vpcs
            .get(&i.vpc_id)
            .ok_or_else(|| format!("{}: {} doesn't exist", i.id, i.vpc_id))?;
        if !vpc.enable_dns_support {
            return Err(format!(
                "{} has DNS support disabled: {} can't resolve ecs.{}.amazonaws.com",
                vpc.id, i.id, self.region
            ));
        }
        let (table, dest, target) = self.route_to(&i.subnet_id, addr, &endpoint)?;
        match target {
            Target::InternetGateway(igw) => {
                self.check_igw(igw, &vpc.id, &table, dest)?;
                if i.public_ip.is_none() {
                    return Err(format!(
                        "{} has no public IP address, so traffic it sends to {endpoint} through internet gateway {igw} (route {dest} in {table} of {}) can't come back: give it a public IP or route through a NAT gateway",
                        i.id, i.subnet_id
                    ));
                }
            }
            Target::NatGateway(nat_id) => {
                let via = format!(
                    "{} routes {dest} to NAT gateway {nat_id} ({table})",
                    i.subnet_id
                );
                let nat = self
                    .nat_gateway(nat_id)
                    .map_err(|_| format!("{via}, which doesn't exist (blackhole)"))?;
                if nat.state != super::gateways::NatState::Available {
                    return Err(format!(
                        "{via}, which is {}, not available",
                        nat.state.as_str()
                    ));
                }
                if nat.connectivity == Connectivity::Private || nat.allocation_id.is_none() {
                    return Err(format!(
                        "{via}, which is a private NAT gateway: it can't reach the internet"
                    ));
                }
                let context = format!("{via}, which sits in {}", nat.subnet_id);
                let (table2, dest2, target2) = self
                    .route_to(&nat.subnet_id, addr, &endpoint)
                    .map_err(|e| format!("{context}: {e}"))?;
                match target2 {
                    Target::InternetGateway(igw) => self
                        .check_igw(igw, &vpc.id, &table2, dest2)
                        .map_err(|e| format!("{context}: {e}"))?,
                    Target::NatGateway(other) => {
                        let itself = if other == nat_id { " (itself)" } else { "" };
                        return Err(format!(
                            "{context}, whose route table {table2} sends {dest2} to NAT gateway {other}{itself}, not to an internet gateway"
                        ));
                    }
                }
            }
        }
        if !self.egress_allows_tcp(&i.security_group_ids, 443, addr) {
            return Err(format!(
                "security groups {} of {} allow no outbound TCP 443 to {endpoint}",
                i.security_group_ids.join(", "),
                i.id
            ));
        }
        Ok(())
    }

    /// The route subnet `subnet_id` uses for `addr`: table, destination and gateway.
    fn route_to(
        &self,
        subnet_id: &str,
        addr: Ipv4Addr,
        endpoint: &str,
    ) -> Result<(String, ipnet::Ipv4Net, &Target), String> {
        let table = self
            .effective_route_table(subnet_id)
            .ok_or_else(|| format!("{subnet_id} has no route table"))?;
        let kind = if table.main {
            "the VPC's main route table"
        } else {
            "route table"
        };
        match self.best_route(table, addr) {
            None => Err(format!(
                "{subnet_id} uses {kind} {}, which has no route to {endpoint}",
                table.id
            )),
            Some((dest, Hop::Local)) => Err(format!(
                "{subnet_id} uses {kind} {}, whose local route {dest} covers {endpoint}: it never leaves the VPC",
                table.id
            )),
            Some((dest, Hop::Gateway(target))) => Ok((table.id.clone(), dest, target)),
        }
    }

    /// Internet gateway `igw` (the route `dest` of `table`) must exist and be attached to `vpc`.
    fn check_igw(
        &self,
        igw: &str,
        vpc: &str,
        table: &str,
        dest: ipnet::Ipv4Net,
    ) -> Result<(), String> {
        match self.internet_gateways.get(igw) {
            None => Err(format!(
                "{table} routes {dest} to internet gateway {igw}, which doesn't exist (blackhole)"
            )),
            Some(g) if g.vpc_id.as_deref() != Some(vpc) => Err(format!(
                "{table} routes {dest} to internet gateway {igw}, which isn't attached to {vpc}"
            )),
            Some(_) => Ok(()),
        }
    }

    fn cluster_outputs(&self, c: &ClusterRec) -> EcsClusterOutputs {
        EcsClusterOutputs {
            id: ClusterName::new(&c.name),
            name: ClusterName::new(&c.name),
            arn: cluster_arn(self, &c.name),
            status: c.status.clone(),
            registered_container_instances_count: self.registered_count(&c.name),
        }
    }
}

fn cluster_arn(cloud: &Cloud, name: &str) -> Arn {
    cloud.arn("ecs", &format!("cluster/{name}"))
}

#[async_trait]
impl Simulated for EcsCluster {
    async fn create(sim: &SimProvider, urn: &Urn, props: Self) -> Result<Outputs, ProviderError> {
        let name = super::cloud::physical_name(props.name.as_deref(), urn.name());
        // CreateCluster would hand back an existing ACTIVE cluster; refuse to
        // adopt one this resource didn't create.
        let existing = sim.api("DescribeClusters", |c, _| {
            Ok(c.cluster(&name).ok().map(|k| k.tags.get(URN_TAG).cloned()))
        })?;
        let mine = props.tags.get(URN_TAG);
        if let Some(owner) = existing {
            if owner.is_none() || owner.as_ref() != mine {
                let by = owner.map_or("outside keel".to_string(), |u| format!("by {u}"));
                return Err(ProviderError::new(
                    "ResourceInUseException",
                    format!(
                        "{urn}: ECS cluster `{name}` already exists (ACTIVE, created {by}); ECS would return it instead of creating a new one. Choose another name or delete that cluster."
                    ),
                ));
            }
        }
        sim.api("CreateCluster", |c, _| {
            c.create_cluster(&name, props.container_insights, props.tags.clone());
            Ok(())
        })?;
        sim.pause(Op::EcsCluster).await;
        outputs(&sim.peek(|c| c.cluster(&name).map(|k| c.cluster_outputs(k)))?)
    }

    async fn read(sim: &SimProvider, id: &str) -> Result<Option<Outputs>, ProviderError> {
        let clusters = |c: &Cloud| c.cluster(id).ok().map(|k| c.cluster_outputs(k));
        sim.describe("DescribeClusters", clusters).await
    }

    async fn update(
        sim: &SimProvider,
        _urn: &Urn,
        id: &str,
        props: Self,
    ) -> Result<Outputs, ProviderError> {
        let insights = sim.peek(|c| c.cluster(id).map(|k| k.container_insights))?;
        if insights != props.container_insights {
            sim.api("UpdateClusterSettings", |c, _| {
                c.update_cluster_settings(id, props.container_insights)
            })?;
        }
        sim.retag(Kind::Cluster, id, &props.tags)?;
        sim.pause(Op::Call).await;
        outputs(&sim.peek(|c| c.cluster(id).map(|k| c.cluster_outputs(k)))?)
    }

    async fn delete(sim: &SimProvider, id: &str) -> Result<(), ProviderError> {
        match sim.api("DeleteCluster", |c, _| c.delete_cluster(id)) {
            Err(e) if e.code == "ClusterNotFoundException" => return Ok(()),
            other => other?,
        }
        sim.pause(Op::Call).await;
        Ok(())
    }
}
