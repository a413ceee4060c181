//! A keel program with one secret, for `tests/secrets.rs`: an ECS cluster and
//! a launch template whose user data carries a token read from the
//! environment (`SECRET_STACK_TOKEN`), exported as `user_data`. The stack's
//! name comes from `SECRET_STACK_NAME`. It runs keel's command line, so the
//! test drives it as a user would, with the environment (AWS credentials,
//! `KEEL_SECRETS_KEY`) of a process of its own.

use keel::prelude::*;
use std::process::ExitCode;

fn main() -> ExitCode {
    let name = std::env::var("SECRET_STACK_NAME").unwrap_or_else(|_| "secret-stack".into());
    let token = std::env::var("SECRET_STACK_TOKEN").unwrap_or_default();
    let mut stack = Stack::new(name);
    let cluster = stack.add("app", EcsCluster::new());
    let user_data = Output::secret_value(token)
        .zip(&cluster.name())
        .map(|(token, cluster)| {
            format!(
                "#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\nexport APP_TOKEN={token}\n"
            )
        });
    stack.add(
        "hosts",
        LaunchTemplate::new("ami-0c55b159cbfafe1f0", "t3.small").user_data(user_data.clone()),
    );
    stack.export("cluster", cluster.name());
    stack.export("user_data", user_data);
    keel::cli::run(stack)
}
