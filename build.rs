//! Link libtorch so that the binary finds it without `LD_LIBRARY_PATH` and keeps its CUDA part.
//!
//! torch-sys (links = "tch") exports the directory of the libtorch it built against as
//! `DEP_TCH_LIBTORCH_LIB`. We bake that directory into the binary's rpath, and link `libtorch`
//! with `--no-as-needed`: nothing in our code references `libtorch_cuda` symbols directly, so
//! without it the linker drops the CUDA library and `tch::Cuda::is_available()` is always false.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{dir}");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
