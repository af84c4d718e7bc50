//! Shared by the format fuzz targets: a parser must never panic, must give
//! one outcome per line, and must agree with itself read line by line, read
//! by chunk starts (a mapped file) and read block by block (a stream). Asked
//! for the flow fields too (`--to_port`, `--proto`, `--by bytes` or `--by
//! packets`), it gives the same outcomes but for them: counts are handed
//! over as text, and read only for a line that counts; a run that wants
//! only some ports' counts may get the other lines without them.

// Each target includes this module and uses only its own part of it.
#![allow(dead_code)]

use connspy::input::format::connspy::Lines;
use connspy::input::format::{Count, Flow, Needs, Outcome, Parser, Record, Sequence};

pub fn check(parser: Parser, data: &[u8]) {
    let mut whole = Vec::new();
    parser.clone().scan(data, |o| {
        if let Outcome::Record(r) = o {
            assert!(!r.from.is_empty() && !r.to.is_empty());
            assert!(std::str::from_utf8(r.from).is_ok() && std::str::from_utf8(r.to).is_ok());
            // A host is a run of non-whitespace bytes in every format.
            let space = |h: &[u8]| h.iter().any(|b| b" \t\r\x0b\x0c".contains(b));
            assert!(!space(r.from) && !space(r.to));
        }
        whole.push(format!("{o:?}"));
        true
    });
    let lines = data.split(|&b| b == b'\n').count() - usize::from(data.ends_with(b"\n"));
    assert_eq!(whole.len(), if data.is_empty() { 0 } else { lines });
    // A chunk's scan (one pass over its bytes) gives what each line parsed
    // on its own gives.
    let mut one = parser.clone();
    let each: Vec<String> = Lines::new(data)
        .map(|l| format!("{:?}", one.parse_line(l)))
        .collect();
    assert_eq!(each, whole);
    // Reading the flow fields changes nothing else of any line (counts are
    // handed over as text, read only once a line counts), and a chunk's
    // scan gives the flow fields, counts included, that each line parsed on
    // its own gives; for either count a run can rank by.
    for count in [(true, false), (false, true)] {
        let needs = Needs {
            to_port: true,
            proto: true,
            bytes: count.0,
            packets: count.1,
        };
        let (mut with_flow, mut flows, mut uncounted) = (Vec::new(), Vec::new(), Vec::new());
        parser.clone().scan_with(data, needs, |o| {
            flows.push(format!("{o:?}"));
            uncounted.push(match &o {
                Outcome::Record(r) => {
                    let flow = Flow { count: Count::default(), ..r.flow };
                    format!("{:?}", Outcome::Record(Record { flow, ..*r }))
                }
                other => format!("{other:?}"),
            });
            let o = match o {
                Outcome::Record(mut r) => {
                    r.flow = Flow::default();
                    format!("{:?}", Outcome::Record(r))
                }
                other => format!("{other:?}"),
            };
            with_flow.push(o);
            true
        });
        assert_eq!(with_flow, whole);
        let mut one = parser.clone();
        let each: Vec<String> = Lines::new(data)
            .map(|l| format!("{:?}", one.parse_line_with(l, needs)))
            .collect();
        assert_eq!(each, flows);
        // A run that wants the counts of some ports only (`--to_port`) gets
        // the same outcomes, but that a line of another port may come
        // without its counts.
        let wants = |f: &Flow<'_>| f.to_port.is_some_and(|p| p % 2 == 0);
        let mut i = 0;
        parser.clone().scan_wanting(data, needs, wants, |o| {
            let got = format!("{o:?}");
            match &o {
                Outcome::Record(r) if !wants(&r.flow) => {
                    assert!(got == flows[i] || got == uncounted[i], "{got} / {}", flows[i])
                }
                _ => assert_eq!(got, flows[i]),
            }
            i += 1;
            true
        });
        assert_eq!(i, flows.len());
    }
    // Cut at every line start after the midpoint: the parser in force there
    // (from the map, and from `after`) reads the rest as the whole did.
    let map = parser.map(data, &|_| {});
    let mid = data.len() / 2;
    if let Some(i) = data[mid..].iter().position(|&b| b == b'\n') {
        let cut = mid + i + 1;
        let before = data[..cut].iter().filter(|&&b| b == b'\n').count();
        let mut rest = Vec::new();
        map.at(cut).clone().scan(&data[cut..], |o| {
            rest.push(format!("{o:?}"));
            true
        });
        assert_eq!(rest[..], whole[before..]);
        let after = parser.after(&data[..cut]).unwrap_or_else(|| parser.clone());
        assert_eq!(&after, map.at(cut));
    }
}

pub fn check_detected(data: &[u8]) {
    let parser = Parser::detect(data);
    check(parser.clone(), data);
    // A stream decides at its first non-blank block the same way.
    let mut seq = Sequence::new(Default::default());
    let _ = seq.next_block(data);
}
