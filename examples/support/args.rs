//! The flag reader the benchmark examples share (`#[path]`-included: not an example itself).

/// The value after `--name` in `args`, parsed, or `default` when the flag is absent.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            args.get(i + 1).and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a value"))
        }
    }
}
