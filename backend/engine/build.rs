//! Records the git commit valuelab is built from, for the provenance of every job
//! (`jobs::record`). Outside a git checkout (a crate tarball) the commit is left empty.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=VALUELAB_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves. A path that does not exist would rerun this script on every
    // build, so only existing ones are named.
    let git = Path::new("../../.git");
    let watched = ["HEAD", "refs/heads", "packed-refs"];
    let mut any = false;
    for name in watched {
        let path = git.join(name);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
            any = true;
        }
    }
    if !any {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
