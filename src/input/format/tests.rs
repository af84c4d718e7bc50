//! Every format rule, line by line.

use super::*;
use crate::timestamp::TsError;

fn rec(ts: i64, from: &'static str, to: &'static str) -> Outcome<'static> {
    Outcome::Record(Record::of(ts, from, to))
}

/// Every outcome of `data` under `parser`, through [`Parser::scan`], checked
/// against [`Parser::parse_line`] line by line.
fn scan_all(parser: &Parser, data: &[u8]) -> Vec<String> {
    let mut a = Vec::new();
    parser.clone().scan(data, |o| {
        a.push(format!("{o:?}"));
        true
    });
    let mut p = parser.clone();
    let b: Vec<String> = super::connspy::Lines::new(data)
        .map(|l| format!("{:?}", p.parse_line(l)))
        .collect();
    assert_eq!(a, b);
    a
}

const ZEEK: &str = "#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2019-11-08-11-44-16
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto
#types\ttime\tstring\taddr\tport\taddr\tport\tenum
1521911721.255387\tC8Tful1\t10.164.94.120\t39681\t10.47.3.155\t3389\ttcp
1521911722.5\tC8Tful2\tFE80::1\t1\t2001:DB8::Ab\t2\tudp
";

#[test]
fn zeek_is_detected_and_read_by_its_header() {
    let p = Parser::detect(ZEEK.as_bytes());
    assert_eq!(p, Parser::Zeek(ZeekTsv::default()));
    let out = scan_all(&p, ZEEK.as_bytes());
    assert_eq!(
        out[..8],
        vec![format!("{:?}", Outcome::Header(None)); 8][..]
    );
    assert_eq!(
        out[8],
        format!(
            "{:?}",
            rec(1_521_911_721_255, "10.164.94.120", "10.47.3.155")
        )
    );
    // IPv6 keeps its text form (case is folded later, like every host).
    assert_eq!(
        out[9],
        format!("{:?}", rec(1_521_911_722_500, "FE80::1", "2001:DB8::Ab"))
    );
}

#[test]
fn zeek_fields_come_from_the_header_in_any_order() {
    let log = "#separator \\x09\n#fields\tid.resp_h\tproto\tts\tid.orig_h\n\
               b\ttcp\t100.25\ta\n";
    let out = scan_all(&Parser::detect(log.as_bytes()), log.as_bytes());
    assert_eq!(out[2], format!("{:?}", rec(100_250, "a", "b")));
}

#[test]
fn zeek_separator_escapes_and_other_separators() {
    let log = "#separator \\x2c\n#fields,ts,id.orig_h,id.resp_h\n5,a,b\n";
    let out = scan_all(&Parser::detect(log.as_bytes()), log.as_bytes());
    assert_eq!(out[2], format!("{:?}", rec(5000, "a", "b")));
    let log = "#separator ||\n#fields||ts||id.orig_h||id.resp_h\n5||a||b\n";
    let out = scan_all(&Parser::Zeek(ZeekTsv::default()), log.as_bytes());
    assert_eq!(out[2], format!("{:?}", rec(5000, "a", "b")));
}

#[test]
fn zeek_unset_and_empty_hosts_are_malformed() {
    let log = "#separator \\x09\n#fields\tts\tid.orig_h\tid.resp_h\n\
               1\t-\tb\n1\ta\t(empty)\n1\t\tb\n\
               #unset_field\tNONE\n1\tNONE\tb\n1\t-\tb\n";
    let out = scan_all(&Parser::detect(log.as_bytes()), log.as_bytes());
    let unset = |f: &str| {
        let f = if f == "id.orig_h" {
            Field::IdOrigH
        } else {
            Field::IdRespH
        };
        format!("{:?}", Outcome::Malformed(LineError::Unset(f)))
    };
    assert_eq!(out[2], unset("id.orig_h"));
    assert_eq!(out[3], unset("id.resp_h"));
    assert_eq!(out[4], unset("id.orig_h"));
    assert_eq!(out[6], unset("id.orig_h"));
    assert_eq!(out[7], format!("{:?}", rec(1000, "-", "b")));
}

#[test]
fn zeek_lines_without_fields_short_lines_and_bad_times() {
    let log = "#separator \\x09\n1\ta\tb\n#fields\tts\tx\tid.orig_h\tid.resp_h\n\
               1\tx\ta\n1.5.5\tx\ta\tb\n\n";
    let out = scan_all(&Parser::detect(log.as_bytes()), log.as_bytes());
    assert_eq!(
        out[1],
        format!("{:?}", Outcome::Malformed(LineError::NoFields))
    );
    assert_eq!(
        out[3],
        format!(
            "{:?}",
            Outcome::Malformed(LineError::Missing(Field::IdRespH))
        )
    );
    assert_eq!(
        out[4],
        format!(
            "{:?}",
            Outcome::Malformed(LineError::Timestamp(TsError::Syntax))
        )
    );
    assert_eq!(out[5], format!("{:?}", Outcome::Blank));
    // A #fields line without the three fields leaves no usable columns.
    let log = "#separator \\x09\n#fields\tts\tid.orig_h\n1\ta\n";
    let out = scan_all(&Parser::detect(log.as_bytes()), log.as_bytes());
    assert_eq!(
        out[2],
        format!("{:?}", Outcome::Malformed(LineError::NoFields))
    );
}

#[test]
fn zeek_repeated_header_blocks_and_other_paths() {
    let log = "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.resp_h\n1\ta\tb\n\
               #close\t2019\n#separator \\x09\n#path\tdns\n#fields\tid.orig_h\tid.resp_h\tts\n\
               c\td\t2\n";
    let p = Parser::detect(log.as_bytes());
    let out = scan_all(&p, log.as_bytes());
    assert_eq!(out[3], format!("{:?}", rec(1000, "a", "b")));
    assert_eq!(out[6], format!("{:?}", Outcome::Header(Some(&b"dns"[..]))));
    assert_eq!(out[8], format!("{:?}", rec(2000, "c", "d")));
    // The parser after each prefix, and at chunk starts, is the one a
    // sequential parse has there.
    let data = log.as_bytes();
    let starts: Vec<usize> = (0..=data.len()).collect();
    let map = p.map(data, &|_| {});
    let at: Vec<Parser> = starts.iter().map(|&s| map.at(s).clone()).collect();
    for cut in 0..=data.len() {
        let line_start = data[..cut]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let mut seq = p.clone();
        for line in super::connspy::Lines::new(&data[..line_start]) {
            seq.parse_line(line);
        }
        // A header line that starts before `cut` is applied even when `cut`
        // falls inside it (the chunk it starts in owns it).
        let mut owned = seq.clone();
        if line_start < cut {
            let line = super::connspy::Lines::new(&data[line_start..])
                .next()
                .unwrap();
            if line.first() == Some(&b'#') {
                owned.parse_line(line);
            }
        }
        assert_eq!(at[cut], owned, "chunk start {cut}");
        let after = p.after(&data[..line_start]).unwrap_or_else(|| p.clone());
        assert_eq!(after, seq, "after {line_start}");
    }
}

/// The leading map agrees with the full map up to the first record, and
/// keeps the leading block's parser after it (a later block is for the
/// parse to notice); only the stateful formats are flagged as leading only.
#[test]
fn leading_maps_read_the_leading_header_lines_only() {
    let log = "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.resp_h\n1\ta\tb\n\
               #separator \\x09\n#fields\tid.orig_h\tid.resp_h\tts\nc\td\t2\n";
    let data = log.as_bytes();
    let p = Parser::detect(data);
    let (full, leading) = (p.map(data, &|_| {}), p.leading_map(data));
    assert!(leading.is_leading_only() && !full.is_leading_only());
    let first_record = log.find("1\ta").unwrap();
    for pos in 0..=data.len() {
        let want = if pos <= first_record {
            full.at(pos)
        } else {
            full.at(first_record)
        };
        assert_eq!(leading.at(pos), want, "at {pos}");
    }
    assert_ne!(leading.at(data.len()), full.at(data.len()));
    let vpc = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                packets bytes start end action log-status\n2 1 eni-1 a b 1 2 6 1 40 7 8 ACCEPT OK\n";
    let v = Parser::detect(vpc);
    assert!(v.leading_map(vpc).is_leading_only());
    assert_eq!(
        v.leading_map(vpc).at(vpc.len()),
        v.map(vpc, &|_| {}).at(vpc.len())
    );
    let plain = Parser::Connspy.leading_map(b"1 a b\n");
    assert!(!plain.is_leading_only());
}

#[test]
fn non_zeek_parsers_do_not_change_between_blocks() {
    for p in [
        Parser::Connspy,
        Parser::ZeekJson,
        Parser::Vpc(VpcLayout::V2),
    ] {
        assert_eq!(p.after(b"#separator \\x09\n"), None);
        let map = p.map(b"#x\n#y\n", &|_| {});
        assert_eq!((map.at(0), map.at(5)), (&p, &p));
    }
}

const ZEEK_JSON: &str = r#"{"ts":1679407094.627116,"uid":"C0mm","id.orig_h":"192.168.5.119","id.orig_p":8,"id.resp_h":"192.168.5.254","id.resp_p":0,"proto":"icmp","duration":1.02,"local_orig":true,"tunnel_parents":["a","b"]}
{"ts":"2023-03-21T13:58:14.627116Z","id.orig_h":"::1","id.resp_h":"FE80::2"}
{ "id.resp_h" : "b" , "id.orig_h" : "a" , "x": {"y": [1, {"z": "}"}]}, "ts" : 7 }
{"id": {"orig_h": "n1", "resp_h": "n2"}, "ts": 8}
"#;

#[test]
fn zeek_json_numbers_and_rfc3339_times() {
    let p = Parser::detect(ZEEK_JSON.as_bytes());
    assert_eq!(p, Parser::ZeekJson);
    let out = scan_all(&p, ZEEK_JSON.as_bytes());
    assert_eq!(
        out[0],
        format!(
            "{:?}",
            rec(1_679_407_094_627, "192.168.5.119", "192.168.5.254")
        )
    );
    assert_eq!(
        out[1],
        format!("{:?}", rec(1_679_407_094_627, "::1", "FE80::2"))
    );
    assert_eq!(out[2], format!("{:?}", rec(7000, "a", "b")));
    assert_eq!(out[3], format!("{:?}", rec(8000, "n1", "n2")));
}

#[test]
fn zeek_json_malformed_lines() {
    let p = Parser::ZeekJson;
    let m = |l: &'static str| p.clone().parse_line(l.as_bytes());
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":"a"}"#),
        Outcome::Malformed(LineError::Missing(Field::IdRespH))
    );
    assert_eq!(
        m(r#"{"id.orig_h":"a","id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::Missing(Field::Ts))
    );
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":"-","id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::Unset(Field::IdOrigH))
    );
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":"","id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::Unset(Field::IdOrigH))
    );
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":5,"id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::BadValue(Field::IdOrigH))
    );
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":"a\u0041","id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::BadValue(Field::IdOrigH))
    );
    assert_eq!(
        m(r#"{"ts":true,"id.orig_h":"a","id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::BadValue(Field::Ts))
    );
    assert_eq!(
        m(r#"{"ts":"yesterday","id.orig_h":"a","id.resp_h":"b"}"#),
        Outcome::Malformed(LineError::Timestamp(TsError::Syntax))
    );
    // Cut short after the keys it needs: not one object.
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":"a","id.resp_h":"b","proto":"tc"#),
        Outcome::Malformed(LineError::Json)
    );
    assert_eq!(
        m(r#"{"ts":1,"id.orig_h":"a""#),
        Outcome::Malformed(LineError::Json)
    );
    assert_eq!(m(r#"{"ts":1} x"#), Outcome::Malformed(LineError::Json));
    assert_eq!(m("1 a b"), Outcome::Malformed(LineError::Json));
    assert_eq!(m("  "), Outcome::Blank);
}

const EVE: &str = r#"{"timestamp":"2017-04-07T22:24:37.251547+0100","flow_id":586497171462735,"event_type":"flow","src_ip":"10.16.1.11","src_port":52438,"dest_ip":"10.16.1.1","dest_port":53,"proto":"UDP","app_proto":"dns","flow":{"pkts_toserver":1,"start":"2017-04-07T22:24:37.251547+0100","end":"2017-04-07T22:24:37.252097+0100","alerted":false},"tcp":{"tcp_flags":"1b"}}
{"timestamp":"2017-04-07T22:24:38.0+0100","event_type":"dns","src_ip":"10.16.1.11","dest_ip":"10.16.1.1","dns":{"type":"query"}}
{"timestamp":"2017-04-07T22:24:38.0+0100","event_type":"stats","stats":{"uptime":5}}
{"event_type":"flow","src_ip":"2001:db8::1","dest_ip":"2001:DB8::2","flow":{"start":"2017-04-07T21:00:00.5-01:00"}}
{"event_type":"flow","src_ip":"a","dest_ip":"b","flow":{"end":"2017-04-07T21:00:00Z"}}
"#;

#[test]
fn suricata_flow_events_count_others_are_skipped() {
    let p = Parser::detect(EVE.as_bytes());
    assert_eq!(p, Parser::Suricata);
    let out = scan_all(&p, EVE.as_bytes());
    // The offset without a colon: 22:24:37.251 at +01:00 is 21:24:37.251Z.
    assert_eq!(
        out[0],
        format!("{:?}", rec(1_491_600_277_251, "10.16.1.11", "10.16.1.1"))
    );
    assert_eq!(
        out[1],
        format!("{:?}", Outcome::Skipped(Skip::NonFlowEvent))
    );
    assert_eq!(
        out[2],
        format!("{:?}", Outcome::Skipped(Skip::NonFlowEvent))
    );
    assert_eq!(
        out[3],
        format!("{:?}", rec(1_491_602_400_500, "2001:db8::1", "2001:DB8::2"))
    );
    assert_eq!(
        out[4],
        format!(
            "{:?}",
            Outcome::Malformed(LineError::Missing(Field::FlowStart))
        )
    );
}

#[test]
fn json_detection() {
    assert_eq!(
        Parser::detect(br#"{"event_type":"stats"}"#),
        Parser::Suricata
    );
    assert_eq!(
        Parser::detect(br#"{"id.orig_h":"a","id.resp_h":"b"}"#),
        Parser::ZeekJson
    );
    assert_eq!(Parser::detect(br#"{"a":1}"#), Parser::Connspy);
    assert_eq!(Parser::detect(br#"{"a":"#), Parser::Connspy);
    assert_eq!(
        Parser::detect(b"\n  \n{\"id.orig_h\":\"a\",\"id.resp_h\":\"b\"}\n"),
        Parser::ZeekJson
    );
}

const VPC: &str = "2 064076352821 eni-06e7f195abcbdfe3b 170.31.82.104 34.235.78.61 61110 443 6 174 142286 1654892433 1654892493 ACCEPT OK
2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA
2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - SKIPDATA
2 123456789010 eni-1235b8ca123456789 2001:DB8::1 - 1 2 6 1 1 1431280876 1431280934 ACCEPT OK
2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 x 1431280934 ACCEPT OK
2 123456789010 eni-1 10.0.0.1
";

#[test]
fn vpc_v2_without_header() {
    assert!(VpcLayout::is_v2_record(
        VPC.lines().next().unwrap().as_bytes()
    ));
    assert!(!VpcLayout::is_v2_record(
        b"2 1 eni-1 a b 1 2 6 1 1 5 6 ACCEPT"
    ));
    assert!(!VpcLayout::is_v2_record(
        b"3 1 eni-1 a b 1 2 6 1 1 5 6 ACCEPT OK"
    ));
    assert!(!VpcLayout::is_v2_record(
        b"2 1 vpc-1 a b 1 2 6 1 1 5 6 ACCEPT OK"
    ));
    let p = Parser::detect(VPC.as_bytes());
    assert_eq!(p, Parser::Vpc(VpcLayout::V2));
    let out = scan_all(&p, VPC.as_bytes());
    assert_eq!(
        out[0],
        format!(
            "{:?}",
            rec(1_654_892_433_000, "170.31.82.104", "34.235.78.61")
        )
    );
    assert_eq!(out[1], format!("{:?}", Outcome::Skipped(Skip::NoData)));
    assert_eq!(out[2], format!("{:?}", Outcome::Skipped(Skip::NoData)));
    assert_eq!(
        out[3],
        format!("{:?}", Outcome::Skipped(Skip::UnsetAddress))
    );
    assert_eq!(
        out[4],
        format!(
            "{:?}",
            Outcome::Malformed(LineError::Timestamp(TsError::Syntax))
        )
    );
    assert_eq!(
        out[5],
        format!(
            "{:?}",
            Outcome::Malformed(LineError::Missing(Field::DstAddr))
        )
    );
}

/// Found by `format_vpc`: a line wrong in a host and in its counts is
/// malformed for its host whether or not `--by` reads the counts, since a
/// count only matters on a line that would be counted. Counts are read
/// only once the line counts: the parser hands them over as text.
#[test]
fn bad_counts_never_hide_a_bad_host() {
    let all = Needs {
        to_port: true,
        proto: true,
        bytes: true,
        packets: true,
    };
    let line = b"2 1 eni-1 \xff 10.0.0.2 1 2 6 many lots 1654892433 1654892493 ACCEPT OK";
    let mut p = Parser::Vpc(VpcLayout::V2);
    for needs in [Needs::default(), all] {
        assert_eq!(
            p.parse_line_with(line, needs),
            Outcome::Malformed(LineError::Utf8)
        );
    }
    let line = b"2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 many lots 1654892433 1654892493 ACCEPT OK";
    let Outcome::Record(rec) = p.parse_line_with(line, all) else {
        panic!("a record, its counts unread");
    };
    assert_eq!(
        rec.flow.count.sum(Field::Bytes),
        Err(LineError::BadValue(Field::Bytes))
    );
    assert!(matches!(p.parse_line(line), Outcome::Record(_)));
}

#[test]
fn vpc_header_default_and_custom_order() {
    let log = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
               2 1 eni-1 a b 1 2 6 1 1 1431280876 1431280934 ACCEPT OK\n\
               start dstaddr srcaddr\n\
               77 y x\n\
               ${srcaddr} ${dstaddr} ${start} ${log-status}\n\
               p q 5 NODATA\n\
               p q 5 OK\n";
    let p = Parser::detect(log.as_bytes());
    assert!(matches!(p, Parser::Vpc(_)));
    let out = scan_all(&p, log.as_bytes());
    assert_eq!(out[0], format!("{:?}", Outcome::Header(None)));
    assert_eq!(out[1], format!("{:?}", rec(1_431_280_876_000, "a", "b")));
    assert_eq!(out[3], format!("{:?}", rec(77_000, "x", "y")));
    assert_eq!(out[5], format!("{:?}", Outcome::Skipped(Skip::NoData)));
    assert_eq!(out[6], format!("{:?}", rec(5000, "p", "q")));
    // Named explicitly, a headerless file is read in the version 2 order.
    assert_eq!(
        Parser::choose(LogFormat::Vpc, None, b"x y z"),
        Parser::Vpc(VpcLayout::V2)
    );
}

#[test]
fn columns_with_delimiters() {
    let c: Columns = "3,1,2".parse().unwrap();
    let p = Parser::choose(LogFormat::Auto, Some(&c), b"");
    assert_eq!(p.clone().parse_line(b"a  b\t 12"), rec(12_000, "a", "b"));
    assert_eq!(
        p.clone().parse_line(b"a b"),
        Outcome::Malformed(LineError::TooFewColumns(3))
    );
    let csv = Parser::Columns(c.with_delimiter(",".parse().unwrap()));
    assert_eq!(
        csv.clone().parse_line(b"a, b ,12,extra"),
        rec(12_000, "a", "b")
    );
    assert_eq!(
        csv.clone().parse_line(b",b,12"),
        Outcome::Malformed(LineError::Unset(Field::From))
    );
    assert_eq!(
        csv.clone().parse_line(b"a,b,x"),
        Outcome::Malformed(LineError::Timestamp(TsError::Syntax))
    );
    let tsv: Columns = "1,2,3".parse().unwrap();
    let tsv = Parser::Columns(tsv.with_delimiter("\\t".parse().unwrap()));
    assert_eq!(
        tsv.clone().parse_line(b"5\tmy-host\tb\r"),
        rec(5000, "my-host", "b")
    );
    // A host is whitespace-free in every format (a query cannot name one
    // that is not): inside a column, a space makes the line malformed.
    assert_eq!(
        tsv.clone().parse_line(b"5\tmy host\tb\r"),
        Outcome::Malformed(LineError::Space(Field::From))
    );
    for bad in ["1,2", "1,2,3,4", "0,1,2", "1,1,2", "a,b,c", ""] {
        assert!(bad.parse::<Columns>().is_err(), "{bad}");
    }
    for bad in ["", "ab", "\n"] {
        assert!(bad.parse::<Delimiter>().is_err(), "{bad:?}");
    }
    assert_eq!("\t".parse::<Delimiter>(), Ok(Delimiter::Byte(b'\t')));
}

#[test]
fn anything_else_is_connspy() {
    for head in [
        &b""[..],
        b"\n\n",
        b"1565647204351 a b\n",
        b"# a comment\n",
        b"x",
    ] {
        assert_eq!(Parser::detect(head), Parser::Connspy, "{head:?}");
    }
    assert_eq!(Parser::Connspy.parse_line(b"1 a b"), rec(1000, "a", "b"));
}

#[test]
fn hosts_must_be_utf8_in_every_format() {
    let mut z = Parser::detect(ZEEK.as_bytes());
    z.scan(ZEEK.as_bytes(), |_| true);
    assert_eq!(
        z.parse_line(b"1\tu\t\xff\t1\tb\t2\ttcp"),
        Outcome::Malformed(LineError::Utf8)
    );
    assert_eq!(
        Parser::Vpc(VpcLayout::V2).parse_line(b"2 1 eni-1 \xff b 1 2 6 1 1 5 6 ACCEPT OK"),
        Outcome::Malformed(LineError::Utf8)
    );
}

#[test]
fn a_vpc_header_mid_file_holds_across_blocks_and_chunks() {
    let log = b"2 1 eni-1 a b 1 2 6 1 1 10 70 ACCEPT OK\n\
                start dstaddr srcaddr log-status\n\
                20 y x OK\n\
                30 w v OK\n";
    let p = Parser::detect(log);
    let cut = log.iter().rposition(|&b| b == b'\n').unwrap();
    let cut = log[..cut].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let next = p.after(&log[..cut]).expect("the header changes the layout");
    assert_eq!(next.clone().parse_line(b"30 w v OK"), rec(30_000, "v", "w"));
    assert_eq!(p.map(log, &|_| {}).at(cut), &next);
    assert_eq!(p.map(log, &|_| {}).at(3), &p);
}

/// Every JSON parser, on `line`.
fn json_outcomes(line: &str) -> [Outcome<'_>; 2] {
    [
        Parser::ZeekJson.parse_line(line.as_bytes()),
        Parser::Suricata.parse_line(line.as_bytes()),
    ]
}

/// A line that counts in both JSON formats: Zeek's keys and Suricata's.
const BOTH: &str = r#"{"ts":7,"event_type":"flow","id.orig_h":"a","src_ip":"a","id.resp_h":"b","dest_ip":"b","flow":{"start":"1970-01-01T00:00:07Z"}"#;

/// docs/formats.md: a line that is not one object is malformed, trailing
/// bytes included. Once the scanner had the keys it needs it only checked
/// that the line ended with `}`, so a second object after the first, or a
/// stray brace, was counted.
#[test]
fn json_bytes_after_the_object_make_the_line_malformed() {
    let record = rec(7000, "a", "b");
    let counted = [record, record];
    let json = [
        Outcome::Malformed(LineError::Json),
        Outcome::Malformed(LineError::Json),
    ];
    // Keys early (the scanner stops reading keys) or last (it reads all).
    for (head, rest) in [
        (BOTH, r#","proto":"tcp","x":{"y":[1,{"z":"}"}]}"#),
        (BOTH, ""),
        (BOTH, r#","s":"}{\"}","t":[]"#),
    ] {
        let line = format!("{head}{rest}}}");
        assert_eq!(json_outcomes(&line), counted, "{line}");
        assert_eq!(json_outcomes(&format!("{line} \t\r")), counted, "{line}");
        for tail in [r#"{"ts":1}"#, "}", " x", "]", ",", "{}"] {
            let bad = format!("{line}{tail}");
            assert_eq!(json_outcomes(&bad), json, "{bad}");
        }
        // Cut short, even where what is left ends with a brace.
        let cut = format!("{head}{rest},\"q\":\"}}");
        assert_eq!(json_outcomes(&cut), json, "{cut}");
    }
    let late = r#"{"proto":"tcp","x":{"y":"}"},"ts":7,"event_type":"flow","src_ip":"a","dest_ip":"b","id.orig_h":"a","id.resp_h":"b","flow":{"start":"1970-01-01T00:00:07Z"}}"#;
    assert_eq!(json_outcomes(late), counted);
    assert_eq!(json_outcomes(&format!("{late}{late}")), json);
}

/// A host holding whitespace is malformed in every format: connspy's own
/// format cannot carry one, and `--to_host`/`--from_host` refuse one, so a
/// Zeek JSON host `"a b"` was counted under a name no query could ask for.
#[test]
fn a_host_holding_whitespace_is_malformed_in_every_format() {
    for space in [" ", "\t", "\r", "\u{b}", "\u{c}"] {
        let host = format!("a{space}b");
        let zeek_json = format!(r#"{{"ts":1,"id.orig_h":"{host}","id.resp_h":"c"}}"#);
        assert_eq!(
            Parser::ZeekJson.parse_line(zeek_json.as_bytes()),
            Outcome::Malformed(LineError::Space(Field::IdOrigH)),
            "{host:?}"
        );
        let eve = format!(
            r#"{{"event_type":"flow","src_ip":"c","dest_ip":"{host}","flow":{{"start":"1970-01-01T00:00:01Z"}}}}"#
        );
        assert_eq!(
            Parser::Suricata.parse_line(eve.as_bytes()),
            Outcome::Malformed(LineError::Space(Field::DestIp)),
            "{host:?}"
        );
        if space != "\t" {
            let mut zeek = Parser::detect(ZEEK.as_bytes());
            scan_all(&zeek, ZEEK.as_bytes());
            for line in ZEEK.lines().take(8) {
                zeek.parse_line(line.as_bytes());
            }
            let tsv = format!("1.5\tC1\t{host}\t1\tc\t2\ttcp");
            assert_eq!(
                zeek.parse_line(tsv.as_bytes()),
                Outcome::Malformed(LineError::Space(Field::IdOrigH)),
                "{host:?}"
            );
        }
        let csv = Parser::Columns(
            "1,2,3"
                .parse::<Columns>()
                .unwrap()
                .with_delimiter(Delimiter::Byte(b',')),
        );
        let line = format!("1,c,{host}");
        assert_eq!(
            csv.clone().parse_line(line.as_bytes()),
            Outcome::Malformed(LineError::Space(Field::To)),
            "{host:?}"
        );
    }
    // Other control bytes belong to hosts, as in connspy's format.
    assert_eq!(
        Parser::ZeekJson.parse_line(b"{\"ts\":1,\"id.orig_h\":\"a\x01b\",\"id.resp_h\":\"c\"}"),
        Outcome::Record(Record {
            ts: 1000,
            from: b"a\x01b",
            to: b"c",
            flow: Flow::default(),
        })
    );
    // Hosts of every length, the whitespace anywhere in them.
    for len in 1..40 {
        for at in 0..len {
            let mut host = vec![b'h'; len];
            let line = |host: &[u8]| {
                let mut l = b"{\"ts\":1,\"id.orig_h\":\"".to_vec();
                l.extend_from_slice(host);
                l.extend_from_slice(b"\",\"id.resp_h\":\"c\"}");
                l
            };
            assert!(matches!(
                Parser::ZeekJson.parse_line(&line(&host)),
                Outcome::Record(_)
            ));
            host[at] = b' ';
            let l = line(&host);
            assert_eq!(
                Parser::ZeekJson.parse_line(&l),
                Outcome::Malformed(LineError::Space(Field::IdOrigH)),
                "{len} {at}"
            );
        }
    }
}

mod json_duplicates {
    use super::*;
    use proptest::prelude::*;

    /// A read key given twice, as flat keys, nested ones, or both.
    #[derive(Debug, Clone)]
    enum Member {
        Ts(u32),
        Orig(u8),
        Resp(u8),
        Id(u8, u8),
        Filler(u8),
    }

    fn member() -> impl Strategy<Value = Member> {
        prop_oneof![
            (1u32..99).prop_map(Member::Ts),
            any::<u8>().prop_map(Member::Orig),
            any::<u8>().prop_map(Member::Resp),
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Member::Id(a, b)),
            any::<u8>().prop_map(Member::Filler),
        ]
    }

    fn text(m: &Member) -> String {
        match m {
            Member::Ts(t) => format!(r#""ts":{t}"#),
            Member::Orig(h) => format!(r#""id.orig_h":"o{h}""#),
            Member::Resp(h) => format!(r#""id.resp_h":"r{h}""#),
            Member::Id(a, b) => format!(r#""id":{{"orig_h":"o{a}","resp_h":"r{b}"}}"#),
            Member::Filler(f) => format!(r#""f{f}":{{"x":["}}",{f}]}}"#),
        }
    }

    proptest! {
        /// Whatever the order of the members and wherever a key comes
        /// again (before or after the scanner has every key it needs, flat
        /// or under `id`), the first occurrence of each field is the one
        /// read: the same line in any order of its other members gives the
        /// same record. Before, the last one won while the scanner still
        /// lacked a key, and the first once it had them all.
        #[test]
        fn zeek_json_reads_the_first_occurrence_of_each_field(
            members in prop::collection::vec(member(), 1..9),
        ) {
            let line = format!(
                "{{{}}}",
                members.iter().map(text).collect::<Vec<_>>().join(",")
            );
            let (mut ts, mut from, mut to) = (None, None, None);
            for m in &members {
                match m {
                    Member::Ts(t) => { ts.get_or_insert(*t); }
                    Member::Orig(h) => { from.get_or_insert(format!("o{h}")); }
                    Member::Resp(h) => { to.get_or_insert(format!("r{h}")); }
                    Member::Id(a, b) => {
                        from.get_or_insert(format!("o{a}"));
                        to.get_or_insert(format!("r{b}"));
                    }
                    Member::Filler(_) => {}
                }
            }
            let got = Parser::ZeekJson.parse_line(line.as_bytes());
            match (ts, &from, &to) {
                (Some(ts), Some(from), Some(to)) => prop_assert_eq!(
                    got,
                    Outcome::Record(Record {
                        ts: i64::from(ts) * 1000,
                        from: from.as_bytes(),
                        to: to.as_bytes(),
                        flow: Flow::default(),
                    }),
                    "{}", line
                ),
                _ => prop_assert!(matches!(got, Outcome::Malformed(LineError::Missing(_))), "{}", line),
            }
            // Bytes after the object make it malformed wherever the keys are.
            let bad = format!("{line}{line}");
            prop_assert_eq!(Parser::ZeekJson.parse_line(bad.as_bytes()), Outcome::Malformed(LineError::Json));
        }

        /// The same for Suricata: the first `event_type` decides (a flow
        /// counts; any other event is skipped there), the first `src_ip`,
        /// `dest_ip` and `flow.start` are read.
        #[test]
        fn suricata_reads_the_first_occurrence_of_each_field(
            events in prop::collection::vec(prop::sample::select(vec!["flow", "dns"]), 1..3),
            srcs in prop::collection::vec(any::<u8>(), 1..3),
            starts in prop::collection::vec(1u32..59, 1..3),
            order in Just(()).prop_perturb(|(), mut rng| rng.random::<u64>()),
        ) {
            let mut members: Vec<(u8, String)> = Vec::new();
            members.extend(events.iter().map(|e| (0, format!(r#""event_type":"{e}""#))));
            members.extend(srcs.iter().map(|s| (1, format!(r#""src_ip":"s{s}""#))));
            members.push((2, r#""dest_ip":"d""#.to_owned()));
            members.extend(starts.iter().map(|t| (3, format!(r#""flow":{{"start":"1970-01-01T00:00:{t:02}Z"}}"#))));
            // A deterministic shuffle from the drawn seed.
            let mut seed = order | 1;
            let mut keyed: Vec<(u64, (u8, String))> = members
                .into_iter()
                .map(|m| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed, m)
                })
                .collect();
            keyed.sort_by_key(|(k, _)| *k);
            let members: Vec<(u8, String)> = keyed.into_iter().map(|(_, m)| m).collect();
            let line = format!(
                "{{{}}}",
                members.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(",")
            );
            let first = |kind: u8| members.iter().find(|(k, _)| *k == kind).map(|(_, t)| t.clone()).unwrap();
            let got = Parser::Suricata.parse_line(line.as_bytes());
            if first(0).contains("dns") {
                prop_assert_eq!(got, Outcome::Skipped(Skip::NonFlowEvent), "{}", line);
            } else {
                let src = first(1);
                let src = &src[r#""src_ip":""#.len()..src.len() - 1];
                let start = first(3);
                let secs: i64 = start[start.len() - 5..start.len() - 3].parse().unwrap();
                prop_assert_eq!(
                    got,
                    Outcome::Record(Record { ts: secs * 1000, from: src.as_bytes(), to: b"d", flow: Flow::default() }),
                    "{}", line
                );
                let bad = format!("{line} {line}");
                prop_assert_eq!(Parser::Suricata.parse_line(bad.as_bytes()), Outcome::Malformed(LineError::Json));
            }
        }
    }
}

mod zeek_scan {
    use super::*;
    use proptest::prelude::*;

    /// A Zeek field: a timestamp, an address, a count, unset, or bytes a
    /// parser must not be fooled by (a tab, `\r`, `#`, a space, nothing).
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u32..2_000_000_000, 0u32..1_000_000).prop_map(|(s, f)| format!("{s}.{f:06}")),
            (0u8..255, 0u8..255).prop_map(|(a, b)| format!("10.{a}.0.{b}")),
            (0u64..u64::MAX).prop_map(|n| n.to_string()),
            (0u32..70_000).prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "-",
                "(empty)",
                "",
                "\r",
                "#",
                " ",
                "1.5",
                "tcp",
                "99999999999999999999",
                "x\r",
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// A line: a header (one of a few `#fields` layouts, or another
    /// separator), blank, or fields joined by a tab, perhaps ending in `\r`.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (prop::collection::vec(field(), 0..14), any::<bool>())
                .prop_map(|(f, cr)| format!("{}{}", f.join("\t"), if cr { "\r" } else { "" })),
            // As wide as the layout whose fields lie past the 32nd column.
            1 => prop::collection::vec(field(), 36..38).prop_map(|f| f.join("\t")),
            1 => Just(format!("#fields\t{}ts\tid.orig_h\tid.resp_h", "x\t".repeat(33))),
            1 => prop::sample::select(vec![
                "#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\torig_bytes\tresp_bytes\torig_pkts\tresp_pkts",
                "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state",
                "#fields\tid.resp_h\tresp_bytes\tts\tid.orig_h",
                "#fields\tts\tid.orig_h",
                "#separator \\x20",
                "#separator \\x09",
                "#separator ,;",
                "#unset_field\t(empty)",
                "#path\tdns",
                "",
                " \t ",
            ])
            .prop_map(str::to_owned),
        ]
    }

    proptest! {
        /// Scanning a chunk gives, line for line, what parsing each line on
        /// its own gives, whatever the flow fields asked for.
        #[test]
        fn zeek_scan_is_parse_line_line_by_line(
            lines in prop::collection::vec(line(), 0..40),
            newline_at_end: bool,
            asks in prop::array::uniform4(any::<bool>()),
        ) {
            let mut data = lines.join("\n");
            if newline_at_end {
                data.push('\n');
            }
            let needs = Needs { to_port: asks[0], proto: asks[1], bytes: asks[2], packets: asks[3] };
            let mut scanned = Vec::new();
            Parser::Zeek(ZeekTsv::default()).scan_with(data.as_bytes(), needs, |o| {
                scanned.push(format!("{o:?}"));
                true
            });
            let mut p = Parser::Zeek(ZeekTsv::default());
            let each: Vec<String> = super::super::connspy::Lines::new(data.as_bytes())
                .map(|l| format!("{:?}", p.parse_line_with(l, needs)))
                .collect();
            prop_assert_eq!(scanned, each);
        }

        /// A scan that wants the counts of some ports only gives, for a line
        /// of another port, the same outcome with or without its counts,
        /// and for every other line the same outcome.
        #[test]
        fn zeek_scan_wanting_some_counts_changes_only_their_counts(
            lines in prop::collection::vec(line(), 0..40),
            asks in prop::array::uniform4(any::<bool>()),
        ) {
            let data = lines.join("\n");
            let needs = Needs { to_port: asks[0], proto: asks[1], bytes: asks[2], packets: asks[3] };
            let wants = |f: &Flow<'_>| f.to_port.is_some_and(|p| p % 2 == 0);
            let mut all = Vec::new();
            Parser::Zeek(ZeekTsv::default()).scan_with(data.as_bytes(), needs, |o| {
                all.push(format!("{o:?}"));
                true
            });
            let mut some = Vec::new();
            Parser::Zeek(ZeekTsv::default()).scan_wanting(data.as_bytes(), needs, wants, |o| {
                let uncounted = match &o {
                    Outcome::Record(r) if !wants(&r.flow) => {
                        let flow = Flow { count: Count::default(), ..r.flow };
                        Some(format!("{:?}", Outcome::Record(Record { flow, ..*r })))
                    }
                    _ => None,
                };
                some.push((format!("{o:?}"), uncounted));
                true
            });
            prop_assert_eq!(some.len(), all.len());
            for ((got, uncounted), full) in some.iter().zip(&all) {
                match uncounted {
                    Some(uncounted) => prop_assert!(got == full || got == uncounted, "{got} / {full}"),
                    None => prop_assert_eq!(got, full),
                }
            }
        }
    }

    /// Where Zeek writes the counts past the port, a line whose port is
    /// not wanted is not split to them: it comes without counts.
    #[test]
    fn zeek_leaves_unwanted_counts_unread() {
        let data = "#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\torig_bytes\tresp_bytes\n\
                    1.0\ta\tb\t443\ttcp\t10\t20\n\
                    2.0\ta\tb\t80\ttcp\t10\tlots\n";
        let needs = Needs {
            to_port: true,
            bytes: true,
            ..Needs::default()
        };
        let mut counts = Vec::new();
        Parser::Zeek(ZeekTsv::default()).scan_wanting(
            data.as_bytes(),
            needs,
            |f| f.to_port == Some(443),
            |o| {
                if let Outcome::Record(r) = o {
                    counts.push((r.flow.to_port, format!("{:?}", r.flow.count)));
                }
                true
            },
        );
        assert_eq!(
            counts,
            [
                (
                    Some(443),
                    format!("{:?}", Count::both(Some(b"10"), Some(b"20")))
                ),
                (Some(80), format!("{:?}", Count::default())),
            ]
        );
    }
}
