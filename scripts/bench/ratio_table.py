#!/usr/bin/env python3
"""One table of ratios valuelab / peer from one run (scripts/bench/compare.sh).

Usage: ratio_table.py VALUELAB.json [PEER.json ...]
The first file is `valuelab bench --json`; each other one is a peer script's output
(torch_peer.py, llamacpp_peer.py). Prints a Markdown table: each figure, valuelab's value, each
peer's value and the ratio valuelab / peer, marked faster or slower (a higher rate or a lower time
is faster; less memory is "less"). A figure a peer did not measure is left blank.
"""
import json
import sys

# (label, unit, higher is better, valuelab's value, the peer's key)
def rows(valuelab):
    def rate(kind, batch):
        for t in valuelab.get(kind, []):
            if t["batch"] == batch:
                return t["tokens_per_s"]
        return None

    batches = sorted({t["batch"] for t in valuelab.get("prompt", [])})
    out = [("model load", "s", False, valuelab.get("load_s"), "load_s")]
    for b in batches:
        out.append((f"prompt processing, batch {b}", "tok/s", True, rate("prompt", b), f"prompt_tok_s_b{b}"))
    for b in batches:
        out.append((f"greedy generation, batch {b}", "tok/s", True, rate("generation", b), f"gen_tok_s_b{b}"))
    out.append(("LoRA train step, batch 4 x 128", "s", False, valuelab.get("train_step_s"), "train_step_s"))
    out.append(("peak memory", "MB", False, valuelab.get("peak_memory_mb"), "peak_rss_mb"))
    return out


def fmt(value, unit):
    if value is None:
        return ""
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def ratio(ours, theirs, higher_is_better, unit):
    if ours is None or theirs is None or theirs == 0:
        return ""
    r = ours / theirs
    if unit == "MB":
        word = "less" if r < 1 else "more"
    else:
        better = r > 1 if higher_is_better else r < 1
        word = "faster" if better else "slower"
    return f"{r:.2f} ({word})"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    reports = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                reports.append(json.load(f))
        except (OSError, ValueError) as e:
            sys.exit(f"ratio_table.py: cannot read {path}: {e}")
    valuelab, peers = reports[0], reports[1:]
    if "prompt" not in valuelab:
        sys.exit(f"ratio_table.py: {paths[0]} is not a `valuelab bench --json` report (it comes first)")
    names = [p.get("peer", path) for p, path in zip(peers, paths[1:])]
    settings = valuelab.get("settings", {})
    about = [f"model: {settings.get('model_file', valuelab.get('model'))}", f"threads: {valuelab.get('threads')}"]
    if settings:
        about += [f"prompt {settings['prompt_tokens']} tokens", f"{settings['gen_tokens']} generated",
                  f"median of {settings['repeats']}"]
    print(", ".join(about))
    print()
    header = ["what", "valuelab"]
    for name in names:
        header += [name, f"valuelab / {name}"]
    print("| " + " | ".join(header) + " |")
    print("| --- |" + " ---: |" * (len(header) - 1))
    for label, unit, higher, ours, key in rows(valuelab):
        cells = [label, fmt(ours, unit)]
        for peer in peers:
            theirs = peer.get(key)
            cells += [fmt(theirs, unit), ratio(ours, theirs, higher, unit)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
