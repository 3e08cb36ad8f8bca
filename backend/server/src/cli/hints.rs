//! Where the command line names its flags in errors, in one place. The engine's input errors are
//! neutral: they say which job-spec field was wrong (`engine::Field`) and why; here each field
//! gets the flag that sets it, so the message a person reads ends with what to type.

use valuelab_engine::Field;

/// The flag (and how to use it) that sets `field`.
pub fn flag_hint(field: Field) -> &'static str {
    match field {
        Field::DataDir => "pass --data-dir DIR or set VALUELAB_DATA_DIR",
        Field::Group => "use --group NAME",
        Field::SampleGroups => "use --sample-groups N",
        Field::Adapter => "use --adapter DIR",
        Field::Answer => "use --answer expect or --answer sample",
        Field::Samples => "use --samples N",
        Field::Shots => "use --shots N",
        Field::Gold => "pass --gold FILE",
        Field::Threshold => "use --threshold",
        Field::Out => "use --out",
        Field::Resume => "use --resume",
        Field::K => "use --k N",
        Field::ElbowOut => "pass --elbow-out FILE.svg or --out FILE",
        Field::RidgeLambda => "use --ridge-lambda",
        Field::Pair => "use --pair GROUP_A GROUP_B",
        Field::HeldOutGroups => "use --held-out-groups N and --validation-groups N",
        Field::Respondents => "pass --respondents FILE (an ESS CSV with the 21 PVQ items)",
        Field::MaxSeqLen => "use --max-seq-len N",
        Field::Weight => "use --weight COLUMN, or --weight none",
        Field::Groups => "pass --groups FILE (the format of country_and_group.csv)",
    }
}

/// An error as the command line prints it: the cause chain, then the flag that fixes it when the
/// engine said which input was wrong.
pub fn render(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    let field = err
        .chain()
        .find_map(|e| e.downcast_ref::<valuelab_engine::Error>())
        .and_then(valuelab_engine::Error::field);
    match field {
        Some(field) => format!("{text} ({})", flag_hint(field)),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_error_gets_its_flag_once_whatever_context_wraps_it() {
        let engine = valuelab_engine::Error::input(Field::Adapter, "method vim needs an adapter");
        let err = anyhow::Error::new(engine).context("cannot run the job");
        assert_eq!(
            render(&err),
            "cannot run the job: method vim needs an adapter (use --adapter DIR)"
        );
        let plain = anyhow::anyhow!("something else");
        assert_eq!(render(&plain), "something else");
    }
}
