//! ELB's rules for load balancers, target groups and listeners, each with
//! AWS's error code, plus names, DNS names and ARNs as ELB shapes them.

use super::*;
use crate::aws::elb::{
    HealthCheck, Listener, LoadBalancer, LoadBalancerArn, LoadBalancerOutputs, TargetGroup,
    TargetGroupArn,
};
use crate::resource::Arn;

/// A VPC with an internet gateway and subnets `a` (us-east-1a), `b`
/// (us-east-1b) and `a2` (us-east-1a again); their ids.
struct Net {
    vpc: String,
    igw: String,
    a: String,
    b: String,
    a2: String,
}

async fn net(sim: &SimProvider) -> Net {
    let vpc = create(sim, "main", &Vpc::new("10.0.0.0/16")).await;
    let igw = create(sim, "igw", &InternetGateway::new().vpc(VpcId::new(&vpc))).await;
    Net {
        a: subnet(sim, "a", &vpc, "10.0.0.0/24", "us-east-1a").await,
        b: subnet(sim, "b", &vpc, "10.0.1.0/24", "us-east-1b").await,
        a2: subnet(sim, "a2", &vpc, "10.0.2.0/24", "us-east-1a").await,
        vpc,
        igw,
    }
}

fn lb(subnets: &[&str]) -> LoadBalancer {
    subnets
        .iter()
        .fold(LoadBalancer::new(), |lb, s| lb.subnet(SubnetId::new(*s)))
}

#[tokio::test]
async fn load_balancers_follow_elb_rules() {
    let sim = sim();
    let n = net(&sim).await;
    assert_eq!(refused(&sim, "one", &lb(&[&n.a])).await, "ValidationError");
    assert_eq!(
        refused(&sim, "same-zone", &lb(&[&n.a, &n.a2])).await,
        "InvalidConfigurationRequest"
    );
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let foreign = SecurityGroup::new(VpcId::new(&other), "elsewhere");
    let foreign = create(&sim, "elsewhere", &foreign).await;
    let wrong_group = lb(&[&n.a, &n.b]).security_group(SecurityGroupId::new(&foreign));
    assert_eq!(
        refused(&sim, "wrong-group", &wrong_group).await,
        "InvalidSecurityGroup"
    );

    let r = try_create(&sim, "web", &lb(&[&n.a, &n.b]).name("web"))
        .await
        .unwrap();
    let out: LoadBalancerOutputs = serde_json::from_value(Value::Object(r.outputs)).unwrap();
    assert_eq!(out.state, "active", "settled");
    assert!(
        out.arn.as_str().starts_with(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/"
        )
    );
    let dns = out.dns_name.strip_prefix("web-").unwrap_or_default();
    let (digits, rest) = dns.split_at(10.min(dns.len()));
    assert!(
        digits.chars().all(|c| c.is_ascii_digit()),
        "{}",
        out.dns_name
    );
    assert_eq!(rest, ".us-east-1.elb.amazonaws.com");
    assert_eq!(out.canonical_hosted_zone_id, "Z35SXDOTRQ7X7K");
    assert_eq!(out.vpc_id.as_str(), n.vpc);
    assert_eq!(
        refused(&sim, "again", &lb(&[&n.a, &n.b]).name("web")).await,
        "DuplicateLoadBalancerName"
    );
    let internal = try_create(&sim, "inner", &lb(&[&n.a, &n.b]).internal())
        .await
        .unwrap();
    assert!(
        internal.outputs["dns_name"]
            .as_str()
            .is_some_and(|d| d.starts_with("internal-inner-"))
    );

    // Subnets, groups and the idle timeout change in place.
    let group = create(&sim, "lb", &SecurityGroup::new(VpcId::new(&n.vpc), "lb")).await;
    let moved = lb(&[&n.a2, &n.b])
        .name("web")
        .security_group(SecurityGroupId::new(&group))
        .idle_timeout_seconds(120);
    update(&sim, "web", &r.id, &moved).await.unwrap();
    let (subnets, groups, idle) = sim.peek(|c| {
        let l = &c.load_balancers[&r.id];
        (
            l.subnet_ids.clone(),
            l.security_group_ids.clone(),
            l.idle_timeout_seconds,
        )
    });
    assert_eq!(
        (subnets, groups, idle),
        (vec![n.a2.clone(), n.b.clone()], vec![group.clone()], 120)
    );
    // The subnets and the group are in use now.
    assert_eq!(
        code(delete::<Subnet>(&sim, "a2", &n.a2).await),
        "DependencyViolation"
    );
    delete::<LoadBalancer>(&sim, "web", &r.id).await.unwrap();
    delete::<LoadBalancer>(&sim, "inner", &internal.id)
        .await
        .unwrap();
    assert!(read::<LoadBalancer>(&sim, "web", &r.id).await.is_none());
}

#[tokio::test]
async fn an_internet_facing_load_balancer_needs_an_internet_gateway() {
    let sim = sim();
    let n = net(&sim).await;
    delete::<InternetGateway>(&sim, "igw", &n.igw)
        .await
        .unwrap();
    assert_eq!(
        refused(&sim, "web", &lb(&[&n.a, &n.b])).await,
        "InvalidSubnet"
    );
    create(&sim, "inner", &lb(&[&n.a, &n.b]).internal()).await;
}

#[tokio::test]
async fn listeners_and_target_groups_follow_elb_rules() {
    let sim = sim();
    let n = net(&sim).await;
    let web = create(&sim, "web", &lb(&[&n.a, &n.b])).await;
    let api = create(&sim, "api", &lb(&[&n.a, &n.b])).await;
    let tg = TargetGroup::http(80, VpcId::new(&n.vpc)).name("web");
    let tg = create(&sim, "web", &tg).await;
    let dup = TargetGroup::http(8080, VpcId::new(&n.vpc)).name("web");
    assert_eq!(refused(&sim, "dup", &dup).await, "DuplicateTargetGroupName");
    let nowhere = TargetGroup::http(80, VpcId::new("vpc-00000000000000000"));
    assert_eq!(refused(&sim, "nowhere", &nowhere).await, "ValidationError");
    let other = create(&sim, "other", &Vpc::new("10.1.0.0/16")).await;
    let foreign = create(&sim, "foreign", &TargetGroup::http(80, VpcId::new(&other))).await;

    let http = |lb: &str, port: u16, tg: &str| {
        Listener::http(LoadBalancerArn::new(lb), port, TargetGroupArn::new(tg))
    };
    let listener = create(&sim, "http", &http(&web, 80, &tg)).await;
    assert!(listener.contains(":listener/app/"), "{listener}");
    assert_eq!(
        refused(&sim, "again", &http(&web, 80, &tg)).await,
        "DuplicateListener"
    );
    assert_eq!(
        refused(&sim, "foreign", &http(&web, 81, &foreign)).await,
        "ValidationError"
    );
    assert_eq!(
        refused(&sim, "shared", &http(&api, 80, &tg)).await,
        "TargetGroupAssociationLimit"
    );
    let bad_cert = http(&web, 443, &tg).https(Arn::new("arn:aws:s3:::bucket"));
    assert_eq!(
        refused(&sim, "https", &bad_cert).await,
        "CertificateNotFound"
    );
    let cert = Arn::new("arn:aws:acm:us-east-1:123456789012:certificate/1a2b3c4d");
    let https = create(&sim, "https", &http(&web, 443, &tg).https(cert)).await;

    // The target group reports its load balancer; a listener keeps it.
    let out = read::<TargetGroup>(&sim, "web", &tg).await.unwrap();
    assert_eq!(out["load_balancer_arns"], serde_json::json!([web]));
    assert_eq!(
        code(delete::<TargetGroup>(&sim, "web", &tg).await),
        "ResourceInUse"
    );
    // ModifyListener moves a listener's port, not onto a taken one.
    assert_eq!(
        code(update(&sim, "https", &https, &http(&web, 80, &tg)).await),
        "DuplicateListener"
    );
    update(&sim, "http", &listener, &http(&web, 8080, &tg))
        .await
        .unwrap();
    assert_eq!(sim.peek(|c| c.listeners[&listener].port), 8080);
    // ModifyTargetGroup changes the health check in place.
    let checked = TargetGroup::http(80, VpcId::new(&n.vpc))
        .name("web")
        .health_check(HealthCheck::http("/healthz"));
    update(&sim, "web", &tg, &checked).await.unwrap();
    assert_eq!(
        sim.peek(|c| c.target_groups[&tg].health_check.path.clone()),
        "/healthz"
    );
    assert_eq!(sim.api_calls()["ModifyTargetGroup"], 1);

    // Deleting the load balancer deletes its listeners.
    delete::<LoadBalancer>(&sim, "web", &web).await.unwrap();
    assert!(read::<Listener>(&sim, "http", &listener).await.is_none());
    delete::<Listener>(&sim, "https", &https).await.unwrap();
    delete::<TargetGroup>(&sim, "web", &tg).await.unwrap();
    delete::<TargetGroup>(&sim, "foreign", &foreign)
        .await
        .unwrap();
    delete::<LoadBalancer>(&sim, "api", &api).await.unwrap();
    let left = sim.resource_counts();
    assert!(
        left.keys().all(|k| k.starts_with("aws:ec2:")),
        "only the network is left: {left:?}"
    );
}
