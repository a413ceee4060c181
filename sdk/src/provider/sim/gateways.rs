//! Internet gateways, Elastic IPs and NAT gateways in the simulated cloud:
//! attachment rules (one internet gateway per VPC, detach before delete), an
//! Elastic IP in use by a NAT gateway can't be released, and a NAT gateway's
//! life cycle (`pending` → `available`, `deleting` → `deleted`, the slowest
//! thing in a VPC); a regional NAT gateway is created for a VPC, in no
//! subnet, with an Elastic IP only if one is given (AWS allocates the rest as
//! zones gain workloads). Also the provider handlers for [`InternetGateway`],
//! [`ElasticIp`] and [`NatGateway`]; the handlers wait for NAT gateways the
//! way Terraform does.

use super::SimProvider;
use super::cloud::{Clock, Cloud, Done, fresh_id};
use super::dispatch::{Made, Simulated, configured, resolved};
use super::latency::Op;
use super::network::SubnetRec;
use super::table::{Life, Phase, Record, Stored, Use, Users, facts, listing};
use crate::aws::ec2::{
    AvailabilityMode, Connectivity, ElasticIp, ElasticIpOutputs, InternetGateway,
    InternetGatewayOutputs, NatGateway, NatGatewayOutputs,
};
use crate::provider::ProviderError;
use crate::resource::{AllocationId, InternetGatewayId, NatGatewayId, SubnetId, Tags, Urn, VpcId};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// An internet gateway and its attachment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct InternetGatewayRec {
    pub id: String,
    pub vpc_id: Option<String>,
    pub tags: Tags,
}

/// An Elastic IP allocation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct AddressRec {
    pub id: String,
    pub public_ip: Ipv4Addr,
    pub tags: Tags,
}

/// A NAT gateway.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct NatGatewayRec {
    pub id: String,
    pub vpc_id: String,
    /// A zonal gateway's subnet (a regional one has none).
    #[serde(default)]
    pub subnet_id: Option<String>,
    pub connectivity: Connectivity,
    #[serde(default)]
    pub availability_mode: AvailabilityMode,
    pub allocation_id: Option<String>,
    /// A zonal gateway's address in its subnet.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    pub state: Phase,
    /// When the current `pending` or `deleting` state ends (cloud clock).
    pub until_ms: u64,
    pub tags: Tags,
}

impl NatGatewayRec {
    /// Deleted (AWS keeps showing deleted gateways for a while).
    pub(super) fn is_gone(&self) -> bool {
        self.state == Phase::Deleted
    }
}

facts!(
    InternetGatewayRec for InternetGateway, "DescribeInternetGateways": "attached internet gateways",
    not found "InvalidInternetGatewayID.NotFound", "The internetGateway ID '{id}' does not exist",
    noun "internetGateway"
);

impl Record for InternetGatewayRec {
    fn vpc(&self) -> Option<&str> {
        self.vpc_id.as_deref()
    }

    /// Attached, it is in its own way: it must be detached first.
    fn uses(&self, id: &str) -> Vec<Use> {
        let attached = self.vpc_id.iter();
        attached
            .map(|v| Use::new(InternetGatewayRec::TYPE, id, "attachments", v))
            .collect()
    }
}

facts!(
    AddressRec for ElasticIp, "DescribeAddresses": "Elastic IPs",
    not found "InvalidAllocationID.NotFound", "The allocation ID '{id}' does not exist"
);

impl Record for AddressRec {
    fn in_use(id: &str, users: &Users) -> ProviderError {
        ProviderError::new(
            "InvalidIPAddress.InUse",
            format!("Address {id} is in use by {}", listing(users)),
        )
    }
}

facts!(
    NatGatewayRec for NatGateway, "DescribeNatGateways": "NAT gateways",
    not found "NatGatewayNotFound", "The Nat Gateway {id} was not found"
);

impl Record for NatGatewayRec {
    fn life(&self) -> Life {
        self.state.life()
    }

    fn vpc(&self) -> Option<&str> {
        Some(&self.vpc_id)
    }

    fn uses(&self, id: &str) -> Vec<Use> {
        let subnet = self.subnet_id.iter();
        let mut uses: Vec<Use> = subnet
            .map(|s| Use::of::<Self>(SubnetRec::TYPE, s, id))
            .collect();
        let address = self.allocation_id.iter();
        uses.extend(address.map(|a| Use::of::<Self>(AddressRec::TYPE, a, id)));
        uses
    }
}

impl Cloud {
    /// CreateInternetGateway (detached).
    pub(super) fn create_internet_gateway(&mut self, tags: Tags) -> String {
        let id = fresh_id("igw", &self.internet_gateways);
        let igw = InternetGatewayRec {
            id: id.clone(),
            vpc_id: None,
            tags,
        };
        self.internet_gateways.insert(id.clone(), igw);
        id
    }

    /// AttachInternetGateway: the gateway must be detached, and the VPC have none.
    pub(super) fn attach_internet_gateway(&mut self, id: &str, vpc_id: &str) -> Done {
        let igw = self.internet_gateways.get(id)?;
        self.vpcs.get(vpc_id)?;
        let already = |what: &str, other: &str| {
            ProviderError::new(
                "Resource.AlreadyAssociated",
                format!("resource {what} is already attached to network {other}"),
            )
        };
        if let Some(other) = &igw.vpc_id {
            return Err(already(id, other));
        }
        let taken = self
            .internet_gateways
            .values()
            .find(|g| g.vpc_id.as_deref() == Some(vpc_id));
        if let Some(other) = taken {
            return Err(already(vpc_id, &other.id));
        }
        self.internet_gateways.get_mut(id)?.vpc_id = Some(vpc_id.to_string());
        Ok(())
    }

    /// DetachInternetGateway.
    pub(super) fn detach_internet_gateway(&mut self, id: &str, vpc_id: &str) -> Done {
        let igw = self.internet_gateways.get(id)?;
        if igw.vpc_id.as_deref() != Some(vpc_id) {
            return Err(ProviderError::new(
                "Gateway.NotAttached",
                format!("resource {id} is not attached to network {vpc_id}"),
            ));
        }
        self.internet_gateways.get_mut(id)?.vpc_id = None;
        Ok(())
    }

    /// DeleteInternetGateway: only when detached. Routes to it become blackholes.
    pub(super) fn delete_internet_gateway(&mut self, id: &str) -> Done {
        self.remove_unused::<InternetGatewayRec>(id).map(drop)
    }

    /// AllocateAddress (domain vpc).
    pub(super) fn allocate_address(&mut self, tags: Tags) -> String {
        let id = fresh_id("eipalloc", &self.addresses);
        let address = AddressRec {
            id: id.clone(),
            public_ip: self.allocate_public_ip(),
            tags,
        };
        self.addresses.insert(id.clone(), address);
        id
    }

    /// ReleaseAddress: not while a NAT gateway uses it.
    pub(super) fn release_address(&mut self, id: &str) -> Done {
        self.remove_unused::<AddressRec>(id).map(drop)
    }

    /// CreateNatGateway (zonal): `pending` until `clock` says it is available.
    pub(super) fn create_nat_gateway(
        &mut self,
        subnet_id: &str,
        allocation_id: Option<&str>,
        connectivity: Connectivity,
        tags: Tags,
        clock: &Clock,
    ) -> Result<String, ProviderError> {
        let vpc_id = self.subnets.get(subnet_id)?.vpc_id.clone();
        match (connectivity, allocation_id) {
            (Connectivity::Public, None) => {
                return Err(ProviderError::new(
                    "MissingParameter",
                    "A public NAT gateway requires the parameter AllocationId",
                ));
            }
            (Connectivity::Private, Some(_)) => {
                return Err(ProviderError::new(
                    "InvalidParameterCombination",
                    "A private NAT gateway can't have an Elastic IP allocation",
                ));
            }
            (Connectivity::Public, Some(alloc)) => self.free_address(alloc)?,
            (Connectivity::Private, None) => {}
        }
        let private_ip = self.allocate_private_ip(subnet_id)?;
        let nat = NatGatewayRec {
            id: fresh_id("nat", &self.nat_gateways),
            vpc_id,
            subnet_id: Some(subnet_id.to_string()),
            connectivity,
            availability_mode: AvailabilityMode::Zonal,
            allocation_id: allocation_id.map(str::to_string),
            private_ip: Some(private_ip),
            state: Phase::Pending,
            until_ms: clock.after(Op::NatCreate),
            tags,
        };
        Ok(self.add_nat_gateway(nat))
    }

    /// CreateNatGateway with AvailabilityMode `regional`: for VPC `vpc_id`,
    /// in no subnet, public. Whether traffic gets out (the VPC's internet
    /// gateway) is the network model's question, not the call's.
    pub(super) fn create_regional_nat_gateway(
        &mut self,
        vpc_id: &str,
        allocation_id: Option<&str>,
        tags: Tags,
        clock: &Clock,
    ) -> Result<String, ProviderError> {
        self.vpcs.get(vpc_id)?;
        if let Some(alloc) = allocation_id {
            self.free_address(alloc)?;
        }
        let nat = NatGatewayRec {
            id: fresh_id("nat", &self.nat_gateways),
            vpc_id: vpc_id.to_string(),
            subnet_id: None,
            connectivity: Connectivity::Public,
            availability_mode: AvailabilityMode::Regional,
            allocation_id: allocation_id.map(str::to_string),
            private_ip: None,
            state: Phase::Pending,
            until_ms: clock.after(Op::NatCreate),
            tags,
        };
        Ok(self.add_nat_gateway(nat))
    }

    fn add_nat_gateway(&mut self, nat: NatGatewayRec) -> String {
        let id = nat.id.clone();
        self.nat_gateways.insert(id.clone(), nat);
        id
    }

    /// Elastic IP `alloc` exists and nothing uses it yet.
    fn free_address(&self, alloc: &str) -> Done {
        self.addresses.get(alloc)?;
        let users = self.users(AddressRec::TYPE, alloc);
        if let Some((_, other)) = users.first() {
            return Err(ProviderError::new(
                "Resource.AlreadyAssociated",
                format!(
                    "Elastic IP address [{alloc}] is already associated with {}",
                    other.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// DeleteNatGateway: `deleting`, then `deleted` (its Elastic IP free again).
    pub(super) fn delete_nat_gateway(&mut self, id: &str, clock: &Clock) -> Done {
        let done = clock.after(Op::NatDelete);
        self.nat_gateways.start_deleting(id, done)
    }
}

impl SimProvider {
    /// Detaches gateway `id` from whatever VPC it is attached to.
    fn detach_igw(&self, id: &str) -> Done {
        let attached = self.peek(|c| c.internet_gateways.get(id).map(|g| g.vpc_id.clone()))?;
        if let Some(vpc) = attached {
            self.api("DetachInternetGateway", |c, _| {
                c.detach_internet_gateway(id, &vpc)
            })?;
        }
        Ok(())
    }
}

impl Simulated for InternetGateway {
    fn outputs(cloud: &Cloud, g: &InternetGatewayRec) -> InternetGatewayOutputs {
        InternetGatewayOutputs {
            id: InternetGatewayId::new(&g.id),
            arn: cloud.arn("ec2", &format!("internet-gateway/{}", g.id)),
            vpc_id: g.vpc_id.as_deref().map(VpcId::new),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let id = sim.api("CreateInternetGateway", |c, _| {
            Ok(c.create_internet_gateway(props.tags.clone()))
        })?;
        configured(sim, urn, id, props)
    }

    /// Detaches and attaches until the gateway is attached as declared.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let want = props.vpc_id.as_ref();
        let want = want.map(|v| resolved(urn, "vpc_id", v)).transpose()?;
        let attached = sim.peek(|c| c.internet_gateways.get(id).map(|g| g.vpc_id.clone()))?;
        if attached.as_deref() != want.map(|v| v.as_str()) {
            sim.detach_igw(id)?;
            if let Some(vpc) = want {
                sim.api("AttachInternetGateway", |c, _| {
                    c.attach_internet_gateway(id, vpc.as_str())
                })?;
            }
        }
        Ok(())
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.detach_igw(id)?;
        sim.api("DeleteInternetGateway", |c, _| {
            c.delete_internet_gateway(id)
        })
    }
}

impl Simulated for ElasticIp {
    fn outputs(_: &Cloud, a: &AddressRec) -> ElasticIpOutputs {
        ElasticIpOutputs {
            id: AllocationId::new(&a.id),
            public_ip: a.public_ip.to_string(),
        }
    }

    fn make(sim: &SimProvider, _: &Urn, props: &Self) -> Result<String, ProviderError> {
        sim.api("AllocateAddress", |c, _| {
            Ok(c.allocate_address(props.tags.clone()))
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("ReleaseAddress", |c, _| c.release_address(id))
    }
}

/// AWS's answer to a CreateNatGateway without a required parameter.
fn missing(parameter: &str) -> ProviderError {
    ProviderError::new(
        "MissingParameter",
        format!("The request must contain the parameter {parameter}"),
    )
}

#[async_trait]
impl Simulated for NatGateway {
    fn outputs(cloud: &Cloud, n: &NatGatewayRec) -> NatGatewayOutputs {
        let address = n
            .allocation_id
            .as_ref()
            .and_then(|a| cloud.addresses.find(a));
        NatGatewayOutputs {
            id: NatGatewayId::new(&n.id),
            subnet_id: n.subnet_id.as_deref().map(SubnetId::new),
            public_ip: address.map(|a| a.public_ip.to_string()),
            private_ip: n.private_ip.map(|ip| ip.to_string()),
            state: n.state.as_str().to_string(),
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let alloc = props.allocation_id.as_ref();
        let alloc = alloc
            .map(|a| resolved(urn, "allocation_id", a))
            .transpose()?;
        let alloc = alloc.map(|a| a.as_str());
        let tags = || props.tags.clone();
        if props.availability_mode == AvailabilityMode::Regional {
            let vpc = props.vpc_id.as_ref().ok_or_else(|| missing("VpcId"))?;
            let vpc = resolved(urn, "vpc_id", vpc)?.as_str();
            return sim.api("CreateNatGateway", |c, clock| {
                c.create_regional_nat_gateway(vpc, alloc, tags(), clock)
            });
        }
        let subnet = props
            .subnet_id
            .as_ref()
            .ok_or_else(|| missing("SubnetId"))?;
        let subnet = resolved(urn, "subnet_id", subnet)?.as_str();
        sim.api("CreateNatGateway", |c, clock| {
            c.create_nat_gateway(subnet, alloc, props.connectivity, tags(), clock)
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteNatGateway", |c, clock| {
            c.delete_nat_gateway(id, clock)
        })
    }

    /// Waits for `available`, polling as Terraform does.
    async fn settle(sim: &SimProvider, id: &str) -> Made<Self> {
        sim.available::<Self>(id, "NatGatewayFailed").await
    }

    async fn gone(sim: &SimProvider, id: &str) -> Done {
        sim.deleted::<Self>(id).await
    }
}
