//! The corpus's wiring mistakes (issue 11, item 6): a correct two-zone
//! stack plus one reference AWS refuses (a route, an association, a
//! subnet, an Elastic IP or a security group of the wrong VPC, or claimed
//! twice), mostly made with a second VPC, `elsewhere`. For each, the
//! analysis names the resource, the field and the AWS error code; `check`
//! and `preview` refuse the stack with no provider call; and deployed on
//! the simulator anyway, the call fails on that resource with that code.

use super::topology::{OK, Topology, build, codes_differ};
use keel::analysis::Finding;
use keel::engine::{ApplyOptions, Deployment, Outcome};
use keel::prelude::*;
use keel::provider::Provider;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::state::{LocalStore, MemoryStore};
use keel_tests::state_dir;
use std::sync::Arc;

/// One wiring mistake added to the corpus's stack.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Mistake {
    None,
    /// A spare table of the main VPC routes 0.0.0.0/0 to `elsewhere`'s
    /// internet gateway.
    IgwOfOtherVpc,
    /// A `Route` in the main VPC's main table to `elsewhere`'s NAT gateway.
    MainRouteToOtherNat,
    /// A spare table of the main VPC associates subnet `elsewhere-b`.
    TableWithOtherSubnet,
    /// A network ACL of the main VPC associates subnet `elsewhere-a`.
    AclWithOtherSubnet,
    /// An S3 gateway endpoint of the main VPC on `elsewhere`'s route table.
    GatewayEndpointOtherTable,
    /// A `logs` interface endpoint of the main VPC in subnet `elsewhere-b`.
    InterfaceEndpointOtherSubnet,
    /// The main VPC's main table made `elsewhere`'s route table.
    MainTableOfOtherVpc,
    /// A spare table of the main VPC associates `private-a` too.
    SubnetInTwoTables,
    /// NAT gateway b uses NAT gateway a's Elastic IP.
    SharedEip,
    /// The hosts' Auto Scaling group also launches into `elsewhere-b`.
    AsgSpansVpcs,
    /// The hosts' launch template names `elsewhere`'s security group.
    TemplateGroupOtherVpc,
    /// A `logs` interface endpoint of the main VPC with `elsewhere`'s group.
    EndpointGroupOtherVpc,
    /// An internal load balancer in the private subnets with `elsewhere`'s
    /// group.
    LbGroupOtherVpc,
    /// An internal load balancer in `private-a` and `elsewhere-b`.
    LbSpansVpcs,
}

/// The second VPC the mistakes borrow from: attached gateway, a subnet per
/// zone, a public route table, a security group and a NAT gateway.
pub(super) struct Elsewhere {
    igw: Handle<InternetGateway>,
    subnets: [Handle<Subnet>; 2],
    table: Handle<RouteTable>,
    sg: Handle<SecurityGroup>,
    nat: Handle<NatGateway>,
}

/// Declares `elsewhere` when `t` has a wiring mistake.
pub(super) fn elsewhere(t: &Topology, s: &mut Stack) -> Option<Elsewhere> {
    if t.wiring == Mistake::None {
        return None;
    }
    let vpc = s.add("elsewhere", Vpc::new("10.2.0.0/16"));
    let igw = s.add("elsewhere", InternetGateway::new().vpc(vpc.id()));
    let a = s.add(
        "elsewhere-a",
        Subnet::new(vpc.id(), "10.2.0.0/24", "us-east-1a"),
    );
    let b = s.add(
        "elsewhere-b",
        Subnet::new(vpc.id(), "10.2.1.0/24", "us-east-1b"),
    );
    let table = s.add(
        "elsewhere",
        RouteTable::new(vpc.id())
            .route_to_internet_gateway("0.0.0.0/0", igw.id())
            .associate(a.id()),
    );
    let sg = s.add("elsewhere", SecurityGroup::new(vpc.id(), "elsewhere"));
    let eip = s.add("elsewhere", ElasticIp::new());
    let nat = s.add("elsewhere", NatGateway::public(a.id(), eip.id()));
    Some(Elsewhere {
        igw,
        subnets: [a, b],
        table,
        sg,
        nat,
    })
}

/// The resources a mistake adds to the main VPC.
pub(super) fn add_mistake(
    t: &Topology,
    s: &mut Stack,
    vpc: &Handle<Vpc>,
    privates: &[Handle<Subnet>],
    other: Option<&Elsewhere>,
) {
    let Some(o) = other else { return };
    let logs = "com.amazonaws.us-east-1.logs";
    match t.wiring {
        Mistake::IgwOfOtherVpc => {
            s.add(
                "spare",
                RouteTable::new(vpc.id()).route_to_internet_gateway("0.0.0.0/0", o.igw.id()),
            );
        }
        Mistake::MainRouteToOtherNat => {
            s.add(
                "main-default",
                Route::new(
                    vpc.main_route_table_id(),
                    "0.0.0.0/0",
                    RouteTarget::nat_gateway(o.nat.id()),
                ),
            );
        }
        Mistake::TableWithOtherSubnet => {
            s.add(
                "spare",
                RouteTable::new(vpc.id()).associate(o.subnets[1].id()),
            );
        }
        Mistake::AclWithOtherSubnet => {
            s.add(
                "spare",
                NetworkAcl::new(vpc.id())
                    .ingress(AclRule::allow_all(100, "0.0.0.0/0"))
                    .egress(AclRule::allow_all(100, "0.0.0.0/0"))
                    .associate(o.subnets[0].id()),
            );
        }
        Mistake::GatewayEndpointOtherTable => {
            s.add(
                "s3",
                VpcEndpoint::gateway(vpc.id(), "com.amazonaws.us-east-1.s3")
                    .route_table(o.table.id()),
            );
        }
        Mistake::InterfaceEndpointOtherSubnet => {
            s.add(
                "logs",
                VpcEndpoint::interface(vpc.id(), logs)
                    .subnet(privates[0].id())
                    .subnet(o.subnets[1].id()),
            );
        }
        Mistake::MainTableOfOtherVpc => {
            s.add(
                "main-table",
                MainRouteTableAssociation::new(vpc.id(), o.table.id()),
            );
        }
        Mistake::SubnetInTwoTables => {
            s.add(
                "spare",
                RouteTable::new(vpc.id()).associate(privates[0].id()),
            );
        }
        Mistake::EndpointGroupOtherVpc => {
            let mut ep = VpcEndpoint::interface(vpc.id(), logs).security_group(o.sg.id());
            for p in privates {
                ep = ep.subnet(p.id());
            }
            s.add("logs", ep);
        }
        Mistake::LbGroupOtherVpc => {
            let mut lb = LoadBalancer::new().internal().security_group(o.sg.id());
            for p in privates {
                lb = lb.subnet(p.id());
            }
            s.add("internal", lb);
        }
        Mistake::LbSpansVpcs => {
            s.add(
                "internal",
                LoadBalancer::new()
                    .internal()
                    .subnet(privates[0].id())
                    .subnet(o.subnets[1].id()),
            );
        }
        Mistake::None
        | Mistake::SharedEip
        | Mistake::AsgSpansVpcs
        | Mistake::TemplateGroupOtherVpc => {}
    }
}

/// The hosts' security group: `elsewhere`'s with `TemplateGroupOtherVpc`.
pub(super) fn hosts_group(
    t: &Topology,
    own: Output<SecurityGroupId>,
    other: Option<&Elsewhere>,
) -> Output<SecurityGroupId> {
    match other {
        Some(o) if t.wiring == Mistake::TemplateGroupOtherVpc => o.sg.id(),
        _ => own,
    }
}

/// A subnet the hosts' group also launches into (`AsgSpansVpcs`).
pub(super) fn extra_host_subnet(
    t: &Topology,
    other: Option<&Elsewhere>,
) -> Option<Output<SubnetId>> {
    other
        .filter(|_| t.wiring == Mistake::AsgSpansVpcs)
        .map(|o| o.subnets[1].id())
}

/// Whether zone `zone`'s NAT gateway takes zone a's Elastic IP.
pub(super) fn shares_eip(t: &Topology, zone: usize) -> bool {
    t.wiring == Mistake::SharedEip && zone == 1
}

/// Each mistake: its topology (codes as the analysis reports them) and the
/// resources its finding names, the one it is on first (for a race between
/// two, either may be the one the simulator fails).
fn wiring_corpus() -> Vec<(Topology, &'static [&'static str])> {
    let t = |name, codes, wiring| Topology {
        name,
        codes,
        wiring,
        ..OK
    };
    use Mistake::*;
    vec![
        (
            t("route-to-other-vpc-igw", &["E041"], IgwOfOtherVpc),
            &["spare", "elsewhere"],
        ),
        (
            t(
                "main-table-route-to-other-vpc-nat",
                &["E041"],
                MainRouteToOtherNat,
            ),
            &["main-default", "elsewhere"],
        ),
        (
            t(
                "table-associates-other-vpc-subnet",
                &["E042"],
                TableWithOtherSubnet,
            ),
            &["spare", "elsewhere-b"],
        ),
        (
            t(
                "acl-associates-other-vpc-subnet",
                &["E042"],
                AclWithOtherSubnet,
            ),
            &["spare", "elsewhere-a"],
        ),
        (
            t(
                "gateway-endpoint-on-other-vpc-table",
                &["E042"],
                GatewayEndpointOtherTable,
            ),
            &["s3", "elsewhere"],
        ),
        (
            t(
                "endpoint-in-other-vpc-subnet",
                &["E042"],
                InterfaceEndpointOtherSubnet,
            ),
            &["logs", "elsewhere-b"],
        ),
        (
            t("main-table-of-other-vpc", &["E042"], MainTableOfOtherVpc),
            &["main-table", "elsewhere"],
        ),
        (
            t("subnet-in-two-route-tables", &["E043"], SubnetInTwoTables),
            &["spare", "private-a"],
        ),
        (
            t("two-nats-one-eip", &["E043"], SharedEip),
            &["nat-b", "nat-a"],
        ),
        (
            // The group can't be created: no instance to check either.
            t("hosts-span-two-vpcs", &["E044"], AsgSpansVpcs),
            &["hosts", "private-a", "elsewhere-b"],
        ),
        (
            // Instances that can't launch don't register: the hosts'
            // checks still pass (the template's group is elsewhere's).
            t(
                "hosts-template-group-of-other-vpc",
                &["E045"],
                TemplateGroupOtherVpc,
            ),
            &["hosts", "elsewhere"],
        ),
        (
            t(
                "endpoint-group-of-other-vpc",
                &["E045"],
                EndpointGroupOtherVpc,
            ),
            &["logs", "elsewhere"],
        ),
        (
            t(
                "load-balancer-group-of-other-vpc",
                &["E045"],
                LbGroupOtherVpc,
            ),
            &["internal", "elsewhere"],
        ),
        (
            t("load-balancer-spans-two-vpcs", &["E044"], LbSpansVpcs),
            &["internal", "private-a", "elsewhere-b"],
        ),
    ]
}

/// The AWS error code a wiring finding says the call gets.
fn named_code(f: &Finding) -> &str {
    let after = f.message.split("fails with ").nth(1).unwrap_or_default();
    after.split([' ', ',', ')']).next().unwrap_or_default()
}

#[tokio::test]
async fn wiring_mistakes_are_refused_before_any_call_and_fail_where_they_say() {
    let cases = wiring_corpus();
    assert!(cases.len() >= 14);
    let mut failures = Vec::new();
    for (t, names) in &cases {
        let stack = build(t);
        stack
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let report = keel::analysis::check(&stack);
        if let Some(why) = codes_differ(t, &report) {
            failures.push(why);
            continue;
        }
        let f = &report.findings[0];
        let code = named_code(f).to_string();
        let named = names.iter().all(|n| f.message.contains(&format!(" {n}")));
        if !names.contains(&f.urn.name()) || f.field.is_none() || code.is_empty() || !named {
            failures.push(format!(
                "{}: the finding doesn't name {names:?}, a field and an AWS code:\n{}",
                t.name,
                report.render_text()
            ));
            continue;
        }

        // `check` and `preview` refuse it without a provider call.
        assert!(keel::ops::check(&stack).unwrap().has_errors(), "{}", t.name);
        let sim = SimProvider::in_memory().with_latency(SimLatency::none());
        let store = Box::new(MemoryStore::new(stack.name()));
        let options = keel::ops::Options::default();
        let preview = keel::ops::preview(&stack, Arc::new(sim.clone()), store, &options)
            .await
            .unwrap();
        if !preview.blocked || !sim.api_calls().is_empty() {
            failures.push(format!(
                "{}: preview blocked: {}, provider calls: {:?}",
                t.name,
                preview.blocked,
                sim.api_calls()
            ));
            continue;
        }

        // Deployed anyway (`--skip-checks`), the call fails as named.
        let dir = state_dir();
        let provider: Arc<dyn Provider> = Arc::new(sim.clone());
        let store = LocalStore::open(dir.path(), stack.name()).unwrap();
        let mut d = Deployment::open(&stack, provider, Box::new(store)).unwrap();
        let plan = d.plan().unwrap();
        let report = d.apply(&plan, ApplyOptions::default()).await.unwrap();
        let failed: Vec<(String, String)> = report
            .execution
            .outcomes
            .iter()
            .filter_map(|(u, o)| match o {
                Outcome::Failed { error, .. } => {
                    Some((u.name().to_string(), error.code().to_string()))
                }
                _ => None,
            })
            .collect();
        if t.wiring == Mistake::TemplateGroupOtherVpc {
            // The group is made; RunInstances refuses every launch.
            let why = sim.scaling_failures().into_values().collect::<Vec<_>>();
            let refused = why.iter().any(|m| m.contains("does not exist in VPC"));
            if !failed.is_empty() || !sim.instances().is_empty() || !refused {
                failures.push(format!(
                    "{}: failed {failed:?}, {} instance(s), scaling failures {why:?}",
                    t.name,
                    sim.instances().len()
                ));
            }
            continue;
        }
        let agrees = failed
            .iter()
            .any(|(n, c)| names.contains(&n.as_str()) && *c == code);
        if !agrees {
            failures.push(format!(
                "{}: the analysis says {code} on one of {names:?}; the simulator failed {failed:?}",
                t.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
