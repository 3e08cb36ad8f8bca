#!/usr/bin/env python3
"""PyTorch + PEFT peer of `valuelab bench`: the same work on the same GGUF file.

Loads SmolLM2 through transformers' GGUF support (dequantised to f32, as valuelab does), then
measures prompt processing, greedy generation and a LoRA training step (r 8 on q_proj/v_proj,
AdamW, batch 4 x 128 tokens, loss on the last 32 tokens of each row, as `valuelab bench` does).
Prints one JSON object. Kept out of CI: PyPI's torch stack is several GB.
"""
import argparse
import json
import os
import resource
import statistics
import time

from like import add_like_option, apply_like


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gguf")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--prompt-tokens", type=int)
    parser.add_argument("--gen-tokens", type=int)
    parser.add_argument("--train-steps", type=int)
    parser.add_argument("--repeats", type=int)
    add_like_option(parser)
    args = apply_like(parser, parser.parse_args(), {"threads": 2, "prompt_tokens": 185, "gen_tokens": 32, "repeats": 3, "train_steps": 3})

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    folder, name = os.path.split(os.path.abspath(args.gguf))
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    model.eval()
    load_s = time.perf_counter() - start
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    result = {"peer": "pytorch+peft", "torch": torch.__version__, "threads": args.threads, "load_s": load_s}

    for batch in (1, 8):
        ids = torch.randint(100, vocab, (batch, args.prompt_tokens), generator=gen)
        with torch.no_grad():
            model(ids[:, :8])  # warm-up
            t = median_time(lambda: model(ids, use_cache=False, logits_to_keep=1), args.repeats)
        result[f"prompt_tok_s_b{batch}"] = batch * args.prompt_tokens / t
        with torch.no_grad():
            t = median_time(
                lambda: model.generate(
                    ids[:, :16], max_new_tokens=args.gen_tokens, min_new_tokens=args.gen_tokens,
                    do_sample=False, pad_token_id=0,
                ),
                1,
            )
            prefill = median_time(lambda: model(ids[:, :16]), 1)
        result[f"gen_tok_s_b{batch}"] = batch * args.gen_tokens / max(t - prefill, 1e-9)

    if args.train_steps > 0:
        peft_model = get_peft_model(
            model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
        )
        peft_model.train()
        optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=2e-5)
        ids = torch.randint(100, vocab, (4, 128), generator=gen)
        labels = ids.clone()
        labels[:, :96] = -100  # the loss covers the answer: the last 32 tokens of each row

        def step():
            optimizer.zero_grad()
            loss = peft_model(input_ids=ids, labels=labels).loss
            loss.backward()
            optimizer.step()

        step()  # warm-up
        result["train_step_s"] = median_time(step, args.train_steps)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
