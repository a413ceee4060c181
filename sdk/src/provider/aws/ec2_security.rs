//! Security groups on EC2. A new group has AWS's default allow-all egress;
//! keel revokes it when the group declares egress of its own (declared rules
//! replace the default) or says `revoke_default_egress`. Rule updates
//! authorize what is new and revoke what is gone, so unchanged rules never
//! flap; a stack saved with the default kept next to declared rules loses
//! the default on its next update.
//!
//! Reads observe the description, the VPC, the tags, the name (when the
//! program gave one) and the rules. Rules are compared as AWS holds them,
//! one (protocol, ports, peer) at a time: when those sets equal the
//! recorded ones the recorded rules stand as written; otherwise the
//! observed rules are AWS's, one rule per peer.

use super::resource::{AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, outputs_now, send};
use super::retry::retry_on;
use super::util::{physical_name, sync_tags, tag_specs, tags_of, val};
use crate::aws::ec2::{Peer, Protocol, Rule, SecurityGroup, SecurityGroupOutputs};
use crate::provider::ProviderError;
use crate::resource::{Input, SecurityGroupId, VpcId};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, ResourceType, SecurityGroup as LiveGroup, UserIdGroupPair,
};
use std::collections::BTreeSet;

/// One rule as AWS's IpPermission; `own` is the group's id (for self peers).
fn permission(rule: &Rule, own: &str) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(match rule.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::All => "-1",
    });
    if rule.protocol != Protocol::All {
        p = p
            .from_port(i32::from(rule.from_port))
            .to_port(i32::from(rule.to_port));
    }
    for peer in &rule.peers {
        p = match peer {
            Peer::Cidr(c) => {
                let r = IpRange::builder()
                    .cidr_ip(c)
                    .set_description(rule.description.clone());
                p.ip_ranges(r.build())
            }
            Peer::Group(g) => {
                let id = val(g);
                p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            }
            Peer::SelfGroup => {
                p.user_id_group_pairs(UserIdGroupPair::builder().group_id(own).build())
            }
        };
    }
    p.build()
}

fn key(rule: &Rule) -> String {
    // Descriptions don't identify a rule (AWS compares without them).
    let mut r = rule.clone();
    r.description = None;
    serde_json::to_string(&r).unwrap_or_default()
}

/// Rules in `a` but not in `b`.
fn minus<'a>(a: &'a [Rule], b: &[Rule]) -> Vec<&'a Rule> {
    let keys: Vec<String> = b.iter().map(key).collect();
    a.iter().filter(|r| !keys.contains(&key(r))).collect()
}

/// Authorizes (`grant`) or revokes ingress and egress rules.
async fn change(
    cx: &Cx<'_>,
    id: &str,
    grant: bool,
    ingress: &[&Rule],
    egress: &[&Rule],
) -> Result<(), ProviderError> {
    let perms = |rules: &[&Rule]| Some(rules.iter().map(|r| permission(r, id)).collect());
    macro_rules! rules {
        ($rules:expr_2021 => $op:ident, $name:literal) => {
            if !$rules.is_empty() {
                let call =
                    cx.c.ec2
                        .$op()
                        .group_id(id)
                        .set_ip_permissions(perms($rules));
                send!(cx, $name, call)?;
            }
        };
    }
    if grant {
        rules!(ingress => authorize_security_group_ingress, "AuthorizeSecurityGroupIngress");
        rules!(egress => authorize_security_group_egress, "AuthorizeSecurityGroupEgress");
    } else {
        rules!(ingress => revoke_security_group_ingress, "RevokeSecurityGroupIngress");
        rules!(egress => revoke_security_group_egress, "RevokeSecurityGroupEgress");
    }
    Ok(())
}

fn default_egress() -> Rule {
    Rule::all().cidr("0.0.0.0/0")
}

/// The egress changes from rules `old` to rules `new`: (revoke, grant).
fn egress_delta<'a>(old: &'a [Rule], new: &'a [Rule]) -> (Vec<&'a Rule>, Vec<&'a Rule>) {
    (minus(old, new), minus(new, old))
}

/// One (protocol, from, to, peer) as AWS holds it; a self peer as `self`.
type Atom = (String, i32, i32, String);

fn atoms(rules: &[Rule]) -> BTreeSet<Atom> {
    let mut out = BTreeSet::new();
    for r in rules {
        let (proto, ports) = match r.protocol {
            Protocol::Tcp => ("tcp", true),
            Protocol::Udp => ("udp", true),
            Protocol::Icmp => ("icmp", true),
            Protocol::All => ("-1", false),
        };
        let (from, to) = if ports {
            (i32::from(r.from_port), i32::from(r.to_port))
        } else {
            (0, 0)
        };
        for p in &r.peers {
            let peer = match p {
                Peer::Cidr(c) => c.clone(),
                Peer::Group(g) => val(g),
                Peer::SelfGroup => "self".to_string(),
            };
            out.insert((proto.to_string(), from, to, peer));
        }
    }
    out
}

/// AWS's permissions as atoms, and as one rule per peer.
fn described(perms: &[IpPermission], own: &str) -> (BTreeSet<Atom>, Vec<Rule>) {
    let (mut set, mut rules) = (BTreeSet::new(), Vec::new());
    for p in perms {
        let (protocol, proto) = match p.ip_protocol().unwrap_or("-1") {
            "tcp" | "6" => (Protocol::Tcp, "tcp"),
            "udp" | "17" => (Protocol::Udp, "udp"),
            "icmp" | "1" => (Protocol::Icmp, "icmp"),
            _ => (Protocol::All, "-1"),
        };
        let all = protocol == Protocol::All;
        let (from, to) = if all {
            (0, 0)
        } else {
            (p.from_port().unwrap_or(0), p.to_port().unwrap_or(0))
        };
        let port = |v: i32| u16::try_from(v).unwrap_or(u16::MAX);
        let rule = |peer: Peer, description: Option<&str>| Rule {
            protocol,
            from_port: if all { 0 } else { port(from) },
            to_port: if all { 65535 } else { port(to) },
            peers: vec![peer],
            description: description.map(str::to_string),
        };
        for r in p.ip_ranges() {
            let Some(cidr) = r.cidr_ip() else { continue };
            set.insert((proto.to_string(), from, to, cidr.to_string()));
            rules.push(rule(Peer::Cidr(cidr.to_string()), r.description()));
        }
        for g in p.user_id_group_pairs() {
            let Some(gid) = g.group_id() else { continue };
            let (atom, peer) = match gid == own {
                true => ("self".to_string(), Peer::SelfGroup),
                false => (
                    gid.to_string(),
                    Peer::Group(Input::Value(SecurityGroupId::new(gid))),
                ),
            };
            set.insert((proto.to_string(), from, to, atom));
            rules.push(rule(peer, g.description()));
        }
    }
    (set, rules)
}

#[async_trait]
impl AwsResource for SecurityGroup {
    type Live = LiveGroup;

    async fn create(cx: &Cx<'_>, sg: &Self) -> Res<Self::Outputs> {
        let name = physical_name(cx.urn, &sg.name);
        let vpc = val(&sg.vpc_id);
        let call = cx.c.ec2.create_security_group().group_name(&name);
        let call = call.description(&sg.description).vpc_id(&vpc);
        let call = call.set_tag_specifications(tag_specs(ResourceType::SecurityGroup, &sg.tags));
        let out = send!(cx, "CreateSecurityGroup", call)?;
        let id = cx.new_id("CreateSecurityGroup", out.group_id())?;
        let rules = async {
            // AWS gave the group its default rule: revoke it unless declared.
            let (have, want) = ([default_egress()], sg.effective_egress());
            let (revoke, grant) = egress_delta(&have, &want);
            change(cx, &id, false, &[], &revoke).await?;
            let ingress: Vec<&Rule> = sg.ingress.iter().collect();
            change(cx, &id, true, &ingress, &grant).await
        };
        if let Err(e) = rules.await {
            let _ = cx.c.ec2.delete_security_group().group_id(&id).send().await;
            return Err(e);
        }
        outputs_now::<Self>(cx, &id, "after creation").await
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeSecurityGroups" =>
            describe_security_groups(set_group_ids, filters))?;
        Ok(out.security_groups().to_vec())
    }

    fn outputs(_: &Cx<'_>, g: &Self::Live) -> Res<Self::Outputs> {
        Ok(SecurityGroupOutputs {
            id: SecurityGroupId::new(g.group_id().unwrap_or_default()),
            name: g.group_name().unwrap_or_default().to_string(),
            vpc_id: VpcId::new(g.vpc_id().unwrap_or_default()),
        })
    }

    fn observe(recorded: &Self, g: &Self::Live) -> Self {
        let r = recorded;
        let own = g.group_id().unwrap_or_default();
        let mut sg = r.clone();
        sg.description = g.description().unwrap_or(&r.description).to_string();
        sg.vpc_id = g
            .vpc_id()
            .map_or(r.vpc_id.clone(), |v| Input::Value(VpcId::new(v)));
        sg.name = r
            .name
            .as_ref()
            .map(|n| g.group_name().unwrap_or(n).to_string());
        sg.tags = tags_of(g.tags());
        let (ingress, ingress_rules) = described(g.ip_permissions(), own);
        if ingress != atoms(&r.ingress) {
            sg.ingress = ingress_rules;
        }
        let (egress, egress_rules) = described(g.ip_permissions_egress(), own);
        if egress != atoms(&r.effective_egress()) {
            let default = atoms(&[default_egress()]);
            sg.revoke_default_egress = !default.is_subset(&egress);
            let dflt = key(&default_egress());
            sg.egress = egress_rules
                .into_iter()
                .filter(|e| sg.revoke_default_egress || key(e) != dflt)
                .collect();
        }
        sg
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let id = id.as_str();
        let (old_egress, new_egress) = (old.effective_egress(), new.effective_egress());
        let (revoke_egress, grant_egress) = egress_delta(&old_egress, &new_egress);
        change(
            cx,
            id,
            false,
            &minus(&old.ingress, &new.ingress),
            &revoke_egress,
        )
        .await?;
        change(
            cx,
            id,
            true,
            &minus(&new.ingress, &old.ingress),
            &grant_egress,
        )
        .await?;
        sync_tags(cx, id, &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id, "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let t = cx.c.timeouts;
        // Network interfaces of just-terminated instances let go of the group
        // a little later: retry DependencyViolation for a bounded time, then
        // report AWS's own error.
        let what = "the security group's network interfaces to go";
        let deleted = retry_on(
            cx.urn,
            what,
            &["DependencyViolation"],
            t.capacity,
            t.poll,
            || async {
                let call = cx.c.ec2.delete_security_group().group_id(id.as_str());
                send!(cx, "DeleteSecurityGroup", call).map(drop)
            },
        )
        .await;
        gone_is_fine(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(proto: &str, port: Option<i32>, cidr: &str) -> IpPermission {
        let p = IpPermission::builder().ip_protocol(proto);
        let p = p.set_from_port(port).set_to_port(port);
        p.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build()
    }

    fn live(ingress: Vec<IpPermission>, egress: Vec<IpPermission>) -> LiveGroup {
        LiveGroup::builder()
            .group_id("sg-1")
            .group_name("hosts-1")
            .description("hosts")
            .vpc_id("vpc-1")
            .set_ip_permissions(Some(ingress))
            .set_ip_permissions_egress(Some(egress))
            .build()
    }

    fn declared() -> SecurityGroup {
        SecurityGroup::new(VpcId::new("vpc-1"), "hosts")
            .ingress(Rule::tcp(443).cidr("10.0.0.0/16").self_group())
    }

    fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or_default()
    }

    #[test]
    fn rules_as_aws_holds_them_observe_as_declared() {
        let own = UserIdGroupPair::builder().group_id("sg-1").build();
        let https = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443);
        let https = https.ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build());
        let https = https.user_id_group_pairs(own).build();
        let group = live(vec![https], vec![perm("-1", None, "0.0.0.0/0")]);
        assert_eq!(
            json(&SecurityGroup::observe(&declared(), &group)),
            json(&declared())
        );
    }

    #[test]
    fn rules_changed_out_of_band_are_observed_one_peer_a_rule() {
        let group = live(vec![perm("tcp", Some(22), "0.0.0.0/0")], vec![]);
        let seen = SecurityGroup::observe(&declared(), &group);
        assert_eq!(
            json(&Rule::tcp(22).cidr("0.0.0.0/0")),
            json(&seen.ingress[0])
        );
        assert_eq!(seen.ingress.len(), 1);
        // The default egress is gone: as if the program had revoked it.
        assert!(seen.revoke_default_egress);
        assert!(seen.egress.is_empty());
    }

    /// Ports of rules, for comparing deltas.
    fn ports(rules: &[&Rule]) -> Vec<(Protocol, u16)> {
        rules.iter().map(|r| (r.protocol, r.from_port)).collect()
    }

    #[test]
    fn creating_a_group_with_declared_egress_revokes_the_default_rule() {
        let default = [default_egress()];
        let https = declared().egress(Rule::tcp(443).cidr("0.0.0.0/0"));
        let want = https.effective_egress();
        let (revoke, grant) = egress_delta(&default, &want);
        assert_eq!(ports(&revoke), [(Protocol::All, 0)]);
        assert_eq!(ports(&grant), [(Protocol::Tcp, 443)]);

        // No egress declared, or all of it said explicitly: nothing to do.
        for sg in [declared(), declared().allow_all_egress()] {
            let want = sg.effective_egress();
            let (revoke, grant) = egress_delta(&default, &want);
            assert!(revoke.is_empty() && grant.is_empty(), "{sg:?}");
        }
    }

    #[test]
    fn a_saved_group_keeping_the_default_next_to_its_rules_loses_it_on_update() {
        let new = declared().egress(Rule::tcp(443).cidr("0.0.0.0/0"));
        let mut old = new.clone();
        old.revoke_default_egress = false;
        let (old_rules, new_rules) = (old.effective_egress(), new.effective_egress());
        let (revoke, grant) = egress_delta(&old_rules, &new_rules);
        assert_eq!(ports(&revoke), [(Protocol::All, 0)]);
        assert!(grant.is_empty());
        // Observed as recorded while AWS holds the default and 443.
        let group = live(
            vec![],
            vec![
                perm("-1", None, "0.0.0.0/0"),
                perm("tcp", Some(443), "0.0.0.0/0"),
            ],
        );
        let mut recorded = old.clone();
        recorded.ingress.clear();
        assert_eq!(
            json(&SecurityGroup::observe(&recorded, &group)),
            json(&recorded)
        );
    }
}
