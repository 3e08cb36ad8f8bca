//! valuelab's prosocial behaviour measure: a charity-allocation game built on the dictator game
//! (Forsythe et al. 1994; the paradigm is public, the wording is valuelab's own). The persona is
//! given 100 euros and decides, cause by cause, how much to give away: nothing, 20, 40, 60, 80
//! or all 100. A cause's score is the share given (0..1). The first cause is the classic
//! anonymous stranger; the others are chosen so that the values should pull them apart (the
//! value each is expected to relate to is documented, never used in scoring). See
//! `docs/prosocial.md`.

use super::instruments::{Instrument, InstrumentKind};
use crate::eval::pvq::numbered_options;
use crate::eval::task::TaskItem;
use valuelab_common::scale::AnswerScale;

/// (key, the cause as the prompt names it, the value the theory links it to).
pub const CAUSES: [(&str, &str, &str); 7] = [
    (
        "stranger",
        "a stranger you will never meet, who was given nothing",
        "Benevolence",
    ),
    (
        "food_bank",
        "a local food bank that feeds families in your town",
        "Benevolence",
    ),
    (
        "climate",
        "an organisation that protects forests and the climate",
        "Universalism",
    ),
    (
        "refugees",
        "an organisation that helps refugees from other countries",
        "Universalism",
    ),
    (
        "religious",
        "the charity of a religious community in your town",
        "Tradition",
    ),
    (
        "safety",
        "a fund that supports victims of crime and keeps neighbourhoods safe",
        "Security",
    ),
    (
        "new_art",
        "a fund for young artists who try new and unusual things",
        "Self-direction",
    ),
];

/// The six amounts, in option order.
pub const OPTIONS: [&str; 6] = [
    "Nothing",
    "20 euros",
    "40 euros",
    "60 euros",
    "80 euros",
    "All 100 euros",
];

pub fn prompt(cause: &str) -> String {
    format!(
        "Imagine you have just been given 100 euros. You can keep all of it, or give part of it to {cause}. Nobody will know what you decide. How much do you give? {}. Answer:",
        numbered_options(&OPTIONS)
    )
}

pub fn instrument() -> Instrument {
    let scale = AnswerScale::Options(OPTIONS.iter().map(|s| s.to_string()).collect());
    let items = CAUSES
        .iter()
        .enumerate()
        .map(|(k, (key, cause, _))| TaskItem {
            id: key.to_string(),
            key: k,
            prompt: prompt(cause),
            options: (1..=OPTIONS.len()).map(|d| d.to_string()).collect(),
            option_values: (0..OPTIONS.len()).map(|i| i as f64 / 5.0).collect(),
            parser: Some(scale.clone()),
            subject: cause.to_string(),
        })
        .collect();
    Instrument {
        kind: InstrumentKind::Prosocial,
        keys: CAUSES.iter().map(|(key, _, _)| key.to_string()).collect(),
        items,
        low: 0.0,
        high: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_one_item_with_six_amounts_from_nothing_to_everything() {
        let game = instrument();
        assert_eq!(game.items.len(), CAUSES.len());
        let food = &game.items[1];
        assert_eq!(food.id, "food_bank");
        assert_eq!(food.option_values, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert!(food.prompt.contains("give part of it to a local food bank"));
        assert!(food.prompt.ends_with("6. 'All 100 euros'. Answer:"));
        // Giving 60 euros to every cause scores 0.6 each.
        let scores = game.key_scores(&vec![Some(0.6); CAUSES.len()]);
        assert!(scores.iter().all(|s| (s.unwrap() - 0.6).abs() < 1e-12));
    }
}
