//! The graph of dependencies between a crate's top-level modules, read
//! file by file from lib.rs, and the cycles in it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::tokens::{attribute, ident, is, lex, matching, without_test_code, Tok, Token};
use crate::{normalize, Sources};

/// A `mod name;` whose file is to be read.
struct ModFile {
    name: String,
    /// From `#[path = "…"]`.
    path: Option<String>,
    /// Inline modules around the declaration.
    inline: Vec<String>,
}

/// What one file holds: the modules it declares with a file of their own,
/// and the crate-level names it refers to, with their lines.
struct FileScan {
    mods: Vec<ModFile>,
    names: Vec<(String, usize)>,
    /// `pub use m::…` at the crate root: the names it brings from `m`.
    reexports: Vec<(String, String)>,
}

/// Reads one file of a module `depth` levels below the crate root (0 for
/// lib.rs).
fn scan_file(source: &str, depth: usize) -> FileScan {
    let tokens = without_test_code(&lex(source));
    let mut scan = FileScan {
        mods: Vec::new(),
        names: Vec::new(),
        reexports: Vec::new(),
    };
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut braces = 0;
    let mut path_attr: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        if let Some((attr, _, next)) = attribute(&tokens, i) {
            if let [name, eq, value] = attr {
                if let (Tok::Ident(name), Tok::Punct('='), Tok::Str(value)) =
                    (&name.tok, &eq.tok, &value.tok)
                {
                    if name == "path" {
                        path_attr = Some(value.clone());
                    }
                }
            }
            i = next;
            continue;
        }
        let starts_path = i == 0 || tokens[i - 1].tok != Tok::PathSep;
        match &tokens[i].tok {
            Tok::Ident(word) if word == "mod" => {
                if let Some(name) = ident(&tokens, i + 1) {
                    if is(&tokens, i + 2, ';') {
                        scan.mods.push(ModFile {
                            name: name.to_owned(),
                            path: path_attr.take(),
                            inline: inline.iter().map(|(n, _)| n.clone()).collect(),
                        });
                    } else if is(&tokens, i + 2, '{') {
                        inline.push((name.to_owned(), braces));
                    }
                }
            }
            Tok::Ident(word)
                if word == "crate"
                    && starts_path
                    && tokens.get(i + 1).map(|t| &t.tok) == Some(&Tok::PathSep) =>
            {
                scan.names.extend(path_heads(&tokens, i + 2));
            }
            Tok::Ident(word) if word == "super" && starts_path => {
                let mut k = i;
                let mut supers = 0;
                while ident(&tokens, k) == Some("super")
                    && tokens.get(k + 1).map(|t| &t.tok) == Some(&Tok::PathSep)
                {
                    supers += 1;
                    k += 2;
                }
                if supers > 0 && supers == depth + inline.len() {
                    scan.names.extend(path_heads(&tokens, k));
                }
                i = k.max(i + 1);
                continue;
            }
            Tok::Ident(word)
                if word == "pub"
                    && depth == 0
                    && inline.is_empty()
                    && ident(&tokens, i + 1) == Some("use") =>
            {
                if let Some(module) = ident(&tokens, i + 2) {
                    for (name, _) in path_tails(&tokens, i + 2) {
                        scan.reexports.push((name, module.to_owned()));
                    }
                }
            }
            Tok::Punct('{') => braces += 1,
            Tok::Punct('}') => {
                braces -= 1;
                if inline.last().is_some_and(|&(_, at)| at == braces) {
                    inline.pop();
                }
            }
            _ => {}
        }
        if matches!(tokens[i].tok, Tok::Punct(';' | '{' | '}')) {
            path_attr = None;
        }
        i += 1;
    }
    scan
}

/// The first segments of the path or `{…}` group of paths at `i`.
fn path_heads(tokens: &[Token], i: usize) -> Vec<(String, usize)> {
    match tokens.get(i) {
        Some(Token {
            tok: Tok::Ident(name),
            line,
        }) => vec![(name.clone(), *line)],
        Some(Token {
            tok: Tok::Punct('{'),
            ..
        }) => {
            let close = matching(tokens, i);
            let mut heads = Vec::new();
            let mut depth = 0;
            let mut expect_head = true;
            for token in &tokens[i + 1..close] {
                match &token.tok {
                    Tok::Ident(name) if depth == 0 && expect_head => {
                        if name != "self" {
                            heads.push((name.clone(), token.line));
                        }
                        expect_head = false;
                    }
                    Tok::Punct('{') => depth += 1,
                    Tok::Punct('}') => depth -= 1,
                    Tok::Punct(',') if depth == 0 => expect_head = true,
                    _ => {}
                }
            }
            heads
        }
        _ => Vec::new(),
    }
}

/// The names a `use` at `i` brings into scope (the last segment of each
/// path, or its `as` name).
fn path_tails(tokens: &[Token], i: usize) -> Vec<(String, usize)> {
    let mut names = Vec::new();
    let mut last: Option<(String, usize)> = None;
    let mut k = i;
    while k < tokens.len() && !is(tokens, k, ';') {
        match &tokens[k].tok {
            Tok::Ident(word) if word == "as" => {}
            Tok::Ident(word) => last = Some((word.clone(), tokens[k].line)),
            Tok::Punct(',' | '}') => names.extend(last.take()),
            _ => {}
        }
        k += 1;
    }
    names.extend(last);
    names
}

/// Where a dependency was seen first.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
}

pub(crate) struct ModuleGraph {
    pub(crate) modules: BTreeSet<String>,
    /// from -> to -> first place seen.
    pub(crate) deps: BTreeMap<String, BTreeMap<String, Seen>>,
    pub(crate) unresolved: Vec<String>,
}

impl ModuleGraph {
    pub(crate) fn read(sources: &Sources) -> ModuleGraph {
        let root = sources.get(Path::new("lib.rs")).expect("lib.rs");
        let root_scan = scan_file(root, 0);
        let mut graph = ModuleGraph {
            modules: root_scan.mods.iter().map(|m| m.name.clone()).collect(),
            deps: BTreeMap::new(),
            unresolved: Vec::new(),
        };
        let reexports: BTreeMap<String, String> = root_scan.reexports.into_iter().collect();
        // (file, the directory of its children, depth, top-level module)
        let mut queue: VecDeque<(PathBuf, PathBuf, usize, String)> = VecDeque::new();
        for module in &root_scan.mods {
            let (file, children) = module_file(sources, Path::new("lib.rs"), Path::new(""), module);
            queue.push_back((file, children, 1, module.name.clone()));
        }
        while let Some((file, children, depth, top)) = queue.pop_front() {
            let text = sources.get(&file).expect("found by module_file");
            let scan = scan_file(text, depth);
            for module in &scan.mods {
                let (child, grandchildren) = module_file(sources, &file, &children, module);
                let child_depth = depth + module.inline.len() + 1;
                queue.push_back((child, grandchildren, child_depth, top.clone()));
            }
            for (name, line) in scan.names {
                let target = if graph.modules.contains(&name) {
                    name
                } else if let Some(module) = reexports.get(&name) {
                    module.clone()
                } else {
                    graph
                        .unresolved
                        .push(format!("  {}:{line}: crate::{name}", file.display()));
                    continue;
                };
                if target != top {
                    graph
                        .deps
                        .entry(top.clone())
                        .or_default()
                        .entry(target)
                        .or_insert(Seen {
                            file: file.clone(),
                            line,
                        });
                }
            }
        }
        graph
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.deps.values().map(BTreeMap::len).sum()
    }

    pub(crate) fn edges(&self) -> Vec<(&str, &str)> {
        self.deps
            .iter()
            .flat_map(|(from, tos)| tos.keys().map(move |to| (from.as_str(), to.as_str())))
            .collect()
    }

    /// One cycle per group of modules that depend on each other, each named
    /// with the place of every dependency in it.
    pub(crate) fn cycles(&self) -> Vec<String> {
        strongly_connected(&self.modules, &self.deps)
            .into_iter()
            .filter(|group| group.len() > 1)
            .map(|group| {
                let cycle = shortest_cycle(&group, &self.deps);
                let mut text = format!("  {}", cycle.join(" -> "));
                for pair in cycle.windows(2) {
                    let seen = &self.deps[&pair[0]][&pair[1]];
                    text.push_str(&format!(
                        "\n    {} -> {}: {}:{}",
                        pair[0],
                        pair[1],
                        seen.file.display(),
                        seen.line
                    ));
                }
                text
            })
            .collect()
    }
}

/// The file of `mod name;` declared in `file`, and the directory of its
/// own children.
fn module_file(
    sources: &Sources,
    file: &Path,
    children: &Path,
    module: &ModFile,
) -> (PathBuf, PathBuf) {
    let mut dir = children.to_path_buf();
    dir.extend(&module.inline);
    if let Some(path) = &module.path {
        // Relative to the declaring file's directory; such a file keeps its
        // children beside it, as a mod.rs does.
        let found = file.parent().unwrap_or(Path::new("")).join(path);
        if sources.get(&found).is_some() {
            let beside = found.parent().unwrap_or(Path::new("")).to_path_buf();
            return (normalize(&found), normalize(&beside));
        }
        panic!(
            "{}: #[path = \"{path}\"] mod {}: no such file",
            file.display(),
            module.name
        );
    }
    let flat = dir.join(format!("{}.rs", module.name));
    let nested = dir.join(&module.name).join("mod.rs");
    let own_dir = dir.join(&module.name);
    if sources.get(&flat).is_some() {
        (normalize(&flat), normalize(&own_dir))
    } else if sources.get(&nested).is_some() {
        (normalize(&nested), normalize(&own_dir))
    } else {
        panic!(
            "{}: mod {}: neither {} nor {} exists",
            file.display(),
            module.name,
            flat.display(),
            nested.display()
        )
    }
}

/// Tarjan's strongly connected components, each sorted, in a stable order.
fn strongly_connected(
    nodes: &BTreeSet<String>,
    deps: &BTreeMap<String, BTreeMap<String, Seen>>,
) -> Vec<Vec<String>> {
    struct State<'a> {
        deps: &'a BTreeMap<String, BTreeMap<String, Seen>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        let deps = state.deps;
        for next in deps.get(node).into_iter().flat_map(BTreeMap::keys) {
            let next = next.as_str();
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut group = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                group.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            group.sort();
            state.groups.push(group);
        }
    }
    let mut state = State {
        deps,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for node in nodes {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.groups.sort();
    state.groups
}

/// The shortest cycle through the first module of `group`, as a list that
/// starts and ends with it.
fn shortest_cycle(
    group: &[String],
    deps: &BTreeMap<String, BTreeMap<String, Seen>>,
) -> Vec<String> {
    let start = &group[0];
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start.as_str()]);
    while let Some(node) = queue.pop_front() {
        for next in deps.get(node).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut cycle = vec![start.clone()];
                let mut at = node;
                while at != start {
                    cycle.push(at.to_owned());
                    at = came_from[at];
                }
                cycle.push(start.clone());
                cycle.reverse();
                return cycle;
            }
            if group.contains(next) && !came_from.contains_key(next.as_str()) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    unreachable!("a strongly connected group of several modules has a cycle")
}
