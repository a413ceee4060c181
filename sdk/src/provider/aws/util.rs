//! Helpers every AWS resource module uses: EC2 tags (building them and
//! syncing them on update), physical names, error mapping and bounded
//! waits.

use super::resource::{Cx, observed_tags, send};
use crate::provider::ProviderError;
use crate::resource::{Input, Tags, Urn};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use std::future::Future;
use std::time::Duration;

/// The resolved value of an input as AWS spells it (providers only see
/// resolved inputs).
pub(crate) fn val<T: ToString>(input: &Input<T>) -> String {
    input.value().map(|v| v.to_string()).unwrap_or_default()
}

/// The resolved values of a list of inputs, in order, without repeats.
pub(crate) fn vals<T: ToString>(inputs: &[Input<T>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in inputs.iter().map(val) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// EC2 tags.
pub(crate) fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// EC2 tags as keel's map, less AWS's own.
pub(crate) fn tags_of(tags: &[Tag]) -> Tags {
    observed_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

/// The tags of `old` that `new` drops, and those of `new` that are new or
/// changed.
pub(crate) fn tag_changes(old: &Tags, new: &Tags) -> (Tags, Tags) {
    let pick = |from: &Tags, keep: &dyn Fn(&String, &String) -> bool| -> Tags {
        from.iter()
            .filter(|(k, v)| keep(k, v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let removed = pick(old, &|k, _| !new.contains_key(k));
    let changed = pick(new, &|k, v| old.get(k) != Some(v));
    (removed, changed)
}

/// Adds, changes and removes EC2 tags so `id` carries exactly `new`.
pub(crate) async fn sync_tags(
    cx: &Cx<'_>,
    id: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (removed, changed) = tag_changes(old, new);
    if !removed.is_empty() {
        let removed = removed
            .keys()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        let call = cx.c.ec2.delete_tags().resources(id).set_tags(Some(removed));
        send!(cx, "DeleteTags", call)?;
    }
    if !changed.is_empty() {
        let call = cx.c.ec2.create_tags().resources(id);
        let call = call.set_tags(Some(ec2_tags(&changed)));
        send!(cx, "CreateTags", call)?;
    }
    Ok(())
}

/// TagSpecifications for a create call, or none when there are no tags (AWS
/// refuses an empty one).
pub(crate) fn tag_specs(kind: ResourceType, tags: &Tags) -> Option<Vec<TagSpecification>> {
    (!tags.is_empty()).then(|| {
        vec![
            TagSpecification::builder()
                .resource_type(kind)
                .set_tags(Some(ec2_tags(tags)))
                .build(),
        ]
    })
}

/// A physical name: the one given, else `<logical>-<7 hex>` (as Pulumi
/// auto-names), so a replacement can exist beside the old resource.
pub(crate) fn physical_name(urn: &Urn, given: &Option<String>) -> String {
    given
        .clone()
        .unwrap_or_else(|| format!("{}-{:07x}", urn.name(), fastrand::u32(..0x1000_0000)))
}

/// Maps an SDK error to a provider error naming the resource and operation.
pub(crate) fn aws_error<'u, E, R>(
    urn: &'u Urn,
    op: &'static str,
) -> impl FnOnce(SdkError<E, R>) -> ProviderError + 'u
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        let retryable = matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_))
            || e.code().is_some_and(|c| {
                c.contains("Throttl") || c == "RequestLimitExceeded" || c == "ServiceUnavailable"
            });
        let code = e.code().unwrap_or("Unknown").to_string();
        let detail = match e.message() {
            Some(m) => m.to_string(),
            None => aws_smithy_error_chain(&e),
        };
        ProviderError::aws(code, format!("{urn}: {op}: {detail}")).with_retryable(retryable)
    }
}

fn aws_smithy_error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// Polls `check` every `poll` until it yields a value, for at most
/// `timeout`; then fails with a clear error about `what`.
pub(crate) async fn wait_for<T, F, Fut>(
    urn: &Urn,
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(ProviderError::timeout(format!(
                "{urn}: gave up waiting after {:.0?} for {what}",
                timeout
            )));
        }
        tokio::time::sleep(poll).await;
    }
}
