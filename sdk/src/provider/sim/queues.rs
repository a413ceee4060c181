//! The test-only queue type ([`crate::testing::queue::Queue`]) in the
//! simulated cloud, with SQS's rules: a queue is found by its URL, its ARN
//! is `arn:aws:sqs:<region>:<account>:<name>`; CreateQueue with the name of
//! an existing queue answers that queue when the attributes agree and
//! `QueueAlreadyExists` when they don't; a FIFO queue's name ends in
//! `.fifo`; a dead-letter target must exist and be of the same kind
//! (standard or FIFO); deleting a queue that is another's dead-letter target
//! is allowed, as in SQS. It is this type's whole simulator side: its table
//! and its dispatch come from its registry line.

use super::SimProvider;
use super::cloud::{ACCOUNT_ID, Cloud, Done};
use super::dispatch::{Simulated, resolved};
use super::table::{Record, facts};
use crate::provider::ProviderError;
use crate::resource::{CloudId, Tags, Urn};
use crate::testing::queue::{Queue, QueueOutputs, QueueUrl};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct QueueRec {
    pub name: String,
    pub fifo: bool,
    pub visibility_timeout: u32,
    /// The ARN of the dead-letter target.
    pub dead_letter_target: Option<String>,
    pub tags: Tags,
}

facts!(
    QueueRec for Queue, "GetQueueAttributes": "queues",
    not found "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.",
    tags "TagQueue", "UntagQueue"
);

impl Record for QueueRec {}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new("InvalidParameterValue", message)
}

impl Cloud {
    fn queue_url(&self, name: &str) -> String {
        format!(
            "https://sqs.{}.amazonaws.com/{ACCOUNT_ID}/{name}",
            self.region
        )
    }

    /// Checks a dead-letter target for a queue of kind `fifo`.
    fn check_dead_letter_target(&self, arn: &str, fifo: bool) -> Done {
        let target = self
            .queues
            .values()
            .find(|q| self.arn("sqs", &q.name).as_str() == arn);
        match target {
            None => Err(invalid(format!(
                "Value {{\"deadLetterTargetArn\":\"{arn}\"}} for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist."
            ))),
            Some(t) if t.fifo != fifo => Err(invalid(
                "Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.",
            )),
            Some(_) => Ok(()),
        }
    }

    /// CreateQueue: the URL of the new queue, or of the existing one of that
    /// name if its attributes agree.
    fn create_queue(&mut self, rec: QueueRec) -> Result<String, ProviderError> {
        if rec.fifo != rec.name.ends_with(".fifo") {
            return Err(invalid(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length",
            ));
        }
        if let Some(target) = &rec.dead_letter_target {
            self.check_dead_letter_target(target, rec.fifo)?;
        }
        let url = self.queue_url(&rec.name);
        if let Some(existing) = self.queues.find(&url) {
            if existing.visibility_timeout != rec.visibility_timeout
                || existing.fifo != rec.fifo
                || existing.dead_letter_target != rec.dead_letter_target
            {
                return Err(ProviderError::new(
                    "QueueAlreadyExists",
                    format!(
                        "A queue already exists with the same name and a different value for attribute(s) of {}",
                        rec.name
                    ),
                ));
            }
            return Ok(url);
        }
        self.queues.insert(url.clone(), rec);
        Ok(url)
    }
}

#[async_trait]
impl Simulated for Queue {
    fn outputs(cloud: &Cloud, q: &QueueRec) -> QueueOutputs {
        QueueOutputs {
            id: QueueUrl::from_cloud(cloud.queue_url(&q.name)),
            arn: cloud.arn("sqs", &q.name),
            messages: 0,
        }
    }

    fn make(sim: &SimProvider, urn: &Urn, props: &Self) -> Result<String, ProviderError> {
        let target = match &props.dead_letter_target {
            Some(t) => Some(resolved(urn, "dead_letter_target", t)?.to_string()),
            None => None,
        };
        let rec = QueueRec {
            name: props.name.clone(),
            fifo: props.fifo,
            visibility_timeout: props.visibility_timeout,
            dead_letter_target: target,
            tags: props.tags.clone(),
        };
        sim.api("CreateQueue", |c, _| c.create_queue(rec))
    }

    /// SetQueueAttributes: the visibility timeout and the redrive policy.
    fn modify(sim: &SimProvider, urn: &Urn, id: &str, props: &Self) -> Done {
        let target = match &props.dead_letter_target {
            Some(t) => Some(resolved(urn, "dead_letter_target", t)?.to_string()),
            None => None,
        };
        sim.api("SetQueueAttributes", |c, _| {
            let fifo = c.queues.get(id)?.fifo;
            if let Some(t) = &target {
                c.check_dead_letter_target(t, fifo)?;
            }
            let q = c.queues.get_mut(id)?;
            q.visibility_timeout = props.visibility_timeout;
            q.dead_letter_target = target;
            Ok(())
        })
    }

    fn remove(sim: &SimProvider, id: &str) -> Done {
        sim.api("DeleteQueue", |c, _| c.queues.remove(id).map(|_| ()))
    }
}
