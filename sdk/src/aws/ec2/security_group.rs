//! [`SecurityGroup`]: stateful instance-level firewall rules. Outbound
//! traffic is what the program declares: declared egress rules replace AWS's
//! default allow-all rule (as Terraform's `aws_security_group` does), and
//! [`SecurityGroup::allow_all_egress`] says "everything" explicitly (the
//! CDK's `allowAllOutbound`). A group that declares no egress at all keeps
//! AWS's default.

use crate::cidr;
use crate::resource::{
    FieldError, Input, Outputs, References, Resource, SecurityGroupId, Tags, VpcId,
};
use serde::{Deserialize, Serialize};

/// An IP protocol of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (ports are type and code).
    Icmp,
    /// Every protocol and port (`-1` in AWS).
    All,
}

/// The other side of a rule.
#[derive(Clone, Debug, Serialize, Deserialize, References)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// An IPv4 block.
    Cidr(String),
    /// Another security group.
    Group(Input<SecurityGroupId>),
    /// This security group itself.
    SelfGroup,
}

/// One ingress or egress rule.
///
/// ```
/// use keel::prelude::*;
/// let https_out = Rule::tcp(443).cidr("0.0.0.0/0");
/// assert_eq!((https_out.from_port, https_out.to_port), (443, 443));
/// let all_out = Rule::all().cidr("0.0.0.0/0");
/// assert_eq!(all_out.protocol, Protocol::All);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, References)]
pub struct Rule {
    /// The protocol.
    pub protocol: Protocol,
    /// First port (ignored for [`Protocol::All`]).
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// Who the rule admits (ingress) or reaches (egress).
    pub peers: Vec<Peer>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Rule {
    /// TCP on one port.
    pub fn tcp(port: u16) -> Self {
        Self::tcp_range(port, port)
    }
    /// TCP on a port range.
    pub fn tcp_range(from: u16, to: u16) -> Self {
        Self::with(Protocol::Tcp, from, to)
    }
    /// UDP on a port range.
    pub fn udp_range(from: u16, to: u16) -> Self {
        Self::with(Protocol::Udp, from, to)
    }
    /// Every protocol and port.
    pub fn all() -> Self {
        Self::with(Protocol::All, 0, 65535)
    }
    fn with(protocol: Protocol, from_port: u16, to_port: u16) -> Self {
        Self {
            protocol,
            from_port,
            to_port,
            peers: Vec::new(),
            description: None,
        }
    }
    /// Adds an IPv4 block as a peer.
    pub fn cidr(mut self, block: impl Into<String>) -> Self {
        self.peers.push(Peer::Cidr(block.into()));
        self
    }
    /// Adds another security group as a peer.
    pub fn group(mut self, group: impl Into<Input<SecurityGroupId>>) -> Self {
        self.peers.push(Peer::Group(group.into()));
        self
    }
    /// Adds the rule's own group as a peer.
    pub fn self_group(mut self) -> Self {
        self.peers.push(Peer::SelfGroup);
        self
    }
    /// Sets a description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    fn check(&self, field: &str, errors: &mut Vec<FieldError>) {
        if self.protocol != Protocol::All && self.from_port > self.to_port {
            errors.push(FieldError::new(
                format!("{field}.from_port"),
                format!(
                    "from_port {} is above to_port {}",
                    self.from_port, self.to_port
                ),
            ));
        }
        if self.peers.is_empty() {
            errors.push(FieldError::new(
                format!("{field}.peers"),
                "a rule needs at least one CIDR block or security group",
            ));
        }
        for (j, p) in self.peers.iter().enumerate() {
            if let Peer::Cidr(c) = p
                && let Err(e) = cidr::parse(c)
            {
                errors.push(FieldError::new(format!("{field}.peers[{j}]"), e));
            }
        }
    }
}

/// A security group.
///
/// ```
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let sg = stack.add(
///     "ecs-hosts",
///     SecurityGroup::new(vpc.id(), "ECS container instances")
///         .ingress(Rule::tcp_range(32768, 65535).cidr("10.0.0.0/16")),
/// );
/// # let _ = sg;
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "aws:ec2:SecurityGroup", outputs = SecurityGroupOutputs, validate = Self::validate_fields)]
pub struct SecurityGroup {
    /// The VPC. Changing it replaces the group.
    #[resource(replace)]
    pub vpc_id: Input<VpcId>,
    /// The group name; generated from the logical name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[resource(replace)]
    pub name: Option<String>,
    /// The description (AWS can't change it: changing it replaces the group).
    #[resource(replace)]
    pub description: String,
    /// Inbound rules.
    #[serde(default)]
    #[resource(set)]
    pub ingress: Vec<Rule>,
    /// Outbound rules. [`SecurityGroup::egress`] also sets
    /// `revoke_default_egress`, so the declared rules are the only ones.
    #[serde(default)]
    #[resource(set)]
    pub egress: Vec<Rule>,
    /// Whether AWS's default "all outbound to 0.0.0.0/0" rule is removed.
    /// Declaring egress sets it; it stays `false` only for a group that
    /// declares none (AWS's default applies). State saved before egress
    /// replaced the default may hold `false` next to declared rules: that
    /// group has the default rule too, and the next preview shows its
    /// revocation (`revoke_default_egress: false → true`).
    #[serde(default)]
    pub revoke_default_egress: bool,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl SecurityGroup {
    /// A group in `vpc_id` with no inbound rules. Until egress is declared
    /// it keeps AWS's default rule: all outbound traffic allowed.
    pub fn new(vpc_id: impl Into<Input<VpcId>>, description: impl Into<String>) -> Self {
        Self {
            vpc_id: vpc_id.into(),
            name: None,
            description: description.into(),
            ingress: Vec::new(),
            egress: Vec::new(),
            revoke_default_egress: false,
            tags: Tags::new(),
        }
    }
    /// Sets the group name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Adds an inbound rule.
    pub fn ingress(mut self, rule: Rule) -> Self {
        self.ingress.push(rule);
        self
    }
    /// Adds an outbound rule. Declared egress replaces AWS's default
    /// allow-all rule: the group allows exactly the declared outbound
    /// traffic (add [`SecurityGroup::allow_all_egress`] to keep everything).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let https_only = SecurityGroup::new(VpcId::new("vpc-1"), "ECS hosts")
    ///     .egress(Rule::tcp(443).cidr("0.0.0.0/0"));
    /// let rules = https_only.effective_egress();
    /// assert_eq!(rules.len(), 1);
    /// assert_eq!((rules[0].from_port, rules[0].to_port), (443, 443));
    /// ```
    pub fn egress(mut self, rule: Rule) -> Self {
        self.egress.push(rule);
        self.revoke_default_egress = true;
        self
    }
    /// Allows all outbound traffic, explicitly: the rule AWS gives a new
    /// group (every protocol to 0.0.0.0/0), declared so that other egress
    /// rules don't replace it.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let open = SecurityGroup::new(VpcId::new("vpc-1"), "bastion").allow_all_egress();
    /// assert_eq!(open.effective_egress()[0].protocol, Protocol::All);
    /// assert_eq!(open.effective_egress().len(), 1);
    /// ```
    pub fn allow_all_egress(self) -> Self {
        self.egress(Rule::all().cidr("0.0.0.0/0"))
    }
    /// Removes AWS's default allow-all outbound rule. Declaring egress
    /// already does; on a group that declares none, this leaves it with no
    /// outbound traffic at all.
    ///
    /// ```
    /// use keel::prelude::*;
    /// let closed = SecurityGroup::new(VpcId::new("vpc-1"), "isolated").revoke_default_egress();
    /// assert!(closed.effective_egress().is_empty());
    /// ```
    pub fn revoke_default_egress(mut self) -> Self {
        self.revoke_default_egress = true;
        self
    }

    /// The egress rules in force: the declared ones, plus AWS's default
    /// unless revoked (which a group declaring egress always is, except in
    /// state saved before declared egress replaced the default).
    ///
    /// ```
    /// use keel::prelude::*;
    /// let default = SecurityGroup::new(VpcId::new("vpc-1"), "web");
    /// assert_eq!(default.effective_egress()[0].protocol, Protocol::All);
    /// ```
    pub fn effective_egress(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        if !self.revoke_default_egress {
            rules.push(Rule::all().cidr("0.0.0.0/0"));
        }
        rules.extend(self.egress.iter().cloned());
        rules
    }
}

impl SecurityGroup {
    /// Checks of this declaration alone (see [`Resource::validate`]).
    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        crate::aws::check_name(&self.name, 255, &mut errors);
        if let Some(n) = &self.name
            && n.to_ascii_lowercase().starts_with("sg-")
        {
            errors.push(FieldError::new(
                "name",
                "a group name can't start with `sg-`",
            ));
        }
        if self.description.is_empty() || self.description.len() > 255 {
            errors.push(FieldError::new(
                "description",
                "must be 1 to 255 characters",
            ));
        }
        for (i, r) in self.ingress.iter().enumerate() {
            r.check(&format!("ingress[{i}]"), &mut errors);
        }
        for (i, r) in self.egress.iter().enumerate() {
            r.check(&format!("egress[{i}]"), &mut errors);
        }
        errors
    }
}

/// What AWS reports for a security group.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub struct SecurityGroupOutputs {
    /// `sg-…`
    pub id: SecurityGroupId,
    /// The group name.
    pub name: String,
    /// The VPC.
    pub vpc_id: VpcId,
}
