//! Target groups in the simulated cloud, with ELB's rules: the name is
//! unique, the VPC exists, the health check changes in place
//! (ModifyTargetGroup), and one a listener forwards to can't be deleted
//! (`ResourceInUse`). A group's registered targets live on its record; ECS
//! services register and deregister them as their tasks start and stop,
//! and their health is decided in `tasks`. Also the provider handler for
//! [`TargetGroup`].

use super::SimProvider;
use super::cloud::{Cloud, Done, random_hex};
use super::dispatch::{Simulated, resolved};
use super::elb::{elb_name, validation};
use super::table::{Record, Users, facts, listing};
use crate::aws::elb::{
    AppProtocol, HealthCheck, LoadBalancerArn, TargetGroup, TargetGroupArn, TargetGroupOutputs,
    TargetType,
};
use crate::provider::ProviderError;
use crate::resource::{Tags, Urn};
use serde::{Deserialize, Serialize};

/// A target's health, as ELB names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Health {
    /// Registered, first checks not done yet.
    Initial,
    Healthy,
    Unhealthy,
    /// No load balancer forwards to the group (`Target.NotInUse`).
    Unused,
}

impl Health {
    /// As ELB writes it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Health::Initial => "initial",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Unused => "unused",
        }
    }
}

/// A registered target: an instance and port, or an IP address and port.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TargetRec {
    /// `i-…` or an IP address.
    pub id: String,
    pub port: u16,
    pub health: Health,
    /// ELB's reason code when not healthy (`Target.Timeout`…).
    pub reason: Option<String>,
    /// Why, in words (the blocking hop).
    pub description: Option<String>,
    /// When it was registered (cloud clock).
    pub registered_ms: u64,
}

/// A target group, keyed by ARN.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TargetGroupRec {
    pub arn: String,
    pub name: String,
    pub protocol: AppProtocol,
    pub port: u16,
    pub vpc_id: String,
    pub target_type: TargetType,
    pub health_check: HealthCheck,
    pub deregistration_delay_seconds: u32,
    #[serde(default)]
    pub targets: Vec<TargetRec>,
    pub tags: Tags,
}

facts!(
    TargetGroupRec for TargetGroup, "DescribeTargetGroups": "target groups",
    not found "TargetGroupNotFound", "One or more target groups not found: '{id}'",
    tags "AddTags", "RemoveTags"
);

impl Record for TargetGroupRec {
    fn in_use(id: &str, users: &Users) -> ProviderError {
        ProviderError::new(
            "ResourceInUse",
            format!(
                "Target group '{id}' is currently in use by a listener or a rule: {}",
                listing(users)
            ),
        )
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }
}

impl Cloud {
    /// CreateTargetGroup: a unique name, in an existing VPC.
    fn create_target_group(&mut self, rec: TargetGroupRec) -> Result<String, ProviderError> {
        if self.target_groups.values().any(|t| t.name == rec.name) {
            return Err(ProviderError::new(
                "DuplicateTargetGroupName",
                format!(
                    "A target group with the same name '{}' exists, but with different settings",
                    rec.name
                ),
            ));
        }
        if self.vpcs.find(&rec.vpc_id).is_none() {
            return Err(validation(format!(
                "The VPC ID '{}' is not found",
                rec.vpc_id
            )));
        }
        let arn = self.arn(
            "elasticloadbalancing",
            &format!("targetgroup/{}/{}", rec.name, random_hex(16)),
        );
        let arn = arn.as_str().to_string();
        let rec = TargetGroupRec {
            arn: arn.clone(),
            ..rec
        };
        self.target_groups.insert(arn.clone(), rec);
        Ok(arn)
    }

    /// DeleteTargetGroup: not while a listener forwards to it.
    fn delete_target_group(&mut self, arn: &str) -> Done {
        self.remove_unused::<TargetGroupRec>(arn).map(drop)
    }
}

impl Simulated for TargetGroup {
    fn outputs(cloud: &Cloud, t: &TargetGroupRec) -> TargetGroupOutputs {
        let healthy = t.targets.iter().filter(|x| x.health == Health::Healthy);
        TargetGroupOutputs {
            id: TargetGroupArn::new(&t.arn),
            arn: TargetGroupArn::new(&t.arn),
            name: t.name.clone(),
            load_balancer_arns: cloud
                .load_balancers_of(&t.arn)
                .iter()
                .map(LoadBalancerArn::new)
                .collect(),
            registered_targets: t.targets.len() as u64,
            healthy_targets: healthy.count() as u64,
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let rec = TargetGroupRec {
            arn: String::new(),
            name: elb_name(props.name.as_deref(), urn.name()),
            protocol: props.protocol,
            port: props.port,
            vpc_id: resolved(urn, "vpc_id", &props.vpc_id)?.as_str().to_string(),
            target_type: props.target_type,
            health_check: props.health_check.clone(),
            deregistration_delay_seconds: props.deregistration_delay_seconds,
            targets: Vec::new(),
            tags: props.tags.clone(),
        };
        sim.api("CreateTargetGroup", |c, _| c.create_target_group(rec))
    }

    /// ModifyTargetGroup (the health check) and the deregistration delay
    /// attribute, each only if it differs.
    fn modify(sim: &SimProvider, _: &Urn, id: &str, props: &Self) -> Done {
        let check = |t: &TargetGroupRec| t.health_check.clone();
        sim.change(
            id,
            "ModifyTargetGroup",
            check,
            props.health_check.clone(),
            |c, h| {
                c.target_groups.get_mut(id)?.health_check = h;
                Ok(())
            },
        )?;
        let delay = |t: &TargetGroupRec| t.deregistration_delay_seconds;
        let want = props.deregistration_delay_seconds;
        sim.change(id, "ModifyTargetGroupAttributes", delay, want, |c, d| {
            c.target_groups.get_mut(id)?.deregistration_delay_seconds = d;
            Ok(())
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteTargetGroup", |c, _| c.delete_target_group(id))
    }
}
