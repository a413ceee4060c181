//! Retrying provider calls: [`RetryPolicy`] (exponential backoff with full
//! jitter, bounded by attempts and a total budget of waiting) and the loops
//! the executor and refresh run provider calls in. Only what
//! [`ProviderError::retryable`] says may succeed later is retried
//! (throttling, server errors, lost answers); validation errors, conflicts
//! and the like never are.
//!
//! Two rules go beyond the error's own word:
//! - a create that failed retryably may have taken effect (a lost answer, a
//!   server error after the fact), so before trying again the resource is
//!   looked for by its `keel:urn` tag ([`Provider::find_by_tags`]) and taken
//!   if found: a retry never creates a second one. A provider that can't
//!   search gets no retry after a lost answer.
//! - a create or update whose answer is a not-found code while something it
//!   references was created or replaced earlier in the same run is retried
//!   too: AWS is eventually consistent, and a resource made moments ago may
//!   not be visible yet to calls that name it. AWS's SDKs don't retry these;
//!   Terraform retries such codes for a bounded time after a create, and so
//!   does keel, within the same policy. A not-found code on any other call
//!   (or when nothing referenced is new) is final.

use crate::plan::{Action, Plan, Step};
use crate::provider::{
    CreateRequest, CreateResponse, ErrorKind, FindRequest, Provider, ProviderError,
};
use std::future::Future;
use std::time::Duration;

/// How provider calls are retried: up to `attempts` tries, waiting a random
/// time up to `base * 2^n` (at most `cap`) before try `n + 1`, and no more
/// waiting in all than `budget`.
///
/// ```
/// use keel::engine::RetryPolicy;
/// use std::time::Duration;
/// let policy = RetryPolicy::default().base(Duration::from_millis(5)).attempts(4);
/// assert_eq!(policy.attempts, 4);
/// assert!(policy.delay(3) <= Duration::from_millis(40));
/// assert_eq!(RetryPolicy::none().attempts, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The longest first wait.
    pub base: Duration,
    /// The longest any one wait.
    pub cap: Duration,
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The most waiting in all across the retries of one call.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// AWS-sized: waits from up to 250 ms doubling to at most 20 s, 8 tries,
    /// two minutes of waiting at most.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(20),
            attempts: 8,
            budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// One try, no retries.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the longest first wait (the cap grows to 80 times it if smaller).
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self.cap = self.cap.min(base.saturating_mul(80)).max(base);
        self
    }

    /// Sets the number of tries (at least 1).
    pub fn attempts(mut self, n: u32) -> Self {
        self.attempts = n.max(1);
        self
    }

    /// Sets the most waiting in all.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The longest wait before retry `n` (0 for the first retry):
    /// `min(cap, base * 2^n)`.
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(30)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A wait before retry `n`: uniformly random up to [`ceiling`](Self::ceiling)
    /// ("full jitter", so clients that failed together don't retry together).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(n).as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(fastrand::u64(0..=ceiling))
    }
}

/// Counts the waits of one call's retries against a policy.
struct Backoff<'p> {
    policy: &'p RetryPolicy,
    tries: u32,
    waited: Duration,
}

impl<'p> Backoff<'p> {
    fn new(policy: &'p RetryPolicy) -> Self {
        Self {
            policy,
            tries: 1,
            waited: Duration::ZERO,
        }
    }

    /// Waits before the next try; `false` if the policy allows none.
    async fn wait(&mut self) -> bool {
        if self.tries >= self.policy.attempts {
            return false;
        }
        let delay = self.policy.delay(self.tries - 1);
        if self.waited + delay > self.policy.budget {
            return false;
        }
        tokio::time::sleep(delay).await;
        self.waited += delay;
        self.tries += 1;
        true
    }

    fn retries(&self) -> u32 {
        self.tries - 1
    }
}

/// Runs `call` until it succeeds, fails with an error `retry` rejects, or
/// the policy is spent; its last result and how many retries it took.
pub(crate) async fn with<T, F, Fut>(
    policy: &RetryPolicy,
    retry: impl Fn(&ProviderError) -> bool,
    mut call: F,
) -> (Result<T, ProviderError>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut backoff = Backoff::new(policy);
    loop {
        match call().await {
            Err(e) if retry(&e) && backoff.wait().await => continue,
            result => return (result, backoff.retries()),
        }
    }
}

/// Whether a call whose references are new (`fresh`) may succeed later
/// after error `e`: retryable, or a not-found code about a fresh reference.
pub(crate) fn transient(e: &ProviderError, fresh: bool) -> bool {
    e.retryable() || (fresh && e.is_not_found())
}

/// Whether `step` references something `plan` creates (or replaces), which
/// may not be visible yet when the step runs.
pub(crate) fn references_new(plan: &Plan, step: &Step) -> bool {
    let new = |urn: &crate::resource::Urn| {
        let made = plan.steps.iter().find(|s| &s.urn == urn);
        made.is_some_and(|s| matches!(s.action, Action::Create | Action::Replace))
    };
    step.dependencies.iter().any(new)
}

/// Creates `request`'s resource, retrying as the module says; `fresh`: it
/// references something created earlier in this run. Its answer and how
/// many retries it took.
pub(crate) async fn create(
    provider: &dyn Provider,
    request: &CreateRequest,
    policy: &RetryPolicy,
    fresh: bool,
) -> (Result<CreateResponse, ProviderError>, u32) {
    let mut backoff = Backoff::new(policy);
    // Whether an earlier try may have made it.
    let mut maybe_made = false;
    loop {
        if maybe_made {
            let find = FindRequest {
                urn: request.urn.clone(),
            };
            match provider.find_by_tags(find).await {
                Ok(found) => {
                    if let Some(f) = found.into_iter().next() {
                        let made = CreateResponse {
                            id: f.id,
                            outputs: f.outputs,
                        };
                        return (Ok(made), backoff.retries());
                    }
                }
                Err(e) if e.kind == ErrorKind::Unsupported => {
                    let why = format!(
                        "{}: a create's answer was lost and the {} provider can't search for what it made, so it is not tried again",
                        request.urn,
                        provider.name()
                    );
                    return (Err(ProviderError::internal(why)), backoff.retries());
                }
                Err(e) if e.retryable() && backoff.wait().await => continue,
                Err(e) => return (Err(e), backoff.retries()),
            }
        }
        match provider.create(request.clone()).await {
            Err(e) if transient(&e, fresh) && backoff.wait().await => {
                maybe_made |= e.retryable();
            }
            result => return (result, backoff.retries()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::sim::{Faults, SimProvider};
    use crate::resource::Urn;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn throttled() -> ProviderError {
        ProviderError::new("RequestLimitExceeded", "Request limit exceeded.")
    }

    #[test]
    fn waits_grow_exponentially_up_to_the_cap_with_full_jitter() {
        let p = RetryPolicy::default().base(Duration::from_millis(10));
        assert_eq!(p.ceiling(0), Duration::from_millis(10));
        assert_eq!(p.ceiling(3), Duration::from_millis(80));
        assert_eq!(p.ceiling(30), p.cap);
        assert_eq!(p.cap, Duration::from_millis(800));
        let delays: Vec<Duration> = (0..500).map(|_| p.delay(2)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(40)));
        assert!(
            delays.iter().any(|d| *d < Duration::from_millis(10)),
            "jittered down"
        );
        assert!(
            delays.iter().any(|d| *d > Duration::from_millis(30)),
            "and up"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_errors_are_retried_until_success() {
        let tries = AtomicU32::new(0);
        let (result, retries) = with(
            &RetryPolicy::default(),
            ProviderError::retryable,
            || async {
                match tries.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err(throttled()),
                    _ => Ok("done"),
                }
            },
        )
        .await;
        assert_eq!(result, Ok("done"));
        assert_eq!((retries, tries.load(Ordering::SeqCst)), (3, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn what_is_not_retryable_is_tried_once() {
        let tries = AtomicU32::new(0);
        let invalid = ProviderError::new("InvalidSubnet.Conflict", "conflicts");
        let (result, retries) = with(
            &RetryPolicy::default(),
            ProviderError::retryable,
            || async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(invalid.clone())
            },
        )
        .await;
        assert_eq!(result, Err(invalid));
        assert_eq!((retries, tries.load(Ordering::SeqCst)), (0, 1));
        let not_found = ProviderError::new("InvalidVpcID.NotFound", "no vpc");
        assert!(!transient(&not_found, false) && transient(&not_found, true));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_and_budget_bound_the_retries() {
        let policy = RetryPolicy::default().attempts(4);
        let start = tokio::time::Instant::now();
        let (result, retries) = with(&policy, ProviderError::retryable, || async {
            Err::<(), _>(throttled())
        })
        .await;
        assert_eq!(result, Err(throttled()));
        assert_eq!(retries, 3);
        let waited = start.elapsed();
        assert!(waited <= policy.ceiling(0) + policy.ceiling(1) + policy.ceiling(2));
        // A budget smaller than the first possible wait allows few retries.
        let tight = RetryPolicy::default().budget(Duration::from_millis(300));
        let start = tokio::time::Instant::now();
        let (_, retries) = with(&tight, ProviderError::retryable, || async {
            Err::<(), _>(throttled())
        })
        .await;
        assert!(retries < tight.attempts - 1, "{retries}");
        assert!(start.elapsed() <= tight.budget);
    }

    /// The simulator, losing the answer of its first `lose` creates.
    struct LosesAnswers {
        sim: SimProvider,
        lose: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Provider for LosesAnswers {
        fn name(&self) -> &str {
            "loses-answers"
        }
        async fn create(&self, r: CreateRequest) -> Result<CreateResponse, ProviderError> {
            let made = self.sim.create(r).await?;
            match self
                .lose
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            {
                Ok(_) => Err(ProviderError::new("RequestTimeout", "lost").with_retryable(true)),
                Err(_) => Ok(made),
            }
        }
        async fn read(
            &self,
            r: crate::provider::ReadRequest,
        ) -> Result<Option<crate::provider::ReadResponse>, ProviderError> {
            self.sim.read(r).await
        }
        async fn update(
            &self,
            r: crate::provider::UpdateRequest,
        ) -> Result<crate::provider::Outputs, ProviderError> {
            self.sim.update(r).await
        }
        async fn delete(&self, r: crate::provider::DeleteRequest) -> Result<(), ProviderError> {
            self.sim.delete(r).await
        }
        async fn find_by_tags(
            &self,
            r: FindRequest,
        ) -> Result<Vec<crate::provider::Found>, ProviderError> {
            self.sim.find_by_tags(r).await
        }
    }

    fn vpc_request() -> CreateRequest {
        let urn = Urn::new("t", "aws:ec2:Vpc", "main");
        let inputs = serde_json::json!({
            "cidr_block": "10.0.0.0/16",
            "tags": {"keel:urn": urn.to_string()}
        });
        CreateRequest { urn, inputs }
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_whose_answer_was_lost_is_found_not_made_twice() {
        let sim = SimProvider::in_memory();
        let provider = LosesAnswers {
            sim: sim.clone(),
            lose: AtomicU32::new(1),
        };
        let (made, retries) =
            create(&provider, &vpc_request(), &RetryPolicy::default(), false).await;
        let made = made.unwrap();
        assert_eq!(retries, 1);
        assert_eq!(sim.resource_count(), 1, "found, not made again");
        assert_eq!(sim.api_calls()["CreateVpc"], 1);
        let read = sim
            .find_by_tags(FindRequest {
                urn: vpc_request().urn,
            })
            .await
            .unwrap();
        assert_eq!(read[0].id, made.id);
        assert_eq!(read[0].outputs, made.outputs);
    }

    #[tokio::test(start_paused = true)]
    async fn under_constant_faults_a_create_makes_at_most_one() {
        for seed in 0..20 {
            let sim = SimProvider::in_memory();
            let faulty = sim.clone().with_faults(Faults::transient(1.0).seed(seed));
            let (result, retries) =
                create(&faulty, &vpc_request(), &RetryPolicy::default(), false).await;
            assert!(result.is_err() && retries > 0, "rate 1 never succeeds");
            assert!(
                sim.resource_count() <= 1,
                "seed {seed}: {:?}",
                faulty.faults_injected()
            );
        }
    }
}
