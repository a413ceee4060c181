//! The analysis and the simulator must agree. Each topology below is a
//! two-zone ECS stack with one thing (or a few) changed; for each, the
//! pre-deploy analysis must report exactly the expected finding codes, and
//! deployed on the simulator anyway (as with `--skip-checks`) every instance
//! must register with a connected agent if and only if the analysis found
//! nothing wrong for its subnet (and where the analysis can't read the user
//! data, W106, the simulator must say it can't either).

use keel::aws::ec2::{AclRule, NetworkAcl, VpcEndpoint};
use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::engine::{ApplyOptions, Deployment};
use keel::prelude::*;
use keel::provider::Provider;
use keel::provider::sim::{OutsideKind, SimLatency, SimProvider};
use keel::state::LocalStore;
use keel_tests::state_dir;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq)]
enum Egress {
    /// AWS's default allow-all.
    Default,
    /// Only TCP 443 to anywhere.
    Https,
    /// Only TCP 80.
    HttpOnly,
    /// Default egress revoked, nothing added.
    Nothing,
    /// TCP 443, but only to the VPC.
    HttpsToVpc,
}

#[derive(Clone, Copy, PartialEq)]
enum Acl {
    None,
    /// 443 out and ephemeral replies in on the private subnets; the NAT
    /// subnets allow the forwarded traffic both ways.
    Correct,
    /// Private subnets deny outbound 443 before allowing everything.
    DenyHttpsOut,
    /// Private subnets allow 443 out but no replies in.
    NoReturn,
    /// The NAT's public subnets deny inbound from the VPC.
    NatSubnetDeniesVpc,
}

#[derive(Clone, Copy, PartialEq)]
enum Endpoints {
    None,
    /// ecs, ecs-agent, ecs-telemetry; the bool says whether their security
    /// group admits 443 from the VPC.
    All(bool),
    /// Only the `ecs` endpoint.
    EcsOnly,
}

#[derive(Clone, Copy, PartialEq)]
enum Cluster {
    Own,
    /// User data configures the agent without ECS_CLUSTER: `default`.
    Default,
    Other,
}

#[derive(Clone, Copy)]
struct Topology {
    name: &'static str,
    /// Per zone: does the private route table send the internet to the NAT?
    nat_route: [bool; 2],
    /// 0.0.0.0/1 + 128.0.0.0/1 instead of 0.0.0.0/0 on the private tables.
    split_default: bool,
    /// No NAT gateways at all.
    no_nat: bool,
    /// One NAT gateway (zone a) for both zones.
    single_nat: bool,
    nat_private: bool,
    /// NAT gateways placed in the private subnets.
    nat_in_private_subnet: bool,
    public_igw_route: bool,
    igw_attached: bool,
    /// Instances in the public subnets instead of the private ones.
    hosts_public: bool,
    /// The launch template's public IP setting.
    public_ip: Option<bool>,
    /// The public subnets map public IPs on launch.
    map_public_ip: bool,
    egress: Egress,
    acl: Acl,
    endpoints: Endpoints,
    profile: bool,
    cluster: Cluster,
    dns_support: bool,
    /// The private tables route to a NAT gateway in another VPC.
    nat_other_vpc: bool,
    /// Expected finding codes, in report order.
    codes: &'static [&'static str],
    // Egress as declared (issue 11, item 7).
    /// The hosts' group declares TCP egress on this port to anywhere, with
    /// no `revoke_default_egress()` call: only that port goes out.
    declared_egress_port: Option<u16>,
    // Regional NAT gateways (issue 11, item 2).
    /// One regional NAT gateway for the VPC, which both private tables
    /// route to (with `no_nat`: no zonal ones).
    regional_nat: bool,
    /// The whole network from the `Network` component with
    /// `NatStrategy::Regional` instead of the hand-wired one.
    regional_network: bool,
    // Routing (issue 11, items 1 and 3).
    /// The private subnets have no table of their own: they use the VPC's
    /// main table, which a standalone `Route` sends to NAT gateway a
    /// (when `nat_route[0]`) or to `outside`.
    main_table: bool,
    /// The private tables send 0.0.0.0/0 to this object outside the stack
    /// (by id) instead of a NAT gateway.
    outside: Option<(OutsideKind, &'static str)>,
    // Which cluster the agent joins (user data forms) and disconnected agents.
    /// The form the hosts' user data takes.
    user_data: UserData,
    /// With `Endpoints::All`, this service's endpoint left out.
    drop_endpoint: Option<&'static str>,
}

/// Forms of user data (all but `Echo`, `None`, `Text` and `Unreadable`
/// set ECS_CLUSTER to the stack's cluster).
#[derive(Clone, Copy, PartialEq)]
enum UserData {
    /// `echo ECS_CLUSTER=… >> /etc/ecs/ecs.config`, as `cluster` says.
    Echo,
    /// `cat <<'EOF' >> /etc/ecs/ecs.config`.
    Heredoc,
    /// `#cloud-config` `write_files`.
    CloudInit,
    /// MIME multipart: a cloud-config part and a base64 shell script part.
    Mime,
    /// Bottlerocket's `[settings.ecs]`.
    Bottlerocket,
    /// None at all.
    None,
    /// The echo line without `#!`: cloud-init doesn't run it.
    Text,
    /// The cluster name computed at boot: `$(…)`.
    Unreadable,
}

const OK: Topology = Topology {
    name: "",
    nat_route: [true, true],
    split_default: false,
    no_nat: false,
    single_nat: false,
    nat_private: false,
    nat_in_private_subnet: false,
    public_igw_route: true,
    igw_attached: true,
    hosts_public: false,
    public_ip: None,
    map_public_ip: true,
    egress: Egress::Default,
    acl: Acl::None,
    endpoints: Endpoints::None,
    profile: true,
    cluster: Cluster::Own,
    dns_support: true,
    nat_other_vpc: false,
    codes: &[],
    // Egress as declared.
    declared_egress_port: None,
    // Regional NAT gateways.
    regional_nat: false,
    regional_network: false,
    // Routing.
    main_table: false,
    outside: None,
    // Which cluster the agent joins; disconnected agents.
    user_data: UserData::Echo,
    drop_endpoint: None,
};

const ZONES: [(&str, &str, &str); 2] = [
    ("us-east-1a", "10.0.0.0/24", "10.0.10.0/24"),
    ("us-east-1b", "10.0.1.0/24", "10.0.11.0/24"),
];

fn build(t: &Topology) -> Stack {
    if t.regional_network {
        return regional_network(t);
    }
    let mut s = Stack::new(t.name);
    let vpc = s.add(
        "main",
        Vpc::new("10.0.0.0/16")
            .enable_dns_hostnames(true)
            .enable_dns_support(t.dns_support),
    );
    let mut igw = InternetGateway::new();
    if t.igw_attached {
        igw = igw.vpc(vpc.id());
    }
    let igw = s.add("main", igw);
    let mut public_rt = RouteTable::new(vpc.id());
    if t.public_igw_route {
        public_rt = public_rt.route_to_internet_gateway("0.0.0.0/0", igw.id());
    }
    let (mut publics, mut privates, mut nats) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (az, pub_block, priv_block)) in ZONES.iter().enumerate() {
        let z = &az[az.len() - 1..];
        let public = s.add(
            &format!("public-{z}"),
            Subnet::new(vpc.id(), *pub_block, *az).map_public_ip_on_launch(t.map_public_ip),
        );
        let private = s.add(
            &format!("private-{z}"),
            Subnet::new(vpc.id(), *priv_block, *az),
        );
        public_rt = public_rt.associate(public.id());
        if !t.no_nat && (i == 0 || !t.single_nat) {
            let home = if t.nat_in_private_subnet {
                private.id()
            } else {
                public.id()
            };
            let nat = if t.nat_private {
                NatGateway::private(home)
            } else {
                let eip = s.add(&format!("nat-{z}"), ElasticIp::new());
                NatGateway::public(home, eip.id())
            };
            nats.push(s.add(&format!("nat-{z}"), nat));
        }
        publics.push(public);
        privates.push(private);
    }
    s.add("public", public_rt);
    if t.nat_other_vpc {
        let other = s.add("other", Vpc::new("10.1.0.0/16"));
        let other_igw = s.add("other", InternetGateway::new().vpc(other.id()));
        let other_public = s.add(
            "other-public",
            Subnet::new(other.id(), "10.1.0.0/24", "us-east-1a"),
        );
        s.add(
            "other-public",
            RouteTable::new(other.id())
                .route_to_internet_gateway("0.0.0.0/0", other_igw.id())
                .associate(other_public.id()),
        );
        let eip = s.add("other", ElasticIp::new());
        let nat = s.add("other", NatGateway::public(other_public.id(), eip.id()));
        nats = vec![nat];
    }
    regional_nat(t, &mut s, &vpc, &mut nats);
    for (i, private) in privates.iter().enumerate() {
        if t.main_table {
            break; // see build_routing
        }
        let z = &ZONES[i].0[ZONES[i].0.len() - 1..];
        let mut rt = RouteTable::new(vpc.id()).associate(private.id());
        if let Some((kind, id)) = t.outside {
            rt = rt.route(RouteEntry::new("0.0.0.0/0", outside_target(kind, id)));
        } else if let (true, Some(nat)) = (
            t.nat_route[i],
            nats.get(i.min(nats.len().saturating_sub(1))),
        ) {
            if t.split_default {
                rt = rt
                    .route_to_nat_gateway("0.0.0.0/1", nat.id())
                    .route_to_nat_gateway("128.0.0.0/1", nat.id());
            } else {
                rt = rt.route_to_nat_gateway("0.0.0.0/0", nat.id());
            }
        }
        s.add(&format!("private-{z}"), rt);
    }
    build_routing(t, &mut s, vpc.main_route_table_id(), &nats);
    match t.acl {
        Acl::None => {}
        Acl::Correct | Acl::DenyHttpsOut | Acl::NoReturn => {
            let mut acl = NetworkAcl::new(vpc.id());
            if t.acl == Acl::DenyHttpsOut {
                acl = acl.egress(AclRule::deny_tcp(50, 443, 443, "0.0.0.0/0"));
            }
            acl = acl.egress(AclRule::allow_all(100, "0.0.0.0/0"));
            if t.acl != Acl::NoReturn {
                acl = acl.ingress(AclRule::allow_tcp(100, 1024, 65535, "0.0.0.0/0"));
            }
            acl = acl.ingress(AclRule::allow_all(200, "10.0.0.0/16"));
            for p in &privates {
                acl = acl.associate(p.id());
            }
            s.add("private", acl);
            if t.acl == Acl::Correct {
                let mut nat_acl = NetworkAcl::new(vpc.id())
                    .ingress(AclRule::allow_tcp(100, 443, 443, "10.0.0.0/16"))
                    .ingress(AclRule::allow_tcp(110, 1024, 65535, "0.0.0.0/0"))
                    .egress(AclRule::allow_tcp(100, 443, 443, "0.0.0.0/0"))
                    .egress(AclRule::allow_tcp(110, 1024, 65535, "10.0.0.0/16"));
                for p in &publics {
                    nat_acl = nat_acl.associate(p.id());
                }
                s.add("public", nat_acl);
            }
        }
        Acl::NatSubnetDeniesVpc => {
            let mut nat_acl = NetworkAcl::new(vpc.id())
                .ingress(AclRule::deny_all(50, "10.0.0.0/16"))
                .ingress(AclRule::allow_all(100, "0.0.0.0/0"))
                .egress(AclRule::allow_all(100, "0.0.0.0/0"));
            for p in &publics {
                nat_acl = nat_acl.associate(p.id());
            }
            s.add("public", nat_acl);
        }
    }
    let services: &[&str] = match t.endpoints {
        Endpoints::None => &[],
        Endpoints::All(_) => &["ecs", "ecs-agent", "ecs-telemetry"],
        Endpoints::EcsOnly => &["ecs"],
    };
    if !services.is_empty() {
        let mut sg = SecurityGroup::new(vpc.id(), "interface endpoints");
        if !matches!(t.endpoints, Endpoints::All(false)) {
            sg = sg.ingress(Rule::tcp(443).cidr("10.0.0.0/16"));
        }
        let sg = s.add("endpoints", sg);
        for svc in services.iter().filter(|s| Some(**s) != t.drop_endpoint) {
            let mut ep = VpcEndpoint::interface(vpc.id(), format!("com.amazonaws.us-east-1.{svc}"))
                .security_group(sg.id());
            for p in &privates {
                ep = ep.subnet(p.id());
            }
            s.add(svc, ep);
        }
    }

    let mut sg = SecurityGroup::new(vpc.id(), "ECS container instances");
    sg = match t.egress {
        Egress::Default => sg,
        Egress::Https => sg
            .revoke_default_egress()
            .egress(Rule::tcp(443).cidr("0.0.0.0/0")),
        Egress::HttpOnly => sg
            .revoke_default_egress()
            .egress(Rule::tcp(80).cidr("0.0.0.0/0")),
        Egress::Nothing => sg.revoke_default_egress(),
        Egress::HttpsToVpc => sg
            .revoke_default_egress()
            .egress(Rule::tcp(443).cidr("10.0.0.0/16")),
    };
    let sg = s.add("hosts", declared_egress(t, sg));
    let role = s.add(
        "ecs",
        IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN),
    );
    let profile = s.add("ecs", InstanceProfile::new(role.name()));
    let cluster = s.add("app", EcsCluster::new());
    let user_data: Input<String> = match t.cluster {
        Cluster::Own => cluster
            .name()
            .map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"))
            .into(),
        Cluster::Default => {
            "#!/bin/bash\necho ECS_ENABLE_TASK_IAM_ROLE=true >> /etc/ecs/ecs.config\n".into()
        }
        Cluster::Other => "#!/bin/bash\necho ECS_CLUSTER=legacy >> /etc/ecs/ecs.config\n".into(),
    };
    let user_data = match t.user_data {
        UserData::Echo => Some(user_data),
        _ => agent_user_data(t.user_data, &cluster),
    };
    let mut lt = LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small").security_group(sg.id());
    if let Some(u) = user_data {
        lt = lt.user_data(u);
    }
    if t.profile {
        lt = lt.iam_instance_profile(profile.name());
    }
    if let Some(p) = t.public_ip {
        lt = lt.associate_public_ip_address(p);
    }
    let lt = s.add("hosts", lt);
    let hosts = if t.hosts_public { &publics } else { &privates };
    let mut asg = AutoScalingGroup::new(lt.id(), 0, 4).desired_capacity(2);
    for h in hosts {
        asg = asg.subnet(h.id());
    }
    s.add("hosts", asg);
    s
}

/// Egress as declared: the declared rule replaces AWS's default.
fn declared_egress(t: &Topology, sg: SecurityGroup) -> SecurityGroup {
    match t.declared_egress_port {
        Some(port) => sg.egress(Rule::tcp(port).cidr("0.0.0.0/0")),
        None => sg,
    }
}

/// Regional NAT gateways: one for the VPC, in no subnet, that the private
/// tables route to instead of the zonal ones.
fn regional_nat(
    t: &Topology,
    s: &mut Stack,
    vpc: &Handle<Vpc>,
    nats: &mut Vec<Handle<NatGateway>>,
) {
    if t.regional_nat {
        *nats = vec![s.add("regional", NatGateway::regional(vpc.id()))];
    }
}

/// The `Network` component with one regional NAT gateway, and the hosts
/// (HTTPS egress only) in its private subnets.
fn regional_network(t: &Topology) -> Stack {
    use keel::components::{NatStrategy, Network};
    let mut s = Stack::new(t.name);
    let net = Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b"])
        .nat(NatStrategy::Regional)
        .declare(&mut s, "net");
    let sg = s.add(
        "hosts",
        SecurityGroup::new(net.vpc.id(), "ECS container instances")
            .egress(Rule::tcp(443).cidr("0.0.0.0/0")),
    );
    let role = s.add(
        "ecs",
        IamRole::for_service("ec2.amazonaws.com").managed_policy(ECS_INSTANCE_POLICY_ARN),
    );
    let profile = s.add("ecs", InstanceProfile::new(role.name()));
    let cluster = s.add("app", EcsCluster::new());
    let user_data = cluster
        .name()
        .map(|c| format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"));
    let lt = s.add(
        "hosts",
        LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small")
            .user_data(user_data)
            .iam_instance_profile(profile.name())
            .security_group(sg.id()),
    );
    let mut asg = AutoScalingGroup::new(lt.id(), 0, 4).desired_capacity(2);
    for subnet in net.private_subnet_ids() {
        asg = asg.subnet(subnet);
    }
    s.add("hosts", asg);
    s
}

/// A route target outside the stack.
fn outside_target(kind: OutsideKind, id: &str) -> RouteTarget {
    match kind {
        OutsideKind::TransitGateway => RouteTarget::transit_gateway(TransitGatewayId::new(id)),
        OutsideKind::PeeringConnection => {
            RouteTarget::peering_connection(VpcPeeringConnectionId::new(id))
        }
        OutsideKind::VpnGateway => RouteTarget::vpn_gateway(VpnGatewayId::new(id)),
    }
}

/// The routing topic's part of the stack: the main table's route.
fn build_routing(
    t: &Topology,
    s: &mut Stack,
    main_table: Output<RouteTableId>,
    nats: &[keel::Handle<NatGateway>],
) {
    if !t.main_table {
        return;
    }
    let target = match (t.outside, nats.first()) {
        (Some((kind, id)), _) => outside_target(kind, id),
        (None, Some(nat)) if t.nat_route[0] => RouteTarget::nat_gateway(nat.id()),
        _ => return,
    };
    s.add(
        "private-default",
        Route::new(main_table, "0.0.0.0/0", target),
    );
}

/// The hosts' user data in `form`, setting the cluster's name where the
/// form does.
fn agent_user_data(form: UserData, cluster: &Handle<EcsCluster>) -> Option<Input<String>> {
    use base64::Engine;
    let name = cluster.name();
    Some(match form {
        UserData::Echo | UserData::None => return None,
        UserData::Heredoc => name
            .map(|c| format!("#!/bin/bash\nset -euo pipefail\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER={c}\nECS_ENABLE_TASK_IAM_ROLE=true\nEOF\n"))
            .into(),
        UserData::CloudInit => name
            .map(|c| format!("#cloud-config\npackages:\n  - jq\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    append: true\n    content: |\n      ECS_CLUSTER={c}\n"))
            .into(),
        UserData::Mime => name
            .map(|c| {
                let script = format!("#!/bin/bash\necho \"ECS_CLUSTER={c}\" | tee -a /etc/ecs/ecs.config\n");
                let script = base64::engine::general_purpose::STANDARD.encode(script);
                format!("Content-Type: multipart/mixed; boundary=\"==KEEL==\"\nMIME-Version: 1.0\n\n--==KEEL==\nContent-Type: text/cloud-config; charset=\"us-ascii\"\n\n#cloud-config\npackages: [jq]\n\n--==KEEL==\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\nContent-Transfer-Encoding: base64\n\n{script}\n--==KEEL==--\n")
            })
            .into(),
        UserData::Bottlerocket => name
            .map(|c| format!("[settings.ecs]\ncluster = \"{c}\"\n"))
            .into(),
        UserData::Text => name
            .map(|c| format!("echo ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n"))
            .into(),
        UserData::Unreadable => {
            "#!/bin/bash\necho ECS_CLUSTER=$(cat /opt/cluster-name) >> /etc/ecs/ecs.config\n".into()
        }
    })
}

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
        t("route-to-detached-igw", &["E002", "E002"], &|x| {
            x.hosts_public = true;
            x.no_nat = true;
            x.igw_attached = false;
        }),
        t("nat-of-another-vpc", &["E007", "E007"], &|x| {
            x.no_nat = true;
            x.nat_other_vpc = true;
        }),
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
            &["E040", "E040"],
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
        t(
            "no-telemetry-endpoint-agent-disconnected",
            &["E036", "E036"],
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
        let mut codes = report.codes();
        codes.sort();
        let mut expected = t.codes.to_vec();
        expected.sort();
        if codes != expected {
            failures.push(format!(
                "{}: codes {codes:?}, expected {expected:?}\n{}",
                t.name,
                report.render_text()
            ));
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
