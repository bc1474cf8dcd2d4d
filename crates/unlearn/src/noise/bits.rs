//! The bit sampler's coins ([`super::Sampler::Bits`]): a bit buffer over the generator's
//! words, read a few bits at a time instead of a word per coin.
//!
//! # The stream
//!
//! The generator's 64-bit words (`next_u64`), concatenated least significant bit first, are
//! one stream of independent fair bits; [`BitStream::take`]`(k)` reads its next k bits as
//! the integer Σ_j b_j 2ʲ (the first bit read the least significant). Which bits each coin
//! takes depends only on the outcomes of the earlier coins, so every coin sees fresh
//! independent fair bits (a stopping time of an i.i.d. sequence leaves the rest i.i.d.).
//!
//! # The coins (exactness: proofs/lattice_release.md, item 1, "The bit sampler")
//!
//! * Uniform below n < 2⁶⁴ ([`BitStream::below`]): Lemire's multiply-and-reject
//!   ("Fast random integer generation in an interval", ACM TOMACS 2019) on L =
//!   min(⌈log₂ n⌉ + 16, 64) bits x: with m = x·n, keep ⌊m/2ᴸ⌋ unless m mod 2ᴸ < 2ᴸ mod n.
//!   Every value then has exactly ⌊2ᴸ/n⌋ accepted preimages, and a rejection has probability
//!   below n/2ᴸ ≤ 2⁻¹⁶ (a branch the predictor gets right), where mask-and-reject on ⌈log₂ n⌉
//!   bits rejects up to half the time at n = 2²⁴ + 1.
//! * Bernoulli(n/d) ([`BitStream::ratio`]): U < n/d for a uniform U ∈ [0, 1) whose binary
//!   digits are read lazily, [`CHUNK`] at a time, and compared with the same digits of n/d
//!   (long division, no branch); the first chunk that differs decides. Expected bits:
//!   CHUNK/(1 − 2^{−CHUNK}), against a whole word per attempt (two for d > 2⁶⁴) before.
//! * A fair coin: one bit.

use super::discrete::{Below, Coins};
use rand::Rng;
use std::ops::{Mul, Shl, Sub};

/// Binary digits of U compared per round of [`BitStream::ratio`]: 8, so that a round is
/// decided with probability 1 − 2⁻⁸ (one well-predicted branch) at an eighth of a word.
const CHUNK: u32 = 8;

/// Extra bits of Lemire's method above b = ⌈log₂ n⌉: a rejection has probability below
/// n/2^{b+16} ≤ 2⁻¹⁶.
const LEMIRE_EXTRA_BITS: u32 = 16;

/// Words a [`BitStream`] holds: 64 words (4,096 bits, ≈ 74 fast rounds of the comparison
/// samplers at s ≈ 2²⁴) is what [`BitStream::ahead`] can reserve at once.
const CAPACITY: usize = 64;

/// A bit buffer over a generator's words (see the module docs for the order of the bits).
///
/// The words pulled from the generator so far and not yet wholly read are `words[..loaded]`;
/// `read` of their bits are read. [`BitStream::take`] pulls one word when its bits run out,
/// so that it never pulls a word whose bits no coin reads; [`BitStream::ahead`] pulls, at
/// once, words its caller has shown every continuation of the draws will read (the
/// comparison samplers' look-ahead, [`super::lookahead`]). Either way the words pulled, and
/// the generator's position after, are those of a one-word buffer read coin by coin. The
/// words are zeroed when the stream is dropped (they are noise).
pub(super) struct BitStream<'a, R: ?Sized> {
    rng: &'a mut R,
    /// `words[..loaded]` the words pulled and not yet dropped, in stream order; the one word
    /// more lets [`peek`] read two words at any position below `loaded`·64.
    words: [u64; CAPACITY + 1],
    /// How many words `words` holds (≤ [`CAPACITY`]).
    loaded: usize,
    /// How many bits of `words[..loaded]` are read (≤ 64·`loaded`).
    read: usize,
}

/// The k bits (1 ≤ k ≤ 64) of `words` from bit `pos` on, as Σ_j b_j 2ʲ; `pos` + k must not
/// pass the last word (bits of `words[pos/64 + 1]` enter only when they are among the k).
#[inline(always)]
pub(super) fn peek(words: &[u64], pos: usize, k: u32) -> u64 {
    let i = pos / 64;
    let pair = u128::from(words[i]) | u128::from(words[i + 1]) << 64;
    ((pair >> (pos % 64)) as u64) & (u64::MAX >> (64 - k))
}

/// The bits L = min(⌈log₂ n⌉ + 16, 64) one attempt of [`BitStream::below`]`(n)` reads, for
/// n ≥ 2.
#[inline]
pub(super) fn lemire_bits(n: u64) -> u32 {
    (64 - (n - 1).leading_zeros() + LEMIRE_EXTRA_BITS).min(64)
}

impl<'a, R: Rng + ?Sized> BitStream<'a, R> {
    /// An empty buffer over `rng`: the first bit read is the low bit of its next word.
    pub(super) fn new(rng: &'a mut R) -> Self {
        BitStream {
            rng,
            words: [0; CAPACITY + 1],
            loaded: 0,
            read: 0,
        }
    }

    /// The next k bits, 1 ≤ k ≤ 64, as Σ_j b_j 2ʲ (the first bit the least significant).
    #[inline]
    pub(super) fn take(&mut self, k: u32) -> u64 {
        let k = k as usize;
        if self.read + k > 64 * self.loaded {
            // read ≤ 64·loaded and k ≤ 64: one more word covers the k bits.
            self.pull();
        }
        let value = peek(&self.words, self.read, k as u32);
        self.read += k;
        value
    }

    /// Pulls the generator's next word, first dropping the wholly read words when the
    /// buffer is full.
    #[inline]
    fn pull(&mut self) {
        if self.loaded == CAPACITY {
            self.drop_read_words();
        }
        self.words[self.loaded] = self.rng.next_u64();
        self.loaded += 1;
    }

    /// Moves the words not wholly read to the front of the buffer.
    #[inline]
    fn drop_read_words(&mut self) {
        let done = self.read / 64;
        self.words.copy_within(done..self.loaded, 0);
        self.loaded -= done;
        self.read -= 64 * done;
    }

    /// At most `bits` and at least min(`bits`, 64·[`CAPACITY`] − 63) of the stream's next
    /// bits (the unread part of the first word and whole words after it), for a caller
    /// that has shown every continuation of its draws reads at least `bits` more bits (so
    /// that every word pulled here would be pulled coin by coin): the buffer's words, the
    /// position of the next unread bit in them, and the end of the bits the caller may read,
    /// at most that position + `bits`. The caller reads them with [`peek`] and says how far
    /// it read with [`BitStream::advance`].
    #[inline]
    pub(super) fn ahead(&mut self, bits: usize) -> (&[u64], usize, usize) {
        self.drop_read_words();
        let want = self.read.saturating_add(bits);
        while self.loaded < CAPACITY && 64 * self.loaded < want {
            self.words[self.loaded] = self.rng.next_u64();
            self.loaded += 1;
        }
        let end = want.min(64 * self.loaded);
        (&self.words, self.read, end)
    }

    /// Marks the bits up to position `to` (in [`BitStream::ahead`]'s words, at most its end)
    /// as read.
    #[inline]
    pub(super) fn advance(&mut self, to: usize) {
        debug_assert!(self.read <= to && to <= 64 * self.loaded);
        self.read = to;
    }

    /// Uniform on {0, …, n − 1} for 1 ≤ n < 2⁶⁴ (Lemire's multiply-and-reject, see the
    /// module docs); n = 1 reads nothing.
    #[inline]
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let bits = lemire_bits(n);
        let n = u128::from(n);
        // 2ᴸ mod n, computed only on the rare path where it can matter (m mod 2ᴸ < n).
        let span = 1u128 << bits;
        loop {
            let m = u128::from(self.take(bits)) * n;
            let low = m & (span - 1);
            if low >= n || low >= span % n {
                // m < 2ᴸ·n: the quotient is below n < 2⁶⁴.
                return (m >> bits) as u64;
            }
        }
    }

    /// Bernoulli(n/d) for 0 ≤ n ≤ d, 1 ≤ d < 2¹²⁷: whether U < n/d for the uniform U whose
    /// binary digits are the next chunks of bits (each chunk read as an integer, its most
    /// significant bit the first digit): [`CHUNK`] bits a chunk while d ≤ 2¹¹⁹ (`u64`
    /// arithmetic while d ≤ 2⁵⁵), one bit a chunk above. n = 0 and n = d read nothing.
    #[inline]
    pub(super) fn ratio(&mut self, n: u128, d: u128) -> bool {
        if n == 0 {
            return false;
        }
        if n >= d {
            return true;
        }
        if d <= 1 << 55 {
            // n < d ≤ 2⁵⁵: both conversions are exact.
            self.compare(n as u64, d as u64, CHUNK)
        } else if d <= 1 << 119 {
            self.compare(n, d, CHUNK)
        } else {
            self.compare(n, d, 1)
        }
    }

    /// [`BitStream::ratio`] for 0 < n < d with 2^`chunk`·d representable in `T`, `chunk` ≤ 8.
    /// Each round reads a chunk c and compares c with the next `chunk` digits D =
    /// ⌊a/d⌋ of n/d, a = 2^chunk·n, without dividing: c < D ⟺ (c + 1)·d ≤ a (true),
    /// c > D ⟺ c·d > a (false), and otherwise the next round continues with the remainder
    /// a − c·d = a mod d (proofs/lattice_release.md, "The bit sampler").
    #[inline]
    fn compare<T>(&mut self, mut n: T, d: T, chunk: u32) -> bool
    where
        T: Copy + PartialOrd + Shl<u32, Output = T> + Sub<Output = T> + Mul<Output = T> + From<u8>,
    {
        let zero = T::from(0);
        loop {
            // chunk ≤ 8 bits: the value fits a byte.
            let c = T::from(self.take(chunk) as u8);
            let a = n << chunk;
            let cd = c * d;
            let above = cd > a;
            let rem = if above { zero } else { a - cd };
            let below = rem >= d;
            if above || below {
                return below;
            }
            n = rem;
        }
    }
}

impl<R: ?Sized> Drop for BitStream<'_, R> {
    /// Zeroes the words: they are the release's noise bits, which must not outlive it.
    fn drop(&mut self) {
        self.words.fill(0);
        std::hint::black_box(&mut self.words);
    }
}

impl<R: Rng + ?Sized> Coins for BitStream<'_, R> {
    /// [`BitStream::below`] for n < 2⁶⁴ (every n a sampler draws below: t ≤ 2³¹ + 1);
    /// mask-and-reject on ⌈log₂ n⌉ bits, the high ones first, for a larger n.
    #[inline]
    fn uniform(&mut self, below: &Below) -> u128 {
        match u64::try_from(below.n) {
            Ok(n) => u128::from(self.below(n)),
            Err(_) => {
                let high_bits = 128 - (below.n - 1).leading_zeros() - 64;
                loop {
                    let high = u128::from(self.take(high_bits));
                    let candidate = (high << 64) | u128::from(self.take(64));
                    if candidate < below.n {
                        return candidate;
                    }
                }
            }
        }
    }

    /// [`BitStream::ratio`]: every d a sampler uses is t ≤ 2³¹ + 1 or 2s²t² < 2¹²⁶.
    #[inline]
    fn bernoulli(&mut self, n: u128, below: &Below) -> bool {
        self.ratio(n, below.n)
    }

    #[inline]
    fn one_in(&mut self, k: u64) -> bool {
        self.ratio(1, u128::from(k))
    }

    /// Bernoulli(n/(d·k)) in one comparison when d·k ≤ 2¹¹⁹ (for the release's s ≤ 2²⁵,
    /// d ≤ 2¹⁰³, any k a loop reaches in practice), else as the two trials: the same
    /// probability, n/(dk), one comparison and one branch instead of two.
    #[inline]
    fn bernoulli_and_one_in(&mut self, n: u128, below: &Below, k: u64) -> bool {
        match below.n.checked_mul(u128::from(k)) {
            Some(dk) if dk <= 1 << 119 => self.ratio(n, dk),
            _ => self.ratio(n, below.n) && self.one_in(k),
        }
    }

    #[inline]
    fn fair(&mut self) -> bool {
        self.take(1) == 1
    }
}

#[cfg(test)]
mod tests {
    use super::super::discrete::hoeffding_tolerance;
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// `take` reads the words least significant bit first, across word boundaries and
    /// across the buffer's compactions (150 words, more than twice its [`CAPACITY`]): taking
    /// 64·150 bits in widths 1, 2, …, 64 over and over and reassembling them gives the 150
    /// words, and no word more is pulled.
    #[test]
    fn take_reads_the_words_low_bit_first() {
        let mut words = ChaCha20Rng::seed_from_u64(5);
        let expected: Vec<u64> = (0..150).map(|_| words.next_u64()).collect();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut bits = BitStream::new(&mut rng);
        let mut got = vec![0u64; 150];
        let (mut pos, mut width) = (0usize, 1u32);
        while pos < 64 * 150 {
            let k = width.min((64 * 150 - pos) as u32);
            let value = bits.take(k);
            for j in 0..k as usize {
                let bit = (value >> j) & 1;
                got[(pos + j) / 64] |= bit << ((pos + j) % 64);
            }
            pos += k as usize;
            width = width % 64 + 1;
        }
        drop(bits);
        assert_eq!(got, expected);
        // Exactly the 150 words were pulled (ChaCha20 counts 32-bit words).
        assert_eq!(rng.get_word_pos(), 300);
    }

    /// `below(n)` against the exact uniform: for n ∈ {2, 3, 5, 7, 10}, 10⁵ draws, each cell
    /// within its Bernstein deviation at a false-alarm rate of 10⁻⁹ over the 27 cells
    /// (t = L/3 + √(L²/9 + 2vL), L = ln(2·27/10⁻⁹), v = np(1 − p)); n = 1 reads nothing and
    /// n = 2⁶⁴ − 1 (L = 64, no extra bits) stays in range.
    #[test]
    fn below_is_uniform() {
        let mut rng = ChaCha20Rng::seed_from_u64(17);
        let mut bits = BitStream::new(&mut rng);
        let draws = 100_000;
        let l = (2.0 * 27.0 / 1e-9f64).ln();
        for n in [2u64, 3, 5, 7, 10] {
            let mut counts = vec![0usize; n as usize];
            for _ in 0..draws {
                counts[bits.below(n) as usize] += 1;
            }
            let p = 1.0 / n as f64;
            let v = draws as f64 * p * (1.0 - p);
            let tol = l / 3.0 + (l * l / 9.0 + 2.0 * v * l).sqrt();
            for (value, &c) in counts.iter().enumerate() {
                assert!(
                    (c as f64 - draws as f64 * p).abs() <= tol,
                    "n = {n}: value {value} drawn {c} times"
                );
            }
        }
        assert_eq!(bits.below(1), 0);
        assert!((0..100).all(|_| bits.below(u64::MAX) < u64::MAX));
    }

    /// `ratio(n, d)` frequencies at 10⁵ draws within [`hoeffding_tolerance`] at a
    /// false-alarm rate of 10⁻⁹ (0.0103), for dyadic (1/2, 3/4), non-dyadic (1/3, 5/7),
    /// tiny (1/1000) and a 2⁹⁹-denominator ratio as the acceptance test uses; 0/d and d/d
    /// are decided without reading a bit.
    #[test]
    fn ratio_has_the_right_frequency() {
        let mut rng = ChaCha20Rng::seed_from_u64(23);
        let mut bits = BitStream::new(&mut rng);
        let big = 1u128 << 99;
        for (n, d) in [
            (1u128, 2u128),
            (3, 4),
            (1, 3),
            (5, 7),
            (1, 1000),
            (big / 3, big),
        ] {
            let trials = 100_000;
            let hits = (0..trials).filter(|_| bits.ratio(n, d)).count();
            let freq = hits as f64 / trials as f64;
            let p = n as f64 / d as f64;
            let tolerance = hoeffding_tolerance(trials, 1e-9);
            assert!((freq - p).abs() < tolerance, "{n}/{d}: {freq}");
        }
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let before = rng.get_word_pos();
        assert!(!BitStream::new(&mut rng).ratio(0, 9));
        assert!(BitStream::new(&mut rng).ratio(9, 9));
        assert_eq!(rng.get_word_pos(), before);
    }

    /// The mask-and-reject branch for n > 2⁶⁴ stays in range and reaches both halves.
    #[test]
    fn uniform_above_two_to_the_64_stays_in_range() {
        let mut rng = ChaCha20Rng::seed_from_u64(29);
        let mut bits = BitStream::new(&mut rng);
        let n = (1u128 << 64) * 3 + 5;
        let below = Below::new(n);
        let draws: Vec<u128> = (0..2000).map(|_| bits.uniform(&below)).collect();
        assert!(draws.iter().all(|&v| v < n));
        // Each of 2000 draws is ≥ n/2 with probability ≈ 1/2: all on one side has
        // probability 2·2⁻²⁰⁰⁰.
        assert!(draws.iter().any(|&v| v >= n / 2) && draws.iter().any(|&v| v < n / 2));
    }
}
