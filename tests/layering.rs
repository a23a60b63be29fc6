//! The layering of `src/`, enforced (issue 13; plan in docs/development.md,
//! "Code layout (in transition)"). Bottom to top:
//!
//!     base  ->  config | store  ->  protocol  ->  identity | gateway  ->  operate  ->  edge
//!
//! A file may import files of its own layer or of a layer below it; layers of
//! equal rank (`config`/`store`, `identity`/`gateway`) never import each other;
//! no files import each other in a loop. Test-only code (`#[cfg(test)]` items,
//! `*_tests.rs`, `src/testing/`, `src/store/memory/`) may import anything, and
//! nothing else may import it.
//!
//! Read from the source text: every `crate::`, `super::`, `self::` path, and
//! every path through one of the file's own child modules, in a
//! file's non-test code, `use` trees with their groups (`use super::{a, b::{c}}`)
//! included, resolved through re-exports (`pub use`) to the file that defines
//! the module.
//!
//! A layer file re-exports (`pub use`) only its own children's items, so no
//! hub hides where a name lives.
//!
//! `src/oauth/`, the code from before the layers, is gone (issue 13); the
//! LEGACY mechanism stays for a future move, with every list empty. A list
//! entry that no longer matches anything fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. Equal ranks are side by side and may not import each other.
const LAYERS: &[(&str, u8)] = &[
    ("base", 1),
    ("config", 2),
    ("store", 2),
    ("protocol", 3),
    ("identity", 4),
    ("gateway", 4),
    ("operate", 5),
    ("edge", 6),
];
/// Test-only folders: importable only from test code.
const TEST_ONLY: &[&str] = &["src/testing/", "src/store/memory/"];
/// Folders not yet moved into a layer: their own imports are not checked.
const LEGACY: &[&str] = &[];

/// Imports from a layer file into LEGACY code, `from -> to`: the target has no
/// layer yet, so the import may point upwards. `edge` is exempt (everything is
/// below it). Goes when the target moves to a layer below `from`.
const INTO_LEGACY: &[&str] = &[];

/// Files in an import loop. Empty since the last loop (`authorize`,
/// `consent`, `login::delegate`, the `cimd` and `store` hinges) was cut:
/// a new loop fails the test.
const IN_A_LOOP: &[&str] = &[];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

type ModPath = Vec<String>;

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `src/lib.rs` is the root.
fn module_of(rel: &str) -> ModPath {
    let p = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut m: ModPath = p.split('/').map(str::to_string).collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
        m.pop();
    }
    m
}

/// The source without comments, string literals and test-only items
/// (`#[cfg(test)]` and the item after it, to its `;` or closing brace).
fn production_code(src: &str) -> String {
    // Comments and strings out first, so braces and `//` inside them do not count.
    let mut plain = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A char literal such as '{' (a lifetime `'a` has no closing quote).
            plain.push_str("' '");
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            let close = src[i + 3..].find('\'').map_or(b.len(), |c| i + 4 + c);
            plain.push_str("' '");
            i = close;
        } else if b[i] == b'"' {
            // A raw string `r#"…"#` ends at `"#`; a plain one at an unescaped `"`.
            let raw = i > 0 && (b[i - 1] == b'#' || b[i - 1] == b'r');
            let hashes = if raw { src[..i].chars().rev().take_while(|c| *c == '#').count() } else { 0 };
            i += 1;
            while i < b.len() {
                if !raw && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == b'"' && b[i + 1..].iter().take(hashes).filter(|c| **c == b'#').count() == hashes {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            plain.push_str("\"\"");
        } else {
            plain.push(b[i] as char);
            i += 1;
        }
    }
    let mut out = String::new();
    let mut rest = plain.as_str();
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let semi = after.find(';').unwrap_or(after.len());
        let brace = after.find('{').unwrap_or(after.len());
        let end = if semi < brace {
            semi + 1
        } else {
            let mut depth = 0;
            let mut end = after.len();
            for (j, c) in after.char_indices().skip(brace) {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            end
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The paths of a `use` tree (`a::{b, c::{d as e}}` gives `a::b`, `a::c::d`),
/// each with the name it is bound to (`b`, `e`).
fn use_tree(tree: &str) -> Vec<(Vec<String>, String)> {
    let tree = tree.trim();
    let (head, group) = match tree.find('{') {
        Some(b) => (&tree[..b], Some(&tree[b + 1..tree.rfind('}').unwrap_or(tree.len())])),
        None => (tree, None),
    };
    let (head, alias) = match head.split_once(" as ") {
        Some((h, a)) => (h, Some(a.trim().to_string())),
        None => (head, None),
    };
    let segs: Vec<String> = head.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    let Some(group) = group else {
        let name = alias.or_else(|| segs.last().cloned()).unwrap_or_default();
        return vec![(segs, name)];
    };
    // Split the group at top-level commas.
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    let mut out = Vec::new();
    for item in items.into_iter().filter(|s| !s.trim().is_empty()) {
        for (tail, name) in use_tree(item) {
            let mut p = segs.clone();
            if tail.as_slice() == ["self"] {
                out.push((p.clone(), if name == "self" { p.last().cloned().unwrap_or_default() } else { name }));
                continue;
            }
            p.extend(tail);
            out.push((p, name));
        }
    }
    out
}

/// A path as the file `here` names it, made absolute; `None` for other crates.
fn absolute(segs: &[String], here: &[String], children: &dyn Fn(&[String]) -> bool) -> Option<ModPath> {
    let mut segs = segs.to_vec();
    let mut base: ModPath = here.to_vec();
    match segs.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            segs.remove(0);
        }
        Some("super" | "self") => {}
        Some(first) => {
            let mut child = here.to_vec();
            child.push(first.to_string());
            if !children(&child) {
                return None;
            }
        }
        None => return None,
    }
    while let Some(s) = segs.first().map(String::as_str) {
        match s {
            "super" => {
                base.pop();
            }
            "self" => {}
            _ => break,
        }
        segs.remove(0);
    }
    base.extend(segs);
    Some(base)
}

/// What one file's code names: `use` trees (with the names they bind, and
/// whether they are `pub use`) and the paths written inside code.
struct Named {
    uses: Vec<(ModPath, String, bool)>,
    inline: Vec<ModPath>,
}

fn named(code: &str, here: &[String], children: &dyn Fn(&[String]) -> bool) -> Named {
    let mut uses = Vec::new();
    let bytes = code.as_bytes();
    let mut consumed: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("use ").map(|i| i + from) {
        from = i + 4;
        if i > 0 && !(bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b'{' || bytes[i - 1] == b';' || bytes[i - 1] == b')') {
            continue;
        }
        let Some(end) = code[i..].find(';').map(|e| e + i) else { continue };
        let before = code[..i].trim_end();
        let public = before.ends_with("pub") || before.ends_with("pub(crate)") || before.ends_with("pub(super)");
        for (segs, name) in use_tree(&code[i + 4..end]) {
            if let Some(p) = absolute(&segs, here, children) {
                uses.push((p, name, public));
            }
        }
        consumed.push((i, end));
        from = end;
    }
    let mut inline = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start).map(|i| i + from) {
            from = i + start.len();
            if consumed.iter().any(|(a, b)| (*a..*b).contains(&i)) {
                continue;
            }
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':') {
                continue;
            }
            let head: String = code[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let segs: Vec<String> = head.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
            if let Some(p) = absolute(&segs, here, children) {
                inline.push(p);
            }
        }
    }
    // Paths through this file's own child modules, written without a prefix
    // (`passkey::handlers::f(..)` in `login/mod.rs`).
    let mut from = 0;
    while let Some(i) = code[from..].find("::").map(|i| i + from) {
        from = i + 2;
        let start = code[..i].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |b| b + 1);
        if start == i || (start > 0 && bytes[start - 1] == b':') || consumed.iter().any(|(a, b)| (*a..*b).contains(&start)) {
            continue;
        }
        let first = &code[start..i];
        if matches!(first, "crate" | "super" | "self") || !first.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        let head: String = code[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        let segs: Vec<String> = head.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
        if let Some(p) = absolute(&segs, here, children) {
            inline.push(p);
        }
    }
    Named { uses, inline }
}

fn layer(rel: &str) -> Option<(&'static str, u8)> {
    let top = rel.trim_start_matches("src/").split('/').next()?;
    LAYERS.iter().find(|(name, _)| *name == top).copied()
}

/// Follows re-exports: `pub use crate::base::types;` in `oauth/mod.rs` makes
/// `oauth::types::X` mean `base::types::X`. Returns the path and whether a
/// re-export of a LEGACY file (a migration shim) was passed through.
fn through_reexports(path: &[String], aliases: &BTreeMap<ModPath, (ModPath, String)>) -> (ModPath, bool) {
    let mut p = path.to_vec();
    let mut via_shim = false;
    for _ in 0..16 {
        let Some(n) = (1..=p.len()).rev().find(|n| aliases.contains_key(&p[..*n])) else { break };
        let (target, defined_in) = &aliases[&p[..n]];
        if *target == p[..n] {
            break;
        }
        // A re-export in LEGACY code of a file already moved out of it.
        via_shim |= LEGACY.iter().any(|l| defined_in.starts_with(l)) && !LEGACY.iter().any(|l| module_of(l).first() == target.first());
        let mut q = target.clone();
        q.extend_from_slice(&p[n..]);
        p = q;
    }
    (p, via_shim)
}

#[test]
fn layers_import_only_downwards_and_files_never_in_a_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rs_files(&root.join("src"), &mut files);
    let rel = |p: &Path| p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
    let by_module: BTreeMap<ModPath, String> = files.iter().map(|p| (module_of(&rel(p)), rel(p))).collect();
    let children = |m: &[String]| by_module.contains_key(m);
    let file_of = |path: &[String]| (1..=path.len()).rev().find_map(|n| by_module.get(&path[..n])).cloned();

    // Modules declared under `#[cfg(test)]` (`mod testing;`), and everything below them.
    let mut test_modules: Vec<ModPath> = Vec::new();
    let mut sources = BTreeMap::new();
    for p in &files {
        let src = std::fs::read_to_string(p).unwrap();
        for (i, _) in src.match_indices("#[cfg(test)]") {
            let item: String = src[i + 12..].chars().take_while(|c| *c != ';' && *c != '{').collect();
            if let Some(name) = item.split_whitespace().skip_while(|w| *w != "mod").nth(1) {
                let mut m = module_of(&rel(p));
                m.push(name.to_string());
                test_modules.push(m);
            }
        }
        sources.insert(rel(p), src);
    }
    let test_only = |f: &str| {
        let m = module_of(f);
        TEST_ONLY.iter().any(|t| f.starts_with(t)) || f.ends_with("_tests.rs") || test_modules.iter().any(|t| m.starts_with(t))
    };
    let legacy = |f: &str| LEGACY.iter().any(|l| f.starts_with(l));
    for l in LEGACY {
        assert!(files.iter().any(|p| rel(p).starts_with(l)), "{l} is moved: take it off LEGACY");
    }

    let named: BTreeMap<&String, Named> = sources
        .iter()
        .filter(|(f, _)| !test_only(f))
        .map(|(f, src)| (f, named(&production_code(src), &module_of(f), &children)))
        .collect();
    // Re-exports: the name a `pub use` binds, in the module of its file.
    let mut aliases: BTreeMap<ModPath, (ModPath, String)> = BTreeMap::new();
    for (f, n) in &named {
        for (path, name, public) in &n.uses {
            if *public && name != "*" && file_of(path).is_some() {
                let mut key = module_of(f);
                key.push(name.clone());
                aliases.insert(key, (path.clone(), f.to_string()));
            }
        }
    }

    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = BTreeSet::new();
    let mut into_legacy_seen = BTreeSet::new();
    for (from, n) in &named {
        let from = from.as_str();
        // A layer file re-exports only what lies below it (its own children),
        // so no hub gathers names from elsewhere and hides where they live.
        if !legacy(from) {
            let here = module_of(from);
            for (path, name, public) in &n.uses {
                if *public && !path.starts_with(&here) {
                    wrong.insert(format!("{from} re-exports `{}` as `{name}`: import it from where it lives", path.join("::")));
                }
            }
        }
        for path in n.uses.iter().map(|(p, _, _)| p).chain(&n.inline) {
            let (path, via_shim) = through_reexports(path, &aliases);
            let Some(to) = file_of(&path) else { continue };
            if to == from || to == "src/lib.rs" {
                continue;
            }
            edges.entry(from.to_string()).or_default().insert(to.clone());
            if test_only(&to) {
                wrong.insert(format!("{from} -> {to}: test-only code"));
            }
            if legacy(from) {
                continue;
            }
            if via_shim {
                wrong.insert(format!("{from} names {to} by its old path `crate::oauth::…`: name it by its new one"));
            }
            let (Some((a, ra)), to_layer) = (layer(from), layer(&to)) else { continue };
            match to_layer {
                Some((b, rb)) if a != b && ra <= rb => {
                    wrong.insert(format!("{from} ({a}) -> {to} ({b}): upwards or sideways"));
                }
                None if legacy(&to) && a != "edge" => {
                    let edge = format!("{from} -> {to}");
                    if INTO_LEGACY.contains(&edge.as_str()) {
                        into_legacy_seen.insert(edge);
                    } else {
                        wrong.insert(format!("{edge}: into LEGACY code that has no layer yet (move it below {a} first)"));
                    }
                }
                _ => {}
            }
        }
    }
    for e in INTO_LEGACY {
        if !into_legacy_seen.contains(*e) {
            wrong.insert(format!("INTO_LEGACY lists `{e}`, which no longer happens: take it off"));
        }
    }
    assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.into_iter().collect::<Vec<_>>().join("\n"));

    // Tarjan's strongly connected components over the file graph.
    let names: Vec<&String> = edges.keys().chain(edges.values().flatten()).collect::<BTreeSet<_>>().into_iter().collect();
    let index_of: BTreeMap<&String, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let next: Vec<Vec<usize>> = names.iter().map(|n| edges.get(*n).map(|s| s.iter().map(|t| index_of[t]).collect()).unwrap_or_default()).collect();
    let (mut index, mut low, mut on, mut stack, mut counter, mut loops) = (vec![usize::MAX; names.len()], vec![0; names.len()], vec![false; names.len()], Vec::new(), 0, Vec::new());
    #[allow(clippy::too_many_arguments)]
    fn visit(v: usize, next: &[Vec<usize>], index: &mut [usize], low: &mut [usize], on: &mut [bool], stack: &mut Vec<usize>, counter: &mut usize, loops: &mut Vec<Vec<usize>>) {
        index[v] = *counter;
        low[v] = *counter;
        *counter += 1;
        stack.push(v);
        on[v] = true;
        for &w in &next[v] {
            if index[w] == usize::MAX {
                visit(w, next, index, low, on, stack, counter, loops);
                low[v] = low[v].min(low[w]);
            } else if on[w] {
                low[v] = low[v].min(index[w]);
            }
        }
        if low[v] == index[v] {
            let mut component = Vec::new();
            while let Some(w) = stack.pop() {
                on[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                loops.push(component);
            }
        }
    }
    for v in 0..names.len() {
        if index[v] == usize::MAX {
            visit(v, &next, &mut index, &mut low, &mut on, &mut stack, &mut counter, &mut loops);
        }
    }
    let looping: BTreeSet<&str> = loops.iter().flatten().map(|&i| names[i].as_str()).collect();
    let mut problems = Vec::new();
    for c in &loops {
        let mut files: Vec<&str> = c.iter().map(|&i| names[i].as_str()).collect();
        files.sort();
        let new: Vec<&&str> = files.iter().filter(|f| !IN_A_LOOP.contains(f)).collect();
        if !new.is_empty() {
            problems.push(format!("{} files import each other in a loop: {}\n  (not on IN_A_LOOP: {new:?})", files.len(), files.join(", ")));
        }
    }
    for f in IN_A_LOOP {
        if !looping.contains(f) {
            problems.push(format!("IN_A_LOOP lists {f}, which is in no loop any more: take it off"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One test layout (plan §9): unit tests too long for their file sit in a
/// sibling `<file>_tests.rs` that only `<file>.rs` declares, by `#[path]`
/// (the one use of `#[path]`); there is no `tests.rs` or other file whose
/// name does not say whose tests it holds; flows that wire endpoints together
/// live in `src/testing/flows/`, so no `*_flow_tests.rs` or
/// `handler_tests.rs` sits beside a module.
#[test]
fn tests_sit_where_the_layout_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rs_files(&root.join("src"), &mut files);
    let mut wrong = BTreeSet::new();
    let mut declared = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name == "tests.rs" || name == "handler_tests.rs" || name.ends_with("_flow_tests.rs") {
            wrong.insert(format!("{rel}: name the file after the module it tests, or move a flow to src/testing/flows/"));
        }
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines().map(str::trim).filter(|l| l.starts_with("#[path")) {
            let target = line.split('"').nth(1).unwrap_or("");
            let stem = name.trim_end_matches(".rs");
            if target != format!("{stem}_tests.rs") {
                wrong.insert(format!("{rel}: #[path = \"{target}\"]; only `{stem}_tests.rs` may be declared here"));
            }
            declared.insert(f.with_file_name(target));
        }
    }
    for f in files.iter().filter(|f| f.to_string_lossy().ends_with("_tests.rs")) {
        if !declared.contains(f) {
            wrong.insert(format!("{}: not declared by its module's #[path]", f.strip_prefix(root).unwrap().display()));
        }
    }
    assert!(wrong.is_empty(), "test layout:\n  {}", wrong.into_iter().collect::<Vec<_>>().join("\n  "));
}
