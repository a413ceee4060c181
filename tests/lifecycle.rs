//! A stack's whole life on the simulator: create, no-op, in-place update,
//! replacement (delete-before-create and create-before-delete), destroy.

use keel::engine::{Event, EventLog};
use keel::plan::Action;
use keel::prelude::*;
use keel::provider::sim::{SimLatency, SimProvider};
use keel::testing::{Op, TestProvider};
use keel_tests::{destroy, plan, state_dir, up};
use std::sync::Arc;

struct Shape {
    az: &'static str,
    public_ip: bool,
    sg_description: &'static str,
}

const START: Shape = Shape {
    az: "us-east-1a",
    public_ip: false,
    sg_description: "web servers",
};

fn stack(shape: &Shape) -> Stack {
    let mut s = Stack::new("life");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let subnet = s.add(
        "app",
        Subnet::new(vpc.id(), "10.0.1.0/24", shape.az).map_public_ip_on_launch(shape.public_ip),
    );
    let sg = s.add(
        "web",
        SecurityGroup::new(vpc.id(), shape.sg_description)
            .ingress(Rule::tcp(443).cidr("0.0.0.0/0")),
    );
    s.add("app", RouteTable::new(vpc.id()).associate(subnet.id()));
    s.add(
        "web",
        LaunchTemplate::new("ami-0123456789abcdef0", "t3.micro").security_group(sg.id()),
    );
    s.export("subnet_id", subnet.id());
    s
}

fn urn(ty: &str, name: &str) -> Urn {
    Urn::new("life", ty, name)
}

#[tokio::test]
async fn create_noop_update_replace_destroy() {
    let dir = state_dir();
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let provider = TestProvider::new(sim.clone());
    let shared: Arc<dyn keel::provider::Provider> = Arc::new(provider.clone());

    // Create.
    let s = stack(&START);
    let (p, report) = up(&s, shared.clone(), dir.path(), 4).await;
    assert_eq!(p.summary().create, 5);
    assert!(report.succeeded(), "{report:?}");
    let subnet_id = report.outputs["subnet_id"].as_str().unwrap().to_string();
    assert!(subnet_id.starts_with("subnet-"), "{subnet_id}");
    assert_eq!(provider.calls(Op::Create), 5);

    // Every resource in state carries the keel tags.
    {
        let store = keel::state::LocalStore::open(dir.path(), "life").unwrap();
        let d = keel::engine::Deployment::open(&s, shared.clone(), Box::new(store)).unwrap();
        let snapshot = d.snapshot();
        assert_eq!(snapshot.resources.len(), 5);
        for r in &snapshot.resources {
            assert_eq!(r.inputs["tags"][URN_TAG], r.urn.to_string());
            assert_eq!(r.inputs["tags"][STACK_TAG], "life");
        }
    }

    // Unchanged program: nothing to do, and no provider write calls.
    let before = provider.mutating_calls();
    let (p, report) = up(&s, shared.clone(), dir.path(), 4).await;
    assert!(!p.summary().has_changes(), "{:?}", p.summary());
    assert_eq!(p.summary().same, 5);
    assert!(report.succeeded());
    assert_eq!(provider.mutating_calls(), before);

    // In-place update.
    let s = stack(&Shape {
        public_ip: true,
        ..START
    });
    let p = plan(&s, shared.clone(), dir.path());
    let step = p.step(&urn("aws:ec2:Subnet", "app")).unwrap();
    assert_eq!(step.action, Action::Update);
    assert_eq!(step.changes.len(), 1);
    assert_eq!(step.changes[0].path, "map_public_ip_on_launch");
    assert_eq!(p.summary().update, 1);
    let (_, report) = up(&s, shared.clone(), dir.path(), 4).await;
    assert!(report.succeeded());
    assert_eq!(
        report.outputs["subnet_id"],
        subnet_id.as_str(),
        "an update keeps the id"
    );

    // Replacement, delete before create (a subnet's block can't exist twice):
    // the route table's association follows the new subnet.
    let s = stack(&Shape {
        az: "us-east-1b",
        public_ip: true,
        ..START
    });
    let p = plan(&s, shared.clone(), dir.path());
    let step = p.step(&urn("aws:ec2:Subnet", "app")).unwrap();
    assert_eq!(step.action, Action::Replace);
    assert!(step.delete_before_replace);
    assert!(
        step.changes
            .iter()
            .any(|c| c.path == "availability_zone" && c.forces_replacement)
    );
    let rt = p.step(&urn("aws:ec2:RouteTable", "app")).unwrap();
    assert_eq!(rt.action, Action::Update);
    assert!(
        rt.changes
            .iter()
            .any(|c| c.path == "subnet_ids[0]" && c.after_unknown)
    );
    let (_, report) = up(&s, shared.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");
    let new_subnet = report.outputs["subnet_id"].as_str().unwrap().to_string();
    assert_ne!(new_subnet, subnet_id);
    assert!(!plan(&s, shared.clone(), dir.path()).summary().has_changes());

    // Replacement, create before delete: a new security group, the launch
    // template moves to it, then the old group is deleted.
    let s2 = stack(&Shape {
        az: "us-east-1b",
        public_ip: true,
        sg_description: "web servers, v2",
    });
    let log = Arc::new(EventLog::default());
    let store = keel::state::LocalStore::open(dir.path(), "life").unwrap();
    let mut d = keel::engine::Deployment::open(&s2, shared.clone(), Box::new(store))
        .unwrap()
        .with_events(log.clone());
    let p = d.plan().unwrap();
    let sg = urn("aws:ec2:SecurityGroup", "web");
    let lt = urn("aws:ec2:LaunchTemplate", "web");
    assert_eq!(p.step(&sg).unwrap().action, Action::Replace);
    assert!(!p.step(&sg).unwrap().delete_before_replace);
    assert_eq!(p.step(&lt).unwrap().action, Action::Update);
    let report = d.apply(&p, Default::default()).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    let finished: Vec<(Urn, Action)> = log
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Finished { urn, action, .. } => Some((urn, action)),
            _ => None,
        })
        .collect();
    let pos = |u: &Urn, a: Action| {
        finished
            .iter()
            .position(|(x, y)| x == u && *y == a)
            .unwrap()
    };
    assert!(pos(&sg, Action::Replace) < pos(&lt, Action::Update));
    assert!(pos(&lt, Action::Update) < pos(&sg, Action::Delete));
    drop(d);

    // Destroy: nothing left in state or in the simulated cloud.
    let (p, report) = destroy(&s2, shared.clone(), dir.path()).await;
    assert_eq!(p.summary().delete, 5);
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(sim.resource_count(), 0);
    let store = keel::state::LocalStore::open(dir.path(), "life").unwrap();
    let d = keel::engine::Deployment::open(&s2, shared, Box::new(store)).unwrap();
    assert!(d.snapshot().resources.is_empty());
}

fn ecs(cluster: &str, template: &str) -> Stack {
    let mut s = Stack::new("rename");
    let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
    let subnet = s.add("hosts", Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"));
    let c = s.add("app", EcsCluster::new().name(cluster));
    let lt = s.add(
        template,
        LaunchTemplate::new("ami-0123456789abcdef0", "t3.micro").user_data(
            c.name()
                .map(|n| format!("#!/bin/bash\necho ECS_CLUSTER={n} >> /etc/ecs/ecs.config\n")),
        ),
    );
    s.add(
        "hosts",
        AutoScalingGroup::new(lt.id(), 1, 1).subnet(subnet.id()),
    );
    s
}

#[tokio::test]
async fn renaming_a_cluster_and_moving_the_group_to_a_new_template_in_one_run() {
    // The cluster is replaced delete-before-create; the group is updated to
    // a template that depends on the new cluster, while the old template
    // (which used the old cluster) is deleted. Ordering all of that must not
    // deadlock the execution graph.
    let dir = state_dir();
    let provider: Arc<dyn keel::provider::Provider> =
        Arc::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let (_, report) = up(&ecs("c1", "lt1"), provider.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");
    let next = ecs("c2", "lt2");
    let p = plan(&next, provider.clone(), dir.path());
    let s = p.summary();
    assert_eq!(
        (s.replace, s.create, s.update, s.delete),
        (1, 1, 1, 1),
        "{}",
        keel::plan::render_text(&p)
    );
    let (_, report) = up(&next, provider.clone(), dir.path(), 4).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(!plan(&next, provider, dir.path()).summary().has_changes());
}

#[tokio::test]
async fn one_declared_stack_plans_from_many_threads_at_once() {
    // Planning never writes into the stack: a plan against the deployed
    // state (everything known, user data built from the cluster's name) and
    // a plan against an empty state (everything unknown) run side by side on
    // the same `Stack` and each always sees its own state only.
    let stack = ecs("c1", "lt1");
    let provider: Arc<dyn keel::provider::Provider> =
        Arc::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let deployed = keel::state::MemoryStore::new("rename");
    let mut d =
        keel::engine::Deployment::open(&stack, provider.clone(), Box::new(deployed.clone()))
            .unwrap();
    let report = d
        .apply(&d.plan().unwrap(), Default::default())
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    drop(d);

    let plan_against = |store: &keel::state::MemoryStore| {
        let d = keel::engine::Deployment::open(&stack, provider.clone(), Box::new(store.clone()))
            .unwrap();
        d.plan().unwrap().summary()
    };
    let empty = keel::state::MemoryStore::new("rename");
    std::thread::scope(|scope| {
        let fresh = scope.spawn(|| (0..50).map(|_| plan_against(&empty)).collect::<Vec<_>>());
        let known = scope.spawn(|| (0..50).map(|_| plan_against(&deployed)).collect::<Vec<_>>());
        for s in fresh.join().unwrap() {
            assert_eq!((s.create, s.same), (5, 0));
        }
        for s in known.join().unwrap() {
            assert_eq!((s.create, s.update, s.same), (0, 0, 5), "{s:?}");
        }
    });
}

/// The library operations, called from inside a tokio runtime as a
/// `#[tokio::main]` program would: async `up`, a blocking `preview` from
/// the same runtime's thread, `refresh` after an out-of-band delete, `up`
/// repairing it, `destroy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_operations_inside_a_runtime() {
    use keel::ops;
    use keel::provider::{DeleteRequest, Provider};
    use keel::state::{MemoryStore, StateStore};

    let s = stack(&START);
    let sim = SimProvider::in_memory().with_latency(SimLatency::none());
    let provider: Arc<dyn Provider> = Arc::new(sim.clone());
    let store = MemoryStore::new("life");
    let opts = ops::Options::new().parallel(4);

    let report = ops::up(&s, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.preview.plan.summary().create, 5);
    let applied = report.applied.unwrap();
    assert!(
        applied.outputs["subnet_id"]
            .as_str()
            .unwrap()
            .starts_with("subnet-")
    );

    // Blocking, from a thread of the running runtime.
    let preview =
        ops::blocking::preview(&s, provider.clone(), Box::new(store.clone()), &opts).unwrap();
    assert!(!preview.plan.summary().has_changes());
    assert!(preview.checks.findings.is_empty());
    assert_eq!(preview.drift.as_ref().map(|d| d.read), Some(5));

    // Someone deletes the launch template outside keel.
    let lt = urn("aws:ec2:LaunchTemplate", "web");
    let recorded = store.clone().load().unwrap().get(&lt).unwrap().clone();
    provider
        .delete(DeleteRequest {
            urn: lt.clone(),
            id: recorded.id.clone(),
            inputs: recorded.inputs.clone(),
            outputs: recorded.outputs.clone(),
        })
        .await
        .unwrap();
    let drift = ops::refresh(&s, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(
        matches!(&drift.drift[..], [keel::engine::Drift::Gone { urn, .. }] if urn == &lt),
        "{drift:?}"
    );
    let repaired = ops::up(&s, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    let summary = repaired.preview.plan.summary();
    assert_eq!((summary.create, summary.same), (1, 4));
    assert!(repaired.succeeded());

    let gone = ops::destroy(&s, provider.clone(), Box::new(store.clone()), &opts)
        .await
        .unwrap();
    assert!(gone.succeeded());
    assert_eq!(sim.resource_count(), 0);
}

/// An invalid declaration is refused by every operation before state or
/// the provider is touched; failing checks block `up` with no provider call.
#[tokio::test]
async fn operations_refuse_bad_declarations_and_failed_checks() {
    use keel::ops;
    use keel::state::MemoryStore;

    let mut bad = Stack::new("bad");
    bad.add("main", Vpc::new("10.0.0.0/33"));
    let counted = TestProvider::new(SimProvider::in_memory().with_latency(SimLatency::none()));
    let provider: Arc<dyn keel::provider::Provider> = Arc::new(counted.clone());
    let store = MemoryStore::new("bad");
    let err = ops::up(
        &bad,
        provider.clone(),
        Box::new(store.clone()),
        &Default::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, keel::engine::EngineError::Declaration(e) if e.0.len() == 1),
        "{err}"
    );
    assert!(err.to_string().contains("cidr_block"), "{err}");
    assert!(ops::check(&bad).is_err());

    // A private subnet whose instances can't reach ECS: E001 blocks `up`.
    let mut broken = Stack::new("broken");
    let vpc = broken.add("main", Vpc::new("10.0.0.0/16"));
    let private = broken.add(
        "private",
        Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"),
    );
    let cluster = broken.add("app", EcsCluster::new());
    let profile = broken.add(
        "ecs",
        InstanceProfile::new(RoleName::new("ecsInstanceRole")),
    );
    let lt =
        broken.add(
            "hosts",
            LaunchTemplate::new("ami-0123456789abcdef0", "t3.small")
                .iam_instance_profile(profile.name())
                .user_data(cluster.name().map(|c| {
                    format!("#!/bin/bash\necho ECS_CLUSTER={c} >> /etc/ecs/ecs.config\n")
                })),
        );
    broken.add(
        "hosts",
        AutoScalingGroup::new(lt.id(), 1, 1).subnet(private.id()),
    );
    let report = ops::up(
        &broken,
        provider,
        Box::new(MemoryStore::new("broken")),
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(report.preview.blocked);
    assert_eq!(report.preview.checks.codes(), ["E001"]);
    assert!(report.applied.is_none() && !report.succeeded());
    assert_eq!(counted.mutating_calls(), 0);
    assert_eq!(
        counted.calls(Op::Read),
        0,
        "a blocked run doesn't even read"
    );
}
