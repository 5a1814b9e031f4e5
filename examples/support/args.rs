//! The flag reader the benchmark examples share (`#[path]`-included: not an example itself).

/// The value after `--name` in `args`, parsed, or `default` when the flag is absent.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    Ok(opt_arg(args, name)?.unwrap_or(default))
}

/// The value after `--name` in `args`, parsed, or `None` when the flag is absent.
pub fn opt_arg<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{name} needs a value")),
    }
}
