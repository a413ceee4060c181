//! MIME multipart user data (`Content-Type: multipart/mixed;
//! boundary=…`), as cloud-init splits it: each part's content type and its
//! body, base64-decoded when `Content-Transfer-Encoding` says so.

use base64::Engine;

/// One part: its content type (lower case, no parameters) and body.
#[derive(Clone, Debug)]
pub(super) struct Part {
    pub content_type: String,
    pub body: String,
}

/// Whether `text` starts with MIME headers.
pub(super) fn is_mime(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("").to_ascii_lowercase();
    first.starts_with("content-type:") || first.starts_with("mime-version:")
}

/// Headers (names lower case, continuation lines unfolded) and the body.
fn split_headers(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = text
        .split_once("\n\n")
        .unwrap_or((text.trim_end_matches('\n'), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, body)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A parameter of a header value (`boundary="x"`).
fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a multipart document, each read or the reason it can't
/// be; `Err` if the document itself can't be split.
pub(super) fn parts(text: &str) -> Result<Vec<Result<Part, String>>, String> {
    let (headers, body) = split_headers(text);
    let content_type = header(&headers, "content-type").unwrap_or("");
    let boundary = param(content_type, "boundary").ok_or_else(|| {
        format!("MIME user data whose Content-Type `{content_type}` names no boundary")
    })?;
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        let l = line.trim_end();
        if l == open || l == close {
            if let Some(p) = current.take() {
                out.push(part(&p, out.len() + 1));
            }
            if l == close {
                break;
            }
            current = Some(String::new());
        } else if let Some(p) = current.as_mut() {
            p.push_str(line);
            p.push('\n');
        }
    }
    if let Some(p) = current {
        out.push(part(&p, out.len() + 1));
    }
    Ok(out)
}

/// Part number `n`, decoded.
fn part(text: &str, n: usize) -> Result<Part, String> {
    let (headers, body) = split_headers(text);
    let full_type = header(&headers, "content-type").unwrap_or("text/plain");
    let content_type = full_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = header(&headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/") {
        // a nested archive keeps its own boundary
        return Ok(Part {
            content_type,
            body: text.to_string(),
        });
    }
    let body = match encoding.as_str() {
        "7bit" | "8bit" | "binary" => body.to_string(),
        "base64" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .map_err(|_| format!("MIME part {n} ({content_type}) isn't valid base64"))?;
            String::from_utf8(bytes).map_err(|_| {
                format!(
                    "MIME part {n} ({content_type}) is binary (compressed?), which keel can't read"
                )
            })?
        }
        other => {
            return Err(format!(
                "MIME part {n} ({content_type}) is encoded `{other}`, which keel can't read"
            ));
        }
    };
    if content_type.contains("gzip") {
        return Err(format!(
            "MIME part {n} ({content_type}) is compressed, which keel can't read"
        ));
    }
    Ok(Part { content_type, body })
}
