//! Calendar arithmetic for the formats that write dates (ASC and BLF headers,
//! TRC's start time, BUSMASTER's date line): proleptic Gregorian dates to and
//! from days since 1970-01-01, valid for any year.

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // shift the year to start in March so that the leap day is the last day
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let mp = (month as i64 + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days in `month` (1-12) of `year`.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2021, 12, 18), 18_979);
        assert_eq!(days_from_civil(2023, 11, 14) * 86_400, 1_699_920_000);
        assert_eq!(civil_from_days(18_979), (2021, 12, 18));
        // the OLE epoch
        assert_eq!(civil_from_days(-25_569), (1899, 12, 30));
    }

    #[test]
    fn round_trips_and_month_lengths() {
        for z in [-800_000i64, -1, 0, 59, 11_016, 19_675, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{z} -> {y}-{m}-{d}");
        }
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2023, 4), 30);
        // a month's last day is the day before the next month's first
        for (y, m) in [(2024, 2), (2023, 12), (1900, 2)] {
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            assert_eq!(
                days_from_civil(y, m, days_in_month(y, m)) + 1,
                days_from_civil(next.0, next.1, 1)
            );
        }
    }
}

/// Whether the times of a logging block that started at `block` (ns since the
/// epoch, the block's own date) count from the start of the measurement at
/// `measurement` rather than from the block: true when the block's first time,
/// `first` (ns), is nearer to the block's distance from the measurement start
/// than to zero. CANoe's trigger blocks and BUSMASTER's logging sessions within
/// one measurement count from its start (a block starting 37 s in has its first
/// event at about 37 s); concatenated logs and restarted clocks start near 0.
pub(crate) fn continues_measurement(block: i64, measurement: i64, first: i64) -> bool {
    let since = block.saturating_sub(measurement);
    since > 0 && first > since / 2
}

#[cfg(test)]
mod measurement_tests {
    use super::continues_measurement;

    #[test]
    fn a_block_continues_the_clock_or_starts_its_own() {
        const S: i64 = 1_000_000_000;
        // the second trigger block 37.62 s in, first event at 37.62 s
        assert!(continues_measurement(
            1_037_620 * S / 1000,
            1000 * S,
            37_620 * S / 1000
        ));
        // its events a little before the block date (pre-trigger time)
        assert!(continues_measurement(1037 * S, 1000 * S, 35 * S));
        // a block a day later whose times start again near 0
        assert!(!continues_measurement(87_400 * S, 1000 * S, S / 4));
        // the same date, or a block dated before the measurement
        assert!(!continues_measurement(1000 * S, 1000 * S, 5 * S));
        assert!(!continues_measurement(900 * S, 1000 * S, 5 * S));
    }
}
