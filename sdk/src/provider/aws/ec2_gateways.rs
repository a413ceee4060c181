//! Internet gateways (with their VPC attachment), Elastic IPs and NAT
//! gateways on EC2. NAT gateways are waited for until `available` on create
//! and `deleted` on delete, and one `deleting`, `deleted` or `failed` (which
//! AWS deletes by itself) counts as gone, as in the simulator;
//! an Elastic IP is released only once AWS no longer reports it in use.
//! A regional NAT gateway is created with AvailabilityMode `regional` and
//! the VPC id, in no subnet (aws-sdk-ec2 1.274 has the mode; moto doesn't
//! implement it, so its request is tested as built, not sent).
//! Observed: a gateway's attachment and tags, an address's tags, a NAT
//! gateway's subnet or VPC, mode, address, connectivity and tags.

use super::resource::{
    AwsResource, Cx, Query, Res, ec2_describe, gone_is_fine, must_live, outputs_now, send,
};
use super::retry::retry_on;
use super::util::{sync_tags, tag_specs, tags_of, val, wait_for};
use crate::aws::ec2::{
    AvailabilityMode, Connectivity, ElasticIp, ElasticIpOutputs, InternetGateway,
    InternetGatewayOutputs, NatGateway, NatGatewayOutputs,
};
use crate::provider::ProviderError;
use crate::resource::{AllocationId, Arn, Input, InternetGatewayId, NatGatewayId, SubnetId, VpcId};
use async_trait::async_trait;
use aws_sdk_ec2::operation::create_nat_gateway::builders::CreateNatGatewayFluentBuilder;
use aws_sdk_ec2::types::{
    AvailabilityMode as LiveMode, ConnectivityType, DomainType, InternetGateway as LiveGateway,
    NatGateway as LiveNat, NatGatewayState, ResourceType,
};

/// The VPC a gateway is attached to.
fn attached(g: &LiveGateway) -> Option<&str> {
    g.attachments().first().and_then(|a| a.vpc_id())
}

async fn attach(cx: &Cx<'_>, id: &str, vpc: &str) -> Result<(), ProviderError> {
    let call = cx.c.ec2.attach_internet_gateway();
    let call = call.internet_gateway_id(id).vpc_id(vpc);
    send!(cx, "AttachInternetGateway", call)?;
    Ok(())
}

async fn detach(cx: &Cx<'_>, id: &str, vpc: &str) -> Result<(), ProviderError> {
    let call = cx.c.ec2.detach_internet_gateway();
    let call = call.internet_gateway_id(id).vpc_id(vpc);
    match send!(cx, "DetachInternetGateway", call) {
        Err(e) if e.code() == "Gateway.NotAttached" => Ok(()),
        r => gone_is_fine(r),
    }
}

#[async_trait]
impl AwsResource for InternetGateway {
    type Live = LiveGateway;

    async fn create(cx: &Cx<'_>, g: &Self) -> Res<Self::Outputs> {
        let call = cx.c.ec2.create_internet_gateway();
        let call = call.set_tag_specifications(tag_specs(ResourceType::InternetGateway, &g.tags));
        let out = send!(cx, "CreateInternetGateway", call)?;
        let id = cx.new_id(
            "CreateInternetGateway",
            out.internet_gateway().and_then(|g| g.internet_gateway_id()),
        )?;
        if let Some(vpc) = g.vpc_id.as_ref().and_then(|v| v.value())
            && let Err(e) = attach(cx, &id, vpc.as_str()).await
        {
            // Don't leave a gateway keel doesn't record.
            let _ =
                cx.c.ec2
                    .delete_internet_gateway()
                    .internet_gateway_id(&id)
                    .send()
                    .await;
            return Err(e);
        }
        outputs_now::<Self>(cx, &id, "after creation").await
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeInternetGateways" =>
            describe_internet_gateways(set_internet_gateway_ids, filters))?;
        Ok(out.internet_gateways().to_vec())
    }

    fn outputs(cx: &Cx<'_>, g: &Self::Live) -> Res<Self::Outputs> {
        let id = g.internet_gateway_id().unwrap_or_default();
        let (region, owner) = (&cx.c.region, g.owner_id().unwrap_or_default());
        Ok(InternetGatewayOutputs {
            id: InternetGatewayId::new(id),
            arn: Arn::new(format!(
                "arn:aws:ec2:{region}:{owner}:internet-gateway/{id}"
            )),
            vpc_id: attached(g).map(VpcId::new),
        })
    }

    fn observe(_: &Self, g: &Self::Live) -> Self {
        InternetGateway {
            vpc_id: attached(g).map(|v| Input::Value(VpcId::new(v))),
            tags: tags_of(g.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        let id = id.as_str();
        let live = must_live::<Self>(cx, id, "before the update").await?;
        let current = attached(&live);
        let wanted = new
            .vpc_id
            .as_ref()
            .and_then(|v| v.value())
            .map(|v| v.as_str());
        if current != wanted {
            if let Some(vpc) = current {
                detach(cx, id, vpc).await?;
            }
            if let Some(vpc) = wanted {
                attach(cx, id, vpc).await?;
            }
        }
        sync_tags(cx, id, &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id, "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let id = id.as_str();
        let Some(live) = super::resource::live::<Self>(cx, id).await? else {
            return Ok(());
        };
        if let Some(vpc) = attached(&live) {
            detach(cx, id, vpc).await?;
        }
        let call = cx.c.ec2.delete_internet_gateway().internet_gateway_id(id);
        gone_is_fine(send!(cx, "DeleteInternetGateway", call))
    }
}

#[async_trait]
impl AwsResource for ElasticIp {
    type Live = aws_sdk_ec2::types::Address;

    async fn create(cx: &Cx<'_>, e: &Self) -> Res<Self::Outputs> {
        let call = cx.c.ec2.allocate_address().domain(DomainType::Vpc);
        let call = call.set_tag_specifications(tag_specs(ResourceType::ElasticIp, &e.tags));
        let out = send!(cx, "AllocateAddress", call)?;
        let id = out
            .allocation_id()
            .ok_or_else(|| cx.missing("AllocateAddress", "allocation id"))?;
        Ok(ElasticIpOutputs {
            id: AllocationId::new(id),
            public_ip: out.public_ip().unwrap_or_default().to_string(),
        })
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeAddresses" =>
            describe_addresses(set_allocation_ids, filters))?;
        Ok(out.addresses().to_vec())
    }

    fn outputs(_: &Cx<'_>, a: &Self::Live) -> Res<Self::Outputs> {
        Ok(ElasticIpOutputs {
            id: AllocationId::new(a.allocation_id().unwrap_or_default()),
            public_ip: a.public_ip().unwrap_or_default().to_string(),
        })
    }

    fn observe(_: &Self, a: &Self::Live) -> Self {
        ElasticIp {
            tags: tags_of(a.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        sync_tags(cx, id.as_str(), &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id.as_str(), "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let t = cx.c.timeouts;
        // After its NAT gateway is deleted, AWS takes a moment to let go of
        // the address; retry only those answers, and report AWS's own error
        // if they outlast the wait.
        let what = "the Elastic IP to be released by its NAT gateway";
        let busy = ["InvalidIPAddress.InUse", "AuthFailure"];
        let released = retry_on(cx.urn, what, &busy, t.nat_gateway, t.poll, || async {
            let call = cx.c.ec2.release_address().allocation_id(id.as_str());
            send!(cx, "ReleaseAddress", call).map(drop)
        })
        .await;
        gone_is_fine(released)
    }
}

fn nat_gone(n: &LiveNat) -> bool {
    matches!(
        n.state(),
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
    )
}

/// A NAT gateway's state even once deleting or deleted (which
/// [`AwsResource::describe`] leaves out).
async fn nat_state(cx: &Cx<'_>, id: &str) -> Result<Option<LiveNat>, ProviderError> {
    let call = cx.c.ec2.describe_nat_gateways().nat_gateway_ids(id);
    match send!(cx, "DescribeNatGateways", call) {
        Ok(out) => Ok(out.nat_gateways().first().cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// CreateNatGateway's parameters for `n`: a zonal gateway's subnet, or a
/// regional one's mode and VPC; connectivity, Elastic IP and tags.
fn nat_request(
    call: CreateNatGatewayFluentBuilder,
    n: &NatGateway,
) -> CreateNatGatewayFluentBuilder {
    // No explicit ClientToken: EC2 keeps tokens for a day, so one derived
    // from the URN would clash with a later re-creation; the SDK fills in
    // a token that its own retries of this call reuse.
    let call = match n.availability_mode {
        AvailabilityMode::Zonal => call.set_subnet_id(n.subnet_id.as_ref().map(val)),
        AvailabilityMode::Regional => call
            .availability_mode(LiveMode::Regional)
            .set_vpc_id(n.vpc_id.as_ref().map(val)),
    };
    let connectivity = match n.connectivity {
        Connectivity::Public => ConnectivityType::Public,
        Connectivity::Private => ConnectivityType::Private,
    };
    let call = call.connectivity_type(connectivity);
    let call = call.set_tag_specifications(tag_specs(ResourceType::Natgateway, &n.tags));
    let allocation = n.allocation_id.as_ref().and_then(|a| a.value());
    call.set_allocation_id(allocation.map(|a| a.to_string()))
}

#[async_trait]
impl AwsResource for NatGateway {
    type Live = LiveNat;

    async fn create(cx: &Cx<'_>, n: &Self) -> Res<Self::Outputs> {
        let call = nat_request(cx.c.ec2.create_nat_gateway(), n);
        let out = send!(cx, "CreateNatGateway", call)?;
        let id = cx.new_id(
            "CreateNatGateway",
            out.nat_gateway().and_then(|n| n.nat_gateway_id()),
        )?;
        let t = cx.c.timeouts;
        let what = "the NAT gateway to become available";
        let nat = wait_for(cx.urn, what, t.nat_gateway, t.poll, || async {
            let Some(nat) = nat_state(cx, &id).await? else {
                return Ok(None);
            };
            match nat.state() {
                Some(NatGatewayState::Available) => Ok(Some(nat)),
                Some(NatGatewayState::Failed) => Err(ProviderError::new(
                    nat.failure_code().unwrap_or("NatGatewayFailed"),
                    format!(
                        "{}: NAT gateway {id} failed: {}",
                        cx.urn,
                        nat.failure_message().unwrap_or("no reason given")
                    ),
                )),
                _ => Ok(None),
            }
        })
        .await?;
        Self::outputs(cx, &nat)
    }

    async fn describe(cx: &Cx<'_>, query: Query<'_>) -> Res<Vec<Self::Live>> {
        let out = ec2_describe!(cx, query, "DescribeNatGateways" =>
            describe_nat_gateways(set_nat_gateway_ids, filter))?;
        // moto ignores tag filters on DescribeNatGateways: check the tag here
        // too (AWS has already applied it).
        let wanted = |n: &&LiveNat| match query {
            Query::Ids(_) => true,
            Query::Tagged => cx.owns(&tags_of(n.tags())),
        };
        let live = out.nat_gateways().iter().filter(|n| !nat_gone(n));
        Ok(live.filter(wanted).cloned().collect())
    }

    fn outputs(_: &Cx<'_>, nat: &Self::Live) -> Res<Self::Outputs> {
        let address = nat.nat_gateway_addresses().first();
        Ok(NatGatewayOutputs {
            id: NatGatewayId::new(nat.nat_gateway_id().unwrap_or_default()),
            subnet_id: nat.subnet_id().map(SubnetId::new),
            public_ip: address.and_then(|a| a.public_ip()).map(str::to_string),
            private_ip: address.and_then(|a| a.private_ip()).map(str::to_string),
            state: nat
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        })
    }

    fn observe(recorded: &Self, nat: &Self::Live) -> Self {
        let r = recorded;
        let allocation = nat
            .nat_gateway_addresses()
            .first()
            .and_then(|a| a.allocation_id());
        let availability_mode = match nat.availability_mode() {
            Some(LiveMode::Regional) => AvailabilityMode::Regional,
            Some(LiveMode::Zonal) => AvailabilityMode::Zonal,
            _ => r.availability_mode,
        };
        let regional = availability_mode == AvailabilityMode::Regional;
        NatGateway {
            subnet_id: match nat.subnet_id() {
                Some(s) if !regional => Some(Input::Value(SubnetId::new(s))),
                _ => r.subnet_id.clone(),
            },
            vpc_id: match nat.vpc_id() {
                Some(v) if regional => Some(Input::Value(VpcId::new(v))),
                _ => r.vpc_id.clone(),
            },
            availability_mode,
            allocation_id: match allocation {
                Some(a) => Some(Input::Value(AllocationId::new(a))),
                None => r.allocation_id.clone(),
            },
            connectivity: match nat.connectivity_type() {
                Some(ConnectivityType::Private) => Connectivity::Private,
                Some(ConnectivityType::Public) => Connectivity::Public,
                _ => r.connectivity,
            },
            tags: tags_of(nat.tags()),
        }
    }

    async fn update(cx: &Cx<'_>, id: &Self::Id, old: &Self, new: &Self) -> Res<Self::Outputs> {
        sync_tags(cx, id.as_str(), &old.tags, &new.tags).await?;
        outputs_now::<Self>(cx, id.as_str(), "during the update").await
    }

    async fn delete(cx: &Cx<'_>, id: &Self::Id) -> Res<()> {
        let call = cx.c.ec2.delete_nat_gateway().nat_gateway_id(id.as_str());
        // One not found may still be deleting (a delete cut short): the
        // wait below finds out.
        gone_is_fine(send!(cx, "DeleteNatGateway", call))?;
        let t = cx.c.timeouts;
        let what = "the NAT gateway to be deleted";
        wait_for(cx.urn, what, t.nat_gateway, t.poll, || async {
            Ok(match nat_state(cx, id.as_str()).await? {
                Some(n) if n.state() != Some(&NatGatewayState::Deleted) => None,
                _ => Some(()),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::config::{BehaviorVersion, Region};

    fn client() -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    #[test]
    fn a_regional_nat_gateway_is_requested_with_its_mode_and_vpc_and_no_subnet() {
        let nat = NatGateway::regional(VpcId::new("vpc-1"));
        let call = nat_request(client().create_nat_gateway(), &nat);
        assert_eq!(call.get_availability_mode(), &Some(LiveMode::Regional));
        assert_eq!(call.get_vpc_id().as_deref(), Some("vpc-1"));
        assert_eq!(call.get_subnet_id(), &None);
        assert_eq!(call.get_allocation_id(), &None);
        assert_eq!(
            call.get_connectivity_type(),
            &Some(ConnectivityType::Public)
        );

        let given = nat.allocation_id(AllocationId::new("eipalloc-1"));
        let call = nat_request(client().create_nat_gateway(), &given);
        assert_eq!(call.get_allocation_id().as_deref(), Some("eipalloc-1"));
    }

    #[test]
    fn a_zonal_nat_gateway_is_requested_in_its_subnet_without_a_mode() {
        let nat = NatGateway::public(SubnetId::new("subnet-1"), AllocationId::new("eipalloc-1"));
        let call = nat_request(client().create_nat_gateway(), &nat);
        assert_eq!(call.get_availability_mode(), &None);
        assert_eq!(call.get_vpc_id(), &None);
        assert_eq!(call.get_subnet_id().as_deref(), Some("subnet-1"));
        assert_eq!(call.get_allocation_id().as_deref(), Some("eipalloc-1"));
    }

    #[test]
    fn a_regional_nat_gateway_observes_as_declared() {
        let nat = NatGateway::regional(VpcId::new("vpc-1"));
        let live = LiveNat::builder()
            .nat_gateway_id("nat-1")
            .vpc_id("vpc-1")
            .availability_mode(LiveMode::Regional)
            .connectivity_type(ConnectivityType::Public)
            .state(NatGatewayState::Available)
            .build();
        let seen = NatGateway::observe(&nat, &live);
        assert_eq!(
            serde_json::to_value(&seen).unwrap_or_default(),
            serde_json::to_value(&nat).unwrap_or_default()
        );
    }
}
