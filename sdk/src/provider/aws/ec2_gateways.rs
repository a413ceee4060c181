//! Internet gateways (with their VPC attachment), Elastic IPs and NAT
//! gateways on EC2. NAT gateways are waited for until `available` on create
//! and `deleted` on delete; an Elastic IP is released only once AWS no
//! longer reports it in use.

use super::Clients;
use super::ec2_network::batched;
use super::ec2_network::sync_tags;
use super::retry::retry_on;
use super::util::{aws_error, is_not_found, outputs, parse, tag_specs, wait_for};
use crate::aws::ec2::{
    Connectivity, ElasticIp, ElasticIpOutputs, InternetGateway, InternetGatewayOutputs, NatGateway,
    NatGatewayOutputs,
};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{
    AllocationId, Arn, InternetGatewayId, NatGatewayId, Resource, SubnetId, Urn, VpcId,
};
use aws_sdk_ec2::types::{ConnectivityType, DomainType, NatGatewayState, ResourceType};
use serde_json::Value;
use std::collections::BTreeMap;

fn missing(urn: &Urn, what: &str) -> ProviderError {
    ProviderError::internal(format!("{urn}: the response has no {what}"))
}

async fn igw_outputs(
    c: &Clients,
    urn: &Urn,
    id: &str,
) -> Result<Option<(Outputs, Option<String>)>, ProviderError> {
    let described = c
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(id)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeInternetGateways"));
    let igw = match described {
        Ok(out) => match out.internet_gateways().first() {
            Some(g) => g.clone(),
            None => return Ok(None),
        },
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    igw_outputs_of(&c.region, id, &igw).map(Some)
}

fn igw_outputs_of(
    region: &str,
    id: &str,
    igw: &aws_sdk_ec2::types::InternetGateway,
) -> Result<(Outputs, Option<String>), ProviderError> {
    let vpc = igw
        .attachments()
        .first()
        .and_then(|a| a.vpc_id())
        .map(str::to_string);
    let owner = igw.owner_id().unwrap_or_default();
    let out = outputs(&InternetGatewayOutputs {
        id: InternetGatewayId::new(id),
        arn: Arn::new(format!(
            "arn:aws:ec2:{region}:{owner}:internet-gateway/{id}"
        )),
        vpc_id: vpc.clone().map(VpcId::new),
    })?;
    Ok((out, vpc))
}

/// Outputs of many internet gateways with one DescribeInternetGateways call.
pub(crate) async fn read_igws(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<Outputs>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let urn = &first.urn;
    let many = |ids: Vec<String>| async move {
        let out = c
            .ec2
            .describe_internet_gateways()
            .set_internet_gateway_ids(Some(ids))
            .send()
            .await
            .map_err(aws_error(urn, "DescribeInternetGateways"))?;
        let mut found = BTreeMap::new();
        for g in out.internet_gateways() {
            if let Some(id) = g.internet_gateway_id() {
                found.insert(id.to_string(), igw_outputs_of(&c.region, id, g)?.0);
            }
        }
        Ok(found)
    };
    batched(reqs, many, |id| async move {
        Ok(igw_outputs(c, urn, &id).await?.map(|(o, _)| o))
    })
    .await
}

/// Outputs of many Elastic IPs with one DescribeAddresses call.
pub(crate) async fn read_eips(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<Outputs>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let urn = &first.urn;
    let many = |ids: Vec<String>| async move {
        let out = c
            .ec2
            .describe_addresses()
            .set_allocation_ids(Some(ids))
            .send()
            .await
            .map_err(aws_error(urn, "DescribeAddresses"))?;
        let mut found = BTreeMap::new();
        for a in out.addresses() {
            if let Some(id) = a.allocation_id() {
                let o = outputs(&ElasticIpOutputs {
                    id: AllocationId::new(id),
                    public_ip: a.public_ip().unwrap_or_default().to_string(),
                })?;
                found.insert(id.to_string(), o);
            }
        }
        Ok(found)
    };
    batched(reqs, many, |id| async move {
        Ok(eip_outputs(c, urn, &id).await?.map(|(o, _)| o))
    })
    .await
}

/// Outputs of many NAT gateways with one DescribeNatGateways call.
pub(crate) async fn read_nats(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<Outputs>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let urn = &first.urn;
    let many = |ids: Vec<String>| async move {
        let out = c
            .ec2
            .describe_nat_gateways()
            .set_nat_gateway_ids(Some(ids))
            .send()
            .await
            .map_err(aws_error(urn, "DescribeNatGateways"))?;
        let mut found = BTreeMap::new();
        for n in out.nat_gateways() {
            let gone = matches!(
                n.state(),
                Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
            );
            if let (Some(id), false) = (n.nat_gateway_id(), gone) {
                found.insert(id.to_string(), nat_outputs_of(id, n)?);
            }
        }
        Ok(found)
    };
    batched(reqs, many, |id| async move {
        let req = ReadRequest {
            urn: urn.clone(),
            id,
            inputs: serde_json::Value::Null,
            outputs: Outputs::new(),
        };
        read_nat(c, req).await
    })
    .await
}

async fn attach(c: &Clients, urn: &Urn, id: &str, vpc: &str) -> Result<(), ProviderError> {
    c.ec2
        .attach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(aws_error(urn, "AttachInternetGateway"))?;
    Ok(())
}

async fn detach(c: &Clients, urn: &Urn, id: &str, vpc: &str) -> Result<(), ProviderError> {
    match c
        .ec2
        .detach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(aws_error(urn, "DetachInternetGateway"))
    {
        Err(e) if !is_not_found(&e) && e.code() != "Gateway.NotAttached" => Err(e),
        _ => Ok(()),
    }
}

pub(crate) async fn create_igw(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let g: InternetGateway = parse(urn, &req.inputs)?;
    let out = c
        .ec2
        .create_internet_gateway()
        .set_tag_specifications(tag_specs(ResourceType::InternetGateway, &g.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateInternetGateway"))?;
    let id = out
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .ok_or_else(|| missing(urn, "internet gateway id"))?
        .to_string();
    if let Some(vpc) = g.vpc_id.as_ref().and_then(|v| v.value()) {
        if let Err(e) = attach(c, urn, &id, vpc.as_str()).await {
            // Don't leave a gateway keel doesn't record.
            let _ = c
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(&id)
                .send()
                .await;
            return Err(e);
        }
    }
    let (outputs, _) = igw_outputs(c, urn, &id)
        .await?
        .ok_or_else(|| missing(urn, "internet gateway"))?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_igw(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    Ok(igw_outputs(c, &req.urn, &req.id).await?.map(|(o, _)| o))
}

pub(crate) async fn update_igw(c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let old: InternetGateway = parse(urn, &req.old_inputs)?;
    let new: InternetGateway = parse(urn, &req.new_inputs)?;
    let (_, current) = igw_outputs(c, urn, &req.id)
        .await?
        .ok_or_else(|| missing(urn, "internet gateway"))?;
    let wanted = new
        .vpc_id
        .as_ref()
        .and_then(|v| v.value())
        .map(|v| v.to_string());
    if current != wanted {
        if let Some(vpc) = &current {
            detach(c, urn, &req.id, vpc).await?;
        }
        if let Some(vpc) = &wanted {
            attach(c, urn, &req.id, vpc).await?;
        }
    }
    sync_tags(c, urn, &req.id, &old.tags, &new.tags).await?;
    let (outputs, _) = igw_outputs(c, urn, &req.id)
        .await?
        .ok_or_else(|| missing(urn, "internet gateway"))?;
    Ok(outputs)
}

pub(crate) async fn delete_igw(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    let urn = &req.urn;
    let Some((_, vpc)) = igw_outputs(c, urn, &req.id).await? else {
        return Ok(());
    };
    if let Some(vpc) = vpc {
        detach(c, urn, &req.id, &vpc).await?;
    }
    match c
        .ec2
        .delete_internet_gateway()
        .internet_gateway_id(&req.id)
        .send()
        .await
        .map_err(aws_error(urn, "DeleteInternetGateway"))
    {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

async fn eip_outputs(
    c: &Clients,
    urn: &Urn,
    id: &str,
) -> Result<Option<(Outputs, bool)>, ProviderError> {
    let described = c
        .ec2
        .describe_addresses()
        .allocation_ids(id)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeAddresses"));
    let a = match described {
        Ok(out) => match out.addresses().first() {
            Some(a) => a.clone(),
            None => return Ok(None),
        },
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let out = outputs(&ElasticIpOutputs {
        id: AllocationId::new(id),
        public_ip: a.public_ip().unwrap_or_default().to_string(),
    })?;
    Ok(Some((out, a.association_id().is_some())))
}

pub(crate) async fn create_eip(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let e: ElasticIp = parse(urn, &req.inputs)?;
    let out = c
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .set_tag_specifications(tag_specs(ResourceType::ElasticIp, &e.tags))
        .send()
        .await
        .map_err(aws_error(urn, "AllocateAddress"))?;
    let id = out
        .allocation_id()
        .ok_or_else(|| missing(urn, "allocation id"))?
        .to_string();
    let outputs = outputs(&ElasticIpOutputs {
        id: AllocationId::new(&id),
        public_ip: out.public_ip().unwrap_or_default().to_string(),
    })?;
    Ok(CreateResponse { id, outputs })
}

pub(crate) async fn read_eip(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    Ok(eip_outputs(c, &req.urn, &req.id).await?.map(|(o, _)| o))
}

pub(crate) async fn delete_eip(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    let urn = &req.urn;
    // After its NAT gateway is deleted, AWS takes a moment to let go of the
    // address; retry only those answers, and report AWS's own error if they
    // outlast the wait.
    let released = retry_on(
        urn,
        "the Elastic IP to be released by its NAT gateway",
        &["InvalidIPAddress.InUse", "AuthFailure"],
        c.timeouts.nat_gateway,
        c.timeouts.poll,
        || async {
            c.ec2
                .release_address()
                .allocation_id(&req.id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(urn, "ReleaseAddress"))
        },
    )
    .await;
    match released {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

fn nat_outputs_of(
    id: &str,
    nat: &aws_sdk_ec2::types::NatGateway,
) -> Result<Outputs, ProviderError> {
    let address = nat.nat_gateway_addresses().first();
    outputs(&NatGatewayOutputs {
        id: NatGatewayId::new(id),
        subnet_id: SubnetId::new(nat.subnet_id().unwrap_or_default()),
        public_ip: address.and_then(|a| a.public_ip()).map(str::to_string),
        private_ip: address
            .and_then(|a| a.private_ip())
            .unwrap_or_default()
            .to_string(),
        state: nat
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    })
}

async fn describe_nat(
    c: &Clients,
    urn: &Urn,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::NatGateway>, ProviderError> {
    match c
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .map_err(aws_error(urn, "DescribeNatGateways"))
    {
        Ok(out) => Ok(out.nat_gateways().first().cloned()),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) async fn create_nat(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let n: NatGateway = parse(urn, &req.inputs)?;
    let subnet = n
        .subnet_id
        .value()
        .map(|s| s.to_string())
        .unwrap_or_default();
    // No explicit ClientToken: EC2 keeps tokens for a day, so one derived
    // from the URN would clash with a later re-creation; the SDK fills in a
    // token that its own retries of this call reuse.
    let mut call = c
        .ec2
        .create_nat_gateway()
        .subnet_id(&subnet)
        .connectivity_type(match n.connectivity {
            Connectivity::Public => ConnectivityType::Public,
            Connectivity::Private => ConnectivityType::Private,
        })
        .set_tag_specifications(tag_specs(ResourceType::Natgateway, &n.tags));
    if let Some(a) = n.allocation_id.as_ref().and_then(|a| a.value()) {
        call = call.allocation_id(a.as_str());
    }
    let out = call
        .send()
        .await
        .map_err(aws_error(urn, "CreateNatGateway"))?;
    let id = out
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .ok_or_else(|| missing(urn, "NAT gateway id"))?
        .to_string();
    let nat = wait_for(
        urn,
        "the NAT gateway to become available",
        c.timeouts.nat_gateway,
        c.timeouts.poll,
        || async {
            let Some(nat) = describe_nat(c, urn, &id).await? else {
                return Ok(None);
            };
            match nat.state() {
                Some(NatGatewayState::Available) => Ok(Some(nat)),
                Some(NatGatewayState::Failed) => Err(ProviderError::new(
                    nat.failure_code().unwrap_or("NatGatewayFailed"),
                    format!(
                        "{urn}: NAT gateway {id} failed: {}",
                        nat.failure_message().unwrap_or("no reason given")
                    ),
                )),
                _ => Ok(None),
            }
        },
    )
    .await?;
    Ok(CreateResponse {
        outputs: nat_outputs_of(&id, &nat)?,
        id,
    })
}

pub(crate) async fn read_nat(
    c: &Clients,
    req: ReadRequest,
) -> Result<Option<Outputs>, ProviderError> {
    match describe_nat(c, &req.urn, &req.id).await? {
        Some(n)
            if !matches!(
                n.state(),
                Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
            ) =>
        {
            nat_outputs_of(&req.id, &n).map(Some)
        }
        _ => Ok(None),
    }
}

pub(crate) async fn delete_nat(c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
    let urn = &req.urn;
    match c
        .ec2
        .delete_nat_gateway()
        .nat_gateway_id(&req.id)
        .send()
        .await
        .map_err(aws_error(urn, "DeleteNatGateway"))
    {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    wait_for(
        urn,
        "the NAT gateway to be deleted",
        c.timeouts.nat_gateway,
        c.timeouts.poll,
        || async {
            Ok(match describe_nat(c, urn, &req.id).await? {
                Some(n) if n.state() != Some(&NatGatewayState::Deleted) => None,
                _ => Some(()),
            })
        },
    )
    .await
}

/// Elastic IPs and NAT gateways can only change their tags in place.
pub(crate) async fn update_tags_only(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let tags = |v: &Value| -> crate::resource::Tags {
        v.get("tags")
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or_default()
    };
    sync_tags(
        c,
        urn,
        &req.id,
        &tags(&req.old_inputs),
        &tags(&req.new_inputs),
    )
    .await?;
    let read = ReadRequest {
        urn: urn.clone(),
        id: req.id.clone(),
        inputs: req.new_inputs.clone(),
        outputs: req.old_outputs.clone(),
    };
    let outputs = if urn.type_token() == ElasticIp::TYPE {
        read_eip(c, read).await?
    } else {
        read_nat(c, read).await?
    };
    outputs.ok_or_else(|| {
        ProviderError::new(
            "InvalidID.NotFound",
            format!("{urn}: {} no longer exists", req.id),
        )
    })
}
