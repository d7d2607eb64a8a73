//! Keeps the shape issue 11 asked of rust/core/src: no import cycle between
//! the crate's top-level modules, and no source file much over 600 lines
//! (the limit here is 660, for the test files in src too).
//!
//! The module graph is read from the source with std only. A small lexer
//! drops comments and the contents of literals; items under `#[cfg(test)]`
//! are skipped, and so are the files of `#[cfg(test)] mod x;` (tests may
//! reach anywhere); the files are found by following the `mod` declarations
//! from lib.rs. Module `a` depends on module `b` when code in `a` names
//! `crate::b…`, `crate::{b…}`, a `super::…` path that climbs to the crate
//! root and goes on into `b`, or `crate::X` where lib.rs re-exports `X` from
//! `b`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

#[path = "layering/graph.rs"]
mod graph;
#[path = "layering/tokens.rs"]
mod tokens;

use graph::ModuleGraph;

/// The most lines one file of rust/core/src may have.
const MAX_LINES: usize = 660;

#[test]
fn core_modules_import_no_cycle() {
    let sources = Sources::of_core();
    let graph = ModuleGraph::read(&sources);
    assert!(
        graph.unresolved.is_empty(),
        "layering.rs cannot tell which module these paths name (teach it, or name the \
         module):\n{}",
        graph.unresolved.join("\n")
    );
    // Guards the reading itself: modules that use each other were found.
    assert!(
        graph.modules.len() > 1 && graph.edge_count() > 0,
        "read {} top-level modules and {} dependencies from rust/core/src",
        graph.modules.len(),
        graph.edge_count()
    );
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of rust/core/src (cut one dependency of \
         each; files are named from rust/core/src):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn no_core_file_is_over_660_lines() {
    let long = Sources::of_core().longer_than(MAX_LINES);
    let named: Vec<String> = long
        .iter()
        .map(|(path, lines)| format!("  rust/core/src/{} has {lines} lines", path.display()))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines in rust/core/src (split them by what they do):\n{}",
        named.join("\n")
    );
}

// ----- the reading, checked on small crates held in memory -----

#[test]
fn a_cycle_through_use_groups_super_paths_and_reexports_is_named() {
    let sources = Sources::in_memory(&[
        (
            "lib.rs",
            "mod a;\npub mod b;\nmod c;\n\npub use a::f as run;\npub use c::{Thing, C};\n",
        ),
        ("a.rs", "#[path = \"a_parts/imp.rs\"]\nmod imp;\n\npub fn f() {}\n"),
        ("a_parts/imp.rs", "use crate::{self as _, b::B};\n"),
        ("b/mod.rs", "mod inner;\npub struct B;\n"),
        ("b/inner.rs", "fn g() -> super::super::c::C {\n    todo!()\n}\n"),
        (
            "c.rs",
            "pub struct C;\npub struct Thing;\n\nfn h(_: crate::Thing) {}\n\nfn k() {\n    crate::run();\n}\n",
        ),
    ]);
    let graph = ModuleGraph::read(&sources);
    assert_eq!(graph.unresolved, Vec::<String>::new());
    assert_eq!(
        graph.edges(),
        vec![("a", "b"), ("b", "c"), ("c", "a")],
        "a use group in a #[path] file, a super::super path, a re-export"
    );
    assert_eq!(
        graph.cycles(),
        vec![
            "  a -> b -> c -> a\n    a -> b: a_parts/imp.rs:1\n    b -> c: b/inner.rs:1\n    c -> a: c.rs:7"
                .to_owned()
        ]
    );
}

#[test]
fn comments_literals_and_test_code_make_no_dependency() {
    let sources = Sources::in_memory(&[
        (
            "lib.rs",
            "mod a;\nmod b;\n#[cfg(test)]\n#[path = \"../t.rs\"]\nmod t;\n",
        ),
        ("a.rs", "use crate::b::B;\n"),
        (
            "b.rs",
            r###"// crate::a in a line comment
/* crate::a in a /* nested */ block comment */
/// crate::a in a doc comment
const S: &str = "crate::a in a string, \" escaped";
const R: &str = r#"crate::a in a "raw" string"#;
const Q: char = '"';
const E: char = '\'';
fn life<'a>(x: &'a str) -> &'a str {
    x
}
#[cfg(test)]
mod tests {
    use crate::a::A;
}
#[cfg(test)]
#[allow(dead_code)]
mod more_tests;
#[cfg(test)]
fn helper() -> crate::a::A {
    todo!()
}
pub struct B {
    #[cfg(test)]
    probe: crate::a::A,
    kept: u8,
}
"###,
        ),
        ("b/more_tests.rs", "use crate::a::A;\n"),
        ("../t.rs", "use crate::a::A;\n"),
    ]);
    let graph = ModuleGraph::read(&sources);
    assert_eq!(graph.unresolved, Vec::<String>::new());
    assert_eq!(graph.edges(), vec![("a", "b")]);
    assert!(graph.cycles().is_empty());
}

#[test]
fn a_file_over_the_limit_is_named_and_one_at_it_is_not() {
    let at_limit = "\n".repeat(MAX_LINES);
    let over = "\n".repeat(MAX_LINES + 1);
    let sources = Sources::in_memory(&[("lib.rs", &at_limit), ("big.rs", &over)]);
    assert_eq!(
        sources.longer_than(MAX_LINES),
        vec![(PathBuf::from("big.rs"), MAX_LINES + 1)]
    );
}

// ----- the source files -----

/// The .rs files of a crate's src directory, by path relative to it.
struct Sources {
    files: BTreeMap<PathBuf, String>,
}

impl Sources {
    fn of_core() -> Sources {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = BTreeMap::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            let entries =
                fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
            for entry in entries {
                let path = entry
                    .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                    .path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = fs::read_to_string(&path)
                        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                    let relative = path.strip_prefix(&src).expect("under src").to_path_buf();
                    files.insert(relative, text);
                }
            }
        }
        Sources { files }
    }

    fn in_memory(files: &[(&str, &str)]) -> Sources {
        Sources {
            files: files
                .iter()
                .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
                .collect(),
        }
    }

    fn get(&self, path: &Path) -> Option<&str> {
        self.files.get(&normalize(path)).map(String::as_str)
    }

    /// Files with more than `limit` lines, longest first.
    fn longer_than(&self, limit: usize) -> Vec<(PathBuf, usize)> {
        let mut long: Vec<(PathBuf, usize)> = self
            .files
            .iter()
            .map(|(path, text)| (path.clone(), text.lines().count()))
            .filter(|&(_, lines)| lines > limit)
            .collect();
        long.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        long
    }
}

/// `a/b/../c.rs` as `a/c.rs` (a `#[path]` may climb).
fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<std::path::Component> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if matches!(parts.last(), Some(std::path::Component::Normal(_))) =>
            {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.iter().collect()
}
