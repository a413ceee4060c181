//! Route tables on EC2: the table, its routes (local is implicit) and its
//! subnet associations. Updates compare against what AWS reports, so a
//! route changed out of band is put back.

use super::Clients;
use super::ec2_network::sync_tags;
use super::util::{aws_error, is_not_found, outputs, parse, tag_specs};
use crate::aws::ec2::{RouteTable, RouteTableOutputs, RouteTarget};
use crate::provider::{
    CreateRequest, CreateResponse, DeleteRequest, Outputs, ProviderError, ReadRequest,
    UpdateRequest,
};
use crate::resource::{RouteTableId, Urn, VpcId};
use aws_sdk_ec2::types::ResourceType;
use std::collections::BTreeMap;

/// Where a route goes, as keel and AWS both can name it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Via {
    Gateway(String),
    Nat(String),
}

fn wanted_routes(rt: &RouteTable) -> BTreeMap<String, Via> {
    rt.routes
        .iter()
        .filter_map(|r| {
            let via = match &r.target {
                RouteTarget::Local => return None,
                RouteTarget::InternetGateway(g) => Via::Gateway(g.value()?.to_string()),
                RouteTarget::NatGateway(n) => Via::Nat(n.value()?.to_string()),
            };
            Some((r.destination_cidr_block.clone(), via))
        })
        .collect()
}

fn wanted_subnets(rt: &RouteTable) -> Vec<String> {
    rt.subnet_ids
        .iter()
        .filter_map(|s| s.value().map(|v| v.to_string()))
        .collect()
}

struct Current {
    vpc: String,
    routes: BTreeMap<String, Via>,
    /// subnet id → association id
    associations: BTreeMap<String, String>,
}

fn current_of(t: &aws_sdk_ec2::types::RouteTable) -> Current {
    let mut routes = BTreeMap::new();
    for r in t.routes() {
        let Some(dest) = r.destination_cidr_block() else {
            continue;
        };
        let via = match (r.gateway_id(), r.nat_gateway_id()) {
            (Some(g), _) if g.starts_with("igw-") => Via::Gateway(g.to_string()),
            (_, Some(n)) => Via::Nat(n.to_string()),
            _ => continue, // the local route, or a target keel doesn't manage
        };
        routes.insert(dest.to_string(), via);
    }
    let associations = t
        .associations()
        .iter()
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| {
            Some((
                a.subnet_id()?.to_string(),
                a.route_table_association_id()?.to_string(),
            ))
        })
        .collect();
    Current {
        vpc: t.vpc_id().unwrap_or_default().to_string(),
        routes,
        associations,
    }
}

/// Describes several tables in one call. `Err` with a not-found code means
/// at least one is gone (AWS fails the whole call).
async fn describe_many(
    c: &Clients,
    urn: &Urn,
    ids: &[String],
) -> Result<BTreeMap<String, Current>, ProviderError> {
    let out = c
        .ec2
        .describe_route_tables()
        .set_route_table_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(aws_error(urn, "DescribeRouteTables"))?;
    Ok(out
        .route_tables()
        .iter()
        .filter_map(|t| Some((t.route_table_id()?.to_string(), current_of(t))))
        .collect())
}

async fn describe(c: &Clients, urn: &Urn, id: &str) -> Result<Option<Current>, ProviderError> {
    match describe_many(c, urn, &[id.to_string()]).await {
        Ok(mut found) => Ok(found.remove(id)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn outputs_of(id: &str, cur: &Current, order: &[String]) -> Result<Outputs, ProviderError> {
    outputs(&RouteTableOutputs {
        id: RouteTableId::new(id),
        vpc_id: VpcId::new(&cur.vpc),
        association_ids: order
            .iter()
            .filter_map(|s| cur.associations.get(s).cloned())
            .collect(),
    })
}

async fn put_route(
    c: &Clients,
    urn: &Urn,
    id: &str,
    dest: &str,
    via: &Via,
    replace: bool,
) -> Result<(), ProviderError> {
    if replace {
        let call = c
            .ec2
            .replace_route()
            .route_table_id(id)
            .destination_cidr_block(dest);
        let call = match via {
            Via::Gateway(g) => call.gateway_id(g),
            Via::Nat(n) => call.nat_gateway_id(n),
        };
        call.send().await.map_err(aws_error(urn, "ReplaceRoute"))?;
    } else {
        let call = c
            .ec2
            .create_route()
            .route_table_id(id)
            .destination_cidr_block(dest);
        let call = match via {
            Via::Gateway(g) => call.gateway_id(g),
            Via::Nat(n) => call.nat_gateway_id(n),
        };
        call.send().await.map_err(aws_error(urn, "CreateRoute"))?;
    }
    Ok(())
}

/// Makes the table's routes and associations match `rt`.
async fn converge(
    c: &Clients,
    urn: &Urn,
    id: &str,
    rt: &RouteTable,
) -> Result<Current, ProviderError> {
    let cur = describe(c, urn, id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidRouteTableID.NotFound",
            format!("{urn}: {id} no longer exists"),
        )
    })?;
    let want = wanted_routes(rt);
    for dest in cur.routes.keys().filter(|d| !want.contains_key(*d)) {
        c.ec2
            .delete_route()
            .route_table_id(id)
            .destination_cidr_block(dest)
            .send()
            .await
            .map_err(aws_error(urn, "DeleteRoute"))?;
    }
    for (dest, via) in &want {
        match cur.routes.get(dest) {
            Some(v) if v == via => {}
            Some(_) => put_route(c, urn, id, dest, via, true).await?,
            None => put_route(c, urn, id, dest, via, false).await?,
        }
    }
    let subnets = wanted_subnets(rt);
    for (subnet, assoc) in &cur.associations {
        if !subnets.contains(subnet) {
            c.ec2
                .disassociate_route_table()
                .association_id(assoc)
                .send()
                .await
                .map_err(aws_error(urn, "DisassociateRouteTable"))?;
        }
    }
    for subnet in subnets
        .iter()
        .filter(|s| !cur.associations.contains_key(*s))
    {
        c.ec2
            .associate_route_table()
            .route_table_id(id)
            .subnet_id(subnet)
            .send()
            .await
            .map_err(aws_error(urn, "AssociateRouteTable"))?;
    }
    describe(c, urn, id).await?.ok_or_else(|| {
        ProviderError::new(
            "InvalidRouteTableID.NotFound",
            format!("{urn}: {id} no longer exists"),
        )
    })
}

pub(crate) async fn create_route_table(
    c: &Clients,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let urn = &req.urn;
    let rt: RouteTable = parse(urn, &req.inputs)?;
    let vpc = rt.vpc_id.value().map(|v| v.to_string()).unwrap_or_default();
    let out = c
        .ec2
        .create_route_table()
        .vpc_id(&vpc)
        .set_tag_specifications(tag_specs(ResourceType::RouteTable, &rt.tags))
        .send()
        .await
        .map_err(aws_error(urn, "CreateRouteTable"))?;
    let id = out
        .route_table()
        .and_then(|t| t.route_table_id())
        .ok_or_else(|| ProviderError::internal(format!("{urn}: CreateRouteTable returned no id")))?
        .to_string();
    match converge(c, urn, &id, &rt).await {
        Ok(cur) => Ok(CreateResponse {
            outputs: outputs_of(&id, &cur, &wanted_subnets(&rt))?,
            id,
        }),
        Err(e) => {
            // Don't leave a half-made table keel doesn't record.
            let _ = delete(c, urn, &id).await;
            Err(e)
        }
    }
}

pub(crate) async fn update_route_table(
    c: &Clients,
    req: UpdateRequest,
) -> Result<Outputs, ProviderError> {
    let urn = &req.urn;
    let old: RouteTable = parse(urn, &req.old_inputs)?;
    let new: RouteTable = parse(urn, &req.new_inputs)?;
    let cur = converge(c, urn, &req.id, &new).await?;
    sync_tags(c, urn, &req.id, &old.tags, &new.tags).await?;
    outputs_of(&req.id, &cur, &wanted_subnets(&new))
}

async fn delete(c: &Clients, urn: &Urn, id: &str) -> Result<(), ProviderError> {
    let Some(cur) = describe(c, urn, id).await? else {
        return Ok(());
    };
    for assoc in cur.associations.values() {
        match c
            .ec2
            .disassociate_route_table()
            .association_id(assoc)
            .send()
            .await
            .map_err(aws_error(urn, "DisassociateRouteTable"))
        {
            Err(e) if !is_not_found(&e) => return Err(e),
            _ => {}
        }
    }
    match c
        .ec2
        .delete_route_table()
        .route_table_id(id)
        .send()
        .await
        .map_err(aws_error(urn, "DeleteRouteTable"))
    {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

pub(crate) async fn delete_route_table(
    c: &Clients,
    req: DeleteRequest,
) -> Result<(), ProviderError> {
    delete(c, &req.urn, &req.id).await
}

/// The table as AWS has it now, in the shape of its inputs: the recorded
/// inputs with `routes` and `subnet_ids` replaced by what AWS reports
/// (recorded order kept for what is still there), so a route deleted out of
/// band shows up as drift and the next `up` puts it back.
pub(crate) async fn read_route_table_inputs(
    c: &Clients,
    req: &ReadRequest,
) -> Result<Option<(Outputs, serde_json::Value)>, ProviderError> {
    match describe(c, &req.urn, &req.id).await? {
        Some(cur) => observed(req, &cur).map(Some),
        None => Ok(None),
    }
}

/// [`read_route_table_inputs`] for many tables with one Describe call (one
/// per table only if some are gone, since AWS then fails the whole call).
pub(crate) async fn read_route_tables(
    c: &Clients,
    reqs: &[ReadRequest],
) -> Vec<Result<Option<(Outputs, serde_json::Value)>, ProviderError>> {
    let Some(first) = reqs.first() else {
        return Vec::new();
    };
    let ids: Vec<String> = reqs.iter().map(|r| r.id.clone()).collect();
    match describe_many(c, &first.urn, &ids).await {
        Ok(found) => reqs
            .iter()
            .map(|r| match found.get(&r.id) {
                Some(cur) => observed(r, cur).map(Some),
                None => Ok(None),
            })
            .collect(),
        Err(e) if is_not_found(&e) => {
            let mut out = Vec::new();
            for r in reqs {
                out.push(read_route_table_inputs(c, r).await);
            }
            out
        }
        Err(e) => reqs.iter().map(|_| Err(e.clone())).collect(),
    }
}

/// The table's inputs as observed: the recorded inputs with `routes` and
/// `subnet_ids` replaced by what AWS reports (recorded order kept for what
/// is still there), so a route deleted out of band shows up as drift and
/// the next `up` puts it back.
fn observed(
    req: &ReadRequest,
    cur: &Current,
) -> Result<(Outputs, serde_json::Value), ProviderError> {
    let recorded: RouteTable = parse(&req.urn, &req.inputs)?;
    let via_json = |via: &Via| match via {
        Via::Gateway(g) => serde_json::json!({ "internet_gateway": g }),
        Via::Nat(n) => serde_json::json!({ "nat_gateway": n }),
    };
    let mut routes = Vec::new();
    let mut seen = Vec::new();
    for r in &recorded.routes {
        if matches!(r.target, RouteTarget::Local) {
            routes.push(serde_json::to_value(r).unwrap_or_default());
            continue;
        }
        if let Some(via) = cur.routes.get(&r.destination_cidr_block) {
            routes.push(serde_json::json!({ "destination_cidr_block": r.destination_cidr_block, "target": via_json(via) }));
            seen.push(r.destination_cidr_block.clone());
        }
    }
    for (dest, via) in cur.routes.iter().filter(|(d, _)| !seen.contains(d)) {
        routes.push(serde_json::json!({ "destination_cidr_block": dest, "target": via_json(via) }));
    }
    let mut subnets: Vec<String> = wanted_subnets(&recorded)
        .into_iter()
        .filter(|s| cur.associations.contains_key(s))
        .collect();
    for s in cur.associations.keys() {
        if !subnets.contains(s) {
            subnets.push(s.clone());
        }
    }
    let mut inputs = req.inputs.clone();
    if let Some(obj) = inputs.as_object_mut() {
        obj.insert("routes".into(), serde_json::Value::Array(routes));
        obj.insert("subnet_ids".into(), serde_json::json!(subnets));
    }
    Ok((outputs_of(&req.id, cur, &subnets)?, inputs))
}
