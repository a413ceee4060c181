//! ECS in the simulated cloud: clusters (CreateCluster is idempotent for an
//! ACTIVE cluster of that name, as in AWS; no deleting one with services or
//! registered container instances) and the rule keel exists for, container instance
//! registration. A running instance's agent registers with the cluster its
//! user data sets (read by [`agent_cluster`], as the analysis reads it:
//! `ECS_CLUSTER` written to `/etc/ecs/ecs.config`, else `default`; user data
//! it can't read leaves the agent unregistered, W106) only if the cluster is
//! active, the instance has an instance profile holding a role, and it
//! reaches the regional `ecs` endpoint over HTTPS. Reaching is decided by
//! [`reach_service`] on the cloud's network model (`model`) — the same rules
//! the pre-deploy analysis applies — so routes, gateways, public addresses,
//! security groups, network ACLs, interface endpoints and VPC DNS all count.
//! A registered agent is connected only while it also reaches `ecs-agent`;
//! one that doesn't stays registered, disconnected, as in ECS (without
//! `ecs-telemetry` it stays connected and sends no metrics). Agents keep retrying, and a registration lasts until the instance
//! terminates. Also the provider handler for [`EcsCluster`].

use super::SimProvider;
use super::cloud::{Cloud, Done, physical_name};
use super::compute::{InstanceRec, InstanceState};
use super::dispatch::Simulated;
use super::latency::Op;
use super::table::{Life, Record, Users, facts, listing};
use crate::analysis::network::Model;
use crate::analysis::reach::{Blocked, Code, Source, reach_service};
use crate::analysis::{AgentCluster, agent_cluster};
use crate::aws::ecs::{EcsCluster, EcsClusterOutputs};
use crate::provider::ProviderError;
use crate::resource::{ClusterName, Tags, URN_TAG, Urn};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Why an agent can't register, or can't stay connected.
struct Failure {
    code: Code,
    reason: String,
}

impl Failure {
    fn new(code: Code, reason: String) -> Self {
        Self { code, reason }
    }
}

impl From<Blocked> for Failure {
    fn from(b: Blocked) -> Self {
        Self::new(b.code, b.reason)
    }
}

/// What one look by an agent found.
struct Attempt {
    /// The cluster it registered with just now.
    cluster: Option<String>,
    /// Why it isn't registered, or (registered) isn't connected.
    failure: Option<Failure>,
}

/// Whether instance `i` reaches `service`'s endpoint over HTTPS on `model`:
/// the path on success, the blocking hop otherwise.
pub(super) fn instance_reach(
    i: &InstanceRec,
    model: &Model,
    service: &str,
) -> Result<Vec<String>, Blocked> {
    let source = Source {
        label: &i.id,
        subnet: &i.subnet_id,
        address: Ipv4Net::from(i.private_ip),
        public_ip: i.public_ip.is_some(),
        security_groups: &i.security_group_ids,
    };
    reach_service(model, &source, service)
}

/// Whether `i`'s agent keeps its connection: it reaches `ecs-agent` (the
/// agent's connection, ACS). `ecs-telemetry` carries only metrics: an
/// agent that can't reach it stays connected, as on AWS.
fn agent_connection(i: &InstanceRec, model: &Model) -> Result<(), Failure> {
    instance_reach(i, model, "ecs-agent")
        .map(drop)
        .map_err(|b| {
            Failure::new(
                Code::AgentDisconnected,
                format!(
                    "{}'s agent is registered but disconnected: ecs-agent is unreachable ({}: {})",
                    i.id, b.code, b.reason
                ),
            )
        })
}

/// An ECS cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ClusterRec {
    pub name: String,
    pub status: String,
    pub container_insights: bool,
    pub tags: Tags,
}

facts!(
    ClusterRec for EcsCluster, "DescribeClusters": "clusters",
    not found "ClusterNotFoundException", "Cluster not found.",
    tags "TagResource", "UntagResource"
);

impl Record for ClusterRec {
    /// Services first (`ClusterContainsServicesException`), then
    /// container instances.
    fn in_use(_: &str, users: &Users) -> ProviderError {
        if let Some((_, services)) = users.iter().find(|(what, _)| *what == "services") {
            return ProviderError::new(
                "ClusterContainsServicesException",
                format!(
                    "The Cluster cannot be deleted while Services are active ({}).",
                    services.join(", ")
                ),
            );
        }
        ProviderError::new(
            "ClusterContainsContainerInstancesException",
            format!(
                "The Cluster cannot be deleted while Container Instances are active or draining ({}).",
                listing(users)
            ),
        )
    }

    fn life(&self) -> Life {
        match self.status.as_str() {
            "ACTIVE" => Life::Live,
            _ => Life::Gone,
        }
    }
}

impl Cloud {
    /// CreateCluster: an ACTIVE cluster of that name is returned as it is.
    pub(super) fn create_cluster(
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
    pub(super) fn update_cluster_settings(&mut self, name: &str, container_insights: bool) -> Done {
        self.clusters.get_mut(name)?.container_insights = container_insights;
        Ok(())
    }

    /// DeleteCluster: not while container instances are registered.
    pub(super) fn delete_cluster(&mut self, name: &str) -> Done {
        self.remove_unused::<ClusterRec>(name).map(drop)
    }

    /// Container instances registered with cluster `name`.
    pub(super) fn registered_count(&self, name: &str) -> u64 {
        let registered = self
            .instances
            .values()
            .filter(|i| i.registered_cluster.as_deref() == Some(name));
        registered.count() as u64
    }

    /// Container instances registered with cluster `name` whose agent is
    /// connected.
    pub(super) fn connected_count(&self, name: &str) -> u64 {
        let connected = self
            .instances
            .values()
            .filter(|i| i.registered_cluster.as_deref() == Some(name) && i.agent_connected);
        connected.count() as u64
    }

    /// Every running, unregistered instance's agent tries to register, and
    /// every registered one's connection is brought up to date; the network
    /// model is built once for all of them.
    pub(super) fn register_instances(&mut self) {
        let running = self
            .instances
            .values()
            .filter(|i| i.state == InstanceState::Running);
        if running.clone().next().is_none() {
            return;
        }
        let model = self.network_model();
        let outcomes: Vec<(String, Attempt)> = running
            .map(|i| (i.id.clone(), self.attempt(i, &model)))
            .collect();
        for (id, attempt) in outcomes {
            if let Ok(i) = self.instances.get_mut(&id) {
                if let Some(cluster) = attempt.cluster {
                    i.registered_cluster = Some(cluster);
                }
                i.agent_connected = attempt.failure.is_none() && i.registered_cluster.is_some();
                i.registration_code = attempt
                    .failure
                    .as_ref()
                    .map(|f| f.code.as_str().to_string());
                i.registration_error = attempt.failure.map(|f| f.reason);
            }
        }
    }

    /// One look by `i`'s agent: registering if it isn't yet, then whether
    /// it keeps a connection.
    fn attempt(&self, i: &InstanceRec, model: &Model) -> Attempt {
        let cluster = match &i.registered_cluster {
            Some(_) => None,
            None => match self.registration(i, model) {
                Ok(cluster) => Some(cluster),
                Err(failure) => {
                    return Attempt {
                        cluster: None,
                        failure: Some(failure),
                    };
                }
            },
        };
        Attempt {
            cluster,
            failure: agent_connection(i, model).err(),
        }
    }

    /// The cluster `i`'s agent can register with, or why it can't: the
    /// cluster its user data names must be ACTIVE, its instance profile must
    /// hold a role, and it must reach the `ecs` endpoint.
    fn registration(&self, i: &InstanceRec, model: &Model) -> Result<String, Failure> {
        let (cluster, code, source) = match agent_cluster(i.spec.user_data.as_deref()) {
            AgentCluster::Named(n) => {
                (n, Code::WrongCluster, "ECS_CLUSTER in its user data".into())
            }
            AgentCluster::Default { why, .. } => (
                "default".to_string(),
                Code::ClusterNotSet,
                format!("nothing sets ECS_CLUSTER, so the agent uses `default`: {why}"),
            ),
            AgentCluster::Unknown(what) => {
                return Err(Failure::new(
                    Code::UserDataUnreadable,
                    format!(
                        "{}: the simulator can't tell which cluster the agent joins: {what}",
                        i.id
                    ),
                ));
            }
        };
        if self.clusters.get(&cluster).is_err() {
            return Err(Failure::new(
                code,
                format!(
                    "{}: cluster `{cluster}` ({source}) doesn't exist or isn't ACTIVE",
                    i.id
                ),
            ));
        }
        let no_profile = |why: String| Failure::new(Code::NoInstanceProfile, why);
        let profile = i.spec.iam_instance_profile.as_deref().ok_or_else(|| {
            no_profile(format!(
                "{} has no instance profile: the ECS agent has no credentials to register",
                i.id
            ))
        })?;
        let holder = self.instance_profiles.get(profile).map_err(|_| {
            no_profile(format!(
                "{}: instance profile `{profile}` doesn't exist",
                i.id
            ))
        })?;
        if !holder.roles.iter().any(|r| self.roles.contains_key(r)) {
            return Err(no_profile(format!(
                "{}: instance profile `{profile}` holds no role",
                i.id
            )));
        }
        instance_reach(i, model, "ecs").map_err(Failure::from)?;
        Ok(cluster)
    }
}

impl Simulated for EcsCluster {
    const CREATE: Op = Op::EcsCluster;

    fn outputs(cloud: &Cloud, c: &ClusterRec) -> EcsClusterOutputs {
        EcsClusterOutputs {
            id: ClusterName::new(&c.name),
            name: ClusterName::new(&c.name),
            arn: cloud.arn("ecs", &format!("cluster/{}", c.name)),
            status: c.status.clone(),
            registered_container_instances_count: cloud.registered_count(&c.name),
            connected_container_instances_count: cloud.connected_count(&c.name),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let name = physical_name(props.name.as_deref(), urn.name());
        // CreateCluster would hand back an existing ACTIVE cluster; refuse to
        // adopt one this resource didn't create.
        let existing = sim.api("DescribeClusters", |c, _| {
            let found = c.clusters.find(&name);
            Ok(found.map(|k| k.tags.get(URN_TAG).cloned()))
        })?;
        let mine = props.tags.get(URN_TAG);
        if let Some(owner) = existing
            && (owner.is_none() || owner.as_ref() != mine)
        {
            let by = owner.map_or("outside keel".to_string(), |u| format!("by {u}"));
            return Err(ProviderError::new(
                "ResourceInUseException",
                format!(
                    "{urn}: ECS cluster `{name}` already exists (ACTIVE, created {by}); ECS would return it instead of creating a new one. Choose another name or delete that cluster."
                ),
            ));
        }
        sim.api("CreateCluster", |c, _| {
            c.create_cluster(&name, props.container_insights, props.tags.clone());
            Ok(())
        })?;
        Ok(name)
    }

    /// UpdateClusterSettings containerInsights, if it differs.
    fn modify(sim: &SimProvider, _: &Urn, id: &str, props: &Self) -> Done {
        let insights = |k: &ClusterRec| k.container_insights;
        let want = props.container_insights;
        sim.change(id, "UpdateClusterSettings", insights, want, |c, on| {
            c.update_cluster_settings(id, on)
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteCluster", |c, _| c.delete_cluster(id))
    }
}
