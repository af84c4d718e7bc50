//! The host tables against naive models: case folding, growth, merges,
//! counts past 2^32, and bounds on the work of each operation.

use super::counter::*;
use super::key::*;
use super::set::*;
use crate::hosts::fold::fold_word;

#[test]
fn set_folds_case_and_sorts_by_bytes() {
    let mut s = HostSet::new();
    for h in [
        "Bob",
        "alice",
        "BOB",
        "Zoë",
        "10.0.0.7",
        "web-01.Example.com",
    ] {
        s.insert(h.as_bytes());
    }
    assert_eq!(s.len(), 5);
    assert_eq!(
        s.into_sorted(),
        vec!["10.0.0.7", "alice", "bob", "web-01.example.com", "zoë"]
    );
}

#[test]
fn word_case_folding_matches_the_byte_rule() {
    for b in 0..=255u8 {
        let x = u64::from_le_bytes([b, b'A', b'z', b'@', b'[', 0x80 | b'A', b, b'Z']);
        let expect = u64::from_le_bytes(
            [b, b'A', b'z', b'@', b'[', 0x80 | b'A', b, b'Z'].map(|c| c.to_ascii_lowercase()),
        );
        assert_eq!(fold_word(x), expect, "{b:#x}");
    }
}

#[test]
fn inline_keys_fold_case_and_keep_lengths_apart() {
    for len in 0..=INLINE_MAX {
        let host: Vec<u8> = (0..len).map(|i| b'A' + i as u8).collect();
        let key = inline_key(&host);
        assert_eq!(key.bytes(&[]), host.to_ascii_lowercase().as_slice());
        assert_eq!(key, inline_key(&host.to_ascii_lowercase()));
    }
    // Zero bytes are data, not padding: the length tells them apart.
    assert!(inline_key(b"a") != inline_key(b"a\0"));
}

#[test]
fn inline_and_long_hosts_mix_in_one_table() {
    let mut s = HostSet::new();
    let hosts: Vec<String> = (0..40).map(|n| "H".repeat(n + 1)).collect();
    for h in hosts.iter().chain(&hosts) {
        s.insert(h.as_bytes());
    }
    assert_eq!(s.len(), 40);
    let mut expect: Vec<String> = hosts.iter().map(|h| h.to_lowercase()).collect();
    expect.sort();
    assert_eq!(s.into_sorted(), expect);
}

/// The leader's host, count and ties.
fn leader(c: &mut HostCounter) -> Option<(String, u64, u64)> {
    c.busiest(1).map(|b| (b.host, b.value, b.tied))
}

#[test]
fn counts_past_u32_stay_exact() {
    let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
    let big = inline_key(b"big");
    a.inline
        .insert(big, big.table_hash(), u32::MAX - 1, |_| unreachable!());
    b.inline
        .insert(big, big.table_hash(), u32::MAX, |_| unreachable!());
    let long = "l".repeat(INLINE_MAX + 1);
    a.long.upsert_raw(long.as_bytes(), u32::MAX, |_| {});
    // Past 2^32 in an add (queued, then flushed), in a merge, and in a
    // long host's table.
    a.add(b"big");
    a.add(b"Big");
    a.add(long.to_uppercase().as_bytes());
    b.add(b"small");
    a.merge(b);
    let (host, count, _) = leader(&mut a).unwrap();
    assert_eq!(
        (host.as_str(), count, a.len()),
        ("big", 2 * u64::from(u32::MAX) + 1, 3)
    );
    let busiest = a.busiest(3).unwrap();
    assert_eq!(busiest.top[1].host, long);
    assert_eq!(busiest.top[1].value, u64::from(u32::MAX) + 1);
}

#[test]
fn counters_of_many_hosts_equal_a_naive_count_through_growth_and_merges() {
    use std::collections::BTreeMap;
    let mut naive: BTreeMap<String, u64> = BTreeMap::new();
    let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
    // Inline and long hosts, in mixed case, some in both halves; the
    // empty host is stored apart from the empty slot it would alias.
    for i in 0..60_000u64 {
        let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 20_011;
        let host = match x % 7 {
            0 => format!("Long-Host-Name-{x}"),
            1 if x % 1000 == 1 => String::new(),
            _ => format!("h{x}"),
        };
        *naive.entry(host.to_ascii_lowercase()).or_default() += 1;
        if i % 3 == 0 { &mut a } else { &mut b }.add(host.as_bytes());
    }
    a.merge(b);
    assert_eq!(a.len(), naive.len());
    let got = a.busiest(naive.len()).unwrap();
    let mut expect: Vec<(String, u64)> = naive.into_iter().collect();
    expect.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    let got: Vec<(String, u64)> = got.top.into_iter().map(|t| (t.host, t.value)).collect();
    assert_eq!(got, expect);
}

#[test]
fn big_counters_merge_apart_and_answer_as_one() {
    // Five counters of APART_MIN hosts each, every one sharing half its
    // hosts with the next, and one host whose counts add past 2^32 only
    // across tables. Host `h{i}` is counted `1 + i % 3` times in each
    // counter that has it.
    let n = APART_MIN as u64;
    let range = |k: u64| k * n / 2..k * n / 2 + n;
    let expected = |i: u64| (1 + i % 3) * (0..5).filter(|&k| range(k).contains(&i)).count() as u64;
    let wide = inline_key(b"wide");
    let mut counters = (0..5u64).map(|k| {
        let mut c = HostCounter::new();
        for i in range(k) {
            c.add_weighted(format!("h{i}").as_bytes(), 1 + i % 3);
        }
        c.flush();
        c.inline
            .insert(wide, wide.table_hash(), u32::MAX - 1, |_| unreachable!());
        c
    });
    let mut a = counters.next().unwrap();
    let slots = a.inline.slots.len();
    a.merge(counters.next().unwrap());
    // Kept apart: no table grew, so no fresh pages and no sweep.
    assert_eq!((a.inline.slots.len(), a.apart.len()), (slots, 1));
    let busiest = a.busiest(2).unwrap();
    assert_eq!(
        (busiest.host.as_str(), busiest.value, busiest.distinct),
        ("wide", 2 * u64::from(u32::MAX - 1), n * 3 / 2 + 1)
    );
    // The most any h host has is 6, and the smallest name with 6 is
    // h1000001 (a multiple of 3 plus 2, counted in two tables).
    let second = (n / 2..n * 3 / 2)
        .filter(|&i| expected(i) == 6)
        .map(|i| format!("h{i}"))
        .min()
        .unwrap();
    assert_eq!(
        (busiest.top[1].host.as_str(), busiest.top[1].value),
        (second.as_str(), 6)
    );
    // Past MOST_APART the tables are put together; the answers stay.
    for c in counters {
        a.merge(c);
        assert!(a.apart.len() <= MOST_APART);
    }
    let busiest = a.busiest(1).unwrap();
    assert_eq!(
        (busiest.value, busiest.distinct),
        (5 * u64::from(u32::MAX - 1), n * 3 + 1)
    );
    let listed = listed(&mut a);
    assert!(a.apart.is_empty());
    assert_eq!(listed.len() as u64, n * 3 + 1);
    for (host, count) in listed {
        let i: u64 = match std::str::from_utf8(&host).unwrap().strip_prefix('h') {
            Some(i) => i.parse().unwrap(),
            None => {
                assert_eq!(
                    (&host[..], count),
                    (&b"wide"[..], 5 * u64::from(u32::MAX - 1))
                );
                continue;
            }
        };
        assert_eq!(count, expected(i), "h{i}");
    }
}

/// A counter's hosts and counts in a partial's order.
fn listed(c: &mut HostCounter) -> Vec<(Vec<u8>, u64)> {
    let mut v = Vec::new();
    c.for_each_sorted(|h, n| v.push((h.to_vec(), n)));
    v
}

#[test]
fn a_table_in_pages_of_its_own_counts_like_one_on_the_heap() {
    // 200,000 hosts take a table of 2^19 slots (10 MiB): mapped, past
    // a huge page. A counter of 40 hosts stays on the heap.
    let host = |i: u64| format!("h{}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1_000_003);
    let mut big = HostCounter::new();
    let mut naive = std::collections::HashMap::<Vec<u8>, u64>::new();
    for i in 0..300_000u64 {
        big.add(host(i % 200_000).as_bytes());
        *naive.entry(host(i % 200_000).into_bytes()).or_default() += 1;
    }
    big.flush();
    assert!(matches!(big.inline.slots, Slots::Mapped(..)));
    assert_eq!(big.inline.slots.len(), 1 << 19);
    let mut small = HostCounter::new();
    for i in 0..40 {
        small.add(host(i).as_bytes());
    }
    small.flush();
    assert!(matches!(small.inline.slots, Slots::Heap(_)));
    let mut expect: Vec<(Vec<u8>, u64)> = naive.into_iter().collect();
    let mut got = listed(&mut big);
    expect.sort();
    got.sort();
    assert_eq!(got, expect);
}

#[test]
fn a_counter_sized_like_the_last_starts_big_and_counts_the_same() {
    let mut last = HostCounter::new();
    for i in 0..100_000u32 {
        last.add(format!("h{i}").as_bytes());
    }
    last.flush();
    let (mut sized, mut fresh) = (last.new_like(), HostCounter::new());
    // Room for an eighth more hosts than the last at the load a table
    // keeps, and no more: 2^18 slots, the power of two above, would be
    // 75 % more memory.
    let slots = sized.inline.slots.len();
    assert!(slots * 3 >= 112_500 * 4, "room for the last: {slots}");
    assert!(slots <= 150_064, "sized to the last: {slots}");
    let mut bigger = last.new_like();
    for i in 0..112_000u32 {
        bigger.add(format!("y{i}").as_bytes());
    }
    bigger.flush();
    assert_eq!(bigger.inline.slots.len(), slots, "grew for an eighth more");
    assert_eq!((sized.len(), sized.busiest(3)), (0, None));
    for i in 0..5_000u32 {
        let host = format!("x{}", i % 1_700);
        sized.add(host.as_bytes());
        fresh.add(host.as_bytes());
    }
    assert_eq!(listed(&mut sized), listed(&mut fresh));
    assert_eq!(sized.busiest(5), fresh.busiest(5));
}

#[test]
fn long_keys_round_trip_through_the_arena() {
    let long = "x".repeat(70_000);
    let mut s = HostSet::new();
    s.insert(long.as_bytes());
    s.insert(b"a");
    s.insert(long.as_bytes());
    assert_eq!(s.into_sorted(), vec!["a".to_string(), long]);
}

#[test]
fn merged_sets_equal_the_set_of_the_whole() {
    let (mut a, mut b, mut whole) = (HostSet::new(), HostSet::new(), HostSet::new());
    for i in 0..1000 {
        let h = format!("h{}", i % 300);
        if i % 3 == 0 { &mut a } else { &mut b }.insert(h.as_bytes());
        whole.insert(h.as_bytes());
    }
    a.merge(b);
    assert_eq!(a.into_sorted(), whole.into_sorted());
}

#[test]
fn leader_counts_ties_and_breaks_them_by_name() {
    let mut c = HostCounter::new();
    for h in ["b", "a", "c", "B", "A", "d"] {
        c.add(h.as_bytes());
    }
    assert_eq!(leader(&mut c), Some(("a".into(), 2, 1)));
    assert_eq!(c.len(), 4);
    assert_eq!(leader(&mut HostCounter::new()), None);
}

#[test]
fn merged_counters_add_up() {
    let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
    for _ in 0..5 {
        a.add(b"x");
    }
    for _ in 0..3 {
        b.add(b"x");
        b.add(b"y");
    }
    for i in 0..100 {
        b.add(format!("z{i}").as_bytes());
    }
    a.merge(b);
    assert_eq!(leader(&mut a), Some(("x".into(), 8, 0)));
    assert_eq!(a.len(), 102);
}

#[test]
fn a_cluster_wrapping_past_the_end_still_sorts_by_hash() {
    // Hosts whose home is the last of 64 slots: all but the first of
    // them wrap to the table's start.
    let last: Vec<String> = (0..)
        .map(|i| format!("h{i}"))
        .filter(|h| inline_key(h.as_bytes()).table_hash() >> 58 == 63)
        .take(4)
        .collect();
    let mut c = HostCounter::new();
    for h in last.iter().chain(&["a".to_owned(), "b".to_owned()]) {
        c.add(h.as_bytes());
    }
    c.flush();
    assert_eq!(c.inline.slots.len(), 64);
    assert!(c.inline.slots[0].key != EMPTY, "nothing wrapped");
    let hashes: Vec<u64> = c
        .inline
        .by_hash()
        .iter()
        .map(|e| e.1.table_hash())
        .collect();
    assert_eq!(hashes.len(), 6);
    assert!(hashes.windows(2).all(|w| w[0] < w[1]), "{hashes:x?}");
}

/// `n` distinct hosts, none of them in another call's with another `tag`.
fn hosts(tag: &str, n: u64) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{i}")).collect()
}

#[test]
fn merging_two_full_counters_of_one_size_does_linear_work() {
    // Two tables of 2^17 slots at load 0.61: read in hash order, the
    // other's keys sweep this table at a density of 1.2 per slot.
    let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
    for h in hosts("a", 80_000) {
        a.add(h.as_bytes());
    }
    for h in hosts("b", 80_000) {
        b.add(h.as_bytes());
    }
    a.flush();
    b.flush();
    assert_eq!(
        (a.inline.slots.len(), b.inline.slots.len()),
        (1 << 17, 1 << 17)
    );
    a.inline.probes.set(0);
    b.inline.probes.set(0);
    a.merge(b);
    let probes = a.inline.probes.get();
    assert!(
        probes < 8 * 160_000,
        "{probes} probes to merge 160,000 keys"
    );
    assert_eq!(a.len(), 160_000);
}

/// `n` hosts named `tag` and a number whose hashes' top 11 bits are `top`:
/// they home to the same 1/2048th of any table.
fn homed(tag: &str, top: u64, n: usize) -> Vec<String> {
    (0u64..)
        .map(|i| format!("{tag}{i}"))
        .filter(|h| inline_key(h.as_bytes()).table_hash() >> 53 == top)
        .take(n)
        .collect()
}

#[test]
fn hosts_that_share_a_home_list_in_order_without_quadratic_moves() {
    // 1,500 hosts whose hashes share their top 11 bits: they all home
    // to slot 0 or 1, one run in the order they came, not hash order.
    // The long run grows the table once, to 2^12 slots, and no more:
    // growing cannot shorten it, and the load is then under 3/8.
    let colliding = homed("c", 0, 1_500);
    let mut c = HostCounter::new();
    for h in &colliding {
        c.add(h.as_bytes());
    }
    c.flush();
    assert_eq!(c.inline.slots.len(), 1 << 12);
    c.inline.probes.set(0);
    let listed = c.inline.by_hash();
    let moves = c.inline.probes.get();
    assert!(moves <= 4 * 1_500 + 64, "{moves} moves to list 1,500 keys");
    let order: Vec<(u64, [u8; 16])> = listed.iter().map(|e| (e.0, e.1 .0)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(order.len(), 1_500);
}

#[test]
fn a_mapped_table_grown_in_place_keeps_every_key_once() {
    // Past a huge page a table grows where it lies. Keys homed in the first
    // slots, a run wrapping past the end and a long run of one home all take
    // the paths that wait aside; every key must then be found again (a
    // second add counts 2, never a new key) and list in hash order.
    let first = homed("f", 0, 300);
    let last = homed("l", (1 << 11) - 1, 300);
    let all: Vec<String> = first
        .iter()
        .chain(&last)
        .cloned()
        .chain(hosts("h", 150_000))
        .collect();
    let mut c = HostCounter::new();
    for h in &all {
        c.add(h.as_bytes());
    }
    c.flush();
    assert!(matches!(c.inline.slots, Slots::Mapped(..)));
    let before = c.inline.slots.len();
    c.inline.probes.set(0);
    c.reserve(4 * before);
    let moved = c.inline.probes.get();
    assert!(c.inline.slots.len() >= 4 * before);
    assert!(matches!(c.inline.slots, Slots::Mapped(..)));
    assert!(
        moved < 4 * all.len() as u64,
        "{moved} probes to move {}",
        all.len()
    );
    for h in &all {
        c.add(h.as_bytes());
    }
    c.flush();
    assert_eq!(c.len(), all.len());
    let listed = c.inline.by_hash();
    assert!(listed.iter().all(|e| e.2 == 2));
    let order: Vec<(u64, [u8; 16])> = listed.iter().map(|e| (e.0, e.1 .0)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn sorting_a_reversed_run_falls_back_within_its_budget() {
    let mut v: Vec<u32> = (0..10_000).rev().collect();
    let moves = sort_nearly_sorted(&mut v, |&x| x);
    assert!(moves <= 4 * 10_000 + 64, "{moves}");
    assert!(v.windows(2).all(|w| w[0] < w[1]));
    let mut near: Vec<u32> = (0..10_000).map(|x| x ^ 1).collect();
    assert_eq!(sort_nearly_sorted(&mut near, |&x| x), 5_000);
    assert!(near.windows(2).all(|w| w[0] < w[1]));
}

proptest::proptest! {
    /// A partial's order: every host once with its whole count (wrapped
    /// counts included), short hosts by hash and long ones by bytes,
    /// and the same sequence however the hosts were counted: in another
    /// order, or split between counters that are then merged.
    #[test]
    fn sorted_counts_are_whole_and_in_one_order_however_counted(
        hosts in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(b"\0aAb\xff".to_vec()), 0..20),
            0..300,
        ),
        big in proptest::collection::vec((0usize..300, 1u64..=u64::from(u32::MAX) * 3), 0..5),
        cut in 0usize..300,
    ) {
        let mut model = std::collections::BTreeMap::<Vec<u8>, u64>::new();
        let (mut whole, mut a, mut b) = (HostCounter::new(), HostCounter::new(), HostCounter::new());
        for (i, h) in hosts.iter().enumerate() {
            whole.add(h);
            // The other pair sees the hosts in reverse, split at `cut`.
            let r = &hosts[hosts.len() - 1 - i];
            if i < cut { &mut a } else { &mut b }.add(r);
            *model.entry(h.to_ascii_lowercase()).or_default() += 1;
        }
        for &(i, n) in &big {
            if let Some(h) = hosts.get(i) {
                whole.add_weighted(h, n);
                b.add_weighted(h, n);
                *model.entry(h.to_ascii_lowercase()).or_default() += n;
            }
        }
        a.merge(b);
        let got = listed(&mut whole);
        proptest::prop_assert_eq!(&got, &listed(&mut a));
        let split = got.iter().position(|(h, _)| h.is_empty() || h.len() > INLINE_MAX);
        let (short, long) = got.split_at(split.unwrap_or(got.len()));
        let hash = |h: &[u8]| (inline_key(h).table_hash(), inline_key(h).0);
        proptest::prop_assert!(short.windows(2).all(|w| hash(&w[0].0) < hash(&w[1].0)));
        proptest::prop_assert!(long.windows(2).all(|w| w[0].0 < w[1].0));
        let mut sorted = got.clone();
        sorted.sort();
        proptest::prop_assert_eq!(sorted, model.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn a_limited_counter_stays_in_its_bytes_until_emptied() {
    // Limited to 2^12 slots: filled to its most hosts, by hosts that home
    // together (a long run, which grows an unlimited table early), it keeps
    // its slots; emptied, it counts again from nothing in the same slots.
    let mut c = HostCounter::new();
    let most = c.limit(100_000);
    assert_eq!(most, (1 << 12) / 4 * 3 - 17);
    for round in 0..2 {
        let mut added = 0;
        for h in homed(&format!("r{round}-"), 5, most)
            .iter()
            .chain(&hosts("x", 10_000))
        {
            if c.short_hosts() >= most {
                break;
            }
            c.add(h.as_bytes());
            added += 1;
        }
        assert!(
            c.inline.slots.len() <= 1 << 12,
            "{} slots",
            c.inline.slots.len()
        );
        assert_eq!(c.len(), added);
        let counted: u64 = c.unordered().map(|(_, n)| n).sum();
        assert_eq!(counted, added as u64);
        c.clear();
        assert_eq!((c.len(), c.unordered().count()), (0, 0));
    }
    // Unlimited, the same hosts grow the table past the limit.
    let mut free = HostCounter::new();
    for h in homed("r0-", 5, most)
        .iter()
        .chain(&hosts("x", 10_000))
        .take(most)
    {
        free.add(h.as_bytes());
    }
    free.flush();
    assert!(
        free.inline.slots.len() > 1 << 12,
        "{}",
        free.inline.slots.len()
    );
}
