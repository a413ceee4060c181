//! Retrying one call while AWS answers with an error that passes with time:
//! IAM's eventual consistency (`NoSuchEntity` for a role created a moment
//! ago, `DeleteConflict` for a policy detached a moment ago), ECS container
//! instances still deregistering from a cluster being deleted. The SDK's own
//! retry policy covers throttling and 5xx only; this covers the codes a
//! caller names, for a bounded time, through [`wait_for`]. When time runs
//! out the caller gets AWS's last error, not a generic timeout.

use super::util::wait_for;
use crate::provider::{ErrorKind, ProviderError};
use crate::resource::Urn;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// Calls `call` until it succeeds, fails with a code outside `codes`, or
/// `timeout` has passed (then the last error is returned).
pub(crate) async fn retry_on<T, F, Fut>(
    urn: &Urn,
    what: &str,
    codes: &[&str],
    timeout: Duration,
    poll: Duration,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let last: Mutex<Option<ProviderError>> = Mutex::new(None);
    let outcome = wait_for(urn, what, timeout, poll, || {
        let attempt = call();
        let last = &last;
        async move {
            match attempt.await {
                Ok(v) => Ok(Some(v)),
                Err(e) if codes.contains(&e.code()) => {
                    if let Ok(mut slot) = last.lock() {
                        *slot = Some(e);
                    }
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    match outcome {
        Err(timeout) if timeout.kind == ErrorKind::Timeout => {
            let last = last.lock().ok().and_then(|mut slot| slot.take());
            Err(last.unwrap_or(timeout))
        }
        other => other,
    }
}
