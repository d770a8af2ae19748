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

    #[test]
    fn recent_changes_weigh_more_than_old_ones() {
        let mut old = vec![true; 21];
        old[1] = false; // two changes at the old end
        let mut new = vec![true; 21];
        new[19] = false; // two changes at the new end
        assert!(percent_state_change(&new) > percent_state_change(&old));
    }
}
