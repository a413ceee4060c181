//! Policies as plain Rust: a [`Policy`] is a named function over the typed,
//! declared [`Stack`] that returns [`Violation`]s, each reported as a
//! [`Finding`] with the policy's name and severity. A stack registers
//! policies with [`Stack::policy`]; `keel::ops::check`, `preview` and `up`
//! run them next to the network checks (an error blocks like a network
//! error), and tests run them with [`Policy::check`] or
//! [`crate::testing::assert_policies`]. The policies teams ask for most are
//! in [`builtins`].

pub mod builtins;

use crate::analysis::{Finding, Severity, reach::Code};
use crate::resource::Urn;
use crate::stack::Stack;
use std::fmt;
use std::sync::Arc;

/// One resource breaking a policy: the resource, optionally the field, what
/// is wrong and how to fix it.
///
/// ```
/// use keel::policy::Violation;
/// use keel::prelude::*;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// let v = Violation::new(vpc.urn(), "DNS hostnames are off")
///     .field("enable_dns_hostnames")
///     .fix("call .dns_hostnames(true)");
/// assert_eq!(v.urn.name(), "main");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The resource that breaks the policy.
    pub urn: Urn,
    /// The field concerned, if one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it (empty if not given).
    pub fix: String,
}

impl Violation {
    /// A violation by the resource at `urn` (a [`crate::Handle`]'s or a
    /// [`crate::Declaration`]'s `urn()`).
    pub fn new(urn: &Urn, message: impl Into<String>) -> Self {
        Self {
            urn: urn.clone(),
            field: None,
            message: message.into(),
            fix: String::new(),
        }
    }

    /// Names the field concerned.
    ///
    /// ```
    /// use keel::policy::Violation;
    /// use keel::prelude::*;
    /// let urn = Urn::new("demo", "aws:ec2:Vpc", "main");
    /// assert_eq!(Violation::new(&urn, "m").field("tags").field.as_deref(), Some("tags"));
    /// ```
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Says how to fix it.
    ///
    /// ```
    /// use keel::policy::Violation;
    /// use keel::prelude::*;
    /// let urn = Urn::new("demo", "aws:ec2:Vpc", "main");
    /// assert_eq!(Violation::new(&urn, "m").fix("add a tag").fix, "add a tag");
    /// ```
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

type Rule = dyn Fn(&Stack) -> Vec<Violation> + Send + Sync;

/// A named rule over the declared stack, with a severity: an error blocks
/// `preview` and `up` like a network error, a warning is shown only.
///
/// ```
/// use keel::policy::{Policy, Violation};
/// use keel::analysis::Severity;
/// use keel::prelude::*;
/// let small_subnets = Policy::new("subnets-at-most-24", Severity::Error, |stack: &Stack| {
///     stack
///         .resources::<Subnet>()
///         .filter(|s| s.cidr_block.ends_with("/16"))
///         .map(|s| Violation::new(s.urn(), format!("subnet {} is a /16", s.name())).field("cidr_block"))
///         .collect()
/// });
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.add("all", Subnet::new(vpc.id(), "10.0.0.0/16", "us-east-1a"));
/// let findings = small_subnets.check(&stack);
/// assert_eq!(findings[0].code.as_str(), "P000");
/// assert_eq!(findings[0].policy.as_deref(), Some("subnets-at-most-24"));
/// assert_eq!(findings[0].field.as_deref(), Some("cidr_block"));
/// ```
#[derive(Clone)]
pub struct Policy {
    name: String,
    code: Code,
    severity: Severity,
    rule: Arc<Rule>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("code", &self.code)
            .field("severity", &self.severity)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A policy named `name` (shown in every finding it reports, next to
    /// the code `P000`) of the given severity.
    ///
    /// ```
    /// use keel::policy::Policy;
    /// use keel::analysis::Severity;
    /// use keel::prelude::*;
    /// let none = Policy::new("nothing", Severity::Warning, |_: &Stack| Vec::new());
    /// assert!(none.check(&Stack::new("demo")).is_empty());
    /// ```
    pub fn new(
        name: impl Into<String>,
        severity: Severity,
        rule: impl Fn(&Stack) -> Vec<Violation> + Send + Sync + 'static,
    ) -> Self {
        Self::with_code(Code::Policy, name, severity, rule)
    }

    /// A policy reporting its own code (the built-ins').
    pub(crate) fn with_code(
        code: Code,
        name: impl Into<String>,
        severity: Severity,
        rule: impl Fn(&Stack) -> Vec<Violation> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            code,
            severity,
            rule: Arc::new(rule),
        }
    }

    /// Its name.
    ///
    /// ```
    /// assert_eq!(keel::policy::builtins::nat_per_zone().name(), "nat-per-zone");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The code of its findings (`P000` for a program's own policies).
    ///
    /// ```
    /// assert_eq!(keel::policy::builtins::nat_per_zone().code().as_str(), "P004");
    /// ```
    pub fn code(&self) -> Code {
        self.code
    }

    /// Its severity.
    ///
    /// ```
    /// use keel::analysis::Severity;
    /// assert_eq!(keel::policy::builtins::nat_per_zone().severity(), Severity::Error);
    /// ```
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// The same policy with another severity (a built-in as a warning
    /// while a team migrates, say).
    ///
    /// ```
    /// use keel::analysis::Severity;
    /// use keel::policy::builtins;
    /// let soft = builtins::require_tag("team").with_severity(Severity::Warning);
    /// assert_eq!(soft.severity(), Severity::Warning);
    /// ```
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Runs the policy over `stack`: one finding per violation, with the
    /// policy's code, name and severity, in the order the rule returned them.
    ///
    /// ```
    /// use keel::policy::builtins;
    /// use keel::prelude::*;
    /// let mut stack = Stack::new("demo");
    /// stack.add("main", Vpc::new("10.0.0.0/16").tag("team", "net"));
    /// assert!(builtins::require_tag("team").check(&stack).is_empty());
    /// ```
    pub fn check(&self, stack: &Stack) -> Vec<Finding> {
        (self.rule)(stack)
            .into_iter()
            .map(|v| Finding {
                code: self.code,
                policy: Some(self.name.clone()),
                severity: self.severity,
                urn: v.urn,
                subnet: None,
                field: v.field,
                message: v.message,
                path: Vec::new(),
                blocked_at: None,
                fix: v.fix,
            })
            .collect()
    }
}
