//! Network ACLs in the simulated cloud. Every VPC gets a default ACL when it
//! is created (rule 100 allows everything both ways, then the implicit deny),
//! and every subnet is associated with exactly one ACL: its VPC's default one
//! until ReplaceNetworkAclAssociation moves it to a custom ACL (of the same
//! VPC). A custom ACL starts with only the implicit deny; entries are added
//! one CreateNetworkAclEntry at a time, numbered uniquely per direction. The
//! default ACL can't be deleted (it goes with its VPC), nor a custom one while
//! subnets use it. Also the provider handler for [`NetworkAcl`], which moves
//! subnets back to the default ACL before deleting, as Terraform does.
//!
//! How rules decide traffic is not here: the reachability rule reads the
//! entries through the network model (`model`).

use super::SimProvider;
use super::cloud::{Cloud, Done, fresh_id, invalid};
use super::dispatch::{Simulated, configured, resolved};
use super::security::Direction;
use super::table::{Association, Record, facts};
use crate::analysis::cidr;
use crate::aws::ec2::{AclAction, AclRule, NetworkAcl, NetworkAclOutputs, Protocol};
use crate::provider::ProviderError;
use crate::resource::{NetworkAclId, Tags, Urn, VpcId};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// The highest rule number a user may give (32767 is the implicit deny).
const MAX_RULE_NUMBER: u16 = 32766;

/// One numbered ACL entry (the implicit final deny is not stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AclEntry {
    /// Evaluation order, lowest first.
    pub rule_number: u16,
    /// The protocol the entry matches.
    pub protocol: Protocol,
    /// First port (0 for every protocol).
    pub from_port: u16,
    /// Last port (65535 for every protocol).
    pub to_port: u16,
    /// The peer block.
    pub cidr_block: Ipv4Net,
    /// Allow (else deny).
    pub allow: bool,
}

impl AclEntry {
    /// Rule `number` allowing every protocol to or from anywhere.
    fn allow_all(number: u16) -> Self {
        Self {
            rule_number: number,
            protocol: Protocol::All,
            from_port: 0,
            to_port: u16::MAX,
            cidr_block: Ipv4Net::default(),
            allow: true,
        }
    }

    /// The entry a declared rule makes, checked as CreateNetworkAclEntry does.
    fn from_rule(rule: &AclRule) -> Result<Self, ProviderError> {
        let cidr_block = cidr::parse(&rule.cidr_block).map_err(|_| {
            invalid(format!(
                "Value ({}) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
                rule.cidr_block
            ))
        })?;
        let (from_port, to_port) = match rule.protocol {
            Protocol::All => (0, u16::MAX),
            _ => (rule.from_port, rule.to_port),
        };
        if from_port > to_port {
            return Err(invalid(format!(
                "Invalid port range {from_port}-{to_port} for rule {}",
                rule.rule_number
            )));
        }
        Ok(Self {
            rule_number: rule.rule_number,
            protocol: rule.protocol,
            from_port,
            to_port,
            cidr_block,
            allow: rule.action == AclAction::Allow,
        })
    }
}

/// A network ACL.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct AclRec {
    /// `acl-…`
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// The ACL AWS made with the VPC; new subnets are associated with it.
    pub default: bool,
    /// Inbound entries, by rule number.
    pub ingress: Vec<AclEntry>,
    /// Outbound entries, by rule number.
    pub egress: Vec<AclEntry>,
    /// The subnets that use it.
    pub associations: Vec<Association>,
    /// Tags.
    pub tags: Tags,
}

impl AclRec {
    fn entries(&self, direction: Direction) -> &Vec<AclEntry> {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    fn entries_mut(&mut self, direction: Direction) -> &mut Vec<AclEntry> {
        match direction {
            Direction::Ingress => &mut self.ingress,
            Direction::Egress => &mut self.egress,
        }
    }
}

fn no_entry(id: &str, number: u16) -> ProviderError {
    ProviderError::new(
        "InvalidNetworkAclEntry.NotFound",
        format!("The network acl entry identified by {number} in {id} does not exist"),
    )
}

facts!(
    AclRec for NetworkAcl, "DescribeNetworkAcls": "network ACLs",
    not found "InvalidNetworkAclID.NotFound", "The networkAcl ID '{id}' does not exist",
    noun "networkAcl"
);

impl Record for AclRec {
    fn built_in(&self) -> bool {
        self.default
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }

    fn associations(&self) -> &[Association] {
        &self.associations
    }
}

impl Cloud {
    /// The default ACL of VPC `vpc_id`.
    pub(super) fn default_network_acl(&self, vpc_id: &str) -> Option<&AclRec> {
        let mut acls = self.network_acls.values();
        acls.find(|a| a.default && a.vpc_id == vpc_id)
    }

    /// The default ACL of a new VPC (part of CreateVpc): rule 100 allows
    /// everything in and out.
    pub(super) fn add_default_network_acl(&mut self, vpc_id: &str) -> String {
        let id = fresh_id("acl", &self.network_acls);
        let acl = AclRec {
            id: id.clone(),
            vpc_id: vpc_id.to_string(),
            default: true,
            ingress: vec![AclEntry::allow_all(100)],
            egress: vec![AclEntry::allow_all(100)],
            associations: Vec::new(),
            tags: Tags::new(),
        };
        self.network_acls.insert(id.clone(), acl);
        id
    }

    /// Associates a new subnet with its VPC's default ACL (part of CreateSubnet).
    pub(super) fn associate_default_network_acl(&mut self, subnet_id: &str, vpc_id: &str) {
        let assoc = Association {
            id: self.network_acls.fresh_association_id("aclassoc"),
            subnet_id: subnet_id.to_string(),
        };
        let default = self
            .network_acls
            .values_mut()
            .find(|a| a.default && a.vpc_id == vpc_id);
        if let Some(acl) = default {
            acl.associations.push(assoc);
        }
    }

    /// Gives VPCs and subnets of a cloud saved before the simulator knew
    /// network ACLs the default ACL and associations AWS would have made.
    pub(super) fn backfill_network_acls(&mut self) {
        let vpcs: Vec<String> = self.vpcs.keys().cloned().collect();
        for vpc in vpcs {
            if self.default_network_acl(&vpc).is_none() {
                self.add_default_network_acl(&vpc);
            }
        }
        let orphans: Vec<(String, String)> = self
            .subnets
            .values()
            .filter(|s| self.network_acls.association_of(&s.id).is_none())
            .map(|s| (s.id.clone(), s.vpc_id.clone()))
            .collect();
        for (subnet, vpc) in orphans {
            self.associate_default_network_acl(&subnet, &vpc);
        }
    }

    /// Forgets subnet `subnet_id`'s association (part of DeleteSubnet).
    pub(super) fn drop_network_acl_association(&mut self, subnet_id: &str) {
        for acl in self.network_acls.values_mut() {
            acl.associations.retain(|s| s.subnet_id != subnet_id);
        }
    }

    /// CreateNetworkAcl: only the implicit deny, both ways.
    pub(super) fn create_network_acl(
        &mut self,
        vpc_id: &str,
        tags: Tags,
    ) -> Result<String, ProviderError> {
        self.vpcs.get(vpc_id)?;
        let id = fresh_id("acl", &self.network_acls);
        let acl = AclRec {
            id: id.clone(),
            vpc_id: vpc_id.to_string(),
            default: false,
            ingress: Vec::new(),
            egress: Vec::new(),
            associations: Vec::new(),
            tags,
        };
        self.network_acls.insert(id.clone(), acl);
        Ok(id)
    }

    /// CreateNetworkAclEntry: rule numbers are unique per direction.
    pub(super) fn create_network_acl_entry(
        &mut self,
        id: &str,
        direction: Direction,
        entry: AclEntry,
    ) -> Done {
        let number = entry.rule_number;
        if !(1..=MAX_RULE_NUMBER).contains(&number) {
            return Err(invalid(format!(
                "Value ({number}) for parameter ruleNumber is invalid. Rule numbers must be between 1 and {MAX_RULE_NUMBER}."
            )));
        }
        let acl = self.network_acls.get_mut(id)?;
        let entries = acl.entries_mut(direction);
        if entries.iter().any(|e| e.rule_number == number) {
            return Err(ProviderError::new(
                "NetworkAclEntryAlreadyExists",
                format!("The network acl entry identified by {number} already exists."),
            ));
        }
        entries.push(entry);
        entries.sort_by_key(|e| e.rule_number);
        Ok(())
    }

    /// ReplaceNetworkAclEntry: the numbered entry must exist.
    pub(super) fn replace_network_acl_entry(
        &mut self,
        id: &str,
        direction: Direction,
        entry: AclEntry,
    ) -> Done {
        let acl = self.network_acls.get_mut(id)?;
        let number = entry.rule_number;
        let found = acl
            .entries_mut(direction)
            .iter_mut()
            .find(|e| e.rule_number == number);
        *found.ok_or_else(|| no_entry(id, number))? = entry;
        Ok(())
    }

    /// DeleteNetworkAclEntry.
    pub(super) fn delete_network_acl_entry(
        &mut self,
        id: &str,
        direction: Direction,
        number: u16,
    ) -> Done {
        let entries = self.network_acls.get_mut(id)?.entries_mut(direction);
        let before = entries.len();
        entries.retain(|e| e.rule_number != number);
        if entries.len() == before {
            return Err(no_entry(id, number));
        }
        Ok(())
    }

    /// ReplaceNetworkAclAssociation: moves the association's subnet to ACL
    /// `acl_id` (of the subnet's VPC); returns the new association id.
    pub(super) fn replace_network_acl_association(
        &mut self,
        association_id: &str,
        acl_id: &str,
    ) -> Result<String, ProviderError> {
        let subnet_id = self
            .network_acls
            .values()
            .flat_map(|a| &a.associations)
            .find(|s| s.id == association_id)
            .map(|s| s.subnet_id.clone())
            .ok_or_else(|| {
                ProviderError::new(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{association_id}' does not exist"),
                )
            })?;
        let target_vpc = self.network_acls.get(acl_id)?.vpc_id.clone();
        let subnet_vpc = &self.subnets.get(&subnet_id)?.vpc_id;
        if *subnet_vpc != target_vpc {
            return Err(invalid(format!(
                "Network ACL {acl_id} (in {target_vpc}) and subnet {subnet_id} (in {subnet_vpc}) belong to different networks"
            )));
        }
        let new_id = self.network_acls.fresh_association_id("aclassoc");
        self.drop_network_acl_association(&subnet_id);
        self.network_acls
            .get_mut(acl_id)?
            .associations
            .push(Association {
                id: new_id.clone(),
                subnet_id,
            });
        Ok(new_id)
    }

    /// DeleteNetworkAcl: not the default ACL, not while subnets use it.
    pub(super) fn delete_network_acl(&mut self, id: &str) -> Done {
        let acl = self.network_acls.get(id)?;
        if acl.default {
            return Err(invalid(format!("cannot delete default network ACL {id}")));
        }
        self.remove_unused::<AclRec>(id).map(drop)
    }
}

/// The entries declared for one direction.
fn declared(rules: &[AclRule]) -> Result<Vec<AclEntry>, ProviderError> {
    rules.iter().map(AclEntry::from_rule).collect()
}

impl SimProvider {
    /// Deletes, replaces and creates entries until ACL `id`'s equal `props`'.
    fn sync_acl_entries(&self, id: &str, props: &NetworkAcl) -> Done {
        let have = self.peek(|c| c.network_acls.get(id).cloned())?;
        let steps = [
            (Direction::Ingress, declared(&props.ingress)?),
            (Direction::Egress, declared(&props.egress)?),
        ];
        for (direction, want) in steps {
            let current = have.entries(direction);
            for old in current {
                if !want.iter().any(|e| e.rule_number == old.rule_number) {
                    self.api("DeleteNetworkAclEntry", |c, _| {
                        c.delete_network_acl_entry(id, direction, old.rule_number)
                    })?;
                }
            }
            for entry in want {
                match current.iter().find(|e| e.rule_number == entry.rule_number) {
                    Some(old) if *old == entry => {}
                    Some(_) => self.api("ReplaceNetworkAclEntry", |c, _| {
                        c.replace_network_acl_entry(id, direction, entry)
                    })?,
                    None => self.api("CreateNetworkAclEntry", |c, _| {
                        c.create_network_acl_entry(id, direction, entry)
                    })?,
                }
            }
        }
        Ok(())
    }

    /// Moves subnet `subnet` to ACL `acl_id`: finds its current association
    /// (DescribeNetworkAcls), then replaces it unless it is there already.
    fn move_subnet_to_acl(&self, subnet: &str, acl_id: &str) -> Done {
        let current = self.api("DescribeNetworkAcls", |c, _| {
            c.subnets.get(subnet)?;
            let found = c.network_acls.association_of(subnet);
            let found = found.map(|(a, s)| (a.id.clone(), s.id.clone()));
            found.ok_or_else(|| {
                ProviderError::new(
                    "InvalidAssociationID.NotFound",
                    format!("subnet {subnet} has no network ACL association"),
                )
            })
        })?;
        if current.0 != acl_id {
            self.api("ReplaceNetworkAclAssociation", |c, _| {
                c.replace_network_acl_association(&current.1, acl_id)
            })?;
        }
        Ok(())
    }

    /// The default ACL of ACL `id`'s VPC (DescribeNetworkAcls).
    fn default_acl_beside(&self, id: &str) -> Result<String, ProviderError> {
        self.api("DescribeNetworkAcls", |c, _| {
            let vpc = &c.network_acls.get(id)?.vpc_id;
            let default = c.default_network_acl(vpc).map(|a| a.id.clone());
            default.ok_or_else(|| invalid(format!("{vpc} has no default network ACL")))
        })
    }

    /// Associates exactly `props`' subnets with ACL `id`; the others go back
    /// to the VPC's default ACL.
    fn sync_acl_associations(&self, urn: &Urn, id: &str, props: &NetworkAcl) -> Done {
        let mut want = Vec::new();
        for s in &props.subnet_ids {
            let s = resolved(urn, "subnet_ids", s)?.to_string();
            if !want.contains(&s) {
                want.push(s);
            }
        }
        let have = self.peek(|c| c.network_acls.get(id).map(|a| a.associations.clone()))?;
        let leaving: Vec<&Association> = have
            .iter()
            .filter(|s| !want.contains(&s.subnet_id))
            .collect();
        if !leaving.is_empty() {
            let default = self.default_acl_beside(id)?;
            for assoc in leaving {
                self.api("ReplaceNetworkAclAssociation", |c, _| {
                    c.replace_network_acl_association(&assoc.id, &default)
                })?;
            }
        }
        for subnet in &want {
            if !have.iter().any(|s| &s.subnet_id == subnet) {
                self.move_subnet_to_acl(subnet, id)?;
            }
        }
        Ok(())
    }
}

impl Simulated for NetworkAcl {
    fn outputs(_: &Cloud, a: &AclRec) -> NetworkAclOutputs {
        NetworkAclOutputs {
            id: NetworkAclId::new(&a.id),
            vpc_id: VpcId::new(&a.vpc_id),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let vpc = resolved(urn, "vpc_id", &props.vpc_id)?.as_str();
        let id = sim.api("CreateNetworkAcl", |c, _| {
            c.create_network_acl(vpc, props.tags.clone())
        })?;
        configured(sim, urn, id, props)
    }

    /// Entries and associations as declared.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        sim.sync_acl_entries(id, props)?;
        sim.sync_acl_associations(urn, id, props)
    }

    /// Moves ACL `id`'s subnets back to the default ACL, then deletes it.
    fn remove(sim: &SimProvider, id: &str) -> Done {
        let acl = sim.peek(|c| c.network_acls.get(id).cloned())?;
        // The default ACL can't be deleted: let DeleteNetworkAcl say so.
        if !acl.default && !acl.associations.is_empty() {
            let default = sim.default_acl_beside(id)?;
            for assoc in acl.associations {
                sim.api("ReplaceNetworkAclAssociation", |c, _| {
                    c.replace_network_acl_association(&assoc.id, &default)
                })?;
            }
        }
        sim.api("DeleteNetworkAcl", |c, _| c.delete_network_acl(id))
    }
}
