"""Images per second of tinymask.synth.generate at 96x96 on one core, for each domain.

Run from the repository root: ``python benchmarks/bench_generator.py [--n 2000] [--repeats 3]``.
Prints a small table (best of the repeats); the lead folds the figures into the results file.
"""

import argparse
import os
import sys
import time
from pathlib import Path

# One core: numpy's elementwise loops are single-threaded anyway, this keeps BLAS in line too.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinymask import synth  # noqa: E402


def images_per_second(domain, n, size, repeats):
    """Best of ``repeats`` timed runs of generate(n) in one domain, in images per second."""
    synth.generate(8, domain=domain, size=size)  # warm up: imports, caches, first allocations
    best = float("inf")
    for seed in range(repeats):
        start = time.perf_counter()
        synth.generate(n, seed=seed, domain=domain, size=size)
        best = min(best, time.perf_counter() - start)
    return n / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="images per timed run (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best one counts (default 3)")
    parser.add_argument("--size", type=int, default=96, help="image side in pixels (default 96)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core
    print(f"tinymask.synth.generate: {args.n} images of {args.size}x{args.size}, "
          f"best of {args.repeats}, one core")
    print(f"{'domain':<8} {'images/s':>9} {'ms/image':>9}")
    for domain in synth.DOMAINS:
        rate = images_per_second(domain, args.n, args.size, args.repeats)
        print(f"{domain:<8} {rate:>9.0f} {1000 / rate:>9.2f}")


if __name__ == "__main__":
    main()
