//! Elastic Load Balancing (v2): [`LoadBalancer`] (an application load
//! balancer, internet-facing or internal, in subnets of at least two
//! zones), [`TargetGroup`] (where it sends traffic, with a health check)
//! and [`Listener`] (a port on the load balancer forwarding to a target
//! group). Targets need not sit in the load balancer's subnets: an
//! internet-facing load balancer in public subnets serves instances in
//! private ones, as long as security groups and network ACLs let it reach
//! them on the health-check and traffic ports.

use crate::resource::{
    Arn, FieldError, Handle, Input, Output, Outputs, Resource, SecurityGroupId, SubnetId, Tags,
    VpcId, cloud_id,
};
use crate::stack::Probe;
use serde::{Deserialize, Serialize};

cloud_id!(
    /// The ARN of a load balancer (ELB's id for it).
    ///
    /// ```
    /// let arn = keel::aws::elb::LoadBalancerArn::new(
    ///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
    /// );
    /// assert!(arn.as_str().contains(":loadbalancer/app/"));
    /// ```
    LoadBalancerArn, "arn"
);
cloud_id!(
    /// The ARN of a target group.
    ///
    /// ```
    /// let arn = keel::aws::elb::TargetGroupArn::new(
    ///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/6d0ecf831eec9f09",
    /// );
    /// assert!(arn.as_str().contains(":targetgroup/"));
    /// ```
    TargetGroupArn, "arn"
);
cloud_id!(
    /// The ARN of a listener.
    ///
    /// ```
    /// let arn = keel::aws::elb::ListenerArn::new(
    ///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
    /// );
    /// assert!(arn.as_str().contains(":listener/"));
    /// ```
    ListenerArn, "arn"
);

/// Whether a load balancer takes traffic from the internet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, crate::References)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Public addresses; its subnets must route to an internet gateway.
    #[default]
    InternetFacing,
    /// Private addresses only.
    Internal,
}

impl Scheme {
    /// As ELB spells it: `internet-facing` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

/// The protocol of a listener or a target group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, crate::References)]
#[serde(rename_all = "UPPERCASE")]
pub enum AppProtocol {
    /// HTTP.
    #[default]
    Http,
    /// HTTPS (a listener needs a certificate).
    Https,
}

impl AppProtocol {
    /// As ELB spells it: `HTTP` or `HTTPS`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocol::Http => "HTTP",
            AppProtocol::Https => "HTTPS",
        }
    }
}

/// An application load balancer.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let a = stack.add("public-a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// let b = stack.add("public-b", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1b"));
/// let sg = stack.add("alb", SecurityGroup::new(vpc.id(), "load balancer").ingress(Rule::tcp(80).cidr("0.0.0.0/0")));
/// let lb = stack.add("web", LoadBalancer::new().subnet(a.id()).subnet(b.id()).security_group(sg.id()));
/// stack.export("url", lb.url());
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize, Resource)]
// Provisioning takes a few minutes.
#[resource(token = "aws:elbv2:LoadBalancer", outputs = LoadBalancerOutputs, cost = 180, validate = Self::validate_fields)]
pub struct LoadBalancer {
    /// The name; generated from the logical name when absent. Changing it
    /// replaces the load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// Internet-facing (the default) or internal. Changing it replaces the
    /// load balancer.
    #[serde(default)]
    #[resource(replace)]
    pub scheme: Scheme,
    /// Its subnets: at least two, in different availability zones.
    #[serde(default)]
    #[resource(set)]
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Its security groups (the VPC's default group when none).
    #[serde(default)]
    #[resource(set)]
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
    /// Seconds a connection may stay idle (1–4000; AWS's default 60).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u32,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

fn default_idle_timeout() -> u32 {
    60
}

impl LoadBalancer {
    /// An internet-facing application load balancer; add subnets and groups.
    pub fn new() -> Self {
        Self {
            idle_timeout_seconds: default_idle_timeout(),
            ..Self::default()
        }
    }
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Makes it internal (private addresses only).
    pub fn internal(mut self) -> Self {
        self.scheme = Scheme::Internal;
        self
    }
    /// Adds a subnet.
    pub fn subnet(mut self, subnet_id: impl Into<Input<SubnetId>>) -> Self {
        self.subnet_ids.push(subnet_id.into());
        self
    }
    /// Adds a security group.
    pub fn security_group(mut self, group: impl Into<Input<SecurityGroupId>>) -> Self {
        self.security_group_ids.push(group.into());
        self
    }
    /// Sets the idle timeout in seconds.
    pub fn idle_timeout_seconds(mut self, seconds: u32) -> Self {
        self.idle_timeout_seconds = seconds;
        self
    }

    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_elb_name(&self.name, &mut errors);
        if self.subnet_ids.len() < 2 {
            errors.push(FieldError::new(
                "subnet_ids",
                "an application load balancer needs subnets in at least two availability zones",
            ));
        }
        if !(1..=4000).contains(&self.idle_timeout_seconds) {
            errors.push(FieldError::new(
                "idle_timeout_seconds",
                format!("{} is outside 1..=4000", self.idle_timeout_seconds),
            ));
        }
        errors
    }
}

/// ELB's rule for load balancer and target group names: 1–32 letters,
/// digits and hyphens, not starting or ending with a hyphen, and (load
/// balancers) not starting with `internal-`.
pub(crate) fn check_elb_name(name: &Option<String>, errors: &mut Vec<FieldError>) {
    let Some(n) = name else { return };
    let ok = !n.is_empty()
        && n.len() <= 32
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !n.starts_with('-')
        && !n.ends_with('-')
        && !n.starts_with("internal-");
    if !ok {
        errors.push(FieldError::new(
            "name",
            format!(
                "`{n}`: 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen nor starting with `internal-`"
            ),
        ));
    }
}

/// What ELB reports for a load balancer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct LoadBalancerOutputs {
    /// The ARN (its id).
    pub id: LoadBalancerArn,
    /// The ARN.
    pub arn: LoadBalancerArn,
    /// The name.
    pub name: String,
    /// The public (or, internal, private) DNS name.
    pub dns_name: String,
    /// The Route 53 hosted zone of its DNS name (for alias records).
    pub canonical_hosted_zone_id: String,
    /// Its VPC.
    pub vpc_id: VpcId,
    /// `provisioning`, `active` or `failed`.
    pub state: String,
}

impl Handle<LoadBalancer> {
    /// `http://<dns name>/`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// let lb = stack.add("web", LoadBalancer::new());
    /// stack.export("url", lb.url());
    /// ```
    pub fn url(&self) -> Output<String> {
        self.dns_name().map(|d| format!("http://{d}/"))
    }
}

/// Whether a target group's targets are instances or IP addresses (tasks
/// in `awsvpc` network mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, crate::References)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// EC2 instances, on the port each registration names.
    #[default]
    Instance,
    /// IP addresses (required for `awsvpc` tasks).
    Ip,
}

/// The port a health check connects to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, crate::References)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheckPort {
    /// The port each target receives traffic on (AWS's `traffic-port`).
    #[default]
    TrafficPort,
    /// A fixed port.
    Port(u16),
}

/// A target group's health check.
///
/// ```
/// use keel::aws::elb::HealthCheck;
/// let check = HealthCheck::http("/healthz");
/// assert_eq!(check.healthy_threshold, 5);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, crate::References)]
pub struct HealthCheck {
    /// The protocol.
    #[serde(default)]
    pub protocol: AppProtocol,
    /// The path requested.
    pub path: String,
    /// The port.
    #[serde(default)]
    pub port: HealthCheckPort,
    /// Consecutive successes before a target is healthy (2–10).
    pub healthy_threshold: u8,
    /// Consecutive failures before it is unhealthy (2–10).
    pub unhealthy_threshold: u8,
    /// Seconds between checks (5–300).
    pub interval_seconds: u16,
    /// Seconds before a check fails (2–120, less than the interval).
    pub timeout_seconds: u16,
    /// HTTP codes that count as success (`200`, `200-299`).
    pub matcher: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self::http("/")
    }
}

impl HealthCheck {
    /// An HTTP check of `path` on the traffic port with AWS's defaults.
    pub fn http(path: impl Into<String>) -> Self {
        Self {
            protocol: AppProtocol::Http,
            path: path.into(),
            port: HealthCheckPort::TrafficPort,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            interval_seconds: 30,
            timeout_seconds: 5,
            matcher: "200".into(),
        }
    }
    /// Checks a fixed port instead of the traffic port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = HealthCheckPort::Port(port);
        self
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        let mut bad = |field: &str, msg: String| {
            errors.push(FieldError::new(format!("health_check.{field}"), msg));
        };
        if !self.path.starts_with('/') {
            bad("path", format!("`{}` must start with /", self.path));
        }
        for (field, v) in [
            ("healthy_threshold", self.healthy_threshold),
            ("unhealthy_threshold", self.unhealthy_threshold),
        ] {
            if !(2..=10).contains(&v) {
                bad(field, format!("{v} is outside 2..=10"));
            }
        }
        if !(5..=300).contains(&self.interval_seconds) {
            bad(
                "interval_seconds",
                format!("{} is outside 5..=300", self.interval_seconds),
            );
        }
        if !(2..=120).contains(&self.timeout_seconds)
            || self.timeout_seconds >= self.interval_seconds
        {
            bad(
                "timeout_seconds",
                format!(
                    "{} must be 2..=120 and less than interval_seconds ({})",
                    self.timeout_seconds, self.interval_seconds
                ),
            );
        }
        if let HealthCheckPort::Port(0) = self.port {
            bad("port", "port 0 is not a port".into());
        }
    }
}

/// A target group: where a listener forwards, and how targets' health is
/// checked. An ECS service registers its tasks here.
///
/// ```
/// use keel::prelude::*;
/// use keel::aws::elb::HealthCheck;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let tg = stack.add("web", TargetGroup::http(80, vpc.id()).health_check(HealthCheck::http("/")));
/// stack.export_probe("healthy_targets", tg.healthy_targets());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:elbv2:TargetGroup", outputs = TargetGroupOutputs, cost = 2, validate = Self::validate_fields)]
pub struct TargetGroup {
    /// The name; generated from the logical name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The protocol targets receive.
    #[serde(default)]
    #[resource(replace)]
    pub protocol: AppProtocol,
    /// The default port targets receive on (a registration may name another).
    #[resource(replace)]
    pub port: u16,
    /// Its VPC: targets must be in it.
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// Instances or IP addresses.
    #[serde(default)]
    #[resource(replace)]
    pub target_type: TargetType,
    /// The health check.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Seconds a deregistering target keeps its connections (0–3600).
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay_seconds: u32,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

fn default_deregistration_delay() -> u32 {
    300
}

impl TargetGroup {
    /// An HTTP target group of instances on `port` in `vpc_id`.
    pub fn http(port: u16, vpc_id: impl Into<Input<VpcId>>) -> Self {
        Self {
            name: None,
            protocol: AppProtocol::Http,
            port,
            vpc_id: vpc_id.into(),
            target_type: TargetType::Instance,
            health_check: HealthCheck::default(),
            deregistration_delay_seconds: default_deregistration_delay(),
            tags: Tags::new(),
        }
    }
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Targets are IP addresses (for `awsvpc` tasks).
    pub fn ip_targets(mut self) -> Self {
        self.target_type = TargetType::Ip;
        self
    }
    /// Sets the health check.
    pub fn health_check(mut self, check: HealthCheck) -> Self {
        self.health_check = check;
        self
    }
    /// Sets the deregistration delay.
    pub fn deregistration_delay_seconds(mut self, seconds: u32) -> Self {
        self.deregistration_delay_seconds = seconds;
        self
    }

    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_elb_name(&self.name, &mut errors);
        if self.port == 0 {
            errors.push(FieldError::new("port", "port 0 is not a port"));
        }
        if self.deregistration_delay_seconds > 3600 {
            errors.push(FieldError::new(
                "deregistration_delay_seconds",
                format!("{} is above 3600", self.deregistration_delay_seconds),
            ));
        }
        self.health_check.check(&mut errors);
        errors
    }
}

/// What ELB reports for a target group.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct TargetGroupOutputs {
    /// The ARN (its id).
    pub id: TargetGroupArn,
    /// The ARN.
    pub arn: TargetGroupArn,
    /// The name.
    pub name: String,
    /// Load balancers forwarding to it.
    pub load_balancer_arns: Vec<LoadBalancerArn>,
    /// Registered targets when last read.
    pub registered_targets: u64,
    /// Targets whose health is `healthy` when last read.
    pub healthy_targets: u64,
}

/// The output field a [`Probe`] of healthy targets reads.
pub(crate) const HEALTHY_FIELD: &str = "healthy_targets";

impl Handle<TargetGroup> {
    /// A probe of the number of `healthy` targets, read after `up`.
    ///
    /// ```
    /// use keel::prelude::*;
    /// use std::time::Duration;
    /// let mut stack = Stack::new("demo");
    /// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
    /// let tg = stack.add("web", TargetGroup::http(80, vpc.id()));
    /// stack.export_probe("healthy", tg.healthy_targets().wait_for_at_least(2, Duration::from_secs(60)));
    /// ```
    pub fn healthy_targets(&self) -> Probe {
        Probe::new(self.urn().clone(), HEALTHY_FIELD)
    }
}

/// A listener: a port of a load balancer whose default action forwards to
/// a target group.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let lb = stack.add("web", LoadBalancer::new());
/// let tg = stack.add("web", TargetGroup::http(80, vpc.id()));
/// stack.add("http", Listener::http(lb.arn(), 80, tg.arn()));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:elbv2:Listener", outputs = ListenerOutputs, cost = 2, validate = Self::validate_fields)]
pub struct Listener {
    /// The load balancer.
    #[resource(replace)]
    pub load_balancer_arn: Input<LoadBalancerArn>,
    /// The port it listens on.
    pub port: u16,
    /// HTTP or HTTPS.
    #[serde(default)]
    pub protocol: AppProtocol,
    /// The certificate of an HTTPS listener (an ACM ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<Input<Arn>>,
    /// The target group its default action forwards to.
    pub target_group_arn: Input<TargetGroupArn>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl Listener {
    /// An HTTP listener on `port` forwarding to `target_group_arn`.
    pub fn http(
        load_balancer_arn: impl Into<Input<LoadBalancerArn>>,
        port: u16,
        target_group_arn: impl Into<Input<TargetGroupArn>>,
    ) -> Self {
        Self {
            load_balancer_arn: load_balancer_arn.into(),
            port,
            protocol: AppProtocol::Http,
            certificate_arn: None,
            target_group_arn: target_group_arn.into(),
            tags: Tags::new(),
        }
    }
    /// Makes it HTTPS with the certificate `certificate_arn`.
    pub fn https(mut self, certificate_arn: impl Into<Input<Arn>>) -> Self {
        self.protocol = AppProtocol::Https;
        self.certificate_arn = Some(certificate_arn.into());
        self
    }

    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.port == 0 {
            errors.push(FieldError::new("port", "port 0 is not a port"));
        }
        match (self.protocol, &self.certificate_arn) {
            (AppProtocol::Https, None) => errors.push(FieldError::new(
                "certificate_arn",
                "an HTTPS listener needs a certificate",
            )),
            (AppProtocol::Http, Some(_)) => errors.push(FieldError::new(
                "certificate_arn",
                "an HTTP listener takes no certificate",
            )),
            _ => {}
        }
        errors
    }
}

/// What ELB reports for a listener.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct ListenerOutputs {
    /// The ARN (its id).
    pub id: ListenerArn,
    /// The ARN.
    pub arn: ListenerArn,
}
