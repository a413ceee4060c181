//! Instances and Auto Scaling groups in the simulated cloud. A group keeps
//! its desired capacity from its launch template's latest version, spread
//! across its subnets (fewest instances first, as AZ balancing does); each
//! instance gets a private address from its subnet, a public one if the
//! template or the subnet says so, and boots for a while before it runs.
//! Launches that AWS would refuse (a missing instance profile, a security
//! group of another VPC) fail as scaling activities, recorded on the group
//! and retried. Also the provider handler for [`AutoScalingGroup`], which
//! waits for capacity the way Terraform does.

use super::cloud::{Clock, Cloud, Done, fresh_id, physical_name, random_hex};
use super::dispatch::{Made, Simulated, resolved};
use super::ecs::ClusterRec;
use super::latency::Op;
use super::launch_templates::LaunchSpec;
use super::network::SubnetRec;
use super::security::SecurityGroupRec;
use super::table::{Kept, Life, Record, Stored, Use, facts};
use super::{Poll, SimProvider};
use crate::aws::autoscaling::{AutoScalingGroup, AutoScalingGroupOutputs};
use crate::provider::ProviderError;
use crate::resource::{Arn, AutoScalingGroupName, ClusterName, InstanceId, SubnetId, Tags, Urn};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// An instance's state, as EC2 names it (terminated instances are removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum InstanceState {
    #[serde(rename = "pending")]
    Pending,
    #[serde(rename = "running")]
    Running,
    #[serde(rename = "shutting-down")]
    ShuttingDown,
}

impl InstanceState {
    fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
        }
    }
}

/// An EC2 instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct InstanceRec {
    pub id: String,
    pub group: Option<String>,
    pub launch_template_id: String,
    pub launch_template_version: u64,
    pub spec: LaunchSpec,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub private_ip: Ipv4Addr,
    pub public_ip: Option<Ipv4Addr>,
    /// The network interface's groups (the VPC's default group if the
    /// template names none).
    pub security_group_ids: Vec<String>,
    pub state: InstanceState,
    /// When `pending` or `shutting-down` ends (cloud clock).
    pub until_ms: u64,
    pub launched_ms: u64,
    /// The cluster its ECS agent registered with.
    pub registered_cluster: Option<String>,
    /// Why the agent couldn't register at its last attempt (or, registered,
    /// why it is disconnected).
    pub registration_error: Option<String>,
    /// The finding code of `registration_error` (`E001`…, `E036`).
    #[serde(default)]
    pub registration_code: Option<String>,
    /// Registered, and reaching `ecs-agent` too (`ecs-telemetry` carries
    /// only metrics).
    #[serde(default)]
    pub agent_connected: bool,
    pub tags: Tags,
}

/// An Auto Scaling group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct GroupRec {
    pub name: String,
    pub arn: String,
    pub launch_template_id: String,
    pub subnet_ids: Vec<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    /// Being force-deleted: instances terminate, then the group goes.
    pub deleting: bool,
    /// The last failed scaling activity, until a launch succeeds.
    pub activity_error: Option<String>,
    pub tags: Tags,
}

/// One simulated EC2 instance, as [`SimProvider::instances`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimInstance {
    /// `i-…`
    pub id: InstanceId,
    /// The Auto Scaling group that launched it.
    pub auto_scaling_group: Option<AutoScalingGroupName>,
    /// Its subnet.
    pub subnet_id: SubnetId,
    /// Its availability zone.
    pub availability_zone: String,
    /// Its private address.
    pub private_ip: String,
    /// Its public address, if it has one.
    pub public_ip: Option<String>,
    /// `pending`, `running` or `shutting-down`.
    pub state: String,
    /// The ECS cluster it is registered with.
    pub registered_cluster: Option<ClusterName>,
    /// Why it isn't registered, as of the agent's last attempt; for a
    /// registered instance, why its agent is disconnected.
    pub registration_error: Option<String>,
    /// The stable code of that reason ([`Code`](crate::analysis::reach::Code): `E001` no route,
    /// `E014` no instance profile, `E015` another cluster, `E035` the
    /// `default` cluster, `W106` user data the simulator can't read, `E036`
    /// agent disconnected…).
    pub registration_code: Option<String>,
    /// Whether its agent is registered and connected: it also reaches the
    /// `ecs-agent` endpoint (`ecs-telemetry` carries only metrics). A registered instance
    /// whose agent can't stays registered but disconnected, as in ECS.
    pub agent_connected: bool,
}

/// Auto Scaling's `ValidationError`.
fn validation(message: impl Into<String>) -> ProviderError {
    ProviderError::new("ValidationError", message)
}

facts!(
    InstanceRec: "instances",
    not found "InvalidInstanceID.NotFound", "The instance ID '{id}' does not exist",
    noun "instance"
);

impl Record for InstanceRec {
    fn life(&self) -> Life {
        match self.state {
            InstanceState::ShuttingDown => Life::Deleting,
            _ => Life::Live,
        }
    }

    fn uses(&self, id: &str) -> Vec<Use> {
        let mut uses = vec![Use::new(SubnetRec::TYPE, &self.subnet_id, "instances", id)];
        uses.extend(
            self.security_group_ids
                .iter()
                .map(|g| Use::new(SecurityGroupRec::TYPE, g, "used by instances", id)),
        );
        let cluster = self.registered_cluster.iter();
        uses.extend(cluster.map(|c| Use::new(ClusterRec::TYPE, c, "container instances", id)));
        uses
    }
}

facts!(
    GroupRec for AutoScalingGroup, "DescribeAutoScalingGroups": "Auto Scaling groups",
    not found "ValidationError", "AutoScalingGroup name not found - AutoScalingGroup '{id}' not found",
    tags "CreateOrUpdateTags", "DeleteTags"
);

impl Record for GroupRec {
    fn life(&self) -> Life {
        match self.deleting {
            true => Life::Deleting,
            false => Life::Live,
        }
    }
}

impl Cloud {
    fn check_group(&self, g: &GroupRec) -> Done {
        if g.min_size > g.max_size
            || g.desired_capacity < g.min_size
            || g.desired_capacity > g.max_size
        {
            return Err(validation(format!(
                "Desired capacity:{} must be between the specified min size:{} and max size:{}",
                g.desired_capacity, g.min_size, g.max_size
            )));
        }
        if !self.launch_templates.contains_key(&g.launch_template_id) {
            return Err(validation(format!(
                "You must use a valid fully-formed launch template. The specified launch template, with template ID {}, does not exist.",
                g.launch_template_id
            )));
        }
        if g.subnet_ids.is_empty() {
            return Err(validation(
                "At least one Availability Zone or VPC Subnet is required.",
            ));
        }
        let mut vpcs = Vec::new();
        for s in &g.subnet_ids {
            let subnet = self
                .subnets
                .get(s)
                .map_err(|_| validation(format!("The subnet ID '{s}' does not exist")))?;
            if !vpcs.contains(&subnet.vpc_id) {
                vpcs.push(subnet.vpc_id.clone());
            }
        }
        if vpcs.len() > 1 {
            return Err(validation(format!(
                "The subnets '{}' must all be in the same VPC (they are in {})",
                g.subnet_ids.join(","),
                vpcs.join(", ")
            )));
        }
        Ok(())
    }

    /// CreateAutoScalingGroup: instances start launching at once.
    pub(super) fn create_auto_scaling_group(&mut self, group: GroupRec, clock: &Clock) -> Done {
        if self.groups.contains_key(&group.name) {
            return Err(ProviderError::new(
                "AlreadyExists",
                format!(
                    "AutoScalingGroup by this name already exists - A group with the name {} already exists",
                    group.name
                ),
            ));
        }
        self.check_group(&group)?;
        self.groups.insert(group.name.clone(), group);
        self.converge_groups(clock);
        Ok(())
    }

    /// UpdateAutoScalingGroup: template, subnets and capacity; the group
    /// launches or terminates to match.
    pub(super) fn update_auto_scaling_group(&mut self, update: GroupRec, clock: &Clock) -> Done {
        let current = self.groups.get(&update.name)?;
        let group = GroupRec {
            arn: current.arn.clone(),
            deleting: current.deleting,
            activity_error: current.activity_error.clone(),
            tags: current.tags.clone(),
            ..update
        };
        self.check_group(&group)?;
        self.groups.insert(group.name.clone(), group);
        self.converge_groups(clock);
        Ok(())
    }

    /// DeleteAutoScalingGroup with ForceDelete: every instance terminates,
    /// then the group goes.
    pub(super) fn delete_auto_scaling_group(&mut self, name: &str, clock: &Clock) -> Done {
        self.groups.get_mut(name)?.deleting = true;
        let members: Vec<String> = self.members(name).map(|i| i.id.clone()).collect();
        for id in members {
            self.terminate_instance(&id, clock);
        }
        self.converge_groups(clock);
        Ok(())
    }

    /// The live (not shutting down) instances of group `name`.
    fn members<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a InstanceRec> + 'a {
        self.instances.values().filter(move |i| {
            i.group.as_deref() == Some(name) && i.state != InstanceState::ShuttingDown
        })
    }

    fn terminate_instance(&mut self, id: &str, clock: &Clock) {
        if let Ok(i) = self.instances.get_mut(id)
            && i.state != InstanceState::ShuttingDown
        {
            i.state = InstanceState::ShuttingDown;
            i.until_ms = clock.after(Op::InstanceTerminate);
            // The agent stops; ECS marks the container instance inactive.
            i.registered_cluster = None;
            i.agent_connected = false;
        }
    }

    /// Launches one instance for `group`, or says why AWS wouldn't.
    fn launch_instance(&mut self, group: &GroupRec, clock: &Clock) -> Result<(), String> {
        let template = self.launch_templates.find(&group.launch_template_id);
        let template = template.ok_or_else(|| {
            format!(
                "launch template {} does not exist",
                group.launch_template_id
            )
        })?;
        let version = template
            .latest()
            .ok_or("the launch template has no version")?
            .clone();
        let count = |s: &str| {
            self.members(&group.name)
                .filter(|i| i.subnet_id == s)
                .count()
        };
        let subnet = group
            .subnet_ids
            .iter()
            .filter_map(|s| self.subnets.find(s))
            .min_by_key(|s| count(&s.id))
            .ok_or("none of the group's subnets exists")?
            .clone();
        let vpc = self.vpcs.get(&subnet.vpc_id).map_err(|e| e.message)?;
        let spec = version.spec;
        if let Some(p) = &spec.iam_instance_profile
            && !self.instance_profiles.contains_key(p)
        {
            return Err(format!(
                "Value ({p}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
            ));
        }
        let groups = if spec.security_group_ids.is_empty() {
            vec![vpc.default_security_group_id.clone()]
        } else {
            spec.security_group_ids.clone()
        };
        for g in &groups {
            if self
                .security_groups
                .find(g)
                .is_none_or(|sg| sg.vpc_id != vpc.id)
            {
                return Err(format!(
                    "The security group '{g}' does not exist in VPC '{}'",
                    vpc.id
                ));
            }
        }
        let private_ip = self
            .allocate_private_ip(&subnet.id)
            .map_err(|e| e.message)?;
        let public = spec
            .associate_public_ip_address
            .unwrap_or(subnet.map_public_ip_on_launch);
        let public_ip = public.then(|| self.allocate_public_ip());
        let id = fresh_id("i", &self.instances);
        let mut tags = group.tags.clone();
        tags.insert("aws:autoscaling:groupName".into(), group.name.clone());
        let instance = InstanceRec {
            id: id.clone(),
            group: Some(group.name.clone()),
            launch_template_id: group.launch_template_id.clone(),
            launch_template_version: version.number,
            spec,
            subnet_id: subnet.id.clone(),
            vpc_id: subnet.vpc_id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            private_ip,
            public_ip,
            security_group_ids: groups,
            state: InstanceState::Pending,
            until_ms: clock.after(Op::InstanceBoot),
            launched_ms: clock.now,
            registered_cluster: None,
            registration_error: None,
            registration_code: None,
            agent_connected: false,
            tags,
        };
        self.instances.insert(id, instance);
        Ok(())
    }

    /// Boots and removes instances whose state has run its time.
    pub(super) fn advance_instances(&mut self, now: u64) {
        self.instances
            .retain(|_, i| !(i.state == InstanceState::ShuttingDown && now >= i.until_ms));
        for i in self.instances.values_mut() {
            if i.state == InstanceState::Pending && now >= i.until_ms {
                i.state = InstanceState::Running;
            }
        }
    }

    /// Makes every group's instances match its subnets and capacity, and
    /// removes force-deleted groups whose instances are gone.
    pub(super) fn converge_groups(&mut self, clock: &Clock) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            let Some(group) = self.groups.find(&name).cloned() else {
                continue;
            };
            if group.deleting {
                if !self
                    .instances
                    .values()
                    .any(|i| i.group.as_deref() == Some(&name))
                {
                    self.groups.remove(&name).ok();
                }
                continue;
            }
            let strays: Vec<String> = self
                .members(&name)
                .filter(|i| !group.subnet_ids.contains(&i.subnet_id))
                .map(|i| i.id.clone())
                .collect();
            for id in strays {
                self.terminate_instance(&id, clock);
            }
            let desired = group.desired_capacity as usize;
            while self.members(&name).count() > desired {
                // Terminate in the fullest subnet, newest instance first.
                let per_subnet = |s: &str| self.members(&name).filter(|i| i.subnet_id == s).count();
                let victim = self
                    .members(&name)
                    .max_by_key(|i| (per_subnet(&i.subnet_id), i.launched_ms, i.id.clone()))
                    .map(|i| i.id.clone());
                match victim {
                    Some(id) => self.terminate_instance(&id, clock),
                    None => break,
                }
            }
            let mut error = group.activity_error.clone();
            while self.members(&name).count() < desired {
                match self.launch_instance(&group, clock) {
                    Ok(()) => error = None,
                    Err(reason) => {
                        error = Some(format!(
                            "Launching a new EC2 instance. Status Reason: {reason}. Launching EC2 instance failed."
                        ));
                        break;
                    }
                }
            }
            if let Ok(g) = self.groups.get_mut(&name) {
                g.activity_error = error;
            }
        }
    }

    /// Every instance, for inspection.
    pub(super) fn instance_summaries(&self) -> Vec<SimInstance> {
        let instances = self.instances.values();
        instances
            .map(|i| SimInstance {
                id: InstanceId::new(&i.id),
                auto_scaling_group: i.group.as_deref().map(AutoScalingGroupName::new),
                subnet_id: SubnetId::new(&i.subnet_id),
                availability_zone: i.availability_zone.clone(),
                private_ip: i.private_ip.to_string(),
                public_ip: i.public_ip.map(|ip| ip.to_string()),
                state: i.state.as_str().to_string(),
                registered_cluster: i.registered_cluster.as_deref().map(ClusterName::new),
                registration_error: i.registration_error.clone(),
                registration_code: i.registration_code.clone(),
                agent_connected: i.agent_connected,
            })
            .collect()
    }

    /// Ready once no instance of group `name` is still booting.
    fn group_in_service(&self, name: &str) -> Result<Poll<()>, ProviderError> {
        self.groups.get(name)?;
        let pending = self
            .members(name)
            .filter(|i| i.state == InstanceState::Pending);
        Ok(match pending.map(|i| i.until_ms).max() {
            Some(at) => Poll::At(at),
            None => Poll::Ready(()),
        })
    }
}

/// The group `props` declares, named `name`.
fn group_spec(
    urn: &Urn,
    name: &str,
    arn: String,
    props: &AutoScalingGroup,
) -> Result<GroupRec, ProviderError> {
    let mut subnet_ids = Vec::new();
    for s in &props.subnet_ids {
        subnet_ids.push(resolved(urn, "subnet_ids", s)?.to_string());
    }
    Ok(GroupRec {
        name: name.to_string(),
        arn,
        launch_template_id: resolved(urn, "launch_template_id", &props.launch_template_id)?
            .to_string(),
        subnet_ids,
        min_size: props.min_size,
        max_size: props.max_size,
        desired_capacity: props.capacity(),
        deleting: false,
        activity_error: None,
        tags: props.tags.clone(),
    })
}

#[async_trait]
impl Simulated for AutoScalingGroup {
    fn outputs(cloud: &Cloud, g: &GroupRec) -> AutoScalingGroupOutputs {
        let running = cloud
            .members(&g.name)
            .filter(|i| i.state == InstanceState::Running);
        AutoScalingGroupOutputs {
            id: AutoScalingGroupName::new(&g.name),
            name: AutoScalingGroupName::new(&g.name),
            arn: Arn::new(&g.arn),
            instance_count: running.count() as u64,
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let name = physical_name(props.name.as_deref(), urn.name());
        let uuid = [8, 4, 4, 4, 12].map(random_hex).join("-");
        let arn = sim.peek(|c| {
            let resource = format!("autoScalingGroup:{uuid}:autoScalingGroupName/{name}");
            c.arn("autoscaling", &resource)
        });
        let group = group_spec(urn, &name, arn.to_string(), props)?;
        sim.api("CreateAutoScalingGroup", |c, clock| {
            c.create_auto_scaling_group(group, clock)
        })?;
        Ok(name)
    }

    /// UpdateAutoScalingGroup to the declared template, subnets and capacity.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let group = group_spec(urn, id, String::new(), props)?;
        sim.api("UpdateAutoScalingGroup", |c, clock| {
            c.update_auto_scaling_group(group, clock)
        })
    }

    /// DeleteAutoScalingGroup with ForceDelete (Auto Scaling says a group
    /// that doesn't exist with a `ValidationError`).
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let deleted = sim.api("DeleteAutoScalingGroup", |c, clock| {
            c.delete_auto_scaling_group(id, clock)
        });
        deleted.map_err(|e| match e.code() {
            "ValidationError" => ProviderError::not_found(e.message),
            _ => e,
        })
    }

    /// Waits until no instance of the group is booting.
    async fn settle(sim: &SimProvider, id: &str) -> Made<Self> {
        sim.wait_for(Self::DESCRIBE, |c, _| c.group_in_service(id))
            .await?;
        sim.outputs_of::<Self>(id)
    }

    /// Waits for the instances to terminate and the group to go.
    async fn gone(sim: &SimProvider, id: &str) -> Done {
        sim.wait_for(Self::DESCRIBE, |c, _| {
            let members = c
                .instances
                .values()
                .filter(|i| i.group.as_deref() == Some(id));
            Ok(
                match (c.groups.contains_key(id), members.map(|i| i.until_ms).max()) {
                    (false, _) => Poll::Ready(()),
                    (true, Some(at)) => Poll::At(at),
                    (true, None) => Poll::At(c.clock_ms),
                },
            )
        })
        .await
    }
}
