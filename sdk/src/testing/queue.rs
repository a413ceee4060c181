//! A resource type that exists only in keel's own tests: a message queue
//! shaped like SQS's, declared with the same derive every real type uses.
//! It is the proof that a type is one declaration, one implementation per
//! provider and one registry line (the test-only entry of
//! `registry::simulated_types!`); the simulator implements it in
//! `provider::sim::queues`. Its fields carry
//! each kind of rule: `name` is immutable (replacing a queue would lose its
//! messages), `fifo` forces replacement, the dead-letter target is another
//! queue's output.

// The id macro declares public items (some unused here); this type is
// crate-private.
#![allow(unreachable_pub, dead_code)]

use crate::resource::{Arn, FieldError, Input, Tags, cloud_id};
use keel_macros::{Outputs, Resource};
use serde::{Deserialize, Serialize};

cloud_id!(
    /// A queue's URL, keel's id for it.
    QueueUrl, "https"
);

/// A message queue.
#[derive(Clone, Debug, Serialize, Deserialize, Resource)]
#[resource(token = "test:sqs:Queue", outputs = QueueOutputs, validate = Self::validate_fields)]
pub(crate) struct Queue {
    /// The queue's name; FIFO queues' names end in `.fifo`.
    #[resource(immutable)]
    pub name: String,
    /// First-in-first-out delivery.
    #[serde(default)]
    #[resource(replace)]
    pub fifo: bool,
    /// Seconds a received message stays hidden (0 to 43200).
    #[serde(default = "default_visibility")]
    pub visibility_timeout: u32,
    /// Where messages go after failing too often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_target: Option<Input<Arn>>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

fn default_visibility() -> u32 {
    30
}

impl Queue {
    /// A standard queue called `name`.
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            fifo: false,
            visibility_timeout: default_visibility(),
            dead_letter_target: None,
            tags: Tags::new(),
        }
    }

    fn validate_fields(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let base = self.name.strip_suffix(".fifo").unwrap_or(&self.name);
        if base.is_empty()
            || self.name.len() > 80
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errors.push(FieldError::new(
                "name",
                format!(
                    "`{}`: 1 to 80 letters, digits, hyphens and underscores",
                    self.name
                ),
            ));
        }
        if self.fifo != self.name.ends_with(".fifo") {
            errors.push(FieldError::new(
                "name",
                "a FIFO queue's name ends in `.fifo`, and only a FIFO queue's does",
            ));
        }
        if self.visibility_timeout > 43_200 {
            errors.push(FieldError::new(
                "visibility_timeout",
                format!("{} s: at most 43200 (12 hours)", self.visibility_timeout),
            ));
        }
        errors
    }
}

/// What the queue service reports for a queue.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Outputs)]
pub(crate) struct QueueOutputs {
    /// The queue URL.
    pub id: QueueUrl,
    /// The queue's ARN.
    pub arn: Arn,
    /// Messages waiting.
    pub messages: u64,
}

#[cfg(test)]
mod tests {
    //! The type end to end on the simulator, through the library operations.
    use super::Queue;
    use crate::engine::EngineError;
    use crate::ops;
    use crate::plan::{Action, PlanError};
    use crate::provider::sim::{SimLatency, SimProvider};
    use crate::state::MemoryStore;
    use crate::{Resource, Stack};
    use std::sync::Arc;

    fn stack(visibility: u32, name: &str) -> (Stack, crate::Urn) {
        let mut s = Stack::new("queues");
        let dlq = s.add("dead", Queue::new("orders-dead"));
        let mut main = Queue::new(name);
        main.visibility_timeout = visibility;
        main.dead_letter_target = Some(dlq.arn().into());
        let main = s.add("orders", main);
        s.export("url", main.id());
        (s, main.urn().clone())
    }

    #[tokio::test]
    async fn a_test_only_type_goes_end_to_end() {
        let sim = SimProvider::in_memory().with_latency(SimLatency::none());
        let provider: Arc<dyn crate::provider::Provider> = Arc::new(sim.clone());
        let store = MemoryStore::new("queues");
        let opts = ops::Options::new();
        // Create: the dead-letter queue first, its ARN flows into the other.
        let (s, main) = stack(30, "orders");
        let report = ops::up(&s, provider.clone(), Box::new(store.clone()), &opts)
            .await
            .unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(report.preview.plan.summary().create, 2);
        let dead = crate::Urn::new("queues", Queue::TYPE, "dead");
        assert_eq!(
            report.preview.plan.step(&main).unwrap().dependencies,
            [dead]
        );
        let applied = report.applied.unwrap();
        assert_eq!(
            applied.outputs["url"],
            "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
        );
        assert_eq!(sim.resource_counts()[Queue::TYPE], 2);

        // No change, then an in-place update.
        let again = ops::preview(&s, provider.clone(), Box::new(store.clone()), &opts)
            .await
            .unwrap();
        assert!(!again.plan.summary().has_changes());
        let (s2, _) = stack(60, "orders");
        let report = ops::up(&s2, provider.clone(), Box::new(store.clone()), &opts)
            .await
            .unwrap();
        assert_eq!(
            report.preview.plan.step(&main).unwrap().action,
            Action::Update
        );
        assert!(report.succeeded());

        // Renaming is refused before any call: the name is immutable.
        let calls = sim.mutating_calls();
        let (renamed, _) = stack(60, "orders-v2");
        let err = ops::up(&renamed, provider.clone(), Box::new(store.clone()), &opts)
            .await
            .unwrap_err();
        match &err {
            EngineError::Plan(PlanError::Immutable(refused)) => {
                assert_eq!(refused.urn, main);
                assert_eq!(refused.field, "name");
            }
            other => panic!("expected a refused change, got {other}"),
        }
        assert_eq!(sim.mutating_calls(), calls);

        // A bad value is a declaration error naming the field.
        let (bad, _) = stack(50_000, "orders");
        let err = ops::check(&bad).unwrap_err();
        assert!(err.to_string().contains("visibility_timeout"), "{err}");

        // Destroy.
        let gone = ops::destroy(&s2, provider.clone(), Box::new(store.clone()), &opts)
            .await
            .unwrap();
        assert!(gone.succeeded());
        assert_eq!(sim.resource_count(), 0);
    }
}
