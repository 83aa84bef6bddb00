//! The man pages and shell completions in `man/` and `completions/` are
//! generated from the clap definitions; this test fails when they drift from the
//! code. Regenerate with `CANKIT_REGENERATE=1 cargo test --test generated`.

use std::path::{Path, PathBuf};

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn man_pages_and_completions_match_the_code() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CANKIT_REGENERATE").is_some() {
        cankit::cli::generate_docs(repo).unwrap();
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    cankit::cli::generate_docs(tmp.path()).unwrap();
    let mut stale = Vec::new();
    for sub in ["man", "completions"] {
        let fresh = files_under(&tmp.path().join(sub));
        assert!(!fresh.is_empty());
        let committed = if repo.join(sub).is_dir() {
            files_under(&repo.join(sub))
        } else {
            Vec::new()
        };
        if fresh != committed {
            stale.push(format!("{sub}/: file list differs"));
        }
        for f in &fresh {
            let a = std::fs::read(tmp.path().join(sub).join(f)).unwrap();
            let b = std::fs::read(repo.join(sub).join(f)).unwrap_or_default();
            if a != b {
                stale.push(format!("{sub}/{}", f.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}; run CANKIT_REGENERATE=1 cargo test --test generated"
    );
}

#[test]
fn every_tool_has_a_sound_command_definition() {
    for cmd in cankit::cli::commands() {
        cmd.debug_assert();
    }
}
