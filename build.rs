//! Link libtorch so that the binary finds it without `LD_LIBRARY_PATH` and keeps its CUDA part.
//!
//! torch-sys (links = "tch") exports the directory of the libtorch it built against as
//! `DEP_TCH_LIBTORCH_LIB`. We bake that directory into the binary's rpath, and link `libtorch`
//! with `--no-as-needed`: nothing in our code references `libtorch_cuda` symbols directly, so
//! without it the linker drops the CUDA library and `tch::Cuda::is_available()` is always false.
//! The libtorch version (from the wheel's `version.py`) is passed on for `cadenza doctor`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{dir}");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
        let version_py = std::path::Path::new(&dir).join("../version.py");
        let version = std::fs::read_to_string(&version_py)
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("__version__ = ").map(|v| v.trim_matches(['\'', '"', ' ']).to_string())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env=CADENZA_LIBTORCH_VERSION={version}");
    }
}
