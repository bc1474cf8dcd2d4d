//! Every proof in proofs/ names code that exists and tests that exist.
//!
//! For each proofs/*.md:
//! - the "## Covers" section lists items as `crate::path::name` or `crate::path::Type::method`
//!   (in backticks; `crate` is the core library, crates/unlearn); each name must be defined (`fn`, `const`, `static`, `struct`, `enum`,
//!   `trait` or `type`) in the file of its module: src/a/b.rs, or anywhere under src/a/b/
//!   when the module is a directory (mod.rs re-exports its submodules' items);
//! - the "## Checked by" section lists tests as `path.rs::test_name` (paths from the
//!   workspace root), or as bare
//!   `test_name` after a `path.rs` token ("In `tests/x.rs`: `a`, `b`"); each must exist as
//!   `fn test_name` in that file;
//! - the sections Statement, Assumptions, Proof, Covers and Checked by are present in every
//!   proof.

use std::fs;
use std::path::{Path, PathBuf};

const SECTIONS: &[&str] = &["Statement", "Assumptions", "Proof", "Covers", "Checked by"];

/// The workspace root: proofs/ and every crate's tests are named relative to it.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn proofs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir(root().join("proofs"))
        .expect("proofs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The body of the "## {title}" section (up to the next "## " heading), if present.
fn section<'a>(text: &'a str, title: &str) -> Option<&'a str> {
    let mut start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(heading) = line.strip_prefix("## ") {
            if start.is_some() {
                return start.map(|s| &text[s..offset]);
            }
            if heading.trim().starts_with(title) {
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    start.map(|s| &text[s..])
}

/// The backtick-quoted tokens of a text, in order.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Whether `name` is defined as an item in `source`.
fn defines(source: &str, name: &str) -> bool {
    ["fn", "const", "static", "struct", "enum", "trait", "type"]
        .iter()
        .any(|kw| {
            let pattern = format!("{kw} {name}");
            source.match_indices(&pattern).any(|(i, _)| {
                let after = source[i + pattern.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
}

/// All .rs files under a directory.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The source files that may define an item of module `modules` (empty: the crate root).
fn module_sources(modules: &[&str]) -> Vec<PathBuf> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    if modules.is_empty() {
        return vec![src.join("lib.rs")];
    }
    let base = modules.iter().fold(src, |p, m| p.join(m));
    let file = base.with_extension("rs");
    if file.is_file() {
        vec![file]
    } else {
        rust_files(&base)
    }
}

/// Checks one `crate::…` item; returns an error message if it is missing.
fn check_item(item: &str) -> Option<String> {
    let path: Vec<&str> = item.strip_prefix("crate::")?.split("::").collect();
    let name = *path.last()?;
    // Module segments are lower case; a segment starting with an upper-case letter is a
    // type, whose methods live in its module's file.
    let modules: Vec<&str> = path[..path.len() - 1]
        .iter()
        .copied()
        .take_while(|s| s.starts_with(|c: char| c.is_lowercase()))
        .collect();
    let files = module_sources(&modules);
    let found = files
        .iter()
        .any(|f| fs::read_to_string(f).is_ok_and(|s| defines(&s, name)));
    (!found).then(|| format!("`{item}`: no `{name}` in {files:?}"))
}

/// The (file, test) pairs named in a "Checked by" section.
fn checked_tests(body: &str) -> Vec<(String, String)> {
    let mut current: Option<String> = None;
    let mut out = Vec::new();
    for token in quoted(body) {
        if let Some((file, test)) = token.split_once(".rs::") {
            out.push((format!("{file}.rs"), test.to_string()));
        } else if token.ends_with(".rs") {
            current = Some(token.to_string());
        } else if let Some(file) = &current {
            let is_ident = !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_ident {
                out.push((file.clone(), token.to_string()));
            }
        }
    }
    out
}

fn check_proof(name: &str, text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    for title in SECTIONS {
        if section(text, title).is_none() {
            errors.push(format!("{name}: no \"## {title}\" section"));
        }
    }
    let covers: Vec<&str> = section(text, "Covers")
        .map(|c| {
            quoted(c)
                .into_iter()
                .filter(|t| t.starts_with("crate::"))
                .collect()
        })
        .unwrap_or_default();
    if covers.is_empty() {
        errors.push(format!("{name}: Covers names no `crate::…` item"));
    }
    errors.extend(
        covers
            .iter()
            .filter_map(|i| check_item(i))
            .map(|e| format!("{name}: {e}")),
    );
    let tests = section(text, "Checked by")
        .map(checked_tests)
        .unwrap_or_default();
    if tests.is_empty() {
        errors.push(format!("{name}: Checked by names no test"));
    }
    for (file, test) in tests {
        let found = fs::read_to_string(root().join(&file)).is_ok_and(|s| defines(&s, &test));
        if !found {
            errors.push(format!("{name}: test `{test}` not found in {file}"));
        }
    }
    errors
}

#[test]
fn proofs_name_real_functions_and_tests() {
    let proofs = proofs();
    assert!(!proofs.is_empty(), "no proofs found");
    let errors: Vec<String> = proofs.iter().flat_map(|(n, t)| check_proof(n, t)).collect();
    assert!(
        errors.is_empty(),
        "proof references are broken:\n{}",
        errors.join("\n")
    );
}

#[test]
fn checker_rejects_missing_names() {
    assert!(check_item("crate::bounds::no_such_function").is_some());
    assert!(check_item("crate::bounds::data_dependent").is_none());
    assert!(check_item("crate::objective::Objective::gradient").is_none());
    assert!(check_item("crate::noise::analytic_gaussian_sigma").is_none());
    let text = "## Statement\nx\n## Covers\n- `crate::bounds::nope`\n## Checked by\n- `tests/bounds.rs::nope`\n";
    let errors = check_proof("x.md", text);
    assert_eq!(errors.len(), 4, "{errors:?}"); // Assumptions, Proof, the item, the test
}
