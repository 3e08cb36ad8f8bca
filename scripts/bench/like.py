"""Settings shared with a `valuelab bench --json` report, so a peer does the same work.

`--like FILE` reads the report's `settings` (model file, prompt and generated tokens, repeats,
train steps) and `threads`; an option given on the command line wins over the file.
"""
import json
import sys

# option name -> key under the report's "settings" (threads sits at the top level)
SETTINGS = {
    "gguf": "model_file",
    "prompt_tokens": "prompt_tokens",
    "gen_tokens": "gen_tokens",
    "repeats": "repeats",
    "train_steps": "train_steps",
}


def add_like_option(parser):
    parser.add_argument(
        "--like",
        metavar="FILE",
        help="a `valuelab bench --json` report: take the GGUF, threads and sizes from it",
    )


def apply_like(parser, args, defaults):
    """Fills the options left unset (None) from --like, then from `defaults`."""
    report = {}
    if args.like:
        try:
            with open(args.like, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            parser.error(f"--like {args.like}: {e} (pass the file `valuelab bench --json` wrote)")
    settings = report.get("settings", {})
    for option, key in list(SETTINGS.items()) + [("threads", None)]:
        if not hasattr(args, option) or getattr(args, option) is not None:
            continue
        value = report.get("threads") if key is None else settings.get(key)
        if value is None:
            value = defaults.get(option)
        setattr(args, option, value)
    if not args.gguf:
        parser.error("give --gguf FILE, or --like a valuelab bench report that names its model file")
    if not str(args.gguf).endswith(".gguf"):
        print(f"warning: {args.gguf} is not a .gguf file; the peers load GGUF files", file=sys.stderr)
    return args
