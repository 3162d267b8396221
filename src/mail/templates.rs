//! Notice texts, kept in `config/templates/NAME.txt` so the bureau can reword them without a
//! build. A template's first line is `Subject: …`; the rest is the body. `{name}` placeholders
//! are filled from the notice's values; an unknown placeholder is left as it is.
//!
//! The shipped texts are also built into the program ([`BUILT_IN`]): when the configured
//! folder does not exist at all (chieftech run outside its repository, or a configuration that
//! names no folder of its own), the letters use them. A folder that exists but lacks a template
//! is an error naming the file, as the bureau keeps its own wording there.

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

/// The shipped templates, by name (`config/templates/NAME.txt` at build time).
pub const BUILT_IN: [(&str, &str); 19] = [
    (
        "bureau_draft",
        include_str!("../../config/templates/bureau_draft.txt"),
    ),
    (
        "finance_export",
        include_str!("../../config/templates/finance_export.txt"),
    ),
    (
        "inbox_failed",
        include_str!("../../config/templates/inbox_failed.txt"),
    ),
    (
        "inbox_reply",
        include_str!("../../config/templates/inbox_reply.txt"),
    ),
    (
        "inbox_unreadable",
        include_str!("../../config/templates/inbox_unreadable.txt"),
    ),
    (
        "job_failed",
        include_str!("../../config/templates/job_failed.txt"),
    ),
    (
        "nominations",
        include_str!("../../config/templates/nominations.txt"),
    ),
    (
        "payment_failed",
        include_str!("../../config/templates/payment_failed.txt"),
    ),
    (
        "policy_expiry",
        include_str!("../../config/templates/policy_expiry.txt"),
    ),
    (
        "policy_outlived",
        include_str!("../../config/templates/policy_outlived.txt"),
    ),
    (
        "recovery",
        include_str!("../../config/templates/recovery.txt"),
    ),
    (
        "run_request",
        include_str!("../../config/templates/run_request.txt"),
    ),
    (
        "selection_deadline",
        include_str!("../../config/templates/selection_deadline.txt"),
    ),
    (
        "selection_notice_end",
        include_str!("../../config/templates/selection_notice_end.txt"),
    ),
    (
        "selection_waiting",
        include_str!("../../config/templates/selection_waiting.txt"),
    ),
    (
        "source_missing",
        include_str!("../../config/templates/source_missing.txt"),
    ),
    (
        "source_refused",
        include_str!("../../config/templates/source_refused.txt"),
    ),
    (
        "term_expiry",
        include_str!("../../config/templates/term_expiry.txt"),
    ),
    (
        "unit_run",
        include_str!("../../config/templates/unit_run.txt"),
    ),
];

/// Loads `dir/NAME.txt` (or, when there is no folder `dir`, the built-in text of that name)
/// and fills it with `values`.
pub fn render(
    dir: &Path,
    name: &str,
    values: &BTreeMap<&str, String>,
) -> Result<Rendered, TemplateError> {
    let path = dir.join(format!("{name}.txt"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
            match built_in(name) {
                Some(text) => {
                    tracing::info!("no folder {}: the built-in {name} is used", dir.display());
                    text.to_string()
                }
                None => return Err(read_error(&path, e)),
            }
        }
        Err(e) => return Err(read_error(&path, e)),
    };
    render_text(&text, values).ok_or_else(|| TemplateError::NoSubject(path.display().to_string()))
}

/// The built-in text of a template.
pub fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn read_error(path: &Path, source: std::io::Error) -> TemplateError {
    TemplateError::Read {
        path: path.display().to_string(),
        source,
    }
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

/// Fills the `{key}` placeholders of `s` in one pass over it: a value goes in as it is (a
/// `{…}` inside a value, in a name say, is not filled in turn), and a `{…}` that names no value
/// stays as written. One pass also keeps a letter listing fifty thousand people from being
/// searched again for every placeholder after it.
fn fill(s: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let key = after.find('}').map(|close| &after[..close]);
        match key.and_then(|k| values.get(k).map(|v| (k.len(), v))) {
            Some((len, v)) => {
                out.push_str(v);
                rest = &after[len + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
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
    fn a_value_is_not_filled_again_and_braces_stay() {
        let mut v = BTreeMap::new();
        v.insert("name", "张{year}".to_string());
        v.insert("year", "2024".to_string());
        let r = render_text(
            "Subject: {name}\n{{year}}，{name}，{year}，{，}，{year，{unknown}{\n",
            &v,
        )
        .unwrap();
        assert_eq!(r.subject, "张{year}");
        assert_eq!(r.body, "{2024}，张{year}，2024，{，}，{year，{unknown}{\n");
        assert_eq!(fill("", &v), "");
        assert_eq!(fill("{year}{year}", &v), "20242024");
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

#[cfg(test)]
mod built_in_tests {
    use super::*;

    #[test]
    fn every_shipped_template_is_built_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
        let mut shipped: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".txt").map(str::to_string))
            .collect();
        shipped.sort();
        let built: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        assert_eq!(shipped, built);
        for (name, text) in BUILT_IN {
            let file = std::fs::read_to_string(dir.join(format!("{name}.txt"))).unwrap();
            assert_eq!(file, text, "{name}");
        }
    }

    #[test]
    fn without_a_folder_the_built_in_text_is_used() {
        let values = BTreeMap::from([("year", "2024".to_string())]);
        let missing = Path::new("/nonexistent/chieftech/templates");
        let r = render(missing, "unit_run", &values).unwrap();
        let want = render_text(built_in("unit_run").unwrap(), &values).unwrap();
        assert_eq!(r, want);
        assert!(!r.subject.is_empty());
        // A name that is not built in is an error naming the file.
        let e = render(missing, "no_such_letter", &values).unwrap_err();
        assert!(e.to_string().contains("no_such_letter.txt"), "{e}");
        // A folder of the bureau's own that lacks a template is an error, not the built-in.
        let own = tempfile::tempdir().unwrap();
        let e = render(own.path(), "unit_run", &values).unwrap_err();
        assert!(e.to_string().contains("unit_run.txt"), "{e}");
    }
}
