//! Unit tests of the serving rules on small hand-built models.

use super::*;
use crate::analysis::network::{
    AclFacts, AclRuleFacts, EndpointFacts, GatewayFacts, NatFacts, RouteFacts, RouteTableFacts,
    SgFacts, SgRuleFacts, SubnetFacts, VpcFacts,
};
use crate::aws::ec2::Protocol;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn rule(ports: (u16, u16), cidrs: &[&str], groups: &[&str]) -> SgRuleFacts {
    SgRuleFacts {
        protocol: Protocol::Tcp,
        ports,
        cidrs: cidrs.iter().map(|c| net(c)).collect(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn all_out() -> SgRuleFacts {
    SgRuleFacts {
        protocol: Protocol::All,
        ports: (0, 65535),
        cidrs: vec![net("0.0.0.0/0")],
        groups: vec![],
    }
}

/// The tutorial's shape: public subnets a and b with an internet gateway,
/// private subnet pa through a NAT gateway, a load balancer `lb` (group
/// `alb`: 80 from anywhere) and hosts (group `hosts`: the dynamic range
/// from `alb`).
fn model() -> Model {
    let mut m = Model::default();
    m.vpcs.insert(
        "vpc".into(),
        VpcFacts {
            label: "main".into(),
            cidr: Some(net("10.0.0.0/16")),
            dns_support: true,
            dns_hostnames: true,
        },
    );
    for (k, cidr, az) in [
        ("a", "10.0.0.0/24", "us-east-1a"),
        ("b", "10.0.1.0/24", "us-east-1b"),
        ("pa", "10.0.10.0/24", "us-east-1a"),
    ] {
        m.subnets.insert(
            k.into(),
            SubnetFacts {
                label: format!("sub-{k}"),
                vpc: "vpc".into(),
                cidr: Some(net(cidr)),
                az: az.into(),
                map_public_ip: false,
            },
        );
    }
    m.internet_gateways.insert(
        "igw".into(),
        GatewayFacts {
            label: "igw".into(),
            vpc: Some("vpc".into()),
        },
    );
    m.nat_gateways.insert(
        "nat".into(),
        NatFacts {
            label: "nat".into(),
            subnet: "a".into(),
            regional: None,
            public: true,
            has_eip: true,
            available: true,
        },
    );
    m.route_tables.insert(
        "public".into(),
        RouteTableFacts {
            label: "public".into(),
            vpc: "vpc".into(),
            main: false,
            routes: vec![RouteFacts {
                destination: net("0.0.0.0/0"),
                target: Target::InternetGateway("igw".into()),
            }],
            subnets: vec!["a".into(), "b".into()],
        },
    );
    m.route_tables.insert(
        "private".into(),
        RouteTableFacts {
            label: "private".into(),
            vpc: "vpc".into(),
            main: false,
            routes: vec![RouteFacts {
                destination: net("0.0.0.0/0"),
                target: Target::NatGateway("nat".into()),
            }],
            subnets: vec!["pa".into()],
        },
    );
    m.security_groups.insert(
        "alb".into(),
        SgFacts {
            label: "alb".into(),
            vpc: "vpc".into(),
            ingress: vec![rule((80, 80), &["0.0.0.0/0"], &[])],
            egress: vec![all_out()],
        },
    );
    m.security_groups.insert(
        "hosts".into(),
        SgFacts {
            label: "ecs-hosts".into(),
            vpc: "vpc".into(),
            ingress: vec![rule((32768, 65535), &[], &["alb"])],
            egress: vec![all_out()],
        },
    );
    m.load_balancers.insert(
        "lb".into(),
        LoadBalancerFacts {
            label: "web".into(),
            vpc: "vpc".into(),
            internet_facing: true,
            subnets: vec!["a".into(), "b".into()],
            security_groups: vec!["alb".into()],
        },
    );
    m
}

const HOSTS: &[Key] = &[];

fn host<'a>(groups: &'a [Key]) -> Source<'a> {
    Source {
        label: "instances of ecs-hosts",
        subnet: "pa",
        address: net("10.0.10.0/24"),
        public_ip: false,
        security_groups: groups,
    }
}

#[test]
fn the_tutorial_shape_serves() {
    let m = model();
    let hops = internet_reaches_listener(&m, "lb", 80).unwrap();
    assert!(
        hops.iter().any(|h| h.contains("internet gateway igw")),
        "{hops:?}"
    );
    let groups = vec!["hosts".to_string()];
    let hops = lb_reaches_target(&m, "lb", &host(&groups), 40000).unwrap();
    assert!(
        hops.last().unwrap().contains("admits TCP 40000"),
        "{hops:?}"
    );
    let hops = image_pull(&m, &host(&groups), "nginx:1.27").unwrap();
    assert!(
        hops.iter().any(|h| h.contains("NAT gateway nat")),
        "{hops:?}"
    );
}

#[test]
fn the_listener_needs_scheme_group_route_zones_and_acls() {
    let code = |m: &Model, port| internet_reaches_listener(m, "lb", port).unwrap_err();
    let m = model();
    let b = code(&m, 443);
    assert_eq!(b.code, Code::ListenerUnreachable);
    assert_eq!(b.element, "alb");
    assert!(
        b.reason.contains("admits no TCP 443 from the internet"),
        "{}",
        b.reason
    );

    let mut internal = model();
    internal
        .load_balancers
        .get_mut("lb")
        .unwrap()
        .internet_facing = false;
    assert!(code(&internal, 80).reason.contains("is internal"));

    let mut private = model();
    private.load_balancers.get_mut("lb").unwrap().subnets = vec!["pa".into(), "b".into()];
    let b = code(&private, 80);
    assert_eq!(
        (b.code, b.element.as_str()),
        (Code::LoadBalancerNoInternetRoute, "private")
    );
    assert!(
        b.reason.contains("sends 0.0.0.0/0 to NAT gateway nat"),
        "{}",
        b.reason
    );

    let mut one_zone = model();
    one_zone.load_balancers.get_mut("lb").unwrap().subnets = vec!["a".into(), "pa".into()];
    assert_eq!(code(&one_zone, 80).code, Code::LoadBalancerOneZone);

    let mut detached = model();
    detached.internet_gateways.get_mut("igw").unwrap().vpc = None;
    assert_eq!(code(&detached, 80).code, Code::GatewayNotAttached);

    // A network ACL on the public subnets that admits 80 but lets no reply out.
    let mut acl = model();
    acl.network_acls.insert(
        "pub-acl".into(),
        AclFacts {
            label: "public-acl".into(),
            vpc: "vpc".into(),
            default: false,
            subnets: vec!["a".into(), "b".into()],
            ingress: vec![AclRuleFacts {
                number: 100,
                protocol: Protocol::Tcp,
                ports: (80, 80),
                cidr: net("0.0.0.0/0"),
                allow: true,
            }],
            egress: vec![AclRuleFacts {
                number: 100,
                protocol: Protocol::Tcp,
                ports: (32768, 60999),
                cidr: net("0.0.0.0/0"),
                allow: true,
            }],
        },
    );
    let b = code(&acl, 80);
    assert_eq!(b.code, Code::AclReturn);
    assert!(b.reason.contains("1024-65535"), "{}", b.reason);
}

#[test]
fn the_target_needs_egress_ingress_vpc_and_acls() {
    let groups = vec!["hosts".to_string()];
    let m = model();
    // the hosts' group admits the dynamic range only
    let b = lb_reaches_target(&m, "lb", &host(&groups), 8080).unwrap_err();
    assert_eq!((b.code, b.element.as_str()), (Code::TargetIngress, "hosts"));
    assert!(
        b.reason
            .contains("security group ecs-hosts admits no TCP 8080 from load balancer web"),
        "{}",
        b.reason
    );
    // a CIDR covering the load balancer's subnets works as well as the group
    let mut by_cidr = model();
    by_cidr.security_groups.get_mut("hosts").unwrap().ingress =
        vec![rule((8080, 8080), &["10.0.0.0/23"], &[])];
    lb_reaches_target(&by_cidr, "lb", &host(&groups), 8080).unwrap();
    // but one covering only subnet a doesn't
    by_cidr.security_groups.get_mut("hosts").unwrap().ingress =
        vec![rule((8080, 8080), &["10.0.0.0/24"], &[])];
    let b = lb_reaches_target(&by_cidr, "lb", &host(&groups), 8080).unwrap_err();
    assert!(b.reason.contains("sub-b"), "{}", b.reason);

    let mut no_egress = model();
    no_egress.security_groups.get_mut("alb").unwrap().egress =
        vec![rule((80, 80), &["10.0.0.0/16"], &[])];
    let b = lb_reaches_target(&no_egress, "lb", &host(&groups), 40000).unwrap_err();
    assert_eq!(
        (b.code, b.element.as_str()),
        (Code::LoadBalancerEgress, "alb")
    );

    assert_eq!(
        lb_reaches_target(&m, "lb", &host(HOSTS), 40000)
            .unwrap_err()
            .code,
        Code::TargetIngress
    );

    let mut other = model();
    other.subnets.get_mut("pa").unwrap().vpc = "vpc2".into();
    assert_eq!(
        lb_reaches_target(&other, "lb", &host(&groups), 40000)
            .unwrap_err()
            .code,
        Code::OtherVpc
    );

    // The private subnet's ACL admits the dynamic range but lets replies out
    // only on 32768-60999: the load balancer's ports are 1024-65535.
    let mut acl = model();
    let allow = |ports| AclRuleFacts {
        number: 100,
        protocol: Protocol::Tcp,
        ports,
        cidr: net("0.0.0.0/0"),
        allow: true,
    };
    acl.network_acls.insert(
        "priv-acl".into(),
        AclFacts {
            label: "private-acl".into(),
            vpc: "vpc".into(),
            default: false,
            subnets: vec!["pa".into()],
            ingress: vec![allow((32768, 65535))],
            egress: vec![allow((32768, 60999))],
        },
    );
    let b = lb_reaches_target(&acl, "lb", &host(&groups), 40000).unwrap_err();
    assert_eq!((b.code, b.element.as_str()), (Code::AclReturn, "priv-acl"));
}

fn endpoint(m: &mut Model, service: &str) {
    m.endpoints.insert(
        format!("ep-{service}"),
        EndpointFacts {
            label: service.into(),
            vpc: "vpc".into(),
            service: service.into(),
            private_dns: true,
            subnets: vec!["pa".into()],
            security_groups: vec!["hosts-443".into()],
        },
    );
}

#[test]
fn images_come_from_ecr_through_endpoints_or_from_the_internet() {
    let groups = vec!["hosts".to_string()];
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1";
    // No NAT: private subnet without any route out.
    let mut m = model();
    m.route_tables.get_mut("private").unwrap().routes.clear();
    m.security_groups.insert(
        "hosts-443".into(),
        SgFacts {
            label: "endpoints".into(),
            vpc: "vpc".into(),
            ingress: vec![rule((443, 443), &["10.0.0.0/16"], &[])],
            egress: vec![],
        },
    );
    let b = image_pull(&m, &host(&groups), ecr).unwrap_err();
    assert_eq!(b.code, Code::ImagePull);
    assert!(
        b.reason.contains("ecr.api.us-east-1.amazonaws.com"),
        "{}",
        b.reason
    );
    endpoint(&mut m, "ecr.api");
    endpoint(&mut m, "ecr.dkr");
    let (service, b) = image_pull_detail(&m, &host(&groups), ecr).unwrap_err();
    assert_eq!(
        (service.as_str(), b.code),
        ("s3.us-east-1.amazonaws.com", Code::NoRoute)
    );
    endpoint(&mut m, "s3");
    let hops = image_pull(&m, &host(&groups), ecr).unwrap();
    assert_eq!(hops.len(), 3, "{hops:?}");
    // Endpoints don't serve Docker Hub: it needs the internet.
    let (host_name, b) = image_pull_detail(&m, &host(&groups), "nginx:1.27").unwrap_err();
    assert_eq!(
        (host_name.as_str(), b.code),
        ("registry-1.docker.io", Code::NoRoute)
    );
    let b = image_pull(&m, &host(&groups), "public.ecr.aws/nginx/nginx:1").unwrap_err();
    assert!(b.reason.contains("public.ecr.aws"), "{}", b.reason);
}

#[test]
fn registries_are_recognised() {
    assert_eq!(
        registry_of("docker.io/library/nginx"),
        Registry::Public {
            host: "registry-1.docker.io".into()
        }
    );
    assert_eq!(
        registry_of("localhost:5000/app"),
        Registry::Public {
            host: "localhost".into()
        }
    );
    assert_eq!(
        registry_of("library/nginx:1"),
        Registry::Public {
            host: "registry-1.docker.io".into()
        }
    );
    // an account id must be twelve digits
    assert!(matches!(
        registry_of("1234.dkr.ecr.us-east-1.amazonaws.com/web"),
        Registry::Public { .. }
    ));
}
