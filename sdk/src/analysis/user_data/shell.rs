//! Reading a shell script for its writes to the agent's config, the way
//! bash runs it: quoting, comments, line continuations, `$VAR` expansion of
//! variables the script assigns literally, pipelines, redirections
//! (`>`, `>>`, `&>`), here-documents (`<<EOF`, `<<'EOF'`, `<<-EOF`) and
//! here-strings, and the commands that write files (`echo`, `printf`,
//! `cat`, `tee [-a]`, `sh -c '…'`). A write inside `if`/`case`/a loop/a
//! function or after `||` may not happen; a value computed at boot
//! (`$(…)`, a variable the script doesn't set), a script it fetches or runs
//! from a file (`curl … | bash`, `source x`, `bash x.sh`) or another
//! command changing the file (`sed -i`, `cp`) can't be followed: each of
//! those leaves the cluster unknown, saying what.

mod lex;

use super::ECS_CONFIG;
use super::config::{EcsConfig, Text};
use lex::{Cmd, Conn, Lexer, Part, Word};
use std::collections::BTreeMap;

/// Whether a `#!` line's interpreter is a POSIX shell.
pub(super) fn is_shell(interpreter: &str) -> bool {
    let mut words = interpreter.split_whitespace();
    let mut program = words.next().unwrap_or("");
    if program.ends_with("/env") {
        program = words.next().unwrap_or("");
    }
    is_shell_name(program.rsplit('/').next().unwrap_or(""))
}

fn is_shell_name(name: &str) -> bool {
    matches!(name, "bash" | "sh" | "dash" | "zsh" | "ksh")
}

/// Follows `script`'s writes to the agent's config into `config`.
pub(super) fn read(script: &str, config: &mut EcsConfig) {
    let mut reader = Reader {
        vars: BTreeMap::new(),
        frames: Vec::new(),
        pending_function: false,
        closed: None,
        config,
    };
    let mut lexer = Lexer::new(script);
    while let Some(line) = lexer.line() {
        if !reader.run_line(&line) {
            break;
        }
    }
}

/// A compound command the reader is inside.
enum Frame {
    /// Its body may not run: `if`, `case`, a loop, a function.
    Conditional(String),
    /// `{ …; }`: runs.
    Group,
}

struct Reader<'c> {
    vars: BTreeMap<String, Text>,
    frames: Vec<Frame>,
    /// `f()` or `function f` seen: the next `{` opens a function body.
    pending_function: bool,
    /// The keyword that closed a compound command at the start of the
    /// pipeline being run (whose redirections apply to that whole command).
    closed: Option<String>,
    config: &'c mut EcsConfig,
}

/// Commands that only read the files they name.
const READERS: &[&str] = &[
    "cat",
    "grep",
    "egrep",
    "test",
    "[",
    "[[",
    "ls",
    "stat",
    "chmod",
    "chown",
    "head",
    "tail",
    "wc",
    "diff",
    "less",
    "more",
    "touch",
    "echo",
    "printf",
    "file",
    "md5sum",
    "sha256sum",
];

fn render(cmds: &[Cmd]) -> String {
    let all: Vec<String> = cmds
        .iter()
        .map(|c| {
            let words: Vec<String> = c.words.iter().map(Word::raw).collect();
            words.join(" ")
        })
        .collect();
    let text = all.join(" | ");
    if text.chars().count() > 70 {
        let cut: String = text.chars().take(67).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// A variable name followed by `=`: the name and the value's start.
fn assignment(t: &Text) -> Option<(String, Text)> {
    let (name, _) = t.s.split_once('=')?;
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    ok.then(|| {
        let mut value = t.clone();
        value.s = t.s[name.len() + 1..].to_string();
        (name.to_string(), value)
    })
}

impl Reader<'_> {
    fn conditional(&self) -> Option<String> {
        self.frames.iter().rev().find_map(|f| match f {
            Frame::Conditional(why) => Some(why.clone()),
            Frame::Group => None,
        })
    }

    fn expand(&self, parts: &[Part]) -> Text {
        let mut t = Text::default();
        for p in parts {
            match p {
                Part::Lit(s) => t.push_str(s),
                Part::Var(name) => match self.vars.get(name) {
                    Some(v) => t.push_text(v),
                    None => t.push_hole(format!("${name}")),
                },
                Part::Hole(what) => t.push_hole(what.clone()),
            }
        }
        t
    }

    /// Runs one line; `false` once the script exits.
    fn run_line(&mut self, line: &lex::Line) -> bool {
        let mut after_test = false;
        for (conn, pipeline) in &line.items {
            let Some(first) = pipeline.first() else {
                continue;
            };
            let mut first = first.clone();
            if !self.keywords(&mut first) {
                after_test = false;
                continue;
            }
            let mut cmds = pipeline.clone();
            cmds[0] = first;
            let mut cond = self.conditional().map(|c| format!("inside {c}"));
            match conn {
                Conn::Or => cond = cond.or(Some("after `||`".into())),
                Conn::And if after_test => cond = cond.or(Some("after a test and `&&`".into())),
                _ => {}
            }
            after_test = cmds[0]
                .words
                .first()
                .and_then(Word::literal)
                .is_some_and(|w| {
                    matches!(w.as_str(), "[" | "[[" | "test") || w.starts_with("grep")
                });
            if !self.run_pipeline(&cmds, cond.as_deref(), &line.bodies) {
                return false;
            }
        }
        true
    }

    /// Strips and applies the keywords that start `cmd`; `false` if nothing
    /// of it is left to run.
    fn keywords(&mut self, cmd: &mut Cmd) -> bool {
        self.closed = None;
        if cmd.function {
            self.pending_function = true;
        }
        while let Some(word) = cmd.words.first().and_then(Word::literal) {
            match word.as_str() {
                "then" | "do" | "else" | "elif" | "!" | "time" => {}
                "if" | "while" | "until" => {
                    self.frames.push(Frame::Conditional(format!("`{word}`")))
                }
                "for" | "select" | "case" => {
                    self.frames.push(Frame::Conditional(format!("`{word}`")));
                    return false;
                }
                "fi" | "done" | "esac" | "}" => {
                    self.frames.pop();
                    self.closed = Some(word.clone());
                }
                "{" => {
                    let frame = if std::mem::take(&mut self.pending_function) {
                        Frame::Conditional("a function".into())
                    } else {
                        Frame::Group
                    };
                    self.frames.push(frame);
                }
                "function" => self.pending_function = true,
                _ if self.pending_function => {
                    // the function's name
                }
                _ => break,
            }
            cmd.words.remove(0);
        }
        !cmd.words.is_empty() || !cmd.redirs.is_empty()
    }

    fn run_pipeline(&mut self, cmds: &[Cmd], cond: Option<&str>, bodies: &[Vec<Part>]) -> bool {
        let shown = render(cmds);
        let mut input: Option<Text> = None;
        for (k, cmd) in cmds.iter().enumerate() {
            let mut words: Vec<Text> = cmd.words.iter().map(|w| self.expand(&w.parts)).collect();
            let mut assigns = Vec::new();
            while let Some(a) = words.first().and_then(assignment) {
                assigns.push(a);
                words.remove(0);
            }
            let mut stdin = input.take();
            let mut out_to = None;
            for r in &cmd.redirs {
                let target = r.target.as_ref().map(|w| self.expand(&w.parts));
                match (r.op.as_str(), r.body, target) {
                    (_, Some(b), _) => stdin = Some(self.expand(&bodies[b])),
                    ("<<<", _, Some(mut t)) => {
                        t.push_str("\n");
                        stdin = Some(t);
                    }
                    ("<", _, Some(t)) => {
                        stdin = Some(Text::hole(format!("the contents of {}", t.shown())))
                    }
                    (">" | ">|" | "&>", _, Some(t)) if r.fd.is_none_or(|f| f == 1) => {
                        out_to = Some((t, false))
                    }
                    (">>" | "&>>", _, Some(t)) if r.fd.is_none_or(|f| f == 1) => {
                        out_to = Some((t, true))
                    }
                    _ => {}
                }
            }
            if let (0, Some(closer), Some((target, _))) = (k, &self.closed, &out_to)
                && (target.s == ECS_CONFIG || !target.is_known())
            {
                self.config.unknown(format!(
                    "the output of a compound command (`… {closer} >…`) goes to {}",
                    target.shown()
                ));
                continue;
            }
            let output = if words.is_empty() {
                if k == 0 && cmds.len() == 1 {
                    for (name, value) in assigns {
                        self.assign(name, value, cond);
                    }
                }
                Text::default()
            } else {
                self.command(&mut words, stdin, cond, &shown, k > 0)
            };
            match out_to {
                Some((target, append)) => {
                    self.write(&target, &output, append, cond, &shown);
                    input = Some(Text::default());
                }
                None => input = Some(output),
            }
            if cond.is_none() && cmds.len() == 1 && words.first().is_some_and(|w| w.s == "exit") {
                return false;
            }
        }
        true
    }

    fn assign(&mut self, name: String, value: Text, cond: Option<&str>) {
        let value = match cond {
            None => value,
            Some(c) => Text::hole(format!("${name} (set {c})")),
        };
        self.vars.insert(name, value);
    }

    /// Runs one command of a pipeline, returning what it prints.
    fn command(
        &mut self,
        words: &mut Vec<Text>,
        stdin: Option<Text>,
        cond: Option<&str>,
        shown: &str,
        piped: bool,
    ) -> Text {
        strip_wrappers(words);
        let Some(first) = words.first() else {
            return Text::default();
        };
        if !first.is_known() {
            return Text::hole(format!("the output of `{shown}`"));
        }
        let name = basename(&first.s).to_string();
        let args = &words[1..];
        let foreign = |what: &str| format!("`{shown}` runs {what}, which keel can't read");
        match name.as_str() {
            "echo" => echo(args),
            "printf" => printf(args),
            "cat" if args.iter().all(|a| a.s.starts_with('-')) => {
                stdin.unwrap_or_else(|| Text::hole("cat's input"))
            }
            "tee" => {
                let input = stdin.unwrap_or_else(|| Text::hole("tee's input"));
                let append = args.iter().any(|a| a.s == "-a" || a.s == "--append");
                for file in args.iter().filter(|a| !a.s.starts_with('-')) {
                    self.write(file, &input, append, cond, shown);
                }
                input
            }
            "export" | "declare" | "typeset" | "local" | "readonly" => {
                for (name, value) in args.iter().filter_map(assignment) {
                    self.assign(name, value, cond);
                }
                Text::default()
            }
            "eval" => {
                let code = join(args);
                self.nested(&code, cond, &foreign("code built at boot"));
                Text::default()
            }
            "source" | "." => {
                let file = args.first().map(Text::shown).unwrap_or_default();
                if !file.starts_with("/etc/") {
                    self.config.unknown(foreign(&format!("the script {file}")));
                }
                Text::default()
            }
            n if is_shell_name(n) || n.starts_with("python") || n == "perl" || n == "ruby" => {
                let flags: &[&str] = if is_shell_name(n) {
                    &["-c"]
                } else {
                    &["-c", "-e"]
                };
                let inline = args.iter().position(|a| flags.contains(&a.s.as_str()));
                match (inline.and_then(|i| args.get(i + 1)), stdin) {
                    (Some(code), _) if is_shell_name(n) => {
                        self.nested(code, cond, &foreign("code built at boot"))
                    }
                    (Some(code), _) => {
                        if super::mentions_ecs(&code.s) {
                            self.config.unknown(foreign(&format!("a {n} program")));
                        }
                    }
                    (None, Some(input)) if !piped && is_shell_name(n) => {
                        self.nested(&input, cond, &foreign("a script built at boot"))
                    }
                    (None, _) => self.config.unknown(foreign("a script")),
                }
                Text::default()
            }
            _ => {
                self.other(&name, args, cond, shown);
                Text::hole(format!("the output of `{shown}`"))
            }
        }
    }

    /// Runs `code` as a script of its own (`sh -c`, `eval`).
    fn nested(&mut self, code: &Text, cond: Option<&str>, unreadable: &str) {
        if !code.is_known() {
            self.config.unknown(unreadable.to_string());
            return;
        }
        if cond.is_some() {
            if super::mentions_ecs(&code.s) {
                self.config
                    .unknown(format!("{unreadable} ({})", cond.unwrap_or_default()));
            }
            return;
        }
        read(&code.s, self.config);
    }

    /// A command keel doesn't model: only its effect on the agent's config
    /// counts.
    fn other(&mut self, name: &str, args: &[Text], cond: Option<&str>, shown: &str) {
        if !args.iter().any(|a| a.s == ECS_CONFIG) || READERS.contains(&name) {
            return;
        }
        if name == "rm" {
            self.write(
                &Text::literal(ECS_CONFIG),
                &Text::default(),
                false,
                cond,
                shown,
            );
        } else {
            self.config.unknown(format!(
                "`{shown}` changes {ECS_CONFIG} in a way keel can't follow"
            ));
        }
    }

    /// `content` written to file `target`.
    fn write(
        &mut self,
        target: &Text,
        content: &Text,
        append: bool,
        cond: Option<&str>,
        shown: &str,
    ) {
        if !target.is_known() {
            if content.s.contains("ECS_CLUSTER") || !content.is_known() {
                self.config.unknown(format!(
                    "`{shown}` writes to {}, a path computed at boot",
                    target.shown()
                ));
            }
            return;
        }
        if target.s != ECS_CONFIG {
            return;
        }
        match cond {
            None => self.config.write(content, append),
            Some(c) => self.config.write_maybe(
                content,
                append,
                &format!("`{shown}` writes {ECS_CONFIG} conditionally ({c})"),
            ),
        }
    }
}

/// Drops `sudo` (and its options), `command`, `exec`, `nohup` and `env`
/// (and its assignments) before the command they run.
fn strip_wrappers(words: &mut Vec<Text>) {
    loop {
        let Some(first) = words.first() else { return };
        match basename(&first.s).to_string().as_str() {
            "sudo" => {
                words.remove(0);
                while words.first().is_some_and(|w| w.s.starts_with('-')) {
                    let takes_value = matches!(words[0].s.as_str(), "-u" | "-g");
                    words.remove(0);
                    if takes_value && !words.is_empty() {
                        words.remove(0);
                    }
                }
            }
            "command" | "exec" | "nohup" => {
                words.remove(0);
            }
            "env" => {
                words.remove(0);
                while words
                    .first()
                    .is_some_and(|w| w.s.starts_with('-') || w.s.contains('='))
                {
                    words.remove(0);
                }
            }
            _ => return,
        }
    }
}

fn join(args: &[Text]) -> Text {
    let mut t = Text::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            t.push_str(" ");
        }
        t.push_text(a);
    }
    t
}

/// `echo [-neE] args…`: bash's echo (escapes only with `-e`).
fn echo(args: &[Text]) -> Text {
    let mut newline = true;
    let mut escapes = false;
    let mut rest = args;
    while let Some((flag, tail)) = rest.split_first() {
        let s = &flag.s;
        if !(flag.is_known()
            && s.len() > 1
            && s.starts_with('-')
            && s[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E')))
        {
            break;
        }
        for c in s[1..].chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        rest = tail;
    }
    let mut out = join(rest);
    if escapes {
        out.s = unescape(&out.s);
    }
    if newline {
        out.push_str("\n");
    }
    out
}

/// Backslash escapes as `echo -e` and `printf` read them.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `printf format args…` with `%s`-like conversions (the format repeats
/// while arguments remain, as in bash).
fn printf(args: &[Text]) -> Text {
    let Some((format, mut rest)) = args.split_first() else {
        return Text::default();
    };
    if !format.is_known() {
        return Text::hole(format!("printf's format `{}`", format.shown()));
    }
    let format = unescape(&format.s);
    let mut out = Text::default();
    loop {
        let mut used = false;
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.s.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                out.s.push('%');
                continue;
            }
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || "-+ #.".contains(*c))
            {
                chars.next();
            }
            chars.next();
            used = true;
            if let Some((arg, tail)) = rest.split_first() {
                out.push_text(arg);
                rest = tail;
            }
        }
        if !used || rest.is_empty() {
            return out;
        }
    }
}
