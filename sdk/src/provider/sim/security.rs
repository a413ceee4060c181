//! Security groups in the simulated cloud: names unique per VPC, the default
//! group every VPC gets, AWS's default allow-all egress rule, rules stored as
//! AWS stores them (one permission per peer), peers that must exist, and no
//! deleting a group another group's rule, a live instance or an endpoint's
//! network interfaces still use. Also the provider handler for
//! [`SecurityGroup`], which authorizes and revokes permissions until the live
//! rules equal the declared ones. What rules let through is decided on the
//! network model (`model`).

use super::SimProvider;
use super::cloud::dependency;
use super::cloud::{Cloud, Done, fresh_id, invalid, physical_name};
use super::dispatch::{Simulated, configured, resolved};
use super::table::{Record, Stored, Use, Users, facts, listing};
use crate::analysis::cidr;
use crate::aws::ec2::{Peer, Protocol, Rule, SecurityGroup, SecurityGroupOutputs};
use crate::provider::ProviderError;
use crate::resource::{SecurityGroupId, Tags, Urn, VpcId};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// The other side of a permission.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PeerRec {
    Cidr(Ipv4Net),
    Group(String),
}

/// One permission: a protocol and port range to or from one peer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct Permission {
    /// AWS's IpProtocol: `tcp`, `udp`, `icmp` or `-1` for all.
    pub protocol: String,
    pub from_port: u16,
    pub to_port: u16,
    pub peer: PeerRec,
}

impl Permission {
    /// Every protocol to 0.0.0.0/0: AWS's default egress rule.
    fn allow_all() -> Self {
        Self {
            protocol: "-1".into(),
            from_port: 0,
            to_port: u16::MAX,
            peer: PeerRec::Cidr(Ipv4Net::default()),
        }
    }
}

/// Which rules of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    Ingress,
    Egress,
}

/// A security group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SecurityGroupRec {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    /// The group AWS made with the VPC.
    pub default: bool,
    pub ingress: Vec<Permission>,
    pub egress: Vec<Permission>,
    pub tags: Tags,
}

impl SecurityGroupRec {
    fn rules_mut(&mut self, direction: Direction) -> &mut Vec<Permission> {
        match direction {
            Direction::Ingress => &mut self.ingress,
            Direction::Egress => &mut self.egress,
        }
    }
}

/// AWS's permissions for a declared rule of group `group_id`.
pub(super) fn permissions(
    urn: &Urn,
    rule: &Rule,
    group_id: &str,
) -> Result<Vec<Permission>, ProviderError> {
    let (protocol, from_port, to_port) = match rule.protocol {
        Protocol::All => ("-1", 0, u16::MAX),
        Protocol::Tcp => ("tcp", rule.from_port, rule.to_port),
        Protocol::Udp => ("udp", rule.from_port, rule.to_port),
        Protocol::Icmp => ("icmp", rule.from_port, rule.to_port),
    };
    if from_port > to_port {
        return Err(invalid(format!("Invalid port range {from_port}-{to_port}")));
    }
    let mut out = Vec::new();
    for peer in &rule.peers {
        let peer = match peer {
            Peer::Cidr(c) => PeerRec::Cidr(
                cidr::parse(c).map_err(|_| invalid(format!("CIDR block {c} is malformed")))?,
            ),
            Peer::Group(g) => PeerRec::Group(resolved(urn, "peers", g)?.to_string()),
            Peer::SelfGroup => PeerRec::Group(group_id.to_string()),
        };
        out.push(Permission {
            protocol: protocol.to_string(),
            from_port,
            to_port,
            peer,
        });
    }
    Ok(out)
}

facts!(
    SecurityGroupRec for SecurityGroup, "DescribeSecurityGroups": "security groups",
    not found "InvalidGroup.NotFound", "The security group '{id}' does not exist"
);

impl Record for SecurityGroupRec {
    fn in_use(id: &str, users: &Users) -> ProviderError {
        dependency(format!(
            "resource {id} has a dependent object: {}",
            listing(users)
        ))
    }

    fn built_in(&self) -> bool {
        self.default
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }

    /// The other groups its rules name.
    fn uses(&self, id: &str) -> Vec<Use> {
        let mut peers: Vec<&String> = (self.ingress.iter().chain(&self.egress))
            .filter_map(|p| match &p.peer {
                PeerRec::Group(g) if g != id => Some(g),
                _ => None,
            })
            .collect();
        peers.sort_unstable();
        peers.dedup();
        let peers = peers.into_iter();
        peers
            .map(|g| Use::of::<Self>(SecurityGroupRec::TYPE, g, id))
            .collect()
    }
}

impl Cloud {
    /// The default group of a new VPC (part of CreateVpc): all traffic from
    /// members of the group in, everything out.
    pub(super) fn add_default_security_group(&mut self, vpc_id: &str) -> String {
        let id = fresh_id("sg", &self.security_groups);
        let group = SecurityGroupRec {
            id: id.clone(),
            name: "default".into(),
            description: "default VPC security group".into(),
            vpc_id: vpc_id.to_string(),
            default: true,
            ingress: vec![Permission {
                peer: PeerRec::Group(id.clone()),
                ..Permission::allow_all()
            }],
            egress: vec![Permission::allow_all()],
            tags: Tags::new(),
        };
        self.security_groups.insert(id.clone(), group);
        id
    }

    /// CreateSecurityGroup: with AWS's default egress rule.
    pub(super) fn create_security_group(
        &mut self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: Tags,
    ) -> Result<String, ProviderError> {
        self.vpcs.get(vpc_id)?;
        if name.eq_ignore_ascii_case("default") {
            return Err(invalid("Cannot use reserved security group name: default"));
        }
        if self
            .security_groups
            .values()
            .any(|g| g.vpc_id == vpc_id && g.name == name)
        {
            return Err(ProviderError::new(
                "InvalidGroup.Duplicate",
                format!("The security group '{name}' already exists for VPC '{vpc_id}'"),
            ));
        }
        let id = fresh_id("sg", &self.security_groups);
        let group = SecurityGroupRec {
            id: id.clone(),
            name: name.to_string(),
            description: description.to_string(),
            vpc_id: vpc_id.to_string(),
            default: false,
            ingress: Vec::new(),
            egress: vec![Permission::allow_all()],
            tags,
        };
        self.security_groups.insert(id.clone(), group);
        Ok(id)
    }

    /// AuthorizeSecurityGroupIngress/Egress: referenced groups must exist,
    /// and no permission may exist already.
    pub(super) fn authorize(
        &mut self,
        id: &str,
        direction: Direction,
        perms: &[Permission],
    ) -> Done {
        let group = self.security_groups.get(id)?;
        let current = match direction {
            Direction::Ingress => &group.ingress,
            Direction::Egress => &group.egress,
        };
        for p in perms {
            if let PeerRec::Group(g) = &p.peer {
                self.security_groups.get(g)?;
            }
            if current.contains(p) || perms.iter().filter(|q| *q == p).count() > 1 {
                return Err(ProviderError::new(
                    "InvalidPermission.Duplicate",
                    format!(
                        "the specified rule \"peer: {:?}, {} {}-{}\" already exists",
                        p.peer, p.protocol, p.from_port, p.to_port
                    ),
                ));
            }
        }
        let group = self.security_groups.get_mut(id)?;
        group.rules_mut(direction).extend(perms.iter().cloned());
        Ok(())
    }

    /// RevokeSecurityGroupIngress/Egress.
    pub(super) fn revoke(&mut self, id: &str, direction: Direction, perms: &[Permission]) -> Done {
        let rules = self.security_groups.get_mut(id)?.rules_mut(direction);
        if let Some(p) = perms.iter().find(|p| !rules.contains(p)) {
            return Err(ProviderError::new(
                "InvalidPermission.NotFound",
                format!("The specified rule does not exist in this security group: {p:?}"),
            ));
        }
        rules.retain(|r| !perms.contains(r));
        Ok(())
    }

    /// DeleteSecurityGroup: not the default group, not while another group's
    /// rule references it or an instance or endpoint uses it.
    pub(super) fn delete_security_group(&mut self, id: &str) -> Done {
        let group = self.security_groups.get(id)?;
        if group.default {
            return Err(ProviderError::new(
                "CannotDelete",
                format!(
                    "the specified group: \"{id}\" name: \"default\" cannot be deleted by a user"
                ),
            ));
        }
        self.remove_unused::<SecurityGroupRec>(id).map(drop)
    }
}
impl Simulated for SecurityGroup {
    fn outputs(_: &Cloud, g: &SecurityGroupRec) -> SecurityGroupOutputs {
        SecurityGroupOutputs {
            id: SecurityGroupId::new(&g.id),
            name: g.name.clone(),
            vpc_id: VpcId::new(&g.vpc_id),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let vpc = resolved(urn, "vpc_id", &props.vpc_id)?.as_str();
        let name = physical_name(props.name.as_deref(), urn.name());
        let id = sim.api("CreateSecurityGroup", |c, _| {
            c.create_security_group(vpc, &name, &props.description, props.tags.clone())
        })?;
        configured(sim, urn, id, props)
    }

    /// Revokes and authorizes until group `id`'s rules are `props`' effective ones.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let expand = |rules: &[Rule]| -> Result<Vec<Permission>, ProviderError> {
            let mut all = Vec::new();
            for rule in rules {
                for p in permissions(urn, rule, id)? {
                    if !all.contains(&p) {
                        all.push(p);
                    }
                }
            }
            Ok(all)
        };
        let want_in = expand(&props.ingress)?;
        let want_out = expand(&props.effective_egress())?;
        let have = sim.peek(|c| c.security_groups.get(id).cloned())?;
        let steps = [
            (
                Direction::Ingress,
                have.ingress,
                want_in,
                "RevokeSecurityGroupIngress",
                "AuthorizeSecurityGroupIngress",
            ),
            (
                Direction::Egress,
                have.egress,
                want_out,
                "RevokeSecurityGroupEgress",
                "AuthorizeSecurityGroupEgress",
            ),
        ];
        for (direction, have, want, revoke, authorize) in steps {
            let extra: Vec<Permission> =
                have.iter().filter(|p| !want.contains(p)).cloned().collect();
            if !extra.is_empty() {
                sim.api(revoke, |c, _| c.revoke(id, direction, &extra))?;
            }
            let missing: Vec<Permission> = want.into_iter().filter(|p| !have.contains(p)).collect();
            if !missing.is_empty() {
                sim.api(authorize, |c, _| c.authorize(id, direction, &missing))?;
            }
        }
        Ok(())
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteSecurityGroup", |c, _| c.delete_security_group(id))
    }
}
