//! The typed contract each resource type's AWS implementation fulfils,
//! [`AwsResource`], and what is the same for every type, written once:
//! reading one resource (a gone one is `None`), reading many with one
//! batched Describe and falling back to one by one when AWS fails the batch
//! because one is gone, finding resources by their `keel:urn` tag, the
//! "returned no id" / "vanished" errors, and the two macros every SDK call
//! goes through (`send!` names the operation in errors, `ec2_describe!`
//! sends an EC2 Describe by ids or by tag).
//!
//! A type describes itself once ([`AwsResource::describe`], by ids or by
//! tag) into its `Live` form; its outputs and its observed configuration
//! ([`AwsResource::observe`]: the recorded props with every field the
//! Describe answer reports replaced by what it reports) are pure functions
//! of that form. JSON is not this module's: `dispatch` erases the types.

use super::Clients;
use super::util::aws_error;
use crate::provider::ProviderError;
use crate::resource::{CloudId, Resource, ResourceOutputs, Tags, URN_TAG, Urn};
use async_trait::async_trait;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use std::collections::BTreeMap;

/// What a resource type's calls return.
pub(crate) type Res<T> = Result<T, ProviderError>;

/// What every call of one resource's implementation needs: the SDK clients
/// and the resource's URN (for error messages and the `keel:urn` tag).
#[derive(Clone, Copy)]
pub(crate) struct Cx<'a> {
    /// The clients.
    pub c: &'a Clients,
    /// The resource.
    pub urn: &'a Urn,
}

impl<'a> Cx<'a> {
    /// Maps an SDK error of operation `op` to a provider error naming the
    /// resource.
    pub(crate) fn err<E, R>(
        &self,
        op: &'static str,
    ) -> impl FnOnce(SdkError<E, R>) -> ProviderError + 'a
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        aws_error(self.urn, op)
    }

    /// The id create call `op` answered with; an error if it has none.
    pub(crate) fn new_id(&self, op: &str, id: Option<&str>) -> Result<String, ProviderError> {
        id.map(str::to_string).ok_or_else(|| self.missing(op, "id"))
    }

    /// The error for a create call whose answer has no `what`.
    pub(crate) fn missing(&self, op: &str, what: &str) -> ProviderError {
        ProviderError::internal(format!("{}: {op} returned no {what}", self.urn))
    }

    /// The EC2 filter on keel's `keel:urn` tag with this resource's URN.
    pub(crate) fn urn_filter(&self) -> aws_sdk_ec2::types::Filter {
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{URN_TAG}"))
            .values(self.urn.to_string())
            .build()
    }

    /// Whether `tags` carry this resource's `keel:urn` tag.
    pub(crate) fn owns(&self, tags: &Tags) -> bool {
        tags.get(URN_TAG)
            .is_some_and(|u| *u == self.urn.to_string())
    }
}

/// Which resources a Describe call is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Query<'a> {
    /// These ids; AWS may fail the whole call with a not-found code if one
    /// is gone.
    Ids(&'a [String]),
    /// Every live one tagged `keel:urn` = the context's URN.
    Tagged,
}

/// A resource as the cloud has it now.
#[derive(Debug)]
pub(crate) struct Observed<R: Resource> {
    /// The recorded props with every field AWS reports replaced by what it
    /// reports.
    pub props: R,
    /// Its outputs.
    pub outputs: R::Outputs,
}

/// A resource as keel recorded it, to be read back.
#[derive(Debug)]
pub(crate) struct Recorded<R: Resource> {
    /// The resource.
    pub urn: Urn,
    /// Its cloud id.
    pub id: R::Id,
    /// The props it was created or last updated with.
    pub props: R,
}

/// The results of reading several resources.
pub(crate) type ReadResults<R> = Vec<Result<Option<Observed<R>>, ProviderError>>;

/// A resource type the AWS provider manages.
#[async_trait]
pub(crate) trait AwsResource: Resource {
    /// The resource as one Describe (or Get) answer has it, with whatever
    /// else its outputs need.
    type Live: Send + Sync;

    /// Creates the resource; its outputs (the id among them).
    async fn create(cx: &Cx<'_>, props: &Self) -> Result<Self::Outputs, ProviderError>;

    /// Describes the live resources `query` names, skipping deleted ones.
    /// A not-found error means one of the ids is gone.
    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Result<Vec<Self::Live>, ProviderError>;

    /// The outputs of a described resource.
    fn outputs(cx: &Cx<'_>, live: &Self::Live) -> Result<Self::Outputs, ProviderError>;

    /// `recorded` with every field `live` reports replaced by what it
    /// reports.
    fn observe(recorded: &Self, live: &Self::Live) -> Self;

    /// Makes the live resource match `new`; its outputs.
    async fn update(
        cx: &Cx<'_>,
        id: &Self::Id,
        old: &Self,
        new: &Self,
    ) -> Result<Self::Outputs, ProviderError>;

    /// Deletes it; one already gone is fine. Only the id is needed, so a
    /// record whose inputs can't be read can still be deleted.
    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Result<(), ProviderError>;

    /// Reads it back; `None` if it no longer exists.
    async fn read(
        cx: &Cx<'_>,
        id: &Self::Id,
        recorded: &Self,
    ) -> Result<Option<Observed<Self>>, ProviderError> {
        Ok(match live::<Self>(cx, id.as_str()).await? {
            Some(l) => Some(observed(cx, recorded, &l)?),
            None => None,
        })
    }

    /// Reads several with one Describe; one by one if AWS fails the batch
    /// because one is gone.
    async fn read_many(c: &Clients, items: &[Recorded<Self>]) -> ReadResults<Self> {
        let Some(first) = items.first() else {
            return Vec::new();
        };
        let cx = Cx { c, urn: &first.urn };
        let ids: Vec<String> = items.iter().map(|i| i.id.as_str().to_string()).collect();
        let found = match Self::describe(&cx, Query::Ids(&ids)).await {
            Ok(found) => by_id::<Self>(&cx, found),
            Err(e) if e.is_not_found() => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    let cx = Cx { c, urn: &i.urn };
                    out.push(Self::read(&cx, &i.id, &i.props).await);
                }
                return out;
            }
            Err(e) => Err(e),
        };
        let found = match found {
            Ok(found) => found,
            Err(e) => return items.iter().map(|_| Err(e.clone())).collect(),
        };
        items
            .iter()
            .map(|i| match found.get(i.id.as_str()) {
                Some((outputs, l)) => Ok(Some(Observed {
                    props: Self::observe(&i.props, l),
                    outputs: outputs.clone(),
                })),
                None => Ok(None),
            })
            .collect()
    }

    /// Every live resource tagged with the context's URN.
    async fn find_by_tags(cx: &Cx<'_>) -> Result<Vec<Self::Outputs>, ProviderError> {
        let found = Self::describe(cx, Query::Tagged).await?;
        found.iter().map(|l| Self::outputs(cx, l)).collect()
    }
}

/// Described resources by id, with their outputs.
type ById<R> = BTreeMap<String, (<R as Resource>::Outputs, <R as AwsResource>::Live)>;

fn by_id<R: AwsResource>(cx: &Cx<'_>, found: Vec<R::Live>) -> Result<ById<R>, ProviderError> {
    found
        .into_iter()
        .map(|l| {
            let o = R::outputs(cx, &l)?;
            Ok((o.id().as_str().to_string(), (o, l)))
        })
        .collect()
}

/// Resource `id` as described, or `None` if it is gone.
pub(crate) async fn live<R: AwsResource>(
    cx: &Cx<'_>,
    id: &str,
) -> Result<Option<R::Live>, ProviderError> {
    let ids = [id.to_string()];
    match R::describe(cx, Query::Ids(&ids)).await {
        Ok(found) => Ok(by_id::<R>(cx, found)?.remove(id).map(|(_, l)| l)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Resource `id` as described; a not-found error if it is gone (`when`:
/// "after creation", "during the update"…).
pub(crate) async fn must_live<R: AwsResource>(
    cx: &Cx<'_>,
    id: &str,
    when: &str,
) -> Result<R::Live, ProviderError> {
    live::<R>(cx, id)
        .await?
        .ok_or_else(|| ProviderError::not_found(format!("{}: {id} vanished {when}", cx.urn)))
}

/// The outputs of resource `id` as described now; an error if it is gone.
pub(crate) async fn outputs_now<R: AwsResource>(
    cx: &Cx<'_>,
    id: &str,
    when: &str,
) -> Result<R::Outputs, ProviderError> {
    R::outputs(cx, &must_live::<R>(cx, id, when).await?)
}

fn observed<R: AwsResource>(
    cx: &Cx<'_>,
    recorded: &R,
    l: &R::Live,
) -> Result<Observed<R>, ProviderError> {
    Ok(Observed {
        props: R::observe(recorded, l),
        outputs: R::outputs(cx, l)?,
    })
}

/// `Ok(())` for a result that failed because the resource is already gone.
pub(crate) fn gone_is_fine<T>(r: Result<T, ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// Tags as AWS reports them, less AWS's own (`aws:`), from `(key, value)`
/// pairs.
pub(crate) fn observed_tags<'t>(pairs: impl IntoIterator<Item = (&'t str, &'t str)>) -> Tags {
    pairs
        .into_iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `recorded` reordered as `seen` has it: what is still there in recorded
/// order, then what is new, so an unchanged set compares equal.
pub(crate) fn keep_order<T: Clone + PartialEq>(recorded: &[T], seen: &[T]) -> Vec<T> {
    let mut out: Vec<T> = recorded
        .iter()
        .filter(|r| seen.contains(r))
        .cloned()
        .collect();
    for s in seen {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Sends SDK call `$call`; its answer, or the error naming operation `$op`.
macro_rules! send {
    ($cx:expr_2021, $op:literal, $call:expr_2021) => {
        $call.send().await.map_err($cx.err($op))
    };
}
pub(crate) use send;

/// Sends EC2 Describe call `$op` for `query`: with the ids (`$ids`, the
/// ids setter) or the `keel:urn` tag filter (`$filter`, the filter adder);
/// AWS's answer, or the error naming operation `$name`.
macro_rules! ec2_describe {
    ($cx:expr_2021, $query:expr_2021, $name:literal => $op:ident($ids:ident, $filter:ident)) => {{
        let call = $cx.c.ec2.$op();
        let call = match $query {
            $crate::provider::aws::resource::Query::Ids(ids) => call.$ids(Some(ids.to_vec())),
            $crate::provider::aws::resource::Query::Tagged => call.$filter($cx.urn_filter()),
        };
        send!($cx, $name, call)
    }};
}
pub(crate) use ec2_describe;
