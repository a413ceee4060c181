//! ECS capacity providers in the simulated cloud, with ECS's rules: a
//! provider names an existing Auto Scaling group (by ARN) that no other
//! provider uses, its name is free, it is associated with its cluster
//! right after it is created (PutClusterCapacityProviders) and
//! disassociated before it is deleted, which fails while a service uses it
//! (`ResourceInUseException`). Its managed scaling and termination
//! protection are recorded, not acted on: the simulator doesn't scale the
//! group for it. Also the provider handler for [`CapacityProvider`].

use super::SimProvider;
use super::cloud::{Cloud, Done, physical_name};
use super::dispatch::{Simulated, resolved};
use super::ecs_services::client;
use super::table::{Record, Stored, Users, facts, listing};
use crate::aws::ecs::{
    CapacityProvider, CapacityProviderName, CapacityProviderOutputs, ManagedScaling,
};
use crate::provider::ProviderError;
use crate::resource::{Arn, Tags, Urn};
use serde::{Deserialize, Serialize};

/// A capacity provider, keyed by name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct CapacityProviderRec {
    pub name: String,
    pub arn: String,
    pub auto_scaling_group_arn: String,
    /// The Auto Scaling group's name.
    pub group: String,
    /// The cluster it is associated with (PutClusterCapacityProviders).
    pub cluster: Option<String>,
    /// Recorded only: the simulator doesn't scale the group for it.
    pub managed_scaling: Option<ManagedScaling>,
    pub managed_termination_protection: bool,
    pub tags: Tags,
}

facts!(
    CapacityProviderRec for CapacityProvider, "DescribeCapacityProviders": "capacity providers",
    not found "ClientException", "The specified capacity provider '{id}' does not exist.",
    tags "TagResource", "UntagResource"
);

impl Record for CapacityProviderRec {
    fn in_use(id: &str, users: &Users) -> ProviderError {
        ProviderError::new(
            "ResourceInUseException",
            format!(
                "The specified capacity provider {id} is in use and cannot be removed: {}",
                listing(users)
            ),
        )
    }
}

impl Cloud {
    /// CreateCapacityProvider: the name is free, the group exists and has
    /// no other provider.
    fn create_capacity_provider(
        &mut self,
        rec: CapacityProviderRec,
    ) -> Result<String, ProviderError> {
        if self.capacity_providers.contains_key(&rec.name) {
            return Err(client(format!(
                "The specified capacity provider {} already exists.",
                rec.name
            )));
        }
        let group = self
            .groups
            .values()
            .find(|g| g.arn == rec.auto_scaling_group_arn && !g.deleting);
        let group = group.ok_or_else(|| {
            client(format!(
                "The specified Auto Scaling group ARN {} does not exist.",
                rec.auto_scaling_group_arn
            ))
        })?;
        let group = group.name.clone();
        if let Some(other) = self.capacity_providers.values().find(|p| p.group == group) {
            return Err(client(format!(
                "The specified Auto Scaling group {group} is already used by capacity provider {}.",
                other.name
            )));
        }
        let name = rec.name.clone();
        let arn = self
            .arn("ecs", &format!("capacity-provider/{name}"))
            .as_str()
            .to_string();
        let rec = CapacityProviderRec {
            arn,
            group,
            cluster: None,
            ..rec
        };
        self.capacity_providers.insert(name.clone(), rec);
        Ok(name)
    }

    /// PutClusterCapacityProviders adding `name` to ACTIVE cluster `cluster`.
    fn associate_capacity_provider(&mut self, name: &str, cluster: &str) -> Done {
        self.clusters.get(cluster)?;
        self.capacity_providers.get_mut(name)?.cluster = Some(cluster.to_string());
        Ok(())
    }

    /// PutClusterCapacityProviders without `name`: not while a service uses it.
    fn disassociate_capacity_provider(&mut self, name: &str) -> Done {
        self.capacity_providers.get(name)?;
        let users = self.users(CapacityProviderRec::TYPE, name);
        if !users.is_empty() {
            return Err(CapacityProviderRec::in_use(name, &users));
        }
        self.capacity_providers.get_mut(name)?.cluster = None;
        Ok(())
    }

    /// DeleteCapacityProvider: only once disassociated.
    fn delete_capacity_provider(&mut self, name: &str) -> Done {
        if let Some(cluster) = &self.capacity_providers.get(name)?.cluster {
            return Err(ProviderError::new(
                "ResourceInUseException",
                format!(
                    "The capacity provider {name} is associated with cluster {cluster}; disassociate it first."
                ),
            ));
        }
        self.capacity_providers.remove(name).map(drop)
    }
}

impl Simulated for CapacityProvider {
    fn outputs(_: &Cloud, p: &CapacityProviderRec) -> CapacityProviderOutputs {
        CapacityProviderOutputs {
            id: CapacityProviderName::new(&p.name),
            name: CapacityProviderName::new(&p.name),
            arn: Arn::new(&p.arn),
            status: "ACTIVE".into(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let cluster = resolved(urn, "cluster", &props.cluster)?
            .as_str()
            .to_string();
        let rec = CapacityProviderRec {
            name: physical_name(props.name.as_deref(), urn.name()),
            arn: String::new(),
            auto_scaling_group_arn: resolved(
                urn,
                "auto_scaling_group_arn",
                &props.auto_scaling_group_arn,
            )?
            .as_str()
            .to_string(),
            group: String::new(),
            cluster: None,
            managed_scaling: props.managed_scaling.clone(),
            managed_termination_protection: props.managed_termination_protection,
            tags: props.tags.clone(),
        };
        let name = sim.api("CreateCapacityProvider", |c, _| {
            c.create_capacity_provider(rec)
        })?;
        let associated = sim.api("PutClusterCapacityProviders", |c, _| {
            c.associate_capacity_provider(&name, &cluster)
        });
        if let Err(e) = associated {
            sim.api("DeleteCapacityProvider", |c, _| {
                c.delete_capacity_provider(&name)
            })?;
            return Err(e);
        }
        Ok(name)
    }

    /// UpdateCapacityProvider: managed scaling and termination protection.
    fn modify(sim: &SimProvider, _: &Urn, id: &str, props: &Self) -> Done {
        let now =
            |p: &CapacityProviderRec| (p.managed_scaling.clone(), p.managed_termination_protection);
        let want = (
            props.managed_scaling.clone(),
            props.managed_termination_protection,
        );
        sim.change(id, "UpdateCapacityProvider", now, want, |c, (m, t)| {
            let p = c.capacity_providers.get_mut(id)?;
            (p.managed_scaling, p.managed_termination_protection) = (m, t);
            Ok(())
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        // ECS answers a missing one with ClientException; for keel it is gone.
        let found = sim.peek(|c| Ok(c.capacity_providers.find(id).map(|p| p.cluster.is_some())))?;
        let Some(associated) = found else {
            return Err(ProviderError::not_found(format!(
                "capacity provider {id} does not exist"
            )));
        };
        if associated {
            sim.api("PutClusterCapacityProviders", |c, _| {
                c.disassociate_capacity_provider(id)
            })?;
        }
        sim.api("DeleteCapacityProvider", |c, _| {
            c.delete_capacity_provider(id)
        })
    }
}
