//! What every simulated resource type shares: its records live in a
//! [`Table`] keyed by id (or name, where AWS uses names) whose lookups fail
//! with AWS's not-found error for the type; every record has tags and a life
//! cycle ([`Life`]); and every record says which other resources it uses
//! ([`Use`]) — its VPC and its associated subnets the same way for every
//! type ([`Record`]), the rest as its type module says. This module owns
//! those and the dependency check built on them: [`Cloud::remove_unused`]
//! asks one reference index, built from the uses of every record that isn't
//! gone, whether anything still uses a resource, and answers with the error
//! AWS gives for that type (`DependencyViolation` unless the record's
//! [`Record::in_use`] says otherwise). Each record type states its AWS facts
//! in its own module: not-found code and message, tag APIs, how EC2 names
//! it. Records AWS takes a while to create and delete share
//! [`Phase`] and its timing ([`Timed`]). Which tables exist, with each
//! record type's kind, plural and Describe call ([`Kept`]), is declared
//! once in `cloud`.

use super::cloud::{Cloud, Done, fresh_id};
use super::elb::LoadBalancerRec;
use super::endpoints::EndpointRec;
use super::gateways::NatGatewayRec;
use super::network::VpcRec;
use crate::provider::ProviderError;
use crate::resource::{Resource, Tags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// Where a record is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Life {
    /// Exists and is not going away.
    Live,
    /// Being deleted (still uses what it used, still found by id).
    Deleting,
    /// Deleted, but still shown for a while, as AWS does: not found by id.
    Gone,
}

/// Where something AWS takes a while to create and delete (a NAT gateway,
/// a VPC endpoint) is, as AWS names it: `pending` until its time is up, then
/// `available`; `deleting` until its time is up, then `deleted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Phase {
    Pending,
    Available,
    Deleting,
    Deleted,
}

impl Phase {
    /// The phase as AWS writes it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Available => "available",
            Phase::Deleting => "deleting",
            Phase::Deleted => "deleted",
        }
    }

    /// The life cycle stage it is.
    pub(super) fn life(self) -> Life {
        match self {
            Phase::Pending | Phase::Available => Life::Live,
            Phase::Deleting => Life::Deleting,
            Phase::Deleted => Life::Gone,
        }
    }
}

/// A record that goes through [`Phase`]s.
pub(super) trait Timed: Record {
    /// Its phase, and when the current one ends (cloud clock, ms).
    fn phase(&self) -> (Phase, u64);
    /// Puts it in `phase` until `until_ms`.
    fn set_phase(&mut self, phase: Phase, until_ms: u64);
}

/// [`Timed`] for record types with fields `state: Phase` and `until_ms: u64`.
macro_rules! timed {
    ($($Rec:ty),*) => {$(
        impl Timed for $Rec {
            fn phase(&self) -> (Phase, u64) {
                (self.state, self.until_ms)
            }

            fn set_phase(&mut self, phase: Phase, until_ms: u64) {
                (self.state, self.until_ms) = (phase, until_ms);
            }
        }
    )*};
}

timed!(NatGatewayRec, EndpointRec, LoadBalancerRec);

/// A subnet's explicit association with a route table or network ACL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Association {
    /// `rtbassoc-…` or `aclassoc-…`.
    pub id: String,
    /// The associated subnet.
    pub subnet_id: String,
}

/// One use of a resource by another: `by` (an id, or a label such as
/// `eni-… (vpce-…)`) uses resource `id` of type `kind` (a record type's
/// [`Stored::TYPE`]); `what` names the users in a dependency message
/// ("subnets", "used by instances").
#[derive(Clone, Debug)]
pub(super) struct Use {
    pub kind: &'static str,
    pub id: String,
    pub what: &'static str,
    pub by: String,
}

impl Use {
    /// `by` uses resource `id` of type `kind`, as one of `what`.
    pub(super) fn new(kind: &'static str, id: &str, what: &'static str, by: &str) -> Self {
        Self {
            kind,
            id: id.to_string(),
            what,
            by: by.to_string(),
        }
    }

    /// Record `by` of type `R` uses resource `id` of type `kind`.
    pub(super) fn of<R: Record>(kind: &'static str, id: &str, by: &str) -> Self {
        Self::new(kind, id, R::PLURAL, by)
    }
}

/// Where a record type is stored: generated for every table by the list of
/// tables in `cloud`.
pub(super) trait Stored: Clone + 'static {
    /// Its type token: in resource counts, and what uses of it name.
    const TYPE: &'static str;
    /// Its table in the cloud.
    fn table(cloud: &Cloud) -> &Table<Self>;
    /// Its table in the cloud, mutable.
    fn table_mut(cloud: &mut Cloud) -> &mut Table<Self>;
    /// Its tags.
    fn tags(&self) -> &Tags;
    /// Its tags, mutable.
    fn tags_mut(&mut self) -> &mut Tags;
}

/// What the cloud keeps of a resource type keel declares: its record, and
/// the read-only call that describes one (`DescribeVpcs`, `GetRole`…).
/// Generated by the list of tables in `cloud`.
pub(super) trait Kept: Resource {
    /// The record of one.
    type Rec: Record;
    /// The call that describes one.
    const DESCRIBE: &'static str;
}

/// What AWS says about a record type, stated with [`facts!`] next to the
/// record.
pub(super) trait Facts {
    /// What dependency messages call several of them ("subnets").
    const PLURAL: &'static str;
    /// AWS's error code and message for an id of this type that doesn't
    /// exist (`{id}` in the message stands for the id).
    const NOT_FOUND: (&'static str, &'static str);
    /// How EC2's messages name this type (`internetGateway`).
    const NOUN: &'static str = "resource";
    /// The APIs that add and remove this type's tags.
    const TAG_APIS: (&'static str, &'static str) = ("CreateTags", "DeleteTags");
}

/// States a record type's [`Facts`] and, for a record of a resource type
/// keel declares, that type's [`Kept`] impl (its record and Describe call):
/// `facts!(VpcRec for Vpc, "DescribeVpcs": "VPCs", not found
/// "InvalidVpcID.NotFound", "The vpc ID '{id}' does not exist", noun "vpc")`.
macro_rules! facts {
    (
        $Rec:ident $(for $R:ty, $describe:literal)?: $plural:literal,
        not found $code:literal, $message:literal
        $(, noun $noun:literal)? $(, tags $add:literal, $remove:literal)?
    ) => {
        impl $crate::provider::sim::table::Facts for $Rec {
            const PLURAL: &'static str = $plural;
            const NOT_FOUND: (&'static str, &'static str) = ($code, $message);
            $(const NOUN: &'static str = $noun;)?
            $(const TAG_APIS: (&'static str, &'static str) = ($add, $remove);)?
        }
        $(impl $crate::provider::sim::table::Kept for $R {
            type Rec = $Rec;
            const DESCRIBE: &'static str = $describe;
        })?
    };
}
pub(super) use facts;

/// A simulated resource's record: what its type module says about it, with
/// defaults for the common case (always live, counted, using nothing).
pub(super) trait Record: Stored + Facts {
    /// AWS's not-found error for `id`.
    fn not_found(id: &str) -> ProviderError {
        let (code, message) = Self::NOT_FOUND;
        ProviderError::new(code, message.replace("{id}", id))
    }

    /// AWS's error for deleting `id` while `users` still use it:
    /// `DependencyViolation` unless the type's API says otherwise.
    fn in_use(id: &str, users: &Users) -> ProviderError {
        super::cloud::dependency(format!(
            "The {} '{id}' has dependencies and cannot be deleted: {}",
            Self::NOUN,
            listing(users)
        ))
    }

    /// Where it is in its life cycle.
    fn life(&self) -> Life {
        Life::Live
    }
    /// What AWS makes along with a VPC (its main route table, default
    /// security group and default network ACL): not counted as a resource,
    /// not in the way of deleting the VPC, deleted with it.
    fn built_in(&self) -> bool {
        false
    }
    /// The VPC it is in, which can't be deleted while it is.
    fn vpc(&self) -> Option<&str> {
        None
    }
    /// Its subnet associations, which keep it from being deleted.
    fn associations(&self) -> &[Association] {
        &[]
    }
    /// The resources it uses besides its VPC, unless it is gone; `id` is
    /// its key.
    fn uses(&self, _id: &str) -> Vec<Use> {
        Vec::new()
    }
}

/// One resource type's records by id; serialized as a plain map. Lookups
/// with [`get`](Self::get) fail as AWS does for the type; the map itself is
/// reached through `Deref` (gone records included).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Table<R>(BTreeMap<String, R>);

impl<R> Default for Table<R> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<R> Deref for Table<R> {
    type Target = BTreeMap<String, R>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<R> DerefMut for Table<R> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<R: Record> Table<R> {
    /// Record `id` unless it is gone, else AWS's not-found error.
    pub(super) fn get(&self, id: &str) -> Result<&R, ProviderError> {
        self.find(id).ok_or_else(|| R::not_found(id))
    }

    /// Record `id` unless it is gone, mutable, else AWS's not-found error.
    pub(super) fn get_mut(&mut self, id: &str) -> Result<&mut R, ProviderError> {
        let found = self.0.get_mut(id).filter(|r| r.life() != Life::Gone);
        found.ok_or_else(|| R::not_found(id))
    }

    /// Record `id` unless it is gone.
    pub(super) fn find(&self, id: &str) -> Option<&R> {
        self.0.get(id).filter(|r| r.life() != Life::Gone)
    }

    /// Record `id` if it is live: neither gone nor being deleted. What a
    /// read reports, as Terraform does: one on its way out is gone.
    pub(super) fn find_live(&self, id: &str) -> Option<&R> {
        self.0.get(id).filter(|r| r.life() == Life::Live)
    }

    /// Removes record `id` (a gone one too), else AWS's not-found error.
    pub(super) fn remove(&mut self, id: &str) -> Result<R, ProviderError> {
        self.0.remove(id).ok_or_else(|| R::not_found(id))
    }

    /// The records that are neither gone nor being deleted, with their keys.
    pub(super) fn live(&self) -> impl Iterator<Item = (&String, &R)> + '_ {
        self.0.iter().filter(|(_, r)| r.life() == Life::Live)
    }

    /// How many records count as resources: what isn't gone or built in.
    pub(super) fn count(&self) -> usize {
        let counted = self.0.values().filter(|r| r.life() != Life::Gone);
        counted.filter(|r| !r.built_in()).count()
    }

    /// The uses of every record that isn't gone: of its VPC (unless built
    /// in), of itself by its associated subnets, and its own.
    pub(super) fn uses(&self) -> impl Iterator<Item = Use> + '_ {
        let present = self.0.iter().filter(|(_, r)| r.life() != Life::Gone);
        present.flat_map(|(id, r)| {
            let vpc = r.vpc().filter(|_| !r.built_in());
            let vpc = vpc.map(|v| Use::of::<R>(VpcRec::TYPE, v, id));
            let subnets = r.associations().iter();
            let associated =
                subnets.map(|a| Use::new(R::TYPE, id, "associated subnets", &a.subnet_id));
            vpc.into_iter().chain(associated).chain(r.uses(id))
        })
    }

    /// A new association id `prefix-…` that no record of the table has.
    pub(super) fn fresh_association_id(&self, prefix: &str) -> String {
        let associations = self.0.values().flat_map(|r| r.associations());
        let taken: BTreeMap<String, ()> = associations.map(|a| (a.id.clone(), ())).collect();
        fresh_id(prefix, &taken)
    }

    /// The record subnet `subnet_id` is explicitly associated with, and
    /// the association.
    pub(super) fn association_of(&self, subnet_id: &str) -> Option<(&R, &Association)> {
        self.0.values().find_map(|r| {
            let found = r.associations().iter().find(|a| a.subnet_id == subnet_id);
            found.map(|a| (r, a))
        })
    }
}

impl<R: Timed> Table<R> {
    /// Moves records whose phase has run its time on: `pending` ones
    /// become `available`, `deleting` ones `deleted`.
    pub(super) fn advance(&mut self, now: u64) {
        for r in self.0.values_mut() {
            match r.phase() {
                (Phase::Pending, until) if now >= until => r.set_phase(Phase::Available, until),
                (Phase::Deleting, until) if now >= until => r.set_phase(Phase::Deleted, until),
                _ => {}
            }
        }
    }

    /// Starts deleting record `id`, done at `until_ms`; one already being
    /// deleted goes on as it was.
    pub(super) fn start_deleting(&mut self, id: &str, until_ms: u64) -> Done {
        let r = self.get_mut(id)?;
        if r.life() == Life::Live {
            r.set_phase(Phase::Deleting, until_ms);
        }
        Ok(())
    }
}

/// What uses one resource, grouped: (`what`, the users), in index order.
pub(super) type Users = Vec<(&'static str, Vec<String>)>;

/// `users` as a message: "subnets (subnet-a, subnet-b); NAT gateways (nat-c)".
pub(super) fn listing(users: &Users) -> String {
    let groups = users
        .iter()
        .map(|(what, by)| format!("{what} ({})", by.join(", ")));
    groups.collect::<Vec<_>>().join("; ")
}

impl Cloud {
    /// What uses resource `id` of `kind` now, from the reference index.
    pub(super) fn users(&self, kind: &'static str, id: &str) -> Users {
        let mut users: Users = Vec::new();
        let mine = self.index().filter(|u| u.kind == kind && u.id == id);
        for u in mine {
            match users.iter_mut().find(|(what, _)| *what == u.what) {
                Some((_, by)) => by.push(u.by),
                None => users.push((u.what, vec![u.by])),
            }
        }
        users
    }

    /// Removes record `id` of type `R` if nothing uses it, else fails with
    /// the error AWS gives for deleting it (or for an id that doesn't exist).
    pub(super) fn remove_unused<R: Record>(&mut self, id: &str) -> Result<R, ProviderError> {
        R::table(self).get(id)?;
        let users = self.users(R::TYPE, id);
        if !users.is_empty() {
            return Err(R::in_use(id, &users));
        }
        R::table_mut(self).remove(id)
    }
}
