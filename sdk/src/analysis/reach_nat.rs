//! The hop through a regional NAT gateway, part of [`reach`](super::reach).
//! A regional NAT gateway sits in no subnet of the program's: it serves
//! every zone of its VPC under one id and sends traffic out through the
//! VPC's internet gateway, so what matters is that the route's VPC is the
//! gateway's, that it is available, the instances' subnet ACL, and that an
//! internet gateway is attached to that VPC (no public subnet, no route of
//! its own to check).

use super::network::{Key, Model, NatFacts};
use super::reach::{Blocked, Code, Source, blocked, check_https_out};
use ipnet::Ipv4Net;

/// A regional NAT gateway on the path.
pub(super) struct Regional<'m> {
    /// Its key in the model.
    pub key: &'m str,
    /// Its facts.
    pub nat: &'m NatFacts,
    /// The VPC it serves.
    pub vpc: &'m Key,
}

impl Regional<'_> {
    /// From `src` (whose route table sends `dest` to this gateway) through
    /// the gateway to `dest` on 443: the hops, or what stops the traffic.
    pub(super) fn reach(
        &self,
        model: &Model,
        src: &Source<'_>,
        dest: Ipv4Net,
        mut hops: Vec<String>,
    ) -> Result<Vec<String>, Blocked> {
        let (nat, n) = (self.nat, self.key);
        let src_vpc = model.subnets.get(src.subnet).map(|s| s.vpc.as_str());
        if src_vpc != Some(self.vpc.as_str()) {
            let reason = format!(
                "NAT gateway {} is regional for VPC {}, not {}",
                nat.label,
                model.label(self.vpc),
                src_vpc.map_or("the instances' VPC", |v| model.label(v))
            );
            return Err(blocked(Code::NatOtherVpc, n, reason, &hops));
        }
        if !nat.available {
            let reason = format!("NAT gateway {} is not available yet", nat.label);
            return Err(blocked(Code::NatNotAvailable, n, reason, &hops));
        }
        check_https_out(model, src.subnet, dest, &hops)?;
        hops.push(format!(
            "NAT gateway {} (regional: every zone of VPC {})",
            nat.label,
            model.label(self.vpc)
        ));
        let igw = model
            .internet_gateways
            .iter()
            .find(|(_, g)| g.vpc.as_deref() == Some(self.vpc.as_str()));
        let Some((igw, _)) = igw else {
            let reason = format!(
                "NAT gateway {} is regional, and its VPC {} has no attached internet gateway to send traffic out through",
                nat.label,
                model.label(self.vpc)
            );
            return Err(blocked(
                Code::RegionalNatNoInternetGateway,
                n,
                reason,
                &hops,
            ));
        };
        hops.push(format!(
            "internet gateway {} → {}:443",
            model.label(igw),
            dest.addr()
        ));
        Ok(hops)
    }
}
