"""What withholding shielded names in every post costs, per post text (pure CPU).

Since a shielded child's name is withheld in any child's post, every text a viewer reads
goes through its `Redactor` (feeds/access/redaction.py), holding every shielded child the
viewer does not identify. The bare baseline is a text returned as written (what a post on
an unshielded child cost before). Measured: the common case (the text names nobody) with
0, 10, 100 and 1,000 hidden children, and a text naming one. Texts are the demo data's
post templates; names are made up. Rounds alternate baseline and redactor, and the
process's own CPU time is printed with the wall time.

    python -m loadtests.redaction_bench [--rounds 5] [--number 20000]
"""

from __future__ import annotations

import argparse
import os
import random
import time
import timeit
from collections.abc import Callable

from feeds.access.redaction import Names, Redactor
from feeds.demo.text import TEMPLATES

FIRST = ["Amelia", "Noor", "Kacper", "Tomasz", "Grace", "Idris", "Maja", "Olusegun", "Zofia"]
LAST = ["Okafor", "Kowalski", "Hughes", "Begum", "Nowak", "Fairweather", "Adeyemi", "Lindqvist"]


def texts() -> list[str]:
    found = [t for voice in TEMPLATES.values() for kind in voice.values() for t in kind]
    return [t.replace("{", "(").replace("}", ")") for t in found]


def hiding(count: int, rng: random.Random) -> Redactor:
    hidden = {
        n: Names.of(f"{rng.choice(FIRST)}x{n} {rng.choice(LAST)}y{n}", f"SH-{n:05d}")
        for n in range(count)  # unique names: none is in the texts
    }
    return Redactor(hidden)


def per_text_us(work: Callable[[str], str], corpus: list[str], number: int) -> float:
    loops = max(1, number // len(corpus))
    seconds = timeit.timeit(lambda: [work(t) for t in corpus], number=loops)
    return seconds / (loops * len(corpus)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=20_000, help="texts per measurement")
    args = parser.parse_args()
    rng, corpus = random.Random(7), texts()
    cases = {f"{n} hidden, names nobody": hiding(n, rng) for n in (0, 10, 100, 1000)}
    one = hiding(100, rng)
    named = [f"{t} Saw {one.hidden[42].tokens[1]} again" for t in corpus]
    started, cpu = time.perf_counter(), time.process_time()
    results: dict[str, list[float]] = {"bare baseline (text as written)": []}
    results |= {name: [] for name in cases} | {"100 hidden, the text names one": []}
    for _ in range(args.rounds):  # alternated: the baseline, then each case, each round
        results["bare baseline (text as written)"].append(
            per_text_us(lambda t: t, corpus, args.number)
        )
        for name, redact in cases.items():
            results[name].append(per_text_us(redact, corpus, args.number))
        results["100 hidden, the text names one"].append(per_text_us(one, named, args.number))
    base = min(results["bare baseline (text as written)"])
    print(f"{len(corpus)} demo post texts, best of {args.rounds} alternated rounds")
    print("| case | µs per text (best) | median | added over baseline |")
    print("| --- | ---: | ---: | ---: |")
    for name, samples in results.items():
        best, median = min(samples), sorted(samples)[len(samples) // 2]
        print(f"| {name} | {best:.2f} | {median:.2f} | +{best - base:.2f} µs |")
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"bench process: {wall:.1f} s wall, {used:.1f} s CPU; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
