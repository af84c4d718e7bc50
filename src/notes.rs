//! What a run says besides its answers: lines it skipped or dropped, header
//! blocks of other logs, answers that may be lossy. One type for a run's
//! tally, a partial's summary line and a merge of partials, with one merge and
//! one codec, so that nothing is lost on the way. A chunk being parsed keeps
//! plain counters of its own (the hot path), which the engine folds in here.

use std::io::Write;

use ahash::AHashSet;

use crate::escape::ForTerminal;
use crate::input::format::Skip;
use crate::partial::codec::{DecodeError, Decoder, Encoder};
use crate::partial::{Body, BodyIn};
use crate::report::Report;

/// The first malformed line: the input, its 1-based line number, and what is
/// wrong with it, as text (it may come from another machine's partial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstMalformed {
    /// The input holding the line.
    pub path: String,
    /// Its 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// A run's notes: counts that only grow, merged from every chunk, wave and
/// partial.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Notes {
    /// Malformed lines skipped.
    pub malformed: u64,
    /// The first of them, in input order.
    pub first_malformed: Option<FirstMalformed>,
    /// Records skipped on purpose, by [`Skip::index`].
    pub skipped: [u64; Skip::ALL.len()],
    /// Zeek header blocks whose `#path` is not `conn`: the input and the path,
    /// each pair once, in the order first met.
    pub other_paths: OtherPaths,
    /// Lines dropped because their hour had already been reported.
    pub late: u64,
    /// Compressed inputs padded with zero bytes after their last gzip
    /// member, which were skipped: each input and how many, in input order.
    /// Said where the input was read; not carried by partials.
    pub trailing_zeros: Vec<(String, u64)>,
    /// Windows whose lists may have dropped hosts more often than 1 in 1000.
    pub lossy_windows: u64,
    /// The worst missed rate of those.
    pub worst_missed_rate: f64,
}

/// Distinct items in the order first met. Kept with a set beside the list,
/// so that adding one is constant time however many a log, or a merge of
/// partials, brings.
#[derive(Debug, Clone)]
pub struct FirstSeen<T> {
    order: Vec<T>,
    seen: AHashSet<T>,
}

/// Distinct (input, Zeek `#path`) pairs in the order first met.
pub type OtherPaths = FirstSeen<(String, String)>;

impl<T> Default for FirstSeen<T> {
    fn default() -> Self {
        FirstSeen {
            order: Vec::new(),
            seen: AHashSet::default(),
        }
    }
}

impl<T> IntoIterator for FirstSeen<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    /// The items, in the order first met.
    fn into_iter(self) -> Self::IntoIter {
        self.order.into_iter()
    }
}

impl<T: PartialEq> PartialEq for FirstSeen<T> {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl<T: Eq + std::hash::Hash + Clone> FirstSeen<T> {
    /// Adds `item`, unless it was met before.
    pub fn insert(&mut self, item: T) {
        if !self.seen.contains(&item) {
            self.seen.insert(item.clone());
            self.order.push(item);
        }
    }

    /// Adds `other`'s items after this one's.
    pub fn extend(&mut self, other: FirstSeen<T>) {
        for item in other.order {
            self.insert(item);
        }
    }

    /// The items, in the order first met.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.order.iter()
    }

    /// How many distinct items.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none was met.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Above this estimated chance of dropping a host, approximate lists deserve
/// a warning.
const MISSED_RATE_WARNING: f64 = 1e-3;

impl Notes {
    /// Counts `report`'s lists towards the lossy-answer warning.
    pub(crate) fn saw(&mut self, report: &Report) {
        let a = &report.answer;
        let worst = [&a.to_host, &a.from_host]
            .into_iter()
            .flatten()
            .filter_map(|l| l.missed_rate)
            .fold(0.0, f64::max);
        if worst > MISSED_RATE_WARNING {
            self.lossy_windows += 1;
            self.worst_missed_rate = self.worst_missed_rate.max(worst);
        }
    }

    /// Adds `other`'s counts; the first malformed line stays the first one
    /// met, so `other` must come after `self` in input order.
    ///
    /// # Errors
    /// A count that would overflow 64 bits (notes from partials, which are
    /// not trusted); `self` is then left partly merged.
    pub(crate) fn merge(&mut self, other: Notes) -> Result<(), String> {
        let add = |total: &mut u64, n: u64, what: &str| {
            *total = total
                .checked_add(n)
                .ok_or_else(|| format!("the counts of {what} overflow 64 bits when merged"))?;
            Ok::<(), String>(())
        };
        add(&mut self.malformed, other.malformed, "malformed lines")?;
        if self.first_malformed.is_none() {
            self.first_malformed = other.first_malformed;
        }
        for (total, n) in self.skipped.iter_mut().zip(other.skipped) {
            add(total, n, "skipped records")?;
        }
        self.other_paths.extend(other.other_paths);
        self.trailing_zeros.extend(other.trailing_zeros);
        add(&mut self.late, other.late, "late lines")?;
        add(
            &mut self.lossy_windows,
            other.lossy_windows,
            "lossy windows",
        )?;
        self.worst_missed_rate = self.worst_missed_rate.max(other.worst_missed_rate);
        Ok(())
    }

    /// Whether a partial needs a summary line to carry these notes. The
    /// lossy-answer counts are not carried: a merge recomputes them from
    /// the windows it answers. Nor is the zero padding of compressed inputs:
    /// it is said where they are read, and changes no answer.
    pub(crate) fn is_empty(&self) -> bool {
        self.malformed == 0
            && self.skipped.iter().all(|&n| n == 0)
            && self.other_paths.is_empty()
            && self.late == 0
    }

    /// The body of a partial's summary line (`docs/partial.md`).
    pub(crate) fn encode(&self) -> Body {
        let mut body = Body::new();
        body.count("malformed", self.malformed);
        if let Some(first) = &self.first_malformed {
            let mut e = Encoder::new();
            e.bytes(first.path.as_bytes())
                .uint(first.line)
                .bytes(first.reason.as_bytes());
            body.binary("first_malformed", e.finish());
        }
        let mut e = Encoder::new();
        e.uint(self.skipped.len() as u64);
        for &n in &self.skipped {
            e.uint(n);
        }
        body.binary("skipped", e.finish());
        let mut e = Encoder::new();
        e.uint(self.other_paths.len() as u64);
        for (path, zeek_path) in self.other_paths.iter() {
            e.bytes(path.as_bytes()).bytes(zeek_path.as_bytes());
        }
        body.binary("other_paths", e.finish());
        body.count("late", self.late);
        body
    }

    /// Reads back what [`Self::encode`] wrote.
    ///
    /// # Errors
    /// What does not fit a summary line.
    pub(crate) fn decode(mut body: BodyIn<'_>) -> Result<Notes, DecodeError> {
        let mut notes = Notes {
            malformed: body.count("malformed")?,
            ..Notes::default()
        };
        let text = |b: &[u8]| {
            std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| DecodeError::from("a summary with text that is not UTF-8"))
        };
        if let Some(bytes) = body.binary("first_malformed")? {
            let mut d = Decoder::new(&bytes);
            let path = text(d.bytes()?)?;
            let line = d.uint()?;
            let reason = text(d.bytes()?)?;
            d.end()?;
            notes.first_malformed = Some(FirstMalformed { path, line, reason });
        }
        let bytes = body.required("skipped")?;
        let mut d = Decoder::new(&bytes);
        let n = d.count(1)?;
        if n != notes.skipped.len() {
            return Err(format!("a summary with {n} kinds of skipped records").into());
        }
        for slot in &mut notes.skipped {
            *slot = d.uint()?;
        }
        d.end()?;
        let bytes = body.required("other_paths")?;
        let mut d = Decoder::new(&bytes);
        for _ in 0..d.count(2)? {
            let path = text(d.bytes()?)?;
            let zeek = text(d.bytes()?)?;
            notes.other_paths.insert((path, zeek));
        }
        d.end()?;
        notes.late = body.count("late")?;
        body.end()?;
        Ok(notes)
    }

    /// Says on stderr what was skipped. Best effort: stderr may be closed
    /// too, and the results are already out.
    pub(crate) fn report(&self, err: &mut impl Write) {
        if self.lossy_windows > 0 {
            let _ = writeln!(
                err,
                "connspy: warning: in {} window(s) an approximate list may have dropped hosts \
                 (missed_rate up to {:.1e} > {MISSED_RATE_WARNING:.0e}); raise --memory_limit",
                self.lossy_windows, self.worst_missed_rate
            );
        }
        for (path, zeros) in &self.trailing_zeros {
            say(
                err,
                format_args!(
                    "connspy: warning: {path}: {zeros} trailing zero byte{} ignored after the \
                     last gzip member",
                    if *zeros == 1 { "" } else { "s" },
                ),
            );
        }
        if let Some(FirstMalformed { path, line, reason }) = &self.first_malformed {
            let n = self.malformed;
            say(
                err,
                format_args!(
                    "connspy: warning: skipped {n} malformed line{}; the first at {path}:{line}: \
                     {reason}",
                    if n == 1 { "" } else { "s" },
                ),
            );
        }
        if let Some((path, zeek_path)) = self.other_paths.iter().next() {
            let n = self.other_paths.len();
            let inputs: AHashSet<&str> = self.other_paths.iter().map(|(p, _)| &p[..]).collect();
            say(
                err,
                format_args!(
                    "connspy: note: {n} Zeek header block{} with a #path other than conn, in {} \
                     input{} (the first: {path}, #path {zeek_path}); their lines were read as \
                     connections",
                    if n == 1 { "" } else { "s" },
                    inputs.len(),
                    if inputs.len() == 1 { "" } else { "s" },
                ),
            );
        }
        for kind in Skip::ALL {
            let n = self.skipped[kind.index()];
            if n > 0 {
                let _ = writeln!(err, "connspy: note: skipped {n} {}", kind.describe());
            }
        }
        if self.late > 0 {
            let n = self.late;
            let _ = writeln!(
                err,
                "connspy: warning: dropped {n} late line{}: their hour had already been reported \
                 (raise --max_log_late_seconds to wait longer)",
                if n == 1 { "" } else { "s" },
            );
        }
    }
}

/// Writes one line to stderr with the bytes that came from input (paths,
/// `#path` values, reasons quoting a field) escaped, so that they cannot
/// move the cursor or retitle the terminal. Best effort, like every note.
fn say(err: &mut impl Write, line: std::fmt::Arguments<'_>) {
    let _ = writeln!(err, "{}", ForTerminal(&line.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_notes(tag: &str) -> Notes {
        let mut n = Notes {
            malformed: 3,
            first_malformed: Some(FirstMalformed {
                path: format!("{tag}.log"),
                line: 7,
                reason: "no timestamp".into(),
            }),
            late: 2,
            ..Notes::default()
        };
        n.skipped[0] = 5;
        n.other_paths.insert((format!("{tag}.log"), "dns".into()));
        n
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_first_of_each() {
        let mut a = some_notes("a");
        a.merge(some_notes("b")).unwrap();
        assert_eq!((a.malformed, a.late, a.skipped[0]), (6, 4, 10));
        assert_eq!(a.first_malformed.unwrap().path, "a.log");
        let paths: Vec<_> = a.other_paths.iter().cloned().collect();
        assert_eq!(
            paths,
            [
                ("a.log".into(), "dns".into()),
                ("b.log".into(), "dns".into())
            ]
        );
    }

    #[test]
    fn adding_to_a_first_seen_set_compares_a_constant_number_of_items() {
        use std::cell::Cell;
        use std::hash::{Hash, Hasher};
        thread_local!(static COMPARED: Cell<u64> = const { Cell::new(0) });
        /// An item that counts how often it is compared.
        #[derive(Clone)]
        struct Counted(u32);
        impl PartialEq for Counted {
            fn eq(&self, other: &Self) -> bool {
                COMPARED.with(|c| c.set(c.get() + 1));
                self.0 == other.0
            }
        }
        impl Eq for Counted {}
        impl Hash for Counted {
            fn hash<H: Hasher>(&self, h: &mut H) {
                self.0.hash(h);
            }
        }
        let (mut all, mut part) = (FirstSeen::default(), FirstSeen::default());
        for i in 0..20_000 {
            all.insert(Counted(i));
            part.insert(Counted(i + 10_000));
        }
        all.extend(part);
        assert_eq!(all.len(), 30_000);
        // A list searched item by item compared about 3 * 10^8 times.
        let compared = COMPARED.with(Cell::get);
        assert!(compared < 100_000, "{compared} comparisons");
    }

    #[test]
    fn other_paths_are_distinct_and_in_first_met_order() {
        // 80,000 distinct pairs, each met twice.
        let mut all = Notes::default();
        for round in 0..2 {
            let mut part = Notes::default();
            for i in 0..80_000 {
                part.other_paths.insert(("x.log".into(), format!("p{i}")));
            }
            all.merge(part).unwrap();
            assert_eq!(all.other_paths.len(), 80_000, "round {round}");
        }
        assert_eq!(all.other_paths.iter().next().unwrap().1, "p0");
    }

    #[test]
    fn the_summary_codec_round_trips() {
        let notes = some_notes("a");
        let body = notes.encode();
        let back = crate::partial::read_back(&body, Notes::decode).unwrap();
        assert_eq!(back, notes);
        assert!(Notes::default().is_empty() && !notes.is_empty());
    }
}
