//! The set of open windows of a partial scan, keyed by window start.

use ahash::AHashMap;

/// Window states keyed by window start (milliseconds).
///
/// Logs are nearly sorted, so consecutive lines almost always fall in the same
/// window: the current one is kept outside the map and found with one compare.
pub struct Windows<S> {
    current: Option<(i64, S)>,
    others: AHashMap<i64, S>,
}

impl<S> Default for Windows<S> {
    fn default() -> Self {
        Windows {
            current: None,
            others: AHashMap::new(),
        }
    }
}

impl<S> Windows<S> {
    /// The state of window `key`, created with `make` if absent. `make` is
    /// shown the state of the window the scan was in, if any: the next
    /// window of a log usually looks like the last one.
    #[inline]
    pub fn get(&mut self, key: i64, make: impl FnOnce(Option<&S>) -> S) -> &mut S {
        if self.current.as_ref().is_none_or(|(k, _)| *k != key) {
            self.switch(key, make);
        }
        &mut self.current.as_mut().expect("current window set above").1
    }

    #[cold]
    fn switch(&mut self, key: i64, make: impl FnOnce(Option<&S>) -> S) {
        let state = match self.others.remove(&key) {
            Some(state) => state,
            None => make(self.current.as_ref().map(|(_, s)| s)),
        };
        if let Some((k, s)) = self.current.replace((key, state)) {
            self.others.insert(k, s);
        }
    }

    /// Folds `other` into `self`, merging states of windows present in both.
    ///
    /// # Errors
    /// The first error of `merge`: the windows not yet folded are dropped.
    pub fn merge<E>(
        &mut self,
        other: Windows<S>,
        mut merge: impl FnMut(&mut S, S) -> Result<(), E>,
    ) -> Result<(), E> {
        for (key, state) in other.into_iter_unordered() {
            if let Some((k, mine)) = self.current.as_mut() {
                if *k == key {
                    merge(mine, state)?;
                    continue;
                }
            }
            match self.others.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut e) => merge(e.get_mut(), state)?,
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(state);
                }
            }
        }
        Ok(())
    }

    /// Calls `f` on every window's state.
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&mut S)) {
        self.current.iter_mut().for_each(|(_, s)| f(s));
        self.others.values_mut().for_each(f);
    }

    fn into_iter_unordered(self) -> impl Iterator<Item = (i64, S)> {
        self.current.into_iter().chain(self.others)
    }

    /// The windows in ascending order of start.
    pub fn into_sorted(self) -> Vec<(i64, S)> {
        let mut v: Vec<(i64, S)> = self.into_iter_unordered().collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v
    }

    /// Removes and returns the windows that start before `boundary`, in
    /// ascending order.
    pub(crate) fn drain_before(&mut self, boundary: i64) -> Vec<(i64, S)> {
        let mut out = Vec::new();
        if self.current.as_ref().is_some_and(|(k, _)| *k < boundary) {
            out.extend(self.current.take());
        }
        if self.others.keys().any(|k| *k < boundary) {
            let keys: Vec<i64> = self
                .others
                .keys()
                .copied()
                .filter(|k| *k < boundary)
                .collect();
            out.extend(
                keys.into_iter()
                    .filter_map(|k| self.others.remove(&k).map(|s| (k, s))),
            );
        }
        out.sort_unstable_by_key(|(k, _)| *k);
        out
    }

    /// Whether no window is open.
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.others.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_merge_and_sort() {
        let mut a: Windows<u32> = Windows::default();
        *a.get(2, |_| 0) += 1;
        *a.get(1, |_| 0) += 1;
        *a.get(2, |_| 0) += 1;
        let mut b: Windows<u32> = Windows::default();
        *b.get(3, |_| 0) += 5;
        *b.get(2, |_| 0) += 5;
        a.merge(b, |x, y| {
            *x += y;
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(a.drain_before(2), vec![(1, 1)]);
        assert_eq!(a.drain_before(2), vec![]);
        assert!(!a.is_empty());
        assert_eq!(a.into_sorted(), vec![(2, 7), (3, 5)]);
    }

    #[test]
    fn a_new_window_is_shown_the_one_the_scan_leaves() {
        let mut w: Windows<Vec<i64>> = Windows::default();
        let mut shown = Vec::new();
        let mut get = |w: &mut Windows<Vec<i64>>, key: i64| {
            w.get(key, |last| {
                shown.push(last.cloned());
                Vec::new()
            })
            .push(key);
        };
        get(&mut w, 1);
        get(&mut w, 2);
        get(&mut w, 1); // back to an open window: nothing is made
        get(&mut w, 3);
        assert_eq!(shown, vec![None, Some(vec![1]), Some(vec![1, 1])]);
    }
}
