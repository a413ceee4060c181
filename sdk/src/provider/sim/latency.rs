//! [`SimLatency`]: how long the simulator's operations take. Each kind of
//! operation has a base duration close to what AWS takes (most calls about a
//! second, IAM propagation eight, a NAT gateway two minutes to become
//! available, an interface endpoint one, an instance a minute to boot),
//! multiplied by one scale factor.
//! This module owns the durations and reading the setting from the
//! environment; the provider turns them into sleeps and ready-times.

use std::time::Duration;

/// The environment variable [`SimLatency::from_env`] reads: `0`, `off` or
/// `none` for no latency, a number for a scale factor (1 = AWS speed),
/// unset for [`SimLatency::realistic`].
pub const LATENCY_ENV: &str = "KEEL_SIM_LATENCY";

/// What the simulator waits for, each with its base duration at AWS speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// An ordinary mutating API call (create a VPC, a route…).
    Call,
    /// A read-only call.
    Read,
    /// IAM changes becoming visible to EC2 (instance profiles).
    IamPropagation,
    /// A NAT gateway going from `pending` to `available`.
    NatCreate,
    /// A NAT gateway going from `deleting` to `deleted`.
    NatDelete,
    /// An interface VPC endpoint going from `pending` to `available`.
    EndpointCreate,
    /// An interface VPC endpoint going from `deleting` to `deleted`.
    EndpointDelete,
    /// An instance going from `pending` to `running` (agent started).
    InstanceBoot,
    /// An instance going from `shutting-down` to terminated.
    InstanceTerminate,
    /// ECS creating a cluster.
    EcsCluster,
    /// A load balancer going from `provisioning` to `active`.
    LoadBalancerCreate,
    /// ECS starting a placed task: pulling its image and starting its
    /// containers (also how long a service waits before it retries placing
    /// or starting a task that failed).
    TaskStart,
}

impl Op {
    /// Milliseconds at AWS speed.
    fn base_millis(self) -> u64 {
        match self {
            Op::Call => 1_000,
            Op::Read => 200,
            Op::IamPropagation => 8_000,
            Op::NatCreate => 120_000,
            Op::NatDelete => 60_000,
            Op::EndpointCreate => 60_000,
            Op::EndpointDelete => 30_000,
            Op::InstanceBoot => 60_000,
            Op::InstanceTerminate => 30_000,
            Op::EcsCluster => 3_000,
            Op::LoadBalancerCreate => 180_000,
            Op::TaskStart => 20_000,
        }
    }
}

/// How long simulated operations take: AWS's typical durations times a scale
/// factor.
///
/// ```
/// use keel::provider::sim::SimLatency;
/// assert_eq!(SimLatency::none().scale(), 0.0);
/// assert_eq!(SimLatency::realistic().scale(), 1.0 / 60.0); // a NAT gateway takes 2 s
/// assert_eq!(SimLatency::scaled(-3.0).scale(), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimLatency {
    scale: f64,
}

impl SimLatency {
    /// Everything completes instantly (for tests).
    pub fn none() -> Self {
        Self { scale: 0.0 }
    }

    /// AWS's durations divided by 60: a NAT gateway takes 2 s, an instance
    /// boots in 1 s, so a whole stack deploys in a few seconds.
    pub fn realistic() -> Self {
        Self { scale: 1.0 / 60.0 }
    }

    /// AWS's durations times `factor` (1.0 is AWS speed). A negative or
    /// non-finite factor means no latency.
    pub fn scaled(factor: f64) -> Self {
        if factor.is_finite() && factor > 0.0 {
            Self { scale: factor }
        } else {
            Self::none()
        }
    }

    /// The setting in [`LATENCY_ENV`]: `0`/`off`/`none` → [`none`](Self::none),
    /// a number → [`scaled`](Self::scaled), unset or unreadable →
    /// [`realistic`](Self::realistic).
    pub fn from_env() -> Self {
        Self::parse(std::env::var(LATENCY_ENV).ok().as_deref())
    }

    fn parse(setting: Option<&str>) -> Self {
        match setting.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("realistic") => Self::realistic(),
            Some("0") | Some("off") | Some("none") => Self::none(),
            Some(s) => s
                .parse()
                .map(Self::scaled)
                .unwrap_or_else(|_| Self::realistic()),
        }
    }

    /// The scale factor applied to AWS's durations.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// How long `op` takes, in milliseconds.
    pub(super) fn millis(&self, op: Op) -> u64 {
        // Saturating float-to-int conversion: absurd scales can't overflow.
        (op.base_millis() as f64 * self.scale).round() as u64
    }

    /// How long `op` takes.
    pub(super) fn duration(&self, op: Op) -> Duration {
        Duration::from_millis(self.millis(op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_as_documented() {
        assert_eq!(SimLatency::parse(None), SimLatency::realistic());
        for off in ["0", "off", "none", " NONE "] {
            assert_eq!(SimLatency::parse(Some(off)), SimLatency::none(), "{off}");
        }
        assert_eq!(SimLatency::parse(Some("0.5")).scale(), 0.5);
        assert_eq!(SimLatency::parse(Some("fast")), SimLatency::realistic());
    }

    #[test]
    fn durations_scale() {
        let l = SimLatency::realistic();
        assert_eq!(l.millis(Op::NatCreate), 2_000);
        assert_eq!(l.millis(Op::InstanceBoot), 1_000);
        assert_eq!(SimLatency::none().duration(Op::NatCreate), Duration::ZERO);
        assert_eq!(SimLatency::scaled(1.0).millis(Op::Call), 1_000);
    }
}
