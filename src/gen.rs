//! Realistic connection logs for tests, benchmarks and the shipped sample.
//!
//! Initiators are drawn from a Zipf distribution, so a few hosts are busy and
//! most are quiet, as in real traffic; targets are uniform. Time advances at a
//! fixed rate, and a fraction of lines arrive late by up to a bound, which keeps
//! every log within the ordering assumption that the seek and tail mode rely
//! on. The same settings and seed always write the same bytes.

use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use rand_pcg::Pcg64Mcg;

/// The unit of written timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Unit {
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds.
    #[default]
    Millis,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Lines to write.
    pub lines: u64,
    /// Distinct host names to draw from.
    pub hosts: u64,
    /// Timestamp of the first line, Unix milliseconds.
    pub start_ms: i64,
    /// Lines per second of log time.
    pub rate: f64,
    /// The largest lateness, in whole seconds.
    pub late_seconds: u64,
    /// The fraction of lines that are late (by a uniform amount up to the bound).
    pub late_fraction: f64,
    /// Zipf exponent of the initiator distribution (larger: more skew).
    pub zipf: f64,
    /// Timestamp unit.
    pub unit: Unit,
    /// Capitalise host names, as the original sample does.
    pub capitalise: bool,
    /// The fewest syllables (two letters each) in a host name.
    pub name_syllables: usize,
    /// Random seed.
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            lines: 10_000,
            hosts: 1_000,
            start_ms: 1_565_647_200_000,
            rate: 1.0,
            late_seconds: 60,
            late_fraction: 0.05,
            zipf: 1.1,
            unit: Unit::Millis,
            capitalise: true,
            name_syllables: 3,
            seed: 1,
        }
    }
}

impl GenConfig {
    /// Checks that the settings describe a log.
    ///
    /// # Errors
    /// A message naming the setting at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.hosts == 0 {
            return Err("--hosts must be at least 1".into());
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err("--rate must be a positive number of lines per second".into());
        }
        if !(0.0..=1.0).contains(&self.late_fraction) {
            return Err("--late_fraction must be between 0 and 1".into());
        }
        if !(self.zipf.is_finite() && self.zipf > 0.0) {
            return Err("--zipf must be a positive exponent".into());
        }
        if !(1..=MAX_SYLLABLES).contains(&self.name_syllables) {
            return Err(format!(
                "--name_syllables must be between 1 and {MAX_SYLLABLES}"
            ));
        }
        if self.start_ms < 0 {
            return Err("--start must not be before 1970".into());
        }
        Ok(())
    }
}

const CONSONANTS: &[u8; 16] = b"bcdfghjklmnprstv";
const VOWELS: &[u8; 4] = b"aeio";

/// The longest minimum name length, in syllables.
pub const MAX_SYLLABLES: usize = 32;

/// The name of host `index`: its base-64 digits as consonant-vowel syllables,
/// padded to at least `min_syllables`, so that distinct indices give distinct
/// names (a padded name has the same length as any unpadded one it could be
/// confused with, and equal-length digit strings are equal numbers).
fn host_name(index: u64, min_syllables: usize, capitalise: bool, out: &mut Vec<u8>) {
    let start = out.len();
    let mut digits = [0u8; MAX_SYLLABLES];
    let mut n = index;
    let mut len = 0;
    while n > 0 || len < min_syllables {
        digits[len] = (n % 64) as u8;
        n /= 64;
        len += 1;
    }
    for &d in digits[..len].iter().rev() {
        out.push(CONSONANTS[usize::from(d / 4)]);
        out.push(VOWELS[usize::from(d % 4)]);
    }
    if capitalise {
        out[start] = out[start].to_ascii_uppercase();
    }
}

/// Spreads Zipf ranks over the name space, so that the busiest hosts are not
/// also the alphabetically first ones.
struct Scramble {
    n: u64,
    mult: u64,
}

impl Scramble {
    fn new(n: u64) -> Self {
        let mut mult = 2_654_435_761 % n.max(2);
        while gcd(mult, n) != 1 {
            mult += 1;
        }
        Scramble { n, mult }
    }

    /// A bijection of `0..n`; `rank + 1` keeps the busiest host off name 0.
    fn apply(&self, rank: u64) -> u64 {
        ((u128::from(rank + 1) * u128::from(self.mult)) % u128::from(self.n)) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Writes the log described by `cfg` to `out`.
///
/// # Errors
/// The writer's error; an invalid `cfg` is reported as `InvalidInput`.
pub fn generate(cfg: &GenConfig, mut out: impl Write) -> io::Result<()> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
    let zipf = Zipf::new(cfg.hosts as f64, cfg.zipf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let scramble = Scramble::new(cfg.hosts);
    let late_ms = cfg.late_seconds.saturating_mul(1000) as f64;
    let step_ms = 1000.0 / cfg.rate;
    let mut buf = Vec::with_capacity(1 << 20);
    for i in 0..cfg.lines {
        let base = cfg.start_ms as f64 + i as f64 * step_ms;
        let late = if cfg.late_fraction > 0.0 && rng.random_bool(cfg.late_fraction) {
            rng.random_range(0.0..=late_ms)
        } else {
            0.0
        };
        let ts = (base - late).max(0.0) as i64;
        match cfg.unit {
            Unit::Millis => write!(buf, "{ts} ")?,
            Unit::Seconds => write!(buf, "{} ", ts / 1000)?,
        }
        let from = scramble.apply(zipf.sample(&mut rng) as u64 - 1);
        host_name(from, cfg.name_syllables, cfg.capitalise, &mut buf);
        buf.push(b' ');
        let to = rng.random_range(0..cfg.hosts);
        host_name(to, cfg.name_syllables, cfg.capitalise, &mut buf);
        buf.push(b'\n');
        if buf.len() >= (1 << 20) - 64 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_line, Lines};

    #[test]
    fn names_are_distinct_and_fold_to_distinct_names() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..70_000 {
            let mut name = Vec::new();
            host_name(i, 3, true, &mut name);
            assert!(seen.insert(name.to_ascii_lowercase()), "{i}");
        }
        let mut long = Vec::new();
        host_name(u64::MAX, 6, false, &mut long);
        assert_eq!(long.len(), 22);
    }

    #[test]
    fn scramble_is_a_bijection() {
        for n in [1, 2, 10, 1000, 2_654_435_761] {
            let s = Scramble::new(n);
            if n <= 1000 {
                let mut hit = vec![false; n as usize];
                for r in 0..n {
                    hit[s.apply(r) as usize] = true;
                }
                assert!(hit.iter().all(|h| *h));
            } else {
                assert_eq!(gcd(s.mult, n), 1);
            }
        }
    }

    #[test]
    fn deterministic_parseable_and_within_the_lateness_bound() {
        let cfg = GenConfig {
            lines: 5000,
            hosts: 300,
            rate: 3.0,
            late_seconds: 20,
            late_fraction: 0.3,
            unit: Unit::Seconds,
            ..GenConfig::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(&cfg, &mut a).unwrap();
        generate(&cfg, &mut b).unwrap();
        assert_eq!(a, b);
        let mut newest = i64::MIN;
        let mut lines = 0;
        for line in Lines::new(&a) {
            let rec = parse_line(line).unwrap().unwrap();
            assert!(rec.ts >= newest.saturating_sub(20_000));
            newest = newest.max(rec.ts);
            lines += 1;
        }
        assert_eq!(lines, 5000);
    }

    #[test]
    fn rejects_settings_that_describe_no_log() {
        for bad in [
            GenConfig {
                hosts: 0,
                ..GenConfig::default()
            },
            GenConfig {
                rate: 0.0,
                ..GenConfig::default()
            },
            GenConfig {
                late_fraction: 2.0,
                ..GenConfig::default()
            },
        ] {
            assert!(generate(&bad, io::sink()).is_err());
        }
    }
}
