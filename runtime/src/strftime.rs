//! strftime: a wall-clock time as C's `strftime` prints it in the C
//! locale, for `time()` and `strftime()` — written here so that every
//! runner prints the same text for the same instant and zone (the offline
//! runner's clock is fixed, the live one is the machine's). The
//! conversions `%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m
//! %M %n %p %r %R %s %S %t %T %u %V %w %y %Y %z %Z %%`, and bpftrace's `%f`
//! (microseconds); anything else is copied as it is.

/// An instant and the zone it is shown in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WallTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds into the second.
    pub nanos: u32,
    /// The zone's offset from UTC, in seconds east.
    pub offset: i32,
    /// The zone's abbreviation (`UTC`, `CET`).
    pub zone: String,
}

impl WallTime {
    /// The instant `ns` nanoseconds after the epoch, in UTC.
    pub fn utc_ns(ns: i128) -> WallTime {
        WallTime {
            secs: ns.div_euclid(1_000_000_000) as i64,
            nanos: ns.rem_euclid(1_000_000_000) as u32,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    /// `ns` nanoseconds later, in the same zone.
    pub fn plus_ns(&self, ns: u64) -> WallTime {
        let total = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos) + ns as i128;
        WallTime {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            offset: self.offset,
            zone: self.zone.clone(),
        }
    }
}

/// The calendar fields of an instant in its zone.
struct Tm {
    year: i64,
    /// 1..=12
    month: u32,
    /// 1..=31
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    /// 0 = Sunday
    wday: u32,
    /// 0..=365
    yday: u32,
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The civil date of day `z` since the epoch (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn tm(t: &WallTime) -> Tm {
    let local = t.secs + i64::from(t.offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400) as u32;
    let (year, month, day) = civil(days);
    const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = BEFORE[month as usize - 1] + day - 1 + u32::from(month > 2 && leap(year));
    Tm {
        year,
        month,
        day,
        hour: secs / 3600,
        min: secs / 60 % 60,
        sec: secs % 60,
        wday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

/// The ISO 8601 week-based year and week of `t`.
fn iso_week(t: &Tm) -> (i64, u32) {
    let wday = (t.wday + 6) % 7; // Monday = 0
    let week = (t.yday as i64 - wday as i64 + 10) / 7;
    let weeks_in = |y: i64| {
        // A year has 53 weeks when it starts on a Thursday, or a Wednesday
        // in a leap year.
        let jan1 = (civil_days(y) + 4).rem_euclid(7); // 0 = Sunday
        if jan1 == 4 || (jan1 == 3 && leap(y)) {
            53
        } else {
            52
        }
    };
    if week < 1 {
        (t.year - 1, weeks_in(t.year - 1))
    } else if week > weeks_in(t.year) as i64 {
        (t.year + 1, 1)
    } else {
        (t.year, week as u32)
    }
}

/// Days from the epoch to January 1st of `year`.
fn civil_days(year: i64) -> i64 {
    let y = year - 1;
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = 306; // March 1st-based day of January 1st of the next year
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `fmt` for the instant `t`.
pub fn format(fmt: &str, t: &WallTime) -> String {
    let f = tm(t);
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(conv) = chars.next() else {
            out.push('%');
            break;
        };
        let hour12 = if f.hour % 12 == 0 { 12 } else { f.hour % 12 };
        let text = match conv {
            'a' => DAYS[f.wday as usize][..3].to_string(),
            'A' => DAYS[f.wday as usize].to_string(),
            'b' | 'h' => MONTHS[f.month as usize - 1][..3].to_string(),
            'B' => MONTHS[f.month as usize - 1].to_string(),
            'c' => format!(
                "{} {} {:>2} {:02}:{:02}:{:02} {}",
                &DAYS[f.wday as usize][..3],
                &MONTHS[f.month as usize - 1][..3],
                f.day,
                f.hour,
                f.min,
                f.sec,
                f.year
            ),
            'C' => format!("{:02}", f.year.div_euclid(100)),
            'd' => format!("{:02}", f.day),
            'D' => format!("{:02}/{:02}/{:02}", f.month, f.day, f.year.rem_euclid(100)),
            'e' => format!("{:>2}", f.day),
            'f' => format!("{:06}", t.nanos / 1000),
            'F' => format!("{}-{:02}-{:02}", f.year, f.month, f.day),
            'g' => format!("{:02}", iso_week(&f).0.rem_euclid(100)),
            'G' => iso_week(&f).0.to_string(),
            'H' => format!("{:02}", f.hour),
            'I' => format!("{hour12:02}"),
            'j' => format!("{:03}", f.yday + 1),
            'k' => format!("{:>2}", f.hour),
            'l' => format!("{hour12:>2}"),
            'm' => format!("{:02}", f.month),
            'M' => format!("{:02}", f.min),
            'n' => "\n".into(),
            'p' => if f.hour < 12 { "AM" } else { "PM" }.into(),
            'r' => format!(
                "{hour12:02}:{:02}:{:02} {}",
                f.min,
                f.sec,
                if f.hour < 12 { "AM" } else { "PM" }
            ),
            'R' => format!("{:02}:{:02}", f.hour, f.min),
            's' => t.secs.to_string(),
            'S' => format!("{:02}", f.sec),
            't' => "\t".into(),
            'T' => format!("{:02}:{:02}:{:02}", f.hour, f.min, f.sec),
            'u' => (if f.wday == 0 { 7 } else { f.wday }).to_string(),
            'V' => format!("{:02}", iso_week(&f).1),
            'w' => f.wday.to_string(),
            'y' => format!("{:02}", f.year.rem_euclid(100)),
            'Y' => f.year.to_string(),
            'z' => {
                let sign = if t.offset < 0 { '-' } else { '+' };
                let off = t.offset.unsigned_abs();
                format!("{sign}{:02}{:02}", off / 3600, off / 60 % 60)
            }
            'Z' => t.zone.clone(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> WallTime {
        WallTime {
            secs,
            nanos: 123_456_789,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    #[test]
    fn the_c_locale_fields() {
        // 2024-02-29 13:05:09 UTC, a Thursday.
        let t = at(1_709_211_909);
        assert_eq!(format("%Y-%m-%d %H:%M:%S", &t), "2024-02-29 13:05:09");
        assert_eq!(
            format("%a %A %b %B %j", &t),
            "Thu Thursday Feb February 060"
        );
        assert_eq!(format("%I %l %p %r", &t), "01  1 PM 01:05:09 PM");
        assert_eq!(format("%c", &t), "Thu Feb 29 13:05:09 2024");
        assert_eq!(
            format("%D %F %T %R %e", &t),
            "02/29/24 2024-02-29 13:05:09 13:05 29"
        );
        assert_eq!(
            format("%s.%f %z %Z %%", &t),
            "1709211909.123456 +0000 UTC %"
        );
        assert_eq!(format("%u %w %V %G %g", &t), "4 4 09 2024 24");
        assert_eq!(format("%H:%M:%S\n", &at(0)), "00:00:00\n");
        assert_eq!(format("%Q %", &t), "%Q %");
    }

    #[test]
    fn zones_shift_the_fields_and_weeks_cross_years() {
        let t = WallTime {
            offset: -5 * 3600 - 1800,
            zone: "X".into(),
            ..at(0)
        };
        assert_eq!(format("%F %T %z %Z", &t), "1969-12-31 18:30:00 -0530 X");
        // 2021-01-01 is a Friday of ISO week 53 of 2020.
        assert_eq!(format("%G-W%V-%u", &at(1_609_459_200)), "2020-W53-5");
        assert_eq!(format("%j", &at(1_609_459_200 - 86_400)), "366");
    }

    #[test]
    fn later_instants_carry_into_seconds() {
        let t = at(10).plus_ns(900_000_000);
        assert_eq!((t.secs, t.nanos), (11, 23_456_789));
        assert_eq!(WallTime::utc_ns(-1).secs, -1);
    }
}
