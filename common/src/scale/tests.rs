//! Tests of `scale`.

use super::*;

fn options(spec: &str) -> AnswerScale {
    AnswerScale::parse(spec).unwrap()
}

const PVQ: &str =
    "Not like me at all|Not like me|A little like me|Somewhat like me|Like me|Very much like me";
const AGREE: &str = "Agree strongly|Agree|Neither agree nor disagree|Disagree|Disagree strongly";

#[test]
fn parses_ranges_and_option_lists_from_the_question_file() {
    assert_eq!(options("0-10"), AnswerScale::Numeric { low: 0, high: 10 });
    assert_eq!(options(" 0 - 6 "), AnswerScale::Numeric { low: 0, high: 6 });
    let s = options("None|1|2|3|4~6|7~9|10 or more");
    assert_eq!(s.len(), 7);
    assert_eq!(s.labels()[4], "4~6");
    assert_eq!(options("Yes|No").labels(), vec!["Yes", "No"]);
    assert_eq!(s.to_string(), "None|1|2|3|4~6|7~9|10 or more");
    assert_eq!(options("0-10").to_string(), "0-10");
}

#[test]
fn rejects_malformed_specs_naming_them() {
    assert_eq!(AnswerScale::parse("  "), Err(ScaleError::Empty));
    assert_eq!(
        AnswerScale::parse("10-0"),
        Err(ScaleError::BadRange("10-0".into()))
    );
    assert_eq!(
        AnswerScale::parse("Yes"),
        Err(ScaleError::SingleOption("Yes".into()))
    );
    let err = AnswerScale::parse("Yes||No").unwrap_err();
    assert_eq!(
        err.to_string(),
        "scale 'Yes||No' has an empty option at position 2"
    );
    let err = AnswerScale::parse("Yes|No|yes").unwrap_err();
    assert_eq!(
        err.to_string(),
        "scale 'Yes|No|yes' lists option 'yes' twice"
    );
}

#[test]
fn numeric_scale_has_one_label_per_whole_number() {
    let s = options("0-10");
    assert_eq!(s.len(), 11);
    assert_eq!(s.labels().first().map(String::as_str), Some("0"));
    assert_eq!(s.labels().last().map(String::as_str), Some("10"));
}

#[test]
fn rescale_index_spreads_positions_over_zero_to_one() {
    let s = options("Yes|No|Not eligible to vote");
    assert_eq!(s.rescale_index(0), 0.0);
    assert_eq!(s.rescale_index(1), 0.5);
    assert_eq!(s.rescale_index(2), 1.0);
    assert_eq!(options("0-10").rescale_index(7), 0.7);
}

#[test]
fn rescale_code_keeps_seven_on_a_zero_to_ten_scale_but_drops_missing_codes() {
    let s = options("0-10");
    assert_eq!(s.rescale_code(7.0), Some(0.7));
    assert_eq!(s.rescale_code(0.0), Some(0.0));
    for missing in [77.0, 88.0, 99.0, -1.0, f64::NAN] {
        assert_eq!(s.rescale_code(missing), None);
    }
    let six = options("0-6");
    assert_eq!(six.rescale_code(3.0), Some(0.5));
    for missing in [7.0, 8.0, 9.0] {
        assert_eq!(six.rescale_code(missing), None);
    }
}

#[test]
fn rescale_code_reads_options_as_coded_from_one() {
    let s = options(AGREE);
    assert_eq!(s.rescale_code(1.0), Some(0.0));
    assert_eq!(s.rescale_code(3.0), Some(0.5));
    assert_eq!(s.rescale_code(5.0), Some(1.0));
    assert_eq!(s.rescale_code(0.0), None);
    assert_eq!(s.rescale_code(7.0), None);
    let tv = options("No time at all|Less than 0.5 hour|0.5 to 1 hour|More than 1 hour");
    assert_eq!(tv.rescale_code_from(0.0, 0), Some(0.0));
    assert_eq!(tv.rescale_code_from(3.0, 0), Some(1.0));
    assert_eq!(tv.rescale_code_from(4.0, 0), None);
}

#[test]
fn expected_value_weights_rescaled_positions() {
    let s = options(AGREE); // positions 0, .25, .5, .75, 1
    let got = s.expected_value(&[0.5, 0.0, 0.0, 0.0, 0.5]);
    assert!((got - 0.5).abs() < 1e-12);
    // Unnormalised weights: 1·0.25 + 3·0.75 over 4 = 0.625.
    let got = s.expected_value(&[0.0, 1.0, 0.0, 3.0, 0.0]);
    assert!((got - 0.625).abs() < 1e-12);
    assert!(s.expected_value(&[1.0, 0.0]).is_nan());
    assert_eq!(s.try_expected_value(&[0.0; 5]), None);
    assert_eq!(s.try_expected_value(&[-1.0, 1.0, 1.0, 1.0, 1.0]), None);
}

#[test]
fn longest_option_wins_so_not_like_me_at_all_is_not_not_like_me() {
    let s = options(PVQ);
    assert_eq!(s.parse_answer("Not like me at all"), Ok(0));
    assert_eq!(s.parse_answer("'not like me'"), Ok(1));
    assert_eq!(s.parse_answer("My answer: VERY MUCH LIKE ME."), Ok(5));
    assert_eq!(s.parse_answer("Like me"), Ok(4));
    assert_eq!(s.parse_answer(" A little like me, I suppose"), Ok(2));
}

#[test]
fn agree_scale_does_not_read_agree_inside_disagree() {
    let s = options(AGREE);
    assert_eq!(s.parse_answer("I disagree strongly"), Ok(4));
    assert_eq!(s.parse_answer("Disagree"), Ok(3));
    assert_eq!(s.parse_answer("Neither agree nor disagree."), Ok(2));
    assert_eq!(s.parse_answer("agree"), Ok(1));
}

#[test]
fn option_numbers_are_read_when_no_option_mentions_a_number() {
    let s = options(PVQ);
    assert_eq!(s.parse_answer("3. 'A little like me'"), Ok(2));
    assert_eq!(s.parse_answer("option 6"), Ok(5));
    assert_eq!(s.parse_answer("5"), Ok(4));
    // A number and an option text that disagree are ambiguous.
    let err = s.parse_answer("2. Like me").unwrap_err();
    assert!(err.reason.contains("'Like me'") && err.reason.contains("'Not like me'"));
    // A number that is no option position is just a number.
    assert_eq!(s.parse_answer("Like me, 100%"), Ok(4));
}

#[test]
fn numbers_are_option_texts_where_options_mention_numbers() {
    let s = options("None|1|2|3|4~6|7~9|10 or more");
    assert_eq!(s.parse_answer("2"), Ok(2));
    assert_eq!(s.parse_answer("4-6"), Ok(4));
    assert_eq!(s.parse_answer("10 or more"), Ok(6));
    assert_eq!(s.parse_answer("None"), Ok(0));
    let days = options("No days|One day|Two days|Three days");
    assert_eq!(days.parse_answer("Two days"), Ok(2));
    // "3" is not option 3 here: it reads as three days, which is not an option text.
    assert!(days.parse_answer("3").is_err());
}

#[test]
fn numeric_answers_in_digits_and_words() {
    let s = options("0-10");
    assert_eq!(s.parse_answer("my answer is 7"), Ok(7));
    assert_eq!(s.parse_answer(" 7/10"), Ok(7));
    assert_eq!(s.parse_answer("10/10"), Ok(10));
    assert_eq!(s.parse_answer("8 out of 10"), Ok(8));
    assert_eq!(s.parse_answer("Seven."), Ok(7));
    assert_eq!(
        s.parse_answer("On a scale of 0 to 10, I would say 3"),
        Ok(3)
    );
    assert_eq!(s.parse_answer("0"), Ok(0));
    assert_eq!(options("1-5").parse_answer("2"), Ok(1));
}

#[test]
fn numeric_answers_read_only_the_first_line() {
    let s = options("0-10");
    assert_eq!(s.parse_answer("\n 6\nQuestion 2: rate from 0 to 10"), Ok(6));
}

#[test]
fn no_one_is_not_the_number_one() {
    let s = options("0-10");
    assert_eq!(s.parse_answer("No one can be trusted, so 2"), Ok(2));
}

#[test]
fn unreadable_or_ambiguous_answers_are_never_guessed() {
    let s = options("0-10");
    let err = s.parse_answer("most people can be trusted").unwrap_err();
    assert_eq!(err.text, "most people can be trusted");
    assert_eq!(err.reason, "no number in the answer");
    assert!(s.parse_answer("between 3 and 5").is_err());
    assert!(s.parse_answer("11").is_err());
    assert!(s.parse_answer("7.5").is_err());
    let yes_no = options("Yes|No|Not eligible to vote");
    assert_eq!(yes_no.parse_answer("Not eligible to vote"), Ok(2));
    assert!(yes_no.parse_answer("Yes and no").is_err());
    assert!(yes_no.parse_answer("I don't remember").is_err());
    let err = yes_no.parse_answer("maybe").unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not read an answer from 'maybe': it matches none of the options"
    );
}
