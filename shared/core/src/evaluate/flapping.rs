//! Nagios' flap detection: the weighted percent state change over the last 21 results.

/// How many results the history keeps.
pub const WINDOW: usize = 21;

/// Percent state change of `history` (oldest first, `true` = ok), 0-100. Of the 20 transitions
/// between 21 results, newer ones weigh more: from 0.75 (oldest) to 1.25 (newest), as Nagios does,
/// so a check that has just settled drops below the threshold sooner.
///
/// A history shorter than the window is padded at the old end with its first state (Nagios
/// starts a history with the current state), so two results that differ are not 100 % flapping.
pub fn percent_state_change(history: &[bool]) -> f64 {
    let Some(first) = history.first() else {
        return 0.0;
    };
    let padded: Vec<bool>;
    let history = if history.len() < WINDOW {
        padded = std::iter::repeat_n(*first, WINDOW - history.len())
            .chain(history.iter().copied())
            .collect();
        &padded[..]
    } else {
        history
    };
    let transitions = history.len() - 1;
    let mut changed = 0.0;
    let mut total = 0.0;
    for i in 0..transitions {
        let weight = if transitions == 1 {
            1.0
        } else {
            0.75 + 0.5 * i as f64 / (transitions - 1) as f64
        };
        total += weight;
        if history[i] != history[i + 1] {
            changed += weight;
        }
    }
    100.0 * changed / total
}

/// Adds `ok` to `history`: at most [`WINDOW`] results, and a leading run of equal results kept
/// as one. Flap detection pads a short history with its first result, so the figure is the same
/// as with every result kept, and a steady check's history stops changing.
pub fn record(history: &mut Vec<bool>, ok: bool) {
    history.push(ok);
    if history.len() > WINDOW {
        history.remove(0);
    }
    let run = history.iter().take_while(|h| **h == history[0]).count();
    if run > 1 {
        history.drain(..run - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_history_is_zero_and_alternating_is_one_hundred() {
        assert_eq!(percent_state_change(&[true; 21]), 0.0);
        let alternating: Vec<bool> = (0..21).map(|i| i % 2 == 0).collect();
        assert!((percent_state_change(&alternating) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_short_history_is_padded_with_its_first_state() {
        assert!(percent_state_change(&[true, false]) < 10.0);
    }

    proptest::proptest! {
        /// Keeping a leading run as one result changes no figure, whatever the results.
        #[test]
        fn a_trimmed_history_flaps_exactly_as_the_whole_window(
            results in proptest::collection::vec(proptest::bool::ANY, 0..80)
        ) {
            let mut whole: Vec<bool> = Vec::new();
            let mut trimmed = Vec::new();
            for ok in results {
                whole.push(ok);
                if whole.len() > WINDOW {
                    whole.remove(0);
                }
                record(&mut trimmed, ok);
                proptest::prop_assert!(trimmed.len() <= whole.len());
                proptest::prop_assert_eq!(whole.last(), trimmed.last());
                proptest::prop_assert!(
                    (percent_state_change(&whole) - percent_state_change(&trimmed)).abs() < 1e-9
                );
            }
        }
    }

    #[test]
    fn a_steady_history_stops_changing() {
        let mut h = Vec::new();
        for _ in 0..3 {
            record(&mut h, true);
        }
        assert_eq!(h, [true]);
        record(&mut h, false);
        record(&mut h, true);
        assert_eq!(h, [true, false, true]);
    }

    #[test]
    fn recent_changes_weigh_more_than_old_ones() {
        let mut old = vec![true; 21];
        old[1] = false; // two changes at the old end
        let mut new = vec![true; 21];
        new[19] = false; // two changes at the new end
        assert!(percent_state_change(&new) > percent_state_change(&old));
    }
}
