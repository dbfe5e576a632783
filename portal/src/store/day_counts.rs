//! A license's recent ping history: one counter per day, kept with the license as a few
//! bytes rather than a row per day. At a million licenses, rows of (license id, day, count)
//! with their index cost about 9.7 KB a license for 90 days; this costs about a hundred bytes.
//!
//! The encoding: a format byte (1), then LEB128 varints: the first day held (days since
//! 1970-01-01), the number of days, and each day's count. A day without pings costs one byte;
//! so does a day with up to 127 pings (an hourly hub sends 24).

/// The format byte of the encoding.
const FORMAT: u8 = 1;

/// Pings per day over a window of consecutive days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayCounts {
    first_day: i64,
    counts: Vec<u64>,
}

/// Stored bytes that are not a [`DayCounts`] encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored day counts are damaged ({0})")]
pub struct Damaged(&'static str);

impl DayCounts {
    /// Counts `pings` more on `day`. A day before the window extends it backwards (two
    /// portals' clocks around midnight); nothing is ever dropped.
    pub fn add(&mut self, day: i64, pings: u64) {
        if self.counts.is_empty() {
            self.first_day = day;
        } else if day < self.first_day {
            let gap = usize::try_from(self.first_day - day).unwrap_or(0);
            self.counts.splice(0..0, std::iter::repeat_n(0, gap));
            self.first_day = day;
        }
        let index = usize::try_from(day - self.first_day).unwrap_or(0);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] = self.counts[index].saturating_add(pings);
    }

    /// Takes the days before `cutoff` out of the window, returning those with pings.
    pub fn take_before(&mut self, cutoff: i64) -> Vec<(i64, u64)> {
        let taken = usize::try_from(cutoff - self.first_day).unwrap_or(0).min(self.counts.len());
        let old: Vec<(i64, u64)> = self
            .counts
            .drain(..taken)
            .enumerate()
            .filter(|(_, count)| *count > 0)
            .map(|(i, count)| (self.first_day + i as i64, count))
            .collect();
        self.first_day += taken as i64;
        // Days without pings at the front carry nothing.
        let zeros = self.counts.iter().take_while(|c| **c == 0).count();
        self.counts.drain(..zeros);
        self.first_day += zeros as i64;
        if self.counts.is_empty() {
            self.first_day = 0;
        }
        old
    }

    /// The days with pings, oldest first.
    pub fn days(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(i, count)| (self.first_day + i as i64, *count))
    }

    /// The first day held, if any: the rollup finds licenses by it.
    pub fn first_day(&self) -> Option<i64> {
        (!self.counts.is_empty()).then_some(self.first_day)
    }

    /// Whether no day is held.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The bytes stored in the database.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.counts.len());
        out.push(FORMAT);
        put(&mut out, u64::try_from(self.first_day).unwrap_or(0));
        put(&mut out, self.counts.len() as u64);
        for count in &self.counts {
            put(&mut out, *count);
        }
        out
    }

    /// Reads stored bytes; `None` (never written) is an empty history.
    pub fn decode(bytes: Option<&[u8]>) -> Result<DayCounts, Damaged> {
        let Some(bytes) = bytes else { return Ok(DayCounts::default()) };
        let mut rest = match bytes.split_first() {
            Some((&FORMAT, rest)) => rest,
            Some(_) => return Err(Damaged("unknown format")),
            None => return Err(Damaged("empty")),
        };
        let first_day = i64::try_from(take(&mut rest)?).map_err(|_| Damaged("first day"))?;
        let n = usize::try_from(take(&mut rest)?).map_err(|_| Damaged("length"))?;
        // Every count takes at least a byte: a length beyond the bytes left is damage, and
        // is refused before anything is allocated for it.
        if n > rest.len() {
            return Err(Damaged("length"));
        }
        let mut counts = Vec::with_capacity(n);
        for _ in 0..n {
            counts.push(take(&mut rest)?);
        }
        if !rest.is_empty() {
            return Err(Damaged("trailing bytes"));
        }
        Ok(DayCounts { first_day, counts })
    }
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take(bytes: &mut &[u8]) -> Result<u64, Damaged> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or(Damaged("cut short"))?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Damaged("a number too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ninety_days_of_hourly_pings_fit_in_a_hundred_bytes() {
        let mut history = DayCounts::default();
        for day in 20_000..20_090 {
            history.add(day, 24);
        }
        let bytes = history.encode();
        assert!(bytes.len() <= 100, "{} bytes", bytes.len());
        assert_eq!(DayCounts::decode(Some(&bytes)), Ok(history));
    }

    #[test]
    fn counts_are_kept_exactly_whatever_the_order_of_days() {
        let mut history = DayCounts::default();
        let mut expected = std::collections::BTreeMap::new();
        for (i, day) in [105, 100, 130, 100, 99, 131, 20, 500].into_iter().enumerate() {
            let pings = (i as u64 + 1) * 1000;
            history.add(day, pings);
            *expected.entry(day).or_insert(0) += pings;
        }
        let round = DayCounts::decode(Some(&history.encode())).expect("decode");
        assert_eq!(round.days().collect::<std::collections::BTreeMap<_, _>>(), expected);
        assert_eq!(round.first_day(), Some(20));
    }

    #[test]
    fn taking_old_days_conserves_every_ping() {
        let mut history = DayCounts::default();
        for day in 0..200 {
            if day % 3 != 0 {
                history.add(day, day as u64);
            }
        }
        let total: u64 = history.days().map(|(_, c)| c).sum();
        let old = history.take_before(110);
        assert!(old.iter().all(|(day, _)| *day < 110));
        assert!(history.days().all(|(day, _)| day >= 110));
        let kept: u64 = history.days().map(|(_, c)| c).sum();
        assert_eq!(old.iter().map(|(_, c)| c).sum::<u64>() + kept, total);
        assert_eq!(history.first_day(), Some(110));
        // Again: nothing more to take; then everything.
        assert!(history.take_before(110).is_empty());
        assert_eq!(history.take_before(1_000).len(), 60);
        assert!(history.is_empty());
        assert_eq!(history.first_day(), None);
    }

    #[test]
    fn damaged_bytes_are_an_error_never_a_panic() {
        let good = {
            let mut h = DayCounts::default();
            h.add(19_000, 300);
            h.add(19_010, 5);
            h.encode()
        };
        assert!(DayCounts::decode(Some(&[])).is_err());
        assert!(DayCounts::decode(Some(&[2, 0, 0])).is_err());
        assert!(DayCounts::decode(Some(&[1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f])).is_err());
        for cut in 0..good.len() {
            assert!(DayCounts::decode(Some(&good[..cut])).is_err(), "cut at {cut}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(DayCounts::decode(Some(&longer)).is_err());
        assert_eq!(DayCounts::decode(None), Ok(DayCounts::default()));
        let mut too_long = vec![1, 0];
        too_long.extend([0xff; 11]);
        assert!(DayCounts::decode(Some(&too_long)).is_err());
    }
}
