//! How the simulator handles a resource type. Each type implements the
//! typed [`Simulated`] trait (its record and Describe call come from the
//! list of tables in `cloud`): its outputs, and the AWS calls that make,
//! modify and remove one (plus, for what AWS takes a while to do, how to
//! wait for it). Everything else is the same for every type and lives here
//! once: the create, update and delete flows built from those steps
//! (latency, retagging, delete-if-present), reads and searches by tag on the
//! type's table, and the type-erased [`SimOps`] table, built from
//! `crate::registry::simulated_types!`, that the provider dispatches to by a
//! URN's type token.

use super::cloud::{Cloud, Done};
use super::latency::Op;
use super::table::{Kept, Phase, Record, Stored, Timed};
use super::{Poll, SimProvider};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, FindRequest, Found, Outputs, ProviderError,
    ReadRequest, UpdateRequest,
};
use crate::resource::{
    CloudId, Input, Resource, ResourceOutputs, Tags, URN_TAG, Urn, contains_unknown,
};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

/// The error every handler returns.
type Error = ProviderError;
/// What a handler returns: the type's outputs.
pub(super) type Made<R> = Result<<R as Resource>::Outputs, ProviderError>;

/// A resource type the simulator knows: its record and Describe call (from
/// [`Kept`]), and the steps that make the AWS calls for it. Creates,
/// updates, deletes, reads and searches by tag are built from these the
/// same way for every type.
#[async_trait]
pub(super) trait Simulated: Kept + Sized {
    /// How long a create takes after its calls.
    const CREATE: Op = Op::Call;
    /// Its outputs, from its record.
    fn outputs(cloud: &Cloud, rec: &Self::Rec) -> Self::Outputs;
    /// The calls that create one, undoing what they made if a later call
    /// fails, so nothing is left that nobody records; its id.
    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError>;
    /// The calls that make live resource `id` match `props`, tags aside.
    /// By default nothing but the tags changes in place.
    fn modify(_sim: &SimProvider, _urn: &Urn, _id: &str, _props: &Self) -> Done {
        Ok(())
    }
    /// The calls that delete one; a not-found error means it was gone.
    fn remove(sim: &SimProvider, id: &str) -> Done;
    /// Its outputs once it has settled after a create or an update; by
    /// default, at once.
    async fn settle(sim: &SimProvider, id: &str) -> Made<Self> {
        sim.outputs_of::<Self>(id)
    }
    /// Waits after the delete calls until it is gone; by default, as long
    /// as a call takes.
    async fn gone(sim: &SimProvider, _id: &str) -> Done {
        sim.pause(Op::Call).await;
        Ok(())
    }

    /// Creates the resource; returns its outputs.
    async fn create(sim: &SimProvider, urn: &Urn, props: Self) -> Made<Self> {
        let id = Self::make(sim, urn, &props)?;
        sim.pause(Self::CREATE).await;
        Self::settle(sim, &id).await
    }
    /// Makes the live resource match `props` in place, tags included.
    async fn update(sim: &SimProvider, urn: &Urn, id: &str, mut props: Self) -> Made<Self> {
        Self::modify(sim, urn, id, &props)?;
        sim.retag::<Self::Rec>(id, props.tags_mut())?;
        sim.pause(Op::Call).await;
        Self::settle(sim, id).await
    }
    /// Deletes the resource; one already gone is fine.
    async fn delete(sim: &SimProvider, id: &str) -> Done {
        match present(Self::remove(sim, id))? {
            Some(()) => Self::gone(sim, id).await,
            None => Ok(()),
        }
    }
    /// Current outputs, or `None` if it no longer exists or is being
    /// deleted (a delete of it still waits until it is gone).
    async fn read(sim: &SimProvider, id: &str) -> Result<Option<Self::Outputs>, ProviderError> {
        let found = |c: &Cloud| {
            Self::Rec::table(c)
                .find_live(id)
                .map(|r| Self::outputs(c, r))
        };
        sim.describe(Self::DESCRIBE, found).await
    }
    /// Every live (not deleting) one tagged with `urn`, with its outputs.
    async fn find(sim: &SimProvider, urn: &Urn) -> Result<Vec<Self::Outputs>, ProviderError> {
        let urn = urn.to_string();
        let tagged = |c: &Cloud| {
            let live = Self::Rec::table(c).live().map(|(_, r)| r);
            let mine = live.filter(|r| r.tags().get(URN_TAG) == Some(&urn));
            Some(mine.map(|r| Self::outputs(c, r)).collect())
        };
        Ok(sim
            .describe(Self::DESCRIBE, tagged)
            .await?
            .unwrap_or_default())
    }
}

/// Makes new resource `id` match `props` with [`Simulated::modify`]; if
/// that fails, deletes it again, so nothing is left that nobody records.
pub(super) fn configured<R: Simulated>(
    sim: &SimProvider,
    urn: &Urn,
    id: String,
    props: &R,
) -> Result<String, ProviderError> {
    match R::modify(sim, urn, &id, props) {
        Ok(()) => Ok(id),
        Err(e) => {
            R::remove(sim, &id)?;
            Err(e)
        }
    }
}

/// `Some` of a call's result, `None` if the resource wasn't found.
pub(super) fn present<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Err(e) if e.is_not_found() => Ok(None),
        other => other.map(Some),
    }
}

/// The value of a resolved input (providers never see unresolved ones).
pub(super) fn resolved<'a, T>(
    urn: &Urn,
    field: &str,
    input: &'a Input<T>,
) -> Result<&'a T, ProviderError> {
    input
        .value()
        .ok_or_else(|| ProviderError::bad_inputs(urn, format!("`{field}` is not resolved")))
}

impl SimProvider {
    /// Makes the tags of `id` equal `tags`, with the kind's tag APIs.
    pub(super) fn retag<R: Record>(&self, id: &str, tags: &Tags) -> Done {
        let current = self.peek(|c| R::table(c).get(id).map(|r| r.tags().clone()))?;
        let (add, remove) = R::TAG_APIS;
        let gone: Vec<&String> = current.keys().filter(|k| !tags.contains_key(*k)).collect();
        if !gone.is_empty() {
            self.api(remove, |c, _| {
                let t = R::table_mut(c).get_mut(id)?.tags_mut();
                t.retain(|k, _| !gone.contains(&k));
                Ok(())
            })?;
        }
        if tags.iter().any(|(k, v)| current.get(k) != Some(v)) {
            self.api(add, |c, _| {
                let t = R::table_mut(c).get_mut(id)?.tags_mut();
                t.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(())
            })?;
        }
        Ok(())
    }

    /// One call `api` (`set`) making a setting of record `id` of type `R`
    /// `want`, unless `now` says it already is.
    pub(super) fn change<R: Record, T: PartialEq>(
        &self,
        id: &str,
        api: &str,
        now: impl FnOnce(&R) -> T,
        want: T,
        set: impl FnOnce(&mut Cloud, T) -> Done,
    ) -> Done {
        if self.peek(|c| R::table(c).get(id).map(now))? != want {
            self.api(api, |c, _| set(c, want))?;
        }
        Ok(())
    }

    /// The outputs of resource `id` of type `R` now (no API call).
    pub(super) fn outputs_of<R: Simulated>(&self, id: &str) -> Made<R> {
        self.peek(|c| R::Rec::table(c).get(id).map(|r| R::outputs(c, r)))
    }

    /// Polls `R`'s Describe call until resource `id` is available, as
    /// Terraform does; its outputs. One that fails instead is error `failed`.
    pub(super) async fn available<R>(&self, id: &str, failed: &str) -> Made<R>
    where
        R: Simulated,
        R::Rec: Timed,
    {
        self.wait_for(R::DESCRIBE, |c, _| {
            let rec = R::Rec::table(c).get(id)?;
            match rec.phase() {
                (Phase::Available, _) => Ok(Poll::Ready(R::outputs(c, rec))),
                (Phase::Pending, until) => Ok(Poll::At(until)),
                (other, _) => Err(ProviderError::new(
                    failed,
                    format!("{id} became {} while being created", other.as_str()),
                )),
            }
        })
        .await
    }

    /// Polls `R`'s Describe call until resource `id` is deleted. AWS forgets
    /// deleted ones after a while; the simulator does once the deletion has
    /// been seen.
    pub(super) async fn deleted<R>(&self, id: &str) -> Done
    where
        R: Simulated,
        R::Rec: Timed,
    {
        self.wait_for(R::DESCRIBE, |c, _| {
            let table = R::Rec::table_mut(c);
            match table.find(id) {
                Some(rec) => Ok(Poll::At(rec.phase().1)),
                None => {
                    table.remove(id).ok();
                    Ok(Poll::Ready(()))
                }
            }
        })
        .await
    }
}

/// A resource's outputs struct as the provider returns it.
fn outputs<T: Serialize>(value: &T) -> Result<Outputs, ProviderError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ProviderError::internal(format!(
            "outputs serialized as {other}, not an object"
        ))),
        Err(e) => Err(ProviderError::internal(e.to_string())),
    }
}

/// Typed outputs as the provider reports a resource: its id and outputs.
fn found<O: ResourceOutputs>(made: &O) -> Result<Found, ProviderError> {
    Ok(Found {
        id: CloudId::as_str(made.id()).to_string(),
        outputs: outputs(made)?,
    })
}

fn parse_inputs<R: Resource>(urn: &Urn, inputs: Value) -> Result<R, ProviderError> {
    if contains_unknown(&inputs) {
        return Err(ProviderError::bad_inputs(
            urn,
            "some inputs are still unknown",
        ));
    }
    serde_json::from_value(inputs).map_err(|e| ProviderError::bad_inputs(urn, e))
}

/// One resource type's handlers with the type erased, for dispatch by the
/// type token recorded in a request's URN.
#[async_trait]
pub(super) trait SimOps: Send + Sync {
    async fn create(&self, sim: &SimProvider, r: CreateRequest) -> Result<CreateResponse, Error>;
    async fn read(&self, sim: &SimProvider, r: &ReadRequest) -> Result<Option<Outputs>, Error>;
    async fn update(&self, sim: &SimProvider, r: UpdateRequest) -> Result<Outputs, Error>;
    async fn delete(&self, sim: &SimProvider, r: &DeleteRequest) -> Done;
    async fn find(&self, sim: &SimProvider, r: &FindRequest) -> Result<Vec<Found>, Error>;
    async fn settle(&self, sim: &SimProvider, r: &ReadRequest) -> Result<Option<Outputs>, Error>;
}

/// [`SimOps`] for type `R`.
struct Ops<R>(std::marker::PhantomData<fn() -> R>);

#[async_trait]
impl<R: Simulated> SimOps for Ops<R> {
    async fn create(&self, sim: &SimProvider, r: CreateRequest) -> Result<CreateResponse, Error> {
        let props = parse_inputs::<R>(&r.urn, r.inputs)?;
        let Found { id, outputs } = found(&R::create(sim, &r.urn, props).await?)?;
        Ok(CreateResponse { id, outputs })
    }
    async fn read(&self, sim: &SimProvider, r: &ReadRequest) -> Result<Option<Outputs>, Error> {
        R::read(sim, &r.id).await?.map(|o| outputs(&o)).transpose()
    }
    async fn update(&self, sim: &SimProvider, r: UpdateRequest) -> Result<Outputs, Error> {
        let props = parse_inputs::<R>(&r.urn, r.new_inputs)?;
        outputs(&R::update(sim, &r.urn, &r.id, props).await?)
    }
    async fn delete(&self, sim: &SimProvider, r: &DeleteRequest) -> Done {
        R::delete(sim, &r.id).await
    }
    async fn find(&self, sim: &SimProvider, r: &FindRequest) -> Result<Vec<Found>, Error> {
        R::find(sim, &r.urn).await?.iter().map(found).collect()
    }
    async fn settle(&self, sim: &SimProvider, r: &ReadRequest) -> Result<Option<Outputs>, Error> {
        match present(R::settle(sim, &r.id).await)? {
            Some(made) => outputs(&made).map(Some),
            None => Ok(None),
        }
    }
}

/// The handlers of the type named by `urn`, from the registry's list: a
/// registered type without a [`Simulated`] impl doesn't compile.
pub(super) fn ops(urn: &Urn) -> Result<&'static dyn SimOps, ProviderError> {
    macro_rules! table {
        ($($R:ty => $collection:ident),* $(,)?) => {
            &[$((<$R as Resource>::TYPE, &Ops::<$R>(std::marker::PhantomData) as &dyn SimOps)),*]
        };
    }
    let table: &[(&str, &'static dyn SimOps)] = crate::registry::simulated_types!(table);
    let token = urn.type_token();
    crate::registry::find(table, token).ok_or_else(|| {
        ProviderError::unsupported(format!(
            "the simulator doesn't know resource type `{token}`"
        ))
    })
}
