//! The shape of the source, as the README's architecture section promises it: every function
//! of `src/` fits a screen (at most [`MAX_LINES`] lines, doc comments and attributes not
//! counted). Tests (`src/rules/tests.rs`, `#[cfg(test)]` modules) are tables of cases and are
//! not held to it.

use std::path::{Path, PathBuf};

/// A screen.
const MAX_LINES: usize = 70;

/// A function of a source file: its name, first line (1-based) and length in lines.
#[derive(Debug, PartialEq)]
struct Function {
    name: String,
    line: usize,
    lines: usize,
}

/// The functions of a source text outside `#[cfg(test)]` modules. A function starts at a line
/// whose code begins with `fn` (after `pub`, `pub(crate)`, `async`, `const`, `unsafe`) and ends
/// at the first later line that is its indentation followed by `}`; one-line functions and
/// declarations without a body are skipped.
fn functions(text: &str) -> Vec<Function> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        if code.starts_with("#[cfg(test)]") {
            // Skip the test module: up to the closing brace at this indentation.
            let close = format!("{indent}}}");
            while i < lines.len() && lines[i] != close {
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(name) = fn_name(code) {
            let one_line = code.ends_with('}') || code.ends_with(';');
            if !one_line {
                let close = format!("{indent}}}");
                let end = (i + 1..lines.len()).find(|&j| lines[j].trim_end() == close);
                if let Some(end) = end {
                    out.push(Function {
                        name,
                        line: i + 1,
                        lines: end - i + 1,
                    });
                }
            }
        }
        i += 1;
    }
    out
}

/// The name of the function a line of code declares.
fn fn_name(code: &str) -> Option<String> {
    let mut rest = code;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "async ",
        "const ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_function_of_src_fits_a_screen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut long = Vec::new();
    let mut seen = 0;
    for file in files {
        if file.ends_with("src/rules/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for f in functions(&text) {
            seen += 1;
            if f.lines > MAX_LINES {
                let rel = file.strip_prefix(root).unwrap().display().to_string();
                long.push(format!("{rel}:{} {} ({} lines)", f.line, f.name, f.lines));
            }
        }
    }
    assert!(
        seen > 500,
        "only {seen} functions found: is the scanner broken?"
    );
    assert!(
        long.is_empty(),
        "functions longer than {MAX_LINES} lines; split them along their steps:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_scanner_measures_functions_and_skips_test_modules() {
    let body: String = (0..80).map(|i| format!("    let x{i} = {i};\n")).collect();
    let text = format!(
        "/// Doc.\npub async fn long_one(a: i32) -> i32 {{\n{body}    a\n}}\n\
         fn short() {{}}\n\
         impl X {{\n    pub(crate) fn method(&self) {{\n        call();\n    }}\n}}\n\
         #[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n"
    );
    let found = functions(&text);
    assert_eq!(
        found,
        vec![
            Function {
                name: "long_one".into(),
                line: 2,
                lines: 83,
            },
            Function {
                name: "method".into(),
                line: 87,
                lines: 3,
            },
        ]
    );
}
