//! Notice texts, kept in `config/templates/NAME.txt` so the bureau can reword them without a
//! build. A template's first line is `Subject: …`; the rest is the body. `{name}` placeholders
//! are filled from the notice's values; an unknown placeholder is left as it is.

use std::collections::BTreeMap;
use std::path::Path;

/// A template that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the mail template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the mail template {0} must start with a line `Subject: …`")]
    NoSubject(String),
}

/// A filled-in notice text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// Loads `dir/NAME.txt` and fills it with `values`.
pub fn render(
    dir: &Path,
    name: &str,
    values: &BTreeMap<&str, String>,
) -> Result<Rendered, TemplateError> {
    let path = dir.join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
        path: path.display().to_string(),
        source,
    })?;
    render_text(&text, values).ok_or_else(|| TemplateError::NoSubject(path.display().to_string()))
}

/// Fills a template text; None when it has no `Subject:` line.
pub fn render_text(text: &str, values: &BTreeMap<&str, String>) -> Option<Rendered> {
    let text = text.trim_start_matches('\u{feff}');
    let (first, body) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first
        .strip_prefix("Subject:")
        .or_else(|| first.strip_prefix("主题："))?
        .trim();
    Some(Rendered {
        subject: fill(subject, values),
        body: fill(body.trim_start_matches(['\r', '\n']), values),
    })
}

fn fill(s: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders() {
        let mut v = BTreeMap::new();
        v.insert("year", "2024".to_string());
        let r = render_text("Subject: {year}年度通知\n\n正文{year}{unknown}\n", &v).unwrap();
        assert_eq!(r.subject, "2024年度通知");
        assert_eq!(r.body, "正文2024{unknown}\n");
        assert!(render_text("no subject", &v).is_none());
    }

    #[test]
    fn shipped_templates_have_subjects() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
        for name in [
            "unit_run",
            "recovery",
            "term_expiry",
            "run_request",
            "policy_expiry",
            "policy_outlived",
            "nominations",
            "finance_export",
            "bureau_draft",
            "inbox_reply",
            "inbox_unreadable",
        ] {
            render(&dir, name, &BTreeMap::new()).unwrap();
        }
    }
}
