//! Checking a fixture's declared expectations (data from
//! `fixtures/matrix/`, see `protocol::Expectation`) against its decoded
//! maps (in the runtime's report shape: key parts and values as JSON) and
//! printf lines. Each failure is a sentence naming what was expected and
//! what was found.

use std::collections::BTreeMap;

use probecc_guest::protocol::Expectation;
use serde_json::Value;

/// One decoded map: user key parts → combined value.
pub type Entries = Vec<(Vec<Value>, Value)>;

/// A map's entries from the runtime's report JSON
/// (`[{"key": [...], "value": ...}]`).
pub fn entries(report: &Value) -> Entries {
    report
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let key = e["key"].as_array().cloned().unwrap_or_default();
            (key, e["value"].clone())
        })
        .collect()
}

/// What a fixture produced.
pub struct Outcome<'a> {
    pub maps: &'a BTreeMap<String, Entries>,
    pub printf: &'a [String],
    pub pid: u32,
    pub uid: u32,
}

/// `Ok(())` or the reason the expectation is not met.
pub fn check(e: &Expectation, o: &Outcome) -> Result<(), String> {
    let what = describe(e);
    let got = observed(e, o).map_err(|why| format!("{what}: {why}"))?;
    compare(e, got).map_err(|want| format!("{what}: expected {want}, found {got}"))?;
    match &e.same_as {
        None => Ok(()),
        Some(other) => same_as(e, other, got, o).map_err(|why| format!("{what}: {why}")),
    }
}

/// `Ok` if the same key (field, bucket) of map `other` holds `got` too.
fn same_as(e: &Expectation, other: &str, got: i64, o: &Outcome) -> Result<(), String> {
    let theirs = Expectation {
        map: Some(other.to_string()),
        ..e.clone()
    };
    let want = observed(&theirs, o).map_err(|why| format!("{other}: {why}"))?;
    if want == got {
        Ok(())
    } else {
        Err(format!("expected {want} as in {other}, found {got}"))
    }
}

fn describe(e: &Expectation) -> String {
    if let Some(p) = &e.printf {
        return format!("printf lines containing {p:?}");
    }
    let map = e.map.clone().unwrap_or_default();
    match &e.key {
        None => format!("{map} entries"),
        Some(k) => {
            let mut s = format!("{map}{}", Value::Array(k.clone()));
            if let Some(f) = &e.field {
                s.push_str(&format!(".{f}"));
            }
            if let Some(b) = e.bucket {
                s.push_str(&format!(" bucket of {b}"));
            }
            s
        }
    }
}

/// The number the expectation is about.
fn observed(e: &Expectation, o: &Outcome) -> Result<i64, String> {
    if let Some(p) = &e.printf {
        return Ok(o.printf.iter().filter(|l| l.contains(p.as_str())).count() as i64);
    }
    let map = e.map.as_deref().ok_or("names neither map nor printf")?;
    let entries = o.maps.get(map).ok_or_else(|| format!("no map {map}"))?;
    let Some(key) = &e.key else {
        return Ok(entries.len() as i64);
    };
    let want: Vec<Value> = key.iter().map(|k| substitute(k, o)).collect();
    let (_, value) = entries
        .iter()
        .find(|(k, _)| k.len() == want.len() && k.iter().zip(&want).all(|(a, b)| same(a, b)))
        .ok_or_else(|| {
            let keys: Vec<String> = entries
                .iter()
                .take(8)
                .map(|(k, _)| Value::Array(k.clone()).to_string())
                .collect();
            format!("no entry with that key (keys: {})", keys.join(" "))
        })?;
    number(value, e)
}

fn substitute(k: &Value, o: &Outcome) -> Value {
    match k.as_str() {
        Some("$pid") => Value::from(o.pid),
        Some("$uid") => Value::from(o.uid),
        _ => k.clone(),
    }
}

/// Key parts match: equal JSON, or a kstack (array of frames) whose
/// frames include the expected function.
fn same(found: &Value, want: &Value) -> bool {
    match (found, want) {
        (Value::Array(frames), Value::String(f)) => frames
            .iter()
            .filter_map(Value::as_str)
            .any(|fr| fr.split('+').next() == Some(f.as_str())),
        (Value::Number(a), Value::Number(b)) => a.as_i64() == b.as_i64(),
        _ => found == want,
    }
}

fn number(value: &Value, e: &Expectation) -> Result<i64, String> {
    if let Value::Array(buckets) = value {
        let count = |b: &Value| b["count"].as_i64().unwrap_or(0);
        return Ok(match e.bucket {
            None => buckets.iter().map(count).sum(),
            Some(x) => buckets
                .iter()
                .filter(|b| {
                    b["min"].as_i64().is_none_or(|lo| lo <= x)
                        && b["max"].as_i64().is_none_or(|hi| x < hi)
                })
                .map(count)
                .sum(),
        });
    }
    if let Value::Object(fields) = value {
        let f = e.field.as_deref().unwrap_or("avg");
        return fields
            .get(f)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("the value has no field {f}: {value}"));
    }
    value
        .as_i64()
        .ok_or_else(|| format!("the value {value} is not a number"))
}

/// `Ok` if `got` satisfies every bound given, else the bounds as text.
fn compare(e: &Expectation, got: i64) -> Result<(), String> {
    let mut want = Vec::new();
    let mut ok = true;
    if let Some(v) = e.equals {
        want.push(format!("= {v}"));
        ok &= got == v;
    }
    if let Some(v) = e.at_most {
        want.push(format!("<= {v}"));
        ok &= got <= v;
    }
    let bounded = e.equals.is_some() || e.at_most.is_some() || e.same_as.is_some();
    let least = e.at_least.or((!bounded).then_some(1));
    if let Some(v) = least {
        want.push(format!(">= {v}"));
        ok &= got >= v;
    }
    if ok {
        Ok(())
    } else {
        Err(want.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome_check(e: &Expectation, maps: &BTreeMap<String, Entries>) -> Result<(), String> {
        let o = Outcome {
            maps,
            printf: &[],
            pid: 1,
            uid: 0,
        };
        check(e, &o)
    }

    fn maps(entry: i64, hits: i64) -> BTreeMap<String, Entries> {
        let one = |v: i64| vec![(vec![json!("dd")], json!(v))];
        BTreeMap::from([
            ("@entry".to_string(), one(entry)),
            ("@hits".to_string(), one(hits)),
        ])
    }

    fn same_as_entry() -> Expectation {
        Expectation {
            map: Some("@hits".into()),
            key: Some(vec![json!("dd")]),
            same_as: Some("@entry".into()),
            ..Expectation::default()
        }
    }

    #[test]
    fn same_as_holds_when_both_maps_counted_alike() {
        assert_eq!(outcome_check(&same_as_entry(), &maps(1000, 1000)), Ok(()));
    }

    #[test]
    fn same_as_names_both_counts_when_they_differ() {
        let e = outcome_check(&same_as_entry(), &maps(1000, 998)).unwrap_err();
        assert!(e.contains("expected 1000 as in @entry, found 998"), "{e}");
    }

    #[test]
    fn same_as_alone_does_not_also_demand_at_least_one() {
        assert_eq!(outcome_check(&same_as_entry(), &maps(0, 0)), Ok(()));
        let with_floor = Expectation {
            at_least: Some(1000),
            ..same_as_entry()
        };
        assert!(outcome_check(&with_floor, &maps(5, 5)).is_err());
    }

    #[test]
    fn same_as_a_map_without_the_key_says_so() {
        let mut m = maps(1, 1);
        m.insert("@entry".into(), Vec::new());
        let e = outcome_check(&same_as_entry(), &m).unwrap_err();
        assert!(
            e.contains("@entry") && e.contains("no entry with that key"),
            "{e}"
        );
    }
}
