"""Speed, recall and memory of the exact Hamming index beside a numpy brute-force scan.

For each index size (default 1M and 10M random 64-bit hashes), queries are planted
near-duplicates: a stored hash with exactly ``d`` bits flipped, searched with radius
``d`` (d = 4, 8, 12). Both Satwa's multi-index hashing index and a numpy scan of every
hash answer the same queries in the same run; recall is measured against the scan's
answers, latency per query (median and p99) and queries per second for both. On a
shared machine the wall-clock p99 mostly measures time the process waited for a core,
so the index's p99 is also given in CPU time of the querying thread.

Run from the repository root:

    python benchmarks/hash_index.py --sizes 1000000 10000000 --queries 200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.pipeline.hash_index import MultiIndexHashIndex, hamming_distances

DISTANCES = (4, 8, 12)


def main() -> None:
    options = _parse_options()
    rng = np.random.default_rng(options.seed)
    print(f"queries per distance: {options.queries}, seed {options.seed}")
    for size in options.sizes:
        _bench_size(size, options.queries, rng)


def _parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args()


def _bench_size(size: int, query_count: int, rng: np.random.Generator) -> None:
    hashes = rng.integers(0, 2**64, size=size, dtype=np.uint64)
    rss_before = _rss_mib()
    started = time.perf_counter()
    index = MultiIndexHashIndex()
    index.add(hashes, np.arange(size, dtype=np.int64))
    index.rebuild()
    build_s = time.perf_counter() - started
    print(
        f"\n{size:,} hashes: build {build_s:.1f} s, index {index.nbytes / 2**20:.0f} MiB"
        f" (entries and chunk tables), process RSS +{_rss_mib() - rss_before:.0f} MiB"
    )
    print(
        f"{'d':>3} {'recall':>8} {'found':>9} {'MIH p50':>9} {'MIH p99':>9} {'cpu p99':>9}"
        f" {'MIH QPS':>9} {'scan p50':>9} {'scan p99':>9} {'scan QPS':>9} {'speed-up':>9}"
    )
    for distance in DISTANCES:
        queries = _planted_queries(hashes, distance, query_count, rng)
        _bench_distance(index, hashes, queries, distance)


def _planted_queries(hashes, distance, count, rng) -> list[int]:
    queries = []
    for position in rng.integers(0, len(hashes), size=count):
        bits = rng.choice(64, size=distance, replace=False)
        flips = sum(1 << int(bit) for bit in bits)
        queries.append(int(hashes[position]) ^ flips)
    return queries


def _bench_distance(index, hashes, queries, distance) -> None:
    index_times, index_answers, index_cpu = _timed(
        lambda q: index.query(q, distance)[0], queries
    )
    scan_times, scan_answers, _scan_cpu = _timed(
        lambda q: np.flatnonzero(hamming_distances(hashes, q) <= distance), queries
    )
    expected = sum(len(answer) for answer in scan_answers)
    found = sum(
        len(np.intersect1d(got, want))
        for got, want in zip(index_answers, scan_answers, strict=True)
    )
    index_p50, index_p99 = np.percentile(index_times, [50, 99]) * 1000
    index_cpu_p99 = np.percentile(index_cpu, 99) * 1000
    scan_p50, scan_p99 = np.percentile(scan_times, [50, 99]) * 1000
    print(
        f"{distance:>3} {found / expected:>8.2%} {found:>4}/{expected:<4}"
        f" {index_p50:>7.3f}ms {index_p99:>7.3f}ms {index_cpu_p99:>7.3f}ms"
        f" {len(queries) / index_times.sum():>9.0f}"
        f" {scan_p50:>7.2f}ms {scan_p99:>7.2f}ms {len(queries) / scan_times.sum():>9.0f}"
        f" {scan_p50 / index_p50:>8.0f}x"
    )


def _timed(search, queries) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Wall-clock seconds, answers and CPU seconds of the thread, per query."""
    times, answers, cpu_times = [], [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.thread_time()
        answers.append(search(query))
        times.append(time.perf_counter() - started)
        cpu_times.append(time.thread_time() - cpu_started)
    return np.array(times), answers, np.array(cpu_times)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
