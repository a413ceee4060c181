//! Custom network ACLs on EC2: the ACL, its numbered entries and which
//! subnets use it.
//!
//! Entries are compared with what EC2 describes (not with the last inputs),
//! so an entry changed out of band is put back: `ReplaceNetworkAclEntry` for
//! a number whose rule differs, `CreateNetworkAclEntry` for a new number,
//! `DeleteNetworkAclEntry` for one no longer declared. The implicit final
//! deny (rule 32767) is AWS's and is left alone. ICMP rules use `from_port`
//! as the ICMP type and `to_port` as the code, as security groups do; a
//! value above 255 means "any" (`-1`).
//!
//! Every subnet is associated with exactly one ACL, so a subnet is never
//! "disassociated": joining this ACL replaces its current association
//! (found with `DescribeNetworkAcls` filtered by `association.subnet-id`),
//! and leaving it moves it back to the VPC's default ACL. Deleting moves the
//! remaining subnets back first, as EC2 refuses to delete an ACL in use.
//!
//! Reads observe the VPC, the entries (the recorded rules stand while the
//! described entries equal them), the associated subnets and the tags.

use super::resource::{
    AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, keep_order, live, must_live, send,
};
use super::util::{sync_tags, tag_specs, tags_of, val, vals};
use crate::aws::ec2::{AclAction, AclRule, NetworkAcl, NetworkAclOutputs, Protocol};
use crate::provider::ProviderError;
use crate::resource::{Input, NetworkAclId, SubnetId, VpcId};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IcmpTypeCode, NetworkAcl as LiveAcl, NetworkAclEntry, PortRange, ResourceType,
    RuleAction,
};
use std::collections::BTreeMap;

/// AWS's implicit final rule, present in every ACL and not changeable.
const IMPLICIT_DENY: i32 = 32767;

/// One entry, normalised so a declared rule and a described one compare.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    number: i32,
    egress: bool,
    /// `6`, `17`, `1` or `-1`.
    protocol: String,
    /// TCP and UDP only.
    ports: Option<(i32, i32)>,
    /// ICMP only: type and code.
    icmp: Option<(i32, i32)>,
    cidr: String,
    allow: bool,
}

fn icmp_value(v: u16) -> i32 {
    if v > 255 { -1 } else { i32::from(v) }
}

fn declared(rule: &AclRule, egress: bool) -> Entry {
    let (protocol, ports, icmp) = match rule.protocol {
        Protocol::Tcp => (
            "6",
            Some((i32::from(rule.from_port), i32::from(rule.to_port))),
            None,
        ),
        Protocol::Udp => (
            "17",
            Some((i32::from(rule.from_port), i32::from(rule.to_port))),
            None,
        ),
        Protocol::Icmp => (
            "1",
            None,
            Some((icmp_value(rule.from_port), icmp_value(rule.to_port))),
        ),
        Protocol::All => ("-1", None, None),
    };
    Entry {
        number: i32::from(rule.rule_number),
        egress,
        protocol: protocol.to_string(),
        ports,
        icmp,
        cidr: rule.cidr_block.trim().to_string(),
        allow: rule.action == AclAction::Allow,
    }
}

/// A described entry, unless it is the implicit deny or an IPv6 one.
fn described(e: &NetworkAclEntry) -> Option<Entry> {
    let number = e.rule_number()?;
    if number >= IMPLICIT_DENY {
        return None;
    }
    let protocol = match e.protocol()? {
        "tcp" => "6",
        "udp" => "17",
        "icmp" => "1",
        "all" => "-1",
        p => p,
    };
    let ports = e
        .port_range()
        .map(|p| (p.from().unwrap_or(0), p.to().unwrap_or(0)));
    let icmp = e
        .icmp_type_code()
        .map(|t| (t.r#type().unwrap_or(-1), t.code().unwrap_or(-1)));
    Some(Entry {
        number,
        egress: e.egress()?,
        protocol: protocol.to_string(),
        ports: if matches!(protocol, "6" | "17") {
            ports
        } else {
            None
        },
        icmp: if protocol == "1" { icmp } else { None },
        cidr: e.cidr_block()?.to_string(),
        allow: e.rule_action()? == &RuleAction::Allow,
    })
}

/// Sets the fields an entry call takes (create and replace take the same).
macro_rules! with_entry {
    ($call:expr_2021, $acl:expr_2021, $e:expr_2021) => {{
        let e: &Entry = $e;
        $call
            .network_acl_id($acl)
            .rule_number(e.number)
            .egress(e.egress)
            .protocol(&e.protocol)
            .cidr_block(&e.cidr)
            .rule_action(if e.allow {
                RuleAction::Allow
            } else {
                RuleAction::Deny
            })
            .set_port_range(
                e.ports
                    .map(|(from, to)| PortRange::builder().from(from).to(to).build()),
            )
            .set_icmp_type_code(
                e.icmp
                    .map(|(t, code)| IcmpTypeCode::builder().r#type(t).code(code).build()),
            )
    }};
}

fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

fn gone(cx: &Cx<'_>, id: &str) -> ProviderError {
    ProviderError::not_found(format!("{}: network ACL {id} no longer exists", cx.urn))
}

/// A described entry as the rule that declares it (`None` for a protocol
/// keel doesn't declare).
fn rule_of(e: &Entry) -> Option<AclRule> {
    let any = |v: i32| u16::try_from(v).unwrap_or(u16::MAX);
    let (protocol, (from, to)) = match e.protocol.as_str() {
        "6" => (Protocol::Tcp, e.ports.unwrap_or((0, 0))),
        "17" => (Protocol::Udp, e.ports.unwrap_or((0, 0))),
        "1" => (Protocol::Icmp, e.icmp.unwrap_or((-1, -1))),
        "-1" => (Protocol::All, (0, 65535)),
        _ => return None,
    };
    let action = if e.allow {
        AclAction::Allow
    } else {
        AclAction::Deny
    };
    let number = u16::try_from(e.number).ok()?;
    Some(AclRule::new(
        number,
        protocol,
        any(from),
        any(to),
        e.cidr.clone(),
        action,
    ))
}

/// The observed rules of one direction: the recorded ones while the
/// entries equal them, else the described ones.
fn observed_rules(recorded: &[AclRule], have: &[Entry], egress: bool) -> Vec<AclRule> {
    let mut want: Vec<Entry> = recorded.iter().map(|r| declared(r, egress)).collect();
    let mut got: Vec<Entry> = have
        .iter()
        .filter(|e| e.egress == egress)
        .cloned()
        .collect();
    want.sort_by_key(|e| e.number);
    got.sort_by_key(|e| e.number);
    if want == got {
        recorded.to_vec()
    } else {
        got.iter().filter_map(rule_of).collect()
    }
}

/// The default ACL of VPC `vpc`.
async fn default_acl(cx: &Cx<'_>, vpc: &str) -> Result<String, ProviderError> {
    let call = cx.c.ec2.describe_network_acls();
    let call = call.filters(filter("vpc-id", vec![vpc.to_string()]));
    let call = call.filters(filter("default", vec!["true".to_string()]));
    let out = send!(cx, "DescribeNetworkAcls", call)?;
    out.network_acls()
        .iter()
        .find_map(|a| a.network_acl_id())
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::new(
                "InvalidNetworkAclID.NotFound",
                format!("{}: VPC {vpc} has no default network ACL", cx.urn),
            )
        })
}

async fn move_association(cx: &Cx<'_>, association: &str, to: &str) -> Result<(), ProviderError> {
    let call = cx.c.ec2.replace_network_acl_association();
    let call = call.association_id(association).network_acl_id(to);
    send!(cx, "ReplaceNetworkAclAssociation", call).map(drop)
}

/// Deletes, replaces and creates entries until `live`'s equal `acl`'s.
async fn sync_entries(
    cx: &Cx<'_>,
    id: &str,
    live: &LiveAcl,
    acl: &NetworkAcl,
) -> Result<(), ProviderError> {
    let have: Vec<Entry> = live.entries().iter().filter_map(described).collect();
    let want: Vec<Entry> = (acl.ingress.iter().map(|r| declared(r, false)))
        .chain(acl.egress.iter().map(|r| declared(r, true)))
        .collect();
    let same_slot = |a: &Entry, b: &Entry| a.number == b.number && a.egress == b.egress;
    for old in have
        .iter()
        .filter(|o| !want.iter().any(|w| same_slot(o, w)))
    {
        let call = cx.c.ec2.delete_network_acl_entry().network_acl_id(id);
        let call = call.rule_number(old.number).egress(old.egress);
        gone_is_fine(send!(cx, "DeleteNetworkAclEntry", call))?;
    }
    for entry in &want {
        match have.iter().find(|o| same_slot(o, entry)) {
            Some(old) if old == entry => {}
            Some(_) => {
                let call = with_entry!(cx.c.ec2.replace_network_acl_entry(), id, entry);
                send!(cx, "ReplaceNetworkAclEntry", call)?;
            }
            None => {
                let call = with_entry!(cx.c.ec2.create_network_acl_entry(), id, entry);
                send!(cx, "CreateNetworkAclEntry", call)?;
            }
        }
    }
    Ok(())
}

/// Associates exactly `acl`'s subnets with ACL `id`; the others go back to
/// the VPC's default ACL.
async fn sync_associations(
    cx: &Cx<'_>,
    id: &str,
    live: &LiveAcl,
    acl: &NetworkAcl,
) -> Result<(), ProviderError> {
    let want = vals(&acl.subnet_ids);
    // subnet -> association id
    let have: BTreeMap<&str, &str> = live
        .associations()
        .iter()
        .filter_map(|a| Some((a.subnet_id()?, a.network_acl_association_id()?)))
        .collect();
    let leaving: Vec<&str> = have
        .iter()
        .filter(|(s, _)| !want.iter().any(|w| w == *s))
        .map(|(_, a)| *a)
        .collect();
    if !leaving.is_empty() {
        let vpc = live.vpc_id().ok_or_else(|| gone(cx, id))?;
        let default = default_acl(cx, vpc).await?;
        for association in leaving {
            move_association(cx, association, &default).await?;
        }
    }
    let joining: Vec<String> = want
        .into_iter()
        .filter(|s| !have.contains_key(s.as_str()))
        .collect();
    if joining.is_empty() {
        return Ok(());
    }
    // One call finds the current association of every joining subnet.
    let call = cx.c.ec2.describe_network_acls();
    let call = call.filters(filter("association.subnet-id", joining.clone()));
    let out = send!(cx, "DescribeNetworkAcls", call)?;
    let current: BTreeMap<&str, &str> = out
        .network_acls()
        .iter()
        .flat_map(|a| a.associations())
        .filter_map(|a| Some((a.subnet_id()?, a.network_acl_association_id()?)))
        .collect();
    for subnet in &joining {
        let association = current.get(subnet.as_str()).ok_or_else(|| {
            ProviderError::new(
                "InvalidSubnetID.NotFound",
                format!(
                    "{}: subnet {subnet} has no network ACL association (does the subnet exist?)",
                    cx.urn
                ),
            )
        })?;
        move_association(cx, association, id).await?;
    }
    Ok(())
}

async fn sync(cx: &Cx<'_>, id: &str, acl: &NetworkAcl) -> Result<(), ProviderError> {
    let live = must_live::<NetworkAcl>(cx, id, "before its entries were set").await?;
    sync_entries(cx, id, &live, acl).await?;
    sync_associations(cx, id, &live, acl).await
}

/// Moves ACL `id`'s subnets back to the default ACL, then deletes it.
async fn teardown(cx: &Cx<'_>, id: &str) -> Result<(), ProviderError> {
    let Some(live) = live::<NetworkAcl>(cx, id).await? else {
        return Ok(());
    };
    // The default ACL can't be deleted: let DeleteNetworkAcl say so.
    if live.is_default() != Some(true) && !live.associations().is_empty() {
        let vpc = live.vpc_id().ok_or_else(|| gone(cx, id))?;
        let default = default_acl(cx, vpc).await?;
        let associations = live.associations().iter();
        for association in associations.filter_map(|a| a.network_acl_association_id()) {
            move_association(cx, association, &default).await?;
        }
    }
    let call = cx.c.ec2.delete_network_acl().network_acl_id(id);
    gone_is_fine(send!(cx, "DeleteNetworkAcl", call))
}

#[async_trait]
impl AwsResource for NetworkAcl {
    type Live = LiveAcl;

    async fn create(cx: &Cx<'_>, acl: &Self) -> Res<Self::Outputs> {
        let vpc = val(&acl.vpc_id);
        let call = cx.c.ec2.create_network_acl().vpc_id(&vpc);
        let call = call.set_tag_specifications(tag_specs(ResourceType::NetworkAcl, &acl.tags));
        let out = send!(cx, "CreateNetworkAcl", call)?;
        let id = cx.new_id(
            "CreateNetworkAcl",
            out.network_acl().and_then(|a| a.network_acl_id()),
        )?;
        if let Err(e) = sync(cx, &id, acl).await {
            // Roll back, so no ACL is left that nobody records.
            let _ = teardown(cx, &id).await;
            return Err(e);
        }
        Ok(NetworkAclOutputs {
            id: NetworkAclId::new(&id),
            vpc_id: VpcId::new(vpc),
        })
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeNetworkAcls" =>
            describe_network_acls(set_network_acl_ids, filters))?;
        Ok(out.network_acls().to_vec())
    }

    fn outputs(cx: &Cx<'_>, acl: &Self::Live) -> Res<Self::Outputs> {
        let id = acl.network_acl_id().unwrap_or_default();
        let vpc = acl.vpc_id().ok_or_else(|| {
            ProviderError::internal(format!(
                "{}: network ACL {id} is described without a VPC",
                cx.urn
            ))
        })?;
        Ok(NetworkAclOutputs {
            id: NetworkAclId::new(id),
            vpc_id: VpcId::new(vpc),
        })
    }

    fn observe(recorded: &Self, acl: &Self::Live) -> Self {
        let r = recorded;
        let have: Vec<Entry> = acl.entries().iter().filter_map(described).collect();
        let seen: Vec<String> = acl
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .map(str::to_string)
            .collect();
        let wanted = vals(&r.subnet_ids);
        NetworkAcl {
            vpc_id: acl
                .vpc_id()
                .map_or(r.vpc_id.clone(), |v| Input::Value(VpcId::new(v))),
            ingress: observed_rules(&r.ingress, &have, false),
            egress: observed_rules(&r.egress, &have, true),
            subnet_ids: keep_order(&wanted, &seen)
                .iter()
                .map(|s| Input::Value(SubnetId::new(s)))
                .collect(),
            tags: tags_of(acl.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        sync(cx, id.as_str(), new).await?;
        sync_tags(cx, id.as_str(), &old.tags, &new.tags).await?;
        let live = must_live::<Self>(cx, id.as_str(), "during the update").await?;
        Self::outputs(cx, &live)
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        teardown(cx, id.as_str()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws_entry(
        number: i32,
        egress: bool,
        protocol: &str,
    ) -> aws_sdk_ec2::types::builders::NetworkAclEntryBuilder {
        NetworkAclEntry::builder()
            .rule_number(number)
            .egress(egress)
            .protocol(protocol)
            .cidr_block("0.0.0.0/0")
            .rule_action(RuleAction::Allow)
    }

    #[test]
    fn a_described_entry_compares_equal_to_its_declared_rule() {
        let tcp = aws_entry(100, false, "6")
            .port_range(PortRange::builder().from(443).to(443).build())
            .build();
        let rule = AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0");
        assert_eq!(described(&tcp), Some(declared(&rule, false)));
        // Rule -1 ignores ports on both sides.
        let all = aws_entry(110, true, "-1").build();
        assert_eq!(
            described(&all),
            Some(declared(&AclRule::allow_all(110, "0.0.0.0/0"), true))
        );
        // A changed port range is a different entry.
        let other = AclRule::allow_tcp(100, 80, 443, "0.0.0.0/0");
        assert_ne!(described(&tcp), Some(declared(&other, false)));
    }

    #[test]
    fn the_implicit_deny_and_ipv6_entries_are_not_keels() {
        let deny = NetworkAclEntry::builder()
            .rule_number(IMPLICIT_DENY)
            .egress(false)
            .protocol("-1")
            .cidr_block("0.0.0.0/0")
            .rule_action(RuleAction::Deny)
            .build();
        assert_eq!(described(&deny), None);
        let v6 = NetworkAclEntry::builder()
            .rule_number(101)
            .egress(false)
            .protocol("-1")
            .ipv6_cidr_block("::/0")
            .rule_action(RuleAction::Allow)
            .build();
        assert_eq!(described(&v6), None);
    }

    #[test]
    fn icmp_rules_use_ports_as_type_and_code() {
        let echo = AclRule::new(120, Protocol::Icmp, 0, 0, "10.0.0.0/8", AclAction::Allow);
        let e = declared(&echo, false);
        assert_eq!(
            (e.protocol.as_str(), e.ports, e.icmp),
            ("1", None, Some((0, 0)))
        );
        let any = AclRule::new(121, Protocol::Icmp, 0, 65535, "10.0.0.0/8", AclAction::Deny);
        assert_eq!(declared(&any, true).icmp, Some((0, -1)));
    }
}
