//! [`audit`]: does the cloud hold exactly what a stack's state records?
//! The check a crash test ends with: no orphans (resources the state
//! doesn't know), no duplicates (two live resources carrying one `keel:urn`
//! tag), nothing recorded that the cloud lacks. [`audit_sim`] also counts
//! the simulator's untagged resources.

use crate::provider::sim::SimProvider;
use crate::provider::{FindRequest, Provider, ProviderError};
use crate::resource::Urn;
use crate::stack::Stack;
use crate::state::Snapshot;
use std::collections::BTreeMap;

/// What [`audit`] found; [`Audit::is_clean`] when nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Live resources carrying a resource's `keel:urn` tag that state
    /// doesn't record, by URN.
    pub orphans: Vec<(Urn, Vec<String>)>,
    /// Resources more than one live resource carries the tag of, with all
    /// their ids.
    pub duplicates: Vec<(Urn, Vec<String>)>,
    /// Recorded resources no live resource matches.
    pub missing: Vec<(Urn, String)>,
    /// Simulator only ([`audit_sim`]): per type token, how many more
    /// resources the cloud holds than state records, tagged or not.
    pub untracked: BTreeMap<String, usize>,
}

impl Audit {
    /// Whether cloud and state agree exactly.
    pub fn is_clean(&self) -> bool {
        self.orphans.is_empty()
            && self.duplicates.is_empty()
            && self.missing.is_empty()
            && self.untracked.is_empty()
    }

    /// How many orphaned resources.
    pub fn orphan_count(&self) -> usize {
        let tagged: usize = self.orphans.iter().map(|(_, ids)| ids.len()).sum();
        tagged.max(self.untracked.values().sum())
    }
}

/// Compares what the cloud holds under each resource's `keel:urn` tag
/// (for every resource `stack` declares or `snapshot` records) with
/// `snapshot`. Works with any provider that can search by tag.
pub async fn audit(
    provider: &dyn Provider,
    stack: &Stack,
    snapshot: &Snapshot,
) -> Result<Audit, ProviderError> {
    let mut urns: Vec<&Urn> = stack.urns().collect();
    for r in &snapshot.resources {
        if !urns.contains(&&r.urn) {
            urns.push(&r.urn);
        }
    }
    let mut audit = Audit::default();
    for urn in urns {
        let found = provider
            .find_by_tags(FindRequest { urn: urn.clone() })
            .await?;
        let ids: Vec<String> = found.into_iter().map(|f| f.id).collect();
        let recorded: Vec<&str> = snapshot
            .resources
            .iter()
            .filter(|r| &r.urn == urn)
            .map(|r| r.id.as_str())
            .collect();
        let extra: Vec<String> = ids
            .iter()
            .filter(|id| !recorded.contains(&id.as_str()))
            .cloned()
            .collect();
        if !extra.is_empty() {
            audit.orphans.push((urn.clone(), extra));
        }
        if ids.len() > 1 {
            audit.duplicates.push((urn.clone(), ids.clone()));
        }
        for id in recorded
            .into_iter()
            .filter(|id| !ids.iter().any(|i| i == id))
        {
            audit.missing.push((urn.clone(), id.to_string()));
        }
    }
    Ok(audit)
}

/// [`audit`] on the simulator, which can also count what carries no tag:
/// every resource of the cloud (instances, which Auto Scaling groups own,
/// aside) must be one `snapshot` records. For a cloud only `stack` uses.
///
/// ```
/// use keel::prelude::*;
/// use keel::provider::sim::SimProvider;
/// use keel::state::{MemoryStore, StateStore};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sim = SimProvider::in_memory();
/// let store = MemoryStore::new("demo");
/// keel::ops::up(&stack, Arc::new(sim.clone()), Box::new(store.clone()), &Default::default()).await.unwrap();
/// let snapshot = store.clone().load().unwrap();
/// let audit = keel::testing::audit_sim(&sim, &stack, &snapshot).await.unwrap();
/// assert!(audit.is_clean());
/// # });
/// ```
pub async fn audit_sim(
    sim: &SimProvider,
    stack: &Stack,
    snapshot: &Snapshot,
) -> Result<Audit, ProviderError> {
    let mut audit = audit(sim, stack, snapshot).await?;
    let mut cloud = sim.resource_counts();
    cloud.remove("aws:ec2:Instance");
    let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
    for r in &snapshot.resources {
        *recorded.entry(r.type_token.clone()).or_default() += 1;
    }
    for (ty, &n) in &cloud {
        let m = recorded.get(ty).copied().unwrap_or(0);
        if n > m {
            audit.untracked.insert(ty.clone(), n - m);
        }
    }
    Ok(audit)
}
