//! Every file of the suites is compiled: the target is declared by hand (`autotests = false`), so a file
//! added here without its `mod` line would otherwise never run.

use std::path::Path;

/// The `mod NAME;` lines of a Rust file.
fn declared_modules(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// Checks that `dir`'s files are the modules `parent` declares, and so on for its subdirectories.
fn assert_declared(dir: &Path, parent: &Path, missing: &mut Vec<String>) {
    let declared = declared_modules(parent);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let file = path.with_extension("rs");
            if file.is_file() {
                assert_declared(&path, &file, missing);
            } else {
                missing.push(format!(
                    "{} (no {} declares its files)",
                    path.display(),
                    file.display()
                ));
            }
        } else if path.extension().is_some_and(|e| e == "rs") && path != parent && !declared.contains(&stem) {
            missing.push(format!(
                "{} (no `mod {stem};` in {})",
                path.display(),
                parent.display()
            ));
        }
    }
}

#[test]
fn every_file_here_is_compiled() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut missing = Vec::new();
    assert_declared(&tests, &tests.join("main.rs"), &mut missing);
    assert!(missing.is_empty(), "never compiled:\n{}", missing.join("\n"));
}
