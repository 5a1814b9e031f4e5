//! The library's top-level modules depend on each other in one direction only: this test reads
//! every `crate::<module>` path in the library's (non-test) source and fails on any cycle
//! between top-level modules, naming it. `docs/ARCHITECTURE.md` states the order it checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level module a source file belongs to (`src/tokens/vocab.rs` -> `tokens`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "cli")).then(|| name.to_string())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of `text` that is compiled outside tests: comments dropped, and everything from the
/// first `#[cfg(test)]` on (the crate keeps its test modules at the end of files).
fn library_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level modules `code` names as `crate::<name>`.
fn uses(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if modules.contains(&name) {
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> =
        modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for f in &files {
        let Some(m) = module_of(&src, f) else { continue };
        let name = f.file_name().unwrap().to_str().unwrap();
        if matches!(name, "tests.rs" | "testing.rs") {
            continue;
        }
        let code = library_code(&std::fs::read_to_string(f).unwrap());
        for used in uses(&code, &modules) {
            if used != m {
                g.get_mut(&m).unwrap().insert(used);
            }
        }
    }
    g
}

/// A cycle through `start`, if there is one.
fn cycle_from(g: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in &g[at] {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(g, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn top_level_modules_form_no_cycle() {
    let g = graph();
    assert!(g.len() >= 10, "found only {:?}", g.keys());
    let cycles: Vec<String> = g.keys().filter_map(|m| cycle_from(&g, m)).map(|c| c.join(" -> ")).collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn error_is_the_root_and_the_documented_order_holds() {
    let g = graph();
    assert!(g["error"].is_empty(), "error must use no other module, uses {:?}", g["error"]);
    // Each module of this order uses only modules before it (ARCHITECTURE.md: "Dependencies").
    let order = [
        "error",
        "math",
        "atomic",
        "binio",
        "progress",
        "midi",
        "density",
        "copies",
        "tokens",
        "key",
        "corpus",
        "store",
        "originality",
        "checkpoint",
        "sampler",
        "models",
        "score",
        "metrics",
        "generate",
        "edit",
        "live",
        "train",
        "eval",
        "compare",
        "studio",
    ];
    for (i, m) in order.iter().enumerate() {
        let Some(deps) = g.get(*m) else { panic!("no module {m}") };
        for d in deps {
            let j = order.iter().position(|o| o == d);
            assert!(
                j.is_some_and(|j| j < i) || !order.contains(&d.as_str()),
                "{m} uses {d}, which comes after it"
            );
        }
    }
}

#[test]
fn the_scanner_sees_a_planted_cycle() {
    let modules: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let code = "use crate::b::X;\n// crate::a in a comment\nfn f() { crate::a::g(); }";
    assert_eq!(uses(code, &modules), modules);
    assert_eq!(uses(&library_code(code), &modules).len(), 2);
    assert!(uses(&library_code("#[cfg(test)]\nmod tests { use crate::a; }"), &modules).is_empty());
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle_from(&g, "a").unwrap(), ["a", "b", "a"]);
}
