//! Small numeric helpers more than one module needs (so none of them keeps its own copy).

/// The index of the largest value, the first of ties; 0 for an empty slice, and 0 when the first
/// value is NaN (nothing compares greater than NaN) or every value is NaN or `-inf`.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_largest() {
        assert_eq!(argmax(&[0.1, 0.5, 0.5]), 1);
        assert_eq!(argmax(&[3.0, -1.0, 2.0]), 0);
        assert_eq!(argmax(&[f64::NEG_INFINITY, -5.0]), 1);
        assert_eq!(argmax(&[]), 0);
        assert_eq!(argmax(&[f64::NAN, 1.0]), 0);
        assert_eq!(argmax(&[f64::NEG_INFINITY; 3]), 0);
    }
}
