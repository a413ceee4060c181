//! [`Network`]: a VPC laid out over N availability zones with a public and a
//! private subnet in each, an internet gateway, a public route table sending
//! 0.0.0.0/0 to it, and private route tables whose default route depends on
//! the [`NatStrategy`].

use crate::aws::ec2::{ElasticIp, InternetGateway, NatGateway, RouteTable, Subnet, Vpc};
use crate::cidr;
use crate::resource::{Handle, Output, SubnetId};
use crate::stack::{ResourceOptions, Stack};
use ipnet::Ipv4Net;

/// How private subnets reach the internet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatStrategy {
    /// No NAT gateway: private subnets have no route out (fine for
    /// workloads that need none, or that use VPC endpoints; an error for
    /// ECS instances that must reach ECS).
    None,
    /// One NAT gateway in the first zone, shared by every private subnet:
    /// cheaper, but an outage of that zone cuts all of them off.
    Single,
    /// One NAT gateway per zone, each private subnet using its own zone's.
    OnePerAz,
    /// One regional NAT gateway for the VPC (AWS, November 2025): it
    /// serves every zone under one id, sits in no public subnet and needs no
    /// Elastic IP of the program's (AWS allocates its addresses); it goes
    /// out through the network's internet gateway. Every private subnet
    /// routes to it.
    Regional,
}

/// The resources of one availability zone.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone's name, e.g. `us-east-1a`.
    pub name: String,
    /// The public subnet (instances get public addresses).
    pub public_subnet: Handle<Subnet>,
    /// The private subnet.
    pub private_subnet: Handle<Subnet>,
    /// The private subnet's route table.
    pub private_route_table: Handle<RouteTable>,
    /// The zone's NAT gateway and its Elastic IP, if it has one (a
    /// regional gateway is the network's, in [`NetworkHandles`]).
    pub nat_gateway: Option<(Handle<NatGateway>, Handle<ElasticIp>)>,
}

/// Everything a [`Network`] declared.
#[derive(Clone, Debug)]
pub struct NetworkHandles {
    /// The VPC.
    pub vpc: Handle<Vpc>,
    /// The internet gateway, attached to the VPC.
    pub internet_gateway: Handle<InternetGateway>,
    /// The public route table (0.0.0.0/0 → internet gateway).
    pub public_route_table: Handle<RouteTable>,
    /// Per zone, in the order given.
    pub zones: Vec<Zone>,
    /// The regional NAT gateway ([`NatStrategy::Regional`]).
    pub regional_nat_gateway: Option<Handle<NatGateway>>,
}

impl NetworkHandles {
    /// The private subnets' ids, in zone order.
    pub fn private_subnet_ids(&self) -> Vec<Output<SubnetId>> {
        self.zones.iter().map(|z| z.private_subnet.id()).collect()
    }
    /// The public subnets' ids, in zone order.
    pub fn public_subnet_ids(&self) -> Vec<Output<SubnetId>> {
        self.zones.iter().map(|z| z.public_subnet.id()).collect()
    }
    /// The zonal NAT gateways' public addresses, in zone order (a regional
    /// gateway's are AWS's).
    pub fn nat_public_ips(&self) -> Vec<Output<String>> {
        self.zones
            .iter()
            .filter_map(|z| z.nat_gateway.as_ref().map(|(_, eip)| eip.public_ip()))
            .collect()
    }
}

/// A public/private network over several availability zones.
///
/// ```
/// use keel::prelude::*;
/// use keel::components::{NatStrategy, Network};
///
/// let mut stack = Stack::new("demo");
/// let net = Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b"])
///     .nat(NatStrategy::OnePerAz)
///     .declare(&mut stack, "net");
/// assert_eq!(net.zones.len(), 2);
/// assert!(net.zones.iter().all(|z| z.nat_gateway.is_some()));
/// assert!(stack.validate().is_ok());
///
/// // One regional NAT gateway instead, for every zone.
/// let mut stack = Stack::new("regional");
/// let net = Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b"])
///     .nat(NatStrategy::Regional)
///     .declare(&mut stack, "net");
/// assert!(net.regional_nat_gateway.is_some());
/// assert!(net.zones.iter().all(|z| z.nat_gateway.is_none()));
/// assert!(keel::analysis::check(&stack).findings.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Network {
    cidr_block: String,
    zones: Vec<String>,
    nat: NatStrategy,
    subnet_prefix: u8,
}

impl Network {
    /// A network with block `cidr_block` over `zones`, one NAT gateway per
    /// zone and /24 subnets: public subnets take the first blocks, private
    /// ones the blocks after them.
    pub fn new<Z: Into<String>>(
        cidr_block: impl Into<String>,
        zones: impl IntoIterator<Item = Z>,
    ) -> Self {
        Self {
            cidr_block: cidr_block.into(),
            zones: zones.into_iter().map(Into::into).collect(),
            nat: NatStrategy::OnePerAz,
            subnet_prefix: 24,
        }
    }

    /// Sets the NAT strategy.
    pub fn nat(mut self, strategy: NatStrategy) -> Self {
        self.nat = strategy;
        self
    }

    /// Sets the subnets' prefix length (default /24).
    pub fn subnet_prefix(mut self, prefix: u8) -> Self {
        self.subnet_prefix = prefix;
        self
    }

    /// The subnet blocks: `zones` public then `zones` private ones. Blocks
    /// that don't fit are left to [`Stack::validate`], which names the field.
    fn blocks(&self) -> Vec<String> {
        let n = self.zones.len() * 2;
        let carved: Option<Vec<Ipv4Net>> = cidr::parse(&self.cidr_block)
            .ok()
            .and_then(|net| net.subnets(self.subnet_prefix).ok())
            .map(|it| it.take(n).collect());
        match carved {
            Some(blocks) if blocks.len() == n => blocks.iter().map(|b| b.to_string()).collect(),
            // Not enough room (or an invalid block): repeat the VPC block
            // so validation reports the overlap or the bad CIDR.
            _ => vec![self.cidr_block.clone(); n],
        }
    }

    /// Declares the network's resources in `stack`, named after `name`.
    pub fn declare(self, stack: &mut Stack, name: &str) -> NetworkHandles {
        let blocks = self.blocks();
        let n = self.zones.len();
        let vpc = stack.add(
            name,
            Vpc::new(self.cidr_block.clone()).enable_dns_hostnames(true),
        );
        let igw = stack.add(name, InternetGateway::new().vpc(vpc.id()));
        let mut public_rt =
            RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", igw.id());
        let mut publics = Vec::new();
        let mut nats: Vec<Option<(Handle<NatGateway>, Handle<ElasticIp>)>> = Vec::new();
        for (i, az) in self.zones.iter().enumerate() {
            let suffix = zone_suffix(az);
            let public = stack.add(
                &format!("{name}-public-{suffix}"),
                Subnet::new(vpc.id(), blocks[i].clone(), az.clone()).map_public_ip_on_launch(true),
            );
            public_rt = public_rt.associate(public.id());
            let wants_nat = match self.nat {
                NatStrategy::None | NatStrategy::Regional => false,
                NatStrategy::Single => i == 0,
                NatStrategy::OnePerAz => true,
            };
            nats.push(wants_nat.then(|| {
                let eip = stack.add(&format!("{name}-nat-{suffix}"), ElasticIp::new());
                let nat = stack.add(
                    &format!("{name}-nat-{suffix}"),
                    NatGateway::public(public.id(), eip.id()),
                );
                (nat, eip)
            }));
            publics.push(public);
        }
        let public_route_table = stack.add(&format!("{name}-public"), public_rt);
        // After the internet gateway: it is the regional gateway's way out.
        let regional_nat_gateway = (self.nat == NatStrategy::Regional).then(|| {
            let after_igw = ResourceOptions::new().depends_on(igw.urn());
            stack.add_with(name, NatGateway::regional(vpc.id()), after_igw)
        });
        let mut zones = Vec::new();
        for (i, (az, public)) in self.zones.iter().zip(publics).enumerate() {
            let suffix = zone_suffix(az);
            let private = stack.add(
                &format!("{name}-private-{suffix}"),
                Subnet::new(vpc.id(), blocks[n + i].clone(), az.clone()),
            );
            let mut rt = RouteTable::new(vpc.id()).associate(private.id());
            let nat = match self.nat {
                NatStrategy::None => None,
                NatStrategy::Single => nats[0].as_ref().map(|(n, _)| n),
                NatStrategy::OnePerAz => nats[i].as_ref().map(|(n, _)| n),
                NatStrategy::Regional => regional_nat_gateway.as_ref(),
            };
            if let Some(nat) = nat {
                rt = rt.route_to_nat_gateway("0.0.0.0/0", nat.id());
            }
            let private_route_table = stack.add(&format!("{name}-private-{suffix}"), rt);
            zones.push(Zone {
                name: az.clone(),
                public_subnet: public,
                private_subnet: private,
                private_route_table,
                nat_gateway: nats[i].clone(),
            });
        }
        NetworkHandles {
            vpc,
            internet_gateway: igw,
            public_route_table,
            zones,
            regional_nat_gateway,
        }
    }
}

/// `a` for `us-east-1a`; the whole name if it doesn't end in a letter.
fn zone_suffix(az: &str) -> &str {
    match az.char_indices().last() {
        Some((i, c)) if c.is_ascii_lowercase() && i > 0 => &az[i..],
        _ => az,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::{AvailabilityMode, NatGateway, RouteTarget};
    use crate::resource::Resource;

    fn count(stack: &Stack, ty: &str) -> usize {
        stack.urns().filter(|u| u.type_token() == ty).count()
    }

    #[test]
    fn strategies_declare_the_right_gateways() {
        for (strategy, nats) in [
            (NatStrategy::None, 0),
            (NatStrategy::Single, 1),
            (NatStrategy::OnePerAz, 3),
        ] {
            let mut stack = Stack::new("t");
            let net = Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b", "us-east-1c"])
                .nat(strategy)
                .declare(&mut stack, "net");
            assert!(stack.validate().is_ok(), "{strategy:?}");
            assert_eq!(count(&stack, NatGateway::TYPE), nats, "{strategy:?}");
            assert_eq!(count(&stack, Subnet::TYPE), 6);
            assert_eq!(net.private_subnet_ids().len(), 3);
            assert_eq!(net.nat_public_ips().len(), nats);
        }
    }

    #[test]
    fn the_regional_strategy_declares_one_nat_gateway_every_private_table_routes_to() {
        let mut stack = Stack::new("t");
        let net = Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b", "us-east-1c"])
            .nat(NatStrategy::Regional)
            .declare(&mut stack, "net");
        assert!(stack.validate().is_ok());
        assert_eq!(count(&stack, NatGateway::TYPE), 1);
        assert_eq!(count(&stack, ElasticIp::TYPE), 0);
        let nat = net
            .regional_nat_gateway
            .clone()
            .expect("a regional NAT gateway");
        let declared = stack.get_as::<NatGateway>(nat.urn()).expect("declared");
        assert_eq!(declared.availability_mode, AvailabilityMode::Regional);
        for zone in &net.zones {
            let table = stack.get_as::<RouteTable>(zone.private_route_table.urn());
            let routes = &table.expect("declared").routes;
            assert_eq!(routes.len(), 1);
            // The stack's one NAT gateway (counted above).
            assert!(
                matches!(routes[0].target, RouteTarget::NatGateway(_)),
                "{:?}",
                routes[0].target
            );
        }
        assert!(net.nat_public_ips().is_empty());
    }

    #[test]
    fn a_network_too_small_for_its_subnets_is_reported_by_validation() {
        let mut stack = Stack::new("t");
        Network::new("10.0.0.0/28", ["us-east-1a", "us-east-1b"]).declare(&mut stack, "net");
        assert!(stack.validate().is_err());
    }
}
