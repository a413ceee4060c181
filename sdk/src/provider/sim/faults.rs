//! [`Faults`]: what goes wrong in the simulated cloud, by seed and rate, so
//! the engine's retries can be tested against AWS's transient failures.
//! This module owns the fault plan, its parsing from [`FAULTS_ENV`], and the
//! decision for each provider call; the provider asks before and after each
//! call (create, read, update, delete, search by tag).
//!
//! Transient faults, each drawn for a call with probability `rate` from a
//! generator seeded with `seed` (the same calls in the same order draw the
//! same faults):
//! - server errors (`InternalError` for EC2, `InternalFailure` elsewhere, or
//!   `ServiceUnavailable`), answered before the call takes effect;
//! - throttling (`RequestLimitExceeded` for EC2, `Throttling` for IAM and
//!   Auto Scaling, `ThrottlingException` for ECS), before the call takes
//!   effect;
//! - timeouts: the call takes effect and its answer is lost; the caller sees
//!   a retryable `RequestTimeout`;
//! - eventual consistency: a resource just created is, with the same
//!   probability, invisible to calls that name it (in their inputs) for a
//!   short while ([`Faults::consistency`]), which answer the type's AWS
//!   not-found code (`InvalidVpcID.NotFound`…) before taking effect.
//!
//! Permanent faults ([`Faults::fail`]) make every create, update and delete
//! of one resource (by its logical name; its reads still answer) or one
//! operation of one type fail with `UnauthorizedOperation`, which is never
//! retryable.

use crate::provider::ProviderError;
use crate::resource::{Resource, Urn};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The environment variable [`Faults::from_env`] reads, e.g.
/// `rate=0.1,seed=7` or `rate=0.05,fail=net-nat-a,fail=aws:ec2:Subnet/create`.
pub const FAULTS_ENV: &str = "KEEL_SIM_FAULTS";

/// A provider call, as faults name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    Create,
    Read,
    Update,
    Delete,
    Find,
}

impl Call {
    fn as_str(self) -> &'static str {
        match self {
            Call::Create => "create",
            Call::Read => "read",
            Call::Update => "update",
            Call::Delete => "delete",
            Call::Find => "find",
        }
    }
}

/// Which faults the simulator injects.
///
/// ```
/// use keel::provider::sim::{Faults, SimProvider};
/// let faults = Faults::transient(0.10).seed(7).fail("nat-a");
/// assert_eq!(faults.rate(), 0.10);
/// let sim = SimProvider::in_memory().with_faults(faults);
/// assert!(sim.faults_injected().is_empty());
/// assert_eq!(Faults::parse("rate=0.1,seed=7").unwrap(), Faults::transient(0.1).seed(7));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    rate: f64,
    seed: u64,
    consistency: Duration,
    /// Logical names, or `type/operation`, whose calls always fail.
    permanent: Vec<String>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::transient(0.0)
    }

    /// Transient faults on a fraction `rate` (0 to 1) of calls, seed 0.
    pub fn transient(rate: f64) -> Self {
        Self {
            rate: if rate.is_finite() {
                rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            seed: 0,
            consistency: Duration::from_millis(20),
            permanent: Vec::new(),
        }
    }

    /// The seed the faults are drawn with.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How long a resource that lags stays invisible after its create
    /// (default 20 ms).
    pub fn consistency(mut self, window: Duration) -> Self {
        self.consistency = window;
        self
    }

    /// Every create, update and delete of resource `target` (its logical
    /// name, `nat-a`; reads still answer, as under a policy that denies
    /// only changes), or every call of one operation of one type (`aws:ec2:Subnet/create`; operations are
    /// `create`, `read`, `update`, `delete`, `find`), fails for good.
    pub fn fail(mut self, target: impl Into<String>) -> Self {
        self.permanent.push(target.into());
        self
    }

    /// The fraction of calls that meet a transient fault.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The setting in [`FAULTS_ENV`], `None` if unset or empty.
    pub fn from_env() -> Result<Option<Self>, String> {
        match std::env::var(FAULTS_ENV) {
            Ok(s) if !s.trim().is_empty() => Self::parse(&s).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses `rate=R,seed=S,consistency_ms=M,fail=TARGET…` (any order,
    /// each optional, `fail` repeatable).
    pub fn parse(setting: &str) -> Result<Self, String> {
        let mut faults = Self::none();
        for part in setting.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{FAULTS_ENV}: `{part}` is not key=value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{FAULTS_ENV}: {key}: {e}");
            match key.trim() {
                "rate" => {
                    let rate: f64 = value.parse().map_err(|e| bad(&e))?;
                    if !(0.0..=1.0).contains(&rate) {
                        return Err(bad(&"must be between 0 and 1"));
                    }
                    faults.rate = rate;
                }
                "seed" => faults.seed = value.parse().map_err(|e| bad(&e))?,
                "consistency_ms" => {
                    let ms = value.parse().map_err(|e| bad(&e))?;
                    faults.consistency = Duration::from_millis(ms);
                }
                "fail" => faults.permanent.push(value.to_string()),
                other => return Err(format!("{FAULTS_ENV}: unknown key `{other}`")),
            }
        }
        Ok(faults)
    }

    fn fails_for_good(&self, urn: &Urn, call: Call) -> bool {
        let op = format!("{}/{}", urn.type_token(), call.as_str());
        // A logical name fails the calls that change the resource; its
        // reads still answer, as with a policy that denies only changes.
        let changes = matches!(call, Call::Create | Call::Update | Call::Delete);
        self.permanent
            .iter()
            .any(|t| (*t == urn.name() && changes) || *t == op)
    }
}

/// A [`Faults`] setting in use: its generator, the resources that lag, and
/// what was injected.
pub(super) struct Plan {
    faults: Faults,
    rng: fastrand::Rng,
    /// Ids of resources that lag, with when they become visible.
    lagging: BTreeMap<String, (String, Instant)>,
    injected: BTreeMap<String, u64>,
}

/// What to do about one call.
pub(super) enum Verdict {
    /// Answer this error without making the call.
    Refuse(ProviderError),
    /// Make the call, then answer a timeout instead of its result.
    LoseAnswer,
    /// Make the call.
    Pass,
}

impl Plan {
    pub(super) fn new(faults: Faults) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(faults.seed),
            faults,
            lagging: BTreeMap::new(),
            injected: BTreeMap::new(),
        }
    }

    /// What was injected so far, by kind.
    pub(super) fn injected(&self) -> BTreeMap<String, u64> {
        self.injected.clone()
    }

    fn count(&mut self, kind: &str) {
        *self.injected.entry(kind.to_string()).or_default() += 1;
    }

    /// The fault, if any, for call `call` of resource `urn` whose request
    /// names `inputs` (a create's or update's inputs, else the id).
    pub(super) fn before(&mut self, call: Call, urn: &Urn, named: &[&str]) -> Verdict {
        if self.faults.fails_for_good(urn, call) {
            self.count("permanent");
            return Verdict::Refuse(ProviderError::new(
                "UnauthorizedOperation",
                format!(
                    "{urn}: You are not authorized to perform this operation ({} is set to fail)",
                    call.as_str()
                ),
            ));
        }
        let now = Instant::now();
        self.lagging.retain(|_, (_, until)| *until > now);
        let lagging = named.iter().find_map(|n| self.lagging.get(*n));
        if let Some((kind, _)) = lagging.cloned() {
            let id = named.iter().find(|n| self.lagging.contains_key(**n));
            self.count("consistency");
            return Verdict::Refuse(not_found(&kind, id.copied().unwrap_or_default()));
        }
        if self.rng.f64() >= self.faults.rate {
            return Verdict::Pass;
        }
        let ec2 = urn.type_token().starts_with("aws:ec2:");
        match self.rng.u32(0..3) {
            0 => {
                self.count("server");
                let code = match (self.rng.bool(), ec2) {
                    (true, _) => "ServiceUnavailable",
                    (false, true) => "InternalError",
                    (false, false) => "InternalFailure",
                };
                Verdict::Refuse(ProviderError::new(
                    code,
                    format!("{urn}: the service failed to process the request (injected)"),
                ))
            }
            1 => {
                self.count("throttling");
                let code = match urn.type_token() {
                    t if t.starts_with("aws:ec2:") => "RequestLimitExceeded",
                    t if t.starts_with("aws:ecs:") => "ThrottlingException",
                    _ => "Throttling",
                };
                Verdict::Refuse(ProviderError::new(
                    code,
                    format!("{urn}: Rate exceeded (injected)"),
                ))
            }
            _ => {
                self.count("timeout");
                Verdict::LoseAnswer
            }
        }
    }

    /// A resource of type `urn`'s was just created with `id`: with the
    /// fault rate, it lags for the consistency window.
    pub(super) fn created(&mut self, urn: &Urn, id: &str) {
        if self.faults.rate > 0.0 && self.rng.f64() < self.faults.rate {
            let until = Instant::now() + self.faults.consistency;
            let kind = urn.type_token().to_string();
            self.lagging.insert(id.to_string(), (kind, until));
        }
    }
}

/// The answer for a call whose answer was lost.
pub(super) fn timeout(urn: &Urn, call: Call) -> ProviderError {
    ProviderError::new(
        "RequestTimeout",
        format!(
            "{urn}: {} timed out waiting for the answer (it may have taken effect)",
            call.as_str()
        ),
    )
    .with_retryable(true)
}

/// AWS's not-found error for id `id` of type `token`.
fn not_found(token: &str, id: &str) -> ProviderError {
    macro_rules! lookup {
        ($($R:ty => $field:ident),* $(,)?) => {
            $(if token == <$R as Resource>::TYPE {
                return <<$R as super::table::Kept>::Rec as super::table::Record>::not_found(id);
            })*
        };
    }
    crate::registry::simulated_types!(lookup);
    ProviderError::not_found(format!("{id} does not exist"))
}

/// Every string in `value` (the ids a request names).
pub(super) fn strings(value: &serde_json::Value) -> Vec<&str> {
    match value {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(items) => items.iter().flat_map(strings).collect(),
        serde_json::Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urn(token: &str) -> Urn {
        Urn::new("t", token, "x")
    }

    /// The kinds drawn for `n` calls.
    fn draws(faults: Faults, n: usize) -> Vec<String> {
        let mut plan = Plan::new(faults);
        (0..n)
            .map(
                |_| match plan.before(Call::Create, &urn("aws:ec2:Vpc"), &[]) {
                    Verdict::Refuse(e) => e.code().to_string(),
                    Verdict::LoseAnswer => "timeout".to_string(),
                    Verdict::Pass => "-".to_string(),
                },
            )
            .collect()
    }

    #[test]
    fn a_seed_draws_the_same_faults_and_the_rate_holds() {
        let a = draws(Faults::transient(0.1).seed(7), 2_000);
        assert_eq!(a, draws(Faults::transient(0.1).seed(7), 2_000));
        assert_ne!(a, draws(Faults::transient(0.1).seed(8), 2_000));
        let faults = a.iter().filter(|k| *k != "-").count();
        assert!((150..250).contains(&faults), "{faults} of 2000 at 10%");
        for kind in ["RequestLimitExceeded", "timeout", "InternalError"] {
            assert!(a.iter().any(|k| k == kind), "{kind} drawn");
        }
        assert!(draws(Faults::none(), 500).iter().all(|k| k == "-"));
    }

    #[test]
    fn injected_errors_are_retryable_and_permanent_ones_are_not() {
        let mut plan = Plan::new(Faults::transient(1.0).fail("x"));
        let Verdict::Refuse(e) = plan.before(Call::Create, &urn("aws:iam:Role"), &[]) else {
            panic!("a permanent fault");
        };
        assert_eq!(e.code(), "UnauthorizedOperation");
        assert!(!e.retryable());
        let mut plan = Plan::new(Faults::transient(1.0).seed(3));
        for _ in 0..50 {
            match plan.before(Call::Update, &urn("aws:ecs:Cluster"), &[]) {
                Verdict::Refuse(e) => assert!(e.retryable(), "{e}"),
                Verdict::LoseAnswer => assert!(timeout(&urn("x"), Call::Update).retryable()),
                Verdict::Pass => panic!("rate 1 always faults"),
            }
        }
        let by_op = Faults::none().fail("aws:ec2:Subnet/create");
        assert!(by_op.fails_for_good(&urn("aws:ec2:Subnet"), Call::Create));
        assert!(!by_op.fails_for_good(&urn("aws:ec2:Subnet"), Call::Delete));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lagging_resource_is_not_found_for_a_while() {
        let mut plan = Plan::new(Faults::transient(1.0).consistency(Duration::from_millis(20)));
        plan.created(&urn("aws:ec2:Vpc"), "vpc-1");
        plan.faults.rate = 0.0; // only the lag from here on
        let subnet = urn("aws:ec2:Subnet");
        let Verdict::Refuse(e) = plan.before(Call::Create, &subnet, &["10.0.0.0/24", "vpc-1"])
        else {
            panic!("the VPC lags");
        };
        assert_eq!(e.code(), "InvalidVpcID.NotFound");
        assert!(e.is_not_found() && !e.retryable());
        tokio::time::advance(Duration::from_millis(21)).await;
        assert!(matches!(
            plan.before(Call::Create, &subnet, &["vpc-1"]),
            Verdict::Pass
        ));
        assert_eq!(plan.injected()["consistency"], 1);
    }

    #[test]
    fn settings_parse() {
        let f = Faults::parse("rate=0.1, seed=7,fail=nat-a,consistency_ms=5").unwrap();
        let want = Faults::transient(0.1)
            .seed(7)
            .fail("nat-a")
            .consistency(Duration::from_millis(5));
        assert_eq!(f, want);
        assert!(Faults::parse("rate=2").is_err());
        assert!(Faults::parse("speed=1").is_err());
        assert!(Faults::parse("rate").is_err());
    }
}
