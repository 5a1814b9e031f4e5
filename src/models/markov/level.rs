//! One order of the model: every seen context of one length with its followers and counts,
//! stored as flat sorted arrays (structure of arrays, no per-context allocation).

/// The n-grams of one length `k`: contexts are the `k - 1` tokens before the target, stored as
/// hashes (see [`super::hash`]), sorted so that lookup is a binary search; the followers of
/// context `i` are `fol_*[ctx_start[i]..ctx_start[i + 1]]`, sorted by token.
///
/// Counts are raw counts for the highest order and Kneser-Ney continuation counts below it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Level {
    /// `D1, D2, D3+` of this order.
    pub discounts: [f64; 3],
    pub ctx_hash: Vec<u64>,
    /// `n_contexts + 1` offsets into the follower arrays.
    pub ctx_start: Vec<u32>,
    /// Sum of the follower counts of each context.
    pub ctx_total: Vec<u32>,
    /// Number of followers with count 1, 2 and >= 3 of each context.
    pub ctx_types: Vec<[u16; 3]>,
    pub fol_token: Vec<u16>,
    pub fol_count: Vec<u32>,
}

impl Level {
    /// An empty level ready for [`Level::push`].
    pub fn new() -> Self {
        Level { ctx_start: vec![0], ..Default::default() }
    }

    /// An empty level with room for `contexts` contexts and `ngrams` followers.
    pub fn with_capacity(contexts: usize, ngrams: usize) -> Self {
        let mut ctx_start = Vec::with_capacity(contexts + 1);
        ctx_start.push(0);
        Level {
            discounts: [0.0; 3],
            ctx_hash: Vec::with_capacity(contexts),
            ctx_start,
            ctx_total: Vec::with_capacity(contexts),
            ctx_types: Vec::with_capacity(contexts),
            fol_token: Vec::with_capacity(ngrams),
            fol_count: Vec::with_capacity(ngrams),
        }
    }

    /// Append follower `token` with `count` to context `hash`. Calls must come sorted by
    /// `(hash, token)` without repeats; the caller guarantees it (counting sorts, loading
    /// checks).
    #[inline]
    pub fn push(&mut self, hash: u64, token: u16, count: u32) {
        if self.ctx_hash.last() != Some(&hash) {
            self.ctx_hash.push(hash);
            self.ctx_start.push(self.fol_token.len() as u32);
            self.ctx_total.push(0);
            self.ctx_types.push([0; 3]);
        }
        self.fol_token.push(token);
        self.fol_count.push(count);
        let last = self.ctx_hash.len() - 1;
        *self.ctx_start.last_mut().expect("ctx_start is never empty") = self.fol_token.len() as u32;
        // Totals never overflow: the caller keeps the total number of targets below u32::MAX.
        self.ctx_total[last] += count;
        self.ctx_types[last][(count.min(3) - 1) as usize] += 1;
    }

    /// Number of distinct contexts.
    pub fn contexts(&self) -> usize {
        self.ctx_hash.len()
    }

    /// Number of distinct n-grams (context, follower).
    pub fn ngrams(&self) -> usize {
        self.fol_token.len()
    }

    /// How many n-grams have count exactly 1, 2, 3 and 4 (the input of the discount estimate).
    pub fn count_of_counts(&self) -> [u64; 4] {
        let mut n = [0u64; 4];
        for &c in &self.fol_count {
            if (1..=4).contains(&c) {
                n[c as usize - 1] += 1;
            }
        }
        n
    }

    /// Index of the context with hash `hash`.
    #[inline]
    pub fn find(&self, hash: u64) -> Option<usize> {
        self.ctx_hash.binary_search(&hash).ok()
    }

    /// Bytes used by the arrays.
    pub fn heap_bytes(&self) -> usize {
        self.ctx_hash.len() * 8
            + self.ctx_start.len() * 4
            + self.ctx_total.len() * 4
            + self.ctx_types.len() * 6
            + self.fol_token.len() * 2
            + self.fol_count.len() * 4
    }

    #[inline]
    fn discount(&self, count: u32) -> f64 {
        self.discounts[(count.min(3) - 1) as usize]
    }

    /// `gamma(h)`: the mass context `ctx` leaves to the next shorter context.
    #[inline]
    fn gamma(&self, ctx: usize) -> f64 {
        let [n1, n2, n3] = self.ctx_types[ctx];
        let d = self.discounts;
        (d[0] * f64::from(n1) + d[1] * f64::from(n2) + d[2] * f64::from(n3)) / f64::from(self.ctx_total[ctx])
    }

    /// `p(token | h) = max(c(h, token) - D, 0) / c(h) + gamma(h) * lower` for the seen context
    /// `ctx`, where `lower` is the probability under the next shorter context.
    #[inline]
    pub fn interpolate(&self, ctx: usize, token: u16, lower: f64) -> f64 {
        let (a, b) = (self.ctx_start[ctx] as usize, self.ctx_start[ctx + 1] as usize);
        let own = match self.fol_token[a..b].binary_search(&token) {
            Ok(i) => {
                let c = self.fol_count[a + i];
                (f64::from(c) - self.discount(c)) / f64::from(self.ctx_total[ctx])
            }
            Err(_) => 0.0,
        };
        own + self.gamma(ctx) * lower
    }

    /// The same for every token at once: `probs` holds the shorter context's distribution on
    /// entry and this context's on return.
    pub fn interpolate_all(&self, ctx: usize, probs: &mut [f64]) {
        let gamma = self.gamma(ctx);
        for p in probs.iter_mut() {
            *p *= gamma;
        }
        let total = f64::from(self.ctx_total[ctx]);
        let (a, b) = (self.ctx_start[ctx] as usize, self.ctx_start[ctx + 1] as usize);
        for (&t, &c) in self.fol_token[a..b].iter().zip(&self.fol_count[a..b]) {
            probs[t as usize] += (f64::from(c) - self.discount(c)) / total;
        }
    }
}
