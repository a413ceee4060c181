//! A `#cloud-config` document's parts that can change the agent's config:
//! `write_files` entries for `/etc/ecs/ecs.config` (`content` as a block,
//! quoted or plain scalar; `encoding: b64`; `append`; `defer`), and the
//! shell commands of `bootcmd` and `runcmd` (strings run by `sh -c`, lists
//! run as they are). A dedicated reader of that much YAML (block mappings
//! and sequences, scalars, flow lists of scalars): the document is what
//! cloud-init parses, and keel only needs these keys.

use super::config::Text;
use super::{ECS_CONFIG, EcsConfig, Step};
use base64::Engine;

/// A `write_files` entry for the agent's config.
#[derive(Clone, Debug)]
pub(super) struct FileWrite {
    /// The content, or why it can't be read.
    content: Result<String, String>,
    append: bool,
}

impl FileWrite {
    pub(super) fn apply(&self, config: &mut EcsConfig) {
        match &self.content {
            Ok(text) => config.write(&Text::literal(text.as_str()), self.append),
            Err(what) => config.unknown(what.clone()),
        }
    }
}

/// What of a cloud-config document matters to the agent.
#[derive(Debug, Default)]
pub(super) struct Doc {
    pub bootcmd: Vec<Step>,
    /// Entries for the agent's config, with whether each is deferred.
    pub write_files: Vec<(FileWrite, bool)>,
    pub runcmd: Vec<Step>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// A plain scalar without a trailing comment.
fn plain(v: &str) -> &str {
    v.split(" #").next().unwrap_or("").trim()
}

pub(super) fn read(text: &str) -> Doc {
    let lines: Vec<&str> = text.lines().collect();
    let mut doc = Doc::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if blank(line) || indent(line) > 0 || line.starts_with('-') {
            continue;
        }
        let Some((key, inline)) = line.split_once(':') else {
            continue;
        };
        let start = i;
        while i < lines.len()
            && (blank(lines[i]) || indent(lines[i]) > 0 || lines[i].starts_with('-'))
        {
            i += 1;
        }
        let block = &lines[start..i];
        let inline = plain(inline);
        match key.trim() {
            "write_files" => {
                for item in items(block) {
                    if let Some(w) = file_write(&mapping(&item)) {
                        doc.write_files.push(w);
                    }
                }
            }
            k @ ("runcmd" | "bootcmd") => {
                let steps: Vec<Step> = if inline.starts_with('[') {
                    flow(inline).into_iter().map(Step::Script).collect()
                } else {
                    items(block).iter().map(|item| command(item)).collect()
                };
                if k == "runcmd" {
                    doc.runcmd.extend(steps);
                } else {
                    doc.bootcmd.extend(steps);
                }
            }
            _ => {}
        }
    }
    doc
}

/// The items of a block sequence, each as lines whose leading `- ` is
/// turned into spaces (so its mapping keys line up).
fn items(block: &[&str]) -> Vec<Vec<String>> {
    let Some(first) = block.iter().find(|l| !blank(l)) else {
        return Vec::new();
    };
    let at = indent(first);
    let mut out: Vec<Vec<String>> = Vec::new();
    for line in block {
        let is_item = !blank(line) && indent(line) == at && line[at..].starts_with('-');
        if is_item {
            out.push(vec![format!("{} {}", " ".repeat(at), &line[at + 1..])]);
        } else if let Some(item) = out.last_mut() {
            item.push(line.to_string());
        }
    }
    out
}

/// A block mapping's keys and scalar values (block scalars folded in).
fn mapping(item: &[String]) -> Vec<(String, String)> {
    let Some(first) = item.iter().find(|l| !blank(l)) else {
        return Vec::new();
    };
    let at = indent(first);
    let mut out = Vec::new();
    let mut k = 0;
    while k < item.len() {
        let line = &item[k];
        k += 1;
        if blank(line) || indent(line) != at {
            continue;
        }
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let mut value = value.trim().to_string();
        if let Some(tag) = value.strip_prefix("!!binary") {
            out.push(("encoding".to_string(), "b64".to_string()));
            value = tag.trim().to_string();
        }
        let body_start = k;
        while k < item.len() && (item[k].trim().is_empty() || indent(&item[k]) > at) {
            k += 1;
        }
        let body: Vec<&str> = item[body_start..k].iter().map(String::as_str).collect();
        out.push((key.trim().to_string(), scalar(&value, &body)));
    }
    out
}

/// A scalar whose text after the key is `head`, continued by `body`.
fn scalar(head: &str, body: &[&str]) -> String {
    if head.starts_with('|') || head.starts_with('>') {
        let at = body
            .iter()
            .find(|l| !l.trim().is_empty())
            .map_or(0, |l| indent(l));
        let mut lines: Vec<&str> = body.iter().map(|l| l.get(at..).unwrap_or("")).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let sep = if head.starts_with('>') { " " } else { "\n" };
        let mut text = lines.join(sep);
        if !head.contains('-') {
            text.push('\n');
        }
        return text;
    }
    let joined = std::iter::once(head)
        .chain(body.iter().map(|l| l.trim()))
        .collect::<Vec<_>>()
        .join(" ");
    let joined = joined.trim();
    if let Some(inner) = joined.strip_prefix('"') {
        let inner = inner.rsplit_once('"').map_or(inner, |(v, _)| v);
        return inner
            .replace("\\n", "\n")
            .replace("\\t", "\t")
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
    }
    if let Some(inner) = joined.strip_prefix('\'') {
        let inner = inner.rsplit_once('\'').map_or(inner, |(v, _)| v);
        return inner.replace("''", "'");
    }
    plain(joined).to_string()
}

/// The scalars of a flow sequence `[a, "b", 'c']`.
fn flow(text: &str) -> Vec<String> {
    let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in inner.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on"))
}

/// The entry if it writes the agent's config, and whether it is deferred.
fn file_write(entry: &[(String, String)]) -> Option<(FileWrite, bool)> {
    let get = |k: &str| entry.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v);
    if get("path")?.as_str() != ECS_CONFIG {
        return None;
    }
    let content = get("content").cloned().unwrap_or_default();
    let encoding = get("encoding").map_or(String::new(), |e| e.to_ascii_lowercase());
    let content = match encoding.as_str() {
        "" | "text/plain" => Ok(content),
        "b64" | "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.split_whitespace().collect::<String>())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                format!("the write_files entry for {ECS_CONFIG} isn't valid base64 text")
            }),
        other => Err(format!(
            "the write_files entry for {ECS_CONFIG} is encoded `{other}`, which keel can't read"
        )),
    };
    let w = FileWrite {
        content,
        append: truthy(get("append")),
    };
    Some((w, truthy(get("defer"))))
}

/// A `bootcmd`/`runcmd` item: a string (run by `sh -c`) or a list (run as
/// is, here quoted back into one command).
fn command(item: &[String]) -> Step {
    let first = item.first().map(|l| l.trim()).unwrap_or("");
    let rest: Vec<&str> = item.iter().skip(1).map(String::as_str).collect();
    if first.starts_with('[') {
        return Step::Script(quote_all(&flow(first)));
    }
    if first.starts_with('-') {
        let args: Vec<String> = items(&item.iter().map(String::as_str).collect::<Vec<_>>())
            .iter()
            .map(|a| {
                scalar(
                    a[0].trim(),
                    &a[1..].iter().map(String::as_str).collect::<Vec<_>>(),
                )
            })
            .collect();
        return Step::Script(quote_all(&args));
    }
    Step::Script(scalar(first, &rest))
}

fn quote_all(args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    quoted.join(" ")
}
