//! Declaration checks that need more than one resource: a subnet's block
//! inside its VPC's, subnets of one VPC not overlapping. Part of
//! [`Stack::validate`](super::Stack::validate); single-field rules live with
//! each resource type's `validate`, and the network analysis (which assumes
//! a valid declaration) in `analysis`.

use super::Stack;
use crate::aws::ec2::{Subnet, Vpc};
use crate::cidr;
use crate::resource::{FieldError, Resource, Urn};
use std::collections::BTreeMap;

/// Cross-resource problems, each with the resource it belongs to.
pub(super) fn cross_resource(stack: &Stack) -> Vec<(Urn, FieldError)> {
    let mut errors = Vec::new();
    // Subnets grouped by the VPC declaration they reference.
    let mut by_vpc: BTreeMap<Urn, Vec<(Urn, ipnet::Ipv4Net)>> = BTreeMap::new();
    for d in &stack.resources {
        let Some(subnet) = d.downcast::<Subnet>() else {
            continue;
        };
        let Ok(block) = cidr::parse_block(&subnet.cidr_block) else {
            continue; // reported by Subnet::validate
        };
        let Some((vpc_urn, "id")) = subnet.vpc_id.as_output().and_then(|o| o.source()) else {
            continue; // an existing VPC: only the cloud knows its block
        };
        let Some(vpc) = stack.get_as::<Vpc>(vpc_urn) else {
            continue;
        };
        if let Ok(vpc_block) = cidr::parse_block(&vpc.cidr_block)
            && !vpc_block.contains(&block)
        {
            errors.push((
                    d.urn.clone(),
                    FieldError::new(
                        "cidr_block",
                        format!(
                            "{block} is outside the block {vpc_block} of VPC `{}` (AWS would refuse it: InvalidSubnet.Range)",
                            vpc_urn.name()
                        ),
                    ),
                ));
            continue;
        }
        by_vpc
            .entry(vpc_urn.clone())
            .or_default()
            .push((d.urn.clone(), block));
    }
    for (vpc_urn, subnets) in &by_vpc {
        for (i, (a_urn, a)) in subnets.iter().enumerate() {
            for (b_urn, b) in &subnets[..i] {
                if cidr::overlaps(a, b) {
                    errors.push((
                        a_urn.clone(),
                        FieldError::new(
                            "cidr_block",
                            format!(
                                "{a} overlaps {b} of subnet `{}` in VPC `{}` (AWS would refuse it: InvalidSubnet.Conflict)",
                                b_urn.name(),
                                vpc_urn.name()
                            ),
                        ),
                    ));
                }
            }
        }
    }
    debug_assert!(errors.iter().all(|(u, _)| u.type_token() == Subnet::TYPE));
    errors
}
