//! The agreement corpus's stack: a two-zone ECS stack (VPC, public and
//! private subnets, NAT gateways, route tables, ACLs, endpoints, hosts)
//! built from a [`Topology`] of flags, each flag one way to change or break
//! it.

use super::wiring::{self, Mistake};
use keel::aws::ec2::{AclRule, NetworkAcl, VpcEndpoint};
use keel::aws::iam::ECS_INSTANCE_POLICY_ARN;
use keel::prelude::*;
use keel::provider::sim::OutsideKind;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Egress {
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
pub(super) enum Acl {
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
pub(super) enum Endpoints {
    None,
    /// ecs, ecs-agent, ecs-telemetry; the bool says whether their security
    /// group admits 443 from the VPC.
    All(bool),
    /// Only the `ecs` endpoint.
    EcsOnly,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Cluster {
    Own,
    /// User data configures the agent without ECS_CLUSTER: `default`.
    Default,
    Other,
}

#[derive(Clone, Copy)]
pub(super) struct Topology {
    pub(super) name: &'static str,
    /// Per zone: does the private route table send the internet to the NAT?
    pub(super) nat_route: [bool; 2],
    /// 0.0.0.0/1 + 128.0.0.0/1 instead of 0.0.0.0/0 on the private tables.
    pub(super) split_default: bool,
    /// No NAT gateways at all.
    pub(super) no_nat: bool,
    /// One NAT gateway (zone a) for both zones.
    pub(super) single_nat: bool,
    pub(super) nat_private: bool,
    /// NAT gateways placed in the private subnets.
    pub(super) nat_in_private_subnet: bool,
    pub(super) public_igw_route: bool,
    pub(super) igw_attached: bool,
    /// Instances in the public subnets instead of the private ones.
    pub(super) hosts_public: bool,
    /// The launch template's public IP setting.
    pub(super) public_ip: Option<bool>,
    /// The public subnets map public IPs on launch.
    pub(super) map_public_ip: bool,
    pub(super) egress: Egress,
    pub(super) acl: Acl,
    pub(super) endpoints: Endpoints,
    pub(super) profile: bool,
    pub(super) cluster: Cluster,
    pub(super) dns_support: bool,
    /// The private tables route to a NAT gateway in another VPC.
    pub(super) nat_other_vpc: bool,
    /// Expected finding codes, in report order.
    pub(super) codes: &'static [&'static str],
    // Egress as declared (issue 11, item 7).
    /// The hosts' group declares TCP egress on this port to anywhere, with
    /// no `revoke_default_egress()` call: only that port goes out.
    pub(super) declared_egress_port: Option<u16>,
    // Regional NAT gateways (issue 11, item 2).
    /// One regional NAT gateway for the VPC, which both private tables
    /// route to (with `no_nat`: no zonal ones).
    pub(super) regional_nat: bool,
    /// The whole network from the `Network` component with
    /// `NatStrategy::Regional` instead of the hand-wired one.
    pub(super) regional_network: bool,
    // Routing (issue 11, items 1 and 3).
    /// The private subnets have no table of their own: they use the VPC's
    /// main table, which a standalone `Route` sends to NAT gateway a
    /// (when `nat_route[0]`) or to `outside`.
    pub(super) main_table: bool,
    /// The private tables send 0.0.0.0/0 to this object outside the stack
    /// (by id) instead of a NAT gateway.
    pub(super) outside: Option<(OutsideKind, &'static str)>,
    // Which cluster the agent joins (user data forms) and disconnected agents.
    /// The form the hosts' user data takes.
    pub(super) user_data: UserData,
    /// With `Endpoints::All`, this service's endpoint left out.
    pub(super) drop_endpoint: Option<&'static str>,
    // Wiring mistakes (issue 11, item 6).
    /// A reference AWS refuses, added to the stack (see `wiring.rs`).
    pub(super) wiring: Mistake,
}

/// Forms of user data (all but `Echo`, `None`, `Text` and `Unreadable`
/// set ECS_CLUSTER to the stack's cluster).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum UserData {
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

pub(super) const OK: Topology = Topology {
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
    // Wiring mistakes.
    wiring: Mistake::None,
};

pub(super) const ZONES: [(&str, &str, &str); 2] = [
    ("us-east-1a", "10.0.0.0/24", "10.0.10.0/24"),
    ("us-east-1b", "10.0.1.0/24", "10.0.11.0/24"),
];

pub(super) fn build(t: &Topology) -> Stack {
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
    let elsewhere = wiring::elsewhere(t, &mut s);
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
    let mut eips: Vec<Handle<ElasticIp>> = Vec::new();
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
                let eip = match wiring::shares_eip(t, i) {
                    true => eips[0].clone(),
                    false => s.add(&format!("nat-{z}"), ElasticIp::new()),
                };
                eips.push(eip.clone());
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
    wiring::add_mistake(t, &mut s, &vpc, &privates, elsewhere.as_ref());
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
    let hosts_sg = wiring::hosts_group(t, sg.id(), elsewhere.as_ref());
    let mut lt = LaunchTemplate::new("ami-0a3c14e1ddbe7f23c", "t3.small").security_group(hosts_sg);
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
    if let Some(extra) = wiring::extra_host_subnet(t, elsewhere.as_ref()) {
        asg = asg.subnet(extra);
    }
    s.add("hosts", asg);
    s
}

/// Egress as declared: the declared rule replaces AWS's default.
pub(super) fn declared_egress(t: &Topology, sg: SecurityGroup) -> SecurityGroup {
    match t.declared_egress_port {
        Some(port) => sg.egress(Rule::tcp(port).cidr("0.0.0.0/0")),
        None => sg,
    }
}

/// Regional NAT gateways: one for the VPC, in no subnet, that the private
/// tables route to instead of the zonal ones.
pub(super) fn regional_nat(
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
pub(super) fn regional_network(t: &Topology) -> Stack {
    use keel::components::{NatStrategy, Network};
    let mut s = Stack::new(t.name);
    let net = Network::new("10.0.0.0/16", ["us-east-1a", "us-east-1b"])
        .nat(NatStrategy::Regional)
        .declare(&mut s, "net");
    keel_tests::ecs_hosts(&mut s, net.vpc.id(), net.private_subnet_ids());
    s
}

/// A route target outside the stack.
pub(super) fn outside_target(kind: OutsideKind, id: &str) -> RouteTarget {
    match kind {
        OutsideKind::TransitGateway => RouteTarget::transit_gateway(TransitGatewayId::new(id)),
        OutsideKind::PeeringConnection => {
            RouteTarget::peering_connection(VpcPeeringConnectionId::new(id))
        }
        OutsideKind::VpnGateway => RouteTarget::vpn_gateway(VpnGatewayId::new(id)),
    }
}

/// The routing topic's part of the stack: the main table's route.
pub(super) fn build_routing(
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
pub(super) fn agent_user_data(
    form: UserData,
    cluster: &Handle<EcsCluster>,
) -> Option<Input<String>> {
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

/// Why the analysis's codes for `t` aren't the expected ones, if they
/// aren't (with the report).
pub(super) fn codes_differ(t: &Topology, report: &keel::analysis::Report) -> Option<String> {
    let (mut codes, mut expected) = (report.codes(), t.codes.to_vec());
    codes.sort();
    expected.sort();
    (codes != expected).then(|| {
        format!(
            "{}: codes {codes:?}, expected {expected:?}\n{}",
            t.name,
            report.render_text()
        )
    })
}
