//! One partial line:
//!
//! ```text
//! KEY \t connspy-partial/1 \t DIGEST \t PARAMS \t name=value ... \t crc=XXXXXXXX
//! ```
//!
//! KEY first, so that `sort`, Hadoop streaming and Spark group a window's
//! lines by the text before the first tab. Values are decimal counts or
//! standard base64 (with padding) of the [`super::codec`] binary. The CRC-32
//! (IEEE, zlib's) covers every byte before the tab that precedes `crc=`, so a
//! changed byte is caught before anything is merged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::codec::DecodeError;
use super::FORMAT;

/// A value of a body field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A count, written in decimal.
    Count(u64),
    /// Binary, written in base64.
    Binary(Vec<u8>),
}

/// The body fields of one window's state, in the order they are written:
/// what a [`crate::reduce::Reducer`] encodes.
#[derive(Debug, Default)]
pub struct Body {
    fields: Vec<(&'static str, Value)>,
}

impl Body {
    /// An empty body.
    pub(crate) fn new() -> Self {
        Body::default()
    }

    /// Appends a count field.
    pub(crate) fn count(&mut self, name: &'static str, n: u64) {
        self.fields.push((name, Value::Count(n)));
    }

    /// Puts a count field before every other.
    pub(crate) fn first_count(&mut self, name: &'static str, n: u64) {
        self.fields.insert(0, (name, Value::Count(n)));
    }

    /// Appends a binary field.
    pub(crate) fn binary(&mut self, name: &'static str, bytes: Vec<u8>) {
        self.fields.push((name, Value::Binary(bytes)));
    }
}

/// At least the length of the line [`write`] makes of these parts.
pub(crate) fn len_bound(key: &str, digest: &str, params: &str, body: &Body) -> usize {
    let fields: usize = body
        .fields
        .iter()
        .map(|(name, value)| {
            name.len()
                + 2
                + match value {
                    Value::Count(_) => 20,
                    Value::Binary(bytes) => base64::encoded_len(bytes.len(), true).unwrap_or(0),
                }
        })
        .sum();
    key.len() + FORMAT.len() + digest.len() + params.len() + fields + 20
}

/// Writes one line, newline included, to `out`.
pub(crate) fn write(out: &mut Vec<u8>, key: &str, digest: &str, params: &str, body: &Body) {
    let start = out.len();
    for part in [key, FORMAT, digest, params] {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\t');
    }
    for (name, value) in &body.fields {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        match value {
            Value::Count(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Value::Binary(bytes) => STANDARD.encode_string_to_vec(bytes, out),
        }
        out.push(b'\t');
    }
    let crc = crc32fast::hash(&out[start..out.len() - 1]);
    out.extend_from_slice(format!("crc={crc:08x}\n").as_bytes());
}

/// Appends `bytes` in base64 (the `base64` crate writes only to strings and
/// slices).
trait EncodeToVec {
    fn encode_string_to_vec(&self, bytes: &[u8], out: &mut Vec<u8>);
}

impl<E: base64::Engine> EncodeToVec for E {
    fn encode_string_to_vec(&self, bytes: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(
            start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
            0,
        );
        let n = self
            .encode_slice(bytes, &mut out[start..])
            .expect("the buffer was sized for it");
        out.truncate(start + n);
    }
}

/// Calls `read` with `body` as `--merge` reads it back from a written line:
/// a reducer's encode and decode, tested as a pair.
#[cfg(test)]
pub(crate) fn read_back<R>(body: &Body, read: impl FnOnce(BodyIn<'_>) -> R) -> R {
    let mut line = Vec::new();
    write(&mut line, "range", "digest", "params", body);
    let text = line.strip_suffix(b"\n").unwrap_or(&line);
    read(parse(text).expect("a line just written parses").body)
}

/// A line split into its parts, checked for format, version and CRC.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// The window key.
    pub(crate) key: &'a str,
    /// The settings' digest.
    pub(crate) digest: &'a str,
    /// The settings.
    pub(crate) params: &'a str,
    /// The state's fields.
    pub(crate) body: BodyIn<'a>,
}

/// Splits `line` (without its newline) and checks it.
///
/// # Errors
/// What is wrong, in words a user can act on.
pub(crate) fn parse(line: &[u8]) -> Result<Parsed<'_>, DecodeError> {
    let line =
        std::str::from_utf8(line).map_err(|_| "not a connspy partial line (not UTF-8 text)")?;
    let mut parts = line.split('\t');
    let _key = parts.next();
    let format = parts.next().ok_or("not a connspy partial line (no tab)")?;
    if format != FORMAT {
        return Err(match format.strip_prefix("connspy-partial/") {
            Some(v) => format!(
                "partial format version {}: this connspy reads version 1 only; merge with \
                 the connspy version that wrote it",
                shorten(v)
            )
            .into(),
            None => "not a connspy partial line (its second field is not connspy-partial/1)".into(),
        });
    }
    let (covered, crc) = line
        .rsplit_once('\t')
        .ok_or("a partial line without its crc field")?;
    let crc = crc
        .strip_prefix("crc=")
        .filter(|c| c.len() == 8)
        .and_then(|c| u32::from_str_radix(c, 16).ok())
        .ok_or("a partial line whose last field is not crc=XXXXXXXX")?;
    if crc32fast::hash(covered.as_bytes()) != crc {
        return Err("checksum mismatch: the line was changed or cut after it was written".into());
    }
    let mut parts = covered.split('\t');
    let key = parts.next().unwrap_or_default();
    let _format = parts.next();
    let digest = parts.next().ok_or("a partial line without its digest")?;
    let params = parts.next().ok_or("a partial line without its settings")?;
    let fields = parts
        .map(|part| {
            part.split_once('=')
                .ok_or_else(|| format!("field '{}' has no '='", shorten(part)).into())
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(Parsed {
        key,
        digest,
        params,
        body: BodyIn { fields, next: 0 },
    })
}

fn shorten(s: &str) -> &str {
    let end = s.char_indices().nth(40).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// A partial line's body fields, read in the order they were written: what
/// a [`crate::reduce::Reducer`] decodes.
#[derive(Debug)]
pub struct BodyIn<'a> {
    fields: Vec<(&'a str, &'a str)>,
    next: usize,
}

impl<'a> BodyIn<'a> {
    fn take(&mut self, name: &str) -> Option<&'a str> {
        match self.fields.get(self.next) {
            Some(&(n, v)) if n == name => {
                self.next += 1;
                Some(v)
            }
            _ => None,
        }
    }

    /// The count field `name`, which must come next.
    pub(crate) fn count(&mut self, name: &str) -> Result<u64, DecodeError> {
        let v = self
            .take(name)
            .ok_or_else(|| format!("field '{name}' is missing or out of place"))?;
        v.parse()
            .map_err(|_| format!("{name}={} is not a count", shorten(v)).into())
    }

    /// The count field `name` if it comes next, else 0.
    pub(crate) fn optional_count(&mut self, name: &str) -> Result<u64, DecodeError> {
        match self.fields.get(self.next) {
            Some(&(n, _)) if n == name => self.count(name),
            _ => Ok(0),
        }
    }

    /// The binary field `name` if it comes next.
    pub(crate) fn binary(&mut self, name: &str) -> Result<Option<Vec<u8>>, DecodeError> {
        self.take(name)
            .map(|v| {
                STANDARD
                    .decode(v)
                    .map_err(|e| format!("field '{name}' is not base64: {e}").into())
            })
            .transpose()
    }

    /// The binary field `name`, which must come next.
    pub(crate) fn required(&mut self, name: &str) -> Result<Vec<u8>, DecodeError> {
        self.binary(name)?
            .ok_or_else(|| format!("field '{name}' is missing or out of place").into())
    }

    /// Checks that every field was read.
    pub(crate) fn end(self) -> Result<(), DecodeError> {
        match self.fields.get(self.next) {
            None => Ok(()),
            Some((name, _)) => Err(format!("unexpected field '{}'", shorten(name)).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut body = Body::new();
        body.count("lines", 42);
        body.binary("to", vec![0, 1, 2, 255]);
        let mut out = Vec::new();
        write(
            &mut out,
            "2019-08-13T03:00:00Z",
            "0123456789abcdef",
            "mode=exact",
            &body,
        );
        out
    }

    #[test]
    fn writes_and_reads_back() {
        let line = sample();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "2019-08-13T03:00:00Z\tconnspy-partial/1\t0123456789abcdef\tmode=exact\tlines=42\t\
             to=AAEC/w==\tcrc=a1c1b4a9\n"
                .replace(
                    "a1c1b4a9",
                    &format!("{:08x}", crc32fast::hash(&line[..line.len() - 14]))
                )
        );
        let p = parse(&line[..line.len() - 1]).unwrap();
        assert_eq!(
            (p.key, p.digest, p.params),
            ("2019-08-13T03:00:00Z", "0123456789abcdef", "mode=exact")
        );
        let mut body = p.body;
        assert_eq!(body.count("lines").unwrap(), 42);
        assert_eq!(body.binary("from").unwrap(), None);
        assert_eq!(body.required("to").unwrap(), vec![0, 1, 2, 255]);
        body.end().unwrap();
    }

    #[test]
    fn any_changed_byte_is_caught() {
        let line = sample();
        let line = &line[..line.len() - 1];
        for i in 0..line.len() {
            let mut bad = line.to_vec();
            bad[i] ^= 0x01;
            assert!(parse(&bad).is_err(), "byte {i} changed");
        }
        assert!(parse(&line[..line.len() - 3]).is_err());
        assert!(parse(b"1565647204351 alice bob").is_err());
        let v2 = String::from_utf8(line.to_vec())
            .unwrap()
            .replace("partial/1", "partial/2");
        let err = parse(v2.as_bytes()).unwrap_err();
        assert!(err.0.contains("version 2"), "{err}");
    }
}
