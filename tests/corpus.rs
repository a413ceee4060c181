//! The analysis and the simulator must agree. Each topology below is a
//! two-zone ECS stack with one thing (or a few) changed; for each, the
//! pre-deploy analysis must report exactly the expected finding codes, and
//! deployed on the simulator anyway (as with `--skip-checks`) every instance
//! must register with a connected agent if and only if the analysis found
//! nothing wrong for its subnet (and where the analysis can't read the user
//! data, W106, the simulator must say it can't either).

#[path = "corpus/topology.rs"]
mod topology;
#[path = "corpus/wiring.rs"]
mod wiring;

use keel::engine::{ApplyOptions, Deployment};
use keel::provider::Provider;
use keel::provider::sim::{OutsideKind, SimLatency, SimProvider};
use keel::state::LocalStore;
use keel_tests::state_dir;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use topology::*;

fn corpus() -> Vec<Topology> {
    let t = |name, codes, f: &dyn Fn(&mut Topology)| {
        let mut x = Topology { name, codes, ..OK };
        f(&mut x);
        x
    };
    vec![
        t("ok-nat-per-zone", &[], &|_| {}),
        t("ok-split-default-route", &[], &|x| x.split_default = true),
        t("ok-https-only-egress", &[], &|x| x.egress = Egress::Https),
        t("ok-public-subnets-with-public-ip", &[], &|x| {
            x.hosts_public = true;
            x.no_nat = true;
        }),
        t("ok-public-ip-from-template", &[], &|x| {
            x.hosts_public = true;
            x.no_nat = true;
            x.map_public_ip = false;
            x.public_ip = Some(true);
        }),
        t("ok-correct-nacls", &[], &|x| x.acl = Acl::Correct),
        t("ok-interface-endpoints-no-nat", &[], &|x| {
            x.no_nat = true;
            x.endpoints = Endpoints::All(true);
        }),
        t("warn-single-nat", &["W101", "W102"], &|x| {
            x.single_nat = true
        }),
        // Registered but disconnected: an error since issue 11 (was W103).
        t(
            "ecs-endpoint-only-agent-disconnected",
            &["E036", "E036"],
            &|x| {
                x.no_nat = true;
                x.endpoints = Endpoints::EcsOnly;
            },
        ),
        t("no-nat-route", &["E001", "E001"], &|x| {
            x.nat_route = [false, false]
        }),
        t("no-nat-route-in-zone-b", &["E001"], &|x| {
            x.nat_route = [true, false]
        }),
        t("no-nat-at-all", &["E001", "E001"], &|x| x.no_nat = true),
        t("nat-private-connectivity", &["E004", "E004"], &|x| {
            x.nat_private = true
        }),
        t("nat-in-private-subnet", &["E006", "E006"], &|x| {
            x.nat_in_private_subnet = true
        }),
        t("public-subnet-without-igw-route", &["E006", "E006"], &|x| {
            x.public_igw_route = false
        }),
        t("public-hosts-without-public-ip", &["E003", "E003"], &|x| {
            x.hosts_public = true;
            x.no_nat = true;
            x.map_public_ip = false;
        }),
        t("template-turns-public-ip-off", &["E003", "E003"], &|x| {
            x.hosts_public = true;
            x.no_nat = true;
            x.public_ip = Some(false);
        }),
        t("igw-detached-public-hosts", &["E001", "E001"], &|x| {
            // the route to a detached gateway can't be created: no route at all
            x.hosts_public = true;
            x.no_nat = true;
            x.igw_attached = false;
            x.public_igw_route = false;
        }),
        // The public table's route to the detached gateway: E041 since
        // issue 11's wiring checks (CreateRoute refuses it).
        t("route-to-detached-igw", &["E002", "E002", "E041"], &|x| {
            x.hosts_public = true;
            x.no_nat = true;
            x.igw_attached = false;
        }),
        // Each private table's route to the other VPC's NAT: E041 too.
        t(
            "nat-of-another-vpc",
            &["E007", "E007", "E041", "E041"],
            &|x| {
                x.no_nat = true;
                x.nat_other_vpc = true;
            },
        ),
        t("no-egress", &["E009", "E009"], &|x| {
            x.egress = Egress::Nothing
        }),
        t("http-only-egress", &["E009", "E009"], &|x| {
            x.egress = Egress::HttpOnly
        }),
        t("https-egress-to-vpc-only", &["E009", "E009"], &|x| {
            x.egress = Egress::HttpsToVpc
        }),
        t("nacl-denies-https-out", &["E010", "E010"], &|x| {
            x.acl = Acl::DenyHttpsOut
        }),
        t("nacl-blocks-replies", &["E011", "E011"], &|x| {
            x.acl = Acl::NoReturn
        }),
        t("nat-subnet-nacl-denies-vpc", &["E010", "E010"], &|x| {
            x.acl = Acl::NatSubnetDeniesVpc
        }),
        t("endpoint-sg-closed", &["E012", "E012"], &|x| {
            x.no_nat = true;
            x.endpoints = Endpoints::All(false);
        }),
        t("no-instance-profile", &["E014"], &|x| x.profile = false),
        t("registers-with-default", &["E035"], &|x| {
            x.cluster = Cluster::Default
        }),
        t("registers-with-another-cluster", &["E015"], &|x| {
            x.cluster = Cluster::Other
        }),
        t("dns-support-off", &["E013", "E013"], &|x| {
            x.dns_support = false
        }),
        t("no-route-and-no-egress", &["E009", "E009"], &|x| {
            x.nat_route = [false, false];
            x.egress = Egress::Nothing;
        }),
        t("single-nat-missing-route-b", &["E001"], &|x| {
            x.single_nat = true;
            x.nat_route = [true, false];
        }),
        t("no-profile-and-no-route", &["E001", "E001", "E014"], &|x| {
            x.profile = false;
            x.nat_route = [false, false];
        }),
        // Egress as declared: a declared rule replaces AWS's default.
        t("ok-https-declared-without-revoke", &[], &|x| {
            x.declared_egress_port = Some(443)
        }),
        t("egress-only-8443", &["E009", "E009"], &|x| {
            x.declared_egress_port = Some(8443)
        }),
        // Regional NAT gateways: the VPC's attached internet gateway is
        // their way out; no public subnet or route of their own.
        t("ok-regional-nat", &[], &|x| {
            x.no_nat = true;
            x.regional_nat = true;
        }),
        t("ok-regional-nat-without-public-route", &[], &|x| {
            x.no_nat = true;
            x.regional_nat = true;
            x.public_igw_route = false;
        }),
        t(
            "regional-nat-without-attached-igw",
            // E041: the public table's route to the detached gateway.
            &["E040", "E040", "E041"],
            &|x| {
                x.no_nat = true;
                x.regional_nat = true;
                x.igw_attached = false;
            },
        ),
        t("ok-network-component-regional-nat", &[], &|x| {
            x.regional_network = true
        }),
        // Routing: the VPC's main table, routed by a standalone Route.
        t("ok-main-table-routes-to-nat", &["W101", "W102"], &|x| {
            x.main_table = true;
            x.single_nat = true;
        }),
        t("main-table-without-route", &["E001", "E001"], &|x| {
            x.main_table = true;
            x.nat_route = [false, false];
        }),
        // Which cluster the agent joins: each form of user data.
        t("ok-heredoc-user-data", &[], &|x| {
            x.user_data = UserData::Heredoc
        }),
        t("ok-cloud-init-write-files", &[], &|x| {
            x.user_data = UserData::CloudInit
        }),
        t("ok-mime-multipart-user-data", &[], &|x| {
            x.user_data = UserData::Mime
        }),
        t("ok-bottlerocket-settings", &[], &|x| {
            x.user_data = UserData::Bottlerocket
        }),
        t("no-user-data-joins-default", &["E035"], &|x| {
            x.user_data = UserData::None
        }),
        t("user-data-without-shebang", &["E035"], &|x| {
            x.user_data = UserData::Text
        }),
        t("unreadable-user-data", &["W106"], &|x| {
            x.user_data = UserData::Unreadable
        }),
        // Disconnected agents: registered, never given a task.
        // Without ecs-telemetry the agent stays connected: only metrics
        // are lost (a warning; the instances register and run tasks).
        t(
            "no-telemetry-endpoint-metrics-only",
            &["W107", "W107"],
            &|x| {
                x.no_nat = true;
                x.endpoints = Endpoints::All(true);
                x.drop_endpoint = Some("ecs-telemetry");
            },
        ),
        t(
            "no-agent-endpoint-heredoc-disconnected",
            &["E036", "E036"],
            &|x| {
                x.no_nat = true;
                x.endpoints = Endpoints::All(true);
                x.drop_endpoint = Some("ecs-agent");
                x.user_data = UserData::Heredoc;
            },
        ),
    ]
}

/// Topologies whose route leaves the stack: the simulator needs the outside
/// object seeded (with the stack's VPC) before the route can be made.
fn outside_corpus() -> Vec<Topology> {
    let t = |name, f: &dyn Fn(&mut Topology)| {
        let mut x = Topology {
            name,
            codes: &["W100", "W100"],
            ..OK
        };
        f(&mut x);
        x
    };
    vec![
        t("main-table-to-transit-gateway", &|x| {
            x.main_table = true;
            x.outside = Some((OutsideKind::TransitGateway, "tgw-0a1b2c3d4e5f67890"));
        }),
        t("private-tables-to-peering-connection", &|x| {
            x.outside = Some((OutsideKind::PeeringConnection, "pcx-0a1b2c3d4e5f67890"));
        }),
        t("private-tables-to-vpn-gateway", &|x| {
            x.outside = Some((OutsideKind::VpnGateway, "vgw-0a1b2c3d4e5f67890"));
        }),
    ]
}

/// A route to a transit gateway, peering connection or virtual private
/// gateway outside the stack: the analysis warns (W100, naming the target)
/// rather than guess, and the simulator, which can't see past it either,
/// doesn't register the instances: no path to ECS is known.
#[tokio::test]
async fn routes_that_leave_the_stack_are_reported_not_guessed() {
    for t in outside_corpus() {
        let stack = build(&t);
        stack
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let report = keel::analysis::check(&stack);
        assert_eq!(
            report.codes(),
            t.codes,
            "{}\n{}",
            t.name,
            report.render_text()
        );
        let (kind, id) = t.outside.unwrap();
        assert!(
            report.findings.iter().all(|f| f
                .blocked_at
                .as_deref()
                .unwrap_or_default()
                .contains(id)),
            "{}: {}",
            t.name,
            report.render_text()
        );

        // First the network without the route (the outside object needs
        // the VPC), then the outside object, then the whole stack.
        let dir = state_dir();
        let sim = SimProvider::in_memory().with_latency(SimLatency::none());
        let provider: Arc<dyn Provider> = Arc::new(sim.clone());
        let before = build(&Topology {
            outside: None,
            nat_route: [false, false],
            ..t
        });
        let store = LocalStore::open(dir.path(), stack.name()).unwrap();
        let mut d = Deployment::open(&before, provider.clone(), Box::new(store)).unwrap();
        let plan = d.plan().unwrap();
        d.apply(&plan, ApplyOptions::default()).await.unwrap();
        let vpc = d
            .snapshot()
            .resources
            .iter()
            .find(|r| r.urn.type_token() == "aws:ec2:Vpc")
            .map(|r| r.id.clone())
            .unwrap();
        drop(d); // releases the state lock
        sim.seed_outside(id, kind, &[vpc.as_str()]).unwrap();
        let store = LocalStore::open(dir.path(), stack.name()).unwrap();
        let mut d = Deployment::open(&stack, provider, Box::new(store)).unwrap();
        let plan = d.plan().unwrap();
        d.apply(&plan, ApplyOptions::default()).await.unwrap();
        let routed = sim.network_model();
        assert!(
            routed
                .route_tables
                .values()
                .any(|rt| rt
                    .routes
                    .iter()
                    .any(|r| format!("{:?}", r.target).contains(id))),
            "{}: the route to {id} wasn't made",
            t.name
        );
        let instances = sim.instances();
        assert_eq!(instances.len(), 2, "{}", t.name);
        for i in &instances {
            assert!(i.registered_cluster.is_none(), "{}: {i:?}", t.name);
            let why = i.registration_error.clone().unwrap_or_default();
            assert!(why.contains(id), "{}: {why}", t.name);
        }
    }
}

#[tokio::test]
async fn analysis_and_simulator_agree_on_every_topology() {
    let topologies = corpus();
    assert!(topologies.len() >= 25);
    let mut failures = Vec::new();
    for t in &topologies {
        let stack = build(t);
        stack
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let report = keel::analysis::check(&stack);
        if let Some(why) = codes_differ(t, &report) {
            failures.push(why);
            continue;
        }
        // Which subnets does the analysis clear? Host-level errors clear none.
        let host_error = report
            .findings
            .iter()
            .any(|f| f.is_error() && f.subnet.is_none());
        let bad_subnets: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.is_error())
            .filter_map(|f| f.subnet.as_deref())
            .collect();

        // Deploy anyway, as `--skip-checks` would.
        let dir = state_dir();
        let sim = SimProvider::in_memory().with_latency(SimLatency::none());
        let provider: Arc<dyn Provider> = Arc::new(sim.clone());
        let store = LocalStore::open(dir.path(), stack.name()).unwrap();
        let mut d = Deployment::open(&stack, provider, Box::new(store)).unwrap();
        let plan = d.plan().unwrap();
        let _ = d.apply(&plan, ApplyOptions::default()).await.unwrap();
        let subnet_names: BTreeMap<String, String> = d
            .snapshot()
            .resources
            .iter()
            .filter(|r| r.urn.type_token() == "aws:ec2:Subnet")
            .map(|r| (r.id.clone(), r.urn.name().to_string()))
            .collect();
        // Where keel can't read the user data (W106), the simulator can't
        // either: both must say so.
        let unreadable = report.findings.iter().any(|f| f.code.as_str() == "W106");
        let instances = sim.instances();
        if instances.len() != 2 {
            failures.push(format!(
                "{}: {} instances launched",
                t.name,
                instances.len()
            ));
            continue;
        }
        for i in &instances {
            let subnet = subnet_names
                .get(i.subnet_id.as_str())
                .cloned()
                .unwrap_or_default();
            let predicted = !host_error && !bad_subnets.contains(&subnet.as_str());
            // Registered with a connected agent: the instance can run tasks.
            let registered = match unreadable {
                true => i.registration_code.as_deref() == Some("W106"),
                false => i.registered_cluster.is_some() && i.agent_connected,
            };
            if predicted != registered {
                failures.push(format!(
                    "{}: instance in {subnet}: analysis says {}, simulator says {} ({:?})",
                    t.name,
                    if predicted {
                        "registers"
                    } else {
                        "doesn't register"
                    },
                    if registered {
                        "registered"
                    } else {
                        "not registered"
                    },
                    i.registration_error
                ));
            }
        }
        // Registration is final once reached; nothing changes with time.
        tokio::time::sleep(Duration::ZERO).await;
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn findings_name_the_blocking_element_and_a_fix() {
    let t = Topology {
        name: "fix",
        nat_route: [true, false],
        ..OK
    };
    let report = keel::analysis::check(&build(&t));
    assert_eq!(report.codes(), ["E001"]);
    let f = &report.findings[0];
    assert_eq!(
        f.urn.to_string(),
        "urn:keel:fix::aws:autoscaling:Group::hosts"
    );
    assert_eq!(f.subnet.as_deref(), Some("private-b"));
    assert_eq!(
        f.blocked_at.as_deref(),
        Some("route table private-b (used by subnet private-b) has no route to 52.46.141.38")
    );
    assert_eq!(
        f.fix,
        "route 0.0.0.0/0 of route table private-b to NAT gateway nat-b (in public subnet public-b)"
    );
    assert_eq!(
        f.path[0],
        "instances of hosts in subnet private-b (us-east-1b)"
    );
}
