//! The one place the AWS provider meets JSON: dispatch of
//! [`Provider`](crate::provider::Provider) calls to each resource type's
//! typed [`AwsResource`] impl, through a table built from the registry's list
//! (a registered type without an impl doesn't compile). Inputs are parsed
//! into the resource type and outputs serialized here, once for every type;
//! an observed configuration is answered as the recorded inputs with only
//! the fields that differ replaced, so a read with no drift hands back the
//! recorded JSON unchanged.

use super::Clients;
use super::resource::{AwsResource, Cx, Observed, Recorded};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Found, Outputs, ProviderError, ReadRequest,
    ReadResponse, UpdateRequest,
};
use crate::resource::{CloudId, Resource, ResourceOutputs, Urn, contains_unknown};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use std::marker::PhantomData;

/// The results of reading several resources.
pub(crate) type ReadResults = Vec<Result<Option<ReadResponse>, ProviderError>>;

/// One type's [`AwsResource`] impl with the type erased.
#[async_trait]
pub(crate) trait AwsOps: Send + Sync {
    async fn create(
        &self,
        c: &Clients,
        req: CreateRequest,
    ) -> Result<CreateResponse, ProviderError>;
    async fn read_many(&self, c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults;
    async fn update(&self, c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError>;
    async fn delete(&self, c: &Clients, req: DeleteRequest) -> Result<(), ProviderError>;
    async fn find(&self, c: &Clients, urn: &Urn) -> Result<Vec<Found>, ProviderError>;
}

struct Ops<R>(PhantomData<fn() -> R>);

/// The resolved inputs as the resource type.
fn parse<R: Resource>(urn: &Urn, inputs: &Value) -> Result<R, ProviderError> {
    if contains_unknown(inputs) {
        return Err(ProviderError::bad_inputs(
            urn,
            "some inputs are still unknown",
        ));
    }
    serde_json::from_value(inputs.clone()).map_err(|e| ProviderError::bad_inputs(urn, e))
}

/// A typed value as JSON.
fn json<T: Serialize>(value: &T) -> Result<Value, ProviderError> {
    serde_json::to_value(value).map_err(|e| ProviderError::internal(e.to_string()))
}

/// An outputs struct as the outputs map.
fn outputs<T: Serialize>(value: &T) -> Result<Outputs, ProviderError> {
    match json(value)? {
        Value::Object(map) => Ok(map),
        other => Err(ProviderError::internal(format!(
            "outputs serialized as {other}, not an object"
        ))),
    }
}

/// The answer to a read: the recorded inputs with each field the
/// observation changed replaced.
fn answer<R: Resource>(
    recorded_json: &Value,
    recorded: &R,
    now: Observed<R>,
) -> Result<ReadResponse, ProviderError> {
    let (was, is) = (json(recorded)?, json(&now.props)?);
    let mut inputs = recorded_json.clone();
    if let (Some(obj), Value::Object(was), Value::Object(is)) = (inputs.as_object_mut(), was, is) {
        // A field the observation no longer has (an optional one AWS
        // reports as absent, e.g. a detached gateway's VPC) is drift too.
        for k in was.keys().filter(|k| !is.contains_key(*k)) {
            obj.remove(k);
        }
        for (k, v) in is {
            if was.get(&k) != Some(&v) {
                obj.insert(k, v);
            }
        }
    }
    Ok(ReadResponse {
        inputs,
        outputs: outputs(&now.outputs)?,
    })
}

#[async_trait]
impl<R: AwsResource> AwsOps for Ops<R> {
    async fn create(
        &self,
        c: &Clients,
        req: CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        let cx = Cx { c, urn: &req.urn };
        let made = R::create(&cx, &parse(&req.urn, &req.inputs)?).await?;
        Ok(CreateResponse {
            id: made.id().as_str().to_string(),
            outputs: outputs(&made)?,
        })
    }

    async fn read_many(&self, c: &Clients, reqs: Vec<ReadRequest>) -> ReadResults {
        let mut out: ReadResults = Vec::with_capacity(reqs.len());
        let mut items = Vec::new();
        let mut slots = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            match parse::<R>(&r.urn, &r.inputs) {
                Ok(props) => {
                    items.push(Recorded {
                        urn: r.urn.clone(),
                        id: R::Id::from_cloud(r.id.clone()),
                        props,
                    });
                    slots.push(i);
                    out.push(Ok(None));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        let read = if items.len() == 1 {
            let (i, cx) = (
                &items[0],
                Cx {
                    c,
                    urn: &items[0].urn,
                },
            );
            vec![R::read(&cx, &i.id, &i.props).await]
        } else {
            R::read_many(c, &items).await
        };
        for ((slot, item), result) in slots.into_iter().zip(&items).zip(read) {
            out[slot] = result.and_then(|now| {
                now.map(|now| answer(&reqs[slot].inputs, &item.props, now))
                    .transpose()
            });
        }
        out
    }

    async fn update(&self, c: &Clients, req: UpdateRequest) -> Result<Outputs, ProviderError> {
        let cx = Cx { c, urn: &req.urn };
        let old = parse::<R>(&req.urn, &req.old_inputs)?;
        let new = parse::<R>(&req.urn, &req.new_inputs)?;
        outputs(&R::update(&cx, &R::Id::from_cloud(req.id), &old, &new).await?)
    }

    async fn delete(&self, c: &Clients, req: DeleteRequest) -> Result<(), ProviderError> {
        let cx = Cx { c, urn: &req.urn };
        R::delete(&cx, &R::Id::from_cloud(req.id)).await
    }

    async fn find(&self, c: &Clients, urn: &Urn) -> Result<Vec<Found>, ProviderError> {
        let found = R::find_by_tags(&Cx { c, urn }).await?;
        found
            .iter()
            .map(|o| {
                Ok(Found {
                    id: o.id().as_str().to_string(),
                    outputs: outputs(o)?,
                })
            })
            .collect()
    }
}

/// The implementation for the type named by `urn`.
pub(crate) fn ops(urn: &Urn) -> Result<&'static dyn AwsOps, ProviderError> {
    macro_rules! table {
        ($($R:ty => $collection:ident),* $(,)?) => {
            &[$((<$R as Resource>::TYPE, &Ops::<$R>(PhantomData) as &dyn AwsOps)),*]
        };
    }
    let table: &[(&str, &'static dyn AwsOps)] = crate::registry::resource_types!(table);
    let token = urn.type_token();
    crate::registry::find(table, token).ok_or_else(|| {
        ProviderError::unsupported(format!("the aws provider does not manage {token} yet"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::{Vpc, VpcOutputs};
    use crate::resource::{Arn, RouteTableId, SecurityGroupId, VpcId};

    fn outputs() -> VpcOutputs {
        VpcOutputs {
            id: VpcId::new("vpc-1"),
            arn: Arn::new("arn:aws:ec2:us-east-1:1:vpc/vpc-1"),
            cidr_block: "10.0.0.0/16".into(),
            main_route_table_id: RouteTableId::new("rtb-1"),
            default_security_group_id: SecurityGroupId::new("sg-1"),
        }
    }

    #[test]
    fn a_read_answers_the_recorded_inputs_with_only_what_changed_replaced() {
        // Recorded by another version: no `enable_dns_support`, an extra key.
        let recorded = serde_json::json!({"cidr_block": "10.0.0.0/16", "tags": {}, "old": 1});
        let props: Vpc = parse(&Urn::new("s", "aws:ec2:Vpc", "v"), &recorded).unwrap();
        let same = Observed {
            props: props.clone(),
            outputs: outputs(),
        };
        let read = answer(&recorded, &props, same).unwrap();
        assert_eq!(read.inputs, recorded);
        assert_eq!(read.outputs["id"], "vpc-1");
        let mut drifted = props.clone();
        drifted.enable_dns_hostnames = true;
        let now = Observed {
            props: drifted,
            outputs: outputs(),
        };
        let read = answer(&recorded, &props, now).unwrap();
        let want = serde_json::json!({"cidr_block": "10.0.0.0/16", "tags": {}, "old": 1, "enable_dns_hostnames": true});
        assert_eq!(read.inputs, want);
    }
}
