//! The Mersenne Twister MT19937 as NumPy's legacy `RandomState` uses it.
//!
//! `RandomState([seed])` seeds by `init_by_array`; `random_sample` draws
//! `(a >> 5, b >> 6) -> (a 2^26 + b) / 2^53` from two 32-bit outputs.  Octave's
//! `rand('state', seed)` is the same generator (spec C.2.1), which is why StaMPS'
//! random-phase reference can be reproduced exactly.

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER: u32 = 0x8000_0000;
const LOWER: u32 = 0x7fff_ffff;

/// Generator state.
pub struct Mt19937 {
    mt: [u32; N],
    i: usize,
}

impl Mt19937 {
    fn init_genrand(s: u32) -> Self {
        let mut mt = [0u32; N];
        mt[0] = s;
        for i in 1..N {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { mt, i: N }
    }

    /// `init_by_array(key)` (NumPy `RandomState(list_of_ints)`).
    pub fn new_by_array(key: &[u32]) -> Self {
        let mut g = Self::init_genrand(19_650_218);
        let mt = &mut g.mt;
        let (mut i, mut j) = (1usize, 0usize);
        let klen = key.len().max(1);
        for _ in 0..N.max(klen) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            let kj = if key.is_empty() { 0 } else { key[j] };
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(kj).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= klen {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        g.i = N;
        g
    }

    fn twist(&mut self) {
        let mt = &mut self.mt;
        for k in 0..N {
            let y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
            let mut v = mt[(k + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= MATRIX_A;
            }
            mt[k] = v;
        }
        self.i = 0;
    }

    /// Next tempered 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.i >= N {
            self.twist();
        }
        let mut y = self.mt[self.i];
        self.i += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// Uniform double in [0, 1) with 53 random bits (`random_sample`).
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_random_state_2005() {
        // numpy: np.random.RandomState([2005]).random_sample(3)
        let mut g = Mt19937::new_by_array(&[2005]);
        let v: Vec<f64> = (0..3).map(|_| g.random_sample()).collect();
        let want = [0.45037099729162144_f64, 0.07640195255496485, 0.20946155834601654];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{v:?}");
        }
    }
}
