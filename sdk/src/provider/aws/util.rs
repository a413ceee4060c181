//! Helpers every AWS resource module uses: typed inputs and outputs, tags,
//! physical names, error mapping and bounded waits.

use crate::provider::{Outputs, ProviderError};
use crate::resource::{Tags, Urn};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// The resolved inputs as the resource type.
pub(crate) fn parse<R: DeserializeOwned>(urn: &Urn, inputs: &Value) -> Result<R, ProviderError> {
    serde_json::from_value(inputs.clone()).map_err(|e| ProviderError::bad_inputs(urn, e))
}

/// An `*Outputs` struct as the outputs map.
pub(crate) fn outputs<T: Serialize>(value: &T) -> Result<Outputs, ProviderError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ProviderError::internal("outputs are not an object")),
        Err(e) => Err(ProviderError::internal(e.to_string())),
    }
}

/// EC2 tags.
pub(crate) fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
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

/// Whether an error says the resource doesn't exist.
pub(crate) fn is_not_found(e: &ProviderError) -> bool {
    e.is_not_found()
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
