//! The hops of [`super::reach`] past a route to something other than an
//! internet or NAT gateway: a gateway endpoint (the service's prefix-list
//! route: traffic reaches the service inside AWS's network, the subnet's
//! network ACL still applies both ways) and the targets that live outside
//! the stack (transit gateway, peering connection, virtual private gateway),
//! where keel stops following and says so with [`Code::Unknown`] naming the
//! target, rather than guess where the traffic goes.

use super::network::{Model, RouteTableFacts, Target};
use super::reach::{Blocked, Code, Source, blocked, check_https_out};
use ipnet::Ipv4Net;

/// Traffic from `src` for `service` at `dest` that `table` sends (its route
/// for `net`) to gateway endpoint `endpoint`.
pub(super) fn via_gateway_endpoint(
    model: &Model,
    src: &Source<'_>,
    (table, net, endpoint): (&RouteTableFacts, Ipv4Net, &str),
    service: &str,
    dest: Ipv4Net,
    mut hops: Vec<String>,
) -> Result<Vec<String>, Blocked> {
    let Some(ep) = model.gateway_endpoints.get(endpoint) else {
        let reason = format!("gateway endpoint {endpoint} is not known");
        return Err(blocked(Code::Unknown, endpoint, reason, &hops));
    };
    hops.push(format!(
        "route table {}: {net} (prefix list of {}) → gateway endpoint {}",
        table.label, ep.service, ep.label
    ));
    check_https_out(model, src.subnet, dest, &hops)?;
    hops.push(format!("gateway endpoint {} → {service} API", ep.label));
    Ok(hops)
}

/// Traffic that `table` (key `table_key`) sends to a target outside the
/// stack: where it goes next is not known.
pub(super) fn leaves_stack(
    model: &Model,
    (table_key, table): (&str, &RouteTableFacts),
    net: Ipv4Net,
    target: &Target,
    what: &str,
    hops: &[String],
) -> Blocked {
    let (kind, element) = match target.outside() {
        Some((kind, key)) => (kind, key.as_str()),
        None => ("target", table_key),
    };
    let reason = format!(
        "route table {}: {net} → {kind} {}, outside the stack: keel can't see whether traffic to {what} gets further",
        table.label,
        model.label(element)
    );
    blocked(Code::Unknown, element, reason, hops)
}
