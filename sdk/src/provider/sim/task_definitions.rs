//! ECS task definitions in the simulated cloud. RegisterTaskDefinition
//! makes revision `family:N`, N one more than the family's last revision
//! (deregistered ones count, so a keel replacement gets the next number);
//! a revision never changes; DeregisterTaskDefinition makes it `INACTIVE`,
//! which keel reads as gone (ECS keeps showing it, and services already
//! running it keep running it). Execution and task role ARNs of this
//! account must name roles that exist (`ClientException: Role is not
//! valid`). Also the provider handler for [`TaskDefinition`].

use super::SimProvider;
use super::cloud::{ACCOUNT_ID, Cloud, Done};
use super::dispatch::{Simulated, resolved};
use super::table::{Life, Record, facts};
use crate::aws::ecs_task::{
    Container, NetworkMode, TaskDefinition, TaskDefinitionArn, TaskDefinitionOutputs,
};
use crate::provider::ProviderError;
use crate::resource::{Tags, Urn};
use serde::{Deserialize, Serialize};

/// One revision of a task definition, keyed by ARN.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TaskDefinitionRec {
    pub arn: String,
    pub family: String,
    pub revision: u64,
    pub containers: Vec<Container>,
    pub network_mode: NetworkMode,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub tags: Tags,
}

impl TaskDefinitionRec {
    /// CPU units a task of it reserves on an instance.
    pub(super) fn reserved_cpu(&self) -> u32 {
        self.cpu
            .unwrap_or_else(|| self.containers.iter().map(|c| c.cpu).sum())
    }

    /// MiB a task of it reserves on an instance.
    pub(super) fn reserved_memory(&self) -> u32 {
        self.memory.unwrap_or_else(|| {
            let each = self.containers.iter().map(Container::reserved_memory);
            each.sum()
        })
    }

    /// `family:revision`.
    pub(super) fn family_revision(&self) -> String {
        format!("{}:{}", self.family, self.revision)
    }
}

facts!(
    TaskDefinitionRec for TaskDefinition, "DescribeTaskDefinition": "task definitions",
    not found "ClientException", "Unable to describe task definition {id}.",
    tags "TagResource", "UntagResource"
);

impl Record for TaskDefinitionRec {
    fn life(&self) -> Life {
        match self.status.as_str() {
            "ACTIVE" => Life::Live,
            _ => Life::Gone,
        }
    }
}

/// The name of the role `arn` names, if it is a role of this account.
fn own_role(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix(&format!("arn:aws:iam::{ACCOUNT_ID}:role/"))?;
    rest.rsplit('/').next()
}

impl Cloud {
    /// Revision `arn`, ACTIVE or INACTIVE (tasks and services keep running
    /// a revision deregistered under them).
    pub(super) fn revision(&self, arn: &str) -> Option<&TaskDefinitionRec> {
        self.task_definitions.values().find(|t| t.arn == arn)
    }

    /// RegisterTaskDefinition: the family's next revision.
    fn register_task_definition(
        &mut self,
        rec: TaskDefinitionRec,
    ) -> Result<String, ProviderError> {
        for (field, arn) in [
            ("executionRoleArn", &rec.execution_role_arn),
            ("taskRoleArn", &rec.task_role_arn),
        ] {
            let Some(arn) = arn else { continue };
            let valid = arn.starts_with("arn:aws:iam::") && arn.contains(":role/");
            let missing = own_role(arn).is_some_and(|r| !self.roles.contains_key(r));
            if !valid || missing {
                return Err(ProviderError::new(
                    "ClientException",
                    format!("Role is not valid: {field} {arn}"),
                ));
            }
        }
        let last = self
            .task_definitions
            .values()
            .filter(|t| t.family == rec.family);
        let revision = last.map(|t| t.revision).max().unwrap_or(0) + 1;
        let arn = self.arn("ecs", &format!("task-definition/{}:{revision}", rec.family));
        let arn = arn.as_str().to_string();
        let rec = TaskDefinitionRec {
            arn: arn.clone(),
            revision,
            status: "ACTIVE".into(),
            ..rec
        };
        self.task_definitions.insert(arn.clone(), rec);
        Ok(arn)
    }

    /// DeregisterTaskDefinition: `INACTIVE` (one already inactive is gone
    /// for keel).
    fn deregister_task_definition(&mut self, arn: &str) -> Done {
        match self.task_definitions.get_mut(arn) {
            Ok(t) => {
                t.status = "INACTIVE".into();
                Ok(())
            }
            Err(_) => Err(ProviderError::not_found(format!(
                "task definition {arn} is not registered or already inactive"
            ))),
        }
    }
}

impl Simulated for TaskDefinition {
    fn outputs(_: &Cloud, t: &TaskDefinitionRec) -> TaskDefinitionOutputs {
        TaskDefinitionOutputs {
            id: TaskDefinitionArn::new(&t.arn),
            arn: TaskDefinitionArn::new(&t.arn),
            family: t.family.clone(),
            revision: t.revision,
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let role = |field: &str, r: &Option<crate::resource::Input<crate::resource::Arn>>| {
            let r = r.as_ref().map(|a| resolved(urn, field, a)).transpose();
            r.map(|a| a.map(|a| a.as_str().to_string()))
        };
        let rec = TaskDefinitionRec {
            arn: String::new(),
            family: props.family_name(urn.name()),
            revision: 0,
            containers: props.containers.clone(),
            network_mode: props.network_mode,
            task_role_arn: role("task_role_arn", &props.task_role_arn)?,
            execution_role_arn: role("execution_role_arn", &props.execution_role_arn)?,
            cpu: props.cpu,
            memory: props.memory,
            status: String::new(),
            tags: props.tags.clone(),
        };
        sim.api("RegisterTaskDefinition", |c, _| {
            c.register_task_definition(rec)
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeregisterTaskDefinition", |c, _| {
            c.deregister_task_definition(id)
        })
    }
}
