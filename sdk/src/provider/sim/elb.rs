//! Application load balancers and their listeners in the simulated cloud,
//! with ELB's rules: a load balancer has subnets in at least two zones, at
//! most one per zone, all in one VPC, security groups of that VPC, and (if
//! internet-facing) an internet gateway attached to the VPC; its name is
//! unique; it is `provisioning` for a while, then `active`, and deleting it
//! deletes its listeners. A listener's port is unique on its load balancer,
//! it forwards to a target group of the load balancer's VPC that no other
//! load balancer uses, and an HTTPS one needs a certificate ARN. Also the
//! provider handlers for [`LoadBalancer`] and [`Listener`]; target groups
//! are in `target_groups`.

use super::SimProvider;
use super::cloud::{Clock, Cloud, Done, random_hex};
use super::dispatch::{Made, Simulated, configured, resolved};
use super::gateways::InternetGatewayRec;
use super::latency::Op;
use super::network::SubnetRec;
use super::security::SecurityGroupRec;
use super::table::{Life, Phase, Record, Stored, Use, facts};
use super::target_groups::TargetGroupRec;
use crate::aws::elb::{
    AppProtocol, Listener, ListenerArn, ListenerOutputs, LoadBalancer, LoadBalancerArn,
    LoadBalancerOutputs, Scheme,
};
use crate::provider::ProviderError;
use crate::resource::{Tags, Urn, VpcId};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The Route 53 zone of us-east-1 application load balancers' DNS names.
pub(super) const ALB_HOSTED_ZONE: &str = "Z35SXDOTRQ7X7K";

/// An application load balancer, keyed by ARN.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct LoadBalancerRec {
    pub arn: String,
    pub name: String,
    pub scheme: Scheme,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub idle_timeout_seconds: u32,
    pub dns_name: String,
    /// `pending` is ELB's `provisioning`, `available` its `active`.
    pub state: Phase,
    /// When provisioning ends (cloud clock).
    pub until_ms: u64,
    pub tags: Tags,
}

/// A listener, keyed by ARN.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ListenerRec {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: u16,
    pub protocol: AppProtocol,
    pub certificate_arn: Option<String>,
    pub target_group_arn: String,
    pub tags: Tags,
}

facts!(
    LoadBalancerRec for LoadBalancer, "DescribeLoadBalancers": "load balancers",
    not found "LoadBalancerNotFound", "One or more load balancers not found: '{id}'",
    tags "AddTags", "RemoveTags"
);

impl Record for LoadBalancerRec {
    fn life(&self) -> Life {
        self.state.life()
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }

    fn uses(&self, id: &str) -> Vec<Use> {
        let subnets = self.subnet_ids.iter();
        let subnets = subnets.map(|s| Use::new(SubnetRec::TYPE, s, "load balancers", id));
        let groups = self.security_group_ids.iter();
        let groups =
            groups.map(|g| Use::new(SecurityGroupRec::TYPE, g, "used by load balancers", id));
        subnets.chain(groups).collect()
    }
}

facts!(
    ListenerRec for Listener, "DescribeListeners": "listeners",
    not found "ListenerNotFound", "One or more listeners not found: '{id}'",
    tags "AddTags", "RemoveTags"
);

impl Record for ListenerRec {
    fn uses(&self, id: &str) -> Vec<Use> {
        vec![Use::new(
            TargetGroupRec::TYPE,
            &self.target_group_arn,
            "listeners",
            id,
        )]
    }
}

/// ELB's `ValidationError`.
pub(super) fn validation(message: impl Into<String>) -> ProviderError {
    ProviderError::new("ValidationError", message)
}

/// ELB's `InvalidConfigurationRequest`.
fn misconfigured(message: impl Into<String>) -> ProviderError {
    ProviderError::new("InvalidConfigurationRequest", message)
}

/// An ELB name from the one given, else the logical name (cut to fit ELB's
/// 32 characters) plus a random suffix.
pub(super) fn elb_name(given: Option<&str>, logical: &str) -> String {
    match given {
        Some(n) => n.to_string(),
        None => {
            let stem: String = logical
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .take(24)
                .collect();
            format!("{}-{}", stem.trim_matches('-'), random_hex(7))
        }
    }
}

/// The whole declaration of a load balancer, resolved: what CreateLoadBalancer takes.
struct LbSpec<'a> {
    name: String,
    scheme: Scheme,
    subnets: Vec<&'a str>,
    groups: Vec<&'a str>,
    idle_timeout: u32,
    tags: Tags,
}

impl Cloud {
    /// The VPC of load balancer subnets `subnets`: they exist, lie in at
    /// least two zones, one per zone, all in one VPC.
    fn lb_subnets(&self, subnets: &[&str]) -> Result<String, ProviderError> {
        let mut zones: Vec<&str> = Vec::new();
        let mut vpc: Option<&str> = None;
        for id in subnets {
            let s = self.subnets.find(id).ok_or_else(|| {
                ProviderError::new(
                    "SubnetNotFound",
                    format!("The subnet ID '{id}' is not valid"),
                )
            })?;
            if vpc.is_some_and(|v| v != s.vpc_id) {
                return Err(misconfigured(format!(
                    "Subnets must all be in the same VPC: {id} is in {}, not {}",
                    s.vpc_id,
                    vpc.unwrap_or_default()
                )));
            }
            vpc = Some(&s.vpc_id);
            if zones.contains(&s.availability_zone.as_str()) {
                return Err(misconfigured(format!(
                    "A load balancer cannot be attached to multiple subnets in the same Availability Zone ({}: {id})",
                    s.availability_zone
                )));
            }
            zones.push(&s.availability_zone);
        }
        if zones.len() < 2 {
            return Err(validation(
                "At least two subnets in two different Availability Zones must be specified",
            ));
        }
        Ok(vpc.unwrap_or_default().to_string())
    }

    /// Security groups `groups` (the VPC's default group when empty): they
    /// exist and are in `vpc`.
    fn lb_groups(&self, vpc: &str, groups: &[&str]) -> Result<Vec<String>, ProviderError> {
        if groups.is_empty() {
            return Ok(vec![self.vpcs.get(vpc)?.default_security_group_id.clone()]);
        }
        groups
            .iter()
            .map(|g| match self.security_groups.find(g) {
                Some(rec) if rec.vpc_id == vpc => Ok(g.to_string()),
                Some(rec) => Err(ProviderError::new(
                    "InvalidSecurityGroup",
                    format!(
                        "Security group '{g}' is in {}, not the load balancer's VPC {vpc}",
                        rec.vpc_id
                    ),
                )),
                None => Err(ProviderError::new(
                    "InvalidSecurityGroup",
                    format!("Security group '{g}' does not exist"),
                )),
            })
            .collect()
    }

    /// An internet-facing load balancer's VPC needs an internet gateway.
    fn lb_reachable(&self, scheme: Scheme, vpc: &str) -> Done {
        let attached = |g: &InternetGatewayRec| g.vpc_id.as_deref() == Some(vpc);
        if scheme == Scheme::InternetFacing && !self.internet_gateways.values().any(attached) {
            return Err(ProviderError::new(
                "InvalidSubnet",
                format!("VPC {vpc} has no internet gateway"),
            ));
        }
        Ok(())
    }

    /// CreateLoadBalancer: `provisioning` until `clock` says it is active.
    fn create_load_balancer(
        &mut self,
        spec: LbSpec<'_>,
        clock: &Clock,
    ) -> Result<String, ProviderError> {
        if self
            .load_balancers
            .values()
            .any(|l| l.name == spec.name && l.life() != Life::Gone)
        {
            return Err(ProviderError::new(
                "DuplicateLoadBalancerName",
                format!(
                    "A load balancer with the same name '{}' exists, but with different settings",
                    spec.name
                ),
            ));
        }
        let vpc_id = self.lb_subnets(&spec.subnets)?;
        let security_group_ids = self.lb_groups(&vpc_id, &spec.groups)?;
        self.lb_reachable(spec.scheme, &vpc_id)?;
        let arn = self
            .arn(
                "elasticloadbalancing",
                &format!("loadbalancer/app/{}/{}", spec.name, random_hex(16)),
            )
            .as_str()
            .to_string();
        let digits: String = (0..10)
            .map(|_| char::from(b'0' + fastrand::u8(0..10)))
            .collect();
        let internal = if spec.scheme == Scheme::Internal {
            "internal-"
        } else {
            ""
        };
        let dns_name = format!(
            "{internal}{}-{digits}.{}.elb.amazonaws.com",
            spec.name, self.region
        );
        let lb = LoadBalancerRec {
            arn: arn.clone(),
            name: spec.name,
            scheme: spec.scheme,
            vpc_id,
            subnet_ids: spec.subnets.iter().map(|s| s.to_string()).collect(),
            security_group_ids,
            idle_timeout_seconds: spec.idle_timeout,
            dns_name,
            state: Phase::Pending,
            until_ms: clock.after(Op::LoadBalancerCreate),
            tags: spec.tags,
        };
        self.load_balancers.insert(arn.clone(), lb);
        Ok(arn)
    }

    /// SetSubnets: the same rules as at creation, in the same VPC.
    fn set_subnets(&mut self, arn: &str, subnets: &[&str]) -> Done {
        let lb = self.load_balancers.get(arn)?;
        let vpc = self.lb_subnets(subnets)?;
        if vpc != lb.vpc_id {
            return Err(misconfigured(format!(
                "The subnets are in {vpc}, not the load balancer's VPC {}",
                lb.vpc_id
            )));
        }
        self.load_balancers.get_mut(arn)?.subnet_ids =
            subnets.iter().map(|s| s.to_string()).collect();
        Ok(())
    }

    /// SetSecurityGroups.
    fn set_security_groups(&mut self, arn: &str, groups: &[&str]) -> Done {
        let vpc = self.load_balancers.get(arn)?.vpc_id.clone();
        let groups = self.lb_groups(&vpc, groups)?;
        self.load_balancers.get_mut(arn)?.security_group_ids = groups;
        Ok(())
    }

    /// DeleteLoadBalancer: its listeners go with it.
    fn delete_load_balancer(&mut self, arn: &str) -> Done {
        self.load_balancers.get(arn)?;
        self.listeners.retain(|_, l| l.load_balancer_arn != arn);
        self.load_balancers.remove(arn).map(drop)
    }

    /// The load balancers whose listeners forward to target group `tg`.
    pub(super) fn load_balancers_of(&self, tg: &str) -> Vec<String> {
        let mut arns: Vec<String> = self
            .listeners
            .values()
            .filter(|l| l.target_group_arn == tg)
            .map(|l| l.load_balancer_arn.clone())
            .collect();
        arns.sort();
        arns.dedup();
        arns
    }

    /// The listener checks CreateListener and ModifyListener share: the
    /// load balancer exists, no other listener (`except`) has the port, the
    /// target group is in its VPC and used by no other load balancer, and
    /// an HTTPS listener's certificate is an ACM or IAM certificate ARN.
    fn check_listener(&self, spec: &ListenerRec, except: Option<&str>) -> Done {
        let lb = self.load_balancers.get(&spec.load_balancer_arn)?;
        let taken = self.listeners.values().any(|l| {
            l.load_balancer_arn == spec.load_balancer_arn
                && l.port == spec.port
                && Some(l.arn.as_str()) != except
        });
        if taken {
            return Err(ProviderError::new(
                "DuplicateListener",
                format!(
                    "A listener already exists on port {} of {}",
                    spec.port, lb.name
                ),
            ));
        }
        let tg = self.target_groups.get(&spec.target_group_arn)?;
        if tg.vpc_id != lb.vpc_id {
            return Err(validation(format!(
                "The VPC ID '{}' of target group '{}' does not match the VPC ID '{}' of load balancer '{}'",
                tg.vpc_id, tg.name, lb.vpc_id, lb.name
            )));
        }
        let others = self.load_balancers_of(&spec.target_group_arn);
        if let Some(other) = others.iter().find(|o| **o != spec.load_balancer_arn) {
            return Err(ProviderError::new(
                "TargetGroupAssociationLimit",
                format!(
                    "The following target groups cannot be associated with more than one load balancer: {} (already used by {other})",
                    spec.target_group_arn
                ),
            ));
        }
        if spec.protocol == AppProtocol::Https {
            let cert = spec.certificate_arn.as_deref().unwrap_or_default();
            if !is_certificate_arn(cert) {
                return Err(ProviderError::new(
                    "CertificateNotFound",
                    format!("Certificate '{cert}' not found"),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `arn` names a certificate ELB can use: an ACM certificate
/// (`arn:aws:acm:REGION:ACCOUNT:certificate/ID`) or an IAM server
/// certificate (`arn:aws:iam::ACCOUNT:server-certificate/NAME`).
fn is_certificate_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let account = |a: &str| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit());
    match parts.as_slice() {
        ["arn", "aws", "acm", region, acct, res] => {
            !region.is_empty()
                && account(acct)
                && res
                    .strip_prefix("certificate/")
                    .is_some_and(|id| !id.is_empty())
        }
        ["arn", "aws", "iam", "", acct, res] => {
            account(acct)
                && res
                    .strip_prefix("server-certificate/")
                    .is_some_and(|n| !n.is_empty())
        }
        _ => false,
    }
}

/// The resolved ids of `inputs` (field `field` of `urn`).
fn ids<'a, T: crate::resource::CloudId>(
    urn: &Urn,
    field: &str,
    inputs: &'a [crate::resource::Input<T>],
) -> Result<Vec<&'a str>, ProviderError> {
    inputs
        .iter()
        .map(|i| resolved(urn, field, i).map(|v| v.as_str()))
        .collect()
}

#[async_trait]
impl Simulated for LoadBalancer {
    fn outputs(_: &Cloud, l: &LoadBalancerRec) -> LoadBalancerOutputs {
        let state = match l.state {
            Phase::Pending => "provisioning",
            Phase::Available => "active",
            _ => "failed",
        };
        LoadBalancerOutputs {
            id: LoadBalancerArn::new(&l.arn),
            arn: LoadBalancerArn::new(&l.arn),
            name: l.name.clone(),
            dns_name: l.dns_name.clone(),
            canonical_hosted_zone_id: ALB_HOSTED_ZONE.to_string(),
            vpc_id: VpcId::new(&l.vpc_id),
            state: state.to_string(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let spec = LbSpec {
            name: elb_name(props.name.as_deref(), urn.name()),
            scheme: props.scheme,
            subnets: ids(urn, "subnet_ids", &props.subnet_ids)?,
            groups: ids(urn, "security_group_ids", &props.security_group_ids)?,
            // CreateLoadBalancer takes no attributes: a new one has ELB's
            // default, and `modify` sets the declared one.
            idle_timeout: 60,
            tags: props.tags.clone(),
        };
        let arn = sim.api("CreateLoadBalancer", |c, clock| {
            c.create_load_balancer(spec, clock)
        })?;
        configured(sim, urn, arn, props)
    }

    /// SetSubnets, SetSecurityGroups and the idle timeout attribute, each
    /// only if it differs.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let subnets = ids(urn, "subnet_ids", &props.subnet_ids)?;
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        let want: Vec<String> = subnets.iter().map(|s| s.to_string()).collect();
        sim.change(
            id,
            "SetSubnets",
            |l: &LoadBalancerRec| sorted(&l.subnet_ids),
            sorted(&want),
            |c, _| c.set_subnets(id, &subnets),
        )?;
        let groups = ids(urn, "security_group_ids", &props.security_group_ids)?;
        if !groups.is_empty() {
            let want: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
            sim.change(
                id,
                "SetSecurityGroups",
                |l: &LoadBalancerRec| sorted(&l.security_group_ids),
                sorted(&want),
                |c, _| c.set_security_groups(id, &groups),
            )?;
        }
        let idle = |l: &LoadBalancerRec| l.idle_timeout_seconds;
        sim.change(
            id,
            "ModifyLoadBalancerAttributes",
            idle,
            props.idle_timeout_seconds,
            |c, t| {
                c.load_balancers.get_mut(id)?.idle_timeout_seconds = t;
                Ok(())
            },
        )
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteLoadBalancer", |c, _| c.delete_load_balancer(id))
    }

    /// Waits for `active`, polling as Terraform does.
    async fn settle(sim: &SimProvider, id: &str) -> Made<Self> {
        sim.available::<Self>(id, "LoadBalancerFailed").await
    }
}

/// A listener declaration, resolved, as the record it makes.
fn listener_spec(urn: &Urn, props: &Listener, arn: String) -> Result<ListenerRec, ProviderError> {
    let cert = props.certificate_arn.as_ref();
    let cert = cert
        .map(|c| resolved(urn, "certificate_arn", c))
        .transpose()?;
    Ok(ListenerRec {
        arn,
        load_balancer_arn: resolved(urn, "load_balancer_arn", &props.load_balancer_arn)?
            .as_str()
            .to_string(),
        port: props.port,
        protocol: props.protocol,
        certificate_arn: cert.map(|c| c.as_str().to_string()),
        target_group_arn: resolved(urn, "target_group_arn", &props.target_group_arn)?
            .as_str()
            .to_string(),
        tags: props.tags.clone(),
    })
}

impl Simulated for Listener {
    fn outputs(_: &Cloud, l: &ListenerRec) -> ListenerOutputs {
        ListenerOutputs {
            id: ListenerArn::new(&l.arn),
            arn: ListenerArn::new(&l.arn),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let spec = listener_spec(urn, props, String::new())?;
        sim.api("CreateListener", |c, _| {
            c.check_listener(&spec, None)?;
            let lb = c.load_balancers.get(&spec.load_balancer_arn)?;
            let tail = lb
                .arn
                .split_once(":loadbalancer/")
                .map(|(_, t)| t)
                .unwrap_or_default();
            let arn = c.arn(
                "elasticloadbalancing",
                &format!("listener/{tail}/{}", random_hex(16)),
            );
            let arn = arn.as_str().to_string();
            c.listeners.insert(
                arn.clone(),
                ListenerRec {
                    arn: arn.clone(),
                    ..spec
                },
            );
            Ok(arn)
        })
    }

    /// ModifyListener: port, protocol, certificate and target group.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let want = listener_spec(urn, props, id.to_string())?;
        let now = |l: &ListenerRec| {
            (
                l.port,
                l.protocol,
                l.certificate_arn.clone(),
                l.target_group_arn.clone(),
            )
        };
        let key = (
            want.port,
            want.protocol,
            want.certificate_arn.clone(),
            want.target_group_arn.clone(),
        );
        sim.change(id, "ModifyListener", now, key, |c, _| {
            let lb = c.listeners.get(id)?.load_balancer_arn.clone();
            let spec = ListenerRec {
                load_balancer_arn: lb,
                tags: c.listeners.get(id)?.tags.clone(),
                ..want
            };
            c.check_listener(&spec, Some(id))?;
            c.listeners.insert(id.to_string(), spec);
            Ok(())
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteListener", |c, _| c.listeners.remove(id).map(drop))
    }
}
