//! Splitting a shell script into lines of pipelines, bash's way: words with
//! their quoting and expansions, operators, redirections and the bodies of
//! here-documents (read after the line that opens them).

/// A piece of a word.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Part {
    Lit(String),
    /// `$NAME` or `${NAME}`.
    Var(String),
    /// An expansion keel doesn't compute (`$(…)`, `` `…` ``, `$1`, `${x:-y}`).
    Hole(String),
}

/// A word: its pieces, and whether any of it was quoted.
#[derive(Clone, Debug, Default)]
pub(super) struct Word {
    pub parts: Vec<Part>,
    pub quoted: bool,
}

impl Word {
    /// The word if it is all literal.
    pub(super) fn literal(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The word as written, near enough for messages.
    pub(super) fn raw(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.clone(),
                Part::Var(n) => format!("${n}"),
                Part::Hole(h) => h.clone(),
            })
            .collect()
    }
}

/// A redirection: `[fd]op target`, or a here-document (`body` indexes
/// [`Line::bodies`]).
#[derive(Clone, Debug)]
pub(super) struct Redir {
    pub fd: Option<u32>,
    pub op: String,
    pub target: Option<Word>,
    pub body: Option<usize>,
}

/// A simple command.
#[derive(Clone, Debug, Default)]
pub(super) struct Cmd {
    pub words: Vec<Word>,
    pub redirs: Vec<Redir>,
    /// Written `name()`: a function definition.
    pub function: bool,
}

/// How a pipeline follows the one before it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Conn {
    Seq,
    And,
    Or,
}

/// One line of the script: its pipelines and its here-documents' bodies.
#[derive(Debug, Default)]
pub(super) struct Line {
    pub items: Vec<(Conn, Vec<Cmd>)>,
    pub bodies: Vec<Vec<Part>>,
}

pub(super) struct Lexer {
    c: Vec<char>,
    i: usize,
}

const OPS: [&str; 20] = [
    "&>>", "<<<", "<<-", "&&", "||", ";;", "&>", ">>", ">|", ">&", "<<", "<&", "<>", "|&", ";",
    "&", "|", ">", "<", "(",
];

fn is_name(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

impl Lexer {
    pub(super) fn new(text: &str) -> Self {
        Self {
            c: text.chars().collect(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn at(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, ch)| self.c.get(self.i + k) == Some(&ch))
    }

    /// The next line with anything on it.
    pub(super) fn line(&mut self) -> Option<Line> {
        let mut line = Line::default();
        let mut pipeline: Vec<Cmd> = Vec::new();
        let mut cmd = Cmd::default();
        let mut conn = Conn::Seq;
        let mut heredocs: Vec<(String, bool, bool)> = Vec::new();
        let mut awaiting: Option<(Option<u32>, String)> = None;
        let end_cmd = |pipeline: &mut Vec<Cmd>, cmd: &mut Cmd| {
            let c = std::mem::take(cmd);
            if !c.words.is_empty() || !c.redirs.is_empty() || c.function {
                pipeline.push(c);
            }
        };
        loop {
            while matches!(self.peek(), Some(' ' | '\t')) || self.at("\\\n") {
                self.i += if self.at("\\\n") { 2 } else { 1 };
            }
            let Some(ch) = self.peek() else {
                let nothing = cmd.words.is_empty() && cmd.redirs.is_empty() && pipeline.is_empty();
                if nothing && line.items.is_empty() {
                    return None;
                }
                break;
            };
            if ch == '\n' {
                self.i += 1;
                let empty = cmd.words.is_empty() && cmd.redirs.is_empty() && pipeline.is_empty();
                if empty && line.items.is_empty() && heredocs.is_empty() {
                    continue;
                }
                break;
            }
            if ch == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                continue;
            }
            let digits: String = self.c[self.i..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let fd = (!digits.is_empty()
                && matches!(self.c.get(self.i + digits.len()), Some('<' | '>')))
            .then(|| digits.parse().ok())
            .flatten();
            if fd.is_some() {
                self.i += digits.len();
            }
            if let Some(op) = OPS
                .iter()
                .find(|op| self.at(op))
                .copied()
                .or(self.at(")").then_some(")"))
            {
                self.i += op.len();
                match op {
                    "|" | "|&" => end_cmd(&mut pipeline, &mut cmd),
                    "&&" | "||" | ";" | ";;" | "&" => {
                        end_cmd(&mut pipeline, &mut cmd);
                        if !pipeline.is_empty() {
                            line.items.push((conn, std::mem::take(&mut pipeline)));
                        }
                        conn = match op {
                            "&&" => Conn::And,
                            "||" => Conn::Or,
                            _ => Conn::Seq,
                        };
                    }
                    "(" => {
                        while matches!(self.peek(), Some(' ' | '\t')) {
                            self.i += 1;
                        }
                        if self.peek() == Some(')') && cmd.words.len() == 1 {
                            self.i += 1;
                            cmd.function = true;
                        }
                    }
                    ")" => {}
                    _ => awaiting = Some((fd, op.to_string())),
                }
                continue;
            }
            let word = self.word();
            match awaiting.take() {
                Some((fd, op)) if op == "<<" || op == "<<-" => {
                    let delim: String = word.raw();
                    heredocs.push((delim, op == "<<-", word.quoted));
                    cmd.redirs.push(Redir {
                        fd,
                        op,
                        target: None,
                        body: Some(heredocs.len() - 1),
                    });
                }
                Some((fd, op)) => cmd.redirs.push(Redir {
                    fd,
                    op,
                    target: Some(word),
                    body: None,
                }),
                None => cmd.words.push(word),
            }
        }
        end_cmd(&mut pipeline, &mut cmd);
        if !pipeline.is_empty() {
            line.items.push((conn, pipeline));
        }
        for (delim, strip_tabs, quoted) in heredocs {
            let body = self.heredoc(&delim, strip_tabs);
            line.bodies.push(if quoted {
                vec![Part::Lit(body)]
            } else {
                Lexer::new(&body).expand_all()
            });
        }
        Some(line)
    }

    /// A here-document's body: the lines up to `delim`.
    fn heredoc(&mut self, delim: &str, strip_tabs: bool) -> String {
        let mut body = String::new();
        while self.i < self.c.len() {
            let end = self.c[self.i..]
                .iter()
                .position(|c| *c == '\n')
                .map_or(self.c.len(), |p| self.i + p);
            let text: String = self.c[self.i..end].iter().collect();
            self.i = (end + 1).min(self.c.len());
            let text = if strip_tabs {
                text.trim_start_matches('\t').to_string()
            } else {
                text
            };
            if text == delim {
                break;
            }
            body.push_str(&text);
            body.push('\n');
        }
        body
    }

    /// A here-document body with an unquoted delimiter: expansions and
    /// backslashes count, quotes don't.
    fn expand_all(&mut self) -> Vec<Part> {
        let mut w = Word::default();
        let mut lit = String::new();
        self.quoted_run(&mut w, &mut lit, None);
        flush(&mut w, &mut lit);
        w.parts
    }

    /// One word, up to unquoted blank or operator.
    fn word(&mut self) -> Word {
        let mut w = Word::default();
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => break,
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => self.i += 1,
                        Some(ch) => {
                            lit.push(ch);
                            self.i += 1;
                        }
                        None => {}
                    }
                }
                '\'' => {
                    w.quoted = true;
                    self.i += 1;
                    while let Some(ch) = self.peek() {
                        self.i += 1;
                        if ch == '\'' {
                            break;
                        }
                        lit.push(ch);
                    }
                }
                '"' => {
                    w.quoted = true;
                    self.i += 1;
                    self.quoted_run(&mut w, &mut lit, Some('"'));
                }
                '$' | '`' => {
                    flush(&mut w, &mut lit);
                    self.expansion(&mut w, &mut lit);
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush(&mut w, &mut lit);
        w
    }

    /// Double-quoted text (up to `close`), or a here-document body (to the
    /// end): `\` escapes only `$`, `` ` ``, `"`, `\` and newline.
    fn quoted_run(&mut self, w: &mut Word, lit: &mut String, close: Option<char>) {
        while let Some(c) = self.peek() {
            if Some(c) == close {
                self.i += 1;
                return;
            }
            match c {
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => self.i += 1,
                        Some(ch @ ('$' | '`' | '\\')) => {
                            lit.push(ch);
                            self.i += 1;
                        }
                        Some('"') if close.is_some() => {
                            lit.push('"');
                            self.i += 1;
                        }
                        _ => lit.push('\\'),
                    }
                }
                '$' | '`' => {
                    flush(w, lit);
                    self.expansion(w, lit);
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `$…` or `` `…` `` at the cursor.
    fn expansion(&mut self, w: &mut Word, lit: &mut String) {
        if self.peek() == Some('`') {
            self.i += 1;
            let start = self.i;
            while self.peek().is_some_and(|c| c != '`') {
                self.i += if self.peek() == Some('\\') { 2 } else { 1 };
            }
            let inner: String = self.c[start..self.i.min(self.c.len())].iter().collect();
            self.i += 1;
            w.parts.push(Part::Hole(format!("`{inner}`")));
            return;
        }
        self.i += 1; // `$`
        match self.peek() {
            Some('{') => {
                let inner = self.balanced('{', '}');
                w.parts.push(if is_name(&inner) {
                    Part::Var(inner)
                } else {
                    Part::Hole(format!("${{{inner}}}"))
                });
            }
            Some('(') => {
                let inner = self.balanced('(', ')');
                w.parts.push(Part::Hole(format!("$({inner})")));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.i += 1;
                }
                w.parts
                    .push(Part::Var(self.c[start..self.i].iter().collect()));
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.i += 1;
                w.parts.push(Part::Hole(format!("${c}")));
            }
            _ => lit.push('$'),
        }
    }

    /// The text between `open` at the cursor and its matching `close`.
    fn balanced(&mut self, open: char, close: char) -> String {
        let mut depth = 0;
        let start = self.i + 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    return self.c[start..self.i - 1].iter().collect();
                }
            }
        }
        self.c[start.min(self.c.len())..].iter().collect()
    }
}

fn flush(w: &mut Word, lit: &mut String) {
    if !lit.is_empty() {
        w.parts.push(Part::Lit(std::mem::take(lit)));
    }
}
