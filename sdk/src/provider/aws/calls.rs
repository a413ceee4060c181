//! Counting API calls per operation with an SDK interceptor: each operation
//! counts once however many attempts its retries take.

use aws_sdk_ec2::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents, SharedInterceptor};
use aws_sdk_ec2::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// API calls by `Service.Operation`.
///
/// ```
/// let c = keel::provider::aws::CallCounter::default();
/// assert_eq!(c.mutating(), 0);
/// ```
#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl CallCounter {
    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Calls whose operation isn't a Describe, Get or List.
    pub fn mutating(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(k, _)| {
                let op = k.rsplit('.').next().unwrap_or(k);
                !(op.starts_with("Describe") || op.starts_with("Get") || op.starts_with("List"))
            })
            .map(|(_, v)| v)
            .sum()
    }

    pub(crate) fn interceptor(self: &Arc<Self>) -> SharedInterceptor {
        SharedInterceptor::new(Counting(self.clone()))
    }

    fn count(&self, key: String) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(key).or_default() += 1;
        }
    }
}

#[derive(Debug)]
struct Counting(Arc<CallCounter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "KeelCallCounter"
    }

    // Runs once per operation, after the operation's own configuration (which
    // names it) is in place and before the retry loop.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service(), m.name()),
            None => "Unknown.Unknown".to_string(),
        };
        self.0.count(key);
        Ok(())
    }
}
