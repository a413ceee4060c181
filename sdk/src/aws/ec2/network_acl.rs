//! [`NetworkAcl`]: a stateless subnet firewall. Rules are evaluated in rule
//! number order and the first match decides; anything unmatched is denied.
//! Because it is stateless, return traffic (to ephemeral ports) needs rules
//! of its own. Subnets not associated with a custom ACL use the VPC's default
//! ACL, which allows everything.

use super::security_group::Protocol;
use crate::cidr;
use crate::resource::{
    FieldError, Input, NetworkAclId, Outputs, References, Resource, SubnetId, Tags, VpcId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The first port of the range Linux (and so the ECS agent) uses for
/// outgoing connections; return traffic arrives on these ports.
pub const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum AclAction {
    /// Let matching traffic through.
    Allow,
    /// Drop matching traffic.
    Deny,
}

/// One numbered ACL rule.
///
/// ```
/// use keel::aws::ec2::AclRule;
/// let r = AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0");
/// assert_eq!(r.rule_number, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, References)]
pub struct AclRule {
    /// Evaluation order, 1 to 32766; lowest first.
    pub rule_number: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// First port (ignored for [`Protocol::All`]).
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// The peer block.
    pub cidr_block: String,
    /// Allow or deny.
    pub action: AclAction,
}

impl AclRule {
    /// What identifies a rule in its direction: its number.
    pub(crate) fn key(&self) -> String {
        self.rule_number.to_string()
    }

    /// Allows TCP ports `from..=to` to or from `cidr`.
    pub fn allow_tcp(rule_number: u16, from: u16, to: u16, cidr: impl Into<String>) -> Self {
        Self::new(rule_number, Protocol::Tcp, from, to, cidr, AclAction::Allow)
    }
    /// Allows all traffic to or from `cidr`.
    pub fn allow_all(rule_number: u16, cidr: impl Into<String>) -> Self {
        Self::new(rule_number, Protocol::All, 0, 65535, cidr, AclAction::Allow)
    }
    /// Denies TCP ports `from..=to` to or from `cidr`.
    pub fn deny_tcp(rule_number: u16, from: u16, to: u16, cidr: impl Into<String>) -> Self {
        Self::new(rule_number, Protocol::Tcp, from, to, cidr, AclAction::Deny)
    }
    /// Denies all traffic to or from `cidr`.
    pub fn deny_all(rule_number: u16, cidr: impl Into<String>) -> Self {
        Self::new(rule_number, Protocol::All, 0, 65535, cidr, AclAction::Deny)
    }
    /// Any rule.
    pub fn new(
        rule_number: u16,
        protocol: Protocol,
        from_port: u16,
        to_port: u16,
        cidr: impl Into<String>,
        action: AclAction,
    ) -> Self {
        Self {
            rule_number,
            protocol,
            from_port,
            to_port,
            cidr_block: cidr.into(),
            action,
        }
    }
}

/// A custom network ACL with its subnet associations.
///
/// ```
/// use keel::prelude::*;
/// use keel::aws::ec2::{AclRule, NetworkAcl};
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let private = stack.add("private-a", Subnet::new(vpc.id(), "10.0.10.0/24", "us-east-1a"));
/// stack.add(
///     "private",
///     NetworkAcl::new(vpc.id())
///         .egress(AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0"))
///         .ingress(AclRule::allow_tcp(100, 1024, 65535, "0.0.0.0/0"))
///         .associate(private.id()),
/// );
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:NetworkAcl", outputs = NetworkAclOutputs, validate = Self::validate_fields)]
pub struct NetworkAcl {
    /// The VPC. Changing it replaces the ACL.
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// Inbound rules.
    #[serde(default)]
    #[resource(set_key = AclRule::key)]
    pub ingress: Vec<AclRule>,
    /// Outbound rules.
    #[serde(default)]
    #[resource(set_key = AclRule::key)]
    pub egress: Vec<AclRule>,
    /// Subnets that use this ACL instead of the VPC's default one.
    #[serde(default)]
    #[resource(set)]
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl NetworkAcl {
    /// An ACL in `vpc_id` that denies everything until rules are added.
    pub fn new(vpc_id: impl Into<Input<VpcId>>) -> Self {
        Self {
            vpc_id: vpc_id.into(),
            ingress: Vec::new(),
            egress: Vec::new(),
            subnet_ids: Vec::new(),
            tags: Tags::new(),
        }
    }
    /// Adds an inbound rule.
    pub fn ingress(mut self, rule: AclRule) -> Self {
        self.ingress.push(rule);
        self
    }
    /// Adds an outbound rule.
    pub fn egress(mut self, rule: AclRule) -> Self {
        self.egress.push(rule);
        self
    }
    /// Associates a subnet.
    pub fn associate(mut self, subnet_id: impl Into<Input<SubnetId>>) -> Self {
        self.subnet_ids.push(subnet_id.into());
        self
    }
}

fn check_rules(direction: &str, rules: &[AclRule], errors: &mut Vec<FieldError>) {
    let mut numbers = BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        let field = format!("{direction}[{i}]");
        if !(1..=32766).contains(&r.rule_number) {
            errors.push(FieldError::new(
                format!("{field}.rule_number"),
                format!("{} is outside 1..=32766", r.rule_number),
            ));
        } else if !numbers.insert(r.rule_number) {
            errors.push(FieldError::new(
                format!("{field}.rule_number"),
                format!("rule number {} is used twice", r.rule_number),
            ));
        }
        if r.protocol != Protocol::All && r.from_port > r.to_port {
            errors.push(FieldError::new(
                format!("{field}.from_port"),
                format!("from_port {} is above to_port {}", r.from_port, r.to_port),
            ));
        }
        if let Err(e) = cidr::parse(&r.cidr_block) {
            errors.push(FieldError::new(format!("{field}.cidr_block"), e));
        }
    }
}

impl NetworkAcl {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_rules("ingress", &self.ingress, &mut errors);
        check_rules("egress", &self.egress, &mut errors);
        errors
    }
}

/// What AWS reports for a network ACL.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct NetworkAclOutputs {
    /// `acl-…`
    pub id: NetworkAclId,
    /// The VPC.
    pub vpc_id: VpcId,
}
