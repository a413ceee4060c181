//! The command line's side of resources that exist in the cloud but not in
//! state: the `adopt` and `import` commands, and the lines that tell the
//! user what crash recovery found and did before a run.

use super::{CliError, Printer};
use crate::engine::{Adoption, Recovered};
use crate::ops;
use crate::provider::Provider;
use crate::resource::Urn;
use crate::stack::ValidStack;
use crate::state::StateStore;
use serde_json::json;
use std::sync::Arc;

/// One line per operation a previous run left unfinished.
pub(super) fn print_recovered(printer: &Printer<'_>, recovered: &[Recovered], dry: bool) {
    let head = if dry {
        "recovery (preview: nothing recorded or deleted yet)"
    } else {
        "recovered"
    };
    for r in recovered {
        printer.text(&format!("{head}: {r}"));
    }
    if !recovered.is_empty() {
        printer.text("");
    }
}

/// `adopt`: every tagged resource of the program into state.
pub(super) async fn adopt(
    stack: ValidStack<'_>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + '_>,
    options: &ops::Options<'_>,
    printer: &Printer<'_>,
) -> Result<bool, CliError> {
    let report = ops::adopt(stack, provider, store, options).await?;
    let ambiguous = report
        .iter()
        .any(|a| matches!(a.outcome, Adoption::Ambiguous { .. }));
    if printer.json {
        let doc = json!({"stack": stack.name(), "adopted": report});
        printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(!ambiguous);
    }
    let mut counts = [0usize; 4];
    for a in &report {
        let line = match &a.outcome {
            Adoption::Adopted { id } => {
                counts[0] += 1;
                format!("    adopted    {} = {id}", a.urn)
            }
            Adoption::Recorded { id } => {
                counts[1] += 1;
                format!("    recorded   {} = {id} (already in state)", a.urn)
            }
            Adoption::NotFound => {
                counts[2] += 1;
                format!("    not found  {} (`up` will create it)", a.urn)
            }
            Adoption::Ambiguous { ids } => {
                counts[3] += 1;
                format!(
                    "    ambiguous  {}: {} resources carry its tag ({}); import the right one with `import {} <id>` and delete the others",
                    a.urn,
                    ids.len(),
                    ids.join(", "),
                    a.urn
                )
            }
        };
        printer.text(&line);
    }
    printer.text(&format!(
        "\n{} adopted, {} already in state, {} not found, {} ambiguous. Run `preview` to see what differs from the program.",
        counts[0], counts[1], counts[2], counts[3]
    ));
    Ok(!ambiguous)
}

/// `import <resource> <id>`: one live resource into state.
pub(super) async fn import(
    stack: ValidStack<'_>,
    provider: Arc<dyn Provider>,
    store: Box<dyn StateStore + '_>,
    options: &ops::Options<'_>,
    printer: &Printer<'_>,
    resource: &str,
    id: &str,
) -> Result<bool, CliError> {
    let urn = declared(stack, resource)?;
    ops::import(stack, provider, store, &urn, id, options).await?;
    if printer.json {
        let doc = json!({"stack": stack.name(), "imported": {"urn": urn, "id": id}});
        printer.line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        printer.text(&format!(
            "imported {urn} = {id}. Run `preview` to see what differs from the program."
        ));
    }
    Ok(true)
}

/// The declared URN `given` names: a full URN, `type::name`, or a name
/// that only one resource has.
fn declared(stack: ValidStack<'_>, given: &str) -> Result<Urn, CliError> {
    if let Ok(urn) = given.parse::<Urn>() {
        return Ok(urn);
    }
    let matches: Vec<&Urn> = stack
        .urns()
        .filter(|u| u.name() == given || format!("{}::{}", u.type_token(), u.name()) == given)
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(CliError::Refused(format!(
            "the program declares no resource `{given}`; give its URN, `type::name` or name (see `preview`)"
        ))),
        many => Err(CliError::Refused(format!(
            "`{given}` names {} resources ({}); give the URN",
            many.len(),
            many.iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
