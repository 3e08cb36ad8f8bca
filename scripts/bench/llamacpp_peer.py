#!/usr/bin/env python3
"""llama.cpp peer of `valuelab bench` (llama-cpp-python from PyPI) on the same GGUF file.

Measures model load, prompt processing (tokens/s over a prompt of random tokens, batch 1) and
greedy generation at batch 1 (llama-cpp-python has no batched generation API). Prints one JSON
object. Build the wheel with CPU features, as valuelab is built:
CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python
"""
import argparse
import json
import random
import resource
import statistics
import time

from like import add_like_option, apply_like


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gguf")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--prompt-tokens", type=int)
    parser.add_argument("--gen-tokens", type=int)
    parser.add_argument("--repeats", type=int)
    add_like_option(parser)
    args = apply_like(parser, parser.parse_args(), {"threads": 2, "prompt_tokens": 185, "gen_tokens": 32, "repeats": 3})

    import llama_cpp

    start = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=args.gguf, n_threads=args.threads, n_threads_batch=args.threads,
        n_ctx=1024, n_batch=512, verbose=False,
    )
    load_s = time.perf_counter() - start
    rng = random.Random(0)
    tokens = [rng.randrange(100, llm.n_vocab()) for _ in range(args.prompt_tokens)]

    times = []
    for _ in range(args.repeats):
        llm.reset()
        start = time.perf_counter()
        llm.eval(tokens)
        times.append(time.perf_counter() - start)
    prompt_tok_s = args.prompt_tokens / statistics.median(times)

    llm.reset()
    llm.eval(tokens[:16])
    start = time.perf_counter()
    for _ in range(args.gen_tokens):
        token = llm.sample(temp=0.0)
        llm.eval([token])
    gen_tok_s = args.gen_tokens / (time.perf_counter() - start)

    print(json.dumps({
        "peer": "llama.cpp", "version": llama_cpp.__version__, "threads": args.threads,
        "load_s": load_s, "prompt_tok_s_b1": prompt_tok_s, "gen_tok_s_b1": gen_tok_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
